"""The appeals API under /api/: thin views over orders.appeals.services and selectors.

Who may do what: operators everything; planners read; a service's staff (the contractor role,
bound to the service's organisation) read and move their organisation's appeals; the public
nothing here (the map layer and Open311 show appeals without personal data). Intake feeds send
an integration key in ``X-Api-Key``; residents answer through their one-time link.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed, ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from gis.authentication import ThrottledTokenAuthentication
from gis.exceptions import BadInput, Forbidden, NotFound, Unauthorized, validated
from gis.links import absolute_url
from gis.parsers import MAX_JSON_DEPTH, json_body_check
from gis.roles import Role, Viewer, viewer_for
from gis.serializers import DayField, MomentField
from gis.throttling import request_ip, secret_checked
from orders.appeals import refdata, selectors, telegram
from orders.appeals.models import Appeal, Callback, Category, IntegrationKey
from orders.appeals.services.callbacks import callback_max_tries, callback_record
from orders.appeals.services.intake import (
    TelegramOutcome,
    intake_accept,
    intake_receive,
    intake_reject,
    intake_telegram_receive,
)
from orders.appeals.services.linking import appeal_relink
from orders.appeals.services.registration import appeal_register
from orders.appeals.services.transitions import (
    appeal_confirm_by_resident,
    appeal_transition,
    confirm_path,
)

TAG = "appeals"


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    return validated(serializer_class(data=data), error=BadInput)


def _point(data: dict[str, Any]) -> Point | None:
    if data.get("lon") is None:
        return None
    return Point(data["lon"], data["lat"], srid=4326)


def _category(code: str) -> Category:
    category = selectors.category_by_code(code)
    if category is None:
        raise BadInput(
            _("Unknown category %(code)s.") % {"code": repr(code)},
            extra={"fields": {"category": ["Unknown; GET /api/appeals/categories lists them."]}},
        )
    return category


class CachedTokenAuthentication(ThrottledTokenAuthentication):
    """DRF's token authentication, the token and its user copied per process (``refdata``).

    The same answers: an unknown token or an inactive user is refused; a token deleted or a user
    changed is read again once the database's notice arrives.
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        try:
            token = refdata.cache.get(
                ("token", key), lambda: Token.objects.select_related("user").get(key=key)
            )
        except Token.DoesNotExist:
            raise AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token


# The same scheme as DRF's token authentication (drf-spectacular's extension matches subclasses):
# one "tokenAuth" in the schema, not a warning that two classes claim the name.
set_override(CachedTokenAuthentication, "suppress_collision_warning", True)

# The project's authentication (settings), with the token read through the per-process copies.
AUTHENTICATION = [
    CachedTokenAuthentication if cls is ThrottledTokenAuthentication else cls
    for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES
]


def _local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def require_operator(viewer: Viewer) -> None:
    if viewer.is_public:
        raise Unauthorized(_("This needs an operator's token."))
    if viewer.role != Role.OPERATOR:
        raise Forbidden(
            _("Only operators may do this; your role is %(role)s.") % {"role": viewer.role}
        )


# --- fields ----------------------------------------------------------------------------------


class CommaListField(serializers.CharField):
    """A comma list of choices: ``new,assigned``."""

    def __init__(self, *, choices: list[str] | None = None, **kwargs: Any) -> None:
        self.choices = choices
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(i.strip() for i in super().to_internal_value(data).split(",")))
        items = tuple(i for i in items if i)
        if not items:
            raise serializers.ValidationError(_("Name at least one value."))
        if self.choices is not None:
            unknown = [i for i in items if i not in self.choices]
            if unknown:
                raise serializers.ValidationError(
                    _("Unknown: %(join)s; one of %(join2)s.")
                    % {"join": ", ".join(unknown), "join2": ", ".join(self.choices)}
                )
        return items


