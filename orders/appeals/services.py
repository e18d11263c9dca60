"""Writing appeals: registration with auto-link, the lifecycle, the resident's link, intake, keys.

Every service runs in one transaction, locks the appeal it moves (``select_for_update``) and
writes a history row for every change: who (a user, or "resident", "system", "import"), when,
from → to, and why.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Point
from django.contrib.postgres.expressions import ArraySubquery
from django.core.mail import EmailMessage, send_mail
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    Func,
    JSONField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import JSONObject
from django.urls import reverse
from django.utils import timezone

from gis.exceptions import ApplicationError, Conflict, Forbidden, NotFound, Unauthorized
from gis.models import User
from gis.roles import Role, viewer_for
from layers.models import Organisation
from layers.registry import LAYERS
from layers.selectors import degrees_for
from orders.appeals.categories import ADMINISTRATION, CATEGORIES, DEMO_NOTE, POLICE
from orders.appeals.lifecycle import TRANSITIONS, Actor, allowed_moves, may_move, who_may
from orders.appeals.models import (
    NUMBER_SEQUENCE,
    Appeal,
    AppealHistory,
    Category,
    DepartmentReportSent,
    IntakeMessage,
    IntegrationKey,
)
from orders.appeals.selectors import (
    LINK_CANDIDATES,
    REPORT_COLUMNS,
    address_locate,
    departments_report,
    geodesic_distance,
    link_candidates,
    linked_object_exists,
    object_distance_m,
    token_hash,
)

S = Appeal.Status
# How far ahead of the server's clock a client's received_at may be (clock skew), no more.
CLOCK_SKEW = timedelta(minutes=5)
MESSENGERS = frozenset({"telegram", "whatsapp", "viber", "messenger", "sms", "max"})


def appeal_numbers_next(*, years: list[int]) -> list[str]:
    """Fresh appeal numbers, ``A-<year>-<000123>``, one per year given, from the DB sequence.

    The one raw statement outside tiles: the ORM has no expression for ``nextval``.
    """
    if not years:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(%s) FROM generate_series(1, %s)", [NUMBER_SEQUENCE, len(years)]
        )
        values = [row[0] for row in cursor.fetchall()]
    return [f"A-{year}-{value:06d}" for year, value in zip(years, values, strict=True)]


def _history(
    appeal: Appeal,
    *,
    action: str,
    at: datetime,
    by: User | None = None,
    by_label: str = "",
    from_status: str = "",
    to_status: str = "",
    comment: str = "",
    data: dict[str, Any] | None = None,
) -> AppealHistory:
    return AppealHistory.objects.create(
        appeal=appeal,
        at=at,
        by=by if by is not None and by.is_authenticated else None,
        by_label=by_label,
        action=action,
        from_status=from_status,
        to_status=to_status,
        comment=comment,
        data=data or {},
    )


# --- categories ------------------------------------------------------------------------------


@transaction.atomic
def categories_load() -> int:
    """Create the starting categories (``orders.appeals.categories``) and their organisations.

    Existing categories are left as they are (an administrator may have tuned a norm or a
    radius); returns how many were created.
    """
    kinds = {POLICE: Organisation.Kind.POLICE, ADMINISTRATION: Organisation.Kind.ADMINISTRATION}
    created = 0
    for seed in CATEGORIES:
        slug = seed.organisation.split(" (")[0].lower().replace(" ", "-")
        organisation, _ = Organisation.objects.get_or_create(
            name=seed.organisation,
            defaults={
                "kind": kinds.get(seed.organisation, Organisation.Kind.SERVICE),
                "email": f"{slug}@demo.invalid",
                "note": DEMO_NOTE,
            },
        )
        _, made = Category.objects.get_or_create(
            code=seed.code,
            defaults={
                "name": seed.name,
                "group": seed.group,
                "organisation": organisation,
                "layer": seed.layer,
                "link_radius_m": seed.link_radius_m,
                "sla_hours": seed.sla_hours,
                "priority": seed.priority,
                "network_break": seed.network_break,
            },
        )
        created += made
    return created


# --- registration and the link to the object -------------------------------------------------


def appeal_link_auto(appeal: Appeal) -> None:
    """Link the nearest object of the category's layer within its radius; never a guess.

    Unlocated, or no object in range: unlinked and flagged for an operator. A category without a
    layer (street lights, for now) links nothing and flags only an unlocated appeal.
    """
    appeal.linked_layer, appeal.linked_id, appeal.link_distance_m = "", None, None
    appeal.link_method = Appeal.LinkMethod.NONE
    appeal.link_candidates = []
    layer = appeal.category.layer
    if appeal.geom is None:
        appeal.needs_attention = True
        return
    if not layer or layer not in LAYERS:
        appeal.needs_attention = False
        return
    candidates = link_candidates(
        layer=layer, point=appeal.geom, radius_m=appeal.category.link_radius_m
    )
    appeal.link_candidates = candidates
    appeal.needs_attention = not candidates
    if candidates:
        best = candidates[0]
        appeal.linked_layer, appeal.linked_id = layer, best["id"]
        appeal.link_distance_m = best["distance_m"]
        appeal.link_method = Appeal.LinkMethod.AUTO


def appeals_link_bulk(*, layer: str, radius_m: float, appeals: QuerySet[Appeal]) -> None:
    """Link many located appeals at once (imports): two UPDATE statements, no row round trips.

    Per appeal, the objects of ``layer`` within ``radius_m`` (``ST_DWithin`` on the GiST index),
    nearest first by geodesic distance: the best is linked, the first three are its candidates;
    none in range leaves it unlinked and flagged, as ``appeal_link_auto`` does for one appeal.
    """
    spec = LAYERS[layer]
    column = spec.geometry_field.name
    appeals = appeals.filter(geom__isnull=False)
    top_lat = max((abs(g.y) for g in appeals.values_list("geom", flat=True)), default=0.0)
    outer = OuterRef("geom")
    near = (
        spec.model._default_manager.filter(
            Func(
                F(column),
                outer,
                Value(degrees_for(radius_m, top_lat)),
                function="ST_DWithin",
                output_field=BooleanField(),
            )
        )
        .annotate(distance_m=geodesic_distance(F(column), outer))
        .filter(distance_m__lte=radius_m)
        .order_by("distance_m", "pk")
    )
    rounded = Func(
        F("distance_m"), template="round((%(expressions)s)::numeric, 1)", output_field=FloatField()
    )
    found = Exists(near)
    # One statement: the link constraint (a layer only with an id) holds on every row it writes.
    appeals.update(
        linked_layer=Case(When(found, then=Value(layer)), default=Value("")),
        linked_id=Subquery(near.values("pk")[:1]),
        link_distance_m=Subquery(near.annotate(r=rounded).values("r")[:1]),
        link_method=Case(
            When(found, then=Value(Appeal.LinkMethod.AUTO)), default=Value(Appeal.LinkMethod.NONE)
        ),
        link_candidates=Func(
            ArraySubquery(
                near.values(hit=JSONObject(layer=Value(layer), id="pk", distance_m=rounded))[
                    :LINK_CANDIDATES
                ]
            ),
            function="to_jsonb",
            output_field=JSONField(),
        ),
        needs_attention=Case(When(found, then=Value(False)), default=Value(True)),
    )


def _check_point(point: Point | None) -> None:
    if point is not None and not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        raise ApplicationError(
            "A point must be lon/lat: lon within -180…180, lat within -90…90.",
            extra={"fields": {"point": ["Not lon/lat."]}},
        )


@transaction.atomic
def appeal_register(
    *,
    category: Category,
    channel: str,
    text: str = "",
    address: str = "",
    point: Point | None = None,
    resident_name: str = "",
    resident_phone: str = "",
    resident_email: str = "",
    received_at: datetime | None = None,
    by: User | None = None,
    by_label: str = "",
    source: str = "manual",
    source_id: str = "",
    history_data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Appeal:
    """Register an appeal: locate it (the point, else the address), link it, route it, time it.

    The responsible organisation and the priority come from the category, the SLA due from
    its norm counted from ``received_at`` (default: now).
    """
    now = now or timezone.now()
    received_at = received_at or now
    if received_at > now + CLOCK_SKEW:
        raise ApplicationError(
            "received_at is in the future.",
            extra={"fields": {"received_at": ["In the future."]}},
        )
    address = address.strip()
    if not address and point is None:
        raise ApplicationError(
            "Give an address or a point (or both).",
            extra={"fields": {"address": ["An address or a point is required."]}},
        )
    _check_point(point)
    if point is not None:
        point.srid = 4326
    appeal = Appeal(
        channel=channel,
        category=category,
        text=text,
        address=address,
        geom=point,
        located_by="point" if point is not None else "",
        organisation=category.organisation,
        priority=category.priority,
        status=S.NEW,
        sla_due=received_at + timedelta(hours=category.sla_hours),
        resident_name=resident_name,
        resident_phone=resident_phone,
        resident_email=resident_email,
        received_at=received_at,
        source=source,
        source_id=source_id,
    )
    if point is None:
        appeal.geom = address_locate(address=address)
        appeal.located_by = "geocoded" if appeal.geom is not None else ""
    appeal_link_auto(appeal)
    # The unique and check constraints are the database's; checking them here too would cost
    # two queries per appeal. The foreign keys are objects in hand.
    appeal.full_clean(
        exclude=["number", "category", "organisation", "duplicate_of"], validate_constraints=False
    )
    (appeal.number,) = appeal_numbers_next(years=[timezone.localtime(received_at).year])
    appeal.save()
    _history(
        appeal,
        action="registered",
        at=now,
        by=by,
        by_label=by_label,
        to_status=S.NEW,
        data={
            "channel": channel,
            "located_by": appeal.located_by,
            "linked": _link_json(appeal),
            **(history_data or {}),
        },
    )
    return appeal


def _link_json(appeal: Appeal) -> dict[str, Any] | None:
    if not appeal.linked_layer:
        return None
    return {
        "layer": appeal.linked_layer,
        "id": appeal.linked_id,
        "distance_m": appeal.link_distance_m,
        "method": appeal.link_method,
    }


# --- the lifecycle ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transitioned:
    appeal: Appeal
    confirm_token: str | None = None
    """The resident's one-time link token, when the appeal just became done (shown once)."""


