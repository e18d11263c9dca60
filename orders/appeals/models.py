"""Residents' appeals: what is wrong where, who fixes it by when, and every change on record."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Case, F, Q, When
from django.utils.translation import gettext_lazy as _

SRID = 4326
# The running part of every appeal number ("A-2026-000123") comes from this one sequence, created
# by migration 0002: unique across years and concurrent writers without a lock.
NUMBER_SEQUENCE = "appeals_appeal_number_seq"


class DatabaseSetForeignKey(models.ForeignKey):
    """A foreign key a trigger sets, read back by the INSERT that wrote it (``RETURNING``).

    As Django does for generated fields: a freshly created row's object knows the value without
    another query.
    """

    db_returning = True


class Category(models.Model):
    """A kind of problem: who is responsible, how fast, and which layer it is about.

    ``code`` doubles as the Open311 service_code.
    """

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    group = models.CharField(max_length=64, blank=True, help_text="e.g. roads, water, lighting")
    organisation = models.ForeignKey(
        "layers.Organisation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appeal_categories",
        help_text="The service responsible for this kind of problem",
    )
    layer = models.CharField(
        max_length=64, blank=True, help_text="Registry layer an appeal links to (empty: none)"
    )
    link_radius_m = models.FloatField(default=50)
    sla_hours = models.FloatField(default=72, help_text="Norm from receipt to done")
    priority = models.PositiveSmallIntegerField(default=2, help_text="1 urgent … 3 routine")
    network_break = models.BooleanField(
        default=False, help_text="A break of an underground network (planning's hotspots)"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Appeal(models.Model):
    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        WEB = "web", _("Web")
        SOCIAL = "social", _("Social network")
        OPEN311 = "open311", _("Open311")
        MESSENGER = "messenger", _("Messenger")
        IMPORT = "import", _("Import")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        ASSIGNED = "assigned", _("Assigned")
        IN_WORK = "in_work", _("In work")
        DONE = "done", _("Done")
        ARCHIVED = "archived", _("Archived")
        REOPENED = "reopened", _("Reopened")
        REJECTED = "rejected", _("Rejected")
        DUPLICATE = "duplicate", _("Duplicate")

    OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_WORK, Status.REOPENED)
    """Statuses whose SLA still runs: overdue when ``sla_due`` has passed. Red on the map."""

    class LinkMethod(models.TextChoices):
        AUTO = "auto", _("Nearest object of the category's layer")
        OPERATOR = "operator", _("Linked by an operator")
        NONE = "none", _("Not linked")

    number = models.CharField(max_length=32, unique=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="appeals")
    text = models.TextField(blank=True)
    address = models.CharField(max_length=255, blank=True)
    geom = models.PointField(srid=SRID, null=True, blank=True)
    located_by = models.CharField(
        max_length=16, blank=True, help_text="point (given), geocoded (from the address), or ''"
    )
    # Kept by the database (triggers of migration 0004, SQL in district_sql.py): the district
    # covering ``geom`` by layers.selectors' precedence, recomputed when the point or a district
    # changes; null without a point or outside every district. Never set it from Python. An INSERT
    # reads it back; an UPDATE does not (reload the row after moving an appeal's point).
    district = DatabaseSetForeignKey(
        "layers.District",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="appeals",
        help_text="The district covering the point (kept by the database)",
    )
    # The object it is about: a registry layer and an id in it.
    linked_layer = models.CharField(max_length=64, blank=True)
    linked_id = models.BigIntegerField(null=True, blank=True)
    link_distance_m = models.FloatField(null=True, blank=True)
    link_method = models.CharField(
        max_length=16, choices=LinkMethod.choices, default=LinkMethod.NONE
    )
    link_candidates = models.JSONField(default=list, blank=True)
    needs_attention = models.BooleanField(
        default=False, help_text="Unlocated or unlinked: an operator must look at it"
    )
    organisation = models.ForeignKey(
        "layers.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appeals",
        help_text="Responsible service (from the category)",
    )
    priority = models.PositiveSmallIntegerField(default=2)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    sla_due = models.DateTimeField(null=True, blank=True)
    open_due = models.GeneratedField(
        expression=Case(When(status__in=OPEN_STATUSES, then=F("sla_due"))),
        output_field=models.DateTimeField(),
        db_persist=True,
        null=True,
        help_text="sla_due while the SLA runs (an open status), else null: overdue is "
        "open_due < now, one column whose statistics PostgreSQL can read (migration 0006).",
    )
    reopen_count = models.PositiveSmallIntegerField(default=0)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates"
    )
    # Personal data: never in tiles, Open311 or any public answer.
    resident_name = models.CharField(max_length=255, blank=True)
    resident_phone = models.CharField(max_length=64, blank=True)
    resident_email = models.EmailField(blank=True)
    confirm_token_hash = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(help_text="When the city got it (kept from imports)")
    done_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=32, default="manual")
    source_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_id"],
                condition=~Q(source_id=""),
                name="appeal_source_key",
            ),
            models.CheckConstraint(
                condition=Q(linked_layer="") | Q(linked_id__isnull=False), name="appeal_link_whole"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="appeal_status_received"),
            models.Index(fields=["organisation", "status"], name="appeal_org_status"),
            models.Index(fields=["linked_layer", "linked_id"], name="appeal_linked"),
            models.Index(fields=["sla_due"], name="appeal_sla_due"),
            # Overdue ones: open_due < now.
            models.Index(
                fields=["open_due"], condition=Q(open_due__isnull=False), name="appeal_open_due"
            ),
            # The list's order (newest first) and the reports' periods.
            models.Index(fields=["received_at", "id"], name="appeal_received"),
            models.Index(
                fields=["closed_at"], condition=Q(closed_at__isnull=False), name="appeal_closed"
            ),
            # The resident's link looks the appeal up by the token's hash.
            models.Index(
                fields=["confirm_token_hash"],
                condition=~Q(confirm_token_hash=""),
                name="appeal_confirm_token",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.category}"

    def is_overdue(self, now: datetime) -> bool:
        """Still open and past its SLA at ``now`` (``open_due`` says the same in the database)."""
        return self.status in self.OPEN_STATUSES and self.sla_due is not None and self.sla_due < now


class AppealHistory(models.Model):
    """One row per change: who, when, what from → to, and why."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    by_label = models.CharField(
        max_length=64, blank=True, help_text="Who, when not a user: resident, system, import"
    )
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    comment = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["appeal", "at", "id"]
        verbose_name_plural = "appeal history"


