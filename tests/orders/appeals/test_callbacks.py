"""Call-backs: a task per done transition, the operator's outcomes, their history, the queue."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, close_old_connections, transaction
from django.test import override_settings
from django.utils import timezone

from gis.exceptions import Conflict
from gis.models import User
from gis.services import user_create_or_update
from orders.appeals.models import Appeal, Callback
from orders.appeals.services.transitions import appeal_confirm_by_resident, appeal_transition
from tests.orders.appeals.conftest import token

S = Appeal.Status
pytestmark = pytest.mark.django_db

CONTACT = {"resident_name": "Anna Smith", "resident_phone": "+1 410 555 0100"}


def done(appeal: Appeal, by, *, when=None) -> str | None:
    """Move an appeal on to done (``by`` takes it into work and reports it); its link token."""
    if Appeal.objects.get(pk=appeal.pk).status == S.NEW:
        operator = User.objects.get(username="op")
        appeal_transition(appeal_id=appeal.pk, to=S.ASSIGNED, by=operator, now=when)
    appeal_transition(appeal_id=appeal.pk, to=S.IN_WORK, by=by, now=when)
    return appeal_transition(appeal_id=appeal.pk, to=S.DONE, by=by, now=when).confirm_token


def outcome(client, who, callback_id: int, value: str, comment: str = ""):
    return client.post(
        f"/api/callbacks/{callback_id}/outcome",
        {"outcome": value, "comment": comment},
        content_type="application/json",
        **token(who),
    )


def history(appeal: Appeal) -> list[tuple]:
    return [
        (h.action, h.from_status, h.to_status, h.by.username if h.by else h.by_label, h.comment)
        for h in Appeal.objects.get(pk=appeal.pk).history.order_by("at", "id")
    ]


def test_done_makes_one_call_back_in_the_operators_queue(client, register, people):
    appeal = register(address="12 Main Street", resident_email="anna@example.org", **CONTACT)
    done(appeal, people["operator"])

    response = client.get("/api/callbacks", **token(people["operator"]))

    assert response.status_code == 200, response.content
    [task] = response.json()["results"]
    appeal.refresh_from_db()
    assert task["appeal"] == appeal.number and task["appeal_id"] == appeal.pk
    assert (task["category"], task["address"]) == ("pipe-burst", "12 Main Street")
    assert task["resident"] == {
        "name": "Anna Smith",
        "phone": "+1 410 555 0100",
        "email": "anna@example.org",
    }
    assert (task["status"], task["tries"], task["last_try_at"], task["max_tries"]) == (
        "open",
        0,
        None,
        3,
    )
    assert task["organisation"] == "Water and sewer service (demo)"
    [row] = [h for h in appeal.history.all() if h.to_status == S.DONE]
    assert row.data["callback"] == {"id": task["id"]}


def test_an_appeal_without_a_phone_or_e_mail_gets_no_call_back_and_says_why(register, people):
    appeal = register(resident_name="Nobody to call")
    done(appeal, people["operator"])

    assert not Callback.objects.filter(appeal=appeal).exists()
    [row] = [h for h in appeal.history.all() if h.to_status == S.DONE]
    assert row.data["callback"] == {"skipped": "no phone or e-mail"}


def test_the_queue_is_oldest_due_first_and_filters(client, register, people):
    now = timezone.now()
    later = register(**CONTACT)
    earlier = register("pothole", where=(0, 0), **CONTACT)
    done(later, people["operator"], when=now - timedelta(hours=1))
    done(earlier, people["operator"], when=now - timedelta(hours=5))
    op = token(people["operator"])

    queue = client.get("/api/callbacks", **op).json()["results"]
    assert [t["appeal_id"] for t in queue] == [earlier.pk, later.pk]

    water = later.organisation_id
    only = client.get(f"/api/callbacks?organisation={water}", **op).json()["results"]
    assert [t["appeal_id"] for t in only] == [later.pk]
    assert client.get("/api/callbacks?status=closed", **op).json()["results"] == []
    assert client.get("/api/callbacks?status=maybe", **op).status_code == 400
    assert client.get("/api/callbacks?organisation=x", **op).status_code == 400


def test_only_operators_see_the_queue_and_record_outcomes(client, register, people):
    appeal = register(**CONTACT)
    done(appeal, people["operator"])
    task = Callback.objects.get(appeal=appeal)

    assert client.get("/api/callbacks").status_code == 401
    assert outcome(client, people["operator"], task.pk, "satisfied").status_code == 200
    for who in ("planner", "water"):
        assert client.get("/api/callbacks", **token(people[who])).status_code == 403
        assert outcome(client, people[who], task.pk, "satisfied").status_code == 403


def test_satisfied_archives_the_appeal_and_writes_its_history(client, register, people):
    appeal = register(**CONTACT)
    done(appeal, people["water"])
    task = Callback.objects.get(appeal=appeal)

    response = outcome(client, people["operator"], task.pk, "satisfied", "all dry now")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["outcome"], body["appeal_status"]) == (
        "closed",
        "satisfied",
        "archived",
    )
    assert body["closed_by"] == "op"
    assert history(appeal)[-1] == ("status", "done", "archived", "op", "all dry now")
    last = Appeal.objects.get(pk=appeal.pk).history.order_by("-id").first()
    assert last.data["callback"] == {"id": task.pk, "outcome": "satisfied"}
    # Closed: a second outcome is a conflict, not a second move.
    again = outcome(client, people["operator"], task.pk, "not_satisfied")
    assert again.status_code == 409
    assert again.json()["error"]["outcome"] == "satisfied"
    assert Appeal.objects.get(pk=appeal.pk).status == S.ARCHIVED


def test_not_satisfied_reopens_exactly_as_the_residents_rejection(client, register, people):
    by_call, by_link = register(**CONTACT), register(**CONTACT)
    done(by_call, people["water"])
    link = done(by_link, people["water"])
    task = Callback.objects.get(appeal=by_call)

    before = timezone.now()
    response = outcome(client, people["operator"], task.pk, "not_satisfied", "still leaking")
    appeal_confirm_by_resident(token=link, resolved=False, comment="still leaking")
    after = timezone.now()

    assert response.status_code == 200, response.content
    called, linked = Appeal.objects.get(pk=by_call.pk), Appeal.objects.get(pk=by_link.pk)
    norm = timedelta(hours=called.category.sla_hours / 2)
    for appeal in (called, linked):
        assert (appeal.status, appeal.reopen_count, appeal.closed_at) == (S.REOPENED, 1, None)
        assert before + norm <= appeal.sla_due <= after + norm
        assert appeal.confirm_token_hash == ""
    assert history(called)[-1] == ("status", "done", "reopened", "op", "still leaking")
    assert Callback.objects.get(pk=task.pk).outcome == "not_satisfied"


def test_done_again_after_a_reopening_makes_a_new_call_back(client, register, people):
    appeal = register(**CONTACT)
    done(appeal, people["water"])
    first = Callback.objects.get(appeal=appeal)
    outcome(client, people["operator"], first.pk, "not_satisfied")

    done(appeal, people["water"])

    tasks = list(Callback.objects.filter(appeal=appeal).order_by("id"))
    assert [(t.status, t.outcome) for t in tasks] == [
        ("closed", "not_satisfied"),
        ("open", ""),
    ]
    assert tasks[1].done_at > tasks[0].done_at


def test_unreachable_counts_tries_then_archives_with_the_reason(client, register, people):
    appeal = register(**CONTACT)
    done(appeal, people["water"])
    task = Callback.objects.get(appeal=appeal)
    op = people["operator"]

    first = outcome(client, op, task.pk, "unreachable", "no answer").json()
    assert (first["status"], first["tries"], first["appeal_status"]) == ("open", 1, "done")
    assert first["last_try_at"] is not None
    assert datetime.fromisoformat(first["due_at"]) > task.due_at  # later, not at the top
    second = outcome(client, op, task.pk, "unreachable", "voicemail").json()
    assert (second["status"], second["tries"]) == ("open", 2)
    third = outcome(client, op, task.pk, "unreachable").json()

    assert (third["status"], third["outcome"], third["tries"]) == ("closed", "unreachable", 3)
    appeal.refresh_from_db()
    assert appeal.status == S.ARCHIVED and appeal.closed_at is not None
    rows = history(appeal)[-3:]
    assert rows == [
        ("callback_try", "done", "done", "op", "no answer"),
        ("callback_try", "done", "done", "op", "voicemail"),
        ("status", "done", "archived", "op", "Resident unreachable after 3 tries."),
    ]
    last = appeal.history.order_by("-id").first()
    assert last.data["callback"]["reason"] == "resident unreachable"
    assert last.data["callback"]["tries"] == 3
    assert outcome(client, op, task.pk, "unreachable").status_code == 409


@override_settings(CALLBACK_MAX_TRIES=1)
def test_the_number_of_tries_is_a_setting(client, register, people):
    appeal = register(**CONTACT)
    done(appeal, people["water"])
    task = Callback.objects.get(appeal=appeal)

    body = outcome(client, people["operator"], task.pk, "unreachable", "wrong number").json()

    assert (body["status"], body["tries"], body["appeal_status"]) == ("closed", 1, "archived")
    assert history(appeal)[-1][-1] == "Resident unreachable after 1 tries: wrong number"


def test_the_residents_answer_through_the_link_closes_the_open_call_back(client, register, people):
    confirmed, rejected = register(**CONTACT), register(**CONTACT)
    yes, no = done(confirmed, people["water"]), done(rejected, people["water"])

    appeal_confirm_by_resident(token=yes, resolved=True)
    appeal_confirm_by_resident(token=no, resolved=False)

    assert Callback.objects.get(appeal=confirmed).outcome == "resident_confirmed"
    assert Callback.objects.get(appeal=rejected).outcome == "resident_rejected"
    task = Callback.objects.get(appeal=confirmed)
    assert (task.status, task.closed_by) == ("closed", None)
    response = outcome(client, people["operator"], task.pk, "satisfied")
    assert response.status_code == 409
    assert client.get("/api/callbacks", **token(people["operator"])).json()["results"] == []


def test_an_operators_move_out_of_done_closes_it_as_moved(register, people):
    appeal = register(**CONTACT)
    done(appeal, people["water"])

    appeal_transition(appeal_id=appeal.pk, to=S.ARCHIVED, by=people["operator"])

    task = Callback.objects.get(appeal=appeal)
    assert (task.status, task.outcome, task.closed_by) == ("closed", "moved", people["operator"])


def test_bad_outcomes_are_400_and_unknown_tasks_404(client, register, people):
    appeal = register(**CONTACT)
    done(appeal, people["water"])
    task = Callback.objects.get(appeal=appeal)

    response = outcome(client, people["operator"], task.pk, "maybe")
    assert response.status_code == 400
    assert "outcome" in response.json()["error"]["fields"]
    assert outcome(client, people["operator"], task.pk + 1000, "satisfied").status_code == 404
    assert Callback.objects.get(pk=task.pk).status == "open"


def test_the_database_refuses_a_second_call_back_for_one_done_transition(register, people):
    appeal = register(**CONTACT)
    done(appeal, people["water"])
    task = Callback.objects.get(appeal=appeal)

    with pytest.raises(IntegrityError), transaction.atomic():
        Callback.objects.create(appeal=appeal, done_at=task.done_at, due_at=task.due_at)
    with pytest.raises(IntegrityError), transaction.atomic():  # a second open one
        Callback.objects.create(appeal=appeal, done_at=timezone.now(), due_at=task.due_at)


@pytest.mark.django_db(transaction=True)
def test_concurrent_done_transitions_make_one_call_back(register, people):
    appeal = register(**CONTACT)
    for to in (S.ASSIGNED, S.IN_WORK):
        appeal_transition(appeal_id=appeal.pk, to=to, by=people["operator"])
    barrier = threading.Barrier(2)
    results: list[str] = []

    def mark_done(who: str) -> None:
        try:
            barrier.wait()
            appeal_transition(appeal_id=appeal.pk, to=S.DONE, by=people[who])
            results.append("done")
        except Conflict:
            results.append("conflict")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=mark_done, args=(w,)) for w in ("operator", "water")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["conflict", "done"]
    assert Callback.objects.filter(appeal=appeal).count() == 1


def test_the_admin_lists_call_backs_and_cannot_add_one(client, register, people):
    appeal = register(**CONTACT)
    done(appeal, people["water"])
    task = Callback.objects.get(appeal=appeal)
    admin, _ = user_create_or_update(
        username="root", role="operator", password="pw-123456", is_staff=True
    )
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)

    for url in ("/admin/appeals/callback/", f"/admin/appeals/callback/{task.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert appeal.number in response.content.decode()
    assert client.get("/admin/appeals/callback/add/").status_code == 403
