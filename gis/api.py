"""``/api/session``: the browser pages' login, an HttpOnly session instead of a stored token."""

from __future__ import annotations

from typing import Any

from django.middleware.csrf import get_token
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.authentication import session_login, session_logout
from gis.exceptions import BadInput, validated
from gis.roles import viewer_for


class LoginInput(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default="", trim_whitespace=False
    )


class SessionSerializer(serializers.Serializer[Any]):
    authenticated = serializers.BooleanField()
    username = serializers.CharField(allow_null=True)
    role = serializers.CharField()
    organisation = serializers.CharField(allow_null=True)


def who(request: Request) -> dict[str, Any]:
    user = request.user
    viewer = viewer_for(user)
    organisation = getattr(user, "organisation", None)
    return {
        "authenticated": bool(user and user.is_authenticated),
        "username": user.get_username() if user.is_authenticated else None,
        "role": viewer.role.value,
        "organisation": organisation.name if organisation is not None else None,
    }


class SessionApi(APIView):
    """The browser's session: who is logged in; log in with a token or a password; log out.

    The session cookie is HttpOnly, so no script on a page can read it, and every write needs
    the CSRF token (the ``csrftoken`` cookie, sent back as ``X-CSRFToken``).
    """

    # The session is the credential here: a token in a header would skip the exchange.
    authentication_classes = [SessionAuthentication]
    throttle_classes: list[type] = []  # guessing is counted by session_login itself

    @extend_schema(
        summary="Who the browser session is (and the CSRF cookie its writes need)",
        responses={200: SessionSerializer},
        tags=["session"],
    )
    def get(self, request: Request) -> Response:
        get_token(request._request)  # sets the csrftoken cookie on this answer
        return Response(who(request))

    @extend_schema(
        summary="Log the browser in (an API token, or a username and password)",
        request=LoginInput,
        responses={
            200: SessionSerializer,
            400: OpenApiResponse(description="neither a token nor a username and password"),
            401: OpenApiResponse(description="not accepted"),
            403: OpenApiResponse(description="no CSRF token"),
            429: OpenApiResponse(description="too many failed attempts (Retry-After)"),
        },
        tags=["session"],
    )
    def post(self, request: Request) -> Response:
        # Also for a caller not logged in yet: no page elsewhere may log a browser in.
        SessionAuthentication().enforce_csrf(request)
        data = validated(LoginInput(data=request.data), error=BadInput)
        session_login(
            request._request,
            token=data["token"],
            username=data["username"],
            password=data["password"],
        )
        request.user = request._request.user
        return Response(who(request))

    @extend_schema(
        summary="Log the browser out", responses={200: SessionSerializer}, tags=["session"]
    )
    def delete(self, request: Request) -> Response:
        SessionAuthentication().enforce_csrf(request)
        session_logout(request._request)
        request.user = request._request.user
        return Response(who(request))
