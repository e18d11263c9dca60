"""The department report under /api/reports/departments: JSON, or CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.exceptions import BadInput, Unauthorized
from gis.roles import Role, viewer_for
from gis.serializers import DayField
from orders.appeals import selectors
from orders.appeals.api.base import ERRORS, _local_start, _period, _period_fields, _valid


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