def _locked(appeal_id: int) -> Appeal:
    appeal = (
        Appeal.objects.select_for_update(of=("self",))
        .select_related("category", "organisation")
        .filter(pk=appeal_id)
        .first()
    )
    if appeal is None:
        raise NotFound(f"No appeal {appeal_id}.")
    return appeal


def _actor(by: User | None, appeal: Appeal) -> Actor:
    """Who ``by`` is for this appeal: an operator, or the responsible service's staff."""
    viewer = viewer_for(by)
    if viewer.is_public:
        raise Unauthorized("Moving an appeal needs an operator's or a service's token.")
    if viewer.role == Role.OPERATOR:
        return Actor.OPERATOR
    if viewer.role == Role.CONTRACTOR:
        if viewer.organisation_id != appeal.organisation_id:
            raise NotFound(f"No appeal {appeal.pk}.")
        return Actor.SERVICE
    raise Forbidden(f"Your role ({viewer.role}) may read appeals, not move them.")


def _operator(by: User | None) -> User:
    viewer = viewer_for(by)
    if viewer.is_public:
        raise Unauthorized("This needs an operator's token.")
    if viewer.role != Role.OPERATOR:
        raise Forbidden(f"Only operators may do this; your role is {viewer.role}.")
    return by


@transaction.atomic
def appeal_transition(
    *,
    appeal_id: int,
    to: str,
    by: User | None,
    comment: str = "",
    duplicate_of_id: int | None = None,
    organisation_id: int | None = None,
    link_base: str = "",
    now: datetime | None = None,
) -> Transitioned:
    """Move an appeal along its lifecycle (``orders.appeals.lifecycle``).

    A move that does not exist from the current status → 409 naming the allowed ones; a move
    that exists but is not the caller's to make → 403 naming who may.
    """
    appeal = _locked(appeal_id)
    actor = _actor(by, appeal)
    _check_move(actor, appeal.status, to)
    return _move(
        appeal,
        to,
        by=by,
        comment=comment,
        now=now or timezone.now(),
        duplicate_of_id=duplicate_of_id,
        organisation_id=organisation_id if actor == Actor.OPERATOR else None,
        link_base=link_base,
    )