class BboxField(serializers.CharField):
    """``west,south,east,north`` in lon/lat degrees."""

    def to_internal_value(self, data: Any) -> tuple[float, float, float, float]:
        parts = super().to_internal_value(data).split(",")
        try:
            west, south, east, north = (float(p) for p in parts)
        except ValueError:
            raise serializers.ValidationError(_("Four numbers: west,south,east,north.")) from None
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise serializers.ValidationError(
                _("west < east within -180…180 and south < north within -90…90.")
            )
        return west, south, east, north


class AppealPointInput(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False)
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lon" in attrs) != ("lat" in attrs):
            raise serializers.ValidationError({"lat": ["Give lon and lat together."]})
        return attrs


def _period_fields(help_from: str, help_to: str) -> dict[str, serializers.Field]:
    # "from" is a Python keyword: the fields are added by name.
    return {
        "from": DayField(required=False, help_text=help_from),
        "to": DayField(required=False, help_text=help_to),
    }


def _period(data: dict[str, Any]) -> tuple[date | None, date | None]:
    start, end = data.get("from"), data.get("to")
    if start and end and start > end:
        raise BadInput(_("from is after to."), extra={"fields": {"from": ["After to."]}})
    return start, end


# --- output ----------------------------------------------------------------------------------


class AppealHistorySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField(help_text="a username, or resident / system / import")
    action = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    comment = serializers.CharField()
    data = serializers.DictField()


class AppealLinkSerializer(serializers.Serializer):
    layer = serializers.CharField()
    id = serializers.IntegerField()
    distance_m = serializers.FloatField(allow_null=True)
    method = serializers.CharField()


class AppealCandidateSerializer(serializers.Serializer):
    layer = serializers.CharField()
    id = serializers.IntegerField()
    distance_m = serializers.FloatField()


class AppealResidentSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()


class AppealSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    channel = serializers.CharField()
    category = serializers.CharField(source="category.code")
    category_name = serializers.CharField(source="category.name")
    text = serializers.CharField()
    address = serializers.CharField()
    lon = serializers.FloatField(source="geom.x", allow_null=True, default=None)
    lat = serializers.FloatField(source="geom.y", allow_null=True, default=None)
    located_by = serializers.CharField()
    linked = serializers.SerializerMethodField()
    link_candidates = AppealCandidateSerializer(many=True)
    needs_attention = serializers.BooleanField()
    organisation = serializers.CharField(source="organisation.name", allow_null=True, default=None)
    organisation_id = serializers.IntegerField(allow_null=True)
    priority = serializers.IntegerField()
    status = serializers.CharField()
    sla_due = serializers.DateTimeField(allow_null=True)
    overdue = serializers.SerializerMethodField()
    reopen_count = serializers.IntegerField()
    duplicate_of = serializers.CharField(
        source="duplicate_of.number", allow_null=True, default=None
    )
    received_at = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    resident = serializers.SerializerMethodField()

    @extend_schema_field(AppealLinkSerializer(allow_null=True))
    def get_linked(self, appeal: Appeal) -> dict[str, Any] | None:
        if not appeal.linked_layer:
            return None
        return {
            "layer": appeal.linked_layer,
            "id": appeal.linked_id,
            "distance_m": appeal.link_distance_m,
            "method": appeal.link_method,
        }

    def get_overdue(self, appeal: Appeal) -> bool:
        now = self.context.get("now") or timezone.now()
        return appeal.is_overdue(now)

    @extend_schema_field(AppealResidentSerializer(allow_null=True))
    def get_resident(self, appeal: Appeal) -> dict[str, str] | None:
        viewer: Viewer = self.context["viewer"]
        if not selectors.sees_contacts(viewer, appeal):
            return None
        return {
            "name": appeal.resident_name,
            "phone": appeal.resident_phone,
            "email": appeal.resident_email,
        }


class AppealDistrictSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AppealDetailSerializer(AppealSerializer):
    history = serializers.SerializerMethodField()
    district = serializers.SerializerMethodField()

    @extend_schema_field(AppealHistorySerializer(many=True))
    def get_history(self, appeal: Appeal) -> list[dict[str, Any]]:
        return selectors.appeal_history(appeal=appeal)

    @extend_schema_field(AppealDistrictSerializer(allow_null=True))
    def get_district(self, appeal: Appeal) -> dict[str, Any] | None:
        return selectors.appeal_district(appeal=appeal)


class AppealPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AppealSerializer(many=True)


def _appeal(appeal: Appeal, viewer: Viewer, *, detail: bool = False) -> dict[str, Any]:
    """An appeal as ``AppealSerializer`` (or the detail one) documents it.

    Built by hand: DRF's field-by-field serializing cost more than the rest of a list request
    (a page of 50 took 45 ms of 55); a test holds the two to the same fields.
    """
    geom = appeal.geom
    data = {
        "id": appeal.pk,
        "number": appeal.number,
        "channel": appeal.channel,
        "category": appeal.category.code,
        "category_name": appeal.category.name,
        "text": appeal.text,
        "address": appeal.address,
        "lon": geom.x if geom is not None else None,
        "lat": geom.y if geom is not None else None,
        "located_by": appeal.located_by,
        "linked": (
            {
                "layer": appeal.linked_layer,
                "id": appeal.linked_id,
                "distance_m": appeal.link_distance_m,
                "method": appeal.link_method,
            }
            if appeal.linked_layer
            else None
        ),
        "link_candidates": appeal.link_candidates,
        "needs_attention": appeal.needs_attention,
        "organisation": appeal.organisation.name if appeal.organisation else None,
        "organisation_id": appeal.organisation_id,
        "priority": appeal.priority,
        "status": appeal.status,
        "sla_due": _iso(appeal.sla_due),
        "overdue": appeal.is_overdue(timezone.now()),
        "reopen_count": appeal.reopen_count,
        "duplicate_of": appeal.duplicate_of.number if appeal.duplicate_of_id else None,
        "received_at": _iso(appeal.received_at),
        "done_at": _iso(appeal.done_at),
        "closed_at": _iso(appeal.closed_at),
        "resident": (
            {
                "name": appeal.resident_name,
                "phone": appeal.resident_phone,
                "email": appeal.resident_email,
            }
            if selectors.sees_contacts(viewer, appeal)
            else None
        ),
    }
    if detail:
        data["history"] = [
            {**row, "at": _iso(row["at"])} for row in selectors.appeal_history(appeal=appeal)
        ]
        # Stored by the database's triggers: None while unlocated or outside all.
        data["district"] = selectors.appeal_district(appeal=appeal)
    return data


