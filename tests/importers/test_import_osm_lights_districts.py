"""import_osm of street lamps, district boundaries (ways and relations) and place nodes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from layers.models import District, Organisation, Place, StreetLight
from orders.appeals.categories import LIGHTING
from tests.factories import CommandRun

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]

# A square way boundary (level 9), a two-way multipolygon relation (level 10), a city boundary
# (level 8, not a district), two lamps and a neighbourhood node.
OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" version="1" lat="39.270" lon="-76.590"/>
  <node id="2" version="1" lat="39.270" lon="-76.580"/>
  <node id="3" version="1" lat="39.280" lon="-76.580"/>
  <node id="4" version="1" lat="39.280" lon="-76.590"/>
  <node id="5" version="1" lat="39.270" lon="-76.570"/>
  <node id="6" version="1" lat="39.280" lon="-76.570"/>
  <node id="10" version="1" lat="39.275" lon="-76.585">
    <tag k="highway" v="street_lamp"/><tag k="ref" v="L-1"/><tag k="lamp_type" v="electric"/>
  </node>
  <node id="11" version="1" lat="39.276" lon="-76.575">
    <tag k="highway" v="street_lamp"/><tag k="operator" v="BGE"/>
  </node>
  <node id="12" version="1" lat="39.277" lon="-76.584">
    <tag k="place" v="neighbourhood"/><tag k="name" v="Fells Point"/>
  </node>
  <way id="100" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="boundary" v="administrative"/><tag k="admin_level" v="9"/>
    <tag k="name" v="Алмалинский район"/>
  </way>
  <way id="101" version="1"><nd ref="2"/><nd ref="5"/><nd ref="6"/><nd ref="3"/></way>
  <way id="102" version="1"><nd ref="3"/><nd ref="2"/></way>
  <relation id="200" version="1">
    <member type="way" ref="101" role="outer"/><member type="way" ref="102" role="outer"/>
    <tag k="type" v="boundary"/><tag k="boundary" v="administrative"/>
    <tag k="admin_level" v="10"/><tag k="name" v="East Side"/>
  </relation>
  <relation id="201" version="1">
    <member type="way" ref="100" role="outer"/>
    <tag k="type" v="boundary"/><tag k="boundary" v="administrative"/>
    <tag k="admin_level" v="8"/><tag k="name" v="Baltimore"/>
  </relation>
</osm>
"""


@pytest.fixture
def osm(tmp_path: Path) -> Path:
    path = tmp_path / "city.osm"
    path.write_text(OSM, encoding="utf-8")
    return path


def test_lamps_are_street_lights_owned_by_the_lighting_service(
    run_command: RunCommand, osm: Path
) -> None:
    run_command("import_osm", str(osm))

    lights = {light.source_id: light for light in StreetLight.objects.select_related("owner")}
    assert set(lights) == {"n10", "n11"}
    assert (lights["n10"].ref, lights["n10"].kind) == ("L-1", "electric")
    assert {light.owner.name for light in lights.values()} == {LIGHTING}
    assert Organisation.objects.get(name=LIGHTING).kind == Organisation.Kind.SERVICE


def test_district_level_boundaries_are_districts_from_ways_and_relations(
    run_command: RunCommand, osm: Path
) -> None:
    run_command("import_osm", str(osm))

    districts = {d.source_id: d for d in District.objects.all()}
    assert set(districts) == {"w100", "r200"}
    assert (districts["w100"].name, districts["w100"].admin_level) == ("Алмалинский район", 9)
    assert (districts["r200"].name, districts["r200"].admin_level) == ("East Side", 10)
    assert districts["r200"].geom.area == pytest.approx(0.01 * 0.01)
    assert districts["w100"].name_key  # found by the name search


def test_place_nodes_are_kept(run_command: RunCommand, osm: Path) -> None:
    run_command("import_osm", str(osm))
    assert list(Place.objects.values_list("source_id", "name", "kind")) == [
        ("n12", "Fells Point", "neighbourhood")
    ]


def test_second_import_changes_nothing(run_command: RunCommand, osm: Path) -> None:
    run_command("import_osm", str(osm))
    second = run_command("import_osm", str(osm))
    assert "created 0, updated 0" in second.stdout
