"""Per-process copies of rows every new appeal reads: the token, the category, the district.

Registering an appeal through the API read the caller's token (with the user), the category
(with its organisation) and the district's name: three queries of ten, for rows that change
seldom. Triggers (``SQL``, migration 0005) send a notice on ``CHANNEL`` for every statement that
changes one of those tables; a daemon thread per process listens on a connection of its own and
drops all copies.

A copy is used only:

- while the listener is connected: before it is, and after it lost its connection, every read
  goes to the database (reconnecting drops everything: notices may have been missed);
- outside a transaction: inside one, a row may be the transaction's own change, or one a
  rollback undoes, which no notice would ever put right (tests run in one: they read the rows).

Another process sees a change once its notice arrives, a moment after the commit: as if its
request had read the row just before. Copies are shared by the process's threads: read only.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import psycopg
from django.db import connection
from psycopg import sql

log = logging.getLogger(__name__)

CHANNEL = "citygis_appeals_refdata"  # also in SQL below
RETRY_S = 1.0
# More keys than this (tokens nobody holds, unknown codes) and the copies start over.
MAX_KEYS = 10_000
# How long the listener waits for a notice before it looks whether it should stop.
POLL_S = 1.0

# The tables copied from: categories with their organisations (selectors.category_by_code),
# district names (selectors.appeal_district), tokens with their users
# (api.CachedTokenAuthentication).
SQL = """
CREATE OR REPLACE FUNCTION appeals_refdata_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Per statement, and PostgreSQL folds equal notices of a transaction: a bulk change is one.
    PERFORM pg_notify('citygis_appeals_refdata', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER appeals_refdata_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON appeals_category
    FOR EACH STATEMENT EXECUTE FUNCTION appeals_refdata_changed();
CREATE TRIGGER appeals_refdata_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON layers_organisation
    FOR EACH STATEMENT EXECUTE FUNCTION appeals_refdata_changed();
CREATE TRIGGER appeals_refdata_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON layers_district
    FOR EACH STATEMENT EXECUTE FUNCTION appeals_refdata_changed();
CREATE TRIGGER appeals_refdata_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authtoken_token
    FOR EACH STATEMENT EXECUTE FUNCTION appeals_refdata_changed();
-- A new account is nobody's token yet; a changed or deleted one may be.
CREATE TRIGGER appeals_refdata_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON gis_core_user
    FOR EACH STATEMENT EXECUTE FUNCTION appeals_refdata_changed();
"""

DROP = """
DROP TRIGGER IF EXISTS appeals_refdata_changed ON gis_core_user;
DROP TRIGGER IF EXISTS appeals_refdata_changed ON authtoken_token;
DROP TRIGGER IF EXISTS appeals_refdata_changed ON layers_district;
DROP TRIGGER IF EXISTS appeals_refdata_changed ON layers_organisation;
DROP TRIGGER IF EXISTS appeals_refdata_changed ON appeals_category;
DROP FUNCTION IF EXISTS appeals_refdata_changed();
"""

T = TypeVar("T")
_MISSING = object()


class NotifiedCache:
    """Values by key, kept while the database has announced no change to what they come from."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._lock = threading.Lock()
        self._values: dict[Hashable, Any] = {}
        # Bumped by every drop: a value read from the database before a drop is not kept.
        self._generation = 0
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._pid = 0

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The copy of ``key``, or ``load()`` (kept when nothing changed meanwhile)."""
        if connection.in_atomic_block or not self._started():
            return load()
        with self._lock:
            value = self._values.get(key, _MISSING)
            generation = self._generation
        if value is not _MISSING:
            return value
        value = load()  # an exception (a token that does not exist) keeps nothing
        with self._lock:
            if self._listening.is_set() and self._generation == generation:
                if len(self._values) >= MAX_KEYS:
                    self._values.clear()
                self._values[key] = value
        return value

    def wait_listening(self, timeout: float) -> bool:
        """Whether the listener is connected within ``timeout`` seconds (started if need be)."""
        self._started()
        return self._listening.wait(timeout)

    def stop(self) -> None:
        """Close the listener's connection (a test database cannot be dropped while it is open)."""
        thread = self._thread
        if thread is not None:
            self._stopping.set()
            thread.join()
        self._thread = None
        self._stopping.clear()
        self._drop(listening=False)

    def _started(self) -> bool:
        """Whether copies may be used; starts the listener (again in a forked process)."""
        if self._thread is None or self._pid != os.getpid():
            with self._lock:
                if self._thread is None or self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._values.clear()
                    self._generation += 1
                    self._listening.clear()
                    params = connection.get_connection_params()
                    self._thread = threading.Thread(
                        target=self._listen, args=(params,), name="appeals-refdata", daemon=True
                    )
                    self._thread.start()
        return self._listening.is_set()

    def _drop(self, *, listening: bool) -> None:
        with self._lock:
            self._values.clear()
            self._generation += 1
            if listening:
                self._listening.set()
            else:
                self._listening.clear()

    def _listen(self, params: dict[str, Any]) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self._drop(listening=True)
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=POLL_S):
                            self._drop(listening=True)
            except Exception:  # the database went away: the rows are read until it is back
                log.exception("appeals reference data listener lost its connection; retrying")
            finally:
                self._drop(listening=False)
            self._stopping.wait(RETRY_S)


cache = NotifiedCache(CHANNEL)
