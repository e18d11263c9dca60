"""The OSM mapping table: which tags feed which layer, for which kind of OSM geometry."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from importers.osm_mapping import OSM_MAPPING, first_int, osm_date, rules_for, year
from layers.models import NetworkKind
from layers.registry import LAYERS
from orders.appeals.categories import LIGHTING


def layers(geometry: str, tags: dict[str, str]) -> list[str]:
    return [rule.layer for rule in rules_for(geometry, tags)]


def fields(layer: str, geometry: str, tags: dict[str, str]) -> dict[str, Any]:
    [rule] = [r for r in rules_for(geometry, tags) if r.layer == layer]
    return rule.fields(tags)


@pytest.mark.parametrize("geometry", ["node", "area"])
def test_building_tag_makes_a_building(geometry: str) -> None:
    assert layers(geometry, {"building": "yes"}) == ["buildings"]


def test_building_fields_come_from_tags() -> None:
    tags = {
        "building": "apartments",
        "addr:street": "East Fairmount Avenue",
        "addr:street:ru": "Восточная Фэрмаунт-авеню",
        "addr:housenumber": "2120",
        "building:levels": "3;4",
        "height": "10,5",
        "start_date": "1921-05",
    }
    assert fields("buildings", "area", tags) == {
        "name": "",
        "street": "East Fairmount Avenue",
        "street_names": {"ru": "Восточная Фэрмаунт-авеню"},
        "housenumber": "2120",
        "city": "",
        "postcode": "",
        "kind": "apartments",
        "flats": None,
        "floors": 3,
        "height_m": 10.5,
        "year_built": 1921,
    }


def test_building_no_is_not_a_building() -> None:
    assert layers("area", {"building": "no"}) == []


def test_closed_building_way_read_as_line_is_not_a_building() -> None:
    assert layers("line", {"building": "yes"}) == []


@pytest.mark.parametrize("geometry", ["node", "area"])
def test_playground_on_node_and_area(geometry: str) -> None:
    assert layers(geometry, {"leisure": "playground"}) == ["playgrounds"]


def test_closed_playground_way_is_not_matched_as_line() -> None:
    assert layers("line", {"leisure": "playground"}) == []


def test_soccer_pitch_is_a_football_field() -> None:
    tags = {"leisure": "pitch", "sport": "soccer", "surface": "grass"}
    assert layers("area", tags) == ["sports_fields"]
    assert fields("sports_fields", "area", tags)["kind"] == "football"


def test_unlisted_sport_keeps_its_name() -> None:
    tags = {"leisure": "pitch", "sport": "cricket"}
    assert fields("sports_fields", "area", tags)["kind"] == "cricket"


def test_pitch_that_is_a_building_feeds_both_layers() -> None:
    tags = {"leisure": "pitch", "sport": "basketball", "building": "yes"}
    assert layers("area", tags) == ["buildings", "sports_fields"]


def test_water_pipeline_is_a_water_network() -> None:
    tags = {"man_made": "pipeline", "substance": "water", "diameter": "300 mm"}
    assert layers("line", tags) == ["networks"]
    values = fields("networks", "line", tags)
    assert (values["kind"], values["diameter_mm"]) == (NetworkKind.WATER, 300)


def test_pipeline_without_substance_is_other() -> None:
    assert fields("networks", "line", {"man_made": "pipeline"})["kind"] == NetworkKind.OTHER


def test_gas_pipeline_by_type_tag() -> None:
    tags = {"man_made": "pipeline", "type": "natural_gas"}
    assert fields("networks", "line", tags)["kind"] == NetworkKind.GAS


def test_power_line_is_a_power_network_with_voltage() -> None:
    tags = {"power": "line", "voltage": "115000"}
    assert layers("line", tags) == ["networks"]
    values = fields("networks", "line", tags)
    assert (values["kind"], values["voltage_v"]) == (NetworkKind.POWER, 115000)


def test_multi_circuit_voltage_takes_the_first() -> None:
    tags = {"power": "line", "voltage": "230000;115000"}
    assert fields("networks", "line", tags)["voltage_v"] == 230000


def test_networks_name_their_owner_tag() -> None:
    [rule] = rules_for("line", {"power": "line", "operator": "BGE"})
    assert rule.owner_tag == "operator"


def test_pipeline_area_is_not_a_network() -> None:
    assert layers("area", {"man_made": "pipeline"}) == []


def test_sewer_manhole_node() -> None:
    tags = {"manhole": "sewer"}
    assert layers("node", tags) == ["manholes"]
    assert fields("manholes", "node", tags)["kind"] == NetworkKind.SEWER


def test_manhole_kind_from_utility() -> None:
    tags = {"man_made": "manhole", "utility": "telecom", "depth": "1.5"}
    assert fields("manholes", "node", tags) == {"kind": NetworkKind.TELECOM, "depth_m": 1.5}


def test_bus_stop_node() -> None:
    tags = {"highway": "bus_stop", "name": "Patterson Park Av & Baltimore St", "ref": "1234"}
    assert layers("node", tags) == ["bus_stops"]
    assert fields("bus_stops", "node", tags) == {
        "name": "Patterson Park Av & Baltimore St",
        "ref": "1234",
        "kind": "bus",
    }


def test_bus_platform_node_is_a_bus_stop() -> None:
    assert layers("node", {"public_transport": "platform", "bus": "yes"}) == ["bus_stops"]


@pytest.mark.parametrize(
    ("tags", "kind"),
    [
        ({"public_transport": "platform", "tram": "yes"}, "tram"),
        ({"railway": "tram_stop"}, "tram"),
        ({"public_transport": "stop_position", "trolleybus": "yes"}, "trolleybus"),
        ({"highway": "bus_stop", "trolleybus": "yes"}, "bus"),
        ({"railway": "station", "station": "subway"}, "subway"),
        ({"public_transport": "station", "subway": "yes"}, "subway"),
        ({"railway": "halt", "station": "light_rail"}, "light_rail"),
        ({"public_transport": "platform", "share_taxi": "yes"}, "share_taxi"),
    ],
)
def test_tram_trolleybus_and_metro_stops_are_public_transport_stops(
    tags: dict[str, str], kind: str
) -> None:
    assert layers("node", tags) == ["bus_stops"]
    assert fields("bus_stops", "node", tags)["kind"] == kind


@pytest.mark.parametrize(
    "tags",
    [
        {"railway": "station", "train": "yes", "public_transport": "station"},
        {"railway": "station"},
        {"public_transport": "platform", "ferry": "yes"},
        {"railway": "subway_entrance"},
    ],
)
def test_train_stations_and_ferry_piers_are_not_stops(tags: dict[str, str]) -> None:
    assert layers("node", tags) == []


def test_residential_highway_line_is_a_street() -> None:
    tags = {"highway": "residential", "name": "South Ann Street"}
    assert layers("line", tags) == ["streets"]
    assert fields("streets", "line", tags) == {
        "name": "South Ann Street",
        "names": {},
        "kind": "residential",
    }


def test_a_streets_names_in_other_languages_and_its_old_names() -> None:
    tags = {
        "highway": "primary",
        "name": "праспект Незалежнасці",
        "name:be": "праспект Незалежнасці",
        "name:ru": "проспект Независимости",
        "name:en": "Independence Avenue",
        "name:de": "Unabhängigkeitsprospekt",
        "old_name": "проспект Скорины;Ленинский проспект",
        "official_name": "",
    }
    assert fields("streets", "line", tags)["names"] == {
        "ru": "проспект Независимости",
        "be": "праспект Незалежнасці",
        "en": "Independence Avenue",
        "old_name": "проспект Скорины; Ленинский проспект",
    }


def test_highway_area_is_not_a_street() -> None:
    assert layers("area", {"highway": "pedestrian", "area": "yes"}) == []


def test_bus_stop_highway_is_not_a_street() -> None:
    assert layers("line", {"highway": "bus_stop"}) == []


def test_park_area_is_land() -> None:
    tags = {"leisure": "park", "name": "Patterson Park"}
    assert layers("area", tags) == ["land"]
    assert fields("land", "area", tags) == {"name": "Patterson Park", "kind": "park"}


def test_surveillance_camera_node() -> None:
    tags = {"man_made": "surveillance", "surveillance:type": "camera", "camera:type": "dome"}
    assert layers("node", tags) == ["cameras"]
    assert fields("cameras", "node", tags)["kind"] == "dome"


def test_untagged_object_matches_nothing() -> None:
    assert all(layers(geometry, {}) == [] for geometry in ("node", "line", "area"))


def test_every_rule_feeds_a_registered_layer_with_its_fields() -> None:
    for rule in OSM_MAPPING:
        model_fields = {f.name for f in LAYERS[rule.layer].model._meta.get_fields()}
        sample = {"highway": "residential"}
        assert set(rule.fields(sample)) <= model_fields, rule.layer


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014", date(2014, 1, 1)),
        ("2014-06", date(2014, 6, 1)),
        ("2014-06-03", date(2014, 6, 3)),
        (" 2014-06 ", date(2014, 6, 1)),
        ("2014-13", None),
        ("2014-02-30", None),
        ("June 2014", None),
        ("~1920", None),
        ("", None),
        (None, None),
    ],
)
def test_osm_date_is_the_first_day_it_can_mean(value: str | None, expected: date | None) -> None:
    assert osm_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("5", 5), ("5;7", 5), ("approx 12", 12), ("", None), (None, None)]
)
def test_first_int_takes_the_first_whole_number(value: str | None, expected: int | None) -> None:
    assert first_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("1921", 1921), ("1921-05-01", 1921), ("C18", None), ("0900", None)]
)
def test_year_of_start_date(value: str, expected: int | None) -> None:
    assert year(value) == expected


def test_street_lamp_node_is_a_street_light_of_the_lighting_service() -> None:
    tags = {"highway": "street_lamp", "ref": "L-12", "lamp_type": "electric"}
    assert layers("node", tags) == ["street_lights"]
    assert fields("street_lights", "node", tags) == {"ref": "L-12", "kind": "electric"}
    [rule] = rules_for("node", tags)
    assert rule.owner == LIGHTING


def test_street_lamp_ref_and_kind_fall_back_to_lamp_ref_and_light_method() -> None:
    tags = {"highway": "street_lamp", "lamp_ref": "7", "light:method": "LED"}
    assert fields("street_lights", "node", tags) == {"ref": "7", "kind": "LED"}


@pytest.mark.parametrize("level", ["9", "10"])
def test_named_admin_boundary_of_a_district_level_is_a_district(level: str) -> None:
    tags = {"boundary": "administrative", "admin_level": level, "name": "Алмалинский район"}
    assert layers("area", tags) == ["districts"]
    assert fields("districts", "area", tags) == {
        "name": "Алмалинский район",
        "admin_level": int(level),
    }


@pytest.mark.parametrize(
    "tags",
    [
        {"boundary": "administrative", "admin_level": "8", "name": "Baltimore"},
        {"boundary": "administrative", "admin_level": "9"},
        {"boundary": "postal_code", "admin_level": "9", "name": "21224"},
    ],
)
def test_city_level_unnamed_or_other_boundaries_are_not_districts(tags: dict[str, str]) -> None:
    assert layers("area", tags) == []


def test_district_admin_levels_come_from_the_setting(settings) -> None:
    settings.DISTRICT_ADMIN_LEVELS = (8,)
    tags = {"boundary": "administrative", "admin_level": "8", "name": "Baltimore"}
    assert layers("area", tags) == ["districts"]
    assert layers("area", {**tags, "admin_level": "9"}) == []


@pytest.mark.parametrize("kind", ["neighbourhood", "suburb", "quarter"])
def test_named_place_nodes_are_kept_for_derived_districts(kind: str) -> None:
    tags = {"place": kind, "name": "Fells Point"}
    assert layers("node", tags) == ["places"]
    assert fields("places", "node", tags) == {"name": "Fells Point", "kind": kind}


def test_cities_islands_and_unnamed_places_are_not_kept() -> None:
    assert layers("node", {"place": "city", "name": "Baltimore"}) == []
    assert layers("node", {"place": "neighbourhood"}) == []
