"""Public appeal tiles carry no personal data: decoded from the real ASGI tile server."""

from __future__ import annotations

import mapbox_vector_tile
import pytest

from gis.spatial import lonlat_to_tile
from tests.front import get_through_front
from tests.orders.appeals.conftest import at, token

pytestmark = pytest.mark.django_db(transaction=True)

PERSONAL = ("Anna", "Smith", "anna@example.org", "555 0100")


fetch = get_through_front


def test_public_appeal_tiles_show_no_names_phones_or_e_mails(register, people):
    appeal = register(
        "pothole",
        (0, 5),
        text="Hole by Anna Smith's house, call 410 555 0100, anna@example.org",
        address="12 Main Street",
        resident_name="Anna Smith",
        resident_phone="410 555 0100",
        resident_email="anna@example.org",
    )
    where = at(0, 5)
    x, y = lonlat_to_tile(where.x, where.y, 16)
    public = fetch(f"/tiles/appeals/16/{x}/{y}.mvt")
    assert public.status_code == 200
    for secret in PERSONAL:
        assert secret.encode() not in public.content
    [feature] = mapbox_vector_tile.decode(public.content)["appeals"]["features"]
    assert feature["id"] == appeal.pk
    assert set(feature["properties"]) <= {"source", "number", "category", "status", "received_at"}
    assert feature["properties"]["status"] == "new"
    assert feature["properties"]["category"] == "Pothole"
    # Operators see the text and the address on their map, still never the contact fields.
    staff = fetch(
        f"/tiles/appeals/16/{x}/{y}.mvt",
        {"Authorization": token(people["operator"])["HTTP_AUTHORIZATION"]},
    )
    [feature] = mapbox_vector_tile.decode(staff.content)["appeals"]["features"]
    assert feature["properties"]["address"] == "12 Main Street"
    assert not {"resident_name", "resident_phone", "resident_email"} & set(feature["properties"])
