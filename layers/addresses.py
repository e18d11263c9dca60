"""Address normalisation: one canonical search key for Russian, Kazakh and English addresses.

The key is computed once when an object is saved or imported and stored (GIN trigram index);
queries are normalised by the same functions, so "ул. Ленина, д. 12 корп. 2", "Ленина 12к2" and
"12/2 Ленина улица" all meet at ``ленина ул 12к2``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

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
    "прд": "проезд",
    "проезд": "проезд",
    "тракт": "тракт",
    "линия": "линия",
    "аллея": "аллея",
    # Kazakh: "Абай даңғылы", "Сәтпаев көшесі", "Самал шағын ауданы" (one type in two words).
    "көшесі": "ул",
    "көше": "ул",
    "көш": "ул",
    "даңғылы": "пр",
    "даңғ": "пр",
    "даң": "пр",
    "шағын": "мкр",
    "ауданы": "мкр",
    "аудан": "мкр",
    "ш/а": "мкр",
    "алаңы": "пл",
    "тұйығы": "туп",
    "тұйық": "туп",
    "жағалауы": "наб",
    "тасжолы": "ш",
    # Belarusian
    "вуліца": "ул",
    "вул": "ул",
    "праспект": "пр",
    "завулак": "пер",
    "зав": "пер",
    "плошча": "пл",
    "пл-ча": "пл",
    "праезд": "проезд",
    "тупік": "туп",
    "набярэжная": "наб",
    "шаша": "ш",
    "мікрараён": "мкр",
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
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
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

# The letters of street words and house suffixes: Russian, Kazakh, Belarusian, Ukrainian, Latin.
LETTERS = "a-zа-яәөүұқғңһіўїєґ"
_L = f"[{LETTERS}]"
# A part marker and its number ("к2", "с 1", "стр. 6"), as it may follow a house number directly;
# "k" and "c" are the Latin letters that look the same, typed as often.
_MARKER_AHEAD = r"(?:корпус|корп|кор|к|k|строение|стр|ст|с|c)\.?\s*\d"
# A letter suffix: "12А", "26Ас1"; never the start of a part marker ("12к2", "12 с 1").
_LETTER = rf"(?:(?!{_MARKER_AHEAD}){_L}(?:(?!{_L})|(?={_MARKER_AHEAD})))"
# One number with its letter; "12 а" too, but not an English direction ("1200 N Charles St").
_SEGMENT = rf"\d+(?:{_LETTER}|\s(?![nsew]\b)(?!{_MARKER_AHEAD}){_L}(?!{_L}))?"
# The number itself: a range ("3-5"), a corner house ("4/17", "1/13/6"), or both ("21-23/25").
_BODY = rf"{_SEGMENT}(?:-{_SEGMENT})*(?:\s?/\s?{_SEGMENT}(?:-{_SEGMENT})*)*"
# A house as Russian and Kazakh cities write it: "д. 4/17 стр. 6", "12к2с3", "вл. 5 лит. А".
# A fraction is a corner house (4/17: no. 4 on one street, 17 on the other), never a корпус.
HOUSE_PATTERN = (
    rf"(?:(?:дом|д|владение|влд|вл|№|no|#)\.?\s*)?(?P<body>{_BODY})"
    rf"(?:\s*(?:корпус|корп|кор|к|k)\.?\s*(?P<korpus>\d+{_LETTER}?))?"
    rf"(?:\s*(?:строение|стр|ст|с|c)\.?\s*(?P<stroenie>\d+{_LETTER}?))?"
    rf"(?:\s*(?:литера|литер|лит)\.?\s*(?P<litera>{_L}|\d+)(?!{_L}))?"
)
_HOUSE_RE = re.compile(HOUSE_PATTERN)
_TOKEN_RE = re.compile(r"[\w/-]+", re.UNICODE)
_APOSTROPHE_RE = re.compile(r"(?<=\w)['’ʼ`](?=\w)")
_DASH_RE = re.compile(r"[‐‑‒–—]")
_CYRILLIC_RE = re.compile(r"[а-яәөүұқғңһіўїєґ]")
_TYPES = frozenset(STREET_TYPES.values())
_KINDS = _TYPES | frozenset(DIRECTIONS.values())
_SPACES_RE = re.compile(r"\s+")
# Street types of two words, joined before the words are looked up: "Алматы тас жолы".
_TWO_WORD_TYPES_RE = re.compile(r"(?<!\w)тас\s+жолы(?!\w)")
_NOT_HOUSE_RE = re.compile(r"[^\w/-]")
_NUMBER_RE = re.compile(r"\d{1,9}")
_PARTS_RE = re.compile(r"[кс]")
# What follows the first of several house numbers: "12; 14", "12, 14".
_LIST_SEPARATOR_RE = re.compile(r"\s*[;,]")
_PUNCTUATION_RE = re.compile(r"[,;:()\"'«»]")
_DOM_RE = re.compile(r"\b(?:д|дом)\.\s*")
# What is inside a house: a flat, an entrance, a floor, an office or room (Russian, Kazakh
# пәтер/кіреберіс/қабат, English).
_FLAT_RE = re.compile(
    r"(?:^|\s)(?:кв|квартира|пәтер|под|подъезд|кіреберіс|эт|этаж|қабат|оф|офис|пом|помещение"
    r"|apt|apartment|suite|ste|unit|fl|floor)\.?\s*\d+\S*"
)


def fold(text: str) -> str:
    """Lower case, ё→е, dashes to "-", compatibility forms unfolded; Kazakh letters stay."""
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    # An apostrophe inside a word joins it: "O'Donnell", "O’Donnell" and "ODonnell" are one word
    # (split at the apostrophe, "2706 O Donnell" would read as house 2706o).
    text = _APOSTROPHE_RE.sub("", text)
    return _DASH_RE.sub("-", text).replace("\u00a0", " ")


def _letters(part: str) -> str:
    """A number with its letter suffix, spaces out, the letter in Latin: "26 А" → ``26a``."""
    return part.replace(" ", "").translate(CYR_TO_LAT)


def _house_key_of(match: re.Match[str]) -> str:
    key = _letters(match["body"])
    if match["korpus"]:
        key += "к" + _letters(match["korpus"])
    if match["stroenie"]:
        key += "с" + _letters(match["stroenie"])
    if match["litera"]:
        # "5 лит. А" is house 5А, as St Petersburg writes it.
        key += _letters(match["litera"])
    return key


def house_number_key(raw: str | None) -> str:
    """Canonical house number; empty string when absent.

    ``12к2``, ``16с1``, ``12a``, ``4/17с6`` (a corner house and its строение), ``3-5с2`` (a
    range), ``12к2с3``. Several numbers ("12;14", "12, 14") keep the first.
    """
    if not raw:
        return ""
    text = _SPACES_RE.sub(" ", fold(raw).strip())
    match = _HOUSE_RE.fullmatch(text)
    if match is None:
        first = _HOUSE_RE.match(text)
        if first is None or not _LIST_SEPARATOR_RE.match(text, first.end()):
            return _NOT_HOUSE_RE.sub("", text)
        match = first
    return _house_key_of(match)


def street_tokens(raw: str | None) -> list[str]:
    """Canonical words of a street name: types and directions abbreviated, noise dropped."""
    if not raw:
        return []
    tokens = []
    text = _TWO_WORD_TYPES_RE.sub(lambda m: m.group(0).replace(" ", ""), fold(raw))
    for token in _TOKEN_RE.findall(text.replace(".", " ")):
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
    marks = sorted({t for t in tokens if t in _KINDS})
    # A Russian or Kazakh street named without a type is a улица/көшесі: "Ленина 12" is
    # "улица Ленина 12", so both must meet at the same key.
    if names and _TYPES.isdisjoint(marks) and any(_CYRILLIC_RE.search(t) for t in names):
        marks = sorted([*marks, "ул"])
    return " ".join(names + marks)


def house_number_value(key: str) -> int | None:
    """The number a house key starts with (``12к2`` → 12): same number, another part; neighbours."""
    match = _NUMBER_RE.match(key)
    return int(match[0]) if match else None


def address_keys(street: str, house: str) -> dict[str, Any]:
    """The stored keys of an address from its street key and house key (``AddressKeys``)."""
    return {
        "street_key": street,
        "house_key": house,
        "house_number": house_number_value(house),
        "search_key": " ".join(p for p in (street, house) if p),
    }


def house_parts(key: str) -> tuple[str, str]:
    """A house key's number and its parts: ``4/17с6`` → (``4/17``, ``с6``), ``12a`` → (``12a``, "").

    Letters are Latin in a key (``_letters``), so a Cyrillic к or с can only start a part.
    """
    match = _PARTS_RE.search(key)
    return (key[: match.start()], key[match.start() :]) if match else (key, "")


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


_QUERY_HOUSE_RE = re.compile(rf"(?:^|(?<=\s))(?P<house>{HOUSE_PATTERN})(?=\s|$)")


def parse_address(text: str) -> ParsedAddress:
    """Split free text ("Ленина 12 корп 2", "1200 N Charles st") into street and house keys."""
    folded = fold(text)
    folded = _PUNCTUATION_RE.sub(" ", folded)
    folded = _DOM_RE.sub(" ", folded)
    # A flat ("кв. 5"), entrance ("под. 3") or floor is inside the house: its number is not the
    # house's.
    folded = _FLAT_RE.sub(" ", folded)
    folded = _SPACES_RE.sub(" ", folded).strip()
    matches = list(_QUERY_HOUSE_RE.finditer(folded))
    # A number inside a street's name ("улица 8 Марта, 12", "мкр 5, дом 12"): when the text ends
    # with a house number and another came before, the house is the last one.
    match = matches[-1] if len(matches) > 1 and matches[-1].end() == len(folded) else None
    match = match or (matches[0] if matches else None)
    housenumber = ""
    if match:
        housenumber = _house_key_of(match)
        folded = (folded[: match.start()] + " " + folded[match.end() :]).strip()
    tokens = street_tokens(folded)
    return ParsedAddress(
        street=_street_key_of(tokens), housenumber=housenumber, name=" ".join(tokens)
    )


# The Russian keyboard (ЙЦУКЕН) under the keys of a US one: what "gjrhjdcrbq ,ekmdfh 4" meant.
_LAYOUT = str.maketrans(
    "qwertyuiop[]asdfghjkl;'zxcvbnm,./`{}:\"<>?|~",
    "йцукенгшщзхъфывапролджэячсмитьбю.ёхъжэбю,/ё",
)
_LATIN_RE = re.compile(r"[a-z]")
_FRACTION_SLASH_RE = re.compile(r"(?<=\d)/(?=\d)")


def keyboard_layout_swap(text: str) -> str | None:
    """The text as the Russian layout would have typed it, when it was typed on a Latin one.

    None when there is nothing to swap: Cyrillic in the text already, or no Latin letter.
    """
    folded = fold(text)
    if _CYRILLIC_RE.search(folded) or not _LATIN_RE.search(folded):
        return None
    # A slash between digits is a fraction (22/1), typed the same on either layout; elsewhere
    # the key is the Russian full stop ("ek/" is "ул.").
    protected = _FRACTION_SLASH_RE.sub("\x00", folded)
    return protected.translate(_LAYOUT).replace("\x00", "/")
