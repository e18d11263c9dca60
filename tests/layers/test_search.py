"""Address search (GET /api/search) on the real PostGIS: every spelling finds the same house."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import LineString, MultiPolygon, Point
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from pytest_django import DjangoDbBlocker

from gis.roles import PUBLIC as PUBLIC_VIEWER
from gis.roles import Role, Viewer
from gis.services import user_create_or_update
from layers.models import (
    Address,
    Building,
    Camera,
    NetworkKind,
    NetworkSegment,
    Playground,
    Street,
    StreetName,
    Yard,
)
from layers.rekey import recompute_search_keys
from layers.search import MAX_LIMIT, BadSearch, addresses_search
from tests.factories import rectangle

pytestmark = pytest.mark.django_db

OPERATOR = Viewer(role=Role.OPERATOR)
# A Kazakh city's centre (Petropavlovsk), and two other cities for same-address houses.
LON, LAT = 69.15, 54.87
ALMATY = (76.95, 43.24)
ASTANA = (71.43, 51.13)


def house(
    street: str,
    housenumber: str,
    *,
    at: tuple[float, float] = (LON, LAT),
    city: str = "",
    name: str = "",
) -> Building:
    """Save a building the way importers do: its search keys computed from its address."""
    obj = Building(
        source="t",
        source_id=f"{street}|{housenumber}|{city}|{at}",
        street=street,
        housenumber=housenumber,
        city=city,
        name=name,
        geom=MultiPolygon(rectangle(12, 12, *at), srid=4326),
    )
    obj.refresh_search_key()
    obj.save()
    return obj


def search(client: Client, q: str | None = None, **params: Any) -> Any:
    if q is not None:
        params["q"] = q
    headers = params.pop("headers", {})
    return client.get("/api/search", params, **headers)


def hits(client: Client, q: str, **params: Any) -> list[dict[str, Any]]:
    response = search(client, q, **params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def top(client: Client, q: str, **params: Any) -> tuple[str, int]:
    found = hits(client, q, **params)
    assert found, f"nothing found for {q!r}"
    return found[0]["layer"], found[0]["id"]


@pytest.fixture
def city() -> dict[str, Building]:
    houses = {
        "lenina_12k2": house("улица Ленина", "12 корп. 2"),
        "lenina_12": house("улица Ленина", "12", at=(LON + 0.001, LAT)),
        "lenina_12a": house("улица Ленина", "12А", at=(LON + 0.002, LAT)),
        "lenina_14": house("улица Ленина", "14", at=(LON + 0.003, LAT)),
        "lenina_16s1": house("улица Ленина", "16 стр. 1", at=(LON + 0.004, LAT)),
        "lenina_16k1": house("улица Ленина", "16 к1", at=(LON + 0.005, LAT)),
        "leningradskaya_12k2": house("улица Ленинградская", "12к2", at=(LON, LAT + 0.01)),
        "abaya_pr_150": house("проспект Абая", "150", at=(LON, LAT + 0.02)),
        "abaya_ul_150": house("улица Абая", "150", at=(LON + 0.001, LAT + 0.02)),
        "satpaev_22": house("Сәтпаев көшесі", "22", at=(LON, LAT + 0.03)),
        "koroleva_5": house("улица Королёва", "5", at=(LON, LAT + 0.04)),
        "mira_7_almaty": house("улица Мира", "7", at=ALMATY, city="Алматы"),
        "mira_7_astana": house("улица Мира", "7", at=ASTANA, city="Астана"),
        "n_charles_1200": house("North Charles Street", "1200", at=(-76.615, 39.303)),
        "s_charles_1200": house("South Charles Street", "1200", at=(-76.613, 39.276)),
        "fairmount_2120": house("East Fairmount Avenue", "2120", at=(-76.588, 39.295)),
    }
    return houses


@pytest.fixture
def operator() -> dict[str, str]:
    token = user_create_or_update(username="op", role=Role.OPERATOR)[1]
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


@pytest.fixture
def contractor() -> dict[str, str]:
    token = user_create_or_update(username="co", role=Role.CONTRACTOR, organisation_name="Acme")[1]
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


# --- every spelling of one house -------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        "улица Ленина, 12 корп. 2",
        "ул. Ленина, д. 12 корп. 2",
        "Ленина 12к2",
        "ленина 12 к 2",
        "Ленина 12 к. 2",
        "12 корп. 2 улица Ленина",
        "д. 12, корпус 2, ул. Ленина",
        "Ленина ул., дом 12, корпус 2",
        "ЛЕНИНА 12К2",
        "  ленина!!! 12к2 ?? ",
        "Ленина 12k2",
    ],
)
def test_korpus_forms_find_the_house_stored_as_korp(client: Client, city: dict, q: str) -> None:
    assert top(client, q) == ("buildings", city["lenina_12k2"].pk)


@pytest.mark.parametrize(
    "q",
    [
        "Ленина 16 с1",
        "ул. Ленина 16 стр. 1",
        "16 строение 1 Ленина",
        "Ленина 16с1",
        "Ленина 16 ст1",
    ],
)
def test_stroenie_forms_find_the_house_stored_as_str(client: Client, city: dict, q: str) -> None:
    assert top(client, q) == ("buildings", city["lenina_16s1"].pk)


def test_korpus_and_stroenie_of_one_number_stay_apart(client: Client, city: dict) -> None:
    assert top(client, "Ленина 16к1") == ("buildings", city["lenina_16k1"].pk)


@pytest.mark.parametrize(
    "q", ["Ленина 12А", "Ленина 12а", "Ленина 12a", "ленина 12 А", "12A Ленина"]
)
def test_letter_suffix_in_either_alphabet_finds_12a(client: Client, city: dict, q: str) -> None:
    assert top(client, q) == ("buildings", city["lenina_12a"].pk)


@pytest.mark.parametrize(
    "q", ["проспект Абая 150", "пр. Абая 150", "пр-т Абая, 150", "Абая просп. 150", "150 пр Абая"]
)
def test_prospekt_spellings_find_the_prospekt_not_the_ulitsa(
    client: Client, city: dict, q: str
) -> None:
    assert top(client, q) == ("buildings", city["abaya_pr_150"].pk)


@pytest.mark.parametrize("q", ["улица Абая 150", "ул. Абая, д. 150", "Абая 150"])
def test_ulitsa_and_untyped_street_find_the_ulitsa(client: Client, city: dict, q: str) -> None:
    assert top(client, q) == ("buildings", city["abaya_ul_150"].pk)


@pytest.mark.parametrize("q", ["Сәтпаев көшесі 22", "ул. Сәтпаев, 22", "СӘТПАЕВ 22", "22 Сәтпаев"])
def test_kazakh_street_is_found_with_its_letters(client: Client, city: dict, q: str) -> None:
    response = search(client, q)
    assert response.json()["parsed"]["street"] == "сәтпаев ул"
    assert top(client, q) == ("buildings", city["satpaev_22"].pk)


def test_kazakh_letter_is_kept_so_its_absence_is_a_typo(client: Client, city: dict) -> None:
    exact = hits(client, "Сәтпаев 22")[0]
    without = hits(client, "Сатпаев 22")[0]
    assert exact["id"] == without["id"] == city["satpaev_22"].pk
    assert without["score"] < exact["score"] == 1.0


@pytest.mark.parametrize("q", ["улица Королёва 5", "Королева 5", "КОРОЛЁВА, д. 5", "королева ул 5"])
def test_yo_and_ye_find_the_same_house(client: Client, city: dict, q: str) -> None:
    assert top(client, q) == ("buildings", city["koroleva_5"].pk)


@pytest.mark.parametrize("q", ["Ленена 12к2", "Линина 12 корп 2", "Ленин 12к2", "Леннина 12 к2"])
def test_one_typo_in_the_street_still_finds_the_house(client: Client, city: dict, q: str) -> None:
    assert top(client, q) == ("buildings", city["lenina_12k2"].pk)


@pytest.mark.parametrize(
    "q",
    [
        "1200 N Charles St",
        "1200 North Charles Street",
        "N Charles St 1200",
        "1200 n. charles st.",
        "1200 N Charels St",
        "1200 Charles Street North",
    ],
)
def test_english_forms_find_north_charles_street(client: Client, city: dict, q: str) -> None:
    assert top(client, q) == ("buildings", city["n_charles_1200"].pk)


def test_english_direction_decides_between_two_streets(client: Client, city: dict) -> None:
    assert top(client, "1200 S Charles St") == ("buildings", city["s_charles_1200"].pk)


@pytest.mark.parametrize("q", ["2120 E Fairmount Ave", "2120 East Fairmount Avenue"])
def test_english_abbreviations_find_the_avenue(client: Client, city: dict, q: str) -> None:
    assert top(client, q) == ("buildings", city["fairmount_2120"].pk)


# --- Moscow house numbers (#14 §1) ------------------------------------------------------------


@pytest.fixture
def moscow() -> dict[str, Building]:
    """Houses of central Moscow as OSM writes them.

    With the traps the parser once fell into: house 6 and 4к17 for "4/17 с6", house 35 for
    "3-5", 22к1 for "22/1".
    """
    at = iter((LON + i * 0.0005, LAT - 0.05) for i in range(100))
    return {
        key: house(street, number, at=next(at))
        for key, street, number in [
            ("pokr_4_17_s6", "Покровский бульвар", "4/17 с6"),
            ("pokr_4_17_s1", "Покровский бульвар", "4/17 с1"),
            ("pokr_4_17", "Покровский бульвар", "4/17"),
            ("pokr_4k17", "Покровский бульвар", "4к17"),
            ("pokr_6", "Покровский бульвар", "6"),
            ("pokr_16_16_s1", "Покровский бульвар", "16/16 с1"),
            ("sad_3_5_s2", "Садовая-Черногрязская улица", "3-5 с2"),
            ("sad_3_5", "Садовая-Черногрязская улица", "3-5"),
            ("sad_35", "Садовая-Черногрязская улица", "35"),
            ("sad_21_23_25_s1", "Садовая-Черногрязская улица", "21-23/25 с1"),
            ("mar_1_13_6_s2", "Маросейка улица", "1/13/6 с2"),
            ("mar_16_4_11", "Маросейка улица", "16/4/11"),
            ("mar_26a_s1", "Маросейка улица", "26А с1"),
            ("mar_26a", "Маросейка улица", "26А"),
            ("mar_12k2s3", "Маросейка улица", "12к2с3"),
            ("mar_12k2", "Маросейка улица", "12к2"),
            ("mar_22_1", "Маросейка улица", "22/1"),
            ("mar_22k1", "Маросейка улица", "22к1"),
            ("mar_5_lit_a", "Маросейка улица", "5 лит. А"),
            ("mar_vl_3_s1", "Маросейка улица", "вл. 3 с1"),
        ]
    }


@pytest.mark.parametrize(
    ("q", "key"),
    [
        ("Покровский бульвар, 4/17 с6", "pokr_4_17_s6"),
        ("Покровский бульвар 4/17 стр 6", "pokr_4_17_s6"),
        ("Покровский бульвар, дом 4/17 строение 6", "pokr_4_17_s6"),
        ("Покровский б-р 4/17с6", "pokr_4_17_s6"),
        ("бул. Покровский, д. 4/17, стр. 6", "pokr_4_17_s6"),
        ("Покровский бульвар 4/17 с1", "pokr_4_17_s1"),
        ("Покровский бульвар 4/17", "pokr_4_17"),
        ("Покровский бульвар 4 к 17", "pokr_4k17"),
        ("Покровский бульвар 6", "pokr_6"),
        ("Покровский бульвар 16/16 с1", "pokr_16_16_s1"),
        ("Садовая-Черногрязская 3-5 с2", "sad_3_5_s2"),
        ("Садовая-Черногрязская ул., 3–5, стр. 2", "sad_3_5_s2"),
        ("Садовая-Черногрязская 3-5", "sad_3_5"),
        ("Садовая-Черногрязская 35", "sad_35"),
        ("Садовая-Черногрязская 21-23/25 с1", "sad_21_23_25_s1"),
        ("Маросейка 1/13/6 с2", "mar_1_13_6_s2"),
        ("Маросейка 16/4/11", "mar_16_4_11"),
        ("Маросейка 26Ас1", "mar_26a_s1"),
        ("Маросейка 26 А стр 1", "mar_26a_s1"),
        ("Маросейка 26А", "mar_26a"),
        ("Маросейка 12к2с3", "mar_12k2s3"),
        ("ул. Маросейка, д. 12, корп. 2, стр. 3", "mar_12k2s3"),
        ("Маросейка 12к2", "mar_12k2"),
        ("Маросейка 22/1", "mar_22_1"),
        ("Маросейка 22 корпус 1", "mar_22k1"),
        ("Маросейка 5 литера А", "mar_5_lit_a"),
        ("Маросейка 5А", "mar_5_lit_a"),
        ("Маросейка владение 3 строение 1", "mar_vl_3_s1"),
        ("Маросейка 3с1", "mar_vl_3_s1"),
    ],
)
def test_moscow_house_number_forms_find_their_house_first(
    client: Client, moscow: dict, q: str, key: str
) -> None:
    assert top(client, q) == ("buildings", moscow[key].pk)


def test_a_missing_building_falls_back_to_its_corner_house_first(
    client: Client, moscow: dict
) -> None:
    # No 4/17 с9: the other buildings of the corner house 4/17 come before 4к17 and house 4.
    found = [h["id"] for h in hits(client, "Покровский бульвар 4/17 с9")]
    corner = {moscow[k].pk for k in ("pokr_4_17_s6", "pokr_4_17_s1", "pokr_4_17")}
    assert set(found[:3]) == corner
    assert moscow["pokr_6"].pk not in found[:3]


def test_a_missing_building_of_a_korpus_keeps_the_korpus_first(
    client: Client, moscow: dict
) -> None:
    found = [h["id"] for h in hits(client, "Маросейка 12к2с9")]
    assert set(found[:2]) == {moscow["mar_12k2s3"].pk, moscow["mar_12k2"].pk}


@pytest.mark.parametrize(
    ("q", "key"),
    [
        ("gjrhjdcrbq ,ekmdfh 4|17 c6", "pokr_4_17_s6"),
        ("gjrhjdcrbq ,ekmdfh 6", "pokr_6"),
        ("vfhjctqrf 12r2", "mar_12k2"),
        ("Vfhjctqrf 22|1", "mar_22_1"),
    ],
)
def test_russian_typed_on_the_latin_layout_is_found(
    client: Client, moscow: dict, q: str, key: str
) -> None:
    response = search(client, q)
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == moscow[key].pk
    assert response.json()["parsed"]["street"].startswith(("покровский", "маросейка"))


def test_latin_query_that_finds_its_house_is_not_swapped(client: Client, city: dict) -> None:
    response = search(client, "1200 N Charles St")
    assert response.json()["parsed"]["street"] == "charles n st"
    assert response.json()["results"][0]["id"] == city["n_charles_1200"].pk


def test_layout_swap_in_the_selector_and_the_front_agree(moscow: dict) -> None:
    result = addresses_search(q="vfhjctqrf 12r2", viewer=PUBLIC_VIEWER)
    assert result.hits[0].id == moscow["mar_12k2"].pk


# --- ranking ---------------------------------------------------------------------------------


def test_exact_house_first_then_same_number_then_neighbours(client: Client, city: dict) -> None:
    found = hits(client, "Ленина 12к2")
    ids = [h["id"] for h in found]
    assert ids[0] == city["lenina_12k2"].pk
    assert found[0]["score"] == 1.0
    # The exact house on a similar street (Ленинградская) still beats another part of the number.
    assert ids[1] == city["leningradskaya_12k2"].pk
    assert 0.75 < found[1]["score"] < 1.0
    assert set(ids[2:4]) == {city["lenina_12"].pk, city["lenina_12a"].pk}
    assert ids[4] == city["lenina_14"].pk
    scores = [h["score"] for h in found]
    assert scores == sorted(scores, reverse=True)


def test_missing_part_falls_back_to_same_number(client: Client, city: dict) -> None:
    found = hits(client, "Ленина 12к7")
    assert found[0]["id"] in {city["lenina_12"].pk, city["lenina_12a"].pk, city["lenina_12k2"].pk}
    assert found[0]["score"] < 1.0


def test_missing_number_falls_back_to_the_nearest_numbers(client: Client, city: dict) -> None:
    found = hits(client, "Ленина 15")
    one_away = {city[k].pk for k in ("lenina_14", "lenina_16s1", "lenina_16k1")}
    three_away = {city[k].pk for k in ("lenina_12", "lenina_12a", "lenina_12k2")}
    assert {h["id"] for h in found[:3]} == one_away
    assert {h["id"] for h in found[3:6]} == three_away
    assert all(0.25 < h["score"] <= 0.5 for h in found)


def test_exact_house_on_a_typo_street_beats_a_neighbour(client: Client, city: dict) -> None:
    # "Ленинградская 12к2" is an exact house; on Ленина, 12к2 exists too and is more similar.
    assert top(client, "Ленинградская 12к2") == ("buildings", city["leningradskaya_12k2"].pk)


@pytest.mark.parametrize(
    ("near", "expected"), [(ASTANA, "mira_7_astana"), (ALMATY, "mira_7_almaty")]
)
def test_near_breaks_ties_between_same_address_houses(
    client: Client, city: dict, near: tuple[float, float], expected: str
) -> None:
    found = hits(client, "улица Мира 7", near=f"{near[0]},{near[1]}")
    assert [h["id"] for h in found[:2]] == [
        city[expected].pk,
        city[({"mira_7_astana", "mira_7_almaty"} - {expected}).pop()].pk,
    ]
    assert found[0]["score"] == found[1]["score"] == 1.0


def test_hit_carries_layer_id_address_centroid_and_score(client: Client, city: dict) -> None:
    hit = hits(client, "Мира 7", near=f"{ALMATY[0]},{ALMATY[1]}")[0]
    assert set(hit) == {"layer", "id", "address", "centroid", "score"}
    assert hit["address"] == "7 улица Мира, Алматы"
    lon, lat = hit["centroid"]
    assert Point(lon, lat, srid=4326).within(city["mira_7_almaty"].geom)


def test_limit_caps_the_hits(client: Client, city: dict) -> None:
    assert len(hits(client, "Ленина 12", limit=2)) == 2
    assert len(hits(client, "Ленина 12")) == 7  # the six houses on Ленина + Ленинградская 12к2


# --- named layers and yards ------------------------------------------------------------------


def test_street_query_without_number_puts_the_street_first_as_one_hit(
    client: Client, city: dict
) -> None:
    segments = [
        Street.objects.create(
            name="улица Ленина",
            kind="residential",
            geom=LineString((LON + i * 0.002, LAT), (LON + (i + 1) * 0.002, LAT), srid=4326),
        )
        for i in range(3)
    ]
    for segment in segments:
        segment.refresh_search_key()
        segment.save()
    found = hits(client, "ул. Ленина", near=f"{LON + 0.005},{LAT}")
    assert found[0]["layer"] == "streets"
    assert found[0]["id"] == segments[2].pk  # the segment nearest to `near`
    assert [h["layer"] for h in found].count("streets") == 1
    assert {h["layer"] for h in found[1:]} == {"buildings"}


def test_named_objects_are_found_by_name(client: Client) -> None:
    playground = Playground(name="Детская площадка «Ромашка»", geom=Point(LON, LAT, srid=4326))
    playground.refresh_search_key()
    playground.save()
    assert top(client, "ромашка") == ("playgrounds", playground.pk)
    assert top(client, "площадка Ромашка") == ("playgrounds", playground.pk)


def test_yard_is_found_by_address_and_by_name_once(client: Client) -> None:
    yard = Yard(
        name="Yard behind 20–24 Main Street",
        address="20 Main Street",
        geom=rectangle(30, 30, LON, LAT),
    )
    yard.refresh_search_key()
    yard.save()
    assert top(client, "20 Main St") == ("yards", yard.pk)
    found = hits(client, "Main Street")
    assert [(h["layer"], h["id"]) for h in found].count(("yards", yard.pk)) == 1


def test_layers_narrows_the_search(client: Client, city: dict) -> None:
    yard = Yard(address="12 улица Ленина", geom=rectangle(30, 30, LON, LAT))
    yard.refresh_search_key()
    yard.save()
    assert {h["layer"] for h in hits(client, "Ленина 12")} == {"buildings", "yards"}
    assert {h["layer"] for h in hits(client, "Ленина 12", layers="yards")} == {"yards"}


# --- roles -----------------------------------------------------------------------------------


@pytest.fixture
def restricted() -> dict[str, Any]:
    pipe = NetworkSegment(
        kind=NetworkKind.HEAT,
        name="Теплотрасса Ленина",
        geom=LineString((LON, LAT), (LON + 0.001, LAT), srid=4326),
    )
    camera = Camera(name="Камера Ленина 12", geom=Point(LON, LAT, srid=4326))
    for obj in (pipe, camera):
        obj.refresh_search_key()
        obj.save()
    return {"pipe": pipe, "camera": camera}


def test_public_never_gets_restricted_hits(client: Client, city: dict, restricted: dict) -> None:
    assert {h["layer"] for h in hits(client, "Теплотрасса Ленина")} <= {"buildings", "streets"}
    assert "cameras" not in {h["layer"] for h in hits(client, "Камера Ленина 12")}


def test_operator_finds_restricted_objects(
    client: Client, city: dict, restricted: dict, operator: dict
) -> None:
    assert top(client, "Теплотрасса Ленина", headers=operator) == (
        "networks",
        restricted["pipe"].pk,
    )
    assert ("cameras", restricted["camera"].pk) in {
        (h["layer"], h["id"]) for h in hits(client, "Камера Ленина", headers=operator)
    }


def test_restricted_layer_asked_for_is_401_then_403(
    client: Client, restricted: dict, contractor: dict, operator: dict
) -> None:
    assert search(client, "Теплотрасса", layers="networks").status_code == 401
    assert search(client, "Теплотрасса", layers="networks", headers=contractor).status_code == 403
    assert search(client, "Теплотрасса", layers="networks", headers=operator).status_code == 200


def test_contractor_default_search_leaves_restricted_layers_out(
    client: Client, restricted: dict, contractor: dict
) -> None:
    found = hits(client, "Теплотрасса Ленина", headers=contractor)
    assert "networks" not in {h["layer"] for h in found}


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({}, 400, "q"),
        ({"q": ""}, 400, "q"),
        ({"q": "   "}, 400, "q"),
        ({"q": "л"}, 400, "q"),
        ({"q": " 1 "}, 400, "q"),
        ({"q": "!?"}, 400, "q"),
        ({"q": "x" * 201}, 400, "q"),
        ({"q": "Ленина 12", "limit": str(10**9)}, 400, "limit"),
        ({"q": "Ленина 12", "limit": "0"}, 400, "limit"),
        ({"q": "Ленина 12", "limit": "ten"}, 400, "limit"),
        ({"q": "Ленина 12", "near": "abc"}, 400, "near"),
        ({"q": "Ленина 12", "near": "69.1"}, 400, "near"),
        ({"q": "Ленина 12", "near": "1,2,3"}, 400, "near"),
        ({"q": "Ленина 12", "near": "200,50"}, 400, "near"),
        ({"q": "Ленина 12", "near": "69,-91"}, 400, "near"),
        ({"q": "Ленина 12", "near": "nan,nan"}, 400, "near"),
        ({"q": "Ленина 12", "near": "inf,0"}, 400, "near"),
        ({"q": "Ленина 12", "layers": ","}, 400, "layers"),
        ({"q": "Ленина 12", "layers": "manholes"}, 401, None),
        ({"q": "Ленина 12", "layers": "nowhere"}, 404, None),
        ({"q": "Ленина 12", "layers": "buildings,nowhere"}, 404, None),
    ],
)
def test_bad_input_is_a_clear_4xx(
    client: Client, city: dict, params: dict, status: int, field: str | None
) -> None:
    response = client.get("/api/search", params)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["message"]
    if field:
        assert field in error["fields"]
        assert error["message"].startswith(f"{field}:") or field == "q"


def test_short_query_message_says_what_to_do(client: Client) -> None:
    message = search(client, "a").json()["error"]["message"]
    assert message == "q: Type at least 2 characters to search."


def test_limit_over_the_maximum_is_refused_not_capped(client: Client, city: dict) -> None:
    assert search(client, "Ленина", limit=MAX_LIMIT).status_code == 200
    response = search(client, "Ленина", limit=MAX_LIMIT + 1)
    assert response.status_code == 400
    assert str(MAX_LIMIT) in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "call",
    [
        {"q": "a"},
        {"q": "Ленина 12", "limit": 0},
        {"q": "Ленина 12", "limit": MAX_LIMIT + 1},
        {"q": "Ленина 12", "near": (float("nan"), 0.0)},
        {"q": "Ленина 12", "near": (69.0, 91.0)},
        {"q": "Ленина 12", "layers": ["manholes"]},
    ],
)
def test_selector_refuses_what_the_view_refuses(call: dict) -> None:
    with pytest.raises(BadSearch):
        addresses_search(viewer=PUBLIC_VIEWER if "layers" not in call else OPERATOR, **call)


def test_layer_without_address_or_name_is_400(client: Client, operator: dict) -> None:
    response = search(client, "Ленина 12", layers="manholes", headers=operator)
    assert response.status_code == 400
    assert "no address or name" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "q",
    [
        "'; DROP TABLE layers_building; --",
        "Ленина 12'); DELETE FROM layers_streetname; --",
        "%(street)s %% _ \\",
        'x";DROP TABLE',
        "Ленина 12 %s %(lim)s",
        "\x00Ленина",
    ],
)
def test_sql_in_the_query_is_only_text(client: Client, city: dict, q: str) -> None:
    response = search(client, q)
    assert response.status_code in (200, 400)
    assert Building.objects.count() == len(city)
    assert StreetName.objects.count() == 10


# --- the write path: keys for rows of every origin -------------------------------------------


def test_street_names_follow_the_rows_through_a_trigger(city: dict) -> None:
    assert "ленина ул" in set(StreetName.objects.values_list("key", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE layers_building SET street_key = 'гагарина ул' WHERE id = %s",
            [city["koroleva_5"].pk],
        )
    assert StreetName.objects.filter(key="гагарина ул").exists()


def test_rows_written_by_plain_sql_are_found_after_refresh_search_keys(
    client: Client, city: dict
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO layers_building (source, source_id, created_at, updated_at, name, kind, "
            "street, housenumber, city, postcode, search_key, street_key, house_key, name_key, "
            "geom) VALUES ('sql', '1', now(), now(), '', '', 'улица Гагарина', '3 корп. 1', '', "
            "'', '', '', '', '', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(%s, %s), 4326), "
            "0.0001))) RETURNING id",
            [LON, LAT + 0.05],
        )
        [pk] = cursor.fetchone()
    assert not hits(client, "Гагарина 3к1")
    out = StringIO()
    call_command("refresh_search_keys", "--layer", "buildings", stdout=out)
    assert out.getvalue().startswith("refresh_search_keys: buildings 17 rows (1 changed); ")
    assert top(client, "Гагарина 3к1") == ("buildings", pk)
    again = StringIO()
    call_command("refresh_search_keys", stdout=again)
    assert "(0 changed)" in again.getvalue() and "+0 −0" in again.getvalue()


def test_refresh_search_keys_drops_street_names_no_row_uses(city: dict) -> None:
    StreetName.objects.create(key="несуществующая ул")
    out = StringIO()
    call_command("refresh_search_keys", stdout=out)
    assert "−1" in out.getvalue()
    assert not StreetName.objects.filter(key="несуществующая ул").exists()


def test_refresh_search_keys_refuses_a_layer_without_keys() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a searchable layer: manholes"):
        call_command("refresh_search_keys", "--layer", "manholes")


def test_openapi_documents_the_search(client: Client) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/search"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"q", "limit", "layers", "near"}
    assert "200" in operation["responses"]


# --- the demo city: real OpenStreetMap addresses ---------------------------------------------


@pytest.fixture(scope="module")
def baltimore(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker, osm_file: Path
) -> Iterator[None]:
    """Import the real extract once for this module; roll it back after its last test."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("import_osm", str(osm_file), stdout=StringIO())
        yield
        transaction.set_rollback(True)


