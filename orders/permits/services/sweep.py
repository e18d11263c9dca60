"""The overrun sweep: the claims overrun permits owe, made once with their send jobs.

And redelivery: a claim unsent whose jobs all ended is deferred again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from psycopg import sql

from layers.models import Organisation
from orders.permits.models import Claim, Permit
from orders.permits.selectors import PoliceNotConfigured, local_today, police_organisation

logger = logging.getLogger(__name__)

# The procrastinate task that sends claims (orders/permits/tasks.py registers it by name), and
# how many claims one of its jobs carries: one job per claim costs procrastinate two NOTIFYs and
# an event row each, which at 20,000 claims is most of the sweep's time (bench/sweep.sh). Each
# claim is still sent, locked and marked on its own (``claim_send``).
CLAIMS_QUEUE = "claims"
SEND_CLAIM_TASK = "permits.send_claims"
SEND_BATCH = 50
# A claim whose jobs all ended without sending it is deferred again after this long.
REDELIVER_AFTER = timedelta(minutes=15)

REDELIVER_LOCK_KEY = 0x636C6D73  # "clms"


def _tables() -> dict[str, sql.Identifier]:
    return {
        "permit": sql.Identifier(Permit._meta.db_table),
        "claim": sql.Identifier(Claim._meta.db_table),
        "org": sql.Identifier(Organisation._meta.db_table),
    }


# The permits that owe a claim now: open, their deadline's day over, and a claim missing for
# one of the recipients. Shared by the sweep (which locks them) and its dry run (which does not).
_DUE = """
    SELECT p.id, p.deadline, p.contractor_id
      FROM {permit} p
     WHERE p.status IN ('issued', 'in_progress')
       AND p.deadline < %(today)s
       AND (NOT EXISTS (SELECT 1 FROM {claim} c WHERE c.permit_id = p.id
                          AND c.deadline = p.deadline AND c.recipient_kind = 'contractor')
            OR (%(police)s::bigint IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM {claim} c WHERE c.permit_id = p.id
                                  AND c.deadline = p.deadline AND c.recipient_kind = 'police')))
"""
_WANTED = """
    SELECT d.id AS permit_id, d.deadline, r.kind, r.org
      FROM due d
     CROSS JOIN LATERAL (VALUES ('contractor', d.contractor_id), ('police', %(police)s::bigint))
           AS r (kind, org)
     WHERE r.org IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM {claim} c WHERE c.permit_id = d.id
                         AND c.deadline = d.deadline AND c.recipient_kind = r.kind)
"""
# Send jobs for the claim ids of a CTE named ``claims``: one per ``SEND_BATCH`` of them, deferred
# with procrastinate's own SQL function in this statement, so in the caller's transaction.
_DEFER_JOBS = """
    SELECT (SELECT count(*) FROM claims),
           coalesce(cardinality(procrastinate_defer_jobs_v1(ARRAY(
               SELECT ROW(%(queue)s, %(task)s, 0, NULL, NULL,
                          jsonb_build_object('claim_ids', jsonb_agg(id ORDER BY id)),
                          NULL)::procrastinate_job_to_defer_v1
                 FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / %(batch)s AS batch
                         FROM claims) numbered
                GROUP BY batch ORDER BY batch))), 0)
