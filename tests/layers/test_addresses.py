"""The address normaliser: every spelling of one house meets at one search key."""

from __future__ import annotations

import pytest

from layers.addresses import (
    address_key,
    house_number_key,
    house_parts,
    keyboard_layout_swap,
    parse_address,
    street_tokens,
)

KAZAKH_LETTERS = "әөүұқғңһі"


@pytest.mark.parametrize(
    "text",
    [
        "ул. Ленина, д. 12 корп. 2",
        "Ленина 12к2",
        "ленина ул 12 к 2",
        "Ленина улица 12 корп 2",
        "Ленина, дом 12, корпус 2",
        "улица Ленина 12 корпус 2",
        "Ленина 12 к. 2",
    ],
)
def test_korpus_forms_share_one_key(text: str) -> None:
    assert parse_address(text).key == address_key("улица Ленина", "12к2") == "ленина ул 12к2"


@pytest.mark.parametrize("housenumber", ["16 с1", "16 стр. 1", "16 строение 1", "16с1", "16 с 1"])
def test_stroenie_forms_share_one_key(housenumber: str) -> None:
    assert house_number_key(housenumber) == "16с1"
    assert parse_address(f"ул. Ленина {housenumber}").key == address_key("Ленина", "16с1")


def test_korpus_and_stroenie_stay_apart() -> None:
    assert address_key("Ленина", "16к1") != address_key("Ленина", "16с1")


@pytest.mark.parametrize("housenumber", ["12А", "12а", "12a", "12A", "12 А"])
def test_letter_suffix_cyrillic_and_latin_share_one_key(housenumber: str) -> None:
    assert house_number_key(housenumber) == "12a"
    assert parse_address(f"Ленина {housenumber}").key == address_key("улица Ленина", "12а")


def test_letter_suffix_is_not_the_number_without_it() -> None:
    assert address_key("Ленина", "12А") != address_key("Ленина", "12")


def test_yo_and_ye_share_one_key() -> None:
    assert parse_address("ул. Королёва, 5").key == parse_address("Королева ул 5").key
    assert address_key("улица Королёва", "5") == address_key("улица Королева", "5")


def test_street_without_type_is_an_ulitsa() -> None:
    assert parse_address("Ленина 12").key == parse_address("улица Ленина 12").key


def test_street_types_stay_apart() -> None:
    assert parse_address("проспект Ленина 12").key != parse_address("улица Ленина 12").key


def test_house_number_words_are_dropped() -> None:
    assert house_number_key("д. 12") == house_number_key("дом 12") == "12"
    assert house_number_key("") == house_number_key(None) == ""


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Абай даңғылы 150", "абай"),
        ("Сәтпаев көшесі 22", "сәтпаев"),
        ("Құрманғазы көшесі 5", "құрманғазы"),
    ],
)
def test_kazakh_names_keep_their_letters(text: str, name: str) -> None:
    street = parse_address(text).street
    assert street.split()[0] == name


def test_kazakh_street_types_meet_the_russian_ones() -> None:
    assert parse_address("Абай даңғылы 150").key == parse_address("проспект Абай 150").key
    assert parse_address("Сәтпаев көшесі 22").key == parse_address("ул. Сәтпаев 22").key


@pytest.mark.parametrize("letter", KAZAKH_LETTERS)
def test_kazakh_letter_is_never_dropped(letter: str) -> None:
    word = f"а{letter}б"
    assert street_tokens(word) == [word]
    assert street_tokens(word.upper()) == [word]
    assert letter in parse_address(f"{word} көшесі 7").key


@pytest.mark.parametrize(
    "text", ["1200 N Charles St", "N Charles Street 1200", "1200 North Charles street"]
)
def test_english_direction_and_type_forms_share_one_key(text: str) -> None:
    assert parse_address(text).key == address_key("North Charles Street", "1200")


def test_english_abbreviations_share_one_key() -> None:
    assert (
        parse_address("2120 East Fairmount Avenue").key
        == parse_address("2120 E Fairmount Ave").key
        == address_key("East Fairmount Avenue", "2120")
    )


def test_english_directions_stay_apart() -> None:
    assert parse_address("1200 N Charles St").key != parse_address("1200 S Charles St").key


def test_english_house_letter_suffix_is_kept() -> None:
    assert parse_address("1200A N Charles St").housenumber == "1200a"


