"""The dashboard API: figures of a period (with an ETag for cheap polling) and districts on a map.

Operators and planners (the city centre's coordinators) see it; the public gets 401, a service's
staff (contractor role) 403: the dashboard compares every service.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.exceptions import BadInput, Forbidden, Unauthorized, validated
from gis.roles import Role, Viewer, viewer_for
from gis.serializers import DayField
from orders.operations import dashboard
from orders.operations.dashboard import MAX_DAYS, NONE, DashboardQuery

STAFF = (Role.OPERATOR, Role.PLANNER)
DEFAULT_DAYS = 30
TAG = "dashboard"

FIGURES_DOC = (
    "Figures, for the period of whole local days `from`…`to` (both included, server time zone): "
    "**received**: appeals received in the period; **done**: appeals reported fixed in the "
    "period (`done_at`, their latest fix), whatever their status now; **archived**: of the done, "
    "those archived now (the resident confirmed the fix); **reopened**: appeals a resident sent "
    "back in the period (a history row to `reopened`), each once; **median_hours_to_close**: "
    "median hours from receipt to `done_at` over the done (null when none). Now, whenever "
    "received: **open**: new, assigned, in_work or reopened; **in_work**: assigned, in_work or "
    "reopened (a service has it, not yet fixed); **overdue**: open and past `sla_due`. "
    "An appeal's district is the one whose polygon covers its point (the finest `admin_level` "
    "where districts overlap); appeals without a point or outside every district are "
    '"no district" (`id` null). Breakdown rows list only groups with an appeal counted. '
    "`district` and `organisation` filters apply to every figure, breakdowns and series."
)


def _viewer(request: Request) -> Viewer:
    viewer = viewer_for(request.user)
    if viewer.role in STAFF:
        return viewer
    if viewer.is_public:
        raise Unauthorized(_("The dashboard needs an operator's or planner's token."))
    raise Forbidden(
        _("Your role (%(role)s) may not see the dashboard; operators and planners may.")
        % {"role": viewer.role}
    )


class IdOrNoneField(serializers.CharField):
    """A positive id, or ``none``."""

    def to_internal_value(self, data: Any) -> int | str:
        text = super().to_internal_value(data).strip()
        if text == NONE:
            return NONE
        if not text.isdigit() or not 0 < int(text) < 2**31:
            raise serializers.ValidationError(_("A positive id, or 'none'."))
        return int(text)


DashboardParams = type(
    "DashboardParams",
    (serializers.Serializer,),
    {
        # "from" is a Python keyword: the fields are added by name.
        "from": DayField(
            required=False,
            help_text=f"first day, YYYY-MM-DD (default: {DEFAULT_DAYS - 1} days before to)",
        ),
        "to": DayField(required=False, help_text="last day, included, YYYY-MM-DD (default: today)"),
        "district": IdOrNoneField(
            required=False, help_text="a district id, or 'none': appeals in no district"
        ),
        "organisation": IdOrNoneField(
            required=False, help_text="an organisation id, or 'none': appeals without one"
        ),
    },
)


def _query(request: Request) -> DashboardQuery:
    data = validated(DashboardParams(data=request.query_params), error=BadInput)
    last = data.get("to") or timezone.localdate()
    first = data.get("from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadInput(_("from is after to."), extra={"fields": {"from": ["After to."]}})
    if (last - first).days + 1 > MAX_DAYS:
        raise BadInput(
            _("The period is longer than %(max_days)s days.") % {"max_days": MAX_DAYS},
            extra={"fields": {"to": [f"At most {MAX_DAYS} days after from."]}},
        )
    district, organisation = data.get("district"), data.get("organisation")
    if isinstance(district, int) and not dashboard.district_exists(district):
        raise BadInput(
            _("No district %(district)s.") % {"district": district},
            extra={"fields": {"district": ["Unknown."]}},
        )
    if isinstance(organisation, int) and not dashboard.organisation_exists(organisation):
        raise BadInput(
            _("No organisation %(organisation)s.") % {"organisation": organisation},
            extra={"fields": {"organisation": ["Unknown."]}},
        )
    return DashboardQuery(first=first, last=last, district=district, organisation=organisation)


class FiguresSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    done = serializers.IntegerField()
    archived = serializers.IntegerField()
    reopened = serializers.IntegerField()
    open = serializers.IntegerField()
    in_work = serializers.IntegerField()
    overdue = serializers.IntegerField()
    median_hours_to_close = serializers.FloatField(allow_null=True)


class GroupSerializer(FiguresSerializer):
    id = serializers.IntegerField(allow_null=True, help_text="null: no organisation / district")
    name = serializers.CharField()


class CategoryGroupSerializer(FiguresSerializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class DaySerializer(serializers.Serializer):
    day = serializers.DateField()
    received = serializers.IntegerField()
    done = serializers.IntegerField()


class FiltersSerializer(serializers.Serializer):
    district = serializers.CharField(allow_null=True, help_text="an id, 'none' or null (all)")
    organisation = serializers.CharField(allow_null=True, help_text="an id, 'none' or null (all)")


DashboardSerializer = type(
    "DashboardSerializer",
    (serializers.Serializer,),
    {
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "generated_at": serializers.DateTimeField(),
        "filters": FiltersSerializer(),
        "totals": FiguresSerializer(),
        "by_organisation": GroupSerializer(many=True),
        "by_district": GroupSerializer(many=True),
        "by_category": CategoryGroupSerializer(many=True),
        "series": DaySerializer(many=True, help_text="every day of the period, zeros included"),
    },
)

ERRORS = {
    400: OpenApiResponse(
        description="a malformed date, from after to, a period over "
        f"{MAX_DAYS} days, an unknown district or organisation"
    ),
    401: OpenApiResponse(description="no token"),
    403: OpenApiResponse(description="a role other than operator or planner"),
}


class DashboardApi(APIView):
    @extend_schema(
        summary="Appeals at a glance: received, done, open, overdue, by service/district/category",
        description=FIGURES_DOC
        + " The response carries an `ETag` that changes whenever an appeal or district changes "
        "or an appeal becomes overdue; send it back in `If-None-Match` to get a 304 without "
        "the figures being computed (the dashboard page polls this way).",
        parameters=[
            DashboardParams,
            OpenApiParameter(
                "If-None-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="the ETag of a previous answer",
            ),
        ],
        responses={
            200: DashboardSerializer,
            304: OpenApiResponse(description="nothing changed since the ETag sent"),
            **ERRORS,
        },
        tags=[TAG],
    )
    def get(self, request: Request) -> Response:
        _viewer(request)
        query = _query(request)
        now = timezone.now()
        etag = dashboard.dashboard_marker(query=query, now=now)
        if etag in _etags(request.headers.get("If-None-Match", "")):
            response = Response(status=304)
        else:
            response = Response(dashboard.dashboard_figures(query=query, now=now))
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class DistrictFeatureSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Feature"])
    id = serializers.IntegerField()
    geometry = serializers.JSONField(help_text="MultiPolygon, lon/lat")
    properties = GroupSerializer()


class DistrictCollectionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = DistrictFeatureSerializer(many=True)


class DashboardDistrictsApi(APIView):
    @extend_schema(
        summary="Every district as GeoJSON with the dashboard's figures (for a shaded map)",
        description="The same query and figures as GET /api/dashboard, per district; districts "
        "with no appeal counted have zeros. " + FIGURES_DOC,
        parameters=[DashboardParams],
        responses={(200, "application/geo+json"): DistrictCollectionSerializer, **ERRORS},
        tags=[TAG],
    )
    def get(self, request: Request) -> Response:
        _viewer(request)
        query = _query(request)
        data = dashboard.dashboard_districts(query=query, now=timezone.now())
        return Response(data, content_type="application/geo+json")
