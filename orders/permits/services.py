"""Writes on permits and claims: the permit lifecycle, the overrun sweep, sending a claim.

Every write runs in ``transaction.atomic``, locks the permit row it changes (``FOR UPDATE``) and
records a ``PermitHistory`` row. A contractor reaches only its own permits (the registry's
``queryset_for``), so another contractor's permit is a 404 here as everywhere.

Claims are exactly once by construction, not by care:

* the sweep is one statement: it locks the overrun permits it will claim (``FOR UPDATE SKIP
  LOCKED``: a permit being closed right now is skipped, and the close, once committed, wins),
  inserts the missing (permit, deadline, recipient kind) claims with ``ON CONFLICT DO NOTHING``
  on the unique constraint, and defers send jobs for exactly the *inserted* rows (``SEND_BATCH``
  claims a job) through procrastinate's own SQL function, all in the caller's transaction: the
  claim rows and their jobs commit or roll back together, and two sweeps racing cannot both
  insert a claim, so cannot both defer it;
* sending locks the claim row, skips a claim already sent, and marks it sent in the same
  transaction that sent it (see ``claim_send`` for the one window that remains).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import make_msgid
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Polygon
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext as _
from psycopg import sql
from pyproj import Geod
from rest_framework import status as http

from gis.exceptions import ApplicationError, BadInput, Conflict, Forbidden, NotFound, Unauthorized
from gis.roles import Role, Viewer
from layers.models import Organisation
from layers.selectors import city_check
from orders.permits.models import (
    Claim,
    Extension,
    Permit,
    PermitHistory,
    RestorationAct,
    RestorationDocument,
)
from orders.permits.selectors import (
    ACTIVE,
    BLOCK,
    DigConflict,
    PoliceNotConfigured,
    local_today,
    permit_conflicts,
    permit_linked_objects,
    permits_visible,
    police_organisation,
)
from orders.permits.uploads import (
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_FILES,
    display_name,
    stored_name,
    upload_check,
)

logger = logging.getLogger(__name__)
WGS84 = Geod(ellps="WGS84")

# The procrastinate task that sends claims (orders/permits/tasks.py registers it by name), and
# how many claims one of its jobs carries: one job per claim costs procrastinate two NOTIFYs and
# an event row each, which at 20,000 claims is most of the sweep's time (bench/sweep.sh). Each
# claim is still sent, locked and marked on its own (``claim_send``).
CLAIMS_QUEUE = "claims"
SEND_CLAIM_TASK = "permits.send_claims"
SEND_BATCH = 50
# A claim whose jobs all ended without sending it is deferred again after this long.
REDELIVER_AFTER = timedelta(minutes=15)

MAX_AREA_M2 = 50_000.0  # 5 ha: a dig site, not a district
# The calendar of a dig permit: registered within a year of its issue, started within a year of
# it, restored within two years of the start (an extension too). Beyond, a date is a typo.
MAX_ISSUED_AGO = timedelta(days=366)
MAX_START_FROM_ISSUE = timedelta(days=366)
MAX_DIG = timedelta(days=731)
MAX_AREA_VERTICES = 1_000
# Two issuances that overlap must not both pass the conflict check: they queue on this lock.
ISSUE_LOCK_KEY = 0x7065726D  # "perm"
REDELIVER_LOCK_KEY = 0x636C6D73  # "clms"


class TooLarge(ApplicationError):
    status = http.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "too_large"


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"


class BlockingConflicts(Conflict):
    code = "dig_conflict"


class ClaimDeliveryError(Exception):
    """A claim could not be sent; the worker retries the job."""


# --- who may do what, from which status ---------------------------------------------------------


class Action(StrEnum):
    UPDATE = "update"
    START = "start"
    REQUEST_EXTENSION = "request_extension"
    EXTEND = "extend"
    REFUSE_EXTENSION = "refuse_extension"
    RESTORATION = "restoration"
    CLOSE = "close"
    CANCEL = "cancel"


S = Permit.Status
ACTION_FROM: dict[Action, frozenset[str]] = {
    Action.UPDATE: frozenset(ACTIVE),
    Action.START: frozenset({S.ISSUED}),
    Action.REQUEST_EXTENSION: frozenset(ACTIVE),
    Action.EXTEND: frozenset(ACTIVE),
    Action.REFUSE_EXTENSION: frozenset(ACTIVE),
    Action.RESTORATION: frozenset({S.IN_PROGRESS}),
    Action.CLOSE: frozenset({S.IN_PROGRESS}),
    Action.CANCEL: frozenset(ACTIVE),
}
CONTRACTOR_ACTIONS = frozenset(
    {Action.START, Action.REQUEST_EXTENSION, Action.RESTORATION, Action.CLOSE}
)


def may(viewer: Viewer, action: Action | str) -> bool:
    """Operators do everything; a contractor starts, asks to extend and closes; planners read."""
    if viewer.role == Role.OPERATOR:
        return True
    return viewer.role == Role.CONTRACTOR and action in CONTRACTOR_ACTIONS


def allowed_actions(permit: Permit, viewer: Viewer) -> list[str]:
    """The actions this viewer may take on the permit in its current status."""
    return [
        str(a)
        for a, statuses in ACTION_FROM.items()
        if permit.status in statuses and may(viewer, a)
    ]


def _require_role(viewer: Viewer, action: str) -> None:
    if viewer.is_public:
        raise Unauthorized(_("Permits need an authenticated operator or contractor."))
    if viewer.role == Role.OPERATOR or (
        viewer.role == Role.CONTRACTOR and action in CONTRACTOR_ACTIONS
    ):
        return
    who = "the public" if viewer.is_public else f"a {viewer.role}"
    raise Forbidden(
        _("%(capitalize)s may not %(replace)s a permit.")
        % {"capitalize": who.capitalize(), "replace": action.replace("_", " ")}
    )


def _locked(viewer: Viewer, permit_id: int, action: Action) -> Permit:
    """The permit, row-locked until the transaction ends; 403/404/409 as the case may be."""
    _require_role(viewer, action)
    permit = (
        permits_visible(viewer=viewer).select_for_update(of=("self",)).filter(pk=permit_id).first()
    )
    if permit is None:
        raise NotFound(_("No permit %(permit_id)s.") % {"permit_id": permit_id})
    if permit.status not in ACTION_FROM[action]:
        allowed = allowed_actions(permit, viewer)
        raise TransitionNotAllowed(
            _("A permit that is %(lower)s cannot %(replace)s; allowed now: %(value)s.")
            % {
                "lower": permit.get_status_display().lower(),
                "replace": action.replace("_", " "),
                "value": ", ".join(allowed) or "nothing",
            },
            extra={"status": permit.status, "allowed": allowed},
        )
    return permit


def _by_label(viewer: Viewer) -> str:
    return str(viewer.role) if viewer.user_id else "system"


def _record(
    permit: Permit,
    viewer: Viewer,
    action: str,
    *,
    before: str = "",
    comment: str = "",
    data: dict[str, Any] | None = None,
) -> PermitHistory:
    return PermitHistory.objects.create(
        permit=permit,
        at=timezone.now(),
        by_id=viewer.user_id,
        by_label=_by_label(viewer),
        action=action,
        from_status=before,
        to_status=permit.status,
        comment=comment,
        data=data or {},
    )


# --- input ------------------------------------------------------------------------------------


def work_area_from_geojson(data: Any) -> Polygon:
    """A work area from a GeoJSON Polygon (or a Feature of one); 400 with the reason otherwise."""
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict) or data.get("type") != "Polygon":
        raise BadInput(
            _("The work area must be a GeoJSON Polygon."),
            extra={"fields": {"geom": ["A GeoJSON Polygon in lon/lat."]}},
        )
    try:
        geom = GEOSGeometry(json.dumps(data))
    except (GEOSException, GDALException, ValueError, TypeError) as exc:
        raise BadInput(
            _("The work area is not readable GeoJSON: %(exc)s") % {"exc": exc},
            extra={"fields": {"geom": ["Not readable GeoJSON."]}},
        ) from None
    geom.srid = 4326  # RFC 7946: GeoJSON is WGS 84 lon/lat
    _check_area(geom)
    return geom


def _check_area(geom: GEOSGeometry) -> None:
    def bad(message: str) -> BadInput:
        return BadInput(message, extra={"fields": {"geom": [message]}})

    if not isinstance(geom, Polygon) or geom.empty:
        raise bad(_("The work area must be a non-empty Polygon."))
    if geom.hasz:
        raise bad(_("The work area must be 2D: lon/lat pairs, no heights."))
    if geom.num_coords > MAX_AREA_VERTICES:
        raise bad(
            _("The work area has %(num_coords)s vertices; at most %(max_area_vertices)s.")
            % {"num_coords": geom.num_coords, "max_area_vertices": MAX_AREA_VERTICES}
        )
    xmin, ymin, xmax, ymax = geom.extent
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise bad(_("Coordinates must be lon/lat (EPSG:4326), as GeoJSON requires."))
    if not geom.valid:
        raise bad(
            _("The work area is not a valid polygon: %(valid_reason)s.")
            % {"valid_reason": geom.valid_reason}
        )
    area, _perimeter = WGS84.polygon_area_perimeter(*zip(*geom.exterior_ring.coords, strict=True))
    area = abs(area)
    if area <= 0:
        raise bad(_("The work area has no area."))
    if area > MAX_AREA_M2:
        raise bad(
            _("The work area is %(area)s m²; a permit covers at most %(max_area_m2)s m².")
            % {"area": format(area, ",.0f"), "max_area_m2": format(MAX_AREA_M2, ",.0f")}
        )
    city_check(geom, field="geom", what="The work area")


def _check_blocking(conflicts: list[DigConflict], override: str) -> None:
    blocking = [c for c in conflicts if c.level == BLOCK]
    if blocking and not override.strip():
        raise BlockingConflicts(
            f"{len(blocking)} blocking conflict(s): "
            + " ".join(c.message for c in blocking)
            + " An operator must give conflict_override (why it is safe) to go ahead.",
            extra={"conflicts": [c.as_dict() for c in conflicts]},
        )


def _next_number(sequence: str, prefix: str, today: date) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [sequence])
        (value,) = cursor.fetchone()
    return f"{prefix}-{today.year}-{value:06d}"


# --- the lifecycle ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueResult:
    permit: Permit
    conflicts: list[DigConflict]


DIGGER_KINDS = (Organisation.Kind.CONTRACTOR, Organisation.Kind.SERVICE)


@transaction.atomic
def permit_issue(
    *,
    viewer: Viewer,
    contractor_id: int,
    responsible_person: str,
    purpose: str,
    geom: Polygon,
    planned_start: date,
    deadline: date,
    responsible_phone: str = "",
    network_kind: str = "",
    address: str = "",
    issued_on: date | None = None,
    conflict_override: str = "",
    number: str | None = None,
) -> IssueResult:
    """Issue a permit (operators): conflicts checked, blocking ones need ``conflict_override``."""
    if viewer.is_public:
        raise Unauthorized(_("Permits need an authenticated operator."))
    if viewer.role != Role.OPERATOR:
        raise Forbidden(_("Only an operator issues permits."))
    today = local_today()
    issued_on = issued_on or today
    contractor = Organisation.objects.filter(pk=contractor_id, kind__in=DIGGER_KINDS).first()
    if contractor is None:
        raise BadInput(
            _("No contractor or service organisation %(contractor_id)s.")
            % {"contractor_id": contractor_id},
            extra={"fields": {"contractor": ["Unknown contractor."]}},
        )
    _check_dates(issued_on=issued_on, planned_start=planned_start, deadline=deadline, today=today)
    _check_area(geom)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ISSUE_LOCK_KEY])
    conflicts = permit_conflicts(geom=geom, today=today)
    _check_blocking(conflicts, conflict_override)
    permit = Permit(
        number=number or _next_number("permits_permit_number_seq", "EP", issued_on),
        contractor=contractor,
        responsible_person=responsible_person,
        responsible_phone=responsible_phone,
        purpose=purpose,
        network_kind=network_kind,
        address=address,
        geom=geom,
        linked_objects=permit_linked_objects(geom=geom),
        issued_on=issued_on,
        planned_start=planned_start,
        deadline=deadline,
        conflict_override=conflict_override.strip(),
    )
    permit.full_clean()
    permit.save()
    _record(
        permit,
        viewer,
        "issued",
        comment=permit.conflict_override,
        data={"conflicts": [_conflict_summary(c) for c in conflicts]},
    )
    return IssueResult(permit=permit, conflicts=conflicts)


def _conflict_summary(conflict: DigConflict) -> dict[str, Any]:
    return {
        "kind": conflict.kind,
        "level": conflict.level,
        "layer": conflict.layer,
        "id": conflict.id,
    }


def _check_dates(*, issued_on: date, planned_start: date, deadline: date, today: date) -> None:
    """400 with each field's reason unless the dates make a dig permit, as of ``today``.

    Bounded, not only ordered: a permit "issued" in year 0001 would be 740,000 days overdue the
    moment it is saved, and the sweep would send two formal claims for it at once.
    """
    errors: dict[str, list[str]] = {}
    if issued_on > today:
        errors["issued_on"] = ["A permit cannot be issued in the future."]
    elif issued_on < today - MAX_ISSUED_AGO:
        errors["issued_on"] = [f"Issued more than {MAX_ISSUED_AGO.days} days ago: a typo?"]
    if abs(planned_start - issued_on) > MAX_START_FROM_ISSUE:
        errors["planned_start"] = [
            f"More than {MAX_START_FROM_ISSUE.days} days from the issue date: a typo?"
        ]
    if deadline < planned_start:
        errors["deadline"] = ["The deadline is before the planned start."]
    elif deadline < issued_on:
        errors["deadline"] = ["The deadline is before the permit is issued."]
    elif deadline - planned_start > MAX_DIG:
        errors["deadline"] = [f"More than {MAX_DIG.days} days after the planned start: a typo?"]
    if errors:
        raise BadInput(" ".join(m for ms in errors.values() for m in ms), extra={"fields": errors})


def _check_start(permit: Permit) -> None:
    """A moved planned start stays near the issue date and before the deadline."""
    message = ""
    if abs(permit.planned_start - permit.issued_on) > MAX_START_FROM_ISSUE:
        message = f"More than {MAX_START_FROM_ISSUE.days} days from the issue date: a typo?"
    elif permit.planned_start > permit.deadline:
        message = "The planned start is after the deadline."
    if message:
        raise BadInput(message, extra={"fields": {"planned_start": [message]}})


UPDATABLE = (
    "purpose",
    "address",
    "responsible_person",
    "responsible_phone",
    "network_kind",
    "planned_start",
)


@transaction.atomic
def permit_update(
    *,
    viewer: Viewer,
    permit_id: int,
    changes: dict[str, Any],
    geom: Polygon | None = None,
    conflict_override: str = "",
) -> IssueResult:
    """Change a permit's details or work area (operators); a new area is checked again."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise BadInput(_("Cannot change %(join)s here.") % {"join": ", ".join(sorted(unknown))})
    permit = _locked(viewer, permit_id, Action.UPDATE)
    diff = {
        name: [_jsonable(getattr(permit, name)), _jsonable(value)]
        for name, value in changes.items()
        if getattr(permit, name) != value
    }
    for name, value in changes.items():
        setattr(permit, name, value)
    if "planned_start" in changes:
        _check_start(permit)
    conflicts: list[DigConflict] = []
    if geom is not None and not geom.equals_exact(permit.geom, tolerance=0):
        _check_area(geom)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ISSUE_LOCK_KEY])
        conflicts = permit_conflicts(geom=geom, today=local_today(), exclude_permit_id=permit.pk)
        _check_blocking(conflicts, conflict_override)
        diff["geom"] = [json.loads(permit.geom.geojson), json.loads(geom.geojson)]
        permit.geom = geom
        permit.linked_objects = permit_linked_objects(geom=geom)
        if conflict_override.strip():
            permit.conflict_override = conflict_override.strip()
    if not diff:
        return IssueResult(permit=permit, conflicts=conflicts)
    permit.full_clean()
    permit.save()
    _record(
        permit,
        viewer,
        "area_changed" if "geom" in diff else "updated",
        before=permit.status,
        comment=conflict_override.strip() if "geom" in diff else "",
        data={
            "changes": diff,
            **({"conflicts": [_conflict_summary(c) for c in conflicts]} if "geom" in diff else {}),
        },
    )
    return IssueResult(permit=permit, conflicts=conflicts)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@transaction.atomic
