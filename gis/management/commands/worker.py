"""``manage.py worker``: the job worker, that starts again by itself when the database returns.

procrastinate's own ``procrastinate worker`` stops for good when it loses the database (its
listener fails, and it exits): after a PostgreSQL restart no claim would be sent until someone
started it again. This runs the same worker and, when it stops on a database error, waits
(1 s, doubling to 30 s) and starts it again; a stop signal (Ctrl-C, SIGTERM) ends it. A job cut
off mid-way is picked up again by ``retry_stalled_claim_jobs``, and the claims themselves are
made exactly once by their unique keys, whichever worker runs the sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any

import procrastinate
import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from procrastinate.contrib.django import app, django_connector
from procrastinate.exceptions import ConnectorException

log = logging.getLogger("citygis.worker")

FIRST_WAIT_S = 1.0
LONGEST_WAIT_S = 30.0
# A worker that ran this long before it failed starts again after the shortest wait.
STEADY_S = 60.0
DATABASE_GONE = (ConnectorException, psycopg.OperationalError, DatabaseError)


def worker_app() -> contextlib.AbstractContextManager[procrastinate.App]:
    """The app on a connector of its own, as ``manage.py procrastinate worker`` runs it."""
    if isinstance(app.connector, django_connector.DjangoConnector):
        return app.replace_connector(app.connector.get_worker_connector())
    return contextlib.nullcontext(app)


async def run_until_signal(concurrency: int) -> bool:
    """Run the worker; True when a stop signal ended it, False when it ended by itself.

    procrastinate's worker logs a lost database and returns as if stopped: only our own signal
    handlers tell the two apart.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        with worker_app() as worker:
            async with worker.open_async():
                run = asyncio.create_task(
                    worker.run_worker_async(concurrency=concurrency, install_signal_handlers=False)
                )
                stopped = asyncio.create_task(stop.wait())
                await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    run.cancel()  # procrastinate finishes the running jobs, then ends
                    with contextlib.suppress(asyncio.CancelledError):
                        await run
                    return True
                stopped.cancel()
                run.result()  # the worker's own error, if it raised one
                return False
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


class Command(BaseCommand):
    help = "Run the job worker; start it again after the database went away."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", type=int, default=2, help="jobs run at once")

    def handle(self, *args: Any, concurrency: int, **options: Any) -> None:
        if concurrency < 1:
            raise CommandError(f"--concurrency must be 1 or more, not {concurrency}")
        wait = FIRST_WAIT_S
        while True:
            started = time.monotonic()
            try:
                if asyncio.run(run_until_signal(concurrency)):
                    return
                reason = "the worker stopped by itself (it lost the database)"
            except DATABASE_GONE as exc:
                reason = f"the database went away ({exc})"
            if time.monotonic() - started > STEADY_S:
                wait = FIRST_WAIT_S
            log.warning("worker: %s; starting again in %.0f s", reason, wait)
            self.stderr.write(f"worker: {reason}; starting again in {wait:.0f} s")
            time.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT_S)
