"""Issue #14 §4: the interface speaks Russian, Kazakh and English.

The catalogs are complete (a string added to the code and left untranslated in ru or kk fails
here), a page speaks the language the browser asks for or the switch chose, and so do the API's
errors, the layer titles and the dates. The claim letter is tested with the claims
(tests/orders/permits/test_sending.py), the pages' scripts in Chromium (test_i18n_browser.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

ROOT = Path(settings.BASE_DIR)
LANGUAGES = ("ru", "kk")

# Words a Russian page may carry in Latin letters: names, formats and the product's own name.
LATIN_ALLOWED = {
    "citygis",
    "openstreetmap",
    "odbl",
    "csv",
    "geojson",
    "api",
    "english",
    "pdf",
    "contributors",  # the attribution stays as OpenStreetMap asks: "© OpenStreetMap contributors"
}


def msgfmt_statistics(po: Path) -> str:
    done = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr.strip()


@pytest.fixture(scope="module")
def current_catalogs(tmp_path_factory) -> Path:
    """The catalogs as ``makemessages`` makes them from the code now, in a copy of locale/.

    makemessages writes into the checkout's locale/ whatever LOCALE_PATHS says (it is the
    ``locale`` directory above the files): the committed catalogs are put back afterwards, so the
    suite leaves the tree as it found it.
    """
    if shutil.which("msgfmt") is None:
        pytest.fail("msgfmt missing: scripts/setup.sh installs gettext")
    base = tmp_path_factory.mktemp("locale")
    committed, fresh = base / "committed", base / "fresh"
    shutil.copytree(ROOT / "locale", committed)
    try:
        subprocess.run(
            ["scripts/messages.sh"],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
            check=True,
            capture_output=True,
        )
        shutil.copytree(ROOT / "locale", fresh)
    finally:
        for po in committed.glob("*/LC_MESSAGES/*.po"):
            shutil.copy2(po, ROOT / "locale" / po.relative_to(committed))
    return fresh


@pytest.mark.parametrize("domain", ["django", "djangojs"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_user_facing_string_is_translated(current_catalogs: Path, language, domain):
    """No string of the code is missing, fuzzy or untranslated in ru or kk."""
    po = current_catalogs / language / "LC_MESSAGES" / f"{domain}.po"
    statistics = msgfmt_statistics(po)
    assert re.fullmatch(r"\d+ translated messages?\.", statistics), (
        f"{language} {domain}: {statistics}; run scripts/messages.sh and translate "
        f"locale/{language}/LC_MESSAGES/{domain}.po"
    )


def test_the_committed_catalogs_are_current(current_catalogs: Path):
    """What makemessages finds in the code is what locale/ holds: nothing stale, nothing new."""
    for language in LANGUAGES:
        for domain in ("django", "djangojs"):
            path = Path(language, "LC_MESSAGES", f"{domain}.po")
            fresh = _messages(current_catalogs / path)
            committed = _messages(ROOT / "locale" / path)
            assert fresh == committed, f"{path}: run scripts/messages.sh"


def _messages(po: Path) -> set[str]:
    """The msgids of a catalog, each joined from its wrapped lines."""
    blocks = re.findall(r'^msgid ((?:".*"\n)+)', po.read_text(), re.M)
    return {"".join(re.findall(r'"(.*)"', block)) for block in blocks} - {""}


class _VisibleText(HTMLParser):
    """What a reader sees or hears of a page: text, and the labels, titles and placeholders."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "placeholder", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def english_words(html: str) -> list[str]:
    """Latin-letter words of three letters or more a page shows, less names and formats."""
    reader = _VisibleText()
    reader.feed(html)
    city = {w.lower() for w in re.findall(r"[A-Za-z]+", settings.DEMO_CITY_NAME)}
    words = re.findall(r"[A-Za-z]{3,}", " ".join(reader.parts))
    return [w for w in words if w.lower() not in LATIN_ALLOWED | city]