def permit_start(*, viewer: Viewer, permit_id: int, comment: str = "") -> Permit:
    """Works begin: issued → in progress (the contractor, or an operator)."""
    permit = _locked(viewer, permit_id, Action.START)
    before = permit.status
    permit.status = S.IN_PROGRESS
    permit.save(update_fields=["status", "updated_at"])
    _record(permit, viewer, "started", before=before, comment=comment)
    return permit


def _check_new_deadline(permit: Permit, new_deadline: date) -> None:
    today = local_today()
    if new_deadline <= permit.deadline:
        message = f"The new deadline must be after the current one ({permit.deadline.isoformat()})."
    elif new_deadline < today:
        message = "The new deadline is in the past."
    elif new_deadline - max(permit.deadline, today) > MAX_DIG:
        message = f"More than {MAX_DIG.days} days after the current deadline: a typo?"
    else:
        return
    raise BadInput(message, extra={"fields": {"new_deadline": [message]}})


def _require_text(value: str, name: str) -> str:
    value = (value or "").strip()
    if not value:
        raise BadInput(
            _("Give the %(name)s.") % {"name": name},
            extra={"fields": {name: ["This field is required."]}},
        )
    return value


@transaction.atomic
def permit_extension_request(
    *, viewer: Viewer, permit_id: int, new_deadline: date, reason: str
) -> Extension:
    """The contractor asks for more time; an operator approves (``permit_extend``) or refuses."""
    permit = _locked(viewer, permit_id, Action.REQUEST_EXTENSION)
    reason = _require_text(reason, "reason")
    _check_new_deadline(permit, new_deadline)
    if permit.extensions.filter(status="requested").exists():
        raise Conflict(
            _("An extension request is already waiting for an operator."),
            extra={"status": permit.status, "allowed": allowed_actions(permit, viewer)},
        )
    extension = Extension.objects.create(
        permit=permit,
        old_deadline=permit.deadline,
        new_deadline=new_deadline,
        reason=reason,
        requested_by_id=viewer.user_id,
    )
    _record(
        permit,
        viewer,
        "extension_requested",
        before=permit.status,
        comment=reason,
        data={"extension": extension.pk, "new_deadline": new_deadline.isoformat()},
    )
    return extension


