"""The history row every write on an appeal leaves: who, when, from → to, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gis.models import User
from orders.appeals.models import Appeal, AppealHistory
from orders.appeals.selectors import HISTORY_WRITTEN


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
