"""The operations' background job, run by `manage.py worker` (scripts/run.sh).

* ``refresh_repeated_problems`` (periodic, ``REPEATED_PROBLEMS_CRON``, hourly by default):
  replaces the ``repeated_problems`` layer's rows with the default query's answer (36 months,
  at least 3 appeals); the queueing lock keeps two refreshes from queueing at once, and each
  refresh is one transaction, so overlapping ones only repeat the work.
"""

from __future__ import annotations

from django.conf import settings
from django.db import close_old_connections
from procrastinate.contrib.django import app

from orders.operations.problems import repeated_problems_refresh

QUEUE = "operations"


@app.periodic(cron=settings.REPEATED_PROBLEMS_CRON, periodic_id="repeated_problems_refresh")
@app.task(
    name="operations.refresh_repeated_problems",
    queue=QUEUE,
    queueing_lock="operations.refresh_repeated_problems",
)
def refresh_repeated_problems(timestamp: int) -> str:
    close_old_connections()
    try:
        return repeated_problems_refresh().summary()
    finally:
        close_old_connections()