@transaction.atomic
def permit_extend(
    *,
    viewer: Viewer,
    permit_id: int,
    new_deadline: date | None = None,
    reason: str = "",
    extension_id: int | None = None,
) -> Extension:
    """Move the deadline (operators), directly or by approving a contractor's request.

    The old deadline stays on record (the extension and the history row); the claims already
    made for it stay too, and if the new deadline passes as well, the sweep makes a new pair.
    """
    permit = _locked(viewer, permit_id, Action.EXTEND)
    if extension_id is not None:
        extension = permit.extensions.filter(pk=extension_id).first()
        if extension is None:
            raise NotFound(
                _("No extension request %(extension_id)s for permit %(number)s.")
                % {"extension_id": extension_id, "number": permit.number}
            )
        if extension.status != "requested":
            raise Conflict(
                _("Extension request %(extension_id)s is already %(status)s.")
                % {"extension_id": extension_id, "status": extension.status}
            )
        new_deadline = new_deadline or extension.new_deadline
        reason = reason.strip() or extension.reason
    else:
        extension = Extension(permit=permit, requested_by_id=viewer.user_id)
        reason = _require_text(reason, "reason")
    if new_deadline is None:
        raise BadInput(
            _("Give the new deadline."),
            extra={"fields": {"new_deadline": ["This field is required."]}},
        )
    _check_new_deadline(permit, new_deadline)
    old = permit.deadline
    extension.old_deadline = old
    extension.new_deadline = new_deadline
    extension.reason = reason
    extension.status = "approved"
    extension.approved_by_id = viewer.user_id
    extension.decided_at = timezone.now()
    extension.full_clean()
    extension.save()
    permit.deadline = new_deadline
    permit.full_clean()
    permit.save(update_fields=["deadline", "updated_at"])
    _record(
        permit,
        viewer,
        "extended",
        before=permit.status,
        comment=reason,
        data={
            "extension": extension.pk,
            "old_deadline": old.isoformat(),
            "new_deadline": new_deadline.isoformat(),
        },
    )
    return extension


