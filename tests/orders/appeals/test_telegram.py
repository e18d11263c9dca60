"""Telegram intake: recorded Update JSON into the moderation queue, and the reply job.

No network: the reply goes to a stub Bot API server on 127.0.0.1 started by the test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from procrastinate.contrib.django import app

from orders.appeals.models import IntakeMessage
from orders.appeals.services.intake import (
    TELEGRAM_REPLY_TASK,
    intake_accept,
    intake_reply_send,
    integration_key_create,
)
from orders.appeals.tasks import telegram_reply
from orders.appeals.telegram import TelegramError
from tests.orders.appeals.conftest import token
from tests.orders.permits.conftest import procrastinate_jobs

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
SECRET = "s3cret-path-9f2c"
URL = f"/api/intake/telegram/{SECRET}"
BOT_TOKEN = "7012345678:AAH-test-token"


@pytest.fixture(autouse=True)
def telegram_on(settings) -> None:
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    settings.TELEGRAM_SECRET_TOKEN = ""
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def update(name: str) -> dict[str, Any]:
    return json.loads(raw(name))


def post(client, body: bytes | dict, url: str = URL, **headers: str):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(url, data, content_type="application/json", **headers)


# --- the webhook -----------------------------------------------------------------------------


def test_a_text_message_is_queued_once_however_often_telegram_sends_it(client):
    first = post(client, raw("text_message.json"))
    again = post(client, raw("text_message.json"))  # Telegram retries until it gets a 200

    assert first.status_code == 200, first.content
    assert first.json()["outcome"] == "queued"
    assert again.json() == {**first.json(), "outcome": "already queued"}
    [message] = IntakeMessage.objects.all()
    assert message.pk == first.json()["intake_id"]
    assert (message.source, message.external_id) == ("telegram", "402233117:311")
    assert message.text.startswith("Water is gushing out of the pavement at 12 Main Street")
    assert message.geom is None and message.status == "pending"
    assert message.payload["chat_id"] == 402233117
    assert message.payload["message_id"] == 311
    assert message.payload["update_id"] == 815302001
    assert message.payload["from"]["username"] == "anna_s"
    assert message.payload["date"] == "2026-01-05T09:00:00+00:00"


def test_a_location_becomes_the_messages_point(client):
    response = post(client, raw("location_message.json"))

    assert response.status_code == 200, response.content
    message = IntakeMessage.objects.get(pk=response.json()["intake_id"])
    assert (message.geom.x, message.geom.y, message.geom.srid) == (-76.569998, 39.282703, 4326)
    assert message.text == ""


def test_a_photo_keeps_its_file_ids_largest_first_and_its_caption_as_text(client):
    response = post(client, raw("photo_caption.json"))

    message = IntakeMessage.objects.get(pk=response.json()["intake_id"])
    assert message.text == "The street lamp by the bus stop has been dark for a week"
    assert message.payload["photo_file_ids"] == [
        "AgACAgIAAxkBAAIBOWb_large",
        "AgACAgIAAxkBAAIBOWb_medium",
        "AgACAgIAAxkBAAIBOWb_small",
    ]
    assert message.payload["photos"][0] == {
        "file_id": "AgACAgIAAxkBAAIBOWb_large",
        "file_unique_id": "AQADm9kxG_large",
        "width": 1280,
        "height": 960,
    }
    assert message.geom is not None


def test_an_edit_replaces_the_pending_message_and_an_old_update_never_wins(client):
    post(client, raw("text_message.json"))

    edited = post(client, raw("edited_message.json"))
    late_original = post(client, raw("text_message.json"))
    late_edit = post(client, raw("edited_message.json"))

    assert edited.json()["outcome"] == "edit applied"
    assert late_original.json()["outcome"] == "already queued"
    assert late_edit.json()["outcome"] == "already queued"
    [message] = IntakeMessage.objects.all()
    assert "14 Main Street (not 12)" in message.text
    assert message.payload["update_id"] == 815302010
    assert message.payload["edits"] == ["2026-01-05T09:02:00+00:00"]
    assert message.payload["date"] == "2026-01-05T09:00:00+00:00"


def test_an_edit_after_moderation_is_queued_on_its_own(client, people, categories):
    first = post(client, raw("text_message.json")).json()
    client.post(
        f"/api/appeals/intake/{first['intake_id']}/reject",
        {"comment": "ask for the place"},
        content_type="application/json",
        **token(people["operator"]),
    )

    edited = post(client, raw("edited_message.json")).json()
    again = post(client, raw("edited_message.json")).json()

    assert edited["outcome"] == "queued" and again["outcome"] == "already queued"
    message = IntakeMessage.objects.get(pk=edited["intake_id"])
    assert message.external_id == "402233117:311:edit:815302010"
    assert message.payload["edit_of"] == first["intake_id"]
    assert IntakeMessage.objects.count() == 2


def test_an_edit_of_a_message_never_seen_is_queued_as_the_message(client):
    response = post(client, raw("edited_message.json")).json()

    assert response["outcome"] == "queued"
    assert IntakeMessage.objects.get().external_id == "402233117:311"


@pytest.mark.parametrize("name", ["callback_query.json", "sticker_message.json"])
def test_updates_we_do_not_take_are_answered_200_and_queue_nothing(client, name):
    response = post(client, raw(name))

    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "outcome": "ignored", "intake_id": None}
    assert not IntakeMessage.objects.exists()


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("malformed_truncated.json", "not JSON"),
        ("malformed_no_update_id.json", "update_id is missing"),
        ("malformed_chat_id.json", "message.chat.id must be an integer"),
        ("malformed_location.json", "message.location.latitude must be within -90…90"),
        ("malformed_photo.json", "message.photo[0].file_id must be a non-empty string"),
        ("malformed_array.json", "An Update must be an object"),
        ("malformed_message_not_object.json", "message must be an object"),
    ],
)
def test_a_malformed_update_is_a_400_saying_what_is_wrong(client, name, says):
    response = post(client, raw(name))

    assert response.status_code == 400, response.content
    assert says in response.json()["error"]["message"]
    assert not IntakeMessage.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe not utf-8",
        b'{"update_id": true, "message": {}}',
        b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": 1e30}}',
        b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": 99999999999}}',
        b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": 1, "text": 5}}',
    ],
)
def test_hostile_bodies_are_400_never_500(client, body):
    response = post(client, body)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"


def test_a_wrong_or_absent_secret_is_a_404_and_so_is_intake_switched_off(client, settings):
    for url in ("/api/intake/telegram/wrong", f"{URL}x", "/api/intake/telegram/"):
        assert post(client, raw("text_message.json"), url=url).status_code == 404
    # A wrong secret is refused before the body is read: even a malformed one is a 404.
    assert post(client, b"{", url="/api/intake/telegram/wrong").status_code == 404
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    assert post(client, raw("text_message.json")).status_code == 404
    assert post(client, raw("text_message.json"), url="/api/intake/telegram/x").status_code == 404
    assert not IntakeMessage.objects.exists()


def test_the_secret_token_header_is_required_when_set(client, settings):
    settings.TELEGRAM_SECRET_TOKEN = "header-token_42"

    assert post(client, raw("text_message.json")).status_code == 404
    wrong = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": "header-token_43"}
    assert post(client, raw("text_message.json"), **wrong).status_code == 404
    right = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": "header-token_42"}
    assert post(client, raw("text_message.json"), **right).status_code == 200


def test_an_authorization_header_does_not_get_in_the_way(client, people):
    response = post(client, raw("text_message.json"), HTTP_AUTHORIZATION="Token nonsense")

    assert response.status_code == 200, response.content


# --- accepting it queues the reply -----------------------------------------------------------


def accept(client, people, intake_id: int, **extra: Any):
    return client.post(
        f"/api/appeals/intake/{intake_id}/accept",
        {"category": "pipe-burst", **extra},
        content_type="application/json",
        **token(people["operator"]),
    )


def test_accepting_a_telegram_message_queues_the_reply_job_with_it(client, people, city):
    intake_id = post(client, raw("location_message.json")).json()["intake_id"]
    assert procrastinate_jobs(TELEGRAM_REPLY_TASK) == []

    response = accept(client, people, intake_id)

    assert response.status_code == 201, response.content
    assert response.json()["channel"] == "messenger"
    [job] = procrastinate_jobs(TELEGRAM_REPLY_TASK)
    assert (job["status"], job["args"]) == ("todo", {"intake_id": intake_id})
    # Accepted once: a second accept is a 409 and queues no second reply.
    assert accept(client, people, intake_id).status_code == 409
    assert len(procrastinate_jobs(TELEGRAM_REPLY_TASK)) == 1


def test_the_reply_job_commits_or_rolls_back_with_the_accept(client, people, categories, city):
    intake_id = post(client, raw("location_message.json")).json()["intake_id"]

    with pytest.raises(RuntimeError), transaction.atomic():
        intake_accept(message_id=intake_id, by=people["operator"], category=categories["pothole"])
        assert len(procrastinate_jobs(TELEGRAM_REPLY_TASK)) == 1
        raise RuntimeError("the accept fails after the job was deferred")

    assert procrastinate_jobs(TELEGRAM_REPLY_TASK) == []
    assert IntakeMessage.objects.get(pk=intake_id).status == "pending"


def test_other_intake_feeds_get_no_telegram_reply(client, people, city):
    _, key = integration_key_create(name="telegram", purpose="intake")
    queued = client.post(
        "/api/appeals/intake",
        {"external_id": "42", "text": "Pipe burst", "lon": -76.57, "lat": 39.2827},
        content_type="application/json",
        HTTP_X_API_KEY=key,
    ).json()

    assert accept(client, people, queued["id"]).status_code == 201
    assert procrastinate_jobs(TELEGRAM_REPLY_TASK) == []


# --- the reply job against a stub Bot API ----------------------------------------------------


class StubBotApi:
    """A Bot API on 127.0.0.1 that records every request and answers as it is told."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: tuple[int, dict[str, Any]] = (200, {"ok": True, "result": {"message_id": 9}})
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                stub.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                status, body = stub.answer
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def bot_api(settings) -> Iterator[StubBotApi]:
    stub = StubBotApi()
    thread = threading.Thread(target=stub.server.serve_forever, daemon=True)
    thread.start()
    settings.TELEGRAM_API_URL = stub.url
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture
def accepted(client, people, city) -> IntakeMessage:
    intake_id = post(client, raw("location_message.json")).json()["intake_id"]
    assert accept(client, people, intake_id).status_code == 201
    return IntakeMessage.objects.select_related("appeal").get(pk=intake_id)


