"""Excavation permits, their history, restoration acts, and the claims sent when one overruns."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from layers.models import NetworkKind
from layers.validators import validate_geometry

SRID = 4326


class Permit(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        IN_PROGRESS = "in_progress", _("In progress")
        CLOSED = "closed", _("Closed (restored)")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(max_length=32, unique=True)
    contractor = models.ForeignKey(
        "layers.Organisation", on_delete=models.PROTECT, related_name="permits"
    )
    responsible_person = models.CharField(max_length=255)
    responsible_phone = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=500)
    network_kind = models.CharField(max_length=16, choices=NetworkKind.choices, blank=True)
    address = models.CharField(max_length=255, blank=True)
    geom = models.PolygonField(srid=SRID, validators=[validate_geometry], help_text="Work area")
    # What the work area touches, computed when the area is set: {"yards": [ids], …}.
    linked_objects = models.JSONField(default=dict, blank=True)
    issued_on = models.DateField()
    planned_start = models.DateField()
    deadline = models.DateField(help_text="Restoration due (the current one, after extensions)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ISSUED)
    conflict_override = models.TextField(
        blank=True, help_text="Why an operator issued it despite blocking conflicts"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(geom__isvalid=True), name="permit_geom_valid"),
            models.CheckConstraint(
                condition=Q(deadline__gte=models.F("planned_start")),
                name="permit_deadline_after_start",
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"], name="permit_status_deadline")]

    def __str__(self) -> str:
        return f"{self.number}: {self.purpose}"


class PermitHistory(models.Model):
    permit = models.ForeignKey(Permit, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    by_label = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    comment = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["permit", "at", "id"]
        verbose_name_plural = "permit history"


class Extension(models.Model):
    """A deadline moved: the old one stays on record, with the reason."""

    permit = models.ForeignKey(Permit, on_delete=models.CASCADE, related_name="extensions")
    old_deadline = models.DateField()
    new_deadline = models.DateField()
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=16,
        choices=[("requested", "Requested"), ("approved", "Approved"), ("refused", "Refused")],
        default="requested",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["permit", "created_at"]


class RestorationAct(models.Model):
    """The contractor's statement that the site is restored; a permit closes only with one."""

    permit = models.OneToOneField(Permit, on_delete=models.CASCADE, related_name="restoration")
    restored_on = models.DateField()
    text = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)


class RestorationDocument(models.Model):
    """A photo or PDF of a restoration act, stored under a generated name (orders.permits.uploads).

    ``content_type`` is what parsing found, and the only type it is ever served as;
    ``original_name`` is the client's name for it, shown to people and never used as a path.
    """

    act = models.ForeignKey(RestorationAct, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(upload_to="restoration/%Y/%m/")
    kind = models.CharField(
        max_length=16, choices=[("photo", "Photo"), ("document", "Document")], default="photo"
    )
    content_type = models.CharField(max_length=64, default="application/octet-stream")
    original_name = models.CharField(max_length=200, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)


class Claim(models.Model):
    """A formal claim for an overrun permit: one per (permit, missed deadline, recipient kind).

    The unique constraint makes "exactly once" a property of the database, not of the sweep:
    two sweeps racing, or one re-run after a crash, cannot create a second claim.
    """

    class Recipient(models.TextChoices):
        CONTRACTOR = "contractor", _("Contractor")
        POLICE = "police", _("Police traffic department")

    class Delivery(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed (retrying)")

    number = models.CharField(max_length=32, unique=True)
    # No index of its own: the unique constraint's index leads with permit_id (one index fewer
    # to fill when the sweep inserts thousands of claims at once).
    permit = models.ForeignKey(
        Permit, on_delete=models.PROTECT, related_name="claims", db_index=False
    )
    deadline = models.DateField(help_text="The deadline that was missed")
    recipient_kind = models.CharField(max_length=16, choices=Recipient.choices)
    recipient = models.ForeignKey(
        "layers.Organisation", on_delete=models.PROTECT, related_name="claims_received"
    )
    email = models.EmailField(blank=True)
    days_overdue = models.PositiveIntegerField(default=0)
    document = models.FileField(upload_to="claims/%Y/%m/", blank=True)
    delivery = models.CharField(max_length=16, choices=Delivery.choices, default=Delivery.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    message_id = models.CharField(
        max_length=255, blank=True, help_text="Message-ID of the e-mail sent: sending is idempotent"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last began to send it"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["permit", "deadline", "recipient_kind"], name="claim_once_per_deadline"
            )
        ]

    def __str__(self) -> str:
        return self.number