@transaction.atomic
def permit_extension_refuse(
    *, viewer: Viewer, permit_id: int, extension_id: int, reason: str
) -> Extension:
    permit = _locked(viewer, permit_id, Action.REFUSE_EXTENSION)
    reason = _require_text(reason, "reason")
    extension = permit.extensions.filter(pk=extension_id).first()
    if extension is None:
        raise NotFound(
            _("No extension request %(extension_id)s for permit %(number)s.")
            % {"extension_id": extension_id, "number": permit.number}
        )
    if extension.status != "requested":
        raise Conflict(
            _("Extension request %(extension_id)s is already %(status)s.")
            % {"extension_id": extension_id, "status": extension.status}
        )
    extension.status = "refused"
    extension.approved_by_id = viewer.user_id
    extension.decided_at = timezone.now()
    extension.save(update_fields=["status", "approved_by", "decided_at"])
    _record(
        permit,
        viewer,
        "extension_refused",
        before=permit.status,
        comment=reason,
        data={"extension": extension.pk},
    )
    return extension


def upload_size_check(upload: UploadedFile) -> None:
    """413 naming the file when it is over ``MAX_UPLOAD_BYTES``."""
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        name = display_name(upload.name)
        raise TooLarge(
            _("%(name)s is %(size)s bytes; a file may have at most %(max_upload_bytes)s.")
            % {
                "name": name,
                "size": format(upload.size, ","),
                "max_upload_bytes": format(MAX_UPLOAD_BYTES, ","),
            },
            extra={"fields": {"files": [f"{name}: too large."]}},
        )


