"""/metrics shows the overrun permits and the claims not sent yet (orders.permits.metrics)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.permits.models import Claim
from orders.permits.services.sweep import claims_create_overdue
from tests.scrape import scrape, value

pytestmark = pytest.mark.django_db


def test_an_overrun_permit_and_its_unsent_claims_show(make_permit) -> None:
    make_permit(overdue_by=0)  # due today: not overrun before the day is over
    make_permit()  # due in ten days
    samples = scrape()
    assert value(samples, "citygis_permits_overrun") == 0
    assert value(samples, "citygis_claims_unsent", delivery="pending") == 0
    assert ("citygis_claims_unsent", frozenset({("delivery", "pending")})) in samples

    make_permit(overdue_by=3)
    assert value(scrape(), "citygis_permits_overrun") == 1

    claims_create_overdue(now=timezone.now())  # the contractor's and the police's
    Claim.objects.update(created_at=timezone.now() - timedelta(hours=2))
    samples = scrape()
    assert value(samples, "citygis_claims_unsent", delivery="pending") == 2
    assert value(samples, "citygis_claims_unsent", delivery="failed") == 0
    oldest = value(samples, "citygis_claims_unsent_oldest_seconds", delivery="pending")
    assert 2 * 3600 <= oldest < 2 * 3600 + 60

    Claim.objects.update(delivery=Claim.Delivery.SENT, sent_at=timezone.now())
    samples = scrape()
    assert value(samples, "citygis_claims_unsent", delivery="pending") == 0
    assert value(samples, "citygis_claims_unsent_oldest_seconds", delivery="pending") == 0
    assert value(samples, "citygis_permits_overrun") == 1  # claimed, still not restored
