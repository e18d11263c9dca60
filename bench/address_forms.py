"""bench/address_forms.py — found first, by form, for Russian, Kazakh and Belarusian addresses.

The address search's promise to operators is that the house a resident names comes first. This
benchmark measures that promise form by form, on a query set generated here, deterministically,
from a fixture of streets and houses written as OpenStreetMap maps CIS cities (the real extracts
stay unseen):

* streets of every type the parser knows (улица … микрорайон, көшесі, даңғылы, шағын аудан,
  вуліца, праспект, завулак), some named in two languages (a Minsk avenue's houses carry the
  Belarusian name, residents say the Russian one; an Almaty avenue's name is Kazakh, its houses
  carry the Russian one), one renamed (``old_name``), with ё;
* on each street, houses of every number form Moscow writes: 12, 12А, 12к2, 16с1, 22/1, 4/17с6,
  3-5с2, 21-23/25с1, 1/13/6с2, 26Ас1, 12к2с3, 5 лит. А, вл8;

and for each house, the query forms residents and operators use: as written with a comma, with
``д.``/``корп.``/``стр.`` spelt out, number first, words in full, no street type, one typo, е for
ё, typed on the Latin keyboard layout, the street's name in its other language, shouted with
odd punctuation. Each query goes through ``GET /api/search`` (Django's test client, the view the
map calls) and counts as found when its first result is the target house; the same queries are
answered by the naive one-line SQL the issue measured against (``similarity(street || ' ' ||
housenumber, q)``).

The fixture is written inside a transaction on the project database and rolled back at the
end: nothing stays. Run from the checkout, after ``make db`` (or ``make run``):

    .venv/bin/python bench/address_forms.py        (VERBOSE=1 lists the queries missed)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.contrib.gis.geos import LineString, MultiPolygon, Polygon  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from layers.models import Building, Street  # noqa: E402
from layers.services import street_aliases_refresh  # noqa: E402

SOURCE = "bench-forms"
# Far from any real city the project database may hold.
ORIGIN = (37.0, 20.0)


@dataclass(frozen=True)
class StreetSpec:
    name: str
    """As OSM's ``name`` (and the houses' ``addr:street``) writes it."""
    short: str
    """With the type abbreviated, as an operator types it."""
    bare: str
    """Without its type."""
    other: str = ""
    """Its name in another language (or its old name), as a resident says it."""
    houses_carry_other: bool = False
    """The houses carry ``other`` (an Almaty avenue), not ``name``."""


STREETS = (
    StreetSpec("улица Ленина", "ул. Ленина", "Ленина"),
    StreetSpec("Покровский бульвар", "Покровский б-р", "Покровский"),
    StreetSpec("Армянский переулок", "Армянский пер.", "Армянский"),
    StreetSpec("проспект Мира", "пр-т Мира", "Мира"),
    StreetSpec("шоссе Энтузиастов", "ш. Энтузиастов", "Энтузиастов"),
    StreetSpec("Космодамианская набережная", "Космодамианская наб.", "Космодамианская"),
    StreetSpec("площадь Победы", "пл. Победы", "Победы"),
    StreetSpec("проезд Серебрякова", "пр-д Серебрякова", "Серебрякова"),
    StreetSpec("улица Королёва", "ул. Королёва", "Королёва"),
    StreetSpec("микрорайон Самал-2", "мкр. Самал-2", "Самал-2"),
    StreetSpec("Абай көшесі", "Абай к-сі", "Абай"),
    StreetSpec("Желтоқсан шағын ауданы", "Желтоқсан ш/а", "Желтоқсан"),
    StreetSpec(
        "Достык даңғылы", "Достык д-лы", "Достык", "проспект Достык", houses_carry_other=True
    ),
    StreetSpec("вуліца Кірава", "вул. Кірава", "Кірава", "улица Кирова"),
    StreetSpec(
        "праспект Незалежнасці", "пр-т Незалежнасці", "Незалежнасці", "проспект Независимости"
    ),
    StreetSpec("завулак Калініна", "зав. Калініна", "Калініна", "переулок Калинина"),
)


@dataclass(frozen=True)
class HouseSpec:
    form: str
    """The number form, as the table names it."""
    written: str
    """As OSM's ``addr:housenumber`` writes it."""
    spelt: str
    """With its parts spelt out by an operator: д. 12 корп. 2."""
    words: str
    """In full words, as said on the phone: дом 12 корпус 2."""


