"""The planning API: yard ranking, plans, break hotspots and planned network repairs (staff)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gis.exceptions import BadQuery, Forbidden, Unauthorized, validated
from gis.roles import Role, Viewer, viewer_for
from gis.serializers import DayField
from layers.models import NetworkKind, NetworkSegment, Organisation
from orders.planning.charts import breaks_chart_svg
from orders.planning.models import FIRST_YEAR, LAST_YEAR, NetworkRepair, YardPlan, YardPlanItem
from orders.planning.repairs import network_repair_create, network_repairs_list
from orders.planning.selectors.breaks import (
    DEFAULT_EPS_M,
    DEFAULT_MIN_POINTS,
    DEFAULT_PERIOD_YEARS,
    DEFAULT_REPAIR_K,
    DEFAULT_SNAP_M,
    MAX_EPS_M,
    MAX_SNAP_M,
    break_query_make,
    breaks_per_month,
    hotspots_find,
)
from orders.planning.selectors.plans import (
    DEFAULT_FIRST_MONTH,
    DEFAULT_LAST_MONTH,
    MAX_PLAN_COUNT,
    PlanDraft,
    plan_compose,
    plan_get,
    plan_item_feature,
    plan_items,
    plans_list,
    yard_plan_record,
)
from orders.planning.selectors.ranking import (
    APARTMENTS_RADIUS_M,
    DEFAULT_EXCLUDE,
    DEFAULT_WEIGHTS,
    MAX_APARTMENTS_RADIUS_M,
    MAX_RANKING_LIMIT,
    exclusions_parse,
    weights_parse,
    yards_rank,
)
from orders.planning.services import plan_create, plan_item_update

STAFF = (Role.OPERATOR, Role.PLANNER)


def _viewer(request: Request, roles: tuple[Role, ...]) -> Viewer:
    """The caller, if its role is one of ``roles``: 401 without a token, 403 with another role."""
    viewer = viewer_for(request.user)
    if viewer.role in roles:
        return viewer
    allowed = " or ".join(f"{'an' if r[0] in 'aeiou' else 'a'} {r}" for r in roles)
    if viewer.is_public:
        raise Unauthorized(_("This needs the token of %(allowed)s.") % {"allowed": allowed})
    raise Forbidden(
        _("Your role (%(role)s) may not do this; it needs %(allowed)s.")
        % {"role": viewer.role, "allowed": allowed}
    )


ERRORS = {
    400: OpenApiResponse(description="invalid input, with the reason"),
    401: OpenApiResponse(description="no token"),
    403: OpenApiResponse(description="a role that may not do this"),
}


# --- ranking -----------------------------------------------------------------------------------


class RadiusField(serializers.FloatField):
    """The apartments radius in metres, kept to the centimetre: 5e-324 is 0, not an underflow."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default", APARTMENTS_RADIUS_M)
        super().__init__(min_value=0, max_value=MAX_APARTMENTS_RADIUS_M, **kwargs)

    def to_internal_value(self, data: Any) -> float:
        return round(super().to_internal_value(data), 2)


class RankingQuery(serializers.Serializer):
    weights = serializers.CharField(
        default=DEFAULT_WEIGHTS,
        help_text="name:weight pairs, names apartments, appeals, area, condition; weights are "
        "relative (divided by their sum), ≥ 0, at least one > 0; names not given weigh 0",
    )
    exclude = serializers.CharField(
        default=DEFAULT_EXCLUDE,
        allow_blank=True,
        help_text="open_permits (an issued or in-progress excavation permit intersects the "
        "yard), repaired:N (repaired in the last N years); 'none' or empty: no exclusion",
    )
    apartments_radius_m = RadiusField(
        help_text="a yard serves the flats of the buildings within this distance (metres)"
    )
    limit = serializers.IntegerField(default=100, min_value=1, max_value=MAX_RANKING_LIMIT)


