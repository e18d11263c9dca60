"""Telegram's Bot API, the two parts citygis speaks: reading webhook Updates, sending a message.

https://core.telegram.org/bots/api#update: an Update carries ``update_id`` and at most one of
``message``, ``edited_message``, ``callback_query`` … Only (edited) messages are appeals; every
other kind is valid and taken without queueing anything (a 4xx would make Telegram retry it).
Replies go out through ``sendMessage`` with the standard library's HTTP client: one POST per
accepted appeal needs no HTTP library at run time.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point

HANDLED = ("message", "edited_message")
# Unix times Telegram can send: from 1970 to 2100 (a larger number is not a date, but an attack).
MAX_UNIX_TIME = 4_102_444_800
SEND_TIMEOUT_S = 10


class UpdateError(ValueError):
    """The body is not a Telegram Update (or not one we can read): a 400 naming what is wrong."""


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    """A message (or an edit of one) from a Telegram chat, as the moderation queue keeps it."""

    update_id: int
    chat_id: int
    message_id: int
    date: datetime
    edited_at: datetime | None
    text: str
    point: Point | None
    photos: list[dict[str, Any]] = field(default_factory=list)
    """One photo's sizes as Telegram gave them (PhotoSize: file_id, width, height …)."""
    sender: dict[str, Any] = field(default_factory=dict)

    @property
    def external_id(self) -> str:
        """A message is unique per chat: a re-delivered update (or an edit) has the same one."""
        return f"{self.chat_id}:{self.message_id}"

    @property
    def sender_name(self) -> str:
        name = " ".join(
            str(self.sender.get(k, "")).strip() for k in ("first_name", "last_name")
        ).strip()
        return name or str(self.sender.get("username", "")).strip()

    def payload(self) -> dict[str, Any]:
        """What the queue keeps besides the text and the point: enough to reply and to audit."""
        return {
            "update_id": self.update_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "date": self.date.isoformat(),
            "from": self.sender,
            "photo_file_ids": [p["file_id"] for p in self.photos],
            "photos": self.photos,
        }


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UpdateError(f"{where} must be an integer.")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UpdateError(f"{where} must be an object.")
    return value


def _time(value: Any, where: str) -> datetime:
    seconds = _int(value, where)
    if not 0 <= seconds <= MAX_UNIX_TIME:
        raise UpdateError(f"{where} must be a Unix time between 1970 and 2100.")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise UpdateError(f"{where} must be a string.")
    return value


def _location(value: Any, where: str) -> Point:
    location = _object(value, where)
    coords = []
    for key, bound in (("longitude", 180), ("latitude", 90)):
        number = location.get(key)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise UpdateError(f"{where}.{key} must be a number.")
        if not -bound <= number <= bound:
            raise UpdateError(f"{where}.{key} must be within -{bound}…{bound}.")
        coords.append(float(number))
    return Point(*coords, srid=4326)


def _photos(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise UpdateError(f"{where} must be an array of PhotoSize.")
    sizes = []
    for i, item in enumerate(value):
        size = _object(item, f"{where}[{i}]")
        file_id = size.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise UpdateError(f"{where}[{i}].file_id must be a non-empty string.")
        sizes.append(
            {k: size[k] for k in ("file_id", "file_unique_id", "width", "height") if k in size}
        )
    # Largest first: the one worth fetching when the moderator opens it.
    return sorted(sizes, key=lambda s: -(_area(s)))


def _area(size: dict[str, Any]) -> int:
    width, height = size.get("width"), size.get("height")
    if isinstance(width, int) and isinstance(height, int):
        return width * height
    return 0


def update_parse(data: Any) -> TelegramMessage | None:
    """Read an Update; ``None`` for a valid one of a kind we do not take; UpdateError if not one."""
    update = _object(data, "An Update")
    if "update_id" not in update:
        raise UpdateError("Not a Telegram Update: update_id is missing.")
    update_id = _int(update["update_id"], "update_id")
    kind = next((k for k in HANDLED if k in update), None)
    if kind is None:
        return None
    message = _object(update[kind], kind)
    chat = _object(message.get("chat"), f"{kind}.chat")
    sender = message.get("from")
    text = message.get("text", message.get("caption", ""))
    location = message.get("location")
    return TelegramMessage(
        update_id=update_id,
        chat_id=_int(chat.get("id"), f"{kind}.chat.id"),
        message_id=_int(message.get("message_id"), f"{kind}.message_id"),
        date=_time(message.get("date"), f"{kind}.date"),
        edited_at=(
            _time(message.get("edit_date", message.get("date")), f"{kind}.edit_date")
            if kind == "edited_message"
            else None
        ),
        text=_text(text, f"{kind}.text").strip(),
        point=_location(location, f"{kind}.location") if location is not None else None,
        photos=_photos(message["photo"], f"{kind}.photo") if "photo" in message else [],
        sender=(
            {
                k: sender[k]
                for k in ("id", "username", "first_name", "last_name", "language_code")
                if k in sender
            }
            if isinstance(sender, dict)
            else {}
        ),
    )


class TelegramError(Exception):
    """``sendMessage`` failed; ``permanent`` when retrying cannot help (blocked bot, no chat)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def send_message_request(
    *, chat_id: int, text: str, reply_to: int | None = None
) -> urllib.request.Request:
    """The ``sendMessage`` call: a JSON POST to ``<TELEGRAM_API_URL>/bot<token>/sendMessage``."""
    token = settings.TELEGRAM_BOT_TOKEN
    if not token:
        raise TelegramError("TELEGRAM_BOT_TOKEN is not set: cannot reply on Telegram.")
    body: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if reply_to is not None:
        # The reply quotes the resident's message; if they deleted it, it is sent anyway.
        body["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
    return urllib.request.Request(
        f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot{token}/sendMessage",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )


def send_message(*, chat_id: int, text: str, reply_to: int | None = None) -> dict[str, Any]:
    """Send a text message; the sent Message back, or TelegramError."""
    request = send_message_request(chat_id=chat_id, text=text, reply_to=reply_to)
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read() or b"{}")
        except ValueError:
            answer = {}
        description = answer.get("description") or exc.reason
        # 400 (no such chat, bad request) and 403 (the user blocked the bot) stay so; 429 and
        # 5xx pass: the job is retried.
        raise TelegramError(
            f"Telegram answered {exc.code}: {description}", permanent=exc.code in (400, 403)
        ) from None
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise TelegramError(f"Telegram could not be reached: {exc}") from None
    if not answer.get("ok"):
        raise TelegramError(f"Telegram refused: {answer.get('description', answer)}")
    return answer.get("result") or {}
