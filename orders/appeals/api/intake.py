"""Intake: an outside feed's messages (integration key), their moderation, Telegram's webhook."""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.exceptions import BadInput, NotFound
from gis.parsers import MAX_JSON_DEPTH, json_body_check
from gis.roles import viewer_for
from gis.throttling import request_ip, secret_checked
from orders.appeals import selectors, telegram
from orders.appeals.api.appeals import AppealDetailSerializer, _appeal
from orders.appeals.api.base import (
    ERRORS,
    TAG,
    AppealPointInput,
    _category,
    _point,
    _valid,
    require_operator,
)
from orders.appeals.models import IntegrationKey
from orders.appeals.services.intake import (
    TelegramOutcome,
    intake_accept,
    intake_receive,
    intake_reject,
    intake_telegram_receive,
)


class IntakeMessageInput(AppealPointInput):
    external_id = serializers.CharField(max_length=128, help_text="the message's id at its source")
    source = serializers.SlugField(
        max_length=32, required=False, help_text="the network (default: the key's name)"
    )
    text = serializers.CharField(max_length=10000, allow_blank=True, default="")
    link = serializers.URLField(max_length=500, allow_blank=True, default="")
    payload = serializers.DictField(required=False, help_text="anything else, kept as is")


class IntakeMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    external_id = serializers.CharField()
    text = serializers.CharField()
    link = serializers.CharField()
    lon = serializers.FloatField(source="geom.x", allow_null=True, default=None)
    lat = serializers.FloatField(source="geom.y", allow_null=True, default=None)
    status = serializers.CharField()
    appeal = serializers.CharField(source="appeal.number", allow_null=True, default=None)
    received_at = serializers.DateTimeField()


class IntakeApi(APIView):
    @extend_schema(
        summary="Queue a raw message from an outside feed (integration key in X-Api-Key)",
        description="Idempotent by (source, external_id): 201 when new, 200 when already queued.",
        request=IntakeMessageInput,
        parameters=[
            OpenApiParameter(
                "X-Api-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="an intake integration key (manage.py appeals_key)",
            )
        ],
        responses={201: IntakeMessageSerializer, 200: IntakeMessageSerializer, **ERRORS},
        tags=[TAG],
    )
    def post(self, request: Request) -> Response:
        with secret_checked(request_ip(request)):
            key = selectors.integration_key_check(
                raw=request.headers.get("X-Api-Key"), purpose=IntegrationKey.Purpose.INTAKE
            )
        data = _valid(IntakeMessageInput, request.data)
        message, created = intake_receive(
            source=data.get("source") or key.name,
            external_id=data["external_id"],
            text=data["text"],
            link=data["link"],
            point=_point(data),
            payload=data.get("payload") or {},
        )
        return Response(
            IntakeMessageSerializer(message).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="The moderation queue: messages awaiting a moderator (operators), oldest first",
        responses={200: IntakeMessageSerializer(many=True), **ERRORS},
        tags=[TAG],
    )
    def get(self, request: Request) -> Response:
        require_operator(viewer_for(request.user))
        rows = selectors.intake_pending()[: selectors.MAX_LIST_LIMIT]
        return Response(IntakeMessageSerializer(rows, many=True).data)


class IntakeAcceptInput(AppealPointInput):
    category = serializers.SlugField()
    address = serializers.CharField(max_length=255, allow_blank=True, default="")
    text = serializers.CharField(max_length=10000, required=False, allow_blank=True)


class IntakeAcceptApi(APIView):
    @extend_schema(
        summary="Turn a queued message into an appeal: its category and where (operators)",
        request=IntakeAcceptInput,
        responses={
            201: AppealDetailSerializer,
            **ERRORS,
            409: OpenApiResponse(description="the message was moderated already"),
        },
        tags=[TAG],
    )
    def post(self, request: Request, pk: int) -> Response:
        viewer = viewer_for(request.user)
        require_operator(viewer)
        data = _valid(IntakeAcceptInput, request.data)
        appeal = intake_accept(
            message_id=pk,
            by=request.user,
            category=_category(data["category"]),
            address=data["address"],
            point=_point(data),
            text=data.get("text"),
        )
        return Response(_appeal(appeal, viewer, detail=True), status=status.HTTP_201_CREATED)


