"""Tiles, and the JSON lookups registered with them, as bare ASGI handlers in front of Django.

``/tiles/{layers}/{z}/{x}/{y}.mvt|.pbf`` is the hottest path of the service: it runs here, on an
async psycopg pool, without Django's request/response machinery (which costs more per tile than
PostGIS does at z16). So do the operator's lookups given as ``json_routes`` (``GET /api/search``
and ``/api/nearby``, layers/asgi.py): a request through Django and DRF costs about as much as
their statements. Everything else — the catalog, TileJSON, raster tiles, the rest of the API, a
lookup asked for as HTML or by a browser session — goes to Django. Layer resolution, role rules,
input checks and the SQL are the same functions the Django views use (tiles.selectors,
layers.search, layers.selectors, layers.registry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from http.cookies import CookieError, SimpleCookie
from importlib import import_module
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from rest_framework.authtoken.models import Token

from gis.exceptions import (
    ApplicationError,
    BadInput,
    NulByte,
    Unauthorized,
    Unavailable,
    nul_in,
)
from gis.languages import request_language
from gis.middleware import (
    DATABASE,
    DATABASE_DOWN,
    UNAVAILABLE_RETRY_S,
    no_connection,
    unavailable_body,
)
from gis.prepared import configure_async
from gis.replica import REPLICA, REPLICA_ALIAS, on_replica, replica_configured, replica_watch
from gis.roles import PUBLIC, Viewer, viewer_for, viewer_of
from gis.spatial import TileAddress
from gis.throttling import failure_record, failures_wait, refused, scope_ip
from layers.registry import layers_purged_with
from tiles.cache import CachedTile, LocalTileCache, parse_purge_payload
from tiles.metrics import (
    TILE_FROM_LOCAL,
    TILE_FROM_REDIS,
    TILE_RENDERED,
    Observed,
    RouteMetrics,
)
from tiles.redis_cache import RedisTileCache
from tiles.selectors import TileSet, tile_address, tileset_for
from tiles.triggers import CHANNEL, VIEWERS_CHANNEL

log = logging.getLogger(__name__)
T = TypeVar("T")
# The front's own pools raise psycopg's errors; a token lookup through Django raises Django's.
FRONT_DATABASE_DOWN = (*DATABASE_DOWN, psycopg.OperationalError, psycopg.InterfaceError)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# A lookup: the query, the viewer, the pool and the request's language (gis.languages).
JsonRoute = Callable[[dict[str, str], Viewer, AsyncConnectionPool, str], Awaitable[bytes]]
"""A lookup served here: the query parameters, the viewer and a pool in, the JSON body out
(an ApplicationError for a 4xx)."""


class BadHost(BadInput):
    code = "bad_host"


TILE_PATH = re.compile(
    r"^/tiles/(?P<layers>[^/]+)/(?P<z>[^/]+)/(?P<x>[^/]+)/(?P<y>[^/.]+)\.(?P<ext>mvt|pbf)$"
)
MVT = b"application/vnd.mapbox-vector-tile"
TOKEN_TTL_S = 30.0
MAX_TILESETS = 4096
LISTEN_TIMEOUT_S = 10.0
DJANGO_DB_OPTIONS = frozenset({"isolation_level", "server_side_binding", "assume_role", "pool"})


def conninfo(alias: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Psycopg connection parameters of a Django database (the test one under pytest)."""
    db = connections[alias].settings_dict
    params = {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"],
        "host": db["HOST"],
        "port": db["PORT"],
    }
    # libpq options such as sslmode ride in OPTIONS; Django's own keys there are not libpq's.
    params.update(
        {
            k: v
            for k, v in db.get("OPTIONS", {}).items()
            if isinstance(v, str | int) and k not in DJANGO_DB_OPTIONS
        }
    )
    return {k: v for k, v in params.items() if v not in (None, "")}