class YardRankingApi(APIView):
    @extend_schema(
        summary="Yards ranked for repair: score and its components, raw and normalised",
        parameters=[RankingQuery],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
        tags=["planning"],
    )
    def get(self, request: Request) -> Response:
        _viewer(request, STAFF)
        q = validated(RankingQuery(data=request.query_params), error=BadQuery)
        ranking = yards_rank(
            weights=weights_parse(text=q["weights"]),
            exclusions=exclusions_parse(text=q["exclude"]),
            apartments_radius_m=q["apartments_radius_m"],
            limit=q["limit"],
            now=timezone.now(),
        )
        return Response(ranking.as_dict())


# --- plans -------------------------------------------------------------------------------------


class PlanRequest(serializers.Serializer):
    year = serializers.IntegerField(min_value=FIRST_YEAR, max_value=LAST_YEAR)
    budget = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        allow_null=True,
        help_text="what the year may spend: yards are taken in rank order while their cost "
        "(area × unit cost of the surface) fits",
    )
    count = serializers.IntegerField(
        min_value=1, max_value=MAX_PLAN_COUNT, required=False, allow_null=True
    )
    weights = serializers.CharField(default=DEFAULT_WEIGHTS)
    exclude = serializers.CharField(default=DEFAULT_EXCLUDE, allow_blank=True)
    apartments_radius_m = RadiusField()
    first_month = serializers.IntegerField(default=DEFAULT_FIRST_MONTH, min_value=1, max_value=12)
    last_month = serializers.IntegerField(default=DEFAULT_LAST_MONTH, min_value=1, max_value=12)
    note = serializers.CharField(default="", allow_blank=True, max_length=2000)
    dry_run = serializers.BooleanField(
        default=False, help_text="return the plan these parameters make without saving it"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("budget") is None) == (attrs.get("count") is None):
            raise serializers.ValidationError(_("Give either a budget or a count of yards."))
        if attrs["first_month"] > attrs["last_month"]:
            raise serializers.ValidationError(_("first_month is after last_month."))
        return attrs


class PlansQuery(serializers.Serializer):
    year = serializers.IntegerField(min_value=FIRST_YEAR, max_value=LAST_YEAR, required=False)


class ItemUpdate(serializers.Serializer):
    status = serializers.ChoiceField(choices=YardPlanItem.Status.choices)
    done_on = DayField(required=False, allow_null=True)


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _plan_json(plan: YardPlan, *, items: bool) -> dict[str, Any]:
    body = {
        "id": plan.pk,
        "year": plan.year,
        "version": plan.version,
        "is_record": plan.is_record,
        "basis": plan.basis,
        "budget": _money(plan.budget),
        "count": plan.count,
        "weights": plan.weights,
        "exclude": plan.exclude,
        "apartments_radius_m": plan.apartments_radius_m,
        "first_month": plan.first_month,
        "last_month": plan.last_month,
        "yards": plan.items.count() if plan.is_record else len(plan.archive),
        "total_cost": _money(plan.total_cost),
        "total_area_m2": round(plan.total_area_m2, 1),
        "note": plan.note,
        "created_by": plan.created_by.username if plan.created_by else None,
        "created_at": plan.created_at,
        "superseded_at": plan.superseded_at,
    }
    if items:
        body["items"] = plan_items(plan=plan)
    return body


def _draft_json(draft: PlanDraft) -> dict[str, Any]:
    return {
        "dry_run": True,
        "year": draft.year,
        "basis": draft.basis,
        "budget": _money(draft.budget),
        "count": draft.count,
        "weights": draft.weights.as_dict(),
        "exclude": draft.exclusions.as_dict(),
        "yards": len(draft.items),
        "candidates": draft.candidates,
        "total_cost": _money(draft.total_cost),
        "total_area_m2": round(draft.total_area_m2, 1),
        "notes": draft.notes,
        "items": [plan_item_feature(item=i, year=draft.year) for i in draft.items],
    }


