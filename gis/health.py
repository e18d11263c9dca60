"""What ``/healthz`` checks: each dependency on its own, so a monitor sees which one is down.

The database decides the status code: without it nothing works (503, and a load balancer takes
the instance out). The others leave the service answering, so they make it "degraded" (200): the
shared cache (Redis, else a database table), the job workers that send the claims, the
uploads' directory and, when one is configured, the read replica (reads fall back to the primary
without it, so it too only degrades).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.db.utils import Error as DatabaseError

from gis.replica import REPLICA, REPLICA_ALIAS, REPLICA_POSITION, replica_configured

# procrastinate's workers beat every 10 s; one silent for 30 s counts as gone, as procrastinate's
# own stalled-worker default has it.
WORKER_SILENT_S = 30

Check = dict[str, Any]


def database_check() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), postgis_full_version()")
        pg_version, postgis_version = cursor.fetchone()
    return {"status": "ok", "version": pg_version, "postgis": postgis_version.split('"')[1]}


def cache_check() -> Check:
    backend = "redis" if settings.REDIS_URL else "database"
    try:
        cache.set("citygis:healthz", 1, timeout=10)
        if cache.get("citygis:healthz") != 1:
            return {"status": "error", "backend": backend, "error": "a value set was not read"}
    except Exception as exc:  # the client's own error types (redis, psycopg): any is an outage
        return {"status": "error", "backend": backend, "error": str(exc).strip()}
    return {"status": "ok", "backend": backend}


def workers_alive() -> int:
    """Job workers that beat in the last WORKER_SILENT_S (``/healthz`` and ``/metrics``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_workers"
            " WHERE last_heartbeat > now() - make_interval(secs => %s)",
            [WORKER_SILENT_S],
        )
        (alive,) = cursor.fetchone()
    return int(alive)


def jobs_queued() -> dict[tuple[str, str], int]:
    """Jobs waiting (``todo``) and running (``doing``) by (queue, status)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT queue_name, status, count(*) FROM procrastinate_jobs"
            " WHERE status IN ('todo', 'doing') GROUP BY queue_name, status"
        )
        return {(queue, status): count for queue, status, count in cursor.fetchall()}


def workers_check() -> Check:
    """Workers alive and the queue: no worker means no claim leaves (the overdue sweep)."""
    alive = workers_alive()
    queued = jobs_queued()
    return {
        "status": "ok" if alive else "error",
        "alive": alive,
        "jobs_waiting": sum(n for (_, status), n in queued.items() if status == "todo"),
        "jobs_running": sum(n for (_, status), n in queued.items() if status == "doing"),
        **({} if alive else {"error": f"no job worker has been seen for {WORKER_SILENT_S} s"}),
    }


def media_check() -> Check:
    """Whether an upload can be stored.

    MEDIA_ROOT must be writable or, before the first upload makes it, the directory it goes in.
    """
    place = Path(settings.MEDIA_ROOT)
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir() or not os.access(place, os.W_OK | os.X_OK):
        return {"status": "error", "error": "the uploads directory (MEDIA_ROOT) is not writable"}
    return {"status": "ok"}


def replica_check() -> Check:
    """The standby's lag, and whether this process reads it now (gis.replica decides each read)."""
    try:
        with connections[REPLICA_ALIAS].cursor() as cursor:
            cursor.execute(REPLICA_POSITION)
            recovering, _, lag_s = cursor.fetchone()
    except DatabaseError as exc:
        return {**_error(exc), "reading": False}
    if not recovering:
        return {
            "status": "error",
            "error": "the replica is not a standby (promoted?)",
            "reading": False,
        }
    lagging = lag_s > settings.REPLICA_MAX_LAG
    return {
        "status": "error" if lagging else "ok",
        "lag_s": round(lag_s, 3) if lag_s != float("inf") else None,
        "reading": REPLICA.may_serve(),
        **(
            {"error": f"further behind than REPLICA_MAX_LAG ({settings.REPLICA_MAX_LAG} s)"}
            if lagging
            else {}
        ),
    }


def health() -> tuple[int, dict[str, Any]]:
    """The status code and the body of ``/healthz``."""
    try:
        database = database_check()
    except DatabaseError as exc:
        return 503, {"status": "error", "checks": {"database": _error(exc)}}
    checks = {"database": database, "cache": cache_check()}
    try:
        checks["workers"] = workers_check()
    except DatabaseError as exc:
        checks["workers"] = _error(exc)
    checks["media"] = media_check()
    if replica_configured():
        checks["replica"] = replica_check()
    degraded = any(check["status"] != "ok" for check in checks.values())
    return 200, {"status": "degraded" if degraded else "ok", "checks": checks}


def _error(exc: Exception) -> Check:
    return {"status": "error", "error": str(exc).strip()}
