"""A real streaming replica of the test cluster, as the ``replica`` alias (tests/conftest.py).

``replica`` (session): ``scripts/replica.sh`` makes a hot standby of the project-local cluster
the test database lives in (a fresh ``pg_basebackup``: CREATE DATABASE is WAL-logged, so the test
database is in it and follows), on its own port, one per xdist worker; the ``replica`` database
alias points at its copy of the test database. Dropped, slot and all, when the session ends.
"""

from __future__ import annotations

import copy
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from gis.replica import PRIMARY_LSN, REPLICA_ALIAS
from tiles.asgi import conninfo

SCRIPT = settings.BASE_DIR / "scripts" / "replica.sh"


@dataclass(frozen=True, slots=True)
class Standby:
    """The test replica: its script's environment and SQL on either side."""

    env: dict[str, str]

    def script(self, command: str) -> None:
        subprocess.run(
            [str(SCRIPT), command], env=self.env, check=True, timeout=180, capture_output=True
        )

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        """The first value of a statement run on the replica."""
        return _first(conninfo(REPLICA_ALIAS), statement, params)

    def primary_sql(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        return _first(conninfo(), statement, params)

    def caught_up(self, timeout: float = 30.0) -> None:
        """Wait until the replica has replayed all the primary has written."""
        target = int(self.primary_sql(PRIMARY_LSN))
        deadline = time.monotonic() + timeout
        while int(self.sql("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")) < target:
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.01)


def _first(params: dict[str, Any], statement: str, args: tuple[Any, ...]) -> Any:
    with psycopg.connect(**params, autocommit=True) as conn:
        row = conn.execute(statement, args).fetchone()
    return row[0] if row else None


@pytest.fixture(scope="session")
def standby(django_db_setup: None) -> Iterator[Standby]:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the replica test copies the project-local cluster (DATABASE_URL is set)")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    port = int(os.environ.get("CITYGIS_PG_PORT", "54329")) + 10 + int(worker.removeprefix("gw"))
    standby = Standby(
        env={
            **os.environ,
            "REPLICA_DATA": str(settings.VAR_DIR / f"pg-replica-test-{worker}" / "data"),
            "CITYGIS_REPLICA_PORT": str(port),
        }
    )
    standby.script("drop")  # a copy left by a run that was killed: its WAL is long gone
    standby.script("start")
    try:
        yield standby
    finally:
        standby.script("drop")


@pytest.fixture(scope="module")
def replica(standby: Standby) -> Iterator[Standby]:
    """The ``replica`` alias on the standby, for one module's tests only (others never see it).

    Module-scoped so that it exists before pytest-django checks a test's ``databases``.
    """
    default = connections["default"].settings_dict
    alias = {
        **copy.deepcopy(default),
        "PORT": standby.env["CITYGIS_REPLICA_PORT"],
        "TEST": {**default["TEST"], "MIRROR": "default"},  # never flushed: it is read-only
    }
    if "pool" in alias["OPTIONS"]:
        alias["OPTIONS"]["pool"]["timeout"] = settings.REPLICA_POOL_TIMEOUT
    connections.settings[REPLICA_ALIAS] = settings.DATABASES[REPLICA_ALIAS] = alias
    try:
        standby.caught_up(timeout=60)
        yield standby
    finally:
        connections[REPLICA_ALIAS].close()
        connections[REPLICA_ALIAS].close_pool()
        del connections.settings[REPLICA_ALIAS]
        settings.DATABASES.pop(REPLICA_ALIAS, None)
