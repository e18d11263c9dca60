"""The appeals API: create, list and filter, detail, transition (409), relink, intake, the card."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gis.roles import PUBLIC
from orders.appeals.models import Appeal, IntakeMessage
from orders.appeals.services.intake import integration_key_create
from orders.appeals.services.transitions import appeal_transition
from tests.orders.appeals.conftest import FAR, NETWORK_N, at, token

S = Appeal.Status
pytestmark = pytest.mark.django_db


def test_an_operator_registers_an_appeal_and_sees_it_whole(client, people, city):
    body = {
        "category": "pipe-burst",
        "channel": "phone",
        "text": "Water gushing from the pavement",
        "lon": at(0, NETWORK_N + 5).x,
        "lat": at(0, NETWORK_N + 5).y,
        "resident_name": "Anna Smith",
        "resident_phone": "+1 410 555 0100",
        "resident_email": "anna@example.org",
    }
    response = client.post(
        "/api/appeals", body, content_type="application/json", **token(people["operator"])
    )
    assert response.status_code == 201, response.content
    appeal = response.json()
    assert appeal["number"].startswith("A-")
    assert appeal["status"] == "new" and appeal["overdue"] is False
    assert appeal["linked"] == {
        "layer": "networks",
        "id": city["pipe"].pk,
        "distance_m": pytest.approx(5, abs=0.5),
        "method": "auto",
    }
    assert appeal["organisation"] == "Water and sewer service (demo)"
    assert appeal["resident"]["phone"] == "+1 410 555 0100"
    assert [h["action"] for h in appeal["history"]] == ["registered"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "nope", "lon": -76.57, "lat": 39.28}, "category"),
        ({"category": "pothole"}, "address"),
        ({"category": "pothole", "lon": -76.57}, "lat"),
        ({"category": "pothole", "lon": 500, "lat": 39.28}, "lon"),
        ({"category": "pothole", "address": "x", "resident_email": "not-mail"}, "resident_email"),
        ({"category": "pothole", "address": "x", "channel": "open311"}, "channel"),
        ({"category": "pothole", "address": "x", "received_at": "3026-01-01T00:00:00Z"}, None),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, people, categories, body, field):
    response = client.post(
        "/api/appeals", body, content_type="application/json", **token(people["operator"])
    )
    assert response.status_code == 400, response.content
    if field:
        assert field in response.json()["error"]["fields"]


def test_only_operators_register_appeals(client, people, categories):
    body = {"category": "pothole", "address": "12 Main Street"}
    assert client.post("/api/appeals", body, content_type="application/json").status_code == 401
    for who in ("planner", "water"):
        response = client.post(
            "/api/appeals", body, content_type="application/json", **token(people[who])
        )
        assert response.status_code == 403


def test_open_due_is_the_sla_while_the_appeal_is_open(people, register):
    """The column the overdue filter reads (PostgreSQL keeps it): sla_due while open, else null."""
    appeal = register("pipe-burst", received_at=timezone.now() - timedelta(hours=5))
    appeal.refresh_from_db()
    assert appeal.open_due == appeal.sla_due < timezone.now()
    assert appeal.is_overdue(timezone.now())
    for step in (S.ASSIGNED, S.IN_WORK, S.DONE):
        appeal_transition(appeal_id=appeal.pk, to=step, by=people["operator"])
    appeal.refresh_from_db()
    assert appeal.open_due is None and appeal.sla_due is not None
    assert not appeal.is_overdue(timezone.now())


def test_the_list_filters_and_shows_overdue(client, people, register):
    late = register("pipe-burst", received_at=timezone.now() - timedelta(hours=5))
    fresh = register("pothole", (0, 5))
    lost = register("pothole", FAR)
    done = register("pipe-burst", received_at=timezone.now() - timedelta(hours=9))
    for step in (S.ASSIGNED, S.IN_WORK, S.DONE):
        appeal_transition(appeal_id=done.pk, to=step, by=people["operator"])
    op = token(people["operator"])

    def numbers(query: str) -> list[str]:
        response = client.get(f"/api/appeals?{query}", **op)
        assert response.status_code == 200, response.content
        return [a["number"] for a in response.json()["results"]]

    assert numbers("") == [lost.number, fresh.number, late.number, done.number]
    assert numbers("overdue=true") == [late.number]
    assert numbers("overdue=false") == [lost.number, fresh.number, done.number]
    assert numbers("status=done") == [done.number]
    assert numbers("status=new,done&category=pipe-burst") == [late.number, done.number]
    assert numbers("needs_attention=true") == [lost.number]
    west, south, east, north = (*at(-50, -50).coords, *at(50, 50).coords)
    assert numbers(f"bbox={west},{south},{east},{north}") == [fresh.number]
    today = timezone.localdate()
    assert len(numbers(f"from={today - timedelta(days=1)}&to={today}")) == 4
    assert numbers(f"from={today + timedelta(days=1)}") == []
    organisation = fresh.organisation_id
    assert numbers(f"organisation={organisation}") == [lost.number, fresh.number]
    page = client.get("/api/appeals?limit=2&offset=1", **op).json()
    assert page["count"] == 4 and len(page["results"]) == 2
    overdue = {
        a["number"]: a["overdue"] for a in client.get("/api/appeals", **op).json()["results"]
    }
    assert overdue == {
        lost.number: False,
        fresh.number: False,
        late.number: True,
        done.number: False,
    }


@pytest.mark.parametrize(
    "query",
    [
        "status=open",
        "bbox=1,2,3",
        "bbox=10,10,0,0",
        "from=2026-13-01",
        "from=0001-01-01",
        "from=2026-02-02&to=2026-02-01",
        "overdue=maybe",
        "limit=0",
        "organisation=x",
    ],
)
def test_bad_filters_are_400(client, people, categories, query):
    assert client.get(f"/api/appeals?{query}", **token(people["operator"])).status_code == 400


def test_who_lists_what(client, people, register):
    water = register("pipe-burst")
    register("pothole", (0, 5))
    assert client.get("/api/appeals").status_code == 401
    planner = client.get("/api/appeals", **token(people["planner"])).json()["results"]
    assert len(planner) == 2 and all(a["resident"] is None for a in planner)
    service = client.get("/api/appeals", **token(people["water"])).json()["results"]
    assert [a["number"] for a in service] == [water.number]
    assert service[0]["resident"] is not None  # the service fixing it may call the resident
    other = client.get(f"/api/appeals/{water.pk}", **token(people["roads"]))
    assert other.status_code == 404


def test_an_illegal_transition_is_409_with_the_allowed_ones(client, people, register):
    appeal = register("pipe-burst")
    response = client.post(
        f"/api/appeals/{appeal.pk}/transition",
        {"to": "done"},
        content_type="application/json",
        **token(people["operator"]),
    )
    assert response.status_code == 409
    assert response.json()["error"]["allowed"] == ["assigned", "rejected", "duplicate"]
    assert response.json()["error"]["status"] == "new"


def test_transitions_through_the_api_and_the_residents_link(client, people, register):
    appeal = register("pipe-burst")
    op = token(people["operator"])

    def move(to: str, who=op, **extra) -> dict:
        response = client.post(
            f"/api/appeals/{appeal.pk}/transition",
            {"to": to, "comment": f"to {to}", **extra},
            content_type="application/json",
            **who,
        )
        assert response.status_code == 200, response.content
        return response.json()

    move("assigned")
    move("in_work", token(people["water"]))
    by_service = move("done", token(people["water"]))
    assert by_service["confirm_link"] is None  # the service never sees the resident's link
    move("reopened")
    move("in_work", token(people["water"]))
    done = move("done")
    link = done["confirm_link"]
    assert link.startswith("http://testserver/api/appeals/confirm/")
    path = link.removeprefix("http://testserver")
    assert client.get(path).json()["status"] == "done"
    answer = client.post(path, {"resolved": True}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["status"] == "archived"
    assert client.get(path).status_code == 404
    again = client.post(path, {"resolved": False}, content_type="application/json")
    assert again.status_code == 404
    detail = client.get(f"/api/appeals/{appeal.pk}", **op).json()
    steps = [(h["from_status"], h["to_status"], h["by"]) for h in detail["history"]]
    assert steps == [
        ("", "new", "op"),
        ("new", "assigned", "op"),
        ("assigned", "in_work", "water"),
        ("in_work", "done", "water"),
        ("done", "reopened", "op"),
        ("reopened", "in_work", "water"),
        ("in_work", "done", "op"),
        ("done", "archived", "resident"),
    ]
    assert detail["reopen_count"] == 1


def test_relink_through_the_api(client, people, register, city):
    appeal = register("pothole", FAR)
    response = client.post(
        f"/api/appeals/{appeal.pk}/relink",
        {"layer": "streets", "id": city["street"].pk, "comment": "the resident means this"},
        content_type="application/json",
        **token(people["operator"]),
    )
    assert response.status_code == 200, response.content
    assert response.json()["linked"]["method"] == "operator"
    assert response.json()["needs_attention"] is False
    bad = client.post(
        f"/api/appeals/{appeal.pk}/relink",
        {"layer": "streets"},
        content_type="application/json",
        **token(people["operator"]),
    )
    assert bad.status_code == 400


@pytest.mark.parametrize("layer", ["works", "repeated_problems", "appeals"])
def test_an_appeal_is_never_linked_to_a_computed_layer(client, people, register, layer):
    appeal = register("pothole", FAR)
    response = client.post(
        f"/api/appeals/{appeal.pk}/relink",
        {"layer": layer, "id": 1},
        content_type="application/json",
        **token(people["operator"]),
    )
    assert response.status_code == 400
    allowed = response.json()["error"]["fields"]["layer"][0].removeprefix("One of: ")
    names = allowed.rstrip(".").split(", ")
    assert "streets" in names and layer not in names


def test_the_categories_are_public(client, categories):
    rows = client.get("/api/appeals/categories").json()
    assert {"pipe-burst", "pothole", "other"} <= {r["code"] for r in rows}


# --- intake ----------------------------------------------------------------------------------


def test_intake_is_idempotent_and_a_moderator_turns_it_into_an_appeal(client, people, city):
    _, key = integration_key_create(name="telegram", purpose="intake")
    message = {
        "external_id": "msg-1",
        "text": "Pipe burst near the school, water everywhere",
        "link": "https://t.me/city/1",
        "payload": {"author": "someone"},
    }
    first = client.post(
        "/api/appeals/intake", message, content_type="application/json", HTTP_X_API_KEY=key
    )
    assert first.status_code == 201, first.content
    second = client.post(
        "/api/appeals/intake", message, content_type="application/json", HTTP_X_API_KEY=key
    )
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert IntakeMessage.objects.count() == 1
    op = token(people["operator"])
    queue = client.get("/api/appeals/intake", **op).json()
    assert [m["external_id"] for m in queue] == ["msg-1"]
    where = at(0, NETWORK_N + 3)
    accepted = client.post(
        f"/api/appeals/intake/{first.json()['id']}/accept",
        {"category": "pipe-burst", "lon": where.x, "lat": where.y},
        content_type="application/json",
        **op,
    )
    assert accepted.status_code == 201, accepted.content
    appeal = accepted.json()
    assert appeal["channel"] == "messenger" and appeal["linked"]["id"] == city["pipe"].pk
    assert appeal["text"] == message["text"]
    assert client.get("/api/appeals/intake", **op).json() == []
    twice = client.post(
        f"/api/appeals/intake/{first.json()['id']}/accept",
        {"category": "pipe-burst", "address": "12 Main Street"},
        content_type="application/json",
        **op,
    )
    assert twice.status_code == 409


def test_intake_needs_its_key_and_a_moderator_may_reject(client, people, categories):
    _, key = integration_key_create(name="vk", purpose="intake")
    _, open311 = integration_key_create(name="app", purpose="open311")
    message = {"external_id": "1", "text": "spam"}
    assert (
        client.post("/api/appeals/intake", message, content_type="application/json").status_code
        == 401
    )
    for wrong in ("nonsense", open311):
        response = client.post(
            "/api/appeals/intake", message, content_type="application/json", HTTP_X_API_KEY=wrong
        )
        assert response.status_code == 403
    created = client.post(
        "/api/appeals/intake", message, content_type="application/json", HTTP_X_API_KEY=key
    ).json()
    assert created["source"] == "vk"
    assert client.get("/api/appeals/intake", **token(people["water"])).status_code == 403
    rejected = client.post(
        f"/api/appeals/intake/{created['id']}/reject",
        {"comment": "spam"},
        content_type="application/json",
        **token(people["operator"]),
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


# --- the object card -------------------------------------------------------------------------


def test_an_objects_card_lists_the_appeals_linked_to_it(client, people, register, city):
    appeal = register("pipe-burst")
    register("pothole", (0, 5))
    card = client.get(f"/api/objects/networks/{city['pipe'].pk}", **token(people["operator"]))
    entry = card.json()["related"]["appeals"]
    assert [f["properties"]["number"] for f in entry["features"]] == [appeal.number]
    public = client.get(f"/api/objects/streets/{city['street'].pk}").json()["related"]["appeals"]
    (feature,) = public["features"]
    assert set(feature["properties"]) == {
        "layer",
        "source",
        "number",
        "category",
        "status",
        "organisation",
        "received_at",
    }


def test_the_hand_built_json_has_exactly_the_documented_fields(client, people, register):
    from orders.appeals.api.appeals import AppealDetailSerializer, AppealSerializer

    appeal = register("pipe-burst", received_at=timezone.now() - timedelta(hours=1))
    op = token(people["operator"])
    detail = client.get(f"/api/appeals/{appeal.pk}", **op).json()
    assert set(detail) == set(AppealDetailSerializer().fields)
    (listed,) = client.get("/api/appeals", **op).json()["results"]
    assert set(listed) == set(AppealSerializer().fields)
    documented = AppealSerializer(appeal, context={"viewer": PUBLIC, "now": timezone.now()})
    for name in ("received_at", "sla_due", "number", "lon", "lat", "link_candidates"):
        assert listed[name] == documented.data[name], name


def test_a_received_at_with_an_odd_offset_is_stored_in_utc(client, people, categories):
    response = client.post(
        "/api/appeals",
        {"category": "pothole", "address": "1 Nowhere", "received_at": "2026-01-01T00:00:00-11:20"},
        content_type="application/json",
        **token(people["operator"]),
    )
    assert response.status_code == 201, response.content
    assert response.json()["received_at"] == "2026-01-01T11:20:00Z"


def test_appeals_key_prints_a_key_that_works_once_stored_hashed(client, run_command, categories):
    from orders.appeals.models import IntegrationKey

    key = run_command("appeals_key", "telegram", "--purpose", "intake").stdout.strip()
    assert len(key) >= 40 and IntegrationKey.objects.get(name="telegram").key_hash != key
    message = {"external_id": "1"}
    ok = client.post(
        "/api/appeals/intake", message, content_type="application/json", HTTP_X_API_KEY=key
    )
    assert ok.status_code == 201
    replaced = run_command("appeals_key", "telegram", "--purpose", "intake").stdout.strip()
    old = client.post(
        "/api/appeals/intake", message, content_type="application/json", HTTP_X_API_KEY=key
    )
    assert replaced != key and old.status_code == 403


def test_the_admin_shows_appeals_with_their_history(client, register, people):
    from gis.services import user_create_or_update

    appeal = register("pipe-burst")
    admin, _ = user_create_or_update(
        username="root", role="operator", password="pw-123456", is_staff=True
    )
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    for url in (
        "/admin/appeals/appeal/",
        f"/admin/appeals/appeal/{appeal.pk}/change/",
        "/admin/appeals/category/",
        "/admin/appeals/intakemessage/",
        "/admin/appeals/integrationkey/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/appeals/appeal/add/").status_code == 403
