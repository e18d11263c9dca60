"""A worker killed with SIGKILL in the middle of sending: after a restart every claim is sent once.

A real `manage.py worker` runs as a subprocess against the test database (tests/processes.py); its
e-mail backend hangs in the middle of a send (a mail server that never answers), and the test
kills it there with SIGKILL: no shutdown, no except, no finally. The claims table is the outbox:
the killed job stays ``doing``, a new worker finds it stalled (its worker stopped beating) and
retries it, and ``claim_send`` sends each claim exactly once.
"""

from __future__ import annotations

import signal

import pytest

from orders.permits.models import Claim
from orders.permits.selectors import local_today
from orders.permits.services.sweep import SEND_CLAIM_TASK, claims_create_overdue
from tests.orders.permits.conftest import day_after, procrastinate_jobs
from tests.processes import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_jobs")]


def test_worker_killed_mid_send_every_claim_sent_once_after_restart(
    make_permit, tmp_path, processes
):
    for _ in range(3):
        make_permit(overdue_by=2)
    assert claims_create_overdue(now=day_after(local_today(), 0)).created == 6
    mail = tmp_path / "mail"
    (mail / "block").touch()  # the next send hangs

    (first,) = processes.workers("first")
    wait_for(lambda: (mail / "started").exists(), "a send to hang")
    hung_ids = (mail / "started").read_text().split()
    first.stop(signal.SIGKILL)

    hung = Claim.objects.filter(message_id__in=hung_ids)
    assert hung.count() >= 1
    assert all(c.delivery == "pending" and c.attempts == 1 for c in hung)
    assert not (mail / "sent.log").exists()
    assert "doing" in {j["status"] for j in procrastinate_jobs(SEND_CLAIM_TASK)}

    (mail / "block").unlink()
    (second,) = processes.workers("second")
    wait_for(lambda: not Claim.objects.exclude(delivery="sent").exists(), "every claim sent")
    second.stop()

    sent = (mail / "sent.log").read_text().split()
    claims = list(Claim.objects.all())
    assert sorted(sent) == sorted(c.message_id for c in claims)  # each once, none twice
    assert len(list(mail.glob("*.eml"))) == 6
    assert all(Claim.objects.get(pk=c.pk).attempts == 2 for c in hung)
    assert {j["status"] for j in procrastinate_jobs(SEND_CLAIM_TASK)} == {"succeeded"}
