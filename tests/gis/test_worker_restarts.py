"""``manage.py worker`` starts the job worker again after the database went away.

The real restart (PostgreSQL stopped and started under load, claims made once) is measured by
bench/appeals.sh; here the loop itself: a worker that stops on a database error is started
again after a growing wait, one that ends on a stop signal is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import pytest
from django.core.management import CommandError, call_command
from procrastinate.exceptions import ConnectorException

from gis.management.commands import worker as command


class Worker:
    """Stands in for procrastinate's app: fails, or ends by itself, then waits for a signal."""

    def __init__(self, failures: int, ends: int = 0) -> None:
        self.failures, self.ends = failures, ends
        self.runs = 0

    @contextlib.asynccontextmanager
    async def open_async(self):
        yield self

    async def run_worker_async(self, **options) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise ConnectorException("Database error.")
        if self.runs <= self.failures + self.ends:
            return  # as procrastinate does when its listener lost the database
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(10)


def test_a_worker_that_lost_the_database_is_started_again(monkeypatch, capsys):
    worker = Worker(failures=2, ends=1)
    waits: list[float] = []
    monkeypatch.setattr(command, "worker_app", lambda: contextlib.nullcontext(worker))
    monkeypatch.setattr(command.time, "sleep", waits.append)
    call_command("worker", "--concurrency", "1")
    assert worker.runs == 4  # two errors, one quiet end, then a SIGTERM that ends it for good
    assert waits == [1.0, 2.0, 4.0]
    err = capsys.readouterr().err
    assert "the database went away" in err and "stopped by itself" in err


def test_other_errors_are_not_hidden(monkeypatch):
    class Broken(Worker):
        async def run_worker_async(self, **options) -> None:
            raise ValueError("a bug")

    monkeypatch.setattr(command, "worker_app", lambda: contextlib.nullcontext(Broken(0)))
    with pytest.raises(ValueError, match="a bug"):
        call_command("worker")


@pytest.mark.parametrize("concurrency", ["0", "-1"])
def test_a_worker_that_could_run_no_job_is_refused(monkeypatch, concurrency):
    worker = Worker(failures=0)
    monkeypatch.setattr(command, "worker_app", lambda: contextlib.nullcontext(worker))
    with pytest.raises(CommandError, match="--concurrency must be 1 or more"):
        call_command("worker", "--concurrency", concurrency)
    assert worker.runs == 0
