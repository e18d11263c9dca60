"""manage.py refresh_repeated_problems: refresh the repeated_problems layer, as the worker does."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from orders.operations.problems import repeated_problems_refresh


class Command(BaseCommand):
    help = (
        "Replace the repeated_problems tile layer's rows with the objects and places that had "
        "at least 3 appeals in the last 36 months (GET /api/problems/repeated for others)."
    )

    def handle(self, *args, **opts) -> None:
        # A bar on a terminal; silent when output is piped or logged.
        with tqdm(disable=not sys.stderr.isatty(), leave=False, unit="rows") as bar:
            result = repeated_problems_refresh(progress=bar)
        self.stdout.write(result.summary())
