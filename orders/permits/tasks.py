"""The permits' background jobs, run by `manage.py worker` (scripts/run.sh).

* ``send_claims``: sends a batch of claims, each on its own; a failure is recorded on the claim
  and the job retried (what was sent is not sent again).
* ``claims_sweep`` (periodic, ``CLAIMS_SWEEP_CRON``): makes the claims of overrun permits with
  their send jobs, and defers again any unsent claim whose jobs all ended.
* ``retry_stalled_claim_jobs`` (periodic, every minute): a job whose worker died (SIGKILL, power
  cut) stays ``doing`` forever; once its worker has missed its heartbeats it is put back to
  ``todo``, and ``claim_send`` makes the retry harmless.
"""

from __future__ import annotations

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app

from orders.permits.services.sending import claims_send
from orders.permits.services.sweep import (
    CLAIMS_QUEUE,
    SEND_CLAIM_TASK,
    claims_create_overdue,
    claims_redeliver,
)

# About an hour and a half of attempts (1, 3, 5 … 19 minutes apart); after that the sweep's
# redelivery takes over every quarter of an hour, so a claim is never given up on.
SEND_RETRY = RetryStrategy(max_attempts=10, wait=60, linear_wait=120)
# A worker beats every 10 s (procrastinate's default); three missed beats and it is dead.
STALLED_AFTER_S = float(getattr(settings, "CLAIMS_STALLED_AFTER_S", 30))
RETRY_STALLED_CRON = getattr(settings, "CLAIMS_RETRY_STALLED_CRON", "* * * * *")


@app.task(name=SEND_CLAIM_TASK, queue=CLAIMS_QUEUE, retry=SEND_RETRY)
def send_claims(claim_ids: list[int]) -> dict[str, int]:
    # Worker threads outlive requests: drop connections that are broken or past CONN_MAX_AGE.
    close_old_connections()
    try:
        return claims_send(claim_ids=claim_ids)
    finally:
        close_old_connections()


@app.periodic(cron=settings.CLAIMS_SWEEP_CRON, periodic_id="claims_sweep")
@app.task(name="permits.claims_sweep", queue=CLAIMS_QUEUE, queueing_lock="permits.claims_sweep")
def claims_sweep(timestamp: int) -> str:
    close_old_connections()
    try:
        now = timezone.now()
        result = claims_create_overdue(now=now)
        redelivered = claims_redeliver(now=now)
        return f"{result.summary()}; {redelivered} unsent claim(s) deferred again"
    finally:
        close_old_connections()


@app.periodic(cron=RETRY_STALLED_CRON, periodic_id="claims_retry_stalled")
@app.task(
    name="permits.retry_stalled_claim_jobs",
    queue=CLAIMS_QUEUE,
    queueing_lock="permits.retry_stalled_claim_jobs",
    pass_context=True,
)
async def retry_stalled_claim_jobs(context: JobContext, timestamp: int) -> int:
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(
        queue=CLAIMS_QUEUE, seconds_since_heartbeat=STALLED_AFTER_S
    )
    for job in stalled:
        await manager.retry_job(job)
    return len(list(stalled))