class YardPlansApi(APIView):
    @extend_schema(
        summary="Yard plan versions, newest first (staff)",
        operation_id="api_yards_plans_list",
        parameters=[PlansQuery],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
        tags=["planning"],
    )
    def get(self, request: Request) -> Response:
        _viewer(request, STAFF)
        q = validated(PlansQuery(data=request.query_params), error=BadQuery)
        plans = plans_list(year=q.get("year"))
        return Response({"plans": [_plan_json(p, items=False) for p in plans]})

    @extend_schema(
        summary="Make the year's next plan version from the ranking, and publish it (planners)",
        request=PlanRequest,
        responses={
            201: OpenApiResponse(OpenApiTypes.OBJECT, description="the plan, now of record"),
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="dry_run: the plan, not saved"),
            **ERRORS,
        },
        tags=["planning"],
    )
    def post(self, request: Request) -> Response:
        viewer = _viewer(request, (Role.PLANNER,))
        q = validated(PlanRequest(data=request.data), error=BadQuery)
        params = {
            "year": q["year"],
            "budget": q.get("budget"),
            "count": q.get("count"),
            "weights": weights_parse(text=q["weights"]),
            "exclusions": exclusions_parse(text=q["exclude"]),
            "apartments_radius_m": q["apartments_radius_m"],
            "first_month": q["first_month"],
            "last_month": q["last_month"],
            "now": timezone.now(),
        }
        if q["dry_run"]:
            draft = plan_compose(**params, previous=yard_plan_record(year=q["year"]))
            return Response(_draft_json(draft))
        plan, draft = plan_create(
            **params, by=request.user if viewer.user_id else None, note=q["note"]
        )
        body = _plan_json(plan, items=True)
        body["candidates"] = draft.candidates
        body["notes"] = draft.notes
        return Response(body, status=status.HTTP_201_CREATED)


class YardPlanApi(APIView):
    @extend_schema(
        summary="One yard plan version with its yards (staff)",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS, 404: None},
        tags=["planning"],
    )
    def get(self, request: Request, pk: int) -> Response:
        _viewer(request, STAFF)
        return Response(_plan_json(plan_get(pk=pk), items=True))


class YardPlanItemApi(APIView):
    @extend_schema(
        summary="Set a yard's status in the plan of record: planned, in_progress, done (planners)",
        request=ItemUpdate,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT),
            **ERRORS,
            404: None,
            409: OpenApiResponse(description="the plan is superseded"),
        },
        tags=["planning"],
    )
    def patch(self, request: Request, pk: int, item_id: int) -> Response:
        _viewer(request, (Role.PLANNER,))
        q = validated(ItemUpdate(data=request.data), error=BadQuery)
        today = timezone.localdate()
        item = plan_item_update(
            plan_id=pk,
            item_id=item_id,
            status=q["status"],
            done_on=q.get("done_on"),
            today=today,
        )
        return Response(plan_item_feature(item=item, year=item.year))


# --- where breaks recur ------------------------------------------------------------------------


class BreaksQuery(serializers.Serializer):
    kind = serializers.ChoiceField(choices=NetworkKind.choices, required=False)
    since = DayField(
        required=False, help_text=f"default: {DEFAULT_PERIOD_YEARS} years before until"
    )
    until = DayField(required=False, help_text="default: today")


class HotspotsQuery(BreaksQuery):
    eps_m = serializers.FloatField(
        default=DEFAULT_EPS_M,
        min_value=0.1,
        max_value=MAX_EPS_M,
        help_text="DBSCAN radius in metres",
    )
    min_points = serializers.IntegerField(default=DEFAULT_MIN_POINTS, min_value=2, max_value=1000)
    k = serializers.IntegerField(
        default=DEFAULT_REPAIR_K,
        min_value=1,
        max_value=100_000,
        help_text="a segment with at least k breaks in the period is a repair candidate",
    )
    snap_m = serializers.FloatField(
        default=DEFAULT_SNAP_M,
        min_value=0,
        max_value=MAX_SNAP_M,
        help_text="an incident lies on the nearest segment of its kind within this distance",
    )


class HotspotsApi(APIView):
    @extend_schema(
        summary="Where networks keep breaking: DBSCAN clusters in metres, repair candidates",
        parameters=[HotspotsQuery],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
        tags=["planning"],
    )
    def get(self, request: Request) -> Response:
        _viewer(request, STAFF)
        q = validated(HotspotsQuery(data=request.query_params), error=BadQuery)
        query = break_query_make(
            kind=q.get("kind"),
            since=q.get("since"),
            until=q.get("until"),
            today=timezone.localdate(),
            snap_m=q["snap_m"],
        )
        return Response(
            hotspots_find(query=query, eps_m=q["eps_m"], min_points=q["min_points"], k=q["k"])
        )


