"""The weekly department reports: each organisation e-mailed its part of the week, once."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.mail import EmailMessage
from django.utils import timezone
from django.utils.translation import gettext as _

from gis.exceptions import ApplicationError
from layers.models import Organisation
from orders.appeals.models import DepartmentReportSent
from orders.appeals.selectors import REPORT_COLUMNS, departments_report

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 (local time) of an ISO week ``YYYY-Www``."""
    match = _WEEK.match(week)
    if not match:
        raise ApplicationError(
            _("A week is YYYY-Www (e.g. 2026-W05), not %(week)s.") % {"week": repr(week)}
        )
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ApplicationError(_("%(week)s is not a week of its year.") % {"week": week}) from None
    start = timezone.make_aware(datetime.combine(monday, time.min))
    return start, timezone.make_aware(datetime.combine(monday + timedelta(days=7), time.min))


@dataclass(frozen=True, slots=True)
class ReportDelivery:
    organisation: str
    outcome: str
    """sent, already sent, or no e-mail address."""
    recipients: tuple[str, ...] = ()


def department_reports_send(
    *, week: str, now: datetime | None = None, force: bool = False
) -> list[ReportDelivery]:
    """E-mail each organisation its part of the week's report, once (``force``: again).

    An organisation is written to when it had appeals in the week or has overdue ones now; one
    without an e-mail address is reported back, not skipped silently.
    """
    start, end = week_bounds(week)
    now = now or timezone.now()
    deliveries = []
    for row in departments_report(start=start, end=end, now=now):
        if row["organisation_id"] is None:
            continue
        organisation = Organisation.objects.get(pk=row["organisation_id"])
        recipients = tuple(
            dict.fromkeys(
                e
                for e in (organisation.email, *organisation.users.values_list("email", flat=True))
                if e
            )
        )
        if not recipients:
            deliveries.append(ReportDelivery(organisation.name, "no e-mail address"))
            continue
        sent = DepartmentReportSent.objects.filter(organisation=organisation, week=week)
        if sent.exists() and not force:
            deliveries.append(ReportDelivery(organisation.name, "already sent", recipients))
            continue
        message = EmailMessage(
            subject=f"Appeals report {week}: {organisation.name}",
            body=_report_text(week, start, end, row),
            to=list(recipients),
        )
        message.attach(f"appeals-{week}.csv", _report_csv([row]), "text/csv")
        message.send()
        DepartmentReportSent.objects.update_or_create(
            organisation=organisation,
            week=week,
            defaults={"recipients": ", ".join(recipients)[:500], "sent_at": now},
        )
        deliveries.append(ReportDelivery(organisation.name, "sent", recipients))
    return deliveries


def _report_text(week: str, start: datetime, end: datetime, row: dict[str, Any]) -> str:
    def hours(value: float | None) -> str:
        return "—" if value is None else f"{value:g} h"

    share = "—" if row["reopened_share"] is None else f"{row['reopened_share']:.0%}"
    last = timezone.localtime(end - timedelta(seconds=1)).date()
    return (
        f"Appeals of {row['organisation']}, week {week} "
        f"({timezone.localtime(start).date()} – {last}):\n\n"
        f"  received                 {row['received']}\n"
        f"  closed                   {row['closed']}\n"
        f"  closed within the SLA    {row['closed_within_sla']}\n"
        f"  overdue now              {row['overdue_now']}\n"
        f"  median time to close     {hours(row['median_hours_to_close'])}\n"
        f"  90th percentile          {hours(row['p90_hours_to_close'])}\n"
        f"  reopened by residents    {share}\n\n"
        "The same figures are attached as CSV.\n"
    )


def _report_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
