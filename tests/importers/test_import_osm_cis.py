"""import_osm of an openstreetmap.org export of a CIS city: trams, trolleybuses, the metro.

Relations reach past the file's bounds, some kinds no layer takes, no district level fits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from layers.models import BusRoute, BusStop, District, LandArea
from tests.factories import CommandRun

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]

# Around a square in Almaty: a street with a bus stop, a tram line with a tram stop, a
# trolleybus wire on the street, a metro line with two stations; relations as an export of a
# bounding box writes them, with members outside it (ways 900, 901 and node 902 are not here).
OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <bounds minlat="43.230" minlon="76.930" maxlat="43.250" maxlon="76.960"/>
  <node id="1" version="1" lat="43.240" lon="76.930"/>
  <node id="2" version="1" lat="43.240" lon="76.940"/>
  <node id="3" version="1" lat="43.240" lon="76.950"/>
  <node id="4" version="1" lat="43.235" lon="76.930"/>
  <node id="5" version="1" lat="43.235" lon="76.950"/>
  <node id="6" version="1" lat="43.245" lon="76.930"/>
  <node id="7" version="1" lat="43.245" lon="76.950"/>
  <node id="8" version="1" lat="43.232" lon="76.932"/>
  <node id="9" version="1" lat="43.232" lon="76.936"/>
  <node id="10" version="1" lat="43.236" lon="76.936"/>
  <node id="20" version="1" lat="43.2401" lon="76.935">
    <tag k="highway" v="bus_stop"/><tag k="name" v="Площадь Республики"/>
    <tag k="trolleybus" v="yes"/>
  </node>
  <node id="21" version="1" lat="43.2351" lon="76.940">
    <tag k="railway" v="tram_stop"/><tag k="name" v="Трамвайное депо"/>
  </node>
  <node id="22" version="1" lat="43.245" lon="76.935">
    <tag k="railway" v="station"/><tag k="station" v="subway"/><tag k="name" v="Алмалы"/>
  </node>
  <node id="23" version="1" lat="43.245" lon="76.945">
    <tag k="public_transport" v="station"/><tag k="subway" v="yes"/>
    <tag k="name" v="Абая"/><tag k="name:kk" v="Абай"/>
  </node>
  <node id="24" version="1" lat="43.2402" lon="76.945">
    <tag k="public_transport" v="platform"/><tag k="bus" v="yes"/><tag k="name" v="ЦУМ"/>
  </node>
  <node id="25" version="1" lat="43.246" lon="76.940">
    <tag k="railway" v="station"/><tag k="name" v="Алматы-2"/><tag k="train" v="yes"/>
  </node>
  <way id="100" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="name" v="проспект Абая"/>
    <tag k="trolley_wire" v="yes"/>
  </way>
  <way id="101" version="1">
    <nd ref="4"/><nd ref="5"/><tag k="railway" v="tram"/>
  </way>
  <way id="102" version="1">
    <nd ref="6"/><nd ref="7"/><tag k="railway" v="subway"/><tag k="tunnel" v="yes"/>
  </way>
  <way id="103" version="1">
    <nd ref="8"/><nd ref="9"/><nd ref="10"/><nd ref="8"/>
  </way>
  <relation id="200" version="1">
    <member type="node" ref="20" role="platform"/><member type="way" ref="100" role=""/>
    <member type="node" ref="24" role="platform"/>
    <tag k="type" v="route"/><tag k="route" v="bus"/><tag k="ref" v="32"/>
    <tag k="name" v="Автобус 32"/>
  </relation>
  <relation id="201" version="1">
    <member type="way" ref="100" role=""/><member type="way" ref="900" role=""/>
    <member type="node" ref="20" role="stop"/>
    <tag k="type" v="route"/><tag k="route" v="trolleybus"/><tag k="ref" v="5"/>
  </relation>
  <relation id="202" version="1">
    <member type="node" ref="21" role="stop"/><member type="way" ref="101" role=""/>
    <tag k="type" v="route"/><tag k="route" v="tram"/><tag k="ref" v="4"/>
  </relation>
  <relation id="203" version="1">
    <member type="node" ref="22" role="stop"/><member type="node" ref="23" role="stop"/>
    <member type="way" ref="102" role=""/><member type="way" ref="901" role=""/>
    <tag k="type" v="route"/><tag k="route" v="subway"/><tag k="ref" v="1"/>
    <tag k="name" v="Первая линия"/>
  </relation>
  <relation id="204" version="1">
    <member type="node" ref="20" role="stop"/><member type="node" ref="24" role="stop"/>
    <tag k="type" v="route"/><tag k="route" v="share_taxi"/><tag k="ref" v="540"/>
  </relation>
  <relation id="205" version="1">
    <member type="way" ref="901" role=""/><member type="node" ref="25" role="stop"/>
    <tag k="type" v="route"/><tag k="route" v="train"/><tag k="name" v="Алматы — Астана"/>
  </relation>
  <relation id="206" version="1">
    <member type="relation" ref="200" role=""/>
    <tag k="type" v="route_master"/><tag k="route_master" v="bus"/><tag k="ref" v="32"/>
  </relation>
  <relation id="207" version="1">
    <member type="way" ref="103" role="outer"/><member type="way" ref="900" role="outer"/>
    <tag k="type" v="boundary"/><tag k="boundary" v="administrative"/>
    <tag k="admin_level" v="9"/><tag k="name" v="Алмалинский район"/>
  </relation>
  <relation id="208" version="1">
    <member type="way" ref="103" role="outer"/>
    <tag k="type" v="multipolygon"/><tag k="leisure" v="park"/><tag k="name" v="Парк"/>
  </relation>
  <relation id="209" version="1">
    <member type="way" ref="900" role="outer"/><member type="way" ref="901" role="outer"/>
    <tag k="type" v="multipolygon"/><tag k="landuse" v="grass"/>
  </relation>
  <relation id="210" version="1">
    <member type="way" ref="900" role="outer"/>
    <tag k="type" v="boundary"/><tag k="boundary" v="administrative"/>
    <tag k="admin_level" v="4"/><tag k="name" v="Алматы"/>
  </relation>
</osm>
"""


