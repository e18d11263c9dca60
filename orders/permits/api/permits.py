"""Permits as a resource: list, issue, read, change, the conflict check, and each action."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.pagination import GeoJsonPagination
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gis.exceptions import Forbidden
from gis.parsers import JSONParser
from gis.roles import Viewer, viewer_for
from gis.serializers import DayField
from layers.models import NetworkKind
from orders.permits import selectors
from orders.permits.api.base import ERRORS, MAX_ID, TRANSITION_ERRORS, _valid
from orders.permits.api.claims import ClaimSerializer
from orders.permits.models import Extension, Permit, PermitHistory, RestorationDocument
from orders.permits.services.actions import allowed_actions
from orders.permits.services.issuing import permit_issue, permit_update, work_area_from_geojson
from orders.permits.services.lifecycle import (
    permit_cancel,
    permit_close,
    permit_extend,
    permit_extension_refuse,
    permit_extension_request,
    permit_start,
)

# --- output -----------------------------------------------------------------------------------


class HistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = PermitHistory
        fields = ("at", "by_label", "action", "from_status", "to_status", "comment", "data")


class ExtensionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Extension
        fields = (
            "id",
            "old_deadline",
            "new_deadline",
            "reason",
            "status",
            "created_at",
            "decided_at",
        )


class DocumentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", help_text="the uploader's file name")

    class Meta:
        model = RestorationDocument
        fields = ("id", "kind", "content_type", "name", "uploaded_at")


class PermitSerializer(GeoFeatureModelSerializer):
    """A permit as a GeoJSON Feature; what the viewer may do with it in ``allowed_actions``."""

    contractor_name = serializers.CharField(source="contractor.name")
    overdue_days = serializers.SerializerMethodField()
    linked_objects = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = Permit
        geo_field = "geom"
        fields = (
            "id",
            "number",
            "contractor",
            "contractor_name",
            "responsible_person",
            "responsible_phone",
            "purpose",
            "network_kind",
            "address",
            "issued_on",
            "planned_start",
            "deadline",
            "status",
            "overdue_days",
            "conflict_override",
            "linked_objects",
            "allowed_actions",
            "closed_at",
            "created_at",
            "updated_at",
        )

    @property
    def viewer(self) -> Viewer:
        return self.context["viewer"]

    def get_overdue_days(self, permit: Permit) -> int:
        if permit.status not in selectors.ACTIVE:
            return 0
        return selectors.overdue_days(permit.deadline, self.context["today"])

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_linked_objects(self, permit: Permit) -> dict[str, list[int]]:
        return selectors.linked_objects_for(permit, self.viewer)

    def get_allowed_actions(self, permit: Permit) -> list[str]:
        return allowed_actions(permit, self.viewer)


class PermitDistrictSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PermitDetailSerializer(PermitSerializer):
    history = HistorySerializer(many=True, read_only=True)
    extensions = ExtensionSerializer(many=True, read_only=True)
    restoration = serializers.SerializerMethodField()
    claims = serializers.SerializerMethodField()
    district = serializers.SerializerMethodField()

    class Meta(PermitSerializer.Meta):
        fields = PermitSerializer.Meta.fields + (
            "history",
            "extensions",
            "restoration",
            "claims",
            "district",
        )

    @extend_schema_field(PermitDistrictSerializer(allow_null=True))
    def get_district(self, permit: Permit) -> dict[str, Any] | None:
        # Annotated by selectors.permit_detail (layers.selectors.with_district).
        return getattr(permit, "district", None)

    @extend_schema_field({"type": "object", "nullable": True})  # null until the act is made
    def get_restoration(self, permit: Permit) -> dict[str, Any] | None:
        act = getattr(permit, "restoration", None)
        if act is None:
            return None
        return {
            "restored_on": act.restored_on.isoformat(),
            "text": act.text,
            "documents": DocumentSerializer(act.documents.all(), many=True).data,
        }

    @extend_schema_field(ClaimSerializer(many=True))
    def get_claims(self, permit: Permit) -> list[dict[str, Any]]:
        claims = [
            c
            for c in permit.claims.all()
            if self.viewer.is_staff_role or c.recipient_id == self.viewer.organisation_id
        ]
        return ClaimSerializer(claims, many=True).data


def _context(request: Request) -> dict[str, Any]:
    return {"viewer": viewer_for(request.user), "today": selectors.local_today()}


def _permit_response(request: Request, permit_id: int, code: int = 200) -> Response:
    viewer = viewer_for(request.user)
    permit = selectors.permit_detail(viewer=viewer, permit_id=permit_id)
    return Response(PermitDetailSerializer(permit, context=_context(request)).data, status=code)


class ConflictSerializer(serializers.Serializer):
    kind = serializers.CharField()
    level = serializers.ChoiceField(choices=["block", "warning"])
    layer = serializers.CharField()
    id = serializers.IntegerField()
    label = serializers.CharField()
    message = serializers.CharField()
    properties = serializers.DictField()


# --- input ------------------------------------------------------------------------------------


class GeoJsonPolygonField(serializers.JSONField):
    """A GeoJSON Polygon (lon/lat)."""


class PermitListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Permit.Status.choices, required=False)
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)


class PermitIssueInput(serializers.Serializer):
    contractor = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    responsible_person = serializers.CharField(max_length=255)
    responsible_phone = serializers.CharField(max_length=64, required=False, default="")
    purpose = serializers.CharField(max_length=500)
    network_kind = serializers.ChoiceField(
        choices=NetworkKind.choices, required=False, allow_blank=True, default=""
    )
    address = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    geom = GeoJsonPolygonField(help_text="The work area: a GeoJSON Polygon in lon/lat")
    issued_on = DayField(required=False, help_text="default: today")
    planned_start = DayField()
    deadline = DayField(help_text="restoration due")
    conflict_override = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="why digging is safe despite blocking conflicts (required when there are some)",
    )


class PermitUpdateInput(serializers.Serializer):
    responsible_person = serializers.CharField(max_length=255, required=False)
    responsible_phone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    purpose = serializers.CharField(max_length=500, required=False)
    network_kind = serializers.ChoiceField(
        choices=NetworkKind.choices, required=False, allow_blank=True
    )
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    planned_start = DayField(required=False)
    geom = GeoJsonPolygonField(required=False, help_text="a new work area: checked again")
    conflict_override = serializers.CharField(required=False, allow_blank=True, default="")


class ConflictsInput(serializers.Serializer):
    geom = GeoJsonPolygonField(help_text="The work area: a GeoJSON Polygon in lon/lat")
    exclude_permit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="a permit not to count (itself)"
    )


class CommentInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ExtensionRequestInput(serializers.Serializer):
    new_deadline = DayField()
    reason = serializers.CharField(max_length=2000)


class ExtendInput(serializers.Serializer):
    new_deadline = DayField(required=False, help_text="default: the request's")
    reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="required without `extension`",
    )
    extension = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="the request to approve"
    )


# --- permits ----------------------------------------------------------------------------------


class PermitPagination(GeoJsonPagination):
    page_size = 100
    max_page_size = 500

    def get_paginated_response_schema(self, view: Any) -> dict[str, Any]:
        """The page as sent: ``features``, a list of permit features, in place of ``results``.

        drf-gis renames ``results`` but leaves it required, and gives ``features`` the schema
        of a whole collection.
        """
        schema = super().get_paginated_response_schema(view)
        required = schema.get("required", [])
        schema["required"] = [("features" if r == "results" else r) for r in required]
        schema["properties"]["features"] = {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Permit"},
        }
        return schema


class PermitListApi(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = PermitSerializer
    pagination_class = PermitPagination
    filter_backends: list = []
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[Permit]:
        q = _valid(PermitListQuery, self.request.query_params)
        return selectors.permits_list(
            viewer=viewer_for(self.request.user),
            status=q.get("status"),
            overdue=q.get("overdue"),
        )

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **_context(self.request)}

    @extend_schema(
        summary="Permits the caller may see (a contractor: its own), newest first",
        parameters=[PermitListQuery],
        responses={200: PermitSerializer(many=True), **ERRORS},
        tags=["permits"],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Issue a permit (operators); the dig-conflict check runs first",
        request=PermitIssueInput,
        responses={
            201: OpenApiResponse(
                PermitDetailSerializer, description="the permit, and `conflicts` (warnings)"
            ),
            **ERRORS,
            409: OpenApiResponse(description="blocking conflicts and no `conflict_override`"),
        },
        tags=["permits"],
    )
    def post(self, request: Request) -> Response:
        q = _valid(PermitIssueInput, request.data)
        result = permit_issue(
            viewer=viewer_for(request.user),
            contractor_id=q["contractor"],
            responsible_person=q["responsible_person"],
            responsible_phone=q["responsible_phone"],
            purpose=q["purpose"],
            network_kind=q["network_kind"],
            address=q["address"],
            geom=work_area_from_geojson(q["geom"]),
            issued_on=q.get("issued_on"),
            planned_start=q["planned_start"],
            deadline=q["deadline"],
            conflict_override=q["conflict_override"],
        )
        response = _permit_response(request, result.permit.pk, status.HTTP_201_CREATED)
        response.data["conflicts"] = [c.as_dict() for c in result.conflicts]
        return response


class PermitConflictsApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="The dig-conflict check of a work area, without issuing anything",
        request=ConflictsInput,
        responses={200: ConflictSerializer(many=True), **ERRORS},
        tags=["permits"],
    )
    def post(self, request: Request) -> Response:
        viewer = viewer_for(request.user)
        selectors.permits_visible(viewer=viewer)  # 401 / 403 before any work
        if not viewer.is_staff_role:
            raise Forbidden(_("Only operators and planners run the conflict check."))
        q = _valid(ConflictsInput, request.data)
        conflicts = selectors.permit_conflicts(
            geom=work_area_from_geojson(q["geom"]),
            today=selectors.local_today(),
            exclude_permit_id=q.get("exclude_permit"),
        )
        return Response([c.as_dict() for c in conflicts])


class PermitApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="A permit with its history, extensions, restoration act and claims",
        responses={200: PermitDetailSerializer, **ERRORS},
        tags=["permits"],
    )
    def get(self, request: Request, pk: int) -> Response:
        return _permit_response(request, pk)

    @extend_schema(
        summary="Change a permit's details or work area (operators); a new area is checked",
        request=PermitUpdateInput,
        responses={200: PermitDetailSerializer, **TRANSITION_ERRORS},
        tags=["permits"],
    )
    def patch(self, request: Request, pk: int) -> Response:
        q = dict(_valid(PermitUpdateInput, request.data))
        raw_geom = q.pop("geom", None)
        override = q.pop("conflict_override", "")
        result = permit_update(
            viewer=viewer_for(request.user),
            permit_id=pk,
            changes=q,
            geom=None if raw_geom is None else work_area_from_geojson(raw_geom),
            conflict_override=override,
        )
        response = _permit_response(request, pk)
        response.data["conflicts"] = [c.as_dict() for c in result.conflicts]
        return response


def _action_view(
    *, summary: str, request_serializer: type[serializers.Serializer], call, code: int = 200
) -> type[APIView]:
    """A POST /api/permits/{pk}/<action> view: validate, call the service, return the permit."""

    class ActionApi(APIView):
        permission_classes = [IsAuthenticated]
        parser_classes = [JSONParser]

        @extend_schema(
            summary=summary,
            request=request_serializer,
            responses={code: PermitDetailSerializer, **TRANSITION_ERRORS},
            tags=["permits"],
        )
        def post(self, request: Request, pk: int) -> Response:
            viewer = viewer_for(request.user)
            selectors.permit_get(viewer=viewer, permit_id=pk)  # 404 before any input check
            q = _valid(request_serializer, request.data)
            call(viewer=viewer, permit_id=pk, **q)
            return _permit_response(request, pk, code)

    return ActionApi


PermitStartApi = _action_view(
    summary="Works begin: issued → in progress (the contractor or an operator)",
    request_serializer=CommentInput,
    call=permit_start,
)
PermitCloseApi = _action_view(
    summary="Site restored: in progress → closed; needs the restoration act with a file",
    request_serializer=CommentInput,
    call=permit_close,
)
PermitCancelApi = _action_view(
    summary="Withdraw a permit (operators)",
    request_serializer=ReasonInput,
    call=permit_cancel,
)
PermitExtensionRequestApi = _action_view(
    summary="Ask for a later deadline (the contractor); an operator approves or refuses",
    request_serializer=ExtensionRequestInput,
    call=permit_extension_request,
    code=status.HTTP_201_CREATED,
)


def _extend(*, viewer: Viewer, permit_id: int, new_deadline=None, reason="", extension=None):
    return permit_extend(
        viewer=viewer,
        permit_id=permit_id,
        new_deadline=new_deadline,
        reason=reason,
        extension_id=extension,
    )


PermitExtendApi = _action_view(
    summary="Move the deadline (operators), directly or approving a request; old one kept",
    request_serializer=ExtendInput,
    call=_extend,
)


class ExtensionRefuseApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Refuse a contractor's extension request (operators)",
        request=ReasonInput,
        responses={200: PermitDetailSerializer, **TRANSITION_ERRORS},
        tags=["permits"],
    )
    def post(self, request: Request, pk: int, extension_id: int) -> Response:
        viewer = viewer_for(request.user)
        selectors.permit_get(viewer=viewer, permit_id=pk)
        q = _valid(ReasonInput, request.data)
        permit_extension_refuse(
            viewer=viewer,
            permit_id=pk,
            extension_id=extension_id,
            reason=q["reason"],
        )
        return _permit_response(request, pk)
