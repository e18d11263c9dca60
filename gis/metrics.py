"""``/metrics``: Prometheus's text format, for all the server's worker processes at once.

Two kinds of figures. Counted as requests happen, with prometheus_client's counters and
histograms: Django's views by django-prometheus' middleware (``django_http_*``), the ASGI front's
tiles and lookups and the tile cache by tiles.metrics (``citygis_front_*``, ``citygis_tiles_*``).
Read from the database at each scrape, by the collectors registered here: the job queue and the
workers (below), and what an app registers from its ``AppConfig.ready()`` (orders.permits: the
overrun permits and the claims not sent yet), as the base packages never import the apps.

gunicorn runs several worker processes, and a scrape reaches one of them. With
``PROMETHEUS_MULTIPROC_DIR`` set (scripts/run.sh and the production units set it for the web
server) every process writes its counts to files there, and the one scraped adds them all up
(prometheus_client's multiprocess mode; the directory is emptied before the server starts).
Without it (tests, manage.py) the process's own counts are read.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, HttpResponse
from procrastinate.contrib.django import app as jobs_app
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from gis.exceptions import ApplicationError, Forbidden, Unauthorized
from gis.health import WORKER_SILENT_S, jobs_queued, workers_alive
from gis.throttling import request_ip, secret_checked

log = logging.getLogger(__name__)

ScrapeCollector = Callable[[], Iterable[Metric]]
"""Figures read at scrape time: metric families, each with its values."""
SCRAPE_COLLECTORS: dict[str, ScrapeCollector] = {}


def collector_register(name: str, collect: ScrapeCollector) -> None:
    """Figures an app reads at each scrape (from its ``AppConfig.ready()``)."""
    SCRAPE_COLLECTORS[name] = collect


def jobs_metrics() -> Iterator[Metric]:
    """The job queue by queue and status, and the workers alive (as ``/healthz`` counts them)."""
    queued = jobs_queued()
    # Every queue a task names, so that an empty queue reads 0 rather than no series at all.
    queues = {task.queue for task in jobs_app.tasks.values()} | {q for q, _ in queued}
    jobs = GaugeMetricFamily(
        "citygis_jobs",
        "Jobs waiting (todo) and running (doing), by queue.",
        labels=["queue", "status"],
    )
    for queue in sorted(queues):
        for status in ("todo", "doing"):
            jobs.add_metric([queue, status], queued.get((queue, status), 0))
    yield jobs
    yield GaugeMetricFamily(
        "citygis_workers_alive",
        f"Job workers that sent a heartbeat in the last {WORKER_SILENT_S} s.",
        value=workers_alive(),
    )


collector_register("jobs", jobs_metrics)


class AtScrape(Collector):
    """The registered collectors; one that cannot reach the database reads as down, not a 500."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "citygis_scrape_collector_up",
            "1 when the figures read from the database at this scrape could be read.",
            labels=["collector"],
        )
        for name, collect in SCRAPE_COLLECTORS.items():
            try:
                families = list(collect())
            except DatabaseError as exc:
                log.warning("metrics: the %s collector failed: %s", name, exc)
                up.add_metric([name], 0)
                continue
            yield from families
            up.add_metric([name], 1)
        yield up


class ThisProcess(Collector):
    """What this process counted (the default registry), when there is no multiprocess dir."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition() -> bytes:
    """The text a scrape reads."""
    registry = CollectorRegistry()
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(ThisProcess())
    registry.register(AtScrape())
    return generate_latest(registry)


BEARER = "bearer "


class BearerRequired(Unauthorized):
    headers = {"WWW-Authenticate": 'Bearer realm="metrics"'}


def metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    """The 401, 403 or 429 of a scrape that may not read the metrics; None for one that may."""
    try:
        metrics_access_check(request)
    except ApplicationError as exc:
        return exc.response()
    return None


def metrics_access_check(request: HttpRequest) -> None:
    """A scrape is let in by its address or its token; 401 or 403 otherwise.

    The address is the client's as ``NUM_PROXIES`` finds it. A request forwarded by a proxy
    the settings do not know of (X-Forwarded-For with ``NUM_PROXIES=0``) is let in by its token
    alone: its peer is the proxy, often on loopback, whoever sent it.
    """
    authorization = request.headers.get("Authorization", "")
    if authorization:
        with secret_checked(request_ip(request)):
            if authorization[: len(BEARER)].lower() != BEARER or not settings.METRICS_TOKEN:
                raise BearerRequired("Use 'Authorization: Bearer <METRICS_TOKEN>'.")
            if not hmac.compare_digest(
                authorization[len(BEARER) :].strip().encode(), settings.METRICS_TOKEN.encode()
            ):
                raise BearerRequired("Invalid token.")
        return
    forwarded_unknown = "HTTP_X_FORWARDED_FOR" in request.META and not settings.NUM_PROXIES
    if not forwarded_unknown and _address_allowed(request_ip(request)):
        return
    if settings.METRICS_TOKEN:
        raise BearerRequired("Use 'Authorization: Bearer <METRICS_TOKEN>'.")
    raise Forbidden("The metrics are not served to this address (METRICS_ALLOWED_IPS).")


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.METRICS_ALLOWED_NETWORKS)