class IntakeRejectInput(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, allow_blank=True, default="")


class IntakeRejectApi(APIView):
    @extend_schema(
        summary="Set a queued message aside (operators)",
        request=IntakeRejectInput,
        responses={
            200: IntakeMessageSerializer,
            **ERRORS,
            409: OpenApiResponse(description="the message was moderated already"),
        },
        tags=[TAG],
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _valid(IntakeRejectInput, request.data)
        message = intake_reject(message_id=pk, by=request.user, comment=data["comment"])
        return Response(IntakeMessageSerializer(message).data)


def _telegram_allowed(secret: str, header: str | None) -> bool:
    """The path secret (and the header token, when one is set), compared in constant time."""
    expected = settings.TELEGRAM_WEBHOOK_SECRET
    if not expected:
        return False
    # Hashes first: equal lengths, so the comparison's time tells nothing, not even the length.
    if not hmac.compare_digest(selectors.token_hash(secret), selectors.token_hash(expected)):
        return False
    token = settings.TELEGRAM_SECRET_TOKEN
    return not token or hmac.compare_digest(
        selectors.token_hash(header or ""), selectors.token_hash(token)
    )


class TelegramIntakeResult(serializers.Serializer):
    ok = serializers.BooleanField()
    outcome = serializers.ChoiceField(choices=[o.value for o in TelegramOutcome])
    intake_id = serializers.IntegerField(
        allow_null=True, help_text="the moderation queue's message (GET /api/appeals/intake)"
    )


class TelegramIntakeApi(APIView):
    # Telegram sends no credentials but the secret in the path (and its header token); its
    # servers post every chat's updates from a few addresses, so wrong secrets are what is
    # limited here, not the rate of writes.
    authentication_classes: list[type] = []
    throttle_exempt = True

    @extend_schema(
        summary="Telegram webhook: a Bot API Update into the moderation queue",
        description=(
            "Set with setWebhook to `…/api/intake/telegram/<TELEGRAM_WEBHOOK_SECRET>` (and "
            "`secret_token` = TELEGRAM_SECRET_TOKEN, if set). Messages and edited messages "
            "(text or caption, location, photo) are queued, idempotently by chat and message "
            "id; other updates are answered 200 and dropped so Telegram does not retry them. "
            "When a moderator accepts the message, the sender is told the appeal's number."
        ),
        request=OpenApiTypes.OBJECT,
        responses={
            200: TelegramIntakeResult,
            400: OpenApiResponse(description="not JSON, or not a Telegram Update"),
            404: OpenApiResponse(description="wrong secret, or Telegram intake is off"),
        },
        tags=[TAG],
    )
    def post(self, request: Request, secret: str) -> Response:
        with secret_checked(request_ip(request), failures=(404,)):
            if not _telegram_allowed(
                secret, request.headers.get("X-Telegram-Bot-Api-Secret-Token")
            ):
                raise NotFound(_("Not found."))
        # Read whatever the Content-Type says: the answer to a body that is not JSON is a 400.
        try:
            data = json.loads(request.body or b"")
            json_body_check(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput(_("The body is not JSON: %(exc)s.") % {"exc": exc}) from None
        except (RecursionError, ParseError):
            raise BadInput(
                _("The body nests deeper than %(max_json_depth)s levels.")
                % {"max_json_depth": MAX_JSON_DEPTH}
            ) from None
        try:
            message = telegram.update_parse(data)
        except telegram.UpdateError as exc:
            raise BadInput(str(exc)) from None
        queued, outcome = intake_telegram_receive(message=message)
        return Response(
            {"ok": True, "outcome": outcome.value, "intake_id": queued.pk if queued else None}
        )