def test_the_job_sends_the_appeal_number_once(accepted, bot_api):
    assert intake_reply_send(intake_id=accepted.pk) == "sent"
    assert intake_reply_send(intake_id=accepted.pk) == "already sent"

    [request] = bot_api.requests
    assert request["path"] == f"/bot{BOT_TOKEN}/sendMessage"
    assert request["content_type"] == "application/json"
    assert request["body"] == {
        "chat_id": 402233117,
        "text": f"Your appeal is registered under number {accepted.appeal.number}.",
        "reply_parameters": {"message_id": 312, "allow_sending_without_reply": True},
    }
    accepted.refresh_from_db()
    assert accepted.replied_at is not None


def test_a_blocked_bot_is_recorded_and_not_retried(accepted, bot_api):
    bot_api.answer = (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )

    outcome = intake_reply_send(intake_id=accepted.pk)

    assert outcome.startswith("failed: Telegram answered 403")
    accepted.refresh_from_db()
    assert "blocked by the user" in accepted.payload["reply_error"]
    assert accepted.replied_at is None


@pytest.mark.parametrize(
    "answer",
    [
        (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 5"}),
        (502, {"ok": False, "description": "Bad Gateway"}),
        (200, {"ok": False, "description": "odd"}),
    ],
)
def test_telegram_busy_or_down_raises_so_the_job_is_retried(accepted, bot_api, answer):
    bot_api.answer = answer

    with pytest.raises(TelegramError) as error:
        intake_reply_send(intake_id=accepted.pk)

    assert not error.value.permanent
    accepted.refresh_from_db()
    assert accepted.replied_at is None


def test_unreachable_telegram_or_no_token_raises(accepted, settings):
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"  # discard: nothing listens
    with pytest.raises(TelegramError, match="could not be reached"):
        intake_reply_send(intake_id=accepted.pk)
    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(TelegramError, match="TELEGRAM_BOT_TOKEN"):
        intake_reply_send(intake_id=accepted.pk)


def test_the_reply_task_is_registered_under_the_deferred_name():
    assert app.tasks[TELEGRAM_REPLY_TASK] is telegram_reply


@pytest.fixture
def jobs_emptied() -> Iterator[None]:
    """Procrastinate's tables are not Django's: a transactional test's flush leaves them."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_events RESTART IDENTITY CASCADE")


@pytest.mark.django_db(transaction=True)
def test_the_task_runs_the_reply(client, people, city, bot_api, jobs_emptied):
    intake_id = post(client, raw("text_message.json")).json()["intake_id"]
    assert accept(client, people, intake_id, address="", lon=-76.57, lat=39.2827).status_code == 201

    with override_settings(TELEGRAM_API_URL=bot_api.url):
        assert telegram_reply(intake_id=intake_id) == "sent"

    assert [r["body"]["chat_id"] for r in bot_api.requests] == [402233117]
