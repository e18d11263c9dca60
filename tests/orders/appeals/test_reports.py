"""Department reports on a hand-made set whose medians and percentiles are worked out by hand."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.management.base import CommandError

from orders.appeals.models import Appeal, DepartmentReportSent
from orders.appeals.selectors import departments_report

pytestmark = pytest.mark.django_db


def t(day: str, hour: float = 0) -> datetime:
    """A UTC time: ``t("2026-01-05", 8)`` is 5 January 2026, 08:00."""
    return datetime.fromisoformat(f"{day}T00:00:00+00:00") + timedelta(hours=hour)


@pytest.fixture
def week(categories) -> dict[str, int]:
    """Week 2026-W02 (5–11 January): water and roads, as in the table of the docstrings below."""
    water, roads = categories["pipe-burst"], categories["pothole"]

    def make(n: str, category, received, *, closed=None, due=None, status="archived", reopen=0):
        Appeal.objects.create(
            number=f"T-{n}",
            channel="phone",
            category=category,
            organisation=category.organisation,
            received_at=received,
            closed_at=closed,
            done_at=closed if status in ("done", "archived") else None,
            sla_due=due,
            status=status,
            reopen_count=reopen,
        )

    # water: hours to close 2, 6, 24 and 156 → median (6 + 24) / 2 = 15;
    # p90 at rank 0.9 × 3 = 2.7: 24 + 0.7 × (156 − 24) = 116.4.
    make("a1", water, t("2026-01-05", 8), closed=t("2026-01-05", 10), due=t("2026-01-05", 12))
    make(
        "a2",
        water,
        t("2026-01-06", 8),
        closed=t("2026-01-06", 14),
        due=t("2026-01-06", 12),
        reopen=1,
    )
    make(
        "a3",
        water,
        t("2026-01-07", 8),
        closed=t("2026-01-08", 8),
        due=t("2026-01-09"),
        status="done",
    )
    make("a4", water, t("2026-01-08", 8), due=t("2026-01-08", 12), status="in_work")
    make("a5", water, t("2025-12-30", 8), closed=t("2026-01-05", 20), due=t("2026-01-02"))
    # roads: one closed in 1.5 h; one from November still open and overdue; one received after
    # the week, not yet due: in no figure of the week.
    make("b1", roads, t("2026-01-09", 10), closed=t("2026-01-09", 11.5), due=t("2026-01-09", 20))
    make("b2", roads, t("2025-11-01"), due=t("2025-11-04"), status="assigned")
    make("b3", roads, t("2026-01-15"), due=t("2099-01-01"), status="new")
    return {"water": water.organisation_id, "roads": roads.organisation_id}


def test_the_figures_per_organisation(week):
    rows = departments_report(start=t("2026-01-05"), end=t("2026-01-12"), now=t("2026-01-20", 12))
    by_id = {r["organisation_id"]: r for r in rows}
    assert set(by_id) == {week["water"], week["roads"]}
    water = by_id[week["water"]]
    assert water["organisation"] == "Water and sewer service (demo)"
    assert (water["received"], water["closed"], water["closed_within_sla"]) == (4, 4, 2)
    assert water["overdue_now"] == 1
    assert water["median_hours_to_close"] == pytest.approx(15.0)
    assert water["p90_hours_to_close"] == pytest.approx(116.4)
    assert water["reopened_share"] == pytest.approx(0.25)
    roads = by_id[week["roads"]]
    assert (roads["received"], roads["closed"], roads["closed_within_sla"]) == (1, 1, 1)
    assert roads["overdue_now"] == 1
    assert roads["median_hours_to_close"] == roads["p90_hours_to_close"] == pytest.approx(1.5)
    assert roads["reopened_share"] == 0.0


def test_a_period_without_closings_has_no_times(week):
    rows = departments_report(start=t("2026-01-13"), end=t("2026-01-20"), now=t("2026-01-20"))
    roads = next(r for r in rows if r["organisation_id"] == week["roads"])
    assert (roads["received"], roads["closed"]) == (1, 0)
    assert roads["median_hours_to_close"] is None and roads["reopened_share"] == 0.0


def test_the_report_api_in_json_and_csv(client, people, week):
    from tests.orders.appeals.conftest import token

    query = "/api/reports/departments?from=2026-01-05&to=2026-01-11"
    body = client.get(query, **token(people["planner"])).json()
    assert body["from"] == "2026-01-05" and body["to"] == "2026-01-11"
    water = next(r for r in body["rows"] if r["organisation_id"] == week["water"])
    assert water["median_hours_to_close"] == 15.0 and water["p90_hours_to_close"] == 116.4
    response = client.get(query + "&format=csv", **token(people["operator"]))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {r["organisation"] for r in rows} == {
        "Water and sewer service (demo)",
        "Roads and traffic department (demo)",
    }
    accept = client.get(query, HTTP_ACCEPT="text/csv", **token(people["operator"]))
    assert accept.content.startswith(b"organisation,received,closed")
    # A service sees its own row only; the public nothing.
    mine = client.get(query, **token(people["water"])).json()["rows"]
    assert [r["organisation_id"] for r in mine] == [week["water"]]
    assert client.get(query).status_code == 401


@pytest.mark.parametrize(
    "query", ["from=2026-01-12&to=2026-01-05", "from=tomorrow", "to=9999-12-31", "format=pdf"]
)
def test_bad_report_queries_are_4xx(client, people, categories, query):
    from tests.orders.appeals.conftest import token

    response = client.get(f"/api/reports/departments?{query}", **token(people["operator"]))
    assert 400 <= response.status_code < 500


def test_department_report_mails_each_organisation_once(run_command, people, week):
    first = run_command("department_report", "--week", "2026-W02")
    assert "department_report 2026-W02: 2 e-mailed, 0 sent before, 0 without an address" in (
        first.stdout
    )
    by_subject = {m.subject: m for m in mail.outbox}
    water = by_subject["Appeals report 2026-W02: Water and sewer service (demo)"]
    assert set(water.to) == {"water-and-sewer-service@demo.invalid", "water@t.invalid"}
    assert "median time to close     15 h" in water.body
    assert "90th percentile          116.4 h" in water.body
    (name, content, kind) = water.attachments[0]
    assert name == "appeals-2026-W02.csv" and kind == "text/csv"
    assert "Water and sewer service (demo),4,4,2,1,15.0,116.4,0.25" in content
    again = run_command("department_report", "--week", "2026-W02")
    assert "0 e-mailed, 2 sent before" in again.stdout and len(mail.outbox) == 2
    forced = run_command("department_report", "--week", "2026-W02", "--force")
    assert "2 e-mailed" in forced.stdout and len(mail.outbox) == 4
    assert DepartmentReportSent.objects.count() == 2


def test_department_report_refuses_a_bad_week(run_command, categories):
    for week in ("2026-5", "2026-W54"):
        with pytest.raises(CommandError):
            run_command("department_report", "--week", week)
