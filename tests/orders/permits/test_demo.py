"""The demo city's permits: made through the services, idempotent, one overdue with its claims."""

from __future__ import annotations

import pytest

from importers.demo import DEMO_ORGANISATIONS
from importers.derive import layers_derive
from importers.services import osm_import
from layers.models import Organisation
from orders.permits.demo import demo_permits_create
from orders.permits.models import Claim, Permit, PermitHistory
from orders.permits.selectors import local_today
from orders.permits.services.sweep import claims_create_overdue
from tests.orders.permits.conftest import day_after


@pytest.mark.e2e
@pytest.mark.django_db
def test_demo_city_has_permits_one_overdue_and_a_sweep_claims_it(osm_file):
    # What load_demo does before the permits (other apps' demo seeds left out).
    for name, kind, email in DEMO_ORGANISATIONS:
        Organisation.objects.create(name=name, kind=kind, email=email)
    osm_import(path=osm_file)
    layers_derive()

    assert len(demo_permits_create()) == 3

    permits = {p.number: p for p in Permit.objects.select_related("contractor")}
    assert set(permits) == {"DEMO-EP-1", "DEMO-EP-2", "DEMO-EP-3"}
    late = permits["DEMO-EP-1"]
    assert late.contractor.name == "Harbor Utility Works (demo contractor)"
    assert late.deadline < local_today() and late.status == "in_progress"
    assert late.linked_objects["yards"], "dug on a real yard of the demo city"
    assert permits["DEMO-EP-2"].linked_objects["streets"], "dug on a real street"
    assert PermitHistory.objects.filter(permit=late).count() == 2  # issued, started

    assert demo_permits_create() == []  # again: nothing new
    assert Permit.objects.count() == 3

    result = claims_create_overdue(now=day_after(local_today(), 0))
    assert result.created == 2 and not result.police_error
    recipients = set(Claim.objects.values_list("recipient__name", flat=True))
    assert recipients == {
        "Harbor Utility Works (demo contractor)",
        "Police traffic department (demo)",
    }
