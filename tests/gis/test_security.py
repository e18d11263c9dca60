"""Issue #18 §2, §3 and the settings: hosts, links, limits on guessing, production settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings

from gis.roles import Role
from gis.services import user_create_or_update
from gis.throttling import AnonWriteThrottle
from orders.appeals.models import IntegrationKey
from orders.appeals.services.registration import categories_load

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
EVIL = "evil.example.com"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


# --- §2 the Host header ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/tiles/", "/tiles/buildings.json", "/ogc/", "/open311/v2/discovery.json"]
)
def test_a_host_that_is_not_ours_is_400_and_never_becomes_a_link(client, path):
    response = client.get(path, HTTP_HOST=EVIL)
    assert response.status_code == 400
    assert EVIL.encode() not in response.content


def test_links_come_from_the_checked_host(client):
    body = client.get("/tiles/buildings.json", HTTP_HOST="localhost").json()
    assert body["tiles"][0].startswith("http://localhost/tiles/buildings/")


@override_settings(PUBLIC_URL="https://gis.example.city")
@pytest.mark.parametrize(
    ("path", "find"),
    [
        ("/tiles/buildings.json", lambda b: b["tiles"][0]),
        ("/tiles/", lambda b: b["layers"][0]["tilejson"]),
        ("/ogc/", lambda b: b["links"][0]["href"]),
        ("/open311/v2/discovery.json", lambda b: b["endpoints"][0]["url"]),
    ],
)
def test_links_come_from_public_url_when_it_is_set(client, path, find):
    link = find(client.get(path, HTTP_HOST="localhost", HTTP_ACCEPT="application/json").json())
    assert link.startswith("https://gis.example.city/")


def test_the_default_hosts_are_loopback_only():
    configured = {h for h in settings.ALLOWED_HOSTS if h != "testserver"}  # the test client's
    assert configured == {"localhost", "127.0.0.1", "[::1]"}


# --- the settings refuse what production must not run with -----------------------------------


def settings_run(code: str, **env: str) -> subprocess.CompletedProcess:
    unset = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "gis.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 20 + "production-secret-of-fifty-characters-or-more",
    "ALLOWED_HOSTS": "gis.example.city",
}


def test_debug_off_refuses_the_development_secret_key():
    run = settings_run("", DEBUG="false", ALLOWED_HOSTS="gis.example.city")
    assert run.returncode != 0
    assert "SECRET_KEY is not set" in run.stderr


def test_debug_off_requires_allowed_hosts():
    run = settings_run("", DEBUG="false", SECRET_KEY=PRODUCTION["SECRET_KEY"])
    assert run.returncode != 0
    assert "ALLOWED_HOSTS is not set" in run.stderr


def test_any_host_needs_a_public_url():
    run = settings_run("", ALLOWED_HOSTS="*")
    assert run.returncode != 0 and "PUBLIC_URL" in run.stderr
    public = settings_run("", ALLOWED_HOSTS="*", PUBLIC_URL="https://gis.example.city")
    assert public.returncode == 0


def test_a_city_bbox_of_other_than_four_numbers_stops_the_start():
    # A wrong count used to pass the start and then fail every appeal and permit (a 500).
    for bbox in ("-76.72,39.19,-76.52", "-76.72,39.19,-76.52,39.38,1", "west,39.19,-76.52,39.38"):
        run = settings_run("", CITY_BBOX=bbox)
        assert run.returncode != 0 and "CITY_BBOX takes four numbers" in run.stderr
    run = settings_run(
        "from django.conf import settings; print(settings.CITY_BBOX)",
        CITY_BBOX="-76.72,39.19,-76.52,39.38",
    )
    assert run.stdout.strip() == "(-76.72, 39.19, -76.52, 39.38)", run.stderr


def test_production_settings_pass_the_deploy_check_with_no_warning():
    run = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**os.environ, **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no issues" in run.stdout


# --- §3 limits on guessing -------------------------------------------------------------------


def test_guessed_tokens_are_refused_429_then_even_the_right_one(client, settings):
    settings.AUTH_FAILURE_LIMIT = 5
    _, token = user_create_or_update(username="guessed", role=Role.OPERATOR)
    for n in range(5):
        assert client.get("/tiles/", **bearer(f"{n:040x}")).status_code == 401
    refused = client.get("/tiles/", **bearer(token))
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "throttled"
    # Another address is not held up.
    assert client.get("/tiles/", REMOTE_ADDR="10.0.0.2", **bearer(token)).status_code == 200


def test_behind_a_proxy_the_client_is_the_address_it_names(client, settings):
    settings.AUTH_FAILURE_LIMIT = 2
    settings.NUM_PROXIES = 1
    for _ in range(2):
        client.get("/tiles/", HTTP_X_FORWARDED_FOR="198.51.100.7", **bearer("0" * 40))
    assert client.get("/tiles/", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 200
    assert (
        client.get("/tiles/", HTTP_X_FORWARDED_FOR="198.51.100.7", **bearer("1" * 40)).status_code
        == 429
    )
    # The client cannot dodge the count by writing its own address first.
    spoofed = client.get(
        "/tiles/", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7", **bearer("2" * 40)
    )
    assert spoofed.status_code == 429


def test_guessed_open311_keys_are_refused_429(client, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    categories_load()
    body = {"service_code": "pothole", "lat": "39.28", "long": "-76.57", "description": "x"}
    for n in range(3):
        response = client.post("/open311/v2/requests.json", {**body, "api_key": f"wrong{n}"})
        assert response.status_code == 403
    response = client.post("/open311/v2/requests.json", {**body, "api_key": "wrong"})
    assert response.status_code == 429
    assert response["Retry-After"]
    assert response.json()[0]["code"] == 429
    assert not IntegrationKey.objects.exists()


def test_forty_wrong_admin_passwords_lock_the_account_even_for_the_right_one(client):
    get_user_model().objects.create_superuser("chief", "chief@example.city", "right-password")
    answers = [
        client.post("/admin/login/", {"username": "chief", "password": f"wrong-{n}"}).status_code
        for n in range(40)
    ]
    assert answers[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(answers[settings.AXES_FAILURE_LIMIT :]) == {429}
    right = client.post("/admin/login/", {"username": "chief", "password": "right-password"})
    assert right.status_code == 429
    assert int(right["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "_auth_user_id" not in client.session


def test_anonymous_writes_are_limited_per_address(client, monkeypatch):
    monkeypatch.setattr(AnonWriteThrottle, "THROTTLE_RATES", {"anon_write": "3/min"})
    area = {"type": "Polygon", "coordinates": [[[0, 0], [0.001, 0], [0.001, 0.001], [0, 0]]]}
    answers = [client.post("/api/within", area, content_type="application/json") for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    # Reads are not writes: the map goes on.
    assert client.get("/tiles/").status_code == 200
