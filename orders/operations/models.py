"""Operations: the repeated problems table (refreshed) and the works view (a database VIEW)."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

SRID = 4326


class RepeatedProblem(models.Model):
    """An object or place with repeated appeals, as the default query found it at the last refresh.

    The ``repeated_problems`` tile layer reads this table (the registry needs a model with a
    geometry); ``refresh_repeated_problems`` and the worker's periodic task replace its rows in
    one transaction. The API computes the same answer live, for any period and threshold.
    """

    class Kind(models.TextChoices):
        OBJECT = "object", _("Object (appeals linked to it)")
        PLACE = "place", _("Place (unlinked appeals within a radius)")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    layer = models.CharField(max_length=64, blank=True, help_text="The object's layer")
    object_id = models.BigIntegerField(null=True, blank=True)
    label = models.CharField(max_length=255, blank=True)
    appeals = models.PositiveIntegerField(help_text="Appeals in the period")
    open_share = models.FloatField(help_text="Share of them still open, 0–1")
    categories = models.CharField(
        max_length=500, help_text="Category codes with counts, most frequent first"
    )
    first_date = models.DateField()
    last_date = models.DateField()
    geom = models.PointField(
        srid=SRID, help_text="The object's point on surface, or the place's centroid"
    )
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["-appeals", "kind", "id"]

    def __str__(self) -> str:
        return f"{self.label or self.kind}: {self.appeals} appeals"


class Work(models.Model):
    """One row of the ``operations_work`` VIEW: a permit, a planned yard, a repair, a register work.

    The view (migrations 0001, 0002) unions excavation permits (not cancelled), the yard items of
    the plans of record, the network repairs and the improvement register (neither cancelled).
    Dates are ISO text so that a map filters them as strings; ``ongoing`` marks work that stays
    on the ground past ``ends_on`` until it is closed or done (see ``orders.operations.works``).
    Read-only: the rows live in their own tables, whose purge triggers also purge this layer's
    tiles (``fed_by``).
    """

    id = models.BigIntegerField(primary_key=True)
    kind = models.CharField(max_length=16)
    object_id = models.BigIntegerField(help_text="The id of the permit, plan item or repair")
    title = models.CharField(max_length=600)
    status = models.CharField(max_length=16)
    starts_on = models.CharField(max_length=10)
    ends_on = models.CharField(max_length=10)
    ongoing = models.BooleanField()
    planned_month = models.PositiveSmallIntegerField(null=True, help_text="A yard's month")
    organisation = models.ForeignKey(
        "layers.Organisation",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    geom = models.GeometryField(srid=SRID)

    class Meta:
        managed = False
        db_table = "operations_work"
        ordering = ["starts_on", "id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"
