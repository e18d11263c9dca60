"""Who may take which action on a permit, from which status; the lock and history row of each.

A contractor reaches only its own permits (the registry's ``queryset_for``), so another
contractor's permit is a 404 here as everywhere.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from gis.exceptions import Conflict, Forbidden, NotFound, Unauthorized
from gis.roles import Role, Viewer
from orders.permits.models import Permit, PermitHistory
from orders.permits.selectors import ACTIVE, permits_visible


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"


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
