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
from enum import StrEnum
from typing import Any

from django.conf import settings
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
from django.utils.translation import gettext as _
from procrastinate.contrib.django import app

from gis.exceptions import ApplicationError, Conflict, Forbidden, NotFound, Unauthorized
from gis.models import User
from gis.roles import Role, viewer_for
from layers.models import Organisation
from layers.registry import LAYERS, source_layers
from layers.selectors import city_check, degrees_for
from orders.appeals.categories import ADMINISTRATION, CATEGORIES, DEMO_NOTE, POLICE
from orders.appeals.lifecycle import TRANSITIONS, Actor, allowed_moves, may_move, who_may
from orders.appeals.models import (
    NUMBER_SEQUENCE,
    Appeal,
    AppealHistory,
    Callback,
    Category,
    DepartmentReportSent,
    IntakeMessage,
    IntegrationKey,
)
from orders.appeals.selectors import (
    HISTORY_WRITTEN,
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
from orders.appeals.telegram import TelegramError, TelegramMessage, send_message

S = Appeal.Status
# How far ahead of the server's clock a client's received_at may be (clock skew), no more.
CLOCK_SKEW = timedelta(minutes=5)
MESSENGERS = frozenset({"telegram", "whatsapp", "viber", "messenger", "sms", "max"})
TELEGRAM = "telegram"
# The job that tells a Telegram sender their appeal's number (orders/appeals/tasks.py).
TELEGRAM_REPLY_TASK = "appeals.telegram_reply"
REPLIES_QUEUE = "replies"


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
    row = AppealHistory.objects.create(
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
    # An appeal registered by this process carries its whole history (selectors.appeal_history).
    written = getattr(appeal, HISTORY_WRITTEN, None)
    if written is not None:
        written.append(row)
    return row


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
    layer (park maintenance, other) links nothing and flags only an unlocated appeal.
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
    """400 unless the point is lon/lat in the city (layers.selectors.city_contains)."""
    if point is None:
        return
    if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        raise ApplicationError(
            _("A point must be lon/lat: lon within -180…180, lat within -90…90."),
            extra={"fields": {"point": ["Not lon/lat."]}},
        )
    point.srid = 4326
    city_check(point, field="point", what="The point")


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
            _("received_at is in the future."),
            extra={"fields": {"received_at": ["In the future."]}},
        )
    address = address.strip()
    if not address and point is None:
        raise ApplicationError(
            _("Give an address or a point (or both)."),
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
    # A new appeal's history is what this object writes: the answer needs no query for it.
    setattr(appeal, HISTORY_WRITTEN, [])
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
        raise NotFound(_("No appeal %(appeal_id)s.") % {"appeal_id": appeal_id})
    return appeal


def _actor(by: User | None, appeal: Appeal) -> Actor:
    """Who ``by`` is for this appeal: an operator, or the responsible service's staff."""
    viewer = viewer_for(by)
    if viewer.is_public:
        raise Unauthorized(_("Moving an appeal needs an operator's or a service's token."))
    if viewer.role == Role.OPERATOR:
        return Actor.OPERATOR
    if viewer.role == Role.CONTRACTOR:
        if viewer.organisation_id != appeal.organisation_id:
            raise NotFound(_("No appeal %(pk)s.") % {"pk": appeal.pk})
        return Actor.SERVICE
    raise Forbidden(
        _("Your role (%(role)s) may read appeals, not move them.") % {"role": viewer.role}
    )


def _operator(by: User | None) -> User:
    viewer = viewer_for(by)
    if viewer.is_public:
        raise Unauthorized(_("This needs an operator's token."))
    if viewer.role != Role.OPERATOR:
        raise Forbidden(
            _("Only operators may do this; your role is %(role)s.") % {"role": viewer.role}
        )
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
        raise ApplicationError(
            _("Unknown status %(to)s.") % {"to": repr(to)}, extra={"statuses": S.values}
        )
    allowed = allowed_moves(actor, current)
    if to not in TRANSITIONS.get(current, ()):
        raise Conflict(
            _("An appeal that is %(current)s cannot become %(to)s.")
            % {"current": current, "to": to},
            extra={"status": current, "allowed": allowed},
        )
    if not may_move(actor, current, to):
        raise Forbidden(
            _("Moving an appeal from %(current)s to %(to)s is for: %(join)s.")
            % {"current": current, "to": to, "join": ", ".join(who_may(current, to))},
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
    callback_outcome: str = "",
    history_data: dict[str, Any] | None = None,
) -> Transitioned:
    current = appeal.status
    data: dict[str, Any] = dict(history_data or {})
    token = None
    if to == S.ASSIGNED:
        if organisation_id is not None:
            organisation = Organisation.objects.filter(pk=organisation_id).first()
            if organisation is None:
                raise ApplicationError(
                    _("No organisation %(organisation_id)s.")
                    % {"organisation_id": organisation_id},
                    extra={"fields": {"organisation": ["Unknown organisation."]}},
                )
            appeal.organisation = organisation
        if appeal.organisation is None:
            raise ApplicationError(
                _("The appeal has no responsible organisation: name one (organisation)."),
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
    if current == S.DONE:
        closed = _callback_close(
            appeal, to, now=now, by=by, by_label=by_label, outcome=callback_outcome
        )
        if closed is not None:
            data["callback"] = {**closed, **data.get("callback", {})}
    if to == S.DONE:
        data["callback"] = _callback_open(appeal, now=now)
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


# --- call-backs ------------------------------------------------------------------------------


def _callback_open(appeal: Appeal, *, now: datetime) -> dict[str, Any]:
    """The call-back task of the done transition at ``now``: made once, or none without contact.

    An appeal without a phone or an e-mail gets no task (nobody to ask); the done row of its
    history says so, and it waits for an operator's move as before.
    """
    if not (appeal.resident_phone or appeal.resident_email):
        return {"skipped": "no phone or e-mail"}
    # The appeal's row lock serialises moves; the constraints (one per done transition, one open
    # per appeal) hold regardless of it: a second task is never inserted, only found.
    callback, _ = Callback.objects.get_or_create(
        appeal=appeal, done_at=now, defaults={"due_at": now}
    )
    return {"id": callback.pk}


def _callback_close(
    appeal: Appeal, to: str, *, now: datetime, by: User | None, by_label: str, outcome: str
) -> dict[str, Any] | None:
    """Close the open call-back of an appeal leaving done: by its outcome, or by who moved it."""
    callback = (
        Callback.objects.select_for_update()
        .filter(appeal=appeal, status=Callback.Status.OPEN)
        .first()
    )
    if callback is None:
        return None
    if not outcome:
        outcome = Callback.Outcome.MOVED
        if by_label == "resident":
            outcome = (
                Callback.Outcome.RESIDENT_CONFIRMED
                if to == S.ARCHIVED
                else Callback.Outcome.RESIDENT_REJECTED
            )
    callback.status, callback.outcome, callback.closed_at = Callback.Status.CLOSED, outcome, now
    callback.closed_by = by if by is not None and by.is_authenticated else None
    callback.save()
    return {"id": callback.pk, "outcome": outcome}


CALLBACK_MOVES = {
    Callback.Outcome.SATISFIED: S.ARCHIVED,
    Callback.Outcome.NOT_SATISFIED: S.REOPENED,
    Callback.Outcome.UNREACHABLE: S.ARCHIVED,
}
UNREACHABLE_REASON = "resident unreachable"


def callback_max_tries() -> int:
    """Unanswered calls that archive an appeal (``CALLBACK_MAX_TRIES``, at least one)."""
    return max(1, int(settings.CALLBACK_MAX_TRIES))


@transaction.atomic
def callback_record(
    *,
    callback_id: int,
    outcome: str,
    by: User | None,
    comment: str = "",
    now: datetime | None = None,
) -> Callback:
    """An operator's call: satisfied → archived; not satisfied → reopened; unreachable → a try.

    The appeal moves through the lifecycle's own move (``_move``), so a reopening is exactly the
    resident's rejection: half the norm, ``reopen_count`` up. The ``CALLBACK_MAX_TRIES``-th
    unanswered call archives the appeal as "resident unreachable"; an earlier one is counted and
    the call is due again ``CALLBACK_RETRY_HOURS`` later. A closed task → 409.
    """
    _operator(by)
    if outcome not in CALLBACK_MOVES:
        raise ApplicationError(
            _("Unknown outcome %(outcome)s.") % {"outcome": repr(outcome)},
            extra={"fields": {"outcome": [f"One of: {', '.join(CALLBACK_MOVES)}."]}},
        )
    now = now or timezone.now()
    appeal_id = Callback.objects.filter(pk=callback_id).values_list("appeal_id", flat=True).first()
    if appeal_id is None:
        raise NotFound(_("No call-back %(callback_id)s.") % {"callback_id": callback_id})
    # The appeal first, as every move locks it: a resident's answer racing this call waits.
    appeal = _locked(appeal_id)
    callback = Callback.objects.select_for_update().get(pk=callback_id)
    if callback.status != Callback.Status.OPEN or appeal.status != S.DONE:
        raise Conflict(
            _("The call-back is closed already (%(value)s).")
            % {"value": callback.outcome or appeal.status},
            extra={"status": callback.status, "outcome": callback.outcome},
        )
    callback.comment = comment
    max_tries = callback_max_tries()
    data: dict[str, Any] = {"id": callback.pk, "outcome": outcome}
    if outcome == Callback.Outcome.UNREACHABLE:
        callback.tries += 1
        callback.last_try_at = now
        data.update(tries=callback.tries, max_tries=max_tries)
        if callback.tries < max_tries:
            callback.due_at = now + timedelta(hours=settings.CALLBACK_RETRY_HOURS)
            callback.save()
            _history(
                appeal,
                action="callback_try",
                at=now,
                by=by,
                from_status=S.DONE,
                to_status=S.DONE,
                comment=comment,
                data={"callback": data},
            )
            return callback
        comment = f"Resident unreachable after {callback.tries} tries" + (
            f": {comment}" if comment else "."
        )
        data["reason"] = UNREACHABLE_REASON
    callback.save()
    _move(
        appeal,
        CALLBACK_MOVES[outcome],
        now=now,
        by=by,
        comment=comment,
        callback_outcome=outcome,
        history_data={"callback": data},
    )
    callback.refresh_from_db()
    return callback


def _original(appeal: Appeal, duplicate_of_id: int | None) -> Appeal:
    if duplicate_of_id is None:
        raise ApplicationError(
            _("A duplicate must point at the original appeal (duplicate_of)."),
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
            _("duplicate_of must be another existing appeal."),
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
        raise NotFound(_("This link is not valid, or it has been used already."))
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
    linkable = set(source_layers()) - {"appeals"}
    if layer not in linkable:
        names = ", ".join(sorted(linkable))
        raise ApplicationError(
            _("Unknown layer %(layer)s.") % {"layer": repr(layer)},
            extra={"fields": {"layer": [f"One of: {names}."]}},
        )
    if object_id is None or not linked_object_exists(layer=layer, pk=object_id):
        raise ApplicationError(
            _("No %(layer)s object %(object_id)s.") % {"layer": layer, "object_id": object_id},
            extra={"fields": {"id": ["No such object."]}},
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
        raise NotFound(_("No intake message %(message_id)s.") % {"message_id": message_id})
    if message.status != IntakeMessage.Status.PENDING:
        raise Conflict(
            _("The message was %(status)s already.") % {"status": message.status},
            extra={"status": message.status},
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
    if message.source == TELEGRAM and message.payload.get("chat_id") is not None:
        # Deferred on this transaction's connection: the reply job exists iff the appeal does.
        app.configure_task(name=TELEGRAM_REPLY_TASK, queue=REPLIES_QUEUE).defer(
            intake_id=message.pk
        )
    return appeal


class TelegramOutcome(StrEnum):
    QUEUED = "queued"
    ALREADY_QUEUED = "already queued"
    EDIT_APPLIED = "edit applied"
    IGNORED = "ignored"


@transaction.atomic
def intake_telegram_receive(
    *, message: TelegramMessage | None
) -> tuple[IntakeMessage | None, TelegramOutcome]:
    """Queue a Telegram message for moderation; Telegram's retries and edits never duplicate it.

    A message is keyed by chat and message id. An edit of a message still pending replaces its
    text, point and photos (an older update never overwrites a newer one); an edit of a message
    moderated already is queued on its own (keyed by its update id) when it says something, and
    an edit of one never seen is queued as the message. Nothing to read (a sticker, a live
    location moving after moderation, an update that is not a message) queues nothing.
    """
    if message is None:
        return None, TelegramOutcome.IGNORED
    if not (message.text or message.point or message.photos):
        return None, TelegramOutcome.IGNORED
    payload = message.payload()
    if message.edited_at is not None:
        original = (
            IntakeMessage.objects.select_for_update()
            .filter(source=TELEGRAM, external_id=message.external_id)
            .first()
        )
        if original is not None and original.status == IntakeMessage.Status.PENDING:
            if original.payload.get("update_id", -1) >= message.update_id:
                return original, TelegramOutcome.ALREADY_QUEUED
            edits = [*original.payload.get("edits", []), message.edited_at.isoformat()]
            original.text = message.text or original.text
            original.geom = message.point or original.geom
            original.payload = {
                **payload,
                "date": original.payload.get("date", payload["date"]),
                "photo_file_ids": payload["photo_file_ids"] or original.payload["photo_file_ids"],
                "photos": payload["photos"] or original.payload.get("photos", []),
                "edits": edits,
            }
            original.full_clean(validate_unique=False, validate_constraints=False)
            original.save()
            return original, TelegramOutcome.EDIT_APPLIED
        if original is not None:
            if not message.text:
                return None, TelegramOutcome.IGNORED
            payload["edit_of"] = original.pk
            external_id = f"{message.external_id}:edit:{message.update_id}"
        else:
            external_id = message.external_id
    else:
        external_id = message.external_id
    queued, created = intake_receive(
        source=TELEGRAM,
        external_id=external_id,
        text=message.text,
        point=message.point,
        payload=payload,
    )
    return queued, TelegramOutcome.QUEUED if created else TelegramOutcome.ALREADY_QUEUED


def telegram_reply_text(appeal: Appeal) -> str:
    return f"Your appeal is registered under number {appeal.number}."


def intake_reply_send(*, intake_id: int) -> str:
    """Tell a Telegram sender their appeal's number, once per success (the reply job's body).

    The message row is locked while sending, so two workers never both send; a crash between
    Telegram's answer and the commit sends it again (at least once, as with claims). A refusal
    that retrying cannot cure (the bot blocked, the chat gone) is recorded and not retried.
    """
    with transaction.atomic():
        message = (
            IntakeMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("appeal")
            .filter(pk=intake_id)
            .first()
        )
        if message is None:
            return "missing or being sent"
        if message.replied_at is not None:
            return "already sent"
        if message.appeal is None or message.payload.get("chat_id") is None:
            return "nothing to reply to"
        try:
            send_message(
                chat_id=message.payload["chat_id"],
                text=telegram_reply_text(message.appeal),
                reply_to=message.payload.get("message_id"),
            )
        except TelegramError as exc:
            if not exc.permanent:
                raise
            message.payload = {**message.payload, "reply_error": str(exc)}
            message.save(update_fields=["payload"])
            return f"failed: {exc}"
        message.replied_at = timezone.now()
        message.save(update_fields=["replied_at"])
    return "sent"


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
        raise ApplicationError(
            _("A week is YYYY-Www (e.g. 2026-W05), not %(week)s.") % {"week": repr(week)}
        )
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ApplicationError(_("%(week)s is not a week of its year.") % {"week": week}) from None
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
