"""An appeal's lifecycle: which moves exist and who may make each.

::

    new → assigned → in_work → done → archived          (the resident confirms the fix)
                                    ↘ reopened → in_work …   (the resident rejects it)
    new, assigned, in_work → rejected (not the city's) | duplicate (points at the original)

Operators make every move (a resident may confirm or reject by phone too). The responsible
service — an account with the contractor role bound to the appeal's organisation — takes its
appeals into work and reports them done. The resident confirms or rejects through the one-time
link sent when the appeal is done, without an account. Done also puts a call-back task in the
operators' queue (``services.callbacks.callback_record``); its outcome moves the appeal by the
same moves.
"""

from __future__ import annotations

from enum import StrEnum

from orders.appeals.models import Appeal

S = Appeal.Status

TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.NEW: (S.ASSIGNED, S.REJECTED, S.DUPLICATE),
    S.ASSIGNED: (S.IN_WORK, S.REJECTED, S.DUPLICATE),
    S.IN_WORK: (S.DONE, S.REJECTED, S.DUPLICATE),
    S.DONE: (S.ARCHIVED, S.REOPENED),
    S.REOPENED: (S.IN_WORK, S.ASSIGNED),
    S.ARCHIVED: (),
    S.REJECTED: (),
    S.DUPLICATE: (),
}

OPEN_STATUSES = Appeal.OPEN_STATUSES
"""Statuses whose SLA still runs: overdue when ``sla_due`` has passed. Red on the map."""
DONE_STATUSES = (S.DONE, S.ARCHIVED)
"""Fixed (awaiting or with the resident's confirmation). Green on the map."""
CLOSING_STATUSES = (S.DONE, S.REJECTED, S.DUPLICATE)
"""Entering one of these sets ``closed_at``; reopening clears it."""


class Actor(StrEnum):
    OPERATOR = "operator"
    SERVICE = "service"
    RESIDENT = "resident"


SERVICE_MOVES = frozenset({(S.ASSIGNED, S.IN_WORK), (S.IN_WORK, S.DONE), (S.REOPENED, S.IN_WORK)})
RESIDENT_MOVES = frozenset({(S.DONE, S.ARCHIVED), (S.DONE, S.REOPENED)})


def may_move(actor: Actor, current: str, to: str) -> bool:
    """Whether this kind of actor may make a move that exists."""
    if to not in TRANSITIONS.get(current, ()):
        return False
    if actor == Actor.OPERATOR:
        return True
    if actor == Actor.SERVICE:
        return (current, to) in SERVICE_MOVES
    return (current, to) in RESIDENT_MOVES


def allowed_moves(actor: Actor, current: str) -> list[str]:
    """The statuses this actor may move an appeal to from ``current``."""
    return [to for to in TRANSITIONS.get(current, ()) if may_move(actor, current, to)]


def who_may(current: str, to: str) -> list[str]:
    """The actors that may make a move (for the 403 that names them)."""
    return [actor.value for actor in Actor if may_move(actor, current, to)]