@pytest.fixture
def osm(tmp_path: Path) -> Path:
    path = tmp_path / "almaty.osm"
    path.write_text(OSM, encoding="utf-8")
    return path


def test_trams_trolleybuses_minibuses_and_the_metro_are_routes_with_their_stops(
    run_command: RunCommand, osm: Path
) -> None:
    run_command("import_osm", str(osm))
    routes = {r.source_id: r for r in BusRoute.objects.all()}
    assert {k: (r.kind, r.ref, r.partial) for k, r in routes.items()} == {
        "r200": ("bus", "32", False),
        "r201": ("trolleybus", "5", True),
        "r202": ("tram", "4", False),
        "r203": ("subway", "1", True),
    }
    stops = dict(BusStop.objects.values_list("name", "kind"))
    assert stops == {
        "Площадь Республики": "bus",
        "ЦУМ": "bus",
        "Трамвайное депо": "tram",
        "Алмалы": "subway",
        "Абая": "subway",
    }
    assert [s.name for s in routes["r203"].stops.order_by("route_stops__sequence")] == [
        "Алмалы",
        "Абая",
    ]
    assert [s.name for s in routes["r202"].stops.all()] == ["Трамвайное депо"]
    # The metro line is built from the one of its two ways the file has.
    assert len(routes["r203"].geom) == 1


def test_what_the_file_cannot_build_is_skipped_and_counted_and_the_rest_imports(
    run_command: RunCommand, osm: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    run = run_command("import_osm", str(osm), "--report", str(report))
    summary = run.stdout.splitlines()[-1]
    assert "rejected 0, skipped 5 (" in summary
    for kind in (
        "1 bus route masters",
        "1 incomplete boundaries",
        "1 incomplete land",
        "1 incomplete share taxi routes",
        "1 train routes",
    ):
        assert kind in summary
    assert "skipped share taxi routes osm r204: none of its ways is in the file" in run.stderr
    assert "skipped boundaries osm r207: multipolygon could not be assembled" in run.stderr
    assert "note: 2 public transport routes are partial" in run.stdout
    written = json.loads(report.read_text())
    assert written["skipped"]["train routes"] == 1
    assert {r["row"] for r in written["skipped_rows"]} == {"osm r204", "osm r207", "osm r209"}
    # The park whose only ring is in the file is built.
    assert LandArea.objects.filter(source_id="r208", kind="park").exists()


def test_strict_is_all_or_nothing(run_command: RunCommand, osm: Path) -> None:
    with pytest.raises(CommandError, match=r"3 rows rejected, nothing was written \(--strict"):
        run_command("import_osm", str(osm), "--strict")
    assert not BusRoute.objects.exists() and not BusStop.objects.exists()


def test_no_district_says_why_and_which_levels_the_file_has(
    run_command: RunCommand, osm: Path, settings
) -> None:
    settings.DISTRICT_ADMIN_LEVELS = (10,)
    run = run_command("import_osm", str(osm))
    assert not District.objects.exists()
    assert (
        "note: no districts: DISTRICT_ADMIN_LEVELS is 10 and it has admin_level 4 (1), "
        "admin_level 9 (1); set DISTRICT_ADMIN_LEVELS" in run.stdout
    )


def test_a_second_run_changes_nothing(run_command: RunCommand, osm: Path) -> None:
    run_command("import_osm", str(osm))
    second = run_command("import_osm", str(osm))
    assert ", created 0, updated 0, " in second.stdout
