from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from gis.roles import Role


class User(AbstractUser):
    """An account: operators, planners and contractors. The public needs none."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PUBLIC)
    organisation = models.ForeignKey(
        "layers.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text="Required for contractors: they see and close only this organisation's permits.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role=Role.CONTRACTOR) | models.Q(organisation__isnull=False),
                name="contractor_has_organisation",
                violation_error_message="A contractor must belong to an organisation.",
            )
        ]

    def clean(self) -> None:
        super().clean()
        if self.role == Role.CONTRACTOR and self.organisation_id is None:
            raise ValidationError({"organisation": "A contractor must belong to an organisation."})
