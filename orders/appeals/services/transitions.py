"""Moving an appeal along its lifecycle (``orders.appeals.lifecycle``) and the resident's link.

A move locks the appeal (``select_for_update``) and writes a history row: who (a user, or
"resident", "system"), when, from → to, and why. Done opens a call-back task and mails the
resident a one-time link; leaving done closes the task, in the same move.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gis.exceptions import ApplicationError, Conflict, Forbidden, NotFound, Unauthorized
from gis.models import User
from gis.roles import Role, viewer_for
from layers.models import Organisation
from orders.appeals.lifecycle import TRANSITIONS, Actor, allowed_moves, may_move, who_may
from orders.appeals.models import Appeal, Callback
from orders.appeals.selectors import token_hash
from orders.appeals.services.history import _history

S = Appeal.Status


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
