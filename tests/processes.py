"""Real citygis processes for tests: gunicorn servers and job workers against the test database.

Each runs as ``scripts/run.sh`` runs it, with tests/process_settings.py (the pytest test database,
a media and a mail directory of the test's own), in a process group of its own so that a stop
reaches every process it forked; its output goes to ``<folder>/<name>.log``. The ``processes``
fixture stops whatever a test started, in any case, and prints the logs' ends (pytest shows them
when the test failed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests.live_server import free_port

GUNICORN = Path(sys.executable).with_name("gunicorn")
START_TIMEOUT_S = 60.0


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60, step: float = 0.2):
    """Poll ``condition`` until it is true (and return it); AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def process_env(folder: Path) -> dict[str, str]:
    """The environment of a process on the test database, with its media and mail in ``folder``."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.process_settings",
        "CITYGIS_TEST_DATABASE": connection.settings_dict["NAME"],
        "CITYGIS_TEST_MAIL_DIR": str(folder / "mail"),
        "CITYGIS_TEST_MEDIA_ROOT": str(folder / "media"),
    }


class Process:
    """A command run from the checkout in a session of its own, its output in a log file."""

    def __init__(self, name: str, argv: list[str], folder: Path) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=settings.BASE_DIR,
                env=process_env(folder),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` to its process group, if it still runs."""
        if self.alive:
            os.killpg(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Send ``sig`` to its process group and wait; SIGKILL the group if it does not end."""
        if self.alive:
            self.send(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout)
        # What a SIGKILL left of the group (gunicorn's workers outlive a killed master).
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Server(Process):
    """``gunicorn gis.asgi:application`` with uvicorn workers on a free loopback port."""

    def __init__(self, name: str, folder: Path, workers: int = 1) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        super().__init__(
            name,
            [
                str(GUNICORN),
                "gis.asgi:application",
                "--worker-class",
                "uvicorn_worker.UvicornWorker",
                "--bind",
                self.url.removeprefix("http://"),
                "--workers",
                str(workers),
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
            ],
            folder,
        )

    def wait_ready(self) -> None:
        """Until GET /healthz answers 200; fails at once if the server died."""

        def answers() -> bool:
            assert self.alive, f"{self.name} exited:\n{self.tail()}"
            try:
                return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, f"{self.name} to answer /healthz", timeout=START_TIMEOUT_S)


class Worker(Process):
    """``manage.py worker``, the job worker as scripts/run.sh starts it."""

    def __init__(self, name: str, folder: Path, concurrency: int = 2) -> None:
        super().__init__(
            name,
            [sys.executable, "manage.py", "worker", "--concurrency", str(concurrency)],
            folder,
        )


def workers_alive() -> int:
    """How many workers the database has seen beat in the last few seconds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_workers"
            " WHERE last_heartbeat > now() - interval '3 seconds'"
        )
        return cursor.fetchone()[0]


class Processes:
    """What a test started; all of it stopped at the end (see the ``processes`` fixture)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.mail = folder / "mail"
        self.media = folder / "media"
        self.mail.mkdir(parents=True, exist_ok=True)
        self.media.mkdir(parents=True, exist_ok=True)
        self.started: list[Process] = []

    def servers(self, *names: str) -> list[Server]:
        """Servers started together, returned once each answers /healthz."""
        started = [Server(name, self.folder) for name in names]
        self.started += started
        for server in started:
            server.wait_ready()
        return started

    def workers(self, *names: str) -> list[Worker]:
        """Workers started together, returned once every one of them beats."""
        started = [Worker(name, self.folder) for name in names]
        self.started += started

        def beating() -> bool:
            for worker in started:
                assert worker.alive, f"{worker.name} exited:\n{worker.tail()}"
            return workers_alive() >= len(started)

        wait_for(beating, f"{len(started)} workers to beat", timeout=START_TIMEOUT_S)
        return started

    def command(self, name: str, *args: str) -> Process:
        """``manage.py <args>`` started (not waited for): ``.process.wait()`` for its end."""
        started = Process(name, [sys.executable, "manage.py", *args], self.folder)
        self.started.append(started)
        return started

    def stop_all(self) -> None:
        for process in self.started:  # all at once: each takes a moment to finish its work
            process.send()
        for process in self.started:
            process.stop()
        for process in self.started:
            print(f"--- {process.name} ({process.log}) ---\n{process.tail()}")


@contextmanager
def running(folder: Path) -> Iterator[Processes]:
    """Processes started inside, all stopped (and their logs printed) however the block ends."""
    processes = Processes(folder)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Servers and workers for one test, in ``tmp_path``: stopped after it."""
    with running(tmp_path) as started:
        yield started