def test_parse_splits_street_and_house() -> None:
    parsed = parse_address("ул. Ленина, д. 12 корп. 2")
    assert (parsed.street, parsed.housenumber) == ("ленина ул", "12к2")


def test_street_only_has_no_house_number() -> None:
    parsed = parse_address("улица Ленина")
    assert (parsed.street, parsed.housenumber, parsed.key) == ("ленина ул", "", "ленина ул")


@pytest.mark.parametrize(
    ("text", "street", "housenumber"),
    [
        ("улица 8 Марта, 12", "улица 8 Марта", "12"),
        ("ул. 1 Мая, д. 5 корп. 1", "улица 1 Мая", "5 корп. 1"),
        ("мкр. 5, дом 12", "микрорайон 5", "12"),
        ("12 улица Ленина", "улица Ленина", "12"),
    ],
)
def test_number_in_the_street_name_is_not_the_house(
    text: str, street: str, housenumber: str
) -> None:
    assert parse_address(text).key == address_key(street, housenumber)


@pytest.mark.parametrize("text", ["2706 O'Donnell Street", "2706 O’Donnell St", "2706 ODonnell St"])
def test_apostrophe_inside_a_word_joins_it(text: str) -> None:
    assert parse_address(text).key == address_key("O'Donnell Street", "2706") == "odonnell st 2706"


def test_flat_number_is_not_the_house_number() -> None:
    assert parse_address("ул. Ленина, д. 12 корп. 2, кв. 45").key == "ленина ул 12к2"


def test_parsed_name_keeps_the_words_in_order() -> None:
    assert parse_address("Patterson Park").name == "patterson park"
    assert parse_address("1200 N Charles St").name == "n charles st"


# --- Russian house numbers as they are written (#14 §1) ----------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Покровский бульвар, 4/17 с6",
        "Покровский бульвар 4/17 стр 6",
        "Покровский бульвар, дом 4/17 строение 6",
        "Покровский б-р 4/17с6",
        "бул. Покровский, д. 4/17, стр. 6",
        "Покровский бульвар, д.4/17 с.6",
        "покровский бул 4/17 с 6",
        "Покровский бульвар 4/17 c6",
    ],
)
def test_corner_house_with_a_building_is_one_key(text: str) -> None:
    parsed = parse_address(text)
    assert (parsed.street, parsed.housenumber) == ("покровский бул", "4/17с6")
    assert parsed.key == address_key("Покровский бульвар", "4/17 с6")


@pytest.mark.parametrize(
    ("housenumber", "key"),
    [
        ("3-5 с2", "3-5с2"),
        ("3–5 с2", "3-5с2"),
        ("3—5 стр. 2", "3-5с2"),
        ("21-23/25 с1", "21-23/25с1"),
        ("1/13/6 с2", "1/13/6с2"),
        ("16/4/11", "16/4/11"),
        ("3-5", "3-5"),
    ],
)
def test_ranges_and_multi_part_fractions_keep_their_shape(housenumber: str, key: str) -> None:
    assert house_number_key(housenumber) == key
    assert parse_address(f"Садовая улица, {housenumber}").housenumber == key


@pytest.mark.parametrize(
    ("compact", "spelt"),
    [
        ("4/17с6", "4/17 строение 6"),
        ("26Ас1", "26А стр. 1"),
        ("26ас1", "26 а с 1"),
        ("12к2с3", "12 корпус 2 строение 3"),
        ("12к2", "12 корп. 2"),
    ],
)
def test_compact_forms_are_the_spelt_ones(compact: str, spelt: str) -> None:
    assert house_number_key(compact) == house_number_key(spelt)
    assert parse_address(f"Ленина {compact}").housenumber == house_number_key(spelt)


def test_compact_keys() -> None:
    assert house_number_key("26Ас1") == "26aс1"
    assert house_number_key("12к2с3") == "12к2с3"


def test_a_fraction_is_a_corner_house_not_a_korpus() -> None:
    assert house_number_key("22/1") == "22/1"
    assert house_number_key("22/1") != house_number_key("22к1")
    assert parse_address("Ленина 22/1").key != parse_address("Ленина 22 корпус 1").key


@pytest.mark.parametrize("housenumber", ["5 лит. А", "5 литера А", "5А", "5 лит А", "5а"])
def test_litera_is_the_letter_suffix(housenumber: str) -> None:
    assert house_number_key(housenumber) == "5a"


