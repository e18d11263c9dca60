"""A hand-made set of appeals in two hand-made districts, with the dashboard figures worked out.

Period 5–11 January 2026 (local days). West and East are 800 m squares side by side around the
city point; "out" lies 3 km away, in no district; r2 has no point at all.

====  ======  =====  ==============  =================  ========  ==========  ================
name  org     where  received        done (hours)       status    sla_due     note
====  ======  =====  ==============  =================  ========  ==========  ================
w1    water   West   01-05 08:00     01-05 10:00 (2)    archived  01-05 12h
w2    water   West   01-06 08:00     01-06 14:00 (6)    done      01-06 12h
w3    water   East   01-07 08:00     —                  in_work   01-07 12h   overdue
w4    water   East   01-08 08:00     —                  new       2099
w5    water   out    2025-12-30 08h  01-09 08:00 (240)  archived  2026-01-02  received before
r1    roads   West   01-05 09:00     01-06 09:00 (24)   reopened  01-07 13h   reopened 01-07
r2    roads   none   2025-11-01      —                  assigned  2025-11-04  overdue
r3    roads   East   01-12 00:00     —                  new       2099        received after
r4    roads   East   2025-12-01      2025-12-04         archived  2025-12-02  reopened in Dec.
r5    roads   West   01-10 10:00     —                  rejected  01-10 20h   closed 01-10 11h
====  ======  =====  ==============  =================  ========  ==========  ================

Totals: received 6 (w1–w4, r1, r5); done 4 (w1, w2, w5, r1); archived 2 (w1, w5); reopened 1 (r1);
open 5 (w3, w4, r1, r2, r3); in work 3 (w3, r1, r2); overdue 3 (w3, r1, r2); median of 2, 6, 24,
240 hours = 15. Nothing is received or done on 01-11: a zero day of the series.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.gis.geos import MultiPolygon, Polygon
from django.utils import timezone

from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import District
from orders.appeals import categories as seed
from orders.appeals.models import Appeal, AppealHistory, Category
from orders.appeals.services.registration import categories_load
from tests.factories import at

FIRST, LAST = "2026-01-05", "2026-01-11"


def square(east_m: float, north_m: float, half_m: float) -> MultiPolygon:
    corners = [
        at(east_m - half_m, north_m - half_m),
        at(east_m + half_m, north_m - half_m),
        at(east_m + half_m, north_m + half_m),
        at(east_m - half_m, north_m + half_m),
    ]
    ring = [(p.x, p.y) for p in corners]
    return MultiPolygon(Polygon([*ring, ring[0]]), srid=4326)


def t(day: str, hour: float = 0) -> datetime:
    """A local time: ``t("2026-01-05", 8)`` is 5 January 2026, 08:00 in the server's zone."""
    return timezone.make_aware(datetime.fromisoformat(day)) + timedelta(hours=hour)


WHERE = {"West": (-400, 0), "East": (400, 0), "out": (3000, 3000), "none": None}


def build_set() -> dict[str, Any]:
    """Districts, organisations, categories, the ten appeals and an operator, planner, service."""
    categories_load()
    water = Category.objects.get(code="pipe-burst")
    roads = Category.objects.get(code="pothole")
    west = District.objects.create(
        source="t", source_id="w", name="West", geom=square(-400, 0, 390)
    )
    east = District.objects.create(source="t", source_id="e", name="East", geom=square(400, 0, 390))

    def make(name, category, where, received, *, done=None, status, due, closed=None, reopen=0):
        point = WHERE[where]
        return Appeal.objects.create(
            number=f"T-{name}",
            channel="phone",
            category=category,
            organisation=category.organisation,
            geom=at(*point) if point else None,
            received_at=received,
            done_at=done,
            closed_at=closed if closed is not None else (None if status == "reopened" else done),
            sla_due=due,
            status=status,
            reopen_count=reopen,
        )

    never = t("2099-01-01")
    make(
        "w1",
        water,
        "West",
        t("2026-01-05", 8),
        done=t("2026-01-05", 10),
        status="archived",
        due=t("2026-01-05", 12),
    )
    make(
        "w2",
        water,
        "West",
        t("2026-01-06", 8),
        done=t("2026-01-06", 14),
        status="done",
        due=t("2026-01-06", 12),
    )
    make("w3", water, "East", t("2026-01-07", 8), status="in_work", due=t("2026-01-07", 12))
    make("w4", water, "East", t("2026-01-08", 8), status="new", due=never)
    make(
        "w5",
        water,
        "out",
        t("2025-12-30", 8),
        done=t("2026-01-09", 8),
        status="archived",
        due=t("2026-01-02"),
    )
    r1 = make(
        "r1",
        roads,
        "West",
        t("2026-01-05", 9),
        done=t("2026-01-06", 9),
        status="reopened",
        due=t("2026-01-07", 13),
        reopen=1,
    )
    make("r2", roads, "none", t("2025-11-01"), status="assigned", due=t("2025-11-04"))
    make("r3", roads, "East", t("2026-01-12"), status="new", due=never)
    r4 = make(
        "r4",
        roads,
        "East",
        t("2025-12-01"),
        done=t("2025-12-04"),
        status="archived",
        due=t("2025-12-02"),
        reopen=1,
    )
    make(
        "r5",
        roads,
        "West",
        t("2026-01-10", 10),
        status="rejected",
        due=t("2026-01-10", 20),
        closed=t("2026-01-10", 11),
    )
    for appeal, when in ((r1, t("2026-01-07", 9)), (r4, t("2025-12-03"))):
        AppealHistory.objects.create(
            appeal=appeal,
            at=when,
            by_label="resident",
            action="status",
            from_status="done",
            to_status="reopened",
        )
    operator_user, operator = user_create_or_update(username="dash-op", role=Role.OPERATOR)
    _, planner = user_create_or_update(username="dash-pl", role=Role.PLANNER)
    _, service = user_create_or_update(
        username="dash-water", role=Role.CONTRACTOR, organisation_name=seed.WATER
    )
    return {
        "west": west.pk,
        "east": east.pk,
        "water": water.organisation_id,
        "roads": roads.organisation_id,
        "water_category": water,
        "operator": operator,
        "operator_user": operator_user,
        "planner": planner,
        "service": service,
    }
