"""manage.py department_report --week YYYY-Www [--force]: e-mail each organisation its part."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gis.exceptions import ApplicationError
from orders.appeals.services.reports import department_reports_send


def last_week() -> str:
    year, week, _ = (timezone.localdate() - timezone.timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


class Command(BaseCommand):
    help = (
        "E-mail each organisation its appeals figures for an ISO week (default: last week); "
        "each organisation gets a week's report once unless --force."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--week", help="ISO week, e.g. 2026-W05 (default: last week)")
        parser.add_argument("--force", action="store_true", help="send again if sent already")

    def handle(self, *args, **opts) -> None:
        week = opts["week"] or last_week()
        try:
            deliveries = department_reports_send(week=week, force=opts["force"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for delivery in deliveries:
            to = f" → {', '.join(delivery.recipients)}" if delivery.outcome == "sent" else ""
            self.stdout.write(f"  {delivery.organisation}: {delivery.outcome}{to}")
        sent = sum(d.outcome == "sent" for d in deliveries)
        self.stdout.write(
            f"department_report {week}: {sent} e-mailed, "
            f"{sum(d.outcome == 'already sent' for d in deliveries)} sent before, "
            f"{sum(d.outcome == 'no e-mail address' for d in deliveries)} without an address"
        )