def _check_move(actor: Actor, current: str, to: str) -> None:
    if to not in Appeal.Status.values:
        raise ApplicationError(f"Unknown status {to!r}.", extra={"statuses": S.values})
    allowed = allowed_moves(actor, current)
    if to not in TRANSITIONS.get(current, ()):
        raise Conflict(
            f"An appeal that is {current} cannot become {to}.",
            extra={"status": current, "allowed": allowed},
        )
    if not may_move(actor, current, to):
        raise Forbidden(
            f"Moving an appeal from {current} to {to} is for: {', '.join(who_may(current, to))}.",
            extra={"status": current, "allowed": allowed},
        )


def _move(
    appeal: Appeal,
    to: str,
    *,
    now: datetime,
    by: User | None = None,
    by_label: str = "",
    comment: str = "",
    duplicate_of_id: int | None = None,
    organisation_id: int | None = None,
    link_base: str = "",
) -> Transitioned:
    current = appeal.status
    data: dict[str, Any] = {}
    token = None
    if to == S.ASSIGNED:
        if organisation_id is not None:
            organisation = Organisation.objects.filter(pk=organisation_id).first()
            if organisation is None:
                raise ApplicationError(
                    f"No organisation {organisation_id}.",
                    extra={"fields": {"organisation": ["Unknown organisation."]}},
                )
            appeal.organisation = organisation
        if appeal.organisation is None:
            raise ApplicationError(
                "The appeal has no responsible organisation: name one (organisation).",
                extra={"fields": {"organisation": ["Required: the category names none."]}},
            )
        data["organisation"] = appeal.organisation.name
    elif to == S.DONE:
        appeal.done_at = appeal.closed_at = now
        token = secrets.token_urlsafe(24)
        data["confirm_link_sent"] = bool(appeal.resident_email)
    elif to == S.REOPENED:
        # A failed fix gets half the category's norm, counted from now.
        appeal.reopen_count += 1
        appeal.sla_due = now + timedelta(hours=appeal.category.sla_hours / 2)
        appeal.closed_at = None
        data["sla_due"] = appeal.sla_due.isoformat()
    elif to == S.DUPLICATE:
        original = _original(appeal, duplicate_of_id)
        appeal.duplicate_of = original
        appeal.closed_at = now
        data["duplicate_of"] = original.number
    elif to == S.REJECTED:
        appeal.closed_at = now
    elif to == S.ARCHIVED and appeal.closed_at is None:
        appeal.closed_at = now
    appeal.confirm_token_hash = token_hash(token) if token else ""
    appeal.status = to
    appeal.save()
    _history(
        appeal,
        action="status",
        at=now,
        by=by,
        by_label=by_label,
        from_status=current,
        to_status=to,
        comment=comment,
        data=data,
    )
    if token and appeal.resident_email:
        transaction.on_commit(_confirm_mail(appeal, token, link_base))
    return Transitioned(appeal=appeal, confirm_token=token)


