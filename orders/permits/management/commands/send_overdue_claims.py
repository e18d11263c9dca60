"""manage.py send_overdue_claims [--dry-run]: the overrun sweep by hand, as the worker runs it."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from orders.permits.services.sweep import claims_create_overdue, claims_redeliver


class Command(BaseCommand):
    help = (
        "Create the claims of every permit whose deadline has passed (two per missed deadline: "
        "contractor and police) with their send jobs; the procrastinate worker sends them."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count the claims that would be made; change nothing",
        )

    def handle(self, *args, **opts) -> None:
        now = timezone.now()
        result = claims_create_overdue(now=now, dry_run=opts["dry_run"])
        line = result.summary()
        if not opts["dry_run"]:
            line += f"; {claims_redeliver(now=now)} unsent claim(s) deferred again"
        if result.police_error:
            self.stderr.write(f"send_overdue_claims: {result.police_error}")
        self.stdout.write(line)
