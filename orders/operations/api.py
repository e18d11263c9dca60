"""The API of repeated problems (staff) and of the works on a date (each as its layers allow)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.exceptions import BadQuery, Forbidden, Unauthorized, validated
from gis.roles import STAFF_ROLES, viewer_for
from gis.serializers import DayField
from orders.appeals.api.base import BboxField
from orders.operations import problems
from orders.operations.works import works_on
from orders.permits.selectors import local_today

ERRORS = {
    400: OpenApiResponse(description="invalid input, with the reason"),
    401: OpenApiResponse(description="no token"),
    403: OpenApiResponse(description="a role that may not do this"),
}


class RepeatedQuery(serializers.Serializer):
    months = serializers.IntegerField(
        default=problems.DEFAULT_MONTHS,
        min_value=1,
        max_value=problems.MAX_MONTHS,
        help_text="the period: this many months up to now",
    )
    min = serializers.IntegerField(
        default=problems.DEFAULT_MIN,
        min_value=2,
        max_value=problems.MAX_MIN,
        help_text="at least this many appeals make an object or place a repeated problem",
    )
    radius_m = serializers.FloatField(
        default=problems.DEFAULT_RADIUS_M,
        min_value=0.1,
        max_value=problems.MAX_RADIUS_M,
        help_text="unlinked appeals within this distance of each other (DBSCAN eps, metres) "
        "form a place",
    )
    category = serializers.SlugField(
        required=False, help_text="only appeals of this category (its code)"
    )


class RepeatedProblemsApi(APIView):
    @extend_schema(
        summary="Objects and places with repeated appeals: counts, categories, dates, open share",
        parameters=[RepeatedQuery],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
        tags=["operations"],
    )
    def get(self, request: Request) -> Response:
        viewer = viewer_for(request.user)
        if viewer.is_public:
            raise Unauthorized(_("This needs the token of an operator or a planner."))
        if viewer.role not in STAFF_ROLES:
            raise Forbidden(
                _("Your role (%(role)s) may not see repeated problems.") % {"role": viewer.role}
            )
        q = validated(RepeatedQuery(data=request.query_params), error=BadQuery)
        query = problems.problems_query_make(
            months=q["months"],
            min_appeals=q["min"],
            radius_m=q["radius_m"],
            category=q.get("category"),
        )
        result = problems.repeated_problems_find(query=query, now=timezone.now())
        result["problems"] = {
            "type": "FeatureCollection",
            "features": [problems.problem_feature(row) for row in result["problems"]],
        }
        return Response(result)


class WorksQuery(serializers.Serializer):
    date = DayField(
        required=False, help_text="YYYY-MM-DD, the city's calendar day (default: today)"
    )
    bbox = BboxField(required=False, help_text="west,south,east,north (lon/lat)")


class WorksApi(APIView):
    @extend_schema(
        summary="Works on a date: open permits, yards of the year's plan, network repairs",
        description="Each as a GeoJSON feature with kind, title, dates, status, organisation. "
        "Each kind follows its layer's roles: permits (staff; a contractor its own), the yard "
        "plan (everyone), network repairs (staff). See orders/operations/works.py for when a "
        "work counts as on the ground.",
        parameters=[WorksQuery],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), 400: ERRORS[400]},
        tags=["operations"],
    )
    def get(self, request: Request) -> Response:
        viewer = viewer_for(request.user)
        q = validated(WorksQuery(data=request.query_params), error=BadQuery)
        today = local_today()
        return Response(
            works_on(day=q.get("date") or today, today=today, viewer=viewer, bbox=q.get("bbox"))
        )
