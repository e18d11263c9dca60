"""Pages: the public yard plan of a year (HTML, CSV, GeoJSON) and the planners' hotspots page."""

from __future__ import annotations

import csv
import datetime
import io

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from gis.exceptions import error_body
from layers.models import NetworkKind
from orders.planning.models import YardPlan, YardPlanItem
from orders.planning.selectors.plans import (
    plan_public_geojson,
    plan_public_rows,
    plan_years_published,
    yard_plan_record,
)
from tiles.models import Raster

ATTRIBUTION = "© OpenStreetMap contributors"
CSV_COLUMNS = ("rank", "address", "area_m2", "planned_month", "status", "source")
# The public list changes when a planner sets a status: a short cache, then revalidate.
PLAN_MAX_AGE = 60


def _record_or_404(request: HttpRequest, year: int, *, html: bool) -> YardPlan | HttpResponse:
    plan = yard_plan_record(year=year)
    if plan is not None:
        return plan
    years = plan_years_published()
    message = _("No yard repair plan is published for %(year)s.") % {"year": year}
    if html:
        return render(
            request,
            "planning/plan.html",
            {"year": year, "message": message, "years": years},
            status=404,
        )
    return JsonResponse(error_body(message, code="not_found", years=years), status=404)


def _cached(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = f"public, max-age={PLAN_MAX_AGE}"
    # The page speaks the language of the switch's cookie or of Accept-Language.
    patch_vary_headers(response, ("Cookie",))
    return response


@require_safe
def plan_page(request: HttpRequest, year: int) -> HttpResponse:
    """GET /yards/plan/YEAR: the year's plan of record as a plain table, for residents."""
    plan = _record_or_404(request, year, html=True)
    if isinstance(plan, HttpResponse):
        return plan
    rows = plan_public_rows(plan=plan)
    statuses = dict(YardPlanItem.Status.choices)
    for row in rows:
        month = datetime.date.fromisoformat(f"{row['planned_month']}-01")
        row["month_name"] = date_format(month, "F Y")
        row["status_label"] = statuses.get(row["status"], row["status"])
    context = {
        "year": year,
        "plan": plan,
        "rows": rows,
        "total_area_m2": sum(r["area_m2"] for r in rows),
        "derived": any(r["source"] == "derived" for r in rows),
        "years": plan_years_published(),
        "attribution": ATTRIBUTION,
    }
    return _cached(render(request, "planning/plan.html", context))


@require_safe
def plan_csv(request: HttpRequest, year: int) -> HttpResponse:
    """GET /yards/plan/YEAR.csv: address, area, rank, planned month, status (UTF-8, header)."""
    plan = _record_or_404(request, year, html=False)
    if isinstance(plan, HttpResponse):
        return plan
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(plan_public_rows(plan=plan))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="yard-plan-{year}.csv"'
    return _cached(response)


@require_safe
def plan_geojson(request: HttpRequest, year: int) -> HttpResponse:
    """GET /yards/plan/YEAR.geojson: the same rows with each yard's outline as planned."""
    plan = _record_or_404(request, year, html=False)
    if isinstance(plan, HttpResponse):
        return plan
    response = JsonResponse(
        plan_public_geojson(plan=plan),
        content_type="application/geo+json",
        json_dumps_params={"ensure_ascii": False},
    )
    response["Content-Disposition"] = f'attachment; filename="yard-plan-{year}.geojson"'
    return _cached(response)


@require_safe
def hotspots_page(request: HttpRequest) -> HttpResponse:
    """GET /planning/hotspots: a shell; its data come from the staff-only API in the browser.

    The page holds no data, so anyone may load it; the map and chart are fetched with the API
    token the main map keeps (localStorage) or an admin session, and 401/403 show a login form.
    """
    lon, lat, zoom = settings.MAP_CENTER
    config = {
        "center": [lon, lat],
        "zoom": zoom,
        "catalogUrl": reverse("tiles-catalog"),
        "hotspotsUrl": reverse("planning-hotspots"),
        "chartUrl": reverse("planning-breaks-chart"),
        "densityRasters": list(
            Raster.objects.filter(name__startswith="density-").values_list("name", flat=True)
        ),
        "kinds": [{"value": v, "label": str(label)} for v, label in NetworkKind.choices],
    }
    return render(
        request,
        "planning/hotspots.html",
        {"config": config, "city": settings.DEMO_CITY_NAME},
    )
