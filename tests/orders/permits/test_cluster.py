"""Two app servers and two job workers on one database and one Redis: nothing holds in one process.

Issue #16's "stateless app, shown". Two ``gunicorn gis.asgi:application`` instances (A and B, as
scripts/run.sh starts one) serve the module, each on a port of its own, against the pytest test
database and the tests' Redis; the claims tests add two ``manage.py worker`` processes. The
processes are real (tests/processes.py): what one of them remembers in its own memory is not
seen by the other, as on two machines.

* A permit edited through A is redrawn on B within a second: the row's trigger NOTIFYs, each
  server LISTENs and purges its own LRU and the shared Redis (tiles/triggers.py, tiles/asgi.py).
* A token, a browser session, and the counts of failed passwords and tokens hold on both.
* A file uploaded through A is downloaded through B (one MEDIA_ROOT, or one S3 bucket).
* The overrun sweep run on both workers at once makes and sends each claim once, and a worker
  killed mid-send leaves its job to the other, which is not restarted.
"""

from __future__ import annotations

import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mapbox_vector_tile
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import override_settings
from pytest_django import DjangoDbBlocker
from rest_framework.authtoken.models import Token

from gis.roles import Role
from gis.services import user_create_or_update
from gis.spatial import lonlat_to_tile
from orders.permits.models import Claim, Permit, RestorationDocument
from orders.permits.selectors import local_today
from orders.permits.services.sweep import SEND_CLAIM_TASK, claims_create_overdue
from orders.permits.tasks import claims_sweep
from tests.factories import png_bytes
from tests.orders.permits.conftest import day_after, procrastinate_jobs
from tests.processes import Processes, Server, running, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (make test starts a Redis)"),
]

FAST_HASH = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # as tests/process_settings.py
PURGE_BOUND_S = 1.0  # the bound: an edit on one instance is seen on another within it
EDITS = 5


@pytest.fixture(scope="module")
def cluster(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker, tmp_path_factory
) -> Iterator[Processes]:
    """Servers A and B, for the module; their media directory is ``cluster.media``."""
    with django_db_blocker.unblock(), running(tmp_path_factory.mktemp("cluster")) as started:
        started.servers("a", "b")
        yield started


@pytest.fixture
def a(cluster: Processes) -> Server:
    return cluster.started[0]


@pytest.fixture
def b(cluster: Processes) -> Server:
    return cluster.started[1]


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def tile_of(permit: Permit, z: int = 15) -> str:
    centre = permit.geom.centroid
    x, y = lonlat_to_tile(centre.x, centre.y, z)
    return f"/tiles/permits/{z}/{x}/{y}.mvt"


def purposes(response: httpx.Response) -> dict[int, str]:
    """The purpose of each permit drawn in a tile, by id."""
    assert response.status_code == 200, response.text
    layer = mapbox_vector_tile.decode(response.content).get("permits", {"features": []})
    return {f["id"]: f["properties"]["purpose"] for f in layer["features"]}


def redis_has_tile(path: str) -> bool:
    """Whether the shared cache holds a tile of ``path``'s address (tiles/redis_cache.py's keys)."""
    z, x, y = path.removesuffix(".mvt").split("/")[-3:]
    client = redis.from_url(settings.REDIS_URL)
    try:
        return bool(client.exists(f"citygis:{connection.settings_dict['NAME']}:t:{z}/{x}/{y}"))
    finally:
        client.close()


# --- 1. a tile edited on A is purged on B -------------------------------------------------------


def test_an_edit_through_a_redraws_the_tile_on_b_within_a_second(a, b, make_permit, tokens):
    permit = make_permit()
    path = tile_of(permit)
    staff = token_header(tokens["operator"])
    latencies = []
    for n in range(EDITS):
        before = httpx.get(f"{b.url}{path}", headers=staff)
        again = httpx.get(f"{b.url}{path}", headers=staff)
        assert again.headers["etag"] == before.headers["etag"]  # from B's cache now
        assert redis_has_tile(path)  # and in the shared one
        old = purposes(before)[permit.pk]

        edited = httpx.patch(
            f"{a.url}/api/permits/{permit.pk}", json={"purpose": f"Edit {n}"}, headers=staff
        )
        assert edited.status_code == 200, edited.text
        committed = time.monotonic()

        def redrawn(old: str = old) -> bool:
            return purposes(httpx.get(f"{b.url}{path}", headers=staff))[permit.pk] != old

        wait_for(redrawn, "B to redraw the edited permit", timeout=PURGE_BOUND_S, step=0.01)
        latencies.append(time.monotonic() - committed)
        assert purposes(httpx.get(f"{b.url}{path}", headers=staff))[permit.pk] == f"Edit {n}"
    # bench/cluster.sh prints this line (pytest -s).
    print(
        f"purge latency across instances (edit on A answered -> new tile on B): "
        f"median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms, n={len(latencies)}"
    )


