"""The database keeps each appeal's district (migration 0004, orders/appeals/district_sql.py)."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon
from django.db import connection

from importers.derive import SOURCE as DERIVED
from layers.models import District
from layers.selectors import district_of
from orders.appeals import district_sql
from orders.appeals.models import Appeal
from orders.appeals.services.linking import appeal_relink
from tests.orders.appeals.conftest import at, square, token


def area(east_m: float, north_m: float, half_m: float) -> MultiPolygon:
    return MultiPolygon(square(east_m, north_m, half_m), srid=4326)


@pytest.fixture
def districts(db) -> dict[str, District]:
    """A and B side by side, west and east of the city point's meridian, 5 km tall."""
    return {
        "a": District.objects.create(
            source="t", source_id="a", name="A", geom=area(-2500, 0, 2499)
        ),
        "b": District.objects.create(source="t", source_id="b", name="B", geom=area(2500, 0, 2499)),
    }


def stored(appeal: Appeal) -> int | None:
    return Appeal.objects.values_list("district_id", flat=True).get(pk=appeal.pk)


def test_an_appeal_gets_the_district_its_point_is_in(register, districts) -> None:
    appeal = register("pipe-burst", (-20, 310))
    assert stored(appeal) == districts["a"].pk


def test_a_moved_appeal_gets_its_new_district(register, people, districts) -> None:
    appeal = register("pipe-burst", (-20, 310))
    appeal_relink(appeal_id=appeal.pk, by=people["operator"], point=at(20, 310), layer="")
    assert stored(appeal) == districts["b"].pk


def test_an_appeal_without_a_point_or_outside_every_district_has_none(register, districts) -> None:
    # (0, 3500) is north of both districts but inside the city's 2 km margin (city_extent).
    assert stored(register("pipe-burst", None, address="somewhere unknown")) is None
    assert stored(register("pipe-burst", (0, 3500))) is None


def test_a_stale_district_written_back_by_a_save_is_put_right(register, districts) -> None:
    appeal = register("pipe-burst", (-20, 310))
    Appeal.objects.filter(pk=appeal.pk).update(district=districts["b"])
    assert stored(appeal) == districts["a"].pk
    appeal.district_id = districts["b"].pk
    appeal.save()
    assert stored(appeal) == districts["a"].pk


def test_a_district_created_afterwards_takes_the_appeals_in_it(register, districts) -> None:
    far = register("pipe-burst", (0, 3500))
    inside = register("pipe-burst", (-20, 310))
    north = District.objects.create(source="t", source_id="n", name="N", geom=area(0, 3500, 500))
    assert (stored(far), stored(inside)) == (north.pk, districts["a"].pk)


def test_a_changed_district_gives_up_and_takes_appeals(register, districts) -> None:
    west = register("pipe-burst", (-20, 310))
    east = register("pipe-burst", (20, 310))
    a = districts["a"]
    a.geom = area(-2500, 0, 2000)  # no longer reaches the meridian
    a.save()
    assert (stored(west), stored(east)) == (None, districts["b"].pk)
    # Raw SQL, as an importer might write it, fires the same trigger.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE layers_district SET geom = %s WHERE id = %s",
            [area(0, 0, 3000).ewkt, districts["b"].pk],
        )
    assert (stored(west), stored(east)) == (districts["b"].pk, districts["b"].pk)


def test_a_deleted_district_leaves_its_appeals_to_the_one_under_it_or_none(
    register, districts
) -> None:
    west = register("pipe-burst", (-20, 310))
    east = register("pipe-burst", (20, 310))
    under = District.objects.create(
        source=DERIVED, source_id="u", name="Derived", geom=area(-100, 310, 200)
    )
    assert stored(west) == districts["a"].pk  # surveyed before derived

    districts["a"].delete()  # Django's SET_NULL, then the trigger
    assert stored(west) == under.pk
    with connection.cursor() as cursor:  # a raw DELETE: no SET_NULL, the trigger alone
        cursor.execute("DELETE FROM layers_district WHERE id = %s", [under.pk])
    assert stored(west) is None
    assert stored(east) == districts["b"].pk


def test_overlapping_districts_follow_the_one_rule(register, districts) -> None:
    appeal = register("pipe-burst", (20, 310))
    sub = District.objects.create(
        source="osm", source_id="r10", name="Sub", admin_level=10, geom=area(20, 310, 100)
    )
    assert stored(appeal) == sub.pk  # a district without a level loses to one with a level
    District.objects.filter(pk=districts["b"].pk).update(admin_level=9)
    assert stored(appeal) == districts["b"].pk  # a district before its sub-district
    District.objects.filter(pk=districts["b"].pk).update(admin_level=11)
    assert stored(appeal) == sub.pk
    District.objects.filter(pk=sub.pk).update(source=DERIVED)
    assert stored(appeal) == districts["b"].pk  # surveyed before derived
    # The stored value and layers.selectors.district_of agree.
    assert district_of(at(20, 310))["id"] == stored(appeal)


def test_bulk_created_appeals_get_their_districts(categories, districts) -> None:
    pipe = categories["pipe-burst"]
    made = Appeal.objects.bulk_create(
        Appeal(
            number=f"BULK-{i}",
            channel="import",
            category=pipe,
            geom=at(-20 if i % 2 else 20, 310),
            received_at="2026-01-05T10:00:00Z",
        )
        for i in range(20)
    )
    ids = {districts["a"].pk if i % 2 else districts["b"].pk for i in range(20)}
    assert {stored(a) for a in made} == ids


def test_the_appeal_detail_reads_the_stored_district(client, people, register, districts) -> None:
    appeal = register("pipe-burst", (20, 310))
    body = client.get(f"/api/appeals/{appeal.pk}", **token(people["operator"])).json()
    assert body["district"] == {"id": districts["b"].pk, "name": "B"}


def test_the_migrations_backfill_places_the_existing_appeals(register, districts) -> None:
    west, east, far = (register("pipe-burst", w) for w in ((-20, 310), (20, 310), (0, 3500)))
    with connection.cursor() as cursor:
        # As before migration 0004: the column empty, no trigger yet.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE wants no pending checks
        cursor.execute("ALTER TABLE appeals_appeal DISABLE TRIGGER appeals_appeal_district")
        cursor.execute("UPDATE appeals_appeal SET district_id = NULL")
        cursor.execute("ALTER TABLE appeals_appeal ENABLE TRIGGER appeals_appeal_district")
        assert stored(west) is None
        cursor.execute(district_sql.BACKFILL)
    assert [stored(a) for a in (west, east, far)] == [districts["a"].pk, districts["b"].pk, None]
