"""Reads on a streaming replica (``DATABASE_REPLICA_URL``) that never see older data than the cache.

A hot standby replays the primary's WAL some milliseconds late, so a read sent there blindly
could serve a permit the primary has just taken from a contractor, and worse, the tile front
would cache that tile again right after the change purged it. The rule kept here: a read goes
to the replica only when the replica has replayed the WAL of every change this process has
heard of, else to the primary.

- Every change to a layer's rows notifies the tile front (tiles/triggers.py); the front calls
  ``REPLICA.changed()`` before it purges, and this process's own writes (any unsafe request,
  ``ReplicaMiddleware``) do the same. From then on reads go to the primary until
- the front's watch (``replica_watch``) has read the primary's WAL insert position — taken after
  the change committed, so at or past its commit record — as the watermark, and seen the
  replica's ``pg_last_wal_replay_lsn()`` reach it. The replica's position is read before the
  read's own statement takes its snapshot, so the snapshot holds every change up to it (one
  statement could not check and read: its snapshot would predate the check).
- A replica that is not following (no WAL receiver), promoted, down, or more than
  ``REPLICA_MAX_LAG`` seconds behind is not read either; nor is it while no listener on the
  primary runs in the process, since changes would then go unheard.

Changes no trigger announces (an organisation's name) are at most ``REPLICA_MAX_LAG`` old.
What a role may see is decided by rows the triggers do cover (a layer's scope column) and by the
account (users and tokens, always read on the primary).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gis.middleware import DATABASE_DOWN

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

REPLICA_ALIAS = "replica"
REPLICA_DOWN = (*DATABASE_DOWN, psycopg.OperationalError, psycopg.InterfaceError)
RETRY_S = 1.0
"""After the replica failed a read or a check, reads skip it this long; then the watch tries."""
IDLE_POLL_S = 0.2
"""How often the watch reads the replica's position while it has caught up (the lag bound)."""
CATCH_UP_POLL_S = 0.002
"""How often while it has not replayed the watermark: reads return to it this soon after."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

PRIMARY_LSN = "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"
# The WAL receiver's row shows only its pid to a role without pg_read_all_stats: its being there
# says the standby follows the primary. Lag is 0 while it has replayed all it received.
REPLICA_POSITION = """
SELECT pg_is_in_recovery(),
       COALESCE(pg_last_wal_replay_lsn() - '0/0'::pg_lsn, 0),
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                 AND EXISTS (SELECT FROM pg_stat_wal_receiver) THEN 0
            ELSE COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()),
                          'Infinity')
       END::float8
"""


def replica_configured() -> bool:
    return REPLICA_ALIAS in settings.DATABASES


class ReplicaState:
    """What this process knows of the primary's changes and the replica's replay; one per process.

    Written by the tile front's event loop and by request threads; each field is written whole
    (atomic under the GIL), and ``may_serve`` reads them in the order that keeps it sound.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.changes = 0
        """Changes heard of (notifications, this process's writes)."""
        self.covered = 0
        """Changes up to which ``watermark`` is known to reach."""
        self.watermark = 0
        """The primary's WAL position (bytes) the replica must have replayed."""
        self.replayed = 0
        """The replica's replay position when last read: it only moves on, a lower bound."""
        self.lag_s = float("inf")
        self.seen_at = 0.0
        self.recovering = False
        self.down_until = 0.0
        self.hearing = False
        """A listener on the primary runs in this process: changes are heard."""
        self.wake: Callable[[], None] | None = None
        self.served = {DEFAULT_DB_ALIAS: 0, REPLICA_ALIAS: 0}
        """Reads each side served (the tests show where reads went)."""

    def changed(self) -> None:
        """A change committed on the primary: reads skip the replica until it has replayed it."""
        with self._lock:
            self.changes += 1
        wake = self.wake
        if wake is not None:
            with contextlib.suppress(RuntimeError):  # the watch's loop has just closed
                wake()

    def advance(self, lsn: int, *, covers: int) -> None:
        """The primary's position, read after the first ``covers`` changes were heard."""
        with self._lock:
            self.watermark = max(self.watermark, lsn)  # first: may_serve reads covered first
            self.covered = max(self.covered, covers)

    def observed(self, *, recovering: bool, replayed: int, lag_s: float) -> None:
        self.replayed, self.lag_s, self.recovering = replayed, lag_s, recovering
        self.seen_at = time.monotonic()
        self.down_until = 0.0

    def seen_down(self) -> None:
        self.down_until = time.monotonic() + RETRY_S

    @property
    def behind(self) -> bool:
        return self.covered < self.changes or self.replayed < self.watermark

    def may_serve(self) -> bool:
        """Whether a read starting now may go to the replica.

        ``changes`` before ``covered`` before ``watermark``: a change heard before this call is
        either uncovered or its position already in the watermark.
        """
        changes = self.changes
        if not self.hearing or self.covered < changes or self.replayed < self.watermark:
            return False
        now = time.monotonic()
        # The replica's lag when it was read, plus the time since: how old its data may be.
        return (
            self.recovering
            and now >= self.down_until
            and self.lag_s + (now - self.seen_at) <= settings.REPLICA_MAX_LAG
        )

    def count(self, alias: str) -> str:
        self.served[alias] += 1
        return alias


