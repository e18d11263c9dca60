"""Everything addressable is found (#14 §3): address points, entrances and addressed areas.

A hand-made block of Moscow as OSM maps it: a building whose outline carries no address but
holds an address node, a building with its own address and a node repeating it, entrances on
an outline, a school ground and a park with an address, and an address node in no building.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from layers.models import Address, Building
from tests.factories import CommandRun

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]


def square(way_id: int, first_node: int, lat: float, lon: float, d: float, tags: str) -> str:
    """Four nodes and a closed way around (lat, lon), ``d`` degrees a side."""
    corners = [(lat, lon), (lat, lon + d), (lat + d, lon + d), (lat + d, lon)]
    nodes = "".join(
        f'<node id="{first_node + i}" version="1" lat="{a}" lon="{b}"/>'
        for i, (a, b) in enumerate(corners)
    )
    refs = "".join(f'<nd ref="{first_node + i}"/>' for i in (0, 1, 2, 3, 0))
    return f'{nodes}<way id="{way_id}" version="1">{refs}{tags}</way>'


def tags(**pairs: str) -> str:
    return "".join(f'<tag k="{k.replace("_", ":")}" v="{v}"/>' for k, v in pairs.items())


OSM = f"""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  {square(100, 1, 55.7580, 37.6440, 0.0004, tags(building="yes"))}
  {
    square(
        101,
        10,
        55.7590,
        37.6440,
        0.0004,
        tags(building="apartments")
        + '<tag k="addr:street" v="улица Маросейка"/>'
        + '<tag k="addr:housenumber" v="12"/>',
    )
}
  {
    square(
        102,
        20,
        55.7600,
        37.6440,
        0.0010,
        '<tag k="amenity" v="school"/><tag k="name" v="Школа № 1284"/>'
        '<tag k="addr:street" v="Покровский бульвар"/><tag k="addr:housenumber" v="6"/>',
    )
}
  {
    square(
        103,
        30,
        55.7620,
        37.6440,
        0.0010,
        '<tag k="leisure" v="park"/><tag k="name" v="Сквер"/>'
        '<tag k="addr:street" v="Покровский бульвар"/><tag k="addr:housenumber" v="8 влд. 1"/>',
    )
}
  <node id="50" version="1" lat="55.7582" lon="37.6442">
    <tag k="addr:street" v="Покровский бульвар"/><tag k="addr:housenumber" v="4/17 с6"/>
  </node>
  <node id="51" version="1" lat="55.7592" lon="37.6442">
    <tag k="addr:street" v="улица Маросейка"/><tag k="addr:housenumber" v="12"/>
    <tag k="shop" v="bakery"/>
  </node>
  <node id="52" version="1" lat="55.7640" lon="37.6500">
    <tag k="addr:street" v="Покровский бульвар"/><tag k="addr:housenumber" v="14/5"/>
  </node>
  <node id="53" version="1" lat="55.7592" lon="37.6443">
    <tag k="addr:street" v="Армянский переулок"/><tag k="addr:housenumber" v="1/8"/>
  </node>
</osm>
"""
# Entrances: corners 10 and 11 of building 101 (a vertex of its outline), one with an address of
# its own; node 1 of building 100.
OSM = OSM.replace(
    '<node id="10" version="1" lat="55.759" lon="37.644"/>',
    '<node id="10" version="1" lat="55.759" lon="37.644">'
    '<tag k="entrance" v="staircase"/><tag k="ref" v="1"/><tag k="addr:flats" v="1-36"/></node>',
).replace(
    '<node id="11" version="1" lat="55.759" lon="37.6444"/>',
    '<node id="11" version="1" lat="55.759" lon="37.6444">'
    '<tag k="entrance" v="main"/><tag k="ref" v="2"/></node>',
)


@pytest.fixture
def block(tmp_path: Path, run_command: RunCommand) -> CommandRun:
    assert 'tag k="entrance" v="staircase"' in OSM and 'tag k="entrance" v="main"' in OSM
    path = tmp_path / "moscow.osm"
    path.write_text(OSM, encoding="utf-8")
    return run_command("import_osm", str(path))


def first(client: Client, q: str) -> dict:
    response = client.get("/api/search", {"q": q})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results, f"nothing found for {q!r}"
    return results[0]


def test_an_address_node_in_a_building_without_one_is_found_and_attached(
    block: CommandRun, client: Client
) -> None:
    hit = first(client, "Покровский бульвар, 4/17 с6")
    address = Address.objects.get(source_id="n50")
    assert (hit["layer"], hit["id"]) == ("addresses", address.pk)
    assert address.kind == "point"
    assert address.building == Building.objects.get(source_id="w100")


def test_a_point_repeating_its_buildings_address_is_not_imported_but_counted(
    block: CommandRun, client: Client
) -> None:
    assert not Address.objects.filter(source_id="n51").exists()
    assert "1 address points repeating their building's address" in block.stdout
    hit = first(client, "Маросейка 12")
    assert (hit["layer"], hit["id"]) == ("buildings", Building.objects.get(source_id="w101").pk)


def test_entrances_are_attached_to_the_building_they_are_on(block: CommandRun) -> None:
    building = Building.objects.get(source_id="w101")
    entrances = {a.ref: a for a in building.addresses.filter(kind="entrance")}
    assert set(entrances) == {"1", "2"}
    assert entrances["1"].flats == "1-36"


def test_a_second_address_on_a_corner_house_is_found(block: CommandRun, client: Client) -> None:
    hit = first(client, "Армянский пер., 1/8")
    address = Address.objects.get(source_id="n53")
    assert (hit["layer"], hit["id"]) == ("addresses", address.pk)
    assert address.building == Building.objects.get(source_id="w101")


@pytest.mark.parametrize(
    ("q", "source_id"),
    [("Покровский бульвар 6", "w102"), ("Покровский б-р, 8 с1", "w103")],
)
def test_a_school_ground_and_a_park_with_an_address_are_found(
    block: CommandRun, client: Client, q: str, source_id: str
) -> None:
    hit = first(client, q)
    area = Address.objects.get(source_id=source_id)
    assert (hit["layer"], hit["id"]) == ("addresses", area.pk)
    assert area.kind == "area" and area.building is None
    assert area.geom.geom_type == "MultiPolygon"


def test_an_address_node_in_no_building_stands_alone(block: CommandRun, client: Client) -> None:
    hit = first(client, "Покровский бульвар 14/5")
    address = Address.objects.get(source_id="n52")
    assert (hit["layer"], hit["id"]) == ("addresses", address.pk)
    assert address.building is None


def test_the_buildings_card_lists_its_entrances(block: CommandRun, client: Client) -> None:
    building = Building.objects.get(source_id="w101")
    response = client.get(f"/api/objects/buildings/{building.pk}")
    assert response.status_code == 200, response.content
    addresses = response.json()["related"]["addresses"]
    assert addresses["title"] == "Entrances and other addresses"
    labels = sorted(f["properties"]["label"] for f in addresses["features"])
    assert labels == ["1/8 Армянский переулок", "12 улица Маросейка (1)", "12 улица Маросейка (2)"]


def test_a_second_import_changes_nothing(block: CommandRun, tmp_path: Path, run_command) -> None:
    path = tmp_path / "moscow.osm"
    second = run_command("import_osm", str(path))
    assert ", created 0, updated 0, " in second.stdout
