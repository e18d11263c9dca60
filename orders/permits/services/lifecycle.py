"""After the issue: works begin, the deadline moves, the site is restored, the permit closes.

Or it is cancelled. Each move locks the permit and records a history row (``actions``).
"""

from __future__ import annotations

from datetime import date

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status as http

from gis.exceptions import ApplicationError, BadInput, Conflict, NotFound
from gis.roles import Viewer
from orders.permits.models import Extension, Permit, RestorationAct, RestorationDocument
from orders.permits.selectors import local_today
from orders.permits.services.actions import Action, _locked, _record, allowed_actions
from orders.permits.services.issuing import MAX_DIG
from orders.permits.uploads import (
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_FILES,
    display_name,
    stored_name,
    upload_check,
)


class TooLarge(ApplicationError):
    status = http.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "too_large"


S = Permit.Status


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
