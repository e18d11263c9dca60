"""Public appeal tiles carry no personal data: decoded from the real ASGI tile server."""

from __future__ import annotations

import asyncio

import httpx
import mapbox_vector_tile
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from gis.asgi import django_application
from gis.spatial import lonlat_to_tile
from tests.orders.appeals.conftest import at, token
from tiles.asgi import TileServer

pytestmark = pytest.mark.django_db(transaction=True)

PERSONAL = ("Anna", "Smith", "anna@example.org", "555 0100")


def fetch(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def main() -> httpx.Response:
        server = TileServer(django_application)
        try:
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get(path, headers=headers or {})
        finally:
            await server._stop()
            await sync_to_async(connections.close_all)()

    return asyncio.run(main())


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
