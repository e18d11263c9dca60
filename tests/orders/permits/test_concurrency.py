"""Exactly once under concurrency, on the real PostgreSQL: each thread has its own connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from orders.permits.models import Claim, Permit
from orders.permits.selectors import local_today
from orders.permits.services.lifecycle import permit_close, permit_restoration_add
from orders.permits.services.sweep import claims_create_overdue
from tests.factories import png_bytes
from tests.orders.permits.conftest import SYSTEM, claims_in_jobs, day_after

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_jobs")]
WAIT = 20  # seconds: generous, a hung test fails instead of hanging


def in_thread(work: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``work`` with the thread's own connection, closed when done."""

    def run() -> Any:
        try:
            return work()
        finally:
            connection.close()

    return run


def assert_each_claim_once_with_one_job(permits: list[Permit]) -> None:
    claims = list(Claim.objects.values_list("permit_id", "deadline", "recipient_kind", "pk"))
    assert len(claims) == 2 * len(permits)
    assert len({c[:3] for c in claims}) == len(claims)
    assert claims_in_jobs() == sorted(c[3] for c in claims)  # each claim in exactly one job


def test_two_sweeps_at_the_same_time_create_each_claim_once(make_permit):
    permits = [make_permit(overdue_by=2) for _ in range(40)]
    now = day_after(local_today(), 0)

    for _ in range(3):  # several rounds: the sweeps collide in different places
        Claim.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM procrastinate_jobs")
        start = threading.Barrier(2)

        def sweep(start: threading.Barrier = start) -> int:
            start.wait(WAIT)
            return claims_create_overdue(now=now).created

        with ThreadPoolExecutor(2) as pool:
            created = [f.result(WAIT) for f in [pool.submit(in_thread(sweep)) for _ in range(2)]]

        assert sum(created) == 80
        assert_each_claim_once_with_one_job(permits)


def test_a_sweep_skips_permits_another_sweep_holds_and_never_waits_for_it(make_permit):
    permits = [make_permit(overdue_by=2) for _ in range(5)]
    now = day_after(local_today(), 0)
    swept, release = threading.Event(), threading.Event()

    def first() -> int:
        with transaction.atomic():
            result = claims_create_overdue(now=now)
            swept.set()
            release.wait(WAIT)
        return result.created

    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(in_thread(first))
        assert swept.wait(WAIT)
        started = time.monotonic()
        second = claims_create_overdue(now=now)
        assert time.monotonic() - started < 5  # SKIP LOCKED: no waiting on the other sweep
        assert second.created == 0
        release.set()
        assert holder.result(WAIT) == 10

    assert claims_create_overdue(now=now).created == 0
    assert_each_claim_once_with_one_job(permits)


def _restore(permit: Permit) -> None:
    png = SimpleUploadedFile("after.png", png_bytes())
    permit_restoration_add(
        viewer=SYSTEM, permit_id=permit.pk, restored_on=local_today(), text="Done", files=[png]
    )


def test_a_permit_closed_during_the_sweep_gets_no_claim(make_permit):
    closing, other = make_permit(overdue_by=3), make_permit(overdue_by=3)
    _restore(closing)
    now = day_after(local_today(), 0)
    locked, commit = threading.Event(), threading.Event()

    def close() -> None:
        with transaction.atomic():
            permit_close(viewer=SYSTEM, permit_id=closing.pk)  # holds the row until commit
            locked.set()
            commit.wait(WAIT)

    with ThreadPoolExecutor(1) as pool:
        closer = pool.submit(in_thread(close))
        assert locked.wait(WAIT)
        during = claims_create_overdue(now=now)
        commit.set()
        closer.result(WAIT)

    assert during.created == 2  # the other permit's pair; the closing one was skipped
    assert not Claim.objects.filter(permit=closing).exists()
    assert claims_create_overdue(now=now).created == 0  # closed now: never claimed
    assert Claim.objects.filter(permit=other).count() == 2
    assert Permit.objects.get(pk=closing.pk).status == "closed"


def test_a_close_waits_for_a_sweep_that_claimed_the_permit_first(make_permit):
    permit = make_permit(overdue_by=3)
    _restore(permit)
    now = day_after(local_today(), 0)
    swept, release = threading.Event(), threading.Event()
    closed_at: list[float] = []

    def sweep() -> None:
        with transaction.atomic():
            claims_create_overdue(now=now)
            swept.set()
            release.wait(WAIT)
            time.sleep(0.3)

    def close() -> None:
        permit_close(viewer=SYSTEM, permit_id=permit.pk)
        closed_at.append(time.monotonic())

    with ThreadPoolExecutor(2) as pool:
        sweeper = pool.submit(in_thread(sweep))
        assert swept.wait(WAIT)
        closer = pool.submit(in_thread(close))
        time.sleep(0.3)
        assert not closed_at  # blocked on the sweep's row lock
        released = time.monotonic()
        release.set()
        sweeper.result(WAIT)
        closer.result(WAIT)

    assert closed_at[0] >= released + 0.25
    # The permit was overdue when the sweep claimed it: both claims stand, and it is closed.
    assert Claim.objects.filter(permit=permit).count() == 2
    assert Permit.objects.get(pk=permit.pk).status == "closed"


def test_a_job_is_visible_to_workers_only_once_its_claim_is_committed(make_permit):
    make_permit(overdue_by=1)
    now = day_after(local_today(), 0)
    seen: dict[str, int] = {}
    swept, looked = threading.Event(), threading.Event()

    def look() -> None:
        assert swept.wait(WAIT)
        seen["during"] = len(claims_in_jobs())
        looked.set()

    with ThreadPoolExecutor(1) as pool:
        watcher = pool.submit(in_thread(look))
        with transaction.atomic():
            claims_create_overdue(now=now)
            swept.set()
            assert looked.wait(WAIT)
        watcher.result(WAIT)

    assert seen["during"] == 0  # another connection (a worker) saw no job before the commit
    assert len(claims_in_jobs()) == 2
