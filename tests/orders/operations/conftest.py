"""Operations fixtures: API clients by role, organisations, and works around a fixed day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.gis.geos import Polygon
from rest_framework.test import APIClient

from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import NetworkKind, NetworkSegment, Organisation
from orders.permits.models import Permit, RestorationAct
from orders.planning.models import NetworkRepair, YardPlan, YardPlanItem
from orders.planning.repairs import network_repair_create
from tests.factories import CITY_LAT, CITY_LON, line, rectangle

CONTRACTOR = "Acme Digging"
OTHER_CONTRACTOR = "Other Works"


@pytest.fixture
def orgs(db) -> dict[str, Organisation]:
    return {
        "acme": Organisation.objects.create(name=CONTRACTOR, kind=Organisation.Kind.CONTRACTOR),
        "other": Organisation.objects.create(
            name=OTHER_CONTRACTOR, kind=Organisation.Kind.CONTRACTOR
        ),
        "water": Organisation.objects.create(name="Water service", kind=Organisation.Kind.SERVICE),
    }


@pytest.fixture
def client_for(orgs) -> Callable[[Role | None], APIClient]:
    """An API client acting as a new user of the role (None: the public); contractors: Acme."""

    def make(role: Role | None) -> APIClient:
        client = APIClient()
        if role is not None:
            _, token = user_create_or_update(
                username=f"test-{role}",
                role=role,
                organisation_name=CONTRACTOR if role == Role.CONTRACTOR else None,
            )
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


# --- works on a date: a fixed calendar, "today" passed in (the API takes the real one) --------

TODAY = date(2025, 6, 20)
DAY = date(2025, 6, 10)


def site(n: int) -> Polygon:
    """The n-th work area, 60 m east of the previous: 12 × 8 m, never overlapping."""
    return rectangle(12, 8, lon=CITY_LON + n * 0.0007, lat=CITY_LAT)


@pytest.fixture
def works(orgs) -> dict[str, Any]:
    """Permits, a yard plan of record and network repairs around DAY (see test_works.py)."""
    return make_works(orgs)


def make_works(orgs: dict[str, Organisation]) -> dict[str, Any]:
    d = lambda month, day: date(2025, month, day)  # noqa: E731
    P = Permit.Status

    def permit(key, n, start, deadline, status, contractor="acme", restored=None):
        made = Permit.objects.create(
            number=key,
            contractor=orgs[contractor],
            responsible_person="Ivan Petrov",
            purpose=f"Dig {key}",
            address=f"{n} Main Street",
            geom=site(n),
            issued_on=start - timedelta(days=3),
            planned_start=start,
            deadline=deadline,
            status=status,
        )
        if restored is not None:
            RestorationAct.objects.create(permit=made, restored_on=restored, text="Restored.")
        return made

    permits = {
        "P1": permit("P1", 0, d(6, 5), d(6, 15), P.IN_PROGRESS),
        "P2": permit("P2", 1, d(6, 13), d(7, 1), P.ISSUED, contractor="other"),
        "P3": permit("P3", 2, d(5, 1), d(5, 31), P.CLOSED, restored=d(6, 2)),
        "P4": permit("P4", 3, d(5, 20), d(6, 8), P.IN_PROGRESS, contractor="other"),
        "P5": permit("P5", 4, d(6, 1), d(6, 30), P.CANCELLED),
        "P6": permit("P6", 5, d(6, 1), d(6, 20), P.CLOSED, restored=d(6, 12)),
    }
    plan = YardPlan.objects.create(
        year=2025,
        version=1,
        basis="count",
        count=4,
        weights={"apartments": 1},
        apartments_radius_m=15,
        first_month=5,
        last_month=9,
        total_cost=Decimal("1000"),
        total_area_m2=400,
        is_record=True,
    )
    S = YardPlanItem.Status

    def item(key, n, month, status, done_on=None):
        return YardPlanItem.objects.create(
            plan=plan,
            year=2025,
            rank=n,
            source="test",
            source_id=key,
            address=f"{key} Yard",
            area_m2=100,
            surface="asphalt",
            geom=rectangle(10, 10, lon=CITY_LON + n * 0.0007, lat=CITY_LAT + 0.001),
            unit_cost=Decimal("10"),
            cost=Decimal("1000"),
            planned_month=month,
            status=status,
            done_on=done_on,
        )

    yards = {
        "Y1": item("Y1", 1, 6, S.IN_PROGRESS),
        "Y2": item("Y2", 2, 8, S.PLANNED),
        "Y3": item("Y3", 3, 5, S.DONE, done_on=d(5, 20)),
        "Y4": item("Y4", 4, 9, S.IN_PROGRESS),
    }
    R = NetworkRepair.Status

    def repair(key, n, start, end, status):
        segment = NetworkSegment.objects.create(
            source="test",
            source_id=key,
            kind=NetworkKind.WATER,
            name=f"Main {key}",
            owner=orgs["water"],
            geom=line(CITY_LON + n * 0.0007, CITY_LAT + 0.002, size=0.0003),
        )
        return network_repair_create(
            segment=segment,
            organisation=orgs["water"],
            planned_start=start,
            planned_end=end,
            status=status,
            note=key,
        )

    repairs = {
        "R1": repair("R1", 0, d(6, 9), d(6, 11), R.PLANNED),
        "R2": repair("R2", 1, d(6, 1), d(6, 30), R.CANCELLED),
        "R3": repair("R3", 2, d(5, 1), d(5, 5), R.DONE),
    }
    return {"permits": permits, "yards": yards, "repairs": repairs, "plan": plan}
