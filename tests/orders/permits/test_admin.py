"""The admin: permits with their history and claims, claims with their delivery state."""

from __future__ import annotations

import pytest

from gis.models import User
from orders.permits.models import Claim
from orders.permits.services.sweep import claims_create_overdue
from tests.orders.permits.conftest import day_after, procrastinate_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = User.objects.create_superuser("root", "root@example.test", "pw")
    client.force_login(user)
    return client


def test_admin_shows_permits_and_claims_and_sends_again(admin_client, make_permit):
    permit = make_permit(overdue_by=2)
    claims_create_overdue(now=day_after(permit.deadline, 2, hour=0))  # not later than now
    claim = Claim.objects.filter(permit=permit).first()
    Claim.objects.filter(pk=claim.pk).update(delivery="failed", last_error="SMTP said no")

    assert admin_client.get("/admin/permits/permit/").status_code == 200
    page = admin_client.get(f"/admin/permits/permit/{permit.pk}/change/")
    assert page.status_code == 200 and claim.number.encode() in page.content
    listing = admin_client.get("/admin/permits/claim/?delivery__exact=failed")
    assert listing.status_code == 200 and b"SMTP said no" in listing.content
    assert admin_client.get(f"/admin/permits/claim/{claim.pk}/change/").status_code == 200

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'failed'")
    response = admin_client.post(
        "/admin/permits/claim/",
        {"action": "retry_delivery", "_selected_action": [claim.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"1 claim(s) queued to send again" in response.content
    todo = [j for j in procrastinate_jobs() if j["status"] == "todo"]
    assert [j["args"]["claim_ids"] for j in todo] == [[claim.pk]]