REPLICA = ReplicaState()


# --- the watch (the tile front's event loop) -------------------------------------------------


async def replica_watch(primary: AsyncConnectionPool, replica: dict[str, Any]) -> None:
    """Keep ``REPLICA``'s watermark and the replica's position known, until cancelled.

    ``primary`` is a pool on the primary; ``replica`` the replica's connection parameters (its
    own connection: a check must fail at once when the replica is away, not wait for a pool).
    """
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake() -> None:
        loop.call_soon_threadsafe(woken.set)  # changed() runs in request threads too

    REPLICA.wake = wake
    conn: AsyncConnection[Any] | None = None
    try:
        while True:
            woken.clear()
            if REPLICA.covered < REPLICA.changes:
                covers = REPLICA.changes
                try:
                    async with primary.connection() as primary_conn:
                        row = await (await primary_conn.execute(PRIMARY_LSN)).fetchone()
                    assert row is not None
                    REPLICA.advance(int(row[0]), covers=covers)
                except (psycopg.Error, PoolTimeout) as exc:
                    log.warning("replica watch: cannot read the primary's position: %s", exc)
                    await asyncio.sleep(RETRY_S)
                    continue
            try:
                if conn is None or conn.closed:
                    conn = await AsyncConnection.connect(
                        **{"connect_timeout": 2, **replica}, autocommit=True
                    )
                row = await (await conn.execute(REPLICA_POSITION)).fetchone()
                assert row is not None
                REPLICA.observed(recovering=row[0], replayed=int(row[1]), lag_s=row[2])
            except psycopg.Error as exc:
                if REPLICA.down_until == 0.0:
                    log.warning("replica watch: the replica is away, reading the primary: %s", exc)
                REPLICA.seen_down()
                if conn is not None:
                    await conn.close()
                conn = None
                await asyncio.sleep(RETRY_S)
                continue
            wait = CATCH_UP_POLL_S if REPLICA.behind else IDLE_POLL_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), wait)
    finally:
        REPLICA.wake = None
        if conn is not None:
            await conn.close()


# --- Django's side -------------------------------------------------------------------------

_primary_only: contextvars.ContextVar[bool] = contextvars.ContextVar("primary_only", default=False)


@contextlib.contextmanager
def primary_only() -> Iterator[None]:
    """Every read inside goes to the primary (a request that writes reads its own writes)."""
    token = _primary_only.set(True)
    try:
        yield
    finally:
        _primary_only.reset(token)


def read_alias() -> str:
    """The database a read may use now: the replica when it has replayed what was heard of."""
    if (
        not replica_configured()
        or _primary_only.get()
        or connections[DEFAULT_DB_ALIAS].in_atomic_block  # a service reading its own writes
        or not REPLICA.may_serve()
    ):
        return REPLICA.count(DEFAULT_DB_ALIAS)
    return REPLICA.count(REPLICA_ALIAS)


def replica_read(fn: Callable[P, T]) -> Callable[P, T]:
    """A selector whose reads may go to the replica (its ``using`` keyword chooses the database).

    ``read_alias`` chooses unless the caller passed ``using``; a read the replica fails (it went
    away, or cancelled the statement for a conflict with replay) runs again on the primary.
    """

    @functools.wraps(fn)
    def read(*args: P.args, **kwargs: P.kwargs) -> T:
        if "using" in kwargs:
            return fn(*args, **kwargs)
        alias = read_alias()
        if alias == DEFAULT_DB_ALIAS:
            return fn(*args, **kwargs)
        kwargs["using"] = alias
        try:
            return fn(*args, **kwargs)
        except DATABASE_DOWN as exc:
            log.warning("a read on the replica failed, reading the primary: %s", exc)
            REPLICA.seen_down()
            connections[alias].close()
            kwargs["using"] = REPLICA.count(DEFAULT_DB_ALIAS)
            return fn(*args, **kwargs)

    return read


class ReplicaMiddleware:
    """A request that may write reads only the primary, and its changes raise the watermark."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in SAFE_METHODS:
            return self.get_response(request)
        try:
            with primary_only():
                return self.get_response(request)
        finally:
            # After its transactions committed: the watch reads a position past them.
            REPLICA.changed()


async def on_replica(
    primary: AsyncConnectionPool,
    replica: AsyncConnectionPool | None,
    run: Callable[[AsyncConnectionPool], Awaitable[T]],
) -> T:
    """``run`` on the replica's pool when it may serve (``REPLICA.may_serve``), else the primary's.

    The async front's ``replica_read``: a read the replica fails runs again on the primary.
    """
    if replica is None or not REPLICA.may_serve():
        REPLICA.count(DEFAULT_DB_ALIAS)
        return await run(primary)
    REPLICA.count(REPLICA_ALIAS)
    try:
        return await run(replica)
    except REPLICA_DOWN as exc:
        log.warning("a read on the replica failed, reading the primary: %s", exc)
        REPLICA.seen_down()
        REPLICA.count(DEFAULT_DB_ALIAS)
        return await run(primary)
