"""Address normalisation: one canonical search key for Russian, Kazakh and English addresses.

The key is computed once when an object is saved or imported and stored (GIN trigram index);
queries are normalised by the same functions, so "ул. Ленина, д. 12 корп. 2", "Ленина 12к2" and
"12/2 Ленина улица" all meet at ``ленина ул 12к2``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Street-type words, spelled out or abbreviated, to one canonical token each.
STREET_TYPES: dict[str, str] = {
    # Russian
    "ул": "ул",
    "улица": "ул",
    "у": "ул",
    "пр": "пр",
    "пр-т": "пр",
    "прт": "пр",
    "просп": "пр",
    "проспект": "пр",
    "пр-кт": "пр",
    "пер": "пер",
    "переулок": "пер",
    "пер-к": "пер",
    "бул": "бул",
    "б-р": "бул",
    "бр": "бул",
    "бульвар": "бул",
    "бульв": "бул",
    "ш": "ш",
    "шоссе": "ш",
    "пл": "пл",
    "площадь": "пл",
    "наб": "наб",
    "набережная": "наб",
    "мкр": "мкр",
    "мкрн": "мкр",
    "микрорайон": "мкр",
    "мк": "мкр",
    "туп": "туп",
    "тупик": "туп",
    "пр-д": "проезд",
    "проезд": "проезд",
    # Kazakh
    "көшесі": "ул",
    "көш": "ул",
    "даңғылы": "пр",
    "даң": "пр",
    "шағын": "мкр",
    "ауданы": "мкр",
    "алаңы": "пл",
    # English
    "st": "st",
    "street": "st",
    "str": "st",
    "ave": "ave",
    "av": "ave",
    "avenue": "ave",
    "blvd": "blvd",
    "boulevard": "blvd",
    "rd": "rd",
    "road": "rd",
    "dr": "dr",
    "drive": "dr",
    "ln": "ln",
    "lane": "ln",
    "ct": "ct",
    "court": "ct",
    "pl": "pl",
    "place": "pl",
    "ter": "ter",
    "terrace": "ter",
    "hwy": "hwy",
    "highway": "hwy",
    "pkwy": "pkwy",
    "parkway": "pkwy",
    "sq": "sq",
    "square": "sq",
    "cir": "cir",
    "circle": "cir",
    "aly": "aly",
    "alley": "aly",
    "way": "way",
}
DIRECTIONS: dict[str, str] = {
    "n": "n",
    "north": "n",
    "s": "s",
    "south": "s",
    "e": "e",
    "east": "e",
    "w": "w",
    "west": "w",
    "ne": "ne",
    "nw": "nw",
    "se": "se",
    "sw": "sw",
}
# Words that carry no address information: "д. 12", "дом 12", "г. Алматы", "house 12".
NOISE_WORDS = frozenset(
    {"д", "дом", "г", "город", "гор", "үй", "no", "house", "#", "кв", "квартира"}
)

# Korpus and stroenie markers, by spelling, to one canonical letter.
PART_MARKERS: dict[str, str] = {
    "к": "к",
    "корп": "к",
    "корпус": "к",
    "kорп": "к",
    "k": "к",
    "с": "с",
    "стр": "с",
    "строение": "с",
    "ст": "с",
    "лит": "",
    "литер": "",
    "литера": "",
}
# A letter suffix of a house number ("12А", "12a") written with a Cyrillic or a Latin letter:
# both forms meet at the Latin one.
CYR_TO_LAT = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "д": "d",
        "е": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "й": "i",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "т": "t",
        "у": "u",
        "ф": "f",
        "х": "h",
        "ц": "c",
        "ш": "sh",
        "э": "e",
        "ю": "yu",
        "я": "ya",
    }
)

_HOUSE_RE = re.compile(
    r"""^(?P<num>\d+)
        (?:\s*(?P<letter>[a-zа-яәөүұқғңһі])(?![a-zа-яәөүұқғңһі.]))?
        (?:\s*(?:(?P<marker>корпус|корп|строение|стр|литера|литер|лит|к|с|ст|k)\.?\s*|/\s*)
           (?P<part>\d+[a-zа-я]?))?
        $""",
    re.VERBOSE,
)
_TOKEN_RE = re.compile(r"[\w/-]+", re.UNICODE)
_APOSTROPHE_RE = re.compile(r"(?<=\w)['’ʼ`](?=\w)")
_CYRILLIC_RE = re.compile(r"[а-яәөүұқғңһі]")
_TYPES = frozenset(STREET_TYPES.values())
_KINDS = _TYPES | frozenset(DIRECTIONS.values())
_HOUSE_PREFIX_RE = re.compile(r"^(?:дом|д\.?|№|no\.?|#)\s*")
_SPACES_RE = re.compile(r"\s+")
_NOT_HOUSE_RE = re.compile(r"[^\w/]")
_NUMBER_RE = re.compile(r"\d{1,9}")
_PUNCTUATION_RE = re.compile(r"[,;:()\"'«»]")
_DOM_RE = re.compile(r"\b(?:д|дом)\.\s*")
_FLAT_RE = re.compile(r"(?:^|\s)(?:кв|квартира)\.?\s*\d+\S*")


def fold(text: str) -> str:
    """Lower case, ё→е, compatibility forms unfolded; Kazakh letters stay as they are."""
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    # An apostrophe inside a word joins it: "O'Donnell", "O’Donnell" and "ODonnell" are one word
    # (split at the apostrophe, "2706 O Donnell" would read as house 2706o).
    text = _APOSTROPHE_RE.sub("", text)
    return text.replace("\u00a0", " ")


def house_number_key(raw: str | None) -> str:
    """Canonical house number: ``12к2``, ``16с1``, ``12a``; empty string when absent."""
    if not raw:
        return ""
    text = fold(raw).strip()
    text = _HOUSE_PREFIX_RE.sub("", text)
    text = _SPACES_RE.sub(" ", text)
    match = _HOUSE_RE.match(text)
    if not match:
        return _NOT_HOUSE_RE.sub("", text)
    key = match["num"]
    if match["letter"]:
        key += match["letter"].translate(CYR_TO_LAT)
    if match["part"]:
        marker = PART_MARKERS.get(match["marker"] or "к", "к")
        part = match["part"]
        key += (
            f"{marker}{part[:-1] + part[-1].translate(CYR_TO_LAT) if part[-1].isalpha() else part}"
        )
    return key


def street_tokens(raw: str | None) -> list[str]:
    """Canonical words of a street name: types and directions abbreviated, noise dropped."""
    if not raw:
        return []
    tokens = []
    for token in _TOKEN_RE.findall(fold(raw).replace(".", " ")):
        token = token.strip("-/")
        if not token or token in NOISE_WORDS:
            continue
        tokens.append(STREET_TYPES.get(token) or DIRECTIONS.get(token) or token)
    return tokens


def street_key(raw: str | None) -> str:
    """The street part of a search key: name words first, then type and direction tokens.

    "N Charles St" and "Charles Street North" both give ``charles n st``; "ул. Ленина" and
    "Ленина улица" both give ``ленина ул``.
    """
    return _street_key_of(street_tokens(raw))


def _street_key_of(tokens: list[str]) -> str:
    names = [t for t in tokens if t not in _KINDS]
    marks = sorted(t for t in tokens if t in _KINDS)
    # A Russian or Kazakh street named without a type is a улица/көшесі: "Ленина 12" is
    # "улица Ленина 12", so both must meet at the same key.
    if names and _TYPES.isdisjoint(marks) and any(_CYRILLIC_RE.search(t) for t in names):
        marks = sorted([*marks, "ул"])
    return " ".join(names + marks)


def house_number_value(key: str) -> int | None:
    """The number a house key starts with (``12к2`` → 12): same number, another part; neighbours."""
    match = _NUMBER_RE.match(key)
    return int(match[0]) if match else None


def name_key(raw: str | None) -> str:
    """The search key of a name: its canonical words in their order ("E Fairmount Ave").

    Trigram similarity ignores word order, so unlike ``street_key`` nothing is sorted or added.
    """
    return " ".join(street_tokens(raw))


def address_key(street: str | None, housenumber: str | None) -> str:
    """The stored search key of an address: ``<street key> <house number key>``."""
    return " ".join(part for part in (street_key(street), house_number_key(housenumber)) if part)


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    street: str
    housenumber: str
    name: str = ""
    """The words besides the house number as a name key (``name_key``), for named objects."""

    @property
    def key(self) -> str:
        return " ".join(p for p in (self.street, self.housenumber) if p)


_QUERY_HOUSE_RE = re.compile(
    r"(?:^|\s)(?:д\.?\s*|дом\s+)?"
    # A letter suffix ("12А", "12 а") but not a part marker ("12 к 2") nor, apart from the number,
    # an English direction ("1200 N Charles St").
    r"(\d+(?:(?:\s+(?![nsew]\b))?[a-zа-яәөүұқғңһі](?![a-zа-яәөүұқғңһі]|\.?\s*\d))?"
    r"(?:\s*(?:корпус|корп|строение|стр|ст|к|с|k)\.?\s*\d+[a-zа-я]?|\s*/\s*\d+[a-zа-я]?)?)"
    r"(?=\s|$)",
)


def parse_address(text: str) -> ParsedAddress:
    """Split free text ("Ленина 12 корп 2", "1200 N Charles st") into street and house keys."""
    folded = fold(text)
    folded = _PUNCTUATION_RE.sub(" ", folded)
    folded = _DOM_RE.sub(" ", folded)
    # A flat ("кв. 5", "квартира 5") is inside the house: its number must not pass for the house's.
    folded = _FLAT_RE.sub(" ", folded)
    folded = _SPACES_RE.sub(" ", folded).strip()
    matches = list(_QUERY_HOUSE_RE.finditer(folded))
    # A number inside a street's name ("улица 8 Марта, 12", "мкр 5, дом 12"): when the text ends
    # with a house number and another came before, the house is the last one.
    match = matches[-1] if len(matches) > 1 and matches[-1].end(1) == len(folded) else None
    match = match or (matches[0] if matches else None)
    housenumber = ""
    if match:
        housenumber = house_number_key(match.group(1))
        folded = (folded[: match.start(1)] + " " + folded[match.end(1) :]).strip()
    tokens = street_tokens(folded)
    return ParsedAddress(
        street=_street_key_of(tokens), housenumber=housenumber, name=" ".join(tokens)
    )
