"""Pages of the operations view: the live dashboard."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from orders.operations.dashboard import MAX_DAYS


@require_safe
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """GET /dashboard: a shell; its figures come from the staff-only API in the browser.

    As /planning/hotspots: the page holds no data, the browser fetches it with the API token the
    main map keeps (localStorage), and 401/403 show a login form. It polls the API with the last
    ETag every ``DASHBOARD_POLL_SECONDS``; an unchanged dashboard costs one 304.
    """
    lon, lat, zoom = settings.MAP_CENTER
    config = {
        "center": [lon, lat],
        "zoom": zoom,
        "catalogUrl": reverse("tiles-catalog"),
        "dashboardUrl": reverse("dashboard"),
        "districtsUrl": reverse("dashboard-districts"),
        "problemsUrl": reverse("problems-repeated"),
        "pollSeconds": settings.DASHBOARD_POLL_SECONDS,
        "maxDays": MAX_DAYS,
    }
    return render(
        request, "operations/dashboard.html", {"config": config, "city": settings.DEMO_CITY_NAME}
    )