@transaction.atomic
def permit_restoration_add(
    *,
    viewer: Viewer,
    permit_id: int,
    restored_on: date,
    text: str,
    files: list[UploadedFile],
) -> RestorationAct:
    """The restoration act (date, text) and its photos or documents; sent again, it adds files."""
    permit = _locked(viewer, permit_id, Action.RESTORATION)
    text = _require_text(text, "text")
    if restored_on > local_today():
        raise BadInput(
            _("The site cannot be restored in the future."),
            extra={"fields": {"restored_on": ["In the future."]}},
        )
    if restored_on < permit.issued_on:
        raise BadInput(
            _("The site cannot be restored before the permit was issued."),
            extra={"fields": {"restored_on": ["Before the permit was issued."]}},
        )
    if len(files) > MAX_UPLOAD_FILES:
        raise BadInput(
            _("At most %(max_upload_files)s files at once.")
            % {"max_upload_files": MAX_UPLOAD_FILES}
        )
    for upload in files:
        upload_size_check(upload)
    checked = [upload_check(f) for f in files]
    act = RestorationAct.objects.filter(permit=permit).first()
    if act is None and not files:
        raise BadInput(
            _("A restoration act needs at least one photo or document."),
            extra={"fields": {"files": ["At least one file."]}},
        )
    if act is None:
        act = RestorationAct(permit=permit, created_by_id=viewer.user_id)
    act.restored_on = restored_on
    act.text = text
    act.full_clean(exclude=["permit"])
    act.save()
    for upload, check in zip(files, checked, strict=True):
        document = RestorationDocument(
            act=act,
            kind=check.kind,
            content_type=check.content_type,
            original_name=display_name(upload.name),
        )
        document.file.save(stored_name(check), upload, save=False)
        document.save()
    _record(
        permit,
        viewer,
        "restoration_act",
        before=permit.status,
        comment=text,
        data={
            "restored_on": restored_on.isoformat(),
            "files": [display_name(f.name) for f in files],
        },
    )
    return act


@transaction.atomic
def permit_close(*, viewer: Viewer, permit_id: int, comment: str = "") -> Permit:
    """The site is restored: in progress → closed, only with a restoration act and a file."""
    permit = _locked(viewer, permit_id, Action.CLOSE)
    act = RestorationAct.objects.filter(permit=permit).first()
    if act is None or not act.documents.exists():
        raise Conflict(
            _(
                "A permit closes only with a restoration act: date, text and at least "
                "one photo or document (POST …/restoration)."
            ),
            extra={"status": permit.status, "allowed": allowed_actions(permit, viewer)},
        )
    before = permit.status
    permit.status = S.CLOSED
    permit.closed_at = timezone.now()
    permit.save(update_fields=["status", "closed_at", "updated_at"])
    _record(permit, viewer, "closed", before=before, comment=comment, data={"act": act.pk})
    return permit


