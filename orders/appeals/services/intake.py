"""Intake from outside: messages queued for moderation, Telegram's with their reply, the keys.

A moderator turns a message into an appeal (``intake_accept``) or sets it aside; outside systems
send an integration key instead of an account.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from procrastinate.contrib.django import app

from gis.exceptions import Conflict, NotFound
from gis.models import User
from orders.appeals.models import Appeal, Category, IntakeMessage, IntegrationKey
from orders.appeals.selectors import token_hash
from orders.appeals.services.linking import appeal_point_check
from orders.appeals.services.registration import appeal_register
from orders.appeals.services.transitions import _operator
from orders.appeals.telegram import TelegramError, TelegramMessage, send_message

MESSENGERS = frozenset({"telegram", "whatsapp", "viber", "messenger", "sms", "max"})
TELEGRAM = "telegram"
# The job that tells a Telegram sender their appeal's number (orders/appeals/tasks.py).
TELEGRAM_REPLY_TASK = "appeals.telegram_reply"
REPLIES_QUEUE = "replies"


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
    appeal_point_check(point)
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
