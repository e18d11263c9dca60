"""/metrics: Prometheus's text, Django's views counted, the job queue read, not served to all."""

from __future__ import annotations

import os
import subprocess
import sys
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from orders.permits.tasks import claims_sweep
from tests.scrape import scrape, value

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = "203.0.113.7"  # an address of no network of ours


def test_the_text_parses_and_names_each_kind_of_figure(client: Client) -> None:
    client.get("/healthz")  # a Django view, counted by django-prometheus' middleware
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    for name in (
        "django_http_requests_latency_seconds_by_view_method",
        "django_http_responses_total_by_status_view_method",
        "citygis_jobs",
        "citygis_workers_alive",
        "citygis_permits_overrun",
        "citygis_claims_unsent",
        "citygis_scrape_collector_up",
    ):
        assert name in families, name
    latency = families["django_http_requests_latency_seconds_by_view_method"]
    healthz_counts = [
        s.value
        for s in latency.samples
        if s.name.endswith("_count") and s.labels == {"view": "healthz", "method": "GET"}
    ]
    assert healthz_counts and healthz_counts[0] >= 1
    up = {s.labels["collector"]: s.value for s in families["citygis_scrape_collector_up"].samples}
    assert up == {"jobs": 1.0, "permits": 1.0}


def test_queue_depth_follows_a_deferred_job_and_workers_their_heartbeat() -> None:
    before = scrape()
    assert value(before, "citygis_jobs", queue="claims", status="todo") == 0  # a queue, 0 jobs
    claims_sweep.defer(timestamp=0)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO procrastinate_workers DEFAULT VALUES")
    after = scrape()
    assert value(after, "citygis_jobs", queue="claims", status="todo") == 1
    assert value(after, "citygis_jobs", queue="claims", status="doing") == 0
    assert value(after, "citygis_workers_alive") == value(before, "citygis_workers_alive") + 1


@override_settings(METRICS_TOKEN="", METRICS_ALLOWED_IPS=["127.0.0.1"])
def test_another_address_is_refused(client: Client) -> None:
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert b"citygis_" not in response.content


def test_a_request_through_an_unknown_proxy_is_not_loopback(client: Client, settings) -> None:
    # nginx on the same machine: the peer is 127.0.0.1 whoever asked.
    settings.NUM_PROXIES = 0
    response = client.get("/metrics", HTTP_X_FORWARDED_FOR=OUTSIDE)
    assert response.status_code == 403
    settings.NUM_PROXIES = 1  # the proxy is known: the client is the address it names
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR=OUTSIDE).status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


def test_a_listed_network_is_let_in(client: Client, settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = allowed_networks("203.0.113.0/24")
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed


def allowed_networks(value: str) -> list[IPv4Network | IPv6Network]:
    """The networks gis/settings.py makes of ``METRICS_ALLOWED_IPS=value``, read in a process."""
    code = "import gis.settings as s; print(' '.join(map(str, s.METRICS_ALLOWED_NETWORKS)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "METRICS_ALLOWED_IPS": value},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise ImproperlyConfigured(out.stderr.strip().splitlines()[-1])
    return [ip_network(n) for n in out.stdout.split()]


def test_a_malformed_allowed_address_stops_the_start() -> None:
    with pytest.raises(ImproperlyConfigured, match="METRICS_ALLOWED_IPS"):
        allowed_networks("10.0.0.0/8,gis.example.city")


def test_the_token_lets_a_scrape_in_from_anywhere(client: Client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 401
    wrong = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    token = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Token nope")
    assert token.status_code == 401  # an API token is not the scrape's
    right = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token"
    )
    assert right.status_code == 200
    assert b"citygis_jobs" in right.content


def test_guessing_the_token_is_limited(client: Client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    settings.AUTH_FAILURE_LIMIT = 2
    for _ in range(2):
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess").status_code == 401
    again = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert again.status_code == 429


def test_a_collector_whose_table_is_gone_reads_as_down_not_a_500(client: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE procrastinate_workers RENAME TO procrastinate_workers_away")
    # The failed statement aborted the test's transaction: what follows runs in a savepoint.
    response = client.get("/metrics")
    assert response.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(response.content.decode())
        for s in f.samples
    }
    assert samples[("citygis_scrape_collector_up", (("collector", "jobs"),))] == 0


COUNT_IN_A_PROCESS = """
from tiles.metrics import TILE_RENDERED, RouteMetrics
RouteMetrics("tile").observe(200, 0.002)
TILE_RENDERED.inc({n})
"""


def test_the_counts_of_several_processes_are_added_up(client: Client, tmp_path: Path) -> None:
    # gunicorn's workers: each writes its counts under PROMETHEUS_MULTIPROC_DIR, and the one a
    # scrape reaches (here: this process, which counted nothing there) reads them all.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (3, 4):
        subprocess.run(
            [sys.executable, "-c", COUNT_IN_A_PROCESS.format(n=n)], env=env, cwd=ROOT, check=True
        )
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process
    with override_settings(PROMETHEUS_MULTIPROC_DIR=str(tmp_path)):
        samples = scrape(client)
    assert value(samples, "citygis_tiles_total", source="rendered") == 7
    assert value(samples, "citygis_front_requests_total", route="tile", status="2xx") == 2
    assert value(samples, "citygis_front_request_duration_seconds_count", route="tile") == 2
    assert value(samples, "citygis_jobs", queue="claims", status="todo") == 0  # read at scrape
