"""How API clients and browser pages say who they are.

API clients send ``Authorization: Token <key>``. Browser pages never hold a token where their
script could read it: the login form exchanges a token (or a username and password) for Django's
HttpOnly session cookie (``session_login``), which the pages' requests then carry.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from gis.exceptions import BadInput, TooManyRequests, Unauthorized
from gis.throttling import request_ip, secret_checked


class ThrottledTokenAuthentication(TokenAuthentication):
    """DRF's token authentication with failed tokens counted per client (gis.throttling)."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        if not request.META.get("HTTP_AUTHORIZATION"):
            return None
        with secret_checked(request_ip(request)):
            return super().authenticate(request)


def session_login(
    request: HttpRequest, *, token: str = "", username: str = "", password: str = ""
) -> Any:
    """Log the browser in with an API token or a username and password; the user, or 401/429.

    Tokens are counted as every door counts them; passwords by django-axes (its backend sees
    ``request``), which answers 429 once a username is locked out from this address.
    """
    if token:
        with secret_checked(request_ip(request)):
            row = Token.objects.select_related("user").filter(key=token.strip()).first()
            if row is None or not row.user.is_active:
                raise Unauthorized(_("That token was not accepted."))
        # The token stands for the password: the session is the model backend's, as it would be.
        login(request, row.user, backend="django.contrib.auth.backends.ModelBackend")
        return row.user
    if not (username and password):
        raise BadInput(
            _("Give a token, or a username and a password."),
            extra={"fields": {"token": ["Required without a username and password."]}},
        )
    try:
        user = authenticate(request, username=username, password=password)
    except PermissionDenied:
        user = None
    if getattr(request, "axes_locked_out", False):
        wait = int(settings.AXES_COOLOFF_TIME.total_seconds())
        raise TooManyRequests(
            _("Too many failed logins; try again in %(value)s min.") % {"value": wait // 60},
            retry_after=wait,
        )
    if user is None:
        raise Unauthorized(_("That username and password were not accepted."))
    login(request, user)
    return user


def session_logout(request: HttpRequest) -> None:
    logout(request)