class TileServer:
    """Serves tiles itself and hands every other request to ``app`` (Django)."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        json_routes: Mapping[str, JsonRoute] | None = None,
    ) -> None:
        self.app = app
        self.json_routes = dict(json_routes or {})
        # /metrics: each route's counters, named by the path's last part (/api/search: search).
        self._tile_metrics = RouteMetrics("tile")
        self._route_metrics = {
            path: RouteMetrics(path.rstrip("/").rsplit("/", 1)[-1]) for path in self.json_routes
        }
        # The lookups' statements run prepared with generic plans (gis.prepared): their own pool,
        # so that setting never reaches the tile statements.
        self.lookup_pool: AsyncConnectionPool | None = None
        self.local = LocalTileCache(settings.TILE_CACHE_MB * 2**20 if settings.TILE_CACHE else 0)
        self.redis: RedisTileCache | None = None
        self.pool: AsyncConnectionPool | None = None
        # On the replica (DATABASE_REPLICA_URL), for the reads it may serve (gis.replica).
        self.replica_pool: AsyncConnectionPool | None = None
        self.replica_lookup_pool: AsyncConnectionPool | None = None
        self._watch: asyncio.Task[None] | None = None
        self._started: asyncio.Lock | None = None
        self._listener: asyncio.Task[None] | None = None
        self._tokens: dict[tuple[str, str], tuple[Viewer, float]] = {}
        self._viewers_epoch = 0
        # Resolved layer lists per viewer: the registry is fixed for the process's life.
        self._tilesets: dict[tuple[str, Viewer], TileSet] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    async def _start(self) -> None:
        if self._started is None:
            self._started = asyncio.Lock()
        async with self._started:
            if self.pool is not None:
                return
            params = conninfo()
            pool, self.lookup_pool = await self._open_pools(params)
            if settings.TILE_CACHE and settings.REDIS_URL:
                self.redis = RedisTileCache(
                    settings.REDIS_URL, prefix=f"citygis:{params['dbname']}:"
                )
                await self.redis.flush_on_start()
            if replica_configured():
                await self._start_replica(pool)
            listening = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(params, listening))
            # No tile is cached before this worker hears purges: it could never drop it.
            try:
                await asyncio.wait_for(listening.wait(), LISTEN_TIMEOUT_S)
            except TimeoutError:
                self.pool = pool
                await self._stop()
                raise Unavailable("The tile service cannot reach the database.") from None
            self.pool = pool

    async def _start_replica(self, primary: AsyncConnectionPool) -> None:
        """The replica's pools, and the watch that says when they may be read."""
        params = conninfo(REPLICA_ALIAS)
        self.replica_pool, self.replica_lookup_pool = await self._open_pools(
            params, suffix="-replica", timeout=settings.REPLICA_POOL_TIMEOUT
        )
        self._watch = asyncio.create_task(replica_watch(primary, params))

    async def _open_pools(
        self, params: dict[str, Any], *, suffix: str = "", timeout: float | None = None
    ) -> tuple[AsyncConnectionPool, AsyncConnectionPool | None]:
        """The tiles' pool, and the lookups' when lookups are served here, on one database."""
        tiles = await _open_pool(
            params, name=f"tiles{suffix}", size=settings.TILE_POOL_SIZE, timeout=timeout
        )
        if not self.json_routes:
            return tiles, None
        lookups = await _open_pool(
            params,
            name=f"lookups{suffix}",
            size=settings.LOOKUP_POOL_SIZE,
            configure=configure_async,
            timeout=timeout,
        )
        return tiles, lookups

    async def _stop(self) -> None:
        for task in (self._listener, self._watch):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._listener = self._watch = None
        for pool in (self.pool, self.lookup_pool, self.replica_pool, self.replica_lookup_pool):
            if pool:
                await pool.close()
        self.pool = self.lookup_pool = self.replica_pool = self.replica_lookup_pool = None
        if self.redis:
            await self.redis.close()
            self.redis = None
        # The lock belongs to this event loop; a restart (a new loop) makes its own.
        self._started = None

    async def _listen(self, params: dict[str, Any], listening: asyncio.Event) -> None:
        """Purge the caches as the database announces changed rows (tiles/triggers.py).

        And forget the known tokens and sessions when one of them, or an account, changed:
        on whichever instance it was revoked, it stops working here too.

        While it listens, the replica may serve reads (gis.replica): every change it hears holds
        them off the replica until the replica has replayed it. What it may have missed before
        it listens counts as a change too.
        """
        while True:
            try:
                async with await AsyncConnection.connect(**params, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await conn.execute(f"LISTEN {VIEWERS_CHANNEL}")
                    REPLICA.changed()
                    REPLICA.hearing = True
                    listening.set()
                    async for notify in conn.notifies():
                        if notify.channel == VIEWERS_CHANNEL:
                            self.forget_viewers()
                        else:
                            await self.purge(notify.payload)
            except asyncio.CancelledError:
                REPLICA.hearing = False
                raise
            except Exception:  # the database went away: reconnect, and drop what we may have missed
                REPLICA.hearing = False
                log.exception("tile purge listener lost its connection; retrying")
                self.local.clear()
                self.forget_viewers()
                await asyncio.sleep(1.0)

    async def purge(self, payload: str) -> None:
        try:
            layer, boxes = parse_purge_payload(payload)
        except ValueError:
            log.warning("ignoring malformed purge payload %r", payload)
            return
        # First: no tile rendered after the purge may come from a replica without the change.
        REPLICA.changed()
        # The changed layer's tiles, and those of the layers fed by it (a view over its table).
        layers = layers_purged_with(layer)
        self.local.purge(layers, boxes)
        if self.redis:
            await self.redis.purge(layers, boxes)
            # A request may have copied a stale tile from Redis while the purge above ran.
            self.local.purge(layers, boxes)

    # --- requests ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] == "http":
            match = TILE_PATH.match(scope["path"])
            if match and scope["method"] in ("GET", "HEAD"):
                observed = Observed(send, self._tile_metrics)
                try:
                    return await self._unless_down(observed, self._tile(scope, observed, match))
                finally:
                    observed.done()
            route = self.json_routes.get(scope["path"])
            if route is not None and scope["method"] == "GET":
                headers = dict(scope["headers"])
                query = dict(parse_qsl(scope["query_string"].decode("latin-1"), encoding="utf-8"))
                if _for_api_client(headers, query):
                    observed = Observed(send, self._route_metrics[scope["path"]])
                    try:
                        lookup = self._lookup(scope, observed, route, headers, query)
                        return await self._unless_down(observed, lookup)
                    finally:
                        observed.done()
        return await self.app(scope, receive, send)

    async def _unless_down(self, send: Send, answer: Coroutine[Any, Any, None]) -> None:
        """The answer, or a quick JSON 503 with Retry-After while the database is away.

        As Django's side answers (gis.middleware): for DOWN_HOLD_S after a request waited for
        a connection in vain the next ones are told so at once; the pools reconnect by themselves
        once it is back. Nothing has been sent when the error comes: a tile or a lookup is
        sent only after its query.
        """
        if DATABASE.known_down:
            answer.close()  # never started: nothing to wait for
            return await _unavailable(send)
        try:
            await answer
        except FRONT_DATABASE_DOWN as exc:
            if no_connection(exc):
                DATABASE.seen_down()
            log.warning("tile front: database unavailable: %s", exc)
            await _unavailable(send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if replica_configured():
                    # The replica serves Django's reads too, once this process hears changes.
                    try:
                        await self._start()
                    except (Unavailable, *FRONT_DATABASE_DOWN):
                        log.warning("tile front: not started yet; the first tile starts it")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _tile(self, scope: Scope, send: Send, match: re.Match[str]) -> None:
        headers = dict(scope["headers"])
        try:
            if self.pool is None:
                await self._start()
            viewer = await self._viewer(scope, headers)
            tileset = self._tilesets.get((match["layers"], viewer))
            if tileset is None:
                tileset = tileset_for(names=match["layers"], viewer=viewer)
                if len(self._tilesets) > MAX_TILESETS:
                    self._tilesets.clear()
                self._tilesets[(match["layers"], viewer)] = tileset
            tile = tile_address(match["z"], match["x"], match["y"])
        except ApplicationError as exc:
            return await _json(
                send,
                exc.status,
                exc.body(),
                headers=_extra_headers(exc),
            )
        key = tileset.cache_key(tile)
        # Taken before any await: a purge landing meanwhile keeps what we fetch out of the cache.
        epoch = self.local.epoch
        cached = self.local.get(key)
        if cached is not None:
            TILE_FROM_LOCAL.inc()
        elif self.redis is not None:
            body = await self.redis.get(key)
            if body is not None:
                TILE_FROM_REDIS.inc()
                cached = CachedTile(body)
                self.local.put(key, cached, epoch=epoch)
        if cached is None:
            cached = CachedTile(await self._render(tileset, tile))
            TILE_RENDERED.inc()
            if self.local.put(key, cached, epoch=epoch) and self.redis is not None:
                await self.redis.put(key, cached.body)
        await self._send_tile(send, scope, headers, cached, public=tileset.is_public)

    async def _render(self, tileset: TileSet, tile: TileAddress) -> bytes:
        found = tileset.statement(tile)
        if found is None:
            return b""
        statement, params = found

        async def render(pool: AsyncConnectionPool) -> bytes:
            async with pool.connection() as conn:
                cursor = await conn.execute(statement, params, binary=True)
                row = await cursor.fetchone()
            return bytes(row[0]) if row and row[0] else b""

        assert self.pool is not None  # _tile started the pools
        return await on_replica(self.pool, self.replica_pool, render)

    async def _lookup(
        self,
        scope: Scope,
        send: Send,
        route: JsonRoute,
        headers: dict[bytes, bytes],
        query: dict[str, str],
    ) -> None:
        try:
            if self.pool is None:
                await self._start()
            viewer = await self._viewer(scope, headers)
            if where := nul_in((k, [v]) for k, v in query.items()):
                raise NulByte(where)
            language = request_language(
                chosen=_cookie_value(headers.get(b"cookie", b""), settings.LANGUAGE_COOKIE_NAME),
                accept_language=headers.get(b"accept-language", b""),
            )
            assert self.lookup_pool is not None  # _start opens it when there are routes
            body = await on_replica(
                self.lookup_pool,
                self.replica_lookup_pool,
                lambda pool: route(query, viewer, pool, language),
            )
        except ApplicationError as exc:
            payload = exc.body()
            return await _respond(
                send, exc.status, [*API_HEADERS, *_extra_headers(exc)], _api_json(payload)
            )
        await _respond(send, 200, API_HEADERS, body)

    async def _viewer(self, scope: Scope, headers: dict[bytes, bytes]) -> Viewer:
        """Who asks: the token's account, else the browser session's, else the public."""
        _check_host(headers)
        authorization = headers.get(b"authorization", b"")
        if authorization:
            scheme, _, key = authorization.decode("latin-1").partition(" ")
            if scheme.lower() != "token" or not key.strip():
                raise Unauthorized("Use 'Authorization: Token <key>'.")
            return await self._known(("token", key.strip()), scope, _viewer_for_token)
        session = _session_key(headers.get(b"cookie", b""))
        if session:
            # A session that ended is the public: the browser is told so by the catalog.
            return await self._known(("session", session), scope, _viewer_for_session)
        return PUBLIC

    async def _known(
        self, key: tuple[str, str], scope: Scope, lookup: Callable[[str], Viewer | None]
    ) -> Viewer:
        """The viewer of a token or session, remembered TOKEN_TTL_S; failed tokens counted.

        Forgotten sooner when the database announces a revoked token, a changed account or an
        ended session (``_listen``), from any instance.
        """
        known = self._tokens.get(key)
        if known and known[1] > time.monotonic():
            return known[0]
        kind, secret = key
        ip = scope_ip(scope)
        if kind == "token":
            wait = await _in_django(failures_wait, ip)
            if wait:
                raise refused(wait)
        # Taken before the lookup: a change announced meanwhile keeps its answer out of memory.
        epoch = self._viewers_epoch
        viewer = await _in_django(lookup, secret)
        if viewer is None:
            if kind == "session":
                return PUBLIC
            await _in_django(failure_record, ip)
            raise Unauthorized("Invalid token.")
        if len(self._tokens) > MAX_TILESETS:
            self._tokens.clear()
        if epoch == self._viewers_epoch:
            self._tokens[key] = (viewer, time.monotonic() + TOKEN_TTL_S)
        return viewer

    def forget_viewers(self) -> None:
        """Forget every known token and session: one of them, or an account, changed."""
        self._viewers_epoch += 1
        self._tokens.clear()

    async def _send_tile(
        self,
        send: Send,
        scope: Scope,
        headers: dict[bytes, bytes],
        tile: CachedTile,
        *,
        public: bool,
    ) -> None:
        etag = tile.etag.encode()
        out = [
            (b"etag", etag),
            (
                b"cache-control",
                (
                    f"public, max-age={settings.TILE_MAX_AGE}"
                    if public
                    else "private, max-age=0, must-revalidate"
                ).encode(),
            ),
            (b"vary", b"Authorization, Cookie, Accept-Encoding"),
            (b"access-control-allow-origin", b"*"),
        ]
        if headers.get(b"if-none-match") == etag:
            return await _respond(send, 304, out, b"")
        if not tile.body:
            return await _respond(send, 204, out, b"")
        body = tile.body
        if b"gzip" in headers.get(b"accept-encoding", b""):
            body = tile.gzipped()
            out.append((b"content-encoding", b"gzip"))
        out.append((b"content-type", MVT))
        await _respond(send, 200, out, b"" if scope["method"] == "HEAD" else body, length=len(body))


async def _open_pool(
    params: dict[str, Any],
    *,
    name: str,
    size: int,
    configure: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    timeout: float | None = None,
) -> AsyncConnectionPool:
    pool = AsyncConnectionPool(
        kwargs={**params, "autocommit": True},
        min_size=1,
        max_size=size,
        configure=configure,
        open=False,
        name=name,
        # A request waits this long, then answers 503 (or, on the replica, reads the primary).
        timeout=settings.DB_POOL_TIMEOUT if timeout is None else timeout,
    )
    await pool.open()
    return pool


def _check_host(headers: dict[bytes, bytes]) -> None:
    """The Host header is one of ALLOWED_HOSTS, as Django checks it (400 otherwise)."""
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    if not (domain and validate_host(domain, settings.ALLOWED_HOSTS)):
        raise BadHost(f"Invalid Host header: {host!r}.")


def _cookie_value(cookie: bytes, name: str) -> str:
    """The value of cookie ``name`` in a Cookie header, or ''."""
    if not cookie:
        return ""
    jar = SimpleCookie()
    try:
        jar.load(cookie.decode("latin-1"))
    except CookieError:
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


def _session_key(cookie: bytes) -> str:
    """The session cookie's value in a Cookie header, or ''."""
    return _cookie_value(cookie, settings.SESSION_COOKIE_NAME)


def _as_a_request_ends(fn: Callable[..., T], *args: Any) -> T:
    """``fn`` run as in a Django request: its database connections handed back after it.

    As ``request_finished`` hands them back: to the pool, or dropped when an error broke one.
    Without it a connection that broke while PostgreSQL restarted would stay with its thread,
    and every later token lookup would fail on it.
    """
    try:
        return fn(*args)
    finally:
        close_old_connections()


async def _in_django(fn: Callable[..., T], *args: Any) -> T:
    return await sync_to_async(_as_a_request_ends)(fn, *args)


def _viewer_for_session(key: str) -> Viewer | None:
    """The viewer of a logged-in browser session, as Django's own middleware would find it."""
    request = HttpRequest()  # get_user reads only its session
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user = get_user(request)
    if not user.is_authenticated:
        return None
    return viewer_for(user)


def _viewer_for_token(key: str) -> Viewer | None:
    row = (
        Token.objects.filter(key=key)
        .values_list(
            "user__role",
            "user__organisation_id",
            "user_id",
            "user__is_active",
            "user__is_superuser",
        )
        .first()
    )
    if row is None:
        return None
    role, organisation_id, user_id, is_active, is_superuser = row
    return viewer_of(
        role=role,
        organisation_id=organisation_id,
        user_id=user_id,
        is_active=is_active,
        is_superuser=is_superuser,
    )


async def _respond(
    send: Send,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    *,
    length: int | None = None,
) -> None:
    headers = [*headers, (b"content-length", str(len(body) if length is None else length).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _for_api_client(headers: dict[bytes, bytes], query: dict[str, str]) -> bool:
    """A lookup this front answers: JSON wanted, and a token (or nobody) to say who asks.

    A browser's session (the admin's cookie, no token), another authorization scheme and the
    browsable API (HTML, ``format``) are Django's: only Django reads sessions and renders HTML.
    """
    if "format" in query or b"text/html" in headers.get(b"accept", b""):
        return False
    authorization = headers.get(b"authorization")
    if authorization is not None:
        # Another scheme (Basic from a proxy, Bearer) is no token: DRF reads such a request as
        # anonymous, or by its session; let it.
        return authorization[:6].lower() == b"token "
    return settings.SESSION_COOKIE_NAME.encode() + b"=" not in headers.get(b"cookie", b"")


def _api_json(payload: dict[str, Any]) -> bytes:
    """JSON as DRF's renderer writes it, for every answer written here: UTF-8 text, compact."""
    return orjson.dumps(payload)


# What Django's middleware adds to an API answer (SecurityMiddleware, XFrameOptionsMiddleware)
# and what DRF varies it on.
API_HEADERS = [
    (b"content-type", b"application/json"),
    (b"vary", b"Accept, Authorization, Cookie"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def _extra_headers(exc: ApplicationError) -> list[tuple[bytes, bytes]]:
    """An error's own headers (a 429's Retry-After)."""
    return [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]


async def _unavailable(send: Send) -> None:
    await _json(
        send,
        503,
        unavailable_body(),
        headers=[(b"retry-after", str(UNAVAILABLE_RETRY_S).encode())],
    )


async def _json(
    send: Send,
    status: int,
    payload: dict[str, Any],
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await _respond(
        send,
        status,
        [(b"content-type", b"application/json"), *(headers or [])],
        _api_json(payload),
    )