HOUSES = (
    HouseSpec("plain", "12", "д. 12", "дом 12"),
    HouseSpec("letter", "12А", "д. 12А", "дом 12 А"),
    HouseSpec("корпус", "12к2", "д. 12 корп. 2", "дом 12 корпус 2"),
    HouseSpec("строение", "16с1", "д. 16 стр. 1", "дом 16 строение 1"),
    HouseSpec("corner house", "22/1", "д. 22/1", "дом 22/1"),
    HouseSpec("corner + строение", "4/17с6", "д. 4/17 стр. 6", "дом 4/17 строение 6"),
    HouseSpec("range + строение", "3-5с2", "д. 3-5 стр. 2", "дом 3-5 строение 2"),
    HouseSpec("range/fraction", "21-23/25с1", "д. 21-23/25 стр. 1", "дом 21-23/25 строение 1"),
    HouseSpec("three-part fraction", "1/13/6с2", "д. 1/13/6 стр. 2", "дом 1/13/6 строение 2"),
    HouseSpec("letter + строение", "26Ас1", "д. 26А стр. 1", "дом 26А строение 1"),
    HouseSpec("корпус + строение", "12к2с3", "д. 12 корп. 2 стр. 3", "дом 12 корпус 2 строение 3"),
    HouseSpec("литера", "5 лит. А", "д. 5 лит. А", "дом 5 литера А"),
    HouseSpec("владение", "вл8", "влд. 8", "владение 8"),
)

# The neighbours every street also has, so that a near miss has something to land on.
DECOYS = ("12к1", "12", "14", "16", "22", "4", "4/17", "3", "21", "1", "26", "5", "8", "12к2с1")


# The Russian keyboard (ЙЦУКЕН) under the keys of a US one, Cyrillic to Latin: what an operator
# types when the layout was left on English (the search reads it back, layers.addresses).
_TO_LATIN = dict(
    zip("йцукенгшщзхъфывапролджэячсмитьбю.ё", "qwertyuiop[]asdfghjkl;'zxcvbnm,./`", strict=True)
)


def on_latin_layout(text: str) -> str | None:
    """The text typed with the layout on English; None when it has letters off that layout."""
    out = []
    for char in text.lower():
        if char.isalpha() and char not in _TO_LATIN:
            return None
        out.append(_TO_LATIN.get(char, char))
    return "".join(out)


def typo(name: str, *, second: bool = False) -> str:
    """One letter dropped from the longest word: Покровский → Покровкий (a second: swapped)."""
    word = max(name.split(), key=len)
    i = len(word) // 2
    if second:
        i = max(1, i - 2)
        return name.replace(word, word[:i] + word[i + 1] + word[i] + word[i + 2 :], 1)
    return name.replace(word, word[:i] + word[i + 1 :], 1)


TYPE_WORDS = {
    "улица",
    "бульвар",
    "переулок",
    "проспект",
    "шоссе",
    "набережная",
    "площадь",
    "проезд",
    "микрорайон",
    "көшесі",
    "даңғылы",
    "вуліца",
    "праспект",
    "завулак",
}


def moved(name: str) -> str:
    """The street type on the other side of the name: Покровский бульвар → бульвар Покровский."""
    words = name.split()
    types = [w for w in words if w in TYPE_WORDS]
    if not types:
        return name
    rest = [w for w in words if w not in TYPE_WORDS]
    return " ".join(rest + types) if words[0] in TYPE_WORDS else " ".join(types + rest)


def spaced(number: str) -> str:
    """The parts of a number apart: 4/17с6 → 4/17 с 6, 12к2 → 12 к 2."""
    out = []
    for i, char in enumerate(number):
        if char in "кс" and i and number[i - 1].isalnum():
            out.append(f" {char} ")
        else:
            out.append(char)
    return "".join(out).replace("  ", " ").strip()


# Kazakh and Belarusian letters as a Russian keyboard types them: Желтоқсан → Желтоксан.
_RUSSIAN_LETTERS = str.maketrans("әғқңөұүһіў", "агкноуухиу")


def russian_letters(name: str) -> str:
    return name.translate(_RUSSIAN_LETTERS)


def queries(street: StreetSpec, house: HouseSpec) -> Iterator[tuple[str, str]]:
    """(query form, query) for one house."""
    yield "as written, comma", f"{street.name}, {house.written}"
    yield "type and parts abbreviated", f"{street.short}, {house.spelt}"
    yield "number first", f"{house.written} {street.name}"
    yield "words in full", f"{street.name} {house.words}"
    yield "no street type", f"{street.bare} {house.written}"
    yield "one typo in the street", f"{typo(street.name)} {house.written}"
    yield "е for ё, lower case", f"{street.name} {house.written}".replace("ё", "е").lower()
    if latin := on_latin_layout(f"{street.bare} {house.written}"):
        yield "Latin keyboard layout", latin
    yield "shouted, odd punctuation", f"{street.short.upper()},{house.spelt.upper()}"
    if street.other:
        said = street.name if street.houses_carry_other else street.other
        yield "the street's other name", f"{said}, {house.written}"
    yield "type after the name, parts apart", f"{moved(street.name)} {spaced(house.written)}"
    yield "two typos in the street", f"{typo(typo(street.name), second=True)} {house.written}"
    yield (
        "comma inside the number",
        f"{street.short}, {house.spelt.replace(' корп', ', корп').replace(' стр', ', стр')}",
    )
    if (plain := russian_letters(street.name)) != street.name:
        yield "Kazakh/Belarusian letters typed as Russian", f"{plain} {house.written}"