def _iso(value: datetime | None) -> str | None:
    """As DRF writes a datetime: ISO 8601 in the current time zone, ``Z`` for UTC."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


ERRORS = {
    400: OpenApiResponse(description="invalid input, with the reason per field"),
    401: OpenApiResponse(description="no token (or no integration key)"),
    403: OpenApiResponse(description="a role (or key) that may not do this"),
    404: OpenApiResponse(description="no such appeal, or not one the caller may see"),
}


# --- appeals ---------------------------------------------------------------------------------


class AppealCreateInput(AppealPointInput):
    category = serializers.SlugField(help_text="a category code (GET /api/appeals/categories)")
    channel = serializers.ChoiceField(
        choices=[
            Appeal.Channel.PHONE,
            Appeal.Channel.WEB,
            Appeal.Channel.SOCIAL,
            Appeal.Channel.MESSENGER,
        ],
        default=Appeal.Channel.PHONE,
    )
    text = serializers.CharField(max_length=5000, allow_blank=True, default="")
    address = serializers.CharField(max_length=255, allow_blank=True, default="")
    resident_name = serializers.CharField(max_length=255, allow_blank=True, default="")
    resident_phone = serializers.CharField(max_length=64, allow_blank=True, default="")
    resident_email = serializers.EmailField(allow_blank=True, default="")
    received_at = MomentField(
        required=False, help_text="when the city got it (default: now); not in the future"
    )

    def validate_received_at(self, value: datetime) -> datetime:
        # PostgreSQL refuses offsets beyond ±15:59 that Python accepts (e.g. -17:20).
        return value.astimezone(UTC)


AppealListQuery = type(
    "AppealListQuery",
    (serializers.Serializer,),
    {
        "status": CommaListField(
            choices=Appeal.Status.values, required=False, help_text="comma list of statuses"
        ),
        "category": CommaListField(required=False, help_text="comma list of category codes"),
        "organisation": serializers.IntegerField(min_value=1, required=False),
        "channel": CommaListField(choices=Appeal.Channel.values, required=False),
        "overdue": serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="open and past its SLA"
        ),
        "needs_attention": serializers.BooleanField(required=False, allow_null=True, default=None),
        "bbox": BboxField(required=False, help_text="west,south,east,north (lon/lat)"),
        **_period_fields("received on or after this day", "received on or before this day"),
        "limit": serializers.IntegerField(
            min_value=1, max_value=selectors.MAX_LIST_LIMIT, required=False
        ),
        "offset": serializers.IntegerField(min_value=0, required=False),
    },
)


class AppealPagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = selectors.MAX_LIST_LIMIT


class AppealListApi(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        summary="Appeals the caller may see, newest first, filtered and paginated",
        operation_id="appeals_list",
        parameters=[AppealListQuery],
        responses={200: AppealPageSerializer, **ERRORS},
        tags=[TAG],
    )
    def get(self, request: Request) -> Response:
        q = _valid(AppealListQuery, request.query_params)
        start, end = _period(q)
        viewer = viewer_for(request.user)
        rows = selectors.appeals_list(
            viewer=viewer,
            filters=selectors.AppealFilters(
                status=q.get("status", ()),
                category=q.get("category", ()),
                organisation=q.get("organisation"),
                overdue=q.get("overdue"),
                needs_attention=q.get("needs_attention"),
                channel=q.get("channel", ()),
                bbox=q.get("bbox"),
                received_from=_local_start(start) if start else None,
                received_to=_local_start(end + timedelta(days=1)) if end else None,
            ),
            now=timezone.now(),
        )
        paginator = AppealPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response([_appeal(a, viewer) for a in page])

    @extend_schema(
        summary="Register an appeal (operators): located, linked, routed and timed",
        request=AppealCreateInput,
        responses={201: AppealDetailSerializer, **ERRORS},
        tags=[TAG],
    )
    def post(self, request: Request) -> Response:
        viewer = viewer_for(request.user)
        require_operator(viewer)
        data = _valid(AppealCreateInput, request.data)
        appeal = appeal_register(
            category=_category(data["category"]),
            channel=data["channel"],
            text=data["text"],
            address=data["address"],
            point=_point(data),
            resident_name=data["resident_name"],
            resident_phone=data["resident_phone"],
            resident_email=data["resident_email"],
            received_at=data.get("received_at"),
            by=request.user,
        )
        return Response(_appeal(appeal, viewer, detail=True), status=status.HTTP_201_CREATED)


class AppealDetailApi(APIView):
    @extend_schema(
        summary="An appeal with its history",
        operation_id="appeals_detail",
        responses={200: AppealDetailSerializer, **ERRORS},
        tags=[TAG],
    )
    def get(self, request: Request, pk: int) -> Response:
        viewer = viewer_for(request.user)
        appeal = selectors.appeal_get(pk=pk, viewer=viewer, now=timezone.now())
        return Response(_appeal(appeal, viewer, detail=True))


class AppealTransitionInput(serializers.Serializer):
    to = serializers.ChoiceField(choices=Appeal.Status.values)
    comment = serializers.CharField(max_length=5000, allow_blank=True, default="")
    duplicate_of = serializers.IntegerField(
        min_value=1, required=False, help_text="the original's id (for duplicate)"
    )
    organisation = serializers.IntegerField(
        min_value=1, required=False, help_text="the responsible organisation (for assigned)"
    )


class AppealTransitionResult(serializers.Serializer):
    appeal = AppealDetailSerializer()
    confirm_link = serializers.URLField(
        allow_null=True,
        help_text="the resident's one-time link, shown once to the operator who marks it done",
    )


class AppealTransitionApi(APIView):
    @extend_schema(
        summary="Move an appeal along its lifecycle (409 with the allowed moves when illegal)",
        request=AppealTransitionInput,
        responses={
            200: AppealTransitionResult,
            **ERRORS,
            409: OpenApiResponse(description="not a move from the current status; lists them"),
        },
        tags=[TAG],
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _valid(AppealTransitionInput, request.data)
        viewer = viewer_for(request.user)
        result = appeal_transition(
            appeal_id=pk,
            to=data["to"],
            by=request.user,
            comment=data["comment"],
            duplicate_of_id=data.get("duplicate_of"),
            organisation_id=data.get("organisation"),
            link_base=absolute_url(request, "/"),
        )
        link = None
        if result.confirm_token and viewer.role == Role.OPERATOR:
            link = absolute_url(request, confirm_path(result.confirm_token))
        appeal = selectors.appeal_get(pk=pk, viewer=viewer, now=timezone.now())
        return Response({"appeal": _appeal(appeal, viewer, detail=True), "confirm_link": link})


class AppealRelinkInput(AppealPointInput):
    layer = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="link an object of this layer (with id); empty: unlink; absent: auto-link again",
    )
    id = serializers.IntegerField(min_value=1, required=False)
    comment = serializers.CharField(max_length=5000, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("layer") and "id" not in attrs:
            raise serializers.ValidationError({"id": ["Give the object's id with its layer."]})
        if "id" in attrs and not attrs.get("layer"):
            raise serializers.ValidationError({"layer": ["Give the layer of the object."]})
        return attrs


class AppealRelinkApi(APIView):
    @extend_schema(
        summary="Correct an appeal's point or linked object (operators)",
        request=AppealRelinkInput,
        responses={200: AppealDetailSerializer, **ERRORS},
        tags=[TAG],
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _valid(AppealRelinkInput, request.data)
        viewer = viewer_for(request.user)
        appeal_relink(
            appeal_id=pk,
            by=request.user,
            layer=data.get("layer"),
            object_id=data.get("id"),
            point=_point(data),
            comment=data["comment"],
        )
        appeal = selectors.appeal_get(pk=pk, viewer=viewer, now=timezone.now())
        return Response(_appeal(appeal, viewer, detail=True))


class AppealCategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    group = serializers.CharField()
    organisation = serializers.CharField(source="organisation.name", allow_null=True, default=None)
    layer = serializers.CharField()
    link_radius_m = serializers.FloatField()
    sla_hours = serializers.FloatField()
    priority = serializers.IntegerField()


class CategoryListApi(APIView):
    @extend_schema(
        summary="The categories appeals are filed under (also Open311's services)",
        responses={200: AppealCategorySerializer(many=True)},
        tags=[TAG],
    )
    def get(self, request: Request) -> Response:
        return Response(AppealCategorySerializer(selectors.categories_active(), many=True).data)


# --- the resident's link ---------------------------------------------------------------------


class AppealConfirmInput(serializers.Serializer):
    resolved = serializers.BooleanField(help_text="true: fixed (archive it); false: reopen it")
    comment = serializers.CharField(max_length=2000, allow_blank=True, default="")


class AppealConfirmSerializer(serializers.Serializer):
    number = serializers.CharField()
    category = serializers.CharField(source="category.name")
    address = serializers.CharField()
    status = serializers.CharField()
    done_at = serializers.DateTimeField(allow_null=True)


class AppealConfirmApi(APIView):
    # A resident has no account: a stray Authorization header must not turn into a 401.
    authentication_classes: list[type] = []

    @extend_schema(
        summary="What a resident's one-time link is about (while unused)",
        responses={
            200: AppealConfirmSerializer,
            404: OpenApiResponse(description="unknown or used link"),
        },
        tags=[TAG],
    )
    def get(self, request: Request, token: str) -> Response:
        return Response(
            AppealConfirmSerializer(selectors.appeal_by_confirm_token(token=token)).data
        )

    @extend_schema(
        summary="The resident confirms the fix (archived) or rejects it (reopened); works once",
        request=AppealConfirmInput,
        responses={
            200: AppealConfirmSerializer,
            400: OpenApiResponse(description="invalid input"),
            404: OpenApiResponse(description="unknown or used link"),
        },
        tags=[TAG],
    )
    def post(self, request: Request, token: str) -> Response:
        data = _valid(AppealConfirmInput, request.data)
        appeal = appeal_confirm_by_resident(
            token=token, resolved=data["resolved"], comment=data["comment"]
        )
        return Response(AppealConfirmSerializer(appeal).data)


# --- intake from outside ---------------------------------------------------------------------


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


# --- department reports ----------------------------------------------------------------------


class CSVRenderer(BaseRenderer):
    """The report as CSV: one row per organisation (errors as one code,message row)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):
        out = io.StringIO()
        if isinstance(data, dict) and "rows" in data:
            writer = csv.DictWriter(out, fieldnames=selectors.REPORT_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(data["rows"])
        elif isinstance(data, dict) and "error" in data:
            writer = csv.writer(out)
            writer.writerow(["code", "message"])
            writer.writerow([data["error"].get("code"), data["error"].get("message")])
        return out.getvalue().encode()


DepartmentReportQuery = type(
    "DepartmentReportQuery",
    (serializers.Serializer,),
    _period_fields("first day (default: 6 days before to)", "last day, included (default: today)"),
)


class DepartmentReportRowSerializer(serializers.Serializer):
    organisation_id = serializers.IntegerField(allow_null=True)
    organisation = serializers.CharField()
    received = serializers.IntegerField()
    closed = serializers.IntegerField()
    closed_within_sla = serializers.IntegerField()
    overdue_now = serializers.IntegerField()
    median_hours_to_close = serializers.FloatField(allow_null=True)
    p90_hours_to_close = serializers.FloatField(allow_null=True)
    reopened_share = serializers.FloatField(allow_null=True)


DepartmentReportSerializer = type(
    "DepartmentReportSerializer",
    (serializers.Serializer,),
    {
        "from": DayField(),
        "to": DayField(),
        "rows": DepartmentReportRowSerializer(many=True),
    },
)


class DepartmentReportApi(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        summary="Per organisation: received, closed, within SLA, overdue, time to close, reopened",
        description=(
            "JSON, or CSV with `?format=csv` or `Accept: text/csv`. Staff see every "
            "organisation, a service's staff only their own."
        ),
        parameters=[DepartmentReportQuery],
        responses={
            (200, "application/json"): DepartmentReportSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            **ERRORS,
        },
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        viewer = viewer_for(request.user)
        if viewer.is_public:
            raise Unauthorized(_("Reports need a staff or a service token."))
        q = _valid(DepartmentReportQuery, request.query_params)
        start, end = _period(q)
        end = end or timezone.localdate()
        start = start or end - timedelta(days=6)
        if start > end:
            raise BadInput(_("from is after to."), extra={"fields": {"from": ["After to."]}})
        rows = selectors.departments_report(
            start=_local_start(start),
            end=_local_start(end + timedelta(days=1)),
            now=timezone.now(),
            organisation_id=viewer.organisation_id if viewer.role == Role.CONTRACTOR else None,
        )
        response = Response({"from": start, "to": end, "rows": rows})
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = (
                f'attachment; filename="departments-{start}-{end}.csv"'
            )
        return response


# --- call-backs ------------------------------------------------------------------------------


class CallbackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="open (in the queue) or closed")
    outcome = serializers.CharField(
        help_text="when closed: satisfied, not_satisfied, unreachable, resident_confirmed, "
        "resident_rejected, or moved (the appeal left done otherwise)"
    )
    appeal_id = serializers.IntegerField()
    appeal = serializers.CharField(source="appeal.number", help_text="the appeal's number")
    appeal_status = serializers.CharField(source="appeal.status")
    category = serializers.CharField(source="appeal.category.code")
    category_name = serializers.CharField(source="appeal.category.name")
    address = serializers.CharField(source="appeal.address")
    organisation = serializers.CharField(
        source="appeal.organisation.name", allow_null=True, default=None
    )
    organisation_id = serializers.IntegerField(source="appeal.organisation_id", allow_null=True)
    resident = serializers.SerializerMethodField(help_text="whom to call (operators only)")
    done_at = serializers.DateTimeField(help_text="the done transition this call-back follows")
    due_at = serializers.DateTimeField()
    tries = serializers.IntegerField(help_text="unanswered calls so far")
    max_tries = serializers.SerializerMethodField()
    last_try_at = serializers.DateTimeField(allow_null=True)
    comment = serializers.CharField(help_text="the operator's last note")
    closed_at = serializers.DateTimeField(allow_null=True)
    closed_by = serializers.CharField(source="closed_by.username", allow_null=True, default=None)

    def get_max_tries(self, callback: Callback) -> int:
        return callback_max_tries()

    @extend_schema_field(AppealResidentSerializer)
    def get_resident(self, callback: Callback) -> dict[str, str]:
        appeal = callback.appeal
        return {
            "name": appeal.resident_name,
            "phone": appeal.resident_phone,
            "email": appeal.resident_email,
        }


class CallbackPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CallbackSerializer(many=True)


class CallbackListQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Callback.Status.values,
        default=Callback.Status.OPEN,
        help_text="open (default: the queue, oldest due first) or closed (latest first)",
    )
    organisation = serializers.IntegerField(
        min_value=1, required=False, help_text="the appeal's responsible organisation"
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=selectors.MAX_LIST_LIMIT, required=False
    )
    offset = serializers.IntegerField(min_value=0, required=False)


