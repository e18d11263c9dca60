"""One street, several languages (#14 §2): a house is found by any of its street's names.

Hand-made OpenStreetMap fixtures of the forms CIS cities map: a Minsk avenue whose ``name`` is
Belarusian with ``name:ru`` and ``name:en``, an Almaty avenue whose ``name`` is Kazakh and whose
houses carry the Russian name, a renamed street (``old_name``), and a house whose street is
given in Kazakh too (``addr:street:kk``), with no street way for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from pytest_django import DjangoDbBlocker

from layers.models import Building, Street, StreetAlias
from layers.services import street_aliases_refresh

OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" version="1" lat="53.900" lon="27.560"/>
  <node id="2" version="1" lat="53.905" lon="27.570"/>
  <node id="3" version="1" lat="43.240" lon="76.930"/>
  <node id="4" version="1" lat="43.240" lon="76.950"/>
  <node id="5" version="1" lat="43.250" lon="76.930"/>
  <node id="6" version="1" lat="43.250" lon="76.950"/>
  <node id="10" version="1" lat="53.9021" lon="27.5651">
    <tag k="building" v="apartments"/><tag k="addr:street" v="праспект Незалежнасці"/>
    <tag k="addr:housenumber" v="16"/>
  </node>
  <node id="11" version="1" lat="53.9025" lon="27.5661">
    <tag k="building" v="apartments"/><tag k="addr:street" v="праспект Незалежнасці"/>
    <tag k="addr:housenumber" v="18"/>
  </node>
  <node id="12" version="1" lat="43.2401" lon="76.9401">
    <tag k="building" v="apartments"/><tag k="addr:street" v="проспект Абая"/>
    <tag k="addr:housenumber" v="10"/>
  </node>
  <node id="13" version="1" lat="43.2501" lon="76.9401">
    <tag k="building" v="apartments"/><tag k="addr:street" v="улица Желтоксан"/>
    <tag k="addr:housenumber" v="115"/>
  </node>
  <node id="14" version="1" lat="43.2451" lon="76.9451">
    <tag k="building" v="yes"/><tag k="addr:street" v="улица Толе би"/>
    <tag k="addr:street:kk" v="Төле би көшесі"/><tag k="addr:housenumber" v="59"/>
  </node>
  <way id="100" version="1">
    <nd ref="1"/><nd ref="2"/>
    <tag k="highway" v="primary"/><tag k="name" v="праспект Незалежнасці"/>
    <tag k="name:be" v="праспект Незалежнасці"/><tag k="name:ru" v="проспект Независимости"/>
    <tag k="name:en" v="Independence Avenue"/>
  </way>
  <way id="101" version="1">
    <nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="primary"/><tag k="name" v="Абай даңғылы"/>
    <tag k="name:kk" v="Абай даңғылы"/><tag k="name:ru" v="проспект Абая"/>
    <tag k="name:en" v="Abay Avenue"/>
  </way>
  <way id="102" version="1">
    <nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="secondary"/><tag k="name" v="Желтоқсан көшесі"/>
    <tag k="name:ru" v="улица Желтоксан"/><tag k="old_name" v="улица Мира;Мира көшесі"/>
  </way>
</osm>
"""


@pytest.fixture(scope="module")
def cities(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker, tmp_path_factory
) -> Iterator[dict[str, int]]:
    """Import the fixture once for this module; roll it back after its last test."""
    path: Path = tmp_path_factory.mktemp("osm") / "cis.osm"
    path.write_text(OSM, encoding="utf-8")
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("import_osm", str(path), stdout=out)
        houses = {
            f"{b.street} {b.housenumber}": b.pk for b in Building.objects.filter(source="osm")
        }
        yield {"stdout": out.getvalue(), **houses}
        transaction.set_rollback(True)