def _original(appeal: Appeal, duplicate_of_id: int | None) -> Appeal:
    if duplicate_of_id is None:
        raise ApplicationError(
            "A duplicate must point at the original appeal (duplicate_of).",
            extra={"fields": {"duplicate_of": ["Required for a duplicate."]}},
        )
    original = Appeal.objects.filter(pk=duplicate_of_id).first()
    seen = {appeal.pk}
    while original is not None and original.duplicate_of_id is not None:
        if original.pk in seen:
            break
        seen.add(original.pk)
        original = Appeal.objects.filter(pk=original.duplicate_of_id).first()
    if original is None or original.pk == appeal.pk:
        raise ApplicationError(
            "duplicate_of must be another existing appeal.",
            extra={"fields": {"duplicate_of": ["Not another existing appeal."]}},
        )
    return original


def confirm_path(token: str) -> str:
    return reverse("appeal-confirm", kwargs={"token": token})


def _confirm_mail(appeal: Appeal, token: str, link_base: str):
    link = link_base.rstrip("/") + confirm_path(token)
    subject = f"Appeal {appeal.number}: done — was it fixed?"
    body = (
        f"The city reports your appeal {appeal.number} ({appeal.category.name}) as done.\n\n"
        f"Was it fixed? Open this link once to confirm or to send it back:\n{link}\n\n"
        'POST {"resolved": true} to confirm, or {"resolved": false, "comment": "…"} '
        "to reopen it. The link works once.\n"
    )
    recipient = appeal.resident_email

    def send() -> None:
        send_mail(subject, body, None, [recipient], fail_silently=True)

    return send


@transaction.atomic
def appeal_confirm_by_resident(
    *, token: str, resolved: bool, comment: str = "", now: datetime | None = None
) -> Appeal:
    """The resident's answer through the one-time link: archived when fixed, else reopened.

    Only the token's hash is stored and it is cleared by the answer (or by any other move out
    of done), so the link works once.
    """
    appeal = (
        Appeal.objects.select_for_update(of=("self",))
        .select_related("category", "organisation")
        .filter(confirm_token_hash=token_hash(token))
        .exclude(confirm_token_hash="")
        .first()
        if token
        else None
    )
    if appeal is None or appeal.status != S.DONE:
        raise NotFound("This link is not valid, or it has been used already.")
    _move(
        appeal,
        S.ARCHIVED if resolved else S.REOPENED,
        by_label="resident",
        comment=comment,
        now=now or timezone.now(),
    )
    return appeal