# --- 2. tokens, sessions and the limits on guessing ---------------------------------------------


def test_a_token_made_by_create_user_works_on_both(a, b, run_command, make_permit):
    run_command("create_user", "--role", "operator", "--username", "night-shift")
    token = Token.objects.get(user__username="night-shift").key
    path = tile_of(make_permit())
    for server in (a, b):
        assert (
            httpx.get(f"{server.url}/api/permits", headers=token_header(token)).status_code == 200
        )
        assert httpx.get(f"{server.url}{path}", headers=token_header(token)).status_code == 200


def browser_login(server: Server, client: httpx.Client, **credentials: str) -> httpx.Response:
    """The pages' login (POST /api/session with the CSRF cookie and header) on ``server``."""
    assert client.get(f"{server.url}/api/session").status_code == 200
    return client.post(
        f"{server.url}/api/session",
        json=credentials,
        headers={"X-CSRFToken": client.cookies["csrftoken"]},
    )


def duty_officer(**fields: bool) -> None:
    """An operator who logs in with a password (hashed as the servers check it fast)."""
    with override_settings(PASSWORD_HASHERS=FAST_HASH):
        user_create_or_update(
            username="duty", role=Role.OPERATOR, password="a long pass phrase", **fields
        )


def test_a_session_opened_on_a_is_accepted_on_b_and_ends_on_both(a, b, make_permit):
    duty_officer(is_staff=True)
    path = tile_of(make_permit())
    with httpx.Client() as browser:
        login = browser_login(a, browser, username="duty", password="a long pass phrase")
        assert login.status_code == 200, login.text
        # Only the cookie A set travels to B: as a browser behind a load balancer sends it.
        cookies = {"sessionid": browser.cookies["sessionid"]}
        on_b = httpx.get(f"{b.url}/api/session", cookies=cookies)
        assert on_b.json()["authenticated"] is True, on_b.text
        assert httpx.get(f"{b.url}/admin/", cookies=cookies).status_code == 200
        assert httpx.get(f"{b.url}{path}", cookies=cookies).status_code == 200  # the tile front
        assert httpx.get(f"{b.url}{path}").status_code == 401  # without it: the public

        logout = browser.delete(
            f"{a.url}/api/session", headers={"X-CSRFToken": browser.cookies["csrftoken"]}
        )
        assert logout.status_code == 200, logout.text

    def ended() -> bool:
        return httpx.get(f"{b.url}{path}", cookies=cookies).status_code == 401

    wait_for(ended, "B to see the session ended", timeout=PURGE_BOUND_S, step=0.02)
    assert httpx.get(f"{b.url}/api/session", cookies=cookies).json()["authenticated"] is False


def test_failed_passwords_on_a_and_b_add_up_to_one_lockout(a, b):
    duty_officer()
    # One short of the limit, on both; the one that reaches it, then even the right password: 429.
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        with httpx.Client() as browser:
            failed = browser_login((a, b)[n % 2], browser, username="duty", password="wrong")
            assert failed.status_code == 401
    with httpx.Client() as browser:
        assert browser_login(b, browser, username="duty", password="wrong").status_code == 429
    with httpx.Client() as browser:
        locked = browser_login(a, browser, username="duty", password="a long pass phrase")
    assert locked.status_code == 429, locked.text


def test_failed_tokens_on_a_and_b_add_up_to_one_limit(a, b, tokens):
    for n in range(settings.AUTH_FAILURE_LIMIT):
        server = (a, b)[n % 2]
        wrong = httpx.get(f"{server.url}/api/permits", headers=token_header(f"wrong{n}"))
        assert wrong.status_code == 401
    refused = httpx.get(f"{b.url}/api/permits", headers=token_header(f"wrong{n + 1}"))
    assert refused.status_code == 429


def test_a_token_revoked_on_one_instance_stops_working_on_the_other_at_once(
    a, b, make_permit, tokens
):
    path = tile_of(make_permit())
    token = tokens["operator"]
    assert httpx.get(f"{b.url}{path}", headers=token_header(token)).status_code == 200

    Token.objects.filter(key=token).delete()  # as the admin does, on any instance

    def refused() -> bool:
        return httpx.get(f"{b.url}{path}", headers=token_header(token)).status_code == 401

    wait_for(refused, "B to forget the revoked token", timeout=PURGE_BOUND_S, step=0.02)