def square(i: int) -> MultiPolygon:
    lon, lat = ORIGIN[0] + (i % 100) * 0.0005, ORIGIN[1] + (i // 100) * 0.0005
    d = 0.0002
    ring = ((lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d), (lon, lat))
    return MultiPolygon(Polygon(ring, srid=4326), srid=4326)


def load() -> dict[tuple[str, str], int]:
    """Write the fixture; returns (street, house number) → the target building's id."""
    targets, n = {}, 0
    for s, street in enumerate(STREETS):
        carried = street.other if street.houses_carry_other else street.name
        _street(s, street)
        for number in (*[h.written for h in HOUSES], *DECOYS):
            if (carried, number) in targets:
                continue
            building = Building(
                source=SOURCE,
                source_id=f"house-{n}",
                street=carried,
                housenumber=number,
                kind="apartments",
                geom=square(n),
            )
            building.refresh_search_key()
            building.save()
            targets[(street.name, number)] = building.pk
            targets[(carried, number)] = building.pk
            n += 1
    street_aliases_refresh()
    return targets


def _street(s: int, street: StreetSpec) -> Street:
    lon, lat = ORIGIN[0] - 0.01, ORIGIN[1] + s * 0.001
    obj = Street(
        source=SOURCE,
        source_id=f"street-{s}",
        name=street.name,
        names={"ru": street.other} if street.other else {},
        kind="residential",
        geom=LineString((lon, lat), (lon + 0.005, lat), srid=4326),
    )
    obj.refresh_search_key()
    obj.save()
    return obj


def naive_first(q: str) -> int | None:
    """The one line of SQL the issue compared with."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM layers_building WHERE source = %s "
            "ORDER BY similarity(street || ' ' || housenumber, %s) DESC, id LIMIT 1",
            [SOURCE, q],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def ours_first(client: Client, q: str) -> tuple[str, int] | None:
    response = client.get("/api/search", {"q": q})
    if response.status_code != 200:
        return None
    results = response.json()["results"]
    return (results[0]["layer"], results[0]["id"]) if results else None


def run() -> tuple[dict, dict, int]:
    by_house: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    by_query: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    client = Client()
    with transaction.atomic():
        targets = load()
        total = 0
        for street in STREETS:
            for house in HOUSES:
                target = targets[(street.name, house.written)]
                for form, q in queries(street, house):
                    found = ours_first(client, q) == ("buildings", target)
                    naive = naive_first(q) == target
                    for counts in (by_house[house.form], by_query[form]):
                        counts[0] += 1
                        counts[1] += found
                        counts[2] += naive
                    total += 1
                    if os.environ.get("VERBOSE") and not found:
                        print(f"missed: {q!r}", file=sys.stderr)
        transaction.set_rollback(True)
    return by_house, by_query, total


def table(title: str, rows: dict[str, list[int]]) -> list[str]:
    out = [
        f"| {title} | queries | citygis found first | naive SQL found first |",
        "| --- | ---: | ---: | ---: |",
    ]
    all_n = all_ours = all_naive = 0
    for name, (n, ours, naive) in rows.items():
        out.append(f"| {name} | {n} | {100 * ours / n:.1f} % | {100 * naive / n:.1f} % |")
        all_n, all_ours, all_naive = all_n + n, all_ours + ours, all_naive + naive
    out.append(
        f"| **all** | {all_n} | **{100 * all_ours / all_n:.1f} %** | "
        f"{100 * all_naive / all_n:.1f} % |"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    by_house, by_query, total = run()
    print("\n".join(table("house number form", by_house)))
    print()
    print("\n".join(table("query form", by_query)))
    print()
    ours = sum(c[1] for c in by_house.values())
    naive = sum(c[2] for c in by_house.values())
    print(
        f"address_forms: {total} queries over {len(STREETS)} streets × {len(HOUSES)} house "
        f"forms; found first {ours} ({100 * ours / total:.1f} %), naive SQL {naive} "
        f"({100 * naive / total:.1f} %)"
    )


if __name__ == "__main__":
    main()