@pytest.mark.e2e
@pytest.mark.usefixtures("baltimore")
@pytest.mark.parametrize(
    ("q", "street", "housenumber"),
    [
        ("536 South Ann Street", "South Ann Street", "536"),
        ("536 S Ann st", "South Ann Street", "536"),
        ("S. Ann Street 536", "South Ann Street", "536"),
        ("536 S Anne St", "South Ann Street", "536"),
        ("2021 East Pratt Street", "East Pratt Street", "2021"),
        ("2021 E Pratt St", "East Pratt Street", "2021"),
        ("2021 E Prat St", "East Pratt Street", "2021"),
        ("2706 O'Donnell Street", "O'Donnell Street", "2706"),
        ("2706 ODonnell St", "O'Donnell Street", "2706"),
        ("1924B Fleet Street", "Fleet Street", "1924B"),
        ("1924 b Fleet St", "Fleet Street", "1924B"),
        ("205 S Wolfe St", "South Wolfe Street", "205"),
        ("660 South Exeter St", "South Exeter Street", "660"),
    ],
)
def test_demo_city_real_addresses(client: Client, q: str, street: str, housenumber: str) -> None:
    layer, pk = top(client, q)
    found = Building.objects.get(pk=pk)
    assert (layer, found.street, found.housenumber) == ("buildings", street, housenumber)
    assert hits(client, q)[0]["score"] >= 0.85


