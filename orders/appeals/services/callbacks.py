"""The call-back queue: an operator's call records its outcome and moves the appeal by it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gis.exceptions import ApplicationError, Conflict, NotFound
from gis.models import User
from orders.appeals.models import Appeal, Callback
from orders.appeals.services.history import _history
from orders.appeals.services.transitions import _locked, _move, _operator

S = Appeal.Status

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