@transaction.atomic
def appeal_relink(
    *,
    appeal_id: int,
    by: User | None,
    layer: str | None = None,
    object_id: int | None = None,
    point: Point | None = None,
    comment: str = "",
) -> Appeal:
    """An operator's correction of where an appeal is and what it is about.

    ``point`` moves it; ``layer`` + ``object_id`` link that object (an appeal without a point
    takes a point on the object); ``layer=""`` unlinks; neither re-runs the auto-link.
    """
    _operator(by)
    appeal = _locked(appeal_id)
    before = _link_json(appeal)
    _check_point(point)
    if point is not None:
        point.srid = 4326
        appeal.geom, appeal.located_by = point, "operator"
    if layer is None and object_id is None:
        appeal_link_auto(appeal)
    elif layer == "":
        appeal.linked_layer, appeal.linked_id, appeal.link_distance_m = "", None, None
        appeal.link_method = Appeal.LinkMethod.OPERATOR
        appeal.needs_attention = appeal.geom is None
    else:
        _link_to(appeal, layer, object_id)
    appeal.save()
    _history(
        appeal,
        action="relinked",
        at=timezone.now(),
        by=by,
        comment=comment,
        data={"from": before, "to": _link_json(appeal), "point_moved": point is not None},
    )
    return appeal


def _link_to(appeal: Appeal, layer: str | None, object_id: int | None) -> None:
    if not layer or layer not in LAYERS or layer == "appeals":
        names = ", ".join(sorted(set(LAYERS) - {"appeals"}))
        raise ApplicationError(
            f"Unknown layer {layer!r}.", extra={"fields": {"layer": [f"One of: {names}."]}}
        )
    if object_id is None or not linked_object_exists(layer=layer, pk=object_id):
        raise ApplicationError(
            f"No {layer} object {object_id}.", extra={"fields": {"id": ["No such object."]}}
        )
    if appeal.geom is None:
        spec = LAYERS[layer]
        appeal.geom = (
            spec.model._default_manager.filter(pk=object_id)
            .annotate(point=PointOnSurface(spec.geometry_field.name))
            .values_list("point", flat=True)
            .first()
        )
        appeal.located_by = "object"
    appeal.linked_layer, appeal.linked_id = layer, object_id
    appeal.link_distance_m = object_distance_m(layer=layer, pk=object_id, point=appeal.geom)
    appeal.link_method = Appeal.LinkMethod.OPERATOR
    appeal.needs_attention = False


# --- intake from outside ---------------------------------------------------------------------


@transaction.atomic
def intake_receive(
    *,
    source: str,
    external_id: str,
    text: str = "",
    link: str = "",
    point: Point | None = None,
    payload: dict[str, Any] | None = None,
) -> tuple[IntakeMessage, bool]:
    """Queue a raw message for moderation; the same (source, external id) twice is one message."""
    _check_point(point)
    if point is not None:
        point.srid = 4326
    message = IntakeMessage(
        source=source,
        external_id=external_id,
        text=text,
        link=link,
        geom=point,
        payload=payload or {},
    )
    message.full_clean(validate_unique=False, validate_constraints=False)
    return IntakeMessage.objects.get_or_create(
        source=source,
        external_id=external_id,
        defaults={"text": text, "link": link, "geom": point, "payload": payload or {}},
    )


def _pending(message_id: int) -> IntakeMessage:
    message = IntakeMessage.objects.select_for_update().filter(pk=message_id).first()
    if message is None:
        raise NotFound(f"No intake message {message_id}.")
    if message.status != IntakeMessage.Status.PENDING:
        raise Conflict(
            f"The message was {message.status} already.", extra={"status": message.status}
        )
    return message


@transaction.atomic
def intake_accept(
    *,
    message_id: int,
    by: User | None,
    category: Category,
    address: str = "",
    point: Point | None = None,
    text: str | None = None,
) -> Appeal:
    """A moderator turns a message into a normal appeal: its category and where it is."""
    _operator(by)
    message = _pending(message_id)
    now = timezone.now()
    appeal = appeal_register(
        category=category,
        channel=(
            Appeal.Channel.MESSENGER if message.source in MESSENGERS else Appeal.Channel.SOCIAL
        ),
        text=text if text is not None else message.text,
        address=address,
        point=point if point is not None else message.geom,
        received_at=message.received_at,
        by=by,
        source=f"intake:{message.source}"[:32],
        source_id=message.external_id[:64],
        history_data={"intake": message.pk, "link": message.link},
        now=now,
    )
    message.status = IntakeMessage.Status.ACCEPTED
    message.appeal = appeal
    message.moderated_by = by
    message.moderated_at = now
    message.save()
    return appeal