PAGES = ["/", "/dashboard", "/planning/hotspots", "/yards/plan/2031"]


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_pages_speak_the_language_the_browser_asks_for(path, language):
    response = Client().get(path, headers={"accept-language": f"{language},en;q=0.5"})
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert response["Content-Language"] == language
    assert "Accept-Language" in response["Vary"]
    assert english_words(html) == [], f"{path} in {language}: untranslated text"
    # The switch, with this language chosen, and the pages' scripts' strings.
    assert f'<option value="{language}" lang="{language}" selected>' in html
    if path != "/yards/plan/2031":
        assert '<script src="/i18n/js"></script>' in html


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_english_stays_for_the_demo_city(path):
    html = Client().get(path).content.decode()
    assert '<html lang="en">' in html
    assert '<option value="en" lang="en" selected>English</option>' in html


@pytest.mark.django_db
def test_the_switch_keeps_its_choice_over_the_browsers():
    client = Client()
    answer = client.post("/i18n/setlang/", {"language": "kk", "next": "/dashboard"})
    assert answer.status_code == 302 and answer["Location"] == "/dashboard"
    assert answer.cookies[settings.LANGUAGE_COOKIE_NAME].value == "kk"
    html = client.get("/dashboard", headers={"accept-language": "ru"}).content.decode()
    assert '<html lang="kk">' in html and "Өтініштер жиынтығы" in html


@pytest.mark.django_db
def test_city_language_is_what_a_browser_that_asks_for_none_of_ours_gets(settings):
    settings.LANGUAGE_CODE = "ru"  # CITY_LANGUAGE=ru
    html = Client().get("/", headers={"accept-language": "de"}).content.decode()
    assert '<html lang="ru">' in html and "Слои" in html


@pytest.mark.django_db
def test_api_errors_speak_the_callers_language():
    client = Client()
    for language, expected in (
        ("ru", "Для поиска введите не менее"),
        ("kk", "Іздеу үшін кемінде"),
        ("en", "Type at least"),
    ):
        answer = client.get("/api/search?q=a", headers={"accept-language": language})
        assert answer.status_code == 400
        assert expected in answer.json()["error"]["message"], language
    unknown = client.get("/api/objects/nowhere/1", headers={"accept-language": "ru"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Неизвестный слой 'nowhere'."


@pytest.mark.django_db
def test_layer_titles_speak_the_viewers_language():
    client = Client()
    catalog = client.get("/tiles/", headers={"accept-language": "ru"}).json()
    titles = {layer["id"]: layer["title"] for layer in catalog["layers"]}
    assert titles["buildings"] == "Здания" and titles["yards"] == "Дворы"
    tilejson = client.get("/tiles/buildings.json", headers={"accept-language": "kk"}).json()
    assert tilejson["description"] == "Ғимараттар"
    ogc = client.get("/ogc/collections/buildings", headers={"accept-language": "ru"}).json()
    assert ogc["title"] == "Здания"


@pytest.mark.django_db
def test_admin_speaks_russian():
    html = Client().get("/admin/login/", headers={"accept-language": "ru"}).content.decode()
    assert "Администрирование citygis" in html and "Имя пользователя" in html


def test_an_address_reads_in_the_citys_order(settings):
    from layers.models import Building

    house = Building(street="Покровский бульвар", housenumber="4/17 с6")
    settings.ADDRESS_NUMBER_FIRST = False  # a Russian or Kazakh city
    assert house.address == "Покровский бульвар, 4/17 с6"
    settings.ADDRESS_NUMBER_FIRST = True  # the demo city
    assert Building(street="North Avenue", housenumber="1200").address == "1200 North Avenue"


@pytest.mark.django_db
def test_the_map_writes_addresses_in_the_citys_order(settings):
    """The map's cards order an address as the server's lists do (map.js reads the config)."""
    settings.ADDRESS_NUMBER_FIRST = False
    html = Client().get("/", headers={"accept-language": "en"}).content.decode()
    config = json.loads(re.search(r'id="citygis-config"[^>]*>(.*?)</script>', html).group(1))
    assert config["addressNumberFirst"] is False