class IntakeMessage(models.Model):
    """A raw message from outside (social networks, messengers) awaiting a moderator."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    source = models.CharField(max_length=32, help_text="social, telegram, …")
    external_id = models.CharField(max_length=128)
    text = models.TextField(blank=True)
    link = models.URLField(max_length=500, blank=True)
    geom = models.PointField(srid=SRID, null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    appeal = models.OneToOneField(
        Appeal, null=True, blank=True, on_delete=models.SET_NULL, related_name="intake"
    )
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    replied_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sender was told the appeal's number (messengers)"
    )

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="intake_source_key")
        ]


class IntegrationKey(models.Model):
    """A key an outside system sends instead of an account: intake feeds and Open311 clients.

    Only the key's SHA-256 is stored; ``manage.py appeals_key`` prints the key once.
    """

    class Purpose(models.TextChoices):
        INTAKE = "intake", _("Intake feed (POST /api/appeals/intake)")
        OPEN311 = "open311", _("Open311 client (api_key of POST requests)")

    name = models.SlugField(
        max_length=64,
        unique=True,
        help_text="The integration; intake messages are filed under it unless they name a source",
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.purpose})"


class DepartmentReportSent(models.Model):
    """A weekly report e-mailed to an organisation: ``department_report`` sends each one once."""

    organisation = models.ForeignKey(
        "layers.Organisation", on_delete=models.CASCADE, related_name="appeal_reports"
    )
    week = models.CharField(max_length=8, help_text="ISO week, e.g. 2026-W05")
    recipients = models.CharField(max_length=500)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-week", "organisation"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "week"], name="report_sent_once")
        ]


class Callback(models.Model):
    """An operator's call to the resident once their appeal is done: was it really fixed.

    One per done transition (an appeal reopened and done again gets a new one); an appeal whose
    resident left neither a phone nor an e-mail gets none (its history says so).
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    class Outcome(models.TextChoices):
        SATISFIED = "satisfied", _("Satisfied: archived")
        NOT_SATISFIED = "not_satisfied", _("Not satisfied: reopened")
        UNREACHABLE = "unreachable", _("Unreachable after the last try: archived")
        RESIDENT_CONFIRMED = "resident_confirmed", _("The resident confirmed through their link")
        RESIDENT_REJECTED = "resident_rejected", _("The resident rejected through their link")
        MOVED = "moved", _("The appeal was moved out of done otherwise")

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="callbacks")
    done_at = models.DateTimeField(help_text="The done transition this call-back follows")
    due_at = models.DateTimeField(help_text="When to call (later after an unanswered try)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    tries = models.PositiveSmallIntegerField(default=0, help_text="Unanswered calls so far")
    last_try_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=32, choices=Outcome.choices, blank=True)
    comment = models.TextField(blank=True, help_text="The operator's last note")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # Exactly one per done transition, however many writers race to make it.
            models.UniqueConstraint(fields=["appeal", "done_at"], name="callback_once_per_done"),
            models.UniqueConstraint(
                fields=["appeal"], condition=Q(status="open"), name="callback_one_open"
            ),
            models.CheckConstraint(
                condition=Q(status="open", outcome="") | (Q(status="closed") & ~Q(outcome="")),
                name="callback_outcome_when_closed",
            ),
        ]
        indexes = [
            # The operators' queue: open ones, oldest due first.
            models.Index(
                fields=["due_at", "id"], condition=Q(status="open"), name="callback_queue"
            ),
        ]

    def __str__(self) -> str:
        return f"Call-back {self.pk} ({self.status})"