class SvgRenderer(BaseRenderer):
    """Lets a client ask for the chart with ``Accept: image/svg+xml``; errors stay JSON text."""

    media_type = "image/svg+xml"
    format = "svg"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        return (data if isinstance(data, str) else json.dumps(data, default=str)).encode()


class BreaksChartApi(APIView):
    renderer_classes = [JSONRenderer, SvgRenderer]

    @extend_schema(
        summary="Chart of breaks per month per network kind, as SVG (staff)",
        parameters=[BreaksQuery],
        responses={(200, "image/svg+xml"): OpenApiTypes.STR, **ERRORS},
        tags=["planning"],
    )
    def get(self, request: Request) -> HttpResponse:
        _viewer(request, STAFF)
        q = validated(BreaksQuery(data=request.query_params), error=BadQuery)
        query = break_query_make(
            kind=q.get("kind"),
            since=q.get("since"),
            until=q.get("until"),
            today=timezone.localdate(),
        )
        data = breaks_per_month(query=query)
        kind = f" ({query.kind})" if query.kind else ""
        title = f"Network breaks per month{kind}, {query.since} to {query.until}: {data['total']}"
        return HttpResponse(
            breaks_chart_svg(data=data, title=title), content_type="image/svg+xml; charset=utf-8"
        )


# --- planned network repairs -------------------------------------------------------------------


class NetworkRepairSerializer(GeoFeatureModelSerializer):
    segment_kind = serializers.CharField(source="segment.kind", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)

    class Meta:
        model = NetworkRepair
        geo_field = "geom"
        fields = (
            "id",
            "segment",
            "segment_kind",
            "organisation",
            "organisation_name",
            "planned_start",
            "planned_end",
            "status",
            "note",
            "created_at",
        )


class NetworkRepairRequest(serializers.Serializer):
    segment = serializers.PrimaryKeyRelatedField(queryset=NetworkSegment.objects.all())
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    planned_start = DayField()
    planned_end = DayField()
    status = serializers.ChoiceField(
        choices=NetworkRepair.Status.choices, default=NetworkRepair.Status.PLANNED
    )
    note = serializers.CharField(default="", allow_blank=True, max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["planned_end"] < attrs["planned_start"]:
            raise serializers.ValidationError(_("planned_end is before planned_start."))
        return attrs


class NetworkRepairsQuery(serializers.Serializer):
    date = DayField(required=False, help_text="only repairs whose planned period covers this day")
    status = serializers.ChoiceField(choices=NetworkRepair.Status.choices, required=False)
    segment = serializers.IntegerField(required=False, min_value=1)


class NetworkRepairsApi(APIView):
    @extend_schema(
        summary="Planned network repairs, by planned start (staff)",
        operation_id="api_networks_repairs_list",
        parameters=[NetworkRepairsQuery],
        responses={200: NetworkRepairSerializer(many=True), **ERRORS},
        tags=["planning"],
    )
    def get(self, request: Request) -> Response:
        _viewer(request, STAFF)
        q = validated(NetworkRepairsQuery(data=request.query_params), error=BadQuery)
        repairs = network_repairs_list(
            covering=q.get("date"), status=q.get("status"), segment_id=q.get("segment")
        )
        return Response(NetworkRepairSerializer(repairs, many=True).data)

    @extend_schema(
        summary="Plan a network repair; its line is the segment's (planners and operators)",
        request=NetworkRepairRequest,
        responses={201: NetworkRepairSerializer, **ERRORS},
        tags=["planning"],
    )
    def post(self, request: Request) -> Response:
        viewer = _viewer(request, STAFF)
        q = validated(NetworkRepairRequest(data=request.data), error=BadQuery)
        repair = network_repair_create(**q, by=request.user if viewer.user_id else None)
        return Response(NetworkRepairSerializer(repair).data, status=status.HTTP_201_CREATED)