# --- 3. uploads ------------------------------------------------------------------------------


def test_a_photo_uploaded_through_a_downloads_through_b(a, b, cluster, make_permit, tokens):
    permit = make_permit()
    photo = png_bytes(6, 5)
    act = httpx.post(
        f"{a.url}/api/permits/{permit.pk}/restoration",
        data={"restored_on": local_today().isoformat(), "text": "Asphalt relaid"},
        files={"files": ("after.png", photo, "image/png")},
        headers=token_header(tokens["acme"]),
    )
    assert act.status_code in (200, 201), act.text
    document = RestorationDocument.objects.get(act__permit=permit)
    assert (cluster.media / document.file.name).is_file()  # the one MEDIA_ROOT both use

    download = httpx.get(
        f"{b.url}/api/permits/{permit.pk}/restoration/documents/{document.pk}",
        headers=token_header(tokens["operator"]),
    )
    assert download.status_code == 200, download.text
    assert download.content == photo


# --- 4. and 5. the claims on two workers ----------------------------------------------------


def sent_ids(mail: Path) -> list[str]:
    log = mail / "sent.log"
    return sorted(log.read_text().split()) if log.exists() else []


def all_sent() -> bool:
    return Claim.objects.exists() and not Claim.objects.exclude(delivery="sent").exists()


@pytest.mark.usefixtures("clean_jobs")
def test_the_sweep_on_both_workers_at_once_sends_each_claim_once(make_permit, processes):
    permits = [make_permit(overdue_by=2) for _ in range(8)]
    processes.workers("worker-1", "worker-2")
    # The periodic sweep's queueing lock lets one wait at a time; under locks of their own four
    # wait together, and both workers take them.
    for n in range(4):
        claims_sweep.configure(queueing_lock=f"sweep-{n}").defer(timestamp=int(time.time()))
    # And the command of scripts/run.sh, twice at the same moment, racing the workers.
    commands = [processes.command(f"sweep-{n}", "send_overdue_claims") for n in range(2)]
    for command in commands:
        assert command.process.wait(60) == 0, command.tail()
    wait_for(all_sent, "every claim sent", timeout=30)

    claims = list(Claim.objects.all())
    for permit in permits:
        mine = [c for c in claims if c.permit_id == permit.pk]
        assert sorted(c.recipient_kind for c in mine) == ["contractor", "police"]
    assert sent_ids(processes.mail) == sorted(c.message_id for c in claims)  # each once
    assert len(list(processes.mail.glob("*.eml"))) == len(claims) == 2 * len(permits)
    sweeps = procrastinate_jobs("permits.claims_sweep")
    assert [j["status"] for j in sweeps] == ["succeeded"] * 4
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT worker_id) FROM procrastinate_jobs WHERE task_name = %s",
            ["permits.claims_sweep"],
        )
        assert cursor.fetchone() == (2,)  # both workers ran sweeps


@pytest.mark.usefixtures("clean_jobs")
def test_a_worker_killed_mid_send_leaves_its_job_to_the_other(make_permit, processes):
    for _ in range(3):
        make_permit(overdue_by=2)
    workers = processes.workers("worker-1", "worker-2")
    mail = processes.mail
    (mail / "block").touch()  # the next send hangs, in whichever worker takes it
    assert claims_create_overdue(now=day_after(local_today(), 0)).created == 6

    hung_pid = int(
        wait_for(lambda: (mail / "hung").exists() and (mail / "hung").read_text(), "a send to hang")
    )
    (hung,) = [w for w in workers if w.pid == hung_pid]
    (other,) = [w for w in workers if w is not hung]
    hung.stop(signal.SIGKILL)
    hung_ids = (mail / "started").read_text().split()
    (mail / "block").unlink()

    wait_for(all_sent, "the other worker to send every claim", timeout=30)
    assert other.alive and other.pid != hung_pid  # the one that was running all along
    claims = list(Claim.objects.all())
    assert sent_ids(mail) == sorted(c.message_id for c in claims)  # each once, none twice
    assert len(list(mail.glob("*.eml"))) == 6
    assert {c.attempts for c in claims if c.message_id in hung_ids} == {2}
    assert {j["status"] for j in procrastinate_jobs(SEND_CLAIM_TASK)} == {"succeeded"}