def first(client: Client, q: str) -> tuple[str, int] | None:
    response = client.get("/api/search", {"q": q})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    return (results[0]["layer"], results[0]["id"]) if results else None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("q", "house"),
    [
        # Minsk: the houses carry the Belarusian name; residents say the Russian one.
        ("проспект Независимости 16", "праспект Незалежнасці 16"),
        ("пр-т Независимости, д. 16", "праспект Незалежнасці 16"),
        ("просп. Независимости 18", "праспект Незалежнасці 18"),
        ("Независимости 16", "праспект Незалежнасці 16"),
        ("проспект Незовисимости 16", "праспект Незалежнасці 16"),
        ("праспект Незалежнасці 16", "праспект Незалежнасці 16"),
        ("Independence Avenue 16", "праспект Незалежнасці 16"),
        ("16 Independence Ave", "праспект Незалежнасці 16"),
        # Almaty: the street's name is Kazakh; its houses carry the Russian one.
        ("Абай даңғылы 10", "проспект Абая 10"),
        ("Абай даңғ. 10", "проспект Абая 10"),
        ("проспект Абая 10", "проспект Абая 10"),
        ("Abay Avenue 10", "проспект Абая 10"),
        # Renamed: the old name still finds the house.
        ("улица Мира 115", "улица Желтоксан 115"),
        ("Мира көшесі 115", "улица Желтоксан 115"),
        ("Желтоқсан көшесі 115", "улица Желтоксан 115"),
        # The house gives its street in Kazakh too (no street way).
        ("Төле би көшесі 59", "улица Толе би 59"),
        ("Толе би 59", "улица Толе би 59"),
    ],
)
def test_a_house_is_found_first_by_any_name_of_its_street(
    client: Client, cities: dict[str, int], q: str, house: str
) -> None:
    assert first(client, q) == ("buildings", cities[house])


@pytest.mark.django_db
def test_the_street_keeps_its_names_and_the_import_says_how_many(cities: dict) -> None:
    minsk = Street.objects.get(source_id="w100")
    assert minsk.names == {
        "ru": "проспект Независимости",
        "be": "праспект Незалежнасці",
        "en": "Independence Avenue",
    }
    assert Street.objects.get(source_id="w102").names == {
        "ru": "улица Желтоксан",
        "old_name": "улица Мира; Мира көшесі",
    }
    assert Building.objects.get(street="улица Толе би").street_names == {"kk": "Төле би көшесі"}
    assert (
        f"note: {StreetAlias.objects.count()} street names in other languages" in (cities["stdout"])
    )


@pytest.mark.django_db
def test_aliases_point_only_at_streets_houses_carry_and_a_rebuild_changes_nothing(
    cities: dict,
) -> None:
    from layers.models import StreetName

    used = set(StreetName.objects.values_list("key", flat=True))
    assert set(StreetAlias.objects.values_list("target", flat=True)) <= used
    assert (
        not StreetAlias.objects.filter(key__in=StreetAlias.objects.values("target"))
        .filter(target__in=StreetAlias.objects.values("key"))
        .exclude(key__in=used)
        .exists()
    )
    before = list(StreetAlias.objects.order_by("pk").values_list("pk", "key", "target"))
    street_aliases_refresh()
    assert list(StreetAlias.objects.order_by("pk").values_list("pk", "key", "target")) == before


@pytest.mark.django_db
def test_a_street_renamed_in_the_data_drops_its_old_aliases(cities: dict) -> None:
    Street.objects.filter(source_id="w102").update(names={"ru": "улица Желтоксан"})
    street_aliases_refresh()
    assert not StreetAlias.objects.filter(name__contains="Мира").exists()


@pytest.mark.django_db
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "address"),
    [
        ("ru", "16 проспект Независимости"),
        ("en", "16 Independence Avenue"),
        # Not an interface language: the city's (en in the tests).
        ("be", "16 Independence Avenue"),
    ],
)
def test_answers_name_the_street_in_the_viewers_language(
    client: Client, cities: dict, language: str, address: str
) -> None:
    response = client.get(
        "/api/search", {"q": "праспект Незалежнасці 16"}, HTTP_ACCEPT_LANGUAGE=language
    )
    first = response.json()["results"][0]
    assert (first["id"], first["address"]) == (cities["праспект Незалежнасці 16"], address)


@pytest.mark.django_db
def test_a_street_without_a_name_in_the_viewers_language_keeps_its_own(
    client: Client, cities: dict
) -> None:
    response = client.get("/api/search", {"q": "Толе би 59"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert response.json()["results"][0]["address"] == "59 улица Толе би"
    response = client.get("/api/search", {"q": "Толе би 59"}, HTTP_ACCEPT_LANGUAGE="kk")
    assert response.json()["results"][0]["address"] == "59 Төле би көшесі"


def test_without_the_aliases_the_other_names_find_nothing(client: Client, cities: dict) -> None:
    StreetAlias.objects.all().delete()
    assert first(client, "проспект Независимости 16") != (
        "buildings",
        cities["праспект Незалежнасці 16"],
    )
    assert first(client, "улица Мира 115") != ("buildings", cities["улица Желтоксан 115"])
