"""Permits around one city point: organisations, accounts with tokens, permits made by services."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import connection

from gis.roles import Role, Viewer
from gis.services import user_create_or_update
from layers.models import Organisation
from orders.permits.models import Permit
from orders.permits.selectors import local_today
from orders.permits.services.issuing import permit_issue
from orders.permits.services.lifecycle import permit_start
from orders.permits.services.sweep import SEND_CLAIM_TASK
from tests.factories import CITY_LAT, CITY_LON, rectangle

SYSTEM = Viewer(role=Role.OPERATOR)


def day_after(deadline: date, days: int = 1, hour: int = 9) -> datetime:
    """A moment ``days`` after the deadline day, in the city's time zone."""
    return datetime.combine(
        deadline + timedelta(days=days), time(hour), ZoneInfo(settings.TIME_ZONE)
    )


def site(n: int = 0, width_m: float = 12, height_m: float = 8) -> Polygon:
    """A small work area, the n-th one 50 m east of the previous: they never overlap."""
    return rectangle(width_m, height_m, lon=CITY_LON + n * 0.0006, lat=CITY_LAT)


@pytest.fixture
def orgs(db) -> dict[str, Organisation]:
    return {
        "acme": Organisation.objects.create(
            name="Acme Digging", kind=Organisation.Kind.CONTRACTOR, email="works@acme.test"
        ),
        "other": Organisation.objects.create(
            name="Other Works", kind=Organisation.Kind.CONTRACTOR, email="office@other.test"
        ),
        "police": Organisation.objects.create(
            name="Traffic police", kind=Organisation.Kind.POLICE, email="traffic@police.test"
        ),
    }


@pytest.fixture
def tokens(orgs) -> dict[str, str]:
    return {
        "operator": user_create_or_update(username="op", role=Role.OPERATOR)[1],
        "planner": user_create_or_update(username="pl", role=Role.PLANNER)[1],
        "acme": user_create_or_update(
            username="acme", role=Role.CONTRACTOR, organisation_name="Acme Digging"
        )[1],
        "other": user_create_or_update(
            username="other", role=Role.CONTRACTOR, organisation_name="Other Works"
        )[1],
    }


@pytest.fixture
def auth(tokens) -> Callable[[str], dict[str, str]]:
    def headers(who: str) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Token {tokens[who]}"}

    return headers


MakePermit = Callable[..., Permit]


@pytest.fixture
def make_permit(orgs) -> MakePermit:
    """Issue a permit through the service; ``overdue_by`` days puts its deadline in the past."""
    counter = iter(range(1000))

    def make(
        *,
        contractor: str = "acme",
        overdue_by: int | None = None,
        started: bool = True,
        geom: Polygon | None = None,
        **fields: Any,
    ) -> Permit:
        n = next(counter)
        today = local_today()
        if overdue_by is not None:
            fields.setdefault("deadline", today - timedelta(days=overdue_by))
        fields.setdefault("deadline", today + timedelta(days=10))
        fields.setdefault("planned_start", min(fields["deadline"], today) - timedelta(days=20))
        fields.setdefault("issued_on", fields["planned_start"] - timedelta(days=5))
        fields.setdefault("purpose", "Repair a water main")
        fields.setdefault("responsible_person", "Ivan Petrov")
        fields.setdefault("responsible_phone", "+1 555 0100")
        fields.setdefault("address", f"{10 + n} Main Street")
        permit = permit_issue(
            viewer=SYSTEM,
            contractor_id=orgs[contractor].pk,
            geom=geom or site(n),
            conflict_override=fields.pop("conflict_override", ""),
            **fields,
        ).permit
        if started:
            permit = permit_start(viewer=SYSTEM, permit_id=permit.pk)
        return permit

    return make


def procrastinate_jobs(task_name: str | None = None) -> list[dict[str, Any]]:
    """The procrastinate job rows, as this connection sees them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, task_name, status::text, lock, queueing_lock, args FROM procrastinate_jobs"
            " WHERE %(task)s::text IS NULL OR task_name = %(task)s ORDER BY id",
            {"task": task_name},
        )
        columns = [c.name for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:  # Django leaves jsonb as text
        row["args"] = json.loads(row["args"]) if isinstance(row["args"], str) else row["args"]
    return rows


def claims_in_jobs(status: str | None = None) -> list[int]:
    """The claim ids the send jobs carry (with repeats, if a claim is in two jobs)."""
    return sorted(
        claim_id
        for job in procrastinate_jobs(SEND_CLAIM_TASK)
        if status is None or job["status"] == status
        for claim_id in job["args"]["claim_ids"]
    )


@pytest.fixture
def clean_jobs(transactional_db):
    """Procrastinate's tables are not Django-managed: a flush leaves them; empty them here."""

    def empty() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers,"
                " procrastinate_workers RESTART IDENTITY CASCADE"
            )

    empty()
    yield
    empty()
