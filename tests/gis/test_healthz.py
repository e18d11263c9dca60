"""/healthz: each dependency on its own; the database decides the status code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker() -> None:
    """A job worker that has just sent its heartbeat, as procrastinate's do every 10 s."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO procrastinate_workers DEFAULT VALUES")


def test_healthz_reports_each_dependency(client: Client, worker: None) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok", body
    checks = body["checks"]
    assert checks["database"]["version"].startswith("PostgreSQL")
    assert re.match(r"\d+\.\d+\.\d+", checks["database"]["postgis"])
    assert checks["cache"] == {"status": "ok", "backend": "redis"}  # make test runs a Redis
    assert checks["workers"] == {
        "status": "ok",
        "alive": 1,
        "jobs_waiting": 0,
        "jobs_running": 0,
    }
    assert checks["media"] == {"status": "ok"}


def test_no_live_worker_is_degraded_with_the_queue_shown(client: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '5 min')"
        )
        cursor.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)"
            " VALUES ('default', 'claims', '{}', 'todo')"
        )
    response = client.get("/healthz")
    assert response.status_code == 200  # the service answers; the claims wait
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["workers"]["alive"] == 0
    assert body["checks"]["workers"]["jobs_waiting"] == 1
    assert "no job worker" in body["checks"]["workers"]["error"]


def test_an_unreachable_cache_is_degraded(client: Client, worker: None) -> None:
    broken = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    # Django's test signals make the cache handler read CACHES again, on entry and on exit.
    with override_settings(CACHES=broken, REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "error"
    assert body["checks"]["cache"]["backend"] == "redis"
    assert body["checks"]["database"]["status"] == "ok"


def test_uploads_not_made_yet_are_fine_where_they_can_be_made(
    client: Client, worker: None, tmp_path: Path
) -> None:
    # A fresh checkout has no var/media until the first upload: storage makes it then.
    with override_settings(MEDIA_ROOT=tmp_path / "var" / "media"):
        body = client.get("/healthz").json()
    assert body["checks"]["media"] == {"status": "ok"}
    assert body["status"] == "ok"


def test_uploads_that_cannot_be_stored_are_degraded(
    client: Client, worker: None, tmp_path: Path
) -> None:
    # Not a permission test: the suite may run as root, whom no mode stops.
    (tmp_path / "a-file").write_text("not a directory")
    with override_settings(MEDIA_ROOT=tmp_path / "a-file" / "media"):
        body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert "MEDIA_ROOT" in body["checks"]["media"]["error"]


def test_healthz_is_503_when_the_database_is_unreachable(client: Client) -> None:
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = "1"  # nothing listens there
    connection.settings_dict["HOST"] = "127.0.0.1"
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"]["status"] == "error"
