"""The address normaliser: every spelling of one house meets at one search key."""

from __future__ import annotations

import pytest

from layers.addresses import address_key, house_number_key, parse_address, street_tokens

KAZAKH_LETTERS = "әөүұқғңһі"


@pytest.mark.parametrize(
    "text",
    [
        "ул. Ленина, д. 12 корп. 2",
        "Ленина 12к2",
        "ленина ул 12 к 2",
        "12/2 Ленина улица",
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
