"""A worker killed with SIGKILL in the middle of sending: after a restart every claim is sent once.

A real `manage.py procrastinate worker` runs as a subprocess against the test database; its
e-mail backend hangs in the middle of a send (a mail server that never answers), and the test
kills it there with SIGKILL: no shutdown, no except, no finally. The claims table is the outbox:
the killed job stays ``doing``, a new worker finds it stalled (its worker stopped beating) and
retries it, and ``claim_send`` sends each claim exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from orders.permits.models import Claim
from orders.permits.selectors import local_today
from orders.permits.services.sweep import SEND_CLAIM_TASK, claims_create_overdue
from tests.orders.permits.conftest import day_after, procrastinate_jobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_jobs")]


class Worker:
    def __init__(self, tmp_path: Path, name: str) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.orders.permits.worker_settings",
            "CLAIMS_TEST_DATABASE": connection.settings_dict["NAME"],
            "CLAIMS_TEST_MAIL_DIR": str(tmp_path / "mail"),
            "CLAIMS_TEST_MEDIA_ROOT": str(tmp_path / "media"),
        }
        self.log = (tmp_path / f"{name}.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "procrastinate",
                "worker",
                "--queues",
                "claims",
                "--concurrency",
                "2",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(20)
        self.log.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    (tmp_path / "mail").mkdir()
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_send_every_claim_sent_once_after_restart(make_permit, tmp_path, workers):
    for _ in range(3):
        make_permit(overdue_by=2)
    assert claims_create_overdue(now=day_after(local_today(), 0)).created == 6
    mail = tmp_path / "mail"
    (mail / "block").touch()  # the next send hangs

    workers.append(Worker(tmp_path, "first"))
    wait_for(lambda: (mail / "started").exists(), "a send to hang")
    hung_ids = (mail / "started").read_text().split()
    workers[0].kill(signal.SIGKILL)

    hung = Claim.objects.filter(message_id__in=hung_ids)
    assert hung.count() >= 1
    assert all(c.delivery == "pending" and c.attempts == 1 for c in hung)
    assert not (mail / "sent.log").exists()
    assert "doing" in {j["status"] for j in procrastinate_jobs(SEND_CLAIM_TASK)}

    (mail / "block").unlink()
    workers.append(Worker(tmp_path, "second"))
    wait_for(lambda: not Claim.objects.exclude(delivery="sent").exists(), "every claim sent")
    workers[1].kill(signal.SIGTERM)

    sent = (mail / "sent.log").read_text().split()
    claims = list(Claim.objects.all())
    assert sorted(sent) == sorted(c.message_id for c in claims)  # each once, none twice
    assert len(list(mail.glob("*.eml"))) == 6
    assert all(Claim.objects.get(pk=c.pk).attempts == 2 for c in hung)
    assert {j["status"] for j in procrastinate_jobs(SEND_CLAIM_TASK)} == {"succeeded"}
