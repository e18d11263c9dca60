"""Buildings tiles carry render_height_m, the height a 3D map extrudes them by."""

from __future__ import annotations

import pytest

from layers.models import Building
from tests.front import run_front
from tests.tiles.test_api import LAT, LON, decode, square, tile_path

pytestmark = pytest.mark.django_db(transaction=True)


def test_buildings_tile_carries_the_render_height() -> None:
    floors_only = Building.objects.create(
        source="test", source_id="f", floors=5, geom=square(LON, LAT)
    )
    surveyed = Building.objects.create(
        source="test", source_id="h", floors=5, height_m=21.5, geom=square(LON + 0.0005, LAT)
    )
    unknown = Building.objects.create(source="test", source_id="u", geom=square(LON, LAT + 0.0005))

    async def scenario(client, _):
        return await client.get(tile_path("buildings", LON, LAT))

    features = {
        f["id"]: f["properties"] for f in decode(run_front(scenario))["buildings"]["features"]
    }
    assert features[floors_only.pk]["render_height_m"] == 15.0
    assert features[surveyed.pk]["render_height_m"] == 21.5
    # No height and no floors: nothing to extrude by; the map falls back to its default.
    assert "render_height_m" not in features[unknown.pk]


def test_tilejson_lists_render_height_among_the_buildings_fields(client) -> None:
    Building.objects.create(source="test", source_id="f", floors=5, geom=square(LON, LAT))
    body = client.get("/tiles/buildings.json").json()
    [buildings] = body["vector_layers"]
    assert buildings["fields"]["render_height_m"] == "Number"