@transaction.atomic
def permit_cancel(*, viewer: Viewer, permit_id: int, reason: str) -> Permit:
    """Withdraw a permit (operators): issued or in progress → cancelled."""
    permit = _locked(viewer, permit_id, Action.CANCEL)
    reason = _require_text(reason, "reason")
    before = permit.status
    permit.status = S.CANCELLED
    permit.closed_at = timezone.now()
    permit.save(update_fields=["status", "closed_at", "updated_at"])
    _record(permit, viewer, "cancelled", before=before, comment=reason)
    return permit


# --- the overrun sweep ------------------------------------------------------------------------


def _tables() -> dict[str, sql.Identifier]:
    return {
        "permit": sql.Identifier(Permit._meta.db_table),
        "claim": sql.Identifier(Claim._meta.db_table),
        "org": sql.Identifier(Organisation._meta.db_table),
    }


# The permits that owe a claim now: open, their deadline's day over, and a claim missing for
# one of the recipients. Shared by the sweep (which locks them) and its dry run (which does not).
_DUE = """
    SELECT p.id, p.deadline, p.contractor_id
      FROM {permit} p
     WHERE p.status IN ('issued', 'in_progress')
       AND p.deadline < %(today)s
       AND (NOT EXISTS (SELECT 1 FROM {claim} c WHERE c.permit_id = p.id
                          AND c.deadline = p.deadline AND c.recipient_kind = 'contractor')
            OR (%(police)s::bigint IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM {claim} c WHERE c.permit_id = p.id
                                  AND c.deadline = p.deadline AND c.recipient_kind = 'police')))
"""
_WANTED = """
    SELECT d.id AS permit_id, d.deadline, r.kind, r.org
      FROM due d
     CROSS JOIN LATERAL (VALUES ('contractor', d.contractor_id), ('police', %(police)s::bigint))
           AS r (kind, org)
     WHERE r.org IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM {claim} c WHERE c.permit_id = d.id
                         AND c.deadline = d.deadline AND c.recipient_kind = r.kind)
"""
# Send jobs for the claim ids of a CTE named ``claims``: one per ``SEND_BATCH`` of them, deferred
# with procrastinate's own SQL function in this statement, so in the caller's transaction.
_DEFER_JOBS = """
    SELECT (SELECT count(*) FROM claims),
           coalesce(cardinality(procrastinate_defer_jobs_v1(ARRAY(
               SELECT ROW(%(queue)s, %(task)s, 0, NULL, NULL,
                          jsonb_build_object('claim_ids', jsonb_agg(id ORDER BY id)),
                          NULL)::procrastinate_job_to_defer_v1
                 FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / %(batch)s AS batch
                         FROM claims) numbered
                GROUP BY batch ORDER BY batch))), 0)
"""
# One statement: lock the due permits (skipping any another transaction holds: a close in
# flight wins, a racing sweep has them), insert the claims the unique constraint lets through,
# and defer the send jobs of exactly the inserted rows, in the caller's transaction.
SWEEP_SQL = sql.SQL(
    "WITH due AS (" + _DUE + " FOR UPDATE OF p SKIP LOCKED),"
    " wanted AS (" + _WANTED + "),"
    """ claims AS (
        INSERT INTO {claim} (number, permit_id, deadline, recipient_kind, recipient_id, email,
                             days_overdue, document, delivery, attempts, last_error, message_id,
                             created_at)
        SELECT 'CL-' || %(year)s || '-' || lpad(nextval('permits_claim_number_seq')::text, 6, '0'),
               w.permit_id, w.deadline, w.kind, w.org, o.email, %(today)s - w.deadline, '',
               'pending', 0, '', '', %(now)s
          FROM (SELECT * FROM wanted ORDER BY permit_id, kind) w
          JOIN {org} o ON o.id = w.org
        ON CONFLICT (permit_id, deadline, recipient_kind) DO NOTHING
        RETURNING id
    )""" + _DEFER_JOBS
).format(**_tables())
DRY_RUN_SQL = sql.SQL(
    "WITH due AS (" + _DUE + "), wanted AS (" + _WANTED + ") SELECT count(*), 0 FROM wanted"
).format(**_tables())


@dataclass(frozen=True, slots=True)
class SweepResult:
    created: int
    """claims made"""
    deferred: int
    """send jobs deferred for them (one per ``SEND_BATCH`` claims)"""
    today: date
    police_error: str = ""
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        line = f"send_overdue_claims: {verb} {self.created} claim(s)"
        if not self.dry_run:
            line += f", deferred {self.deferred} send job(s)"
        line += f" for deadlines before {self.today.isoformat()}"
        if self.police_error:
            line += f"; no police claims: {self.police_error}"
        return line