@pytest.mark.e2e
@pytest.mark.usefixtures("baltimore")
@pytest.mark.parametrize(
    ("q", "street", "housenumber"),
    [
        ("2120 East Fairmount Avenue", "East Fairmount Avenue", "2120"),
        ("615 N Wolfe St", "North Wolfe Street", "615"),
        ("724 S Ann street", "South Ann Street", "724"),
    ],
)
def test_demo_city_address_only_on_a_poi_is_found_as_an_address(
    client: Client, q: str, street: str, housenumber: str
) -> None:
    # These addresses are on OSM points of interest (a synagogue, a school) and no building on
    # the street has the number: the address point itself comes first (#14 §3).
    first = hits(client, q)[0]
    found = Address.objects.get(pk=first["id"])
    assert (first["layer"], found.street, found.housenumber) == ("addresses", street, housenumber)
    assert first["score"] >= 0.85


@pytest.mark.e2e
@pytest.mark.usefixtures("baltimore")
def test_demo_city_street_is_one_hit(client: Client) -> None:
    found = hits(client, "East Fairmount Avenue")
    assert found[0]["layer"] == "streets"
    assert found[0]["address"] == "East Fairmount Avenue"
    assert [h["address"] for h in found if h["layer"] == "streets"].count(
        "East Fairmount Avenue"
    ) == 1


