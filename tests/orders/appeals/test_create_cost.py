"""What registering an appeal costs: no row read back, and the per-process copies (refdata)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.contrib.gis.geos import MultiPolygon
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from layers.models import District, Organisation
from layers.selectors import city_extent
from orders.appeals import refdata, selectors
from orders.appeals.models import Appeal, Category
from tests.orders.appeals.conftest import NETWORK_N, at, square, token

NOTICE_S = 5.0


@pytest.fixture
def districts(db) -> dict[str, District]:
    """A west of the city point's meridian, and nothing north of 5 km."""
    area = MultiPolygon(square(-2500, 0, 2499), srid=4326)
    return {"a": District.objects.create(source="t", source_id="a", name="A", geom=area)}


def create(client, people, **body) -> tuple[dict, list[str]]:
    where = at(-20, NETWORK_N + 5)
    body = {"category": "pipe-burst", "lon": where.x, "lat": where.y, **body}
    city_extent()  # a per-process copy, read once a minute: what every later appeal finds
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/appeals", body, content_type="application/json", **token(people["operator"])
        )
    assert response.status_code == 201, response.content
    return response.json(), [q["sql"] for q in queries.captured_queries]


def eventually(check: Callable[[], bool]) -> bool:
    """Whether ``check()`` comes true within NOTICE_S seconds (a notice has to arrive first)."""
    deadline = time.monotonic() + NOTICE_S
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


@pytest.mark.django_db
def test_the_created_appeal_is_answered_as_its_detail_without_reading_it_back(
    client, people, city, districts
):
    created, sql = create(client, people, resident_name="Anna", text="Water everywhere")
    detail = client.get(f"/api/appeals/{created['id']}", **token(people["operator"])).json()
    assert created == detail
    assert created["district"] == {"id": districts["a"].pk, "name": "A"}
    assert created["linked"]["id"] == city["pipe"].pk
    assert [h["action"] for h in created["history"]] == ["registered"]
    assert not [q for q in sql if 'FROM "appeals_appealhistory"' in q]
    assert not [q for q in sql if q.startswith("SELECT") and '"appeals_appeal"' in q]


@pytest.mark.django_db
def test_an_appeal_outside_every_district_looks_no_district_up(client, people, city, districts):
    where = at(0, 4000)  # north of the district, within the city's margin
    created, sql = create(client, people, lon=where.x, lat=where.y)
    assert created["district"] is None
    assert not [q for q in sql if '"layers_district"' in q]


@pytest.mark.django_db
def test_the_insert_reads_the_stored_district_back(register, districts):
    appeal = register("pipe-burst", (-20, 310))
    assert appeal.district_id == districts["a"].pk
    assert Appeal.objects.get(pk=appeal.pk).district_id == districts["a"].pk
    assert register("pipe-burst", (0, 4000)).district_id is None


@pytest.mark.django_db
def test_inside_a_transaction_the_rows_are_always_read(categories):
    refdata.cache.wait_listening(NOTICE_S)
    with CaptureQueriesContext(connection) as queries:
        selectors.category_by_code("pothole")
        selectors.category_by_code("pothole")
    assert len(queries.captured_queries) == 2


@pytest.mark.django_db(transaction=True)
def test_a_copied_category_is_read_again_once_it_changes(categories):
    assert refdata.cache.wait_listening(NOTICE_S)
    assert selectors.category_by_code("pothole").sla_hours == categories["pothole"].sla_hours
    with CaptureQueriesContext(connection) as queries:
        assert selectors.category_by_code("pothole").sla_hours == categories["pothole"].sla_hours
    assert queries.captured_queries == []

    Category.objects.filter(code="pothole").update(sla_hours=5)
    assert eventually(lambda: selectors.category_by_code("pothole").sla_hours == 5)
    organisation = categories["pothole"].organisation
    Organisation.objects.filter(pk=organisation.pk).update(name="Roads, renamed")
    assert eventually(
        lambda: selectors.category_by_code("pothole").organisation.name == "Roads, renamed"
    )
    Category.objects.filter(code="pothole").update(active=False)
    assert eventually(lambda: selectors.category_by_code("pothole") is None)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_is_never_copied(categories):
    assert refdata.cache.wait_listening(NOTICE_S)
    with transaction.atomic():
        Category.objects.filter(code="pothole").update(sla_hours=5)
        assert selectors.category_by_code("pothole").sla_hours == 5
        transaction.set_rollback(True)
    assert selectors.category_by_code("pothole").sla_hours == categories["pothole"].sla_hours


@pytest.mark.django_db(transaction=True)
def test_a_copied_district_name_follows_a_rename(client, people, city, districts):
    assert refdata.cache.wait_listening(NOTICE_S)
    assert create(client, people)[0]["district"]["name"] == "A"
    District.objects.filter(pk=districts["a"].pk).update(name="A, renamed")
    assert eventually(lambda: create(client, people)[0]["district"]["name"] == "A, renamed")


@pytest.mark.django_db(transaction=True)
def test_a_copied_token_stops_working_once_its_user_is_deactivated(client, people, city):
    assert refdata.cache.wait_listening(NOTICE_S)
    _, first = create(client, people)
    _, second = create(client, people)
    assert any('"authtoken_token"' in q for q in first)
    assert not any('"authtoken_token"' in q or '"appeals_category"' in q for q in second)

    operator = people["operator"]
    operator.is_active = False
    operator.save()

    def refused() -> bool:
        response = client.post(
            "/api/appeals",
            {"category": "pipe-burst", "address": "12 Main Street"},
            content_type="application/json",
            **token(operator),
        )
        return response.status_code == 401

    assert eventually(refused)


@pytest.mark.django_db(transaction=True)
def test_a_deleted_token_stops_working(client, people, city):
    assert refdata.cache.wait_listening(NOTICE_S)
    headers = token(people["operator"])
    create(client, people)
    people["operator"].auth_token.delete()

    def refused() -> bool:
        response = client.get("/api/appeals?limit=1", **headers)
        return response.status_code == 401

    assert eventually(refused)