"""
# One statement: lock the due permits (skipping any another transaction holds: a close in
# flight wins, a racing sweep has them), insert the claims the unique constraint lets through,
# and defer the send jobs of exactly the inserted rows, in the caller's transaction.
SWEEP_SQL = sql.SQL(
    "WITH due AS (" + _DUE + " FOR UPDATE OF p SKIP LOCKED),"
    " wanted AS (" + _WANTED + "),"
    """ claims AS (
        INSERT INTO {claim} (number, permit_id, deadline, recipient_kind, recipient_id, email,
                             days_overdue, document, delivery, attempts, last_error, message_id,
                             created_at)
        SELECT 'CL-' || %(year)s || '-' || lpad(nextval('permits_claim_number_seq')::text, 6, '0'),
               w.permit_id, w.deadline, w.kind, w.org, o.email, %(today)s - w.deadline, '',
               'pending', 0, '', '', %(now)s
          FROM (SELECT * FROM wanted ORDER BY permit_id, kind) w
          JOIN {org} o ON o.id = w.org
        ON CONFLICT (permit_id, deadline, recipient_kind) DO NOTHING
        RETURNING id
    )""" + _DEFER_JOBS
).format(**_tables())
DRY_RUN_SQL = sql.SQL(
    "WITH due AS (" + _DUE + "), wanted AS (" + _WANTED + ") SELECT count(*), 0 FROM wanted"
).format(**_tables())


@dataclass(frozen=True, slots=True)
class SweepResult:
    created: int
    """claims made"""
    deferred: int
    """send jobs deferred for them (one per ``SEND_BATCH`` claims)"""
    today: date
    police_error: str = ""
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        line = f"send_overdue_claims: {verb} {self.created} claim(s)"
        if not self.dry_run:
            line += f", deferred {self.deferred} send job(s)"
        line += f" for deadlines before {self.today.isoformat()}"
        if self.police_error:
            line += f"; no police claims: {self.police_error}"
        return line


def claims_create_overdue(*, now: datetime, dry_run: bool = False) -> SweepResult:
    """Make the missing claims of every overrun permit, with their send jobs, exactly once.

    A deadline passes at the end of its day in ``settings.TIME_ZONE``. Without a police
    organisation (or with several and no ``POLICE_ORGANISATION``) the contractor claims are
    still made and the police ones are logged as an error: a later sweep makes them once the
    organisation is configured.
    """
    today = local_today(now)
    police_error = ""
    try:
        police_id: int | None = police_organisation().pk
    except PoliceNotConfigured as exc:
        police_id, police_error = None, exc.message
        logger.error("claims: no police claims made: %s", exc.message)
    params = {
        "today": today,
        "now": now,
        "year": str(today.year),
        "police": police_id,
        "queue": CLAIMS_QUEUE,
        "task": SEND_CLAIM_TASK,
        "batch": SEND_BATCH,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute((DRY_RUN_SQL if dry_run else SWEEP_SQL).as_string(), params)
        created, deferred = cursor.fetchone()
    if created:
        logger.info("claims: %d created, %d send jobs deferred", created, deferred)
    return SweepResult(created, deferred, today, police_error, dry_run)


REDELIVER_SQL = sql.SQL(
    """
    WITH live AS (  -- the claims a waiting or running job will send
        SELECT DISTINCT jsonb_array_elements(j.args -> 'claim_ids')::bigint AS id
          FROM procrastinate_jobs j
         WHERE j.task_name = %(task)s AND j.status IN ('todo', 'doing')
    ), claims AS (
        SELECT c.id FROM {claim} c
         WHERE c.delivery <> 'sent'
           AND (c.last_attempt_at IS NULL OR c.last_attempt_at < %(before)s)
           AND c.created_at < %(before)s
           AND (%(ids)s::bigint[] IS NULL OR c.id = ANY(%(ids)s::bigint[]))
           AND c.id NOT IN (SELECT id FROM live)
    )"""
    + _DEFER_JOBS
).format(**_tables())


def claims_redeliver(*, now: datetime) -> int:
    """Defer a send job again for every unsent claim none is waiting for or running.

    The claims table is the outbox: a claim is done only when it is marked sent. Jobs that gave
    up after their retries, or were lost, leave a claim unsent and jobless; it is picked up here
    (every ``REDELIVER_AFTER`` at most), so a failed delivery is retried, never dropped.
    """
    count = _redeliver(before=now - REDELIVER_AFTER, ids=None)
    if count:
        logger.warning("claims: %d unsent claim(s) deferred again", count)
    return count


def claims_redeliver_now(*, claim_ids: list[int], now: datetime) -> int:
    """Send these claims again now (the admin's action): the unsent ones no job is sending."""
    return _redeliver(before=now + timedelta(seconds=1), ids=claim_ids)


def _redeliver(*, before: datetime, ids: list[int] | None) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        # One redelivery at a time: two would both see a claim jobless and both defer it.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REDELIVER_LOCK_KEY])
        cursor.execute(
            REDELIVER_SQL.as_string(),
            {
                "before": before,
                "ids": ids,
                "queue": CLAIMS_QUEUE,
                "task": SEND_CLAIM_TASK,
                "batch": SEND_BATCH,
            },
        )
        count, _ = cursor.fetchone()
    return count