class CallbackListApi(APIView):
    @extend_schema(
        summary="The call-back queue: residents to ask whether their done appeal was fixed",
        description=(
            "Operators only: it carries the residents' phones and e-mails. A task appears when "
            "an appeal becomes done (none when the resident left no contact)."
        ),
        parameters=[CallbackListQuery],
        responses={200: CallbackPageSerializer, **ERRORS},
        tags=[TAG],
    )
    def get(self, request: Request) -> Response:
        require_operator(viewer_for(request.user))
        q = _valid(CallbackListQuery, request.query_params)
        rows = selectors.callbacks_list(status=q["status"], organisation=q.get("organisation"))
        paginator = AppealPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(CallbackSerializer(page, many=True).data)


class CallbackOutcomeInput(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["satisfied", "not_satisfied", "unreachable"],
        help_text="satisfied: archived; not_satisfied: reopened with half the norm; "
        "unreachable: a try (the CALLBACK_MAX_TRIES-th archives it, resident unreachable)",
    )
    comment = serializers.CharField(max_length=2000, allow_blank=True, default="")


class CallbackOutcomeApi(APIView):
    @extend_schema(
        summary="Record a call-back's outcome (operators): the appeal moves, its history says so",
        request=CallbackOutcomeInput,
        responses={
            200: CallbackSerializer,
            **ERRORS,
            409: OpenApiResponse(description="the call-back is closed already"),
        },
        tags=[TAG],
    )
    def post(self, request: Request, pk: int) -> Response:
        require_operator(viewer_for(request.user))
        data = _valid(CallbackOutcomeInput, request.data)
        callback = callback_record(
            callback_id=pk, outcome=data["outcome"], comment=data["comment"], by=request.user
        )
        return Response(CallbackSerializer(selectors.callbacks_list().get(pk=callback.pk)).data)


# --- messenger intake ------------------------------------------------------------------------


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
