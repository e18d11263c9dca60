"""Limits on guessing and flooding: failed credentials per client, anonymous writes per client.

Every door that takes a secret (API tokens at Django and at the ASGI front, Open311 and intake
keys, the browser login with a token) counts its failures per client address in the shared
cache (Redis when ``REDIS_URL`` is set, else the database: see ``CACHES``), so a limit holds
across worker processes and machines. A client over the limit gets 429 with ``Retry-After``
until its window ends, whatever it sends, a right secret included: otherwise guessing would go
on and only the answers would change. Passwords (the admin and the browser login) are counted
by django-axes per (username, address), with the same 429 (``lockout_response``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.throttling import AnonRateThrottle

from gis.exceptions import ApplicationError, TooManyRequests, error_body

if TYPE_CHECKING:  # rest_framework.views reads the settings' authentication, which imports us
    from rest_framework.request import Request
    from rest_framework.views import APIView

FAILURE_KEY = "citygis:authfail:{ip}"
FAILURE_START_KEY = "citygis:authfail-start:{ip}"


def client_ip(remote_addr: str, forwarded_for: str = "") -> str:
    """The client's address: the peer's, or the one ``NUM_PROXIES`` trusted proxies name.

    Behind N proxies the client is the N-th address from the right of X-Forwarded-For (each
    proxy appends the peer it saw); anything further left was written by the client itself.
    """
    proxies = settings.NUM_PROXIES
    if proxies and forwarded_for:
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote_addr


def request_ip(request: HttpRequest) -> str:
    """``client_ip`` of a Django request."""
    meta = request.META
    return client_ip(meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR", ""))


def axes_ip(request: HttpRequest) -> str | None:
    """django-axes' AXES_CLIENT_IP_CALLABLE: ``request_ip``, None when there is none."""
    return request_ip(request) or None


def scope_ip(scope: Mapping[str, Any]) -> str:
    """``client_ip`` of an ASGI request (the tile and lookup front)."""
    client = scope.get("client") or ("", 0)
    forwarded = dict(scope.get("headers") or []).get(b"x-forwarded-for", b"")
    return client_ip(client[0], forwarded.decode("latin-1"))


def failures_wait(ip: str) -> int:
    """Seconds until ``ip`` may try a secret again; 0 while it is under the limit."""
    failures: int = cache.get(FAILURE_KEY.format(ip=ip), 0)
    if failures < settings.AUTH_FAILURE_LIMIT:
        return 0
    started: float = cache.get(FAILURE_START_KEY.format(ip=ip), time.time())
    return max(1, math.ceil(started + settings.AUTH_FAILURE_WINDOW_S - time.time()))


def failure_record(ip: str) -> None:
    """One more failed secret from ``ip``; the window starts at its first failure."""
    window = settings.AUTH_FAILURE_WINDOW_S
    key = FAILURE_KEY.format(ip=ip)
    if cache.add(key, 1, window):
        cache.set(FAILURE_START_KEY.format(ip=ip), time.time(), window)
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window)


def failures_forget(ip: str) -> None:
    cache.delete_many([FAILURE_KEY.format(ip=ip), FAILURE_START_KEY.format(ip=ip)])


def refused(wait: int) -> TooManyRequests:
    return TooManyRequests(
        f"Too many failed attempts from this address; try again in {wait} s.", retry_after=wait
    )


AUTH_FAILURES = (exceptions.AuthenticationFailed, exceptions.NotAuthenticated)


@contextmanager
def secret_checked(ip: str, *, failures: tuple[int, ...] = (401, 403)) -> Iterator[None]:
    """Check a secret inside this block: 429 while ``ip`` is over the limit, failures counted.

    A failure is DRF's authentication error or one of ours whose status is in ``failures``
    (a 404 where a wrong secret in a path is answered as no such page).
    """
    wait = failures_wait(ip)
    if wait:
        raise refused(wait)
    try:
        yield
    except AUTH_FAILURES:
        failure_record(ip)
        raise
    except ApplicationError as exc:
        if exc.status in failures:
            failure_record(ip)
        raise


class AnonWriteThrottle(AnonRateThrottle):
    """Anonymous writes (POST, PUT, PATCH, DELETE) per client: ``ANON_WRITE_RATE``."""

    scope = "anon_write"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS") or getattr(view, "throttle_exempt", False):
            return True
        return super().allow_request(request, view)

    def get_ident(self, request: Request) -> str:
        return request_ip(request)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer to a locked-out login: 429 with Retry-After (JSON for the API)."""
    wait = int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = f"Too many failed logins; try again in {wait // 60} min."
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body(message, code="throttled"), status=429)
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(wait)
    return response
