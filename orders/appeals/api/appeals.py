"""Appeals as a resource: list, register, read, move, relink; categories; the resident's link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.links import absolute_url
from gis.roles import Role, Viewer, viewer_for
from gis.serializers import MomentField
from orders.appeals import selectors
from orders.appeals.api.base import (
    AUTHENTICATION,
    ERRORS,
    TAG,
    AppealPointInput,
    BboxField,
    CommaListField,
    _category,
    _local_start,
    _period,
    _period_fields,
    _point,
    _valid,
    require_operator,
)
from orders.appeals.models import Appeal
from orders.appeals.services.linking import appeal_relink
from orders.appeals.services.registration import appeal_register
from orders.appeals.services.transitions import (
    appeal_confirm_by_resident,
    appeal_transition,
    confirm_path,
)

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