@transaction.atomic
def intake_reject(*, message_id: int, by: User | None, comment: str = "") -> IntakeMessage:
    """A moderator sets a message aside (spam, not a city matter)."""
    _operator(by)
    message = _pending(message_id)
    message.status = IntakeMessage.Status.REJECTED
    message.moderated_by = by
    message.moderated_at = timezone.now()
    message.payload = {**message.payload, "moderation_comment": comment}
    message.save()
    return message


# --- integration keys ------------------------------------------------------------------------


@transaction.atomic
def integration_key_create(*, name: str, purpose: str) -> tuple[IntegrationKey, str]:
    """Create a key, or replace an integration's key; the key itself is returned only here."""
    raw = secrets.token_urlsafe(32)
    key = IntegrationKey.objects.filter(name=name).first() or IntegrationKey(name=name)
    key.purpose, key.key_hash, key.active = purpose, token_hash(raw), True
    key.full_clean(exclude=["key_hash"])
    key.save()
    return key, raw


# --- weekly department reports ---------------------------------------------------------------

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 (local time) of an ISO week ``YYYY-Www``."""
    match = _WEEK.match(week)
    if not match:
        raise ApplicationError(f"A week is YYYY-Www (e.g. 2026-W05), not {week!r}.")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ApplicationError(f"{week} is not a week of its year.") from None
    start = timezone.make_aware(datetime.combine(monday, time.min))
    return start, timezone.make_aware(datetime.combine(monday + timedelta(days=7), time.min))


@dataclass(frozen=True, slots=True)
class ReportDelivery:
    organisation: str
    outcome: str
    """sent, already sent, or no e-mail address."""
    recipients: tuple[str, ...] = ()


def department_reports_send(
    *, week: str, now: datetime | None = None, force: bool = False
) -> list[ReportDelivery]:
    """E-mail each organisation its part of the week's report, once (``force``: again).

    An organisation is written to when it had appeals in the week or has overdue ones now; one
    without an e-mail address is reported back, not skipped silently.
    """
    start, end = week_bounds(week)
    now = now or timezone.now()
    deliveries = []
    for row in departments_report(start=start, end=end, now=now):
        if row["organisation_id"] is None:
            continue
        organisation = Organisation.objects.get(pk=row["organisation_id"])
        recipients = tuple(
            dict.fromkeys(
                e
                for e in (organisation.email, *organisation.users.values_list("email", flat=True))
                if e
            )
        )
        if not recipients:
            deliveries.append(ReportDelivery(organisation.name, "no e-mail address"))
            continue
        sent = DepartmentReportSent.objects.filter(organisation=organisation, week=week)
        if sent.exists() and not force:
            deliveries.append(ReportDelivery(organisation.name, "already sent", recipients))
            continue
        message = EmailMessage(
            subject=f"Appeals report {week}: {organisation.name}",
            body=_report_text(week, start, end, row),
            to=list(recipients),
        )
        message.attach(f"appeals-{week}.csv", _report_csv([row]), "text/csv")
        message.send()
        DepartmentReportSent.objects.update_or_create(
            organisation=organisation,
            week=week,
            defaults={"recipients": ", ".join(recipients)[:500], "sent_at": now},
        )
        deliveries.append(ReportDelivery(organisation.name, "sent", recipients))
    return deliveries


def _report_text(week: str, start: datetime, end: datetime, row: dict[str, Any]) -> str:
    def hours(value: float | None) -> str:
        return "—" if value is None else f"{value:g} h"

    share = "—" if row["reopened_share"] is None else f"{row['reopened_share']:.0%}"
    last = timezone.localtime(end - timedelta(seconds=1)).date()
    return (
        f"Appeals of {row['organisation']}, week {week} "
        f"({timezone.localtime(start).date()} – {last}):\n\n"
        f"  received                 {row['received']}\n"
        f"  closed                   {row['closed']}\n"
        f"  closed within the SLA    {row['closed_within_sla']}\n"
        f"  overdue now              {row['overdue_now']}\n"
        f"  median time to close     {hours(row['median_hours_to_close'])}\n"
        f"  90th percentile          {hours(row['p90_hours_to_close'])}\n"
        f"  reopened by residents    {share}\n\n"
        "The same figures are attached as CSV.\n"
    )


def _report_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