@pytest.mark.e2e
@pytest.mark.usefixtures("baltimore")
def test_demo_city_named_places(client: Client) -> None:
    found = hits(client, "Patterson Park")
    assert found and "Patterson Park" in found[0]["address"]


def test_the_rekey_migration_fixes_stale_keys_and_then_changes_nothing(
    client: Client, city: dict
) -> None:
    # A key stored by an older parser: "3-5" read as "35", the street without its type.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO layers_building (source, source_id, created_at, updated_at, name, kind, "
            "street, housenumber, city, postcode, search_key, street_key, house_key, name_key, "
            "house_number, geom) VALUES ('sql', '2', now(), now(), 'Дом  Быта', '', "
            "'улица Гагарина', '3-5 с2', '', '', 'гагарина 35', 'гагарина', '35', 'x', 35, "
            "ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 0.0001))) RETURNING id",
            [LON, LAT + 0.05],
        )
        [pk] = cursor.fetchone()
    executor = MigrationExecutor(connection)
    apps = executor.loader.project_state(("layers", "0009_recompute_search_keys")).apps
    with connection.schema_editor() as editor:
        assert recompute_search_keys(apps, editor) >= 1
    building = Building.objects.get(pk=pk)
    stored = (building.search_key, building.house_key, building.house_number, building.name_key)
    building.refresh_search_key()
    assert stored == (
        building.search_key,
        building.house_key,
        building.house_number,
        building.name_key,
    )
    assert building.house_key != "35"
    assert top(client, "Гагарина 3-5 с2") == ("buildings", pk)
    assert StreetName.objects.filter(key=building.street_key).exists()
    assert not StreetName.objects.filter(key="гагарина").exists()
    with connection.schema_editor() as editor:
        assert recompute_search_keys(apps, editor) == 0