def claims_create_overdue(*, now: datetime, dry_run: bool = False) -> SweepResult:
    """Make the missing claims of every overrun permit, with their send jobs, exactly once.

    A deadline passes at the end of its day in ``settings.TIME_ZONE``. Without a police
    organisation (or with several and no ``POLICE_ORGANISATION``) the contractor claims are
    still made and the police ones are logged as an error: a later sweep makes them once the
    organisation is configured.
    """
    today = local_today(now)
    police_error = ""
    try:
        police_id: int | None = police_organisation().pk
    except PoliceNotConfigured as exc:
        police_id, police_error = None, exc.message
        logger.error("claims: no police claims made: %s", exc.message)
    params = {
        "today": today,
        "now": now,
        "year": str(today.year),
        "police": police_id,
        "queue": CLAIMS_QUEUE,
        "task": SEND_CLAIM_TASK,
        "batch": SEND_BATCH,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute((DRY_RUN_SQL if dry_run else SWEEP_SQL).as_string(), params)
        created, deferred = cursor.fetchone()
    if created:
        logger.info("claims: %d created, %d send jobs deferred", created, deferred)
    return SweepResult(created, deferred, today, police_error, dry_run)


REDELIVER_SQL = sql.SQL(
    """
    WITH live AS (  -- the claims a waiting or running job will send
        SELECT DISTINCT jsonb_array_elements(j.args -> 'claim_ids')::bigint AS id
          FROM procrastinate_jobs j
         WHERE j.task_name = %(task)s AND j.status IN ('todo', 'doing')
    ), claims AS (
        SELECT c.id FROM {claim} c
         WHERE c.delivery <> 'sent'
           AND (c.last_attempt_at IS NULL OR c.last_attempt_at < %(before)s)
           AND c.created_at < %(before)s
           AND (%(ids)s::bigint[] IS NULL OR c.id = ANY(%(ids)s::bigint[]))
           AND c.id NOT IN (SELECT id FROM live)
    )"""
    + _DEFER_JOBS
).format(**_tables())


def claims_redeliver(*, now: datetime) -> int:
    """Defer a send job again for every unsent claim none is waiting for or running.

    The claims table is the outbox: a claim is done only when it is marked sent. Jobs that gave
    up after their retries, or were lost, leave a claim unsent and jobless; it is picked up here
    (every ``REDELIVER_AFTER`` at most), so a failed delivery is retried, never dropped.
    """
    count = _redeliver(before=now - REDELIVER_AFTER, ids=None)
    if count:
        logger.warning("claims: %d unsent claim(s) deferred again", count)
    return count


def claims_redeliver_now(*, claim_ids: list[int], now: datetime) -> int:
    """Send these claims again now (the admin's action): the unsent ones no job is sending."""
    return _redeliver(before=now + timedelta(seconds=1), ids=claim_ids)


def _redeliver(*, before: datetime, ids: list[int] | None) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        # One redelivery at a time: two would both see a claim jobless and both defer it.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REDELIVER_LOCK_KEY])
        cursor.execute(
            REDELIVER_SQL.as_string(),
            {
                "before": before,
                "ids": ids,
                "queue": CLAIMS_QUEUE,
                "task": SEND_CLAIM_TASK,
                "batch": SEND_BATCH,
            },
        )
        count, _ = cursor.fetchone()
    return count


# --- sending one claim ------------------------------------------------------------------------


class SendOutcome(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    BUSY = "busy"
    MISSING = "missing"


def claim_send(*, claim_id: int) -> SendOutcome:
    """Send one claim by e-mail with its PDF, at most once per success.

    1. A short transaction records the attempt (``attempts``, ``last_attempt_at``) and fixes the
       claim's ``Message-ID`` once, so every retry sends the very same message. A claim another
       worker is sending (row locked) is left to it; one already sent is skipped.
    2. A second transaction locks the claim row, checks it again, sends, and marks it sent, so
       two workers can never both send it. A failure is recorded (``delivery=failed``,
       ``last_error``) and re-raised: procrastinate retries the job.

    The one window left is between the mail server accepting the message and this transaction
    committing (a crash there resends it). No protocol closes it with SMTP; the resend carries
    the same Message-ID, which mail systems and the recipient can de-duplicate on. Marking the
    claim sent *before* sending would close it the other way and could lose a claim, which the
    city cannot afford: at-least-once with a stable Message-ID is the deliberate choice.
    """
    now = timezone.now()
    with transaction.atomic():
        claim = Claim.objects.select_for_update(skip_locked=True).filter(pk=claim_id).first()
        if claim is None:
            exists = Claim.objects.filter(pk=claim_id).exists()
            return SendOutcome.BUSY if exists else SendOutcome.MISSING
        if claim.delivery == Claim.Delivery.SENT:
            return SendOutcome.ALREADY_SENT
        claim.attempts += 1
        claim.last_attempt_at = now
        if not claim.message_id:
            claim.message_id = make_msgid(idstring=claim.number, domain=str(DNS_NAME))
        claim.save(update_fields=["attempts", "last_attempt_at", "message_id"])

    error = ""
    with transaction.atomic():
        claim = (
            Claim.objects.select_for_update(of=("self",))
            .select_related("permit__contractor", "recipient")
            .get(pk=claim_id)
        )
        if claim.delivery == Claim.Delivery.SENT:
            return SendOutcome.ALREADY_SENT
        try:
            with transaction.atomic():
                address = claim.recipient.email or claim.email
                if not address:
                    raise ClaimDeliveryError(
                        _(
                            "%(name)s has no e-mail address: add one (admin, Organisations); the "
                            "claim is retried"
                        )
                        % {"name": claim.recipient.name}
                    )
                claim_email(claim, to=address).send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, then retried
            error = f"{type(exc).__name__}: {exc}"[:2000]
            claim.delivery = Claim.Delivery.FAILED
            claim.last_error = error
            claim.save(update_fields=["delivery", "last_error"])
        else:
            claim.delivery = Claim.Delivery.SENT
            claim.email = address
            claim.sent_at = timezone.now()
            claim.last_error = ""
            claim.save(update_fields=["delivery", "email", "sent_at", "last_error"])
    if error:
        logger.warning(
            "claim %s: delivery failed (attempt %d): %s", claim.number, claim.attempts, error
        )
        raise ClaimDeliveryError(error)
    logger.info("claim %s sent to %s", claim.number, address)
    return SendOutcome.SENT


def claims_send(*, claim_ids: list[int]) -> dict[str, int]:
    """Send each claim of a job on its own; raise at the end if any failed, so the job retries.

    A retry sends only what is still unsent: the ones sent before are skipped by ``claim_send``.
    """
    outcomes: dict[str, int] = {}
    failed: list[str] = []
    for claim_id in claim_ids:
        try:
            outcome = str(claim_send(claim_id=claim_id))
        except ClaimDeliveryError as exc:
            outcome = "failed"
            failed.append(f"claim {claim_id}: {exc}")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if failed:
        raise ClaimDeliveryError(f"{len(failed)} of {len(claim_ids)} failed: " + "; ".join(failed))
    return outcomes


def human_date(day: date) -> str:
    """A date as a letter writes it in the active language: 3 March 2026, 3 марта 2026 г."""
    return date_format(day, "DATE_FORMAT")


def claim_document(claim: Claim) -> bytes:
    """The claim's PDF: made once and stored with the claim, then read back on every send."""
    if claim.document:
        try:
            with claim.document.open("rb") as stored:
                return stored.read()
        except FileNotFoundError:
            logger.warning("claim %s: stored PDF missing, making it again", claim.number)
    from orders.permits.claim_pdf import claim_pdf

    pdf = claim_pdf(claim=claim)
    claim.document.save(f"{claim.number}.pdf", ContentFile(pdf), save=False)
    claim.save(update_fields=["document"])
    return pdf


def claim_email(claim: Claim, *, to: str) -> EmailMessage:
    """The e-mail of a claim, its PDF attached, with the claim's fixed Message-ID.

    It speaks the claim's language (``CLAIM_LANGUAGE``), as the PDF does, whoever sends it.
    """
    with translation.override(settings.CLAIM_LANGUAGE):
        return _claim_email(claim, to=to)


def _claim_email(claim: Claim, *, to: str) -> EmailMessage:
    permit = claim.permit
    if claim.recipient_kind == Claim.Recipient.POLICE:
        ask = gettext(
            "The site is still not restored and may endanger traffic and pedestrians. We ask "
            "the traffic police to inspect it and to take the measures the law provides."
        )
    else:
        ask = gettext(
            "Restore the site without delay and send the restoration act (date, text, photos) "
            "through the permit's page, or ask for an extension with its reason."
        )
    values = {
        "claim": claim.number,
        "permit": permit.number,
        "purpose": permit.purpose,
        "where": permit.address or gettext("the site on the attached map"),
        "contractor": permit.contractor.name,
        "deadline": human_date(claim.deadline),
        "short_deadline": date_format(claim.deadline, "SHORT_DATE_FORMAT"),
        "city": settings.DEMO_CITY_NAME,
    }
    overdue = ngettext(
        "It is %(days)s day overdue.", "It is %(days)s days overdue.", claim.days_overdue
    ) % {"days": claim.days_overdue}
    body = "\n\n".join(
        [
            gettext("Claim %(claim)s") % values,
            gettext(
                "Excavation permit %(permit)s (%(purpose)s) at %(where)s, issued to "
                "%(contractor)s, had to be restored by %(deadline)s."
            )
            % values
            + " "
            + overdue,
            ask,
            gettext("The formal claim is attached as a PDF."),
            gettext("%(city)s city operations centre (citygis)") % values + "\n",
        ]
    )
    message = EmailMessage(
        subject=gettext("Claim %(claim)s: permit %(permit)s not restored by %(short_deadline)s")
        % values,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": claim.message_id, "X-Citygis-Claim": claim.number},
    )
    message.attach(f"{claim.number}.pdf", claim_document(claim), "application/pdf")
    return message
