"""Planning: yard repair plans (versioned, published), unit costs, and network incidents."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from layers.model_base import CityObject
from layers.models import NetworkKind, NetworkSegment, Yard
from layers.validators import validate_geometry

SRID = 4326
FIRST_YEAR, LAST_YEAR = 2000, 2100


class UnitCost(models.Model):
    """What repairing one m² of a yard costs, by its surface: what a budget buys.

    Seeded by the migration with placeholder figures (docs/guide/planner.md); a city sets its own in
    the admin. Amounts are in the city's currency, whatever that is.
    """

    surface = models.CharField(max_length=16, choices=Yard.Surface.choices, unique=True)
    cost_per_m2 = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(0)]
    )
    note = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["surface"]

    def __str__(self) -> str:
        return f"{self.surface}: {self.cost_per_m2}/m²"


class YardPlan(models.Model):
    """One version of a year's yard repair plan, with the parameters it was made from.

    Every POST makes a new version and publishes it: it becomes the year's plan of record
    (``is_record``; one per year, kept by a partial unique constraint). The version before stays
    as history: its items, as they were when it was superseded, move into ``archive`` (their
    rows are deleted), so the item table — the public ``yard_plan`` layer, which tiles, OGC and
    the object card read whole — holds the plans of record only. A preview that is not saved is
    the API's ``dry_run``.
    """

    class Basis(models.TextChoices):
        BUDGET = "budget", _("Budget")
        COUNT = "count", _("Number of yards")

    year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(FIRST_YEAR), MaxValueValidator(LAST_YEAR)]
    )
    version = models.PositiveIntegerField()
    basis = models.CharField(max_length=8, choices=Basis.choices)
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    weights = models.JSONField(help_text="The ranking weights the plan was made with")
    exclude = models.JSONField(default=dict, help_text="The exclusions applied")
    apartments_radius_m = models.FloatField()
    first_month = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    last_month = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    total_cost = models.DecimalField(max_digits=14, decimal_places=2)
    total_area_m2 = models.FloatField()
    is_record = models.BooleanField(
        default=False, help_text="The year's plan of record: the latest published version"
    )
    archive = models.JSONField(
        default=list,
        blank=True,
        help_text="A superseded version's items (GeoJSON features) as they were when superseded",
    )
    superseded_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-year", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["year", "version"], name="yardplan_year_version"),
            models.UniqueConstraint(
                fields=["year"], condition=Q(is_record=True), name="yardplan_one_record_per_year"
            ),
            models.CheckConstraint(
                condition=(Q(basis="budget") & Q(budget__isnull=False) & Q(budget__gt=0))
                | (Q(basis="count") & Q(count__isnull=False) & Q(count__gt=0)),
                name="yardplan_basis_given",
            ),
            models.CheckConstraint(
                condition=Q(first_month__lte=models.F("last_month")), name="yardplan_season"
            ),
        ]

    def __str__(self) -> str:
        return f"yard plan {self.year} v{self.version}"


class YardPlanItem(models.Model):
    """A yard in a year's plan of record, with a snapshot of it (outline, address, area, surface).

    The plan stays as published when the yard changes. Only plans of record have item rows (see
    ``YardPlan``): this table is the public ``yard_plan`` layer.
    """

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    plan = models.ForeignKey(YardPlan, on_delete=models.CASCADE, related_name="items")
    yard = models.ForeignKey(
        Yard, null=True, blank=True, on_delete=models.SET_NULL, related_name="plan_items"
    )
    year = models.PositiveSmallIntegerField(help_text="The plan's year (a tile property)")
    rank = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    score = models.FloatField(null=True, blank=True, help_text="Ranking score when planned")
    # The yard as it was when planned.
    source = models.CharField(max_length=32, help_text="The yard's source: 'derived' stays marked")
    source_id = models.CharField(max_length=64)
    address = models.CharField(max_length=255, blank=True)
    area_m2 = models.FloatField()
    surface = models.CharField(max_length=16, choices=Yard.Surface.choices)
    geom = models.PolygonField(srid=SRID, validators=[validate_geometry])
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2)
    cost = models.DecimalField(max_digits=14, decimal_places=2)
    planned_month = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    done_on = models.DateField(null=True, blank=True)
    carried_over = models.BooleanField(
        default=False, help_text="Kept from the previous version because work had started"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "rank"], name="yardplanitem_plan_rank"),
            models.UniqueConstraint(
                fields=["plan", "yard"], condition=Q(yard__isnull=False), name="yardplanitem_yard"
            ),
            models.CheckConstraint(
                condition=Q(planned_month__gte=1) & Q(planned_month__lte=12),
                name="yardplanitem_month",
            ),
            models.CheckConstraint(
                condition=Q(status="done") | Q(done_on__isnull=True),
                name="yardplanitem_done_on_only_when_done",
            ),
            models.CheckConstraint(condition=Q(geom__isvalid=True), name="yardplanitem_geom_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.year} #{self.rank}: {self.address or self.source_id}"


class Incident(CityObject):
    """A break of an underground network: the services' own records (``import_layer incidents``).

    Appeals of the network-break categories linked to a segment count as incidents too, in the
    analysis (``orders.planning.selectors``); they stay appeals and are not copied here.
    """

    kind = models.CharField(max_length=16, choices=NetworkKind.choices)
    occurred_on = models.DateField()
    segment = models.ForeignKey(
        NetworkSegment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
        help_text="The broken segment when the record names it; else the nearest one is used",
    )
    description = models.TextField(blank=True)
    geom = models.PointField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [models.Index(fields=["kind", "occurred_on"], name="incident_kind_date")]

    def __str__(self) -> str:
        return f"{self.kind} incident {self.occurred_on}"


class ImprovementWork(CityObject):
    """A work of the city's improvement register (благоустройство): asphalt, a playground, a fence.

    CIS cities publish the register: address, kind of work, status ("Планируется", "В работе",
    "Завершен", "Отменен"), start and end dates, a MultiPolygon or a Point, a name in Russian and
    in Kazakh. It comes in by ``import_layer improvement_works FILE --map …`` and is shown among
    the works; it is never an excavation permit, so no claim is ever sent for it.
    """

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    geometry_types = ("MultiPolygon", "Point")

    name = models.CharField(max_length=500)
    name_kk = models.CharField(max_length=500, blank=True, help_text="The name in Kazakh")
    work_kind = models.CharField(max_length=255, blank=True, help_text="Kind of work, as written")
    address = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    organisation = models.ForeignKey(
        "layers.Organisation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="improvement_works",
        help_text="Who does the work (the contractor)",
    )
    geom = models.GeometryField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [models.Index(fields=["status", "starts_on"], name="improvement_status_start")]

    def __str__(self) -> str:
        return self.name or self.address or f"improvement work {self.pk}"


class NetworkRepair(models.Model):
    """A planned repair of a network segment: who replaces it, and when.

    ``geom`` is the segment's line, copied when the repair is saved (``services``): the repair
    is drawn where it was planned even if the segment is later resurveyed, and the ``works``
    view and tiles read it without a join. It is the ``network_repairs`` layer (staff only, like
    the networks).
    """

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    segment = models.ForeignKey(
        NetworkSegment, on_delete=models.PROTECT, related_name="planned_repairs"
    )
    organisation = models.ForeignKey(
        "layers.Organisation",
        on_delete=models.PROTECT,
        related_name="network_repairs",
        help_text="Who does the repair (the network's owner or its contractor)",
    )
    planned_start = models.DateField()
    planned_end = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    note = models.TextField(blank=True)
    geom = models.LineStringField(
        srid=SRID, help_text="The segment's line when the repair was saved"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["planned_start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_end__gte=models.F("planned_start")),
                name="networkrepair_period",
            ),
        ]
        indexes = [
            models.Index(fields=["planned_start", "planned_end"], name="networkrepair_period_idx")
        ]

    def __str__(self) -> str:
        return f"repair of {self.segment} {self.planned_start}–{self.planned_end}"
