"""The permits' figures for ``/metrics``, read at each scrape (registered by PermitsConfig.ready).

An overrun permit owes claims; a claim not sent for long means the worker or the mail is stuck:
both are worth an alert (the rules to start from are in docs/admin/deployment.md#metrics).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from orders.permits.selectors import claims_unsent, local_today, permits_overrun_count


def permits_metrics() -> Iterator[Metric]:
    now = timezone.now()
    yield GaugeMetricFamily(
        "citygis_permits_overrun",
        "Open permits (issued, in progress) whose deadline's day is over.",
        value=permits_overrun_count(today=local_today(now)),
    )
    unsent = claims_unsent(now=now)
    count = GaugeMetricFamily(
        "citygis_claims_unsent",
        "Claims not sent yet, by delivery state (pending; failed: being retried).",
        labels=["delivery"],
    )
    oldest = GaugeMetricFamily(
        "citygis_claims_unsent_oldest_seconds",
        "Age of the oldest claim not sent yet, by delivery state; 0 when there is none.",
        labels=["delivery"],
    )
    for state, (n, age) in unsent.items():
        count.add_metric([state], n)
        oldest.add_metric([state], age)
    yield count
    yield oldest