@pytest.mark.parametrize(
    "housenumber", ["вл. 3 с1", "владение 3 строение 1", "влд. 3 стр. 1", "вл3с1"]
)
def test_vladenie_is_a_house(housenumber: str) -> None:
    assert house_number_key(housenumber) == "3с1"


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("4/17с6", ("4/17", "с6")),
        ("12к2с3", ("12", "к2с3")),
        ("26aс1", ("26a", "с1")),
        ("7", ("7", "")),
    ],
)
def test_house_parts_split_the_body_from_korpus_and_stroenie(
    key: str, parts: tuple[str, str]
) -> None:
    assert house_parts(key) == parts


@pytest.mark.parametrize(
    "text",
    [
        "Ленина 12, под. 3",
        "Ленина 12 кв 5 эт 2",
        "Ленина 12, офис 301",
        "Ленина 12, пом. 4",
        "Ленина көшесі 12, пәтер 4",
    ],
)
def test_what_is_inside_the_house_is_not_its_number(text: str) -> None:
    assert parse_address(text).housenumber == "12"


def test_numbers_other_than_the_first_in_a_list_are_dropped() -> None:
    assert house_number_key("12; 14") == "12"
    assert house_number_key("12, 14") == "12"


# --- street types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "full"),
    [
        ("ул. Ленина", "улица Ленина"),
        ("Ленина ул.", "улица Ленина"),
        ("пер. Мирный", "переулок Мирный"),
        ("б-р Покровский", "бульвар Покровский"),
        ("бул. Покровский", "бульвар Покровский"),
        ("пр-т Мира", "проспект Мира"),
        ("просп. Мира", "проспект Мира"),
        ("пр. Мира", "проспект Мира"),
        ("пр-д Серова", "проезд Серова"),
        ("ш. Энтузиастов", "шоссе Энтузиастов"),
        ("наб. Мойки", "набережная Мойки"),
        ("пл. Ленина", "площадь Ленина"),
        ("туп. Глухой", "тупик Глухой"),
        ("мкр. Самал", "микрорайон Самал"),
        ("Абай даңғылы", "проспект Абай"),
        ("Абай даңғ.", "проспект Абай"),
        ("Сәтпаев көшесі", "улица Сәтпаев"),
        ("Достық көш.", "улица Достық"),
        ("Самал шағын ауданы", "микрорайон Самал"),
        ("Самал шағын аудан", "микрорайон Самал"),
        ("Есіл жағалауы", "набережная Есіл"),
        ("Алматы тас жолы", "шоссе Алматы"),
        ("вуліца Кірава", "улица Кірава"),
        ("вул. Кірава", "улица Кірава"),
        ("праспект Незалежнасці", "проспект Незалежнасці"),
        ("завулак Багдановіча", "переулок Багдановіча"),
        ("плошча Перамогі", "площадь Перамогі"),
    ],
)
def test_street_type_spellings_meet(written: str, full: str) -> None:
    assert parse_address(f"{written}, 7").key == parse_address(f"{full} 7").key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("переулок Мирный 3", "улица Мирная 3"),
        ("проезд Серова 4", "проспект Серова 4"),
        ("Ленина шоссе 5", "Ленина улица 5"),
    ],
)
def test_different_street_types_stay_apart(a: str, b: str) -> None:
    assert parse_address(a).key != parse_address(b).key


# --- Russian typed on a Latin keyboard layout --------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("gjrhjdcrbq ,ekmdfh 4", "покровский бульвар 4"),
        ("ktybyf 12r2", "ленина 12к2"),
        ("Ktybyf 12", "ленина 12"),
        ("ekbwf rjhjktdf 5", "улица королева 5"),
        ("gjrhjdcrbq ,ekmdfh 4|17c6", "покровский бульвар 4/17с6"),
        # A slash between digits is a fraction on either layout; after a word, a full stop.
        ("ktybyf 22/1", "ленина 22/1"),
        ("ek/ ktybyf 1/13/6c2", "ул. ленина 1/13/6с2"),
    ],
)
def test_keyboard_layout_swap_reads_russian(typed: str, meant: str) -> None:
    assert keyboard_layout_swap(typed) == meant


@pytest.mark.parametrize("text", ["Ленина 12", "ktybyf Ленина", "12/4", ""])
def test_nothing_to_swap_without_latin_letters_or_with_cyrillic(text: str) -> None:
    assert keyboard_layout_swap(text) is None
