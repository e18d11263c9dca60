"""The overrun sweep: two claims per missed deadline, their send jobs in the same transaction."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import connection, transaction

from orders.permits.models import Claim, Permit
from orders.permits.selectors import local_today
from orders.permits.services.lifecycle import permit_extend
from orders.permits.services.sweep import SEND_CLAIM_TASK, claims_create_overdue
from tests.orders.permits.conftest import SYSTEM, claims_in_jobs, day_after, procrastinate_jobs

pytestmark = pytest.mark.django_db


def test_permit_overdue_gets_two_claims_and_two_send_jobs(make_permit, orgs):
    permit = make_permit(overdue_by=3)

    result = claims_create_overdue(now=day_after(permit.deadline, 3))

    assert (result.created, result.deferred) == (2, 1)  # two claims, one send job
    claims = {c.recipient_kind: c for c in Claim.objects.filter(permit=permit)}
    assert set(claims) == {"contractor", "police"}
    assert claims["contractor"].recipient == orgs["acme"]
    assert claims["police"].recipient == orgs["police"]
    assert claims["contractor"].email == "works@acme.test"
    assert {c.deadline for c in claims.values()} == {permit.deadline}
    assert {c.days_overdue for c in claims.values()} == {3}
    assert all(c.number.startswith("CL-") for c in claims.values())
    assert {c.delivery for c in claims.values()} == {"pending"}
    [job] = procrastinate_jobs(SEND_CLAIM_TASK)
    assert job["status"] == "todo"
    assert job["args"] == {"claim_ids": sorted(c.pk for c in claims.values())}


def test_a_second_sweep_creates_nothing(make_permit):
    permit = make_permit(overdue_by=3)
    claims_create_overdue(now=day_after(permit.deadline, 3))

    again = claims_create_overdue(now=day_after(permit.deadline, 4))

    assert (again.created, again.deferred) == (0, 0)
    assert Claim.objects.count() == 2
    assert len(procrastinate_jobs(SEND_CLAIM_TASK)) == 1


def test_deadline_passes_at_the_end_of_its_day_in_the_city_time_zone(make_permit, settings):
    settings.TIME_ZONE = "Asia/Almaty"  # UTC+5
    permit = make_permit(overdue_by=0)  # deadline today
    deadline = permit.deadline
    # 23:30 on the deadline day in Almaty is 18:30 UTC: still the deadline day there.
    late_evening = day_after(deadline, 0, hour=23).replace(minute=30)
    assert claims_create_overdue(now=late_evening).created == 0
    # Ten minutes after midnight there (19:10 UTC the same UTC day) the day is over.
    assert claims_create_overdue(now=day_after(deadline, 1, hour=0).replace(minute=10)).created == 2


def test_closed_cancelled_and_future_permits_get_no_claims(make_permit):
    from orders.permits.services.lifecycle import permit_cancel

    not_due = make_permit()
    cancelled = make_permit(overdue_by=5)
    permit_cancel(viewer=SYSTEM, permit_id=cancelled.pk, reason="Works moved")
    Permit.objects.filter(pk=make_permit(overdue_by=5).pk).update(status="closed")

    result = claims_create_overdue(now=day_after(local_today(), 0))

    assert result.created == 0
    assert not Claim.objects.filter(permit=not_due).exists()


def test_issued_but_never_started_permit_overdue_is_claimed_too(make_permit):
    permit = make_permit(overdue_by=2, started=False)
    assert claims_create_overdue(now=day_after(permit.deadline, 2)).created == 2


def test_claims_and_their_jobs_roll_back_together(make_permit):
    permit = make_permit(overdue_by=3)

    with pytest.raises(RuntimeError), transaction.atomic():
        assert claims_create_overdue(now=day_after(permit.deadline, 3)).created == 2
        assert claims_in_jobs() == sorted(Claim.objects.values_list("pk", flat=True))
        raise RuntimeError("crash after the sweep, before commit")

    assert Claim.objects.count() == 0
    assert procrastinate_jobs(SEND_CLAIM_TASK) == []


def test_extension_sets_a_new_deadline_and_its_overrun_a_new_pair(make_permit):
    permit = make_permit(overdue_by=3)
    claims_create_overdue(now=day_after(permit.deadline, 3))
    old_deadline = permit.deadline

    permit_extend(
        viewer=SYSTEM,
        permit_id=permit.pk,
        new_deadline=local_today() + timedelta(days=5),
        reason="Pipe delivery delayed",
    )
    permit.refresh_from_db()

    assert claims_create_overdue(now=day_after(permit.deadline, 0)).created == 0
    later = claims_create_overdue(now=day_after(permit.deadline, 2))
    assert (later.created, later.deferred) == (2, 1)
    by_deadline = sorted(
        Claim.objects.filter(permit=permit).values_list("deadline", "recipient_kind")
    )
    assert by_deadline == [
        (old_deadline, "contractor"),
        (old_deadline, "police"),
        (permit.deadline, "contractor"),
        (permit.deadline, "police"),
    ]
    assert permit.extensions.get().old_deadline == old_deadline


def test_without_a_police_organisation_the_contractor_claim_is_made_and_the_error_logged(
    make_permit, orgs, caplog
):
    permit = make_permit(overdue_by=1)
    orgs["police"].kind = "service"
    orgs["police"].save()

    with caplog.at_level(logging.ERROR, logger="orders.permits.services.sweep"):
        result = claims_create_overdue(now=day_after(permit.deadline, 1))

    assert result.created == 1
    assert "No organisation of kind police" in result.police_error
    assert "no police claims" in caplog.text
    assert list(Claim.objects.values_list("recipient_kind", flat=True)) == ["contractor"]
    # Once the city configures its police, the next sweep makes the missing claim only.
    orgs["police"].kind = "police"
    orgs["police"].save()
    assert claims_create_overdue(now=day_after(permit.deadline, 2)).created == 1
    assert Claim.objects.filter(recipient_kind="police", days_overdue=2).count() == 1


def test_several_police_organisations_need_the_setting(make_permit, orgs, settings):
    from layers.models import Organisation

    Organisation.objects.create(name="Harbour police", kind="police")
    permit = make_permit(overdue_by=1)

    ambiguous = claims_create_overdue(now=day_after(permit.deadline, 1))
    assert "POLICE_ORGANISATION" in ambiguous.police_error
    assert ambiguous.created == 1

    settings.POLICE_ORGANISATION = "Harbour police"
    claims_create_overdue(now=day_after(permit.deadline, 1))
    assert Claim.objects.get(recipient_kind="police").recipient.name == "Harbour police"

    settings.POLICE_ORGANISATION = "No such police"
    assert (
        "no police organisation has that name"
        in claims_create_overdue(now=day_after(permit.deadline, 1)).police_error
    )


def test_dry_run_counts_and_changes_nothing(make_permit, run_command):
    make_permit(overdue_by=2)
    make_permit(overdue_by=1)

    dry = run_command("send_overdue_claims", "--dry-run")
    assert "would create 4 claim(s)" in dry.stdout
    assert Claim.objects.count() == 0

    real = run_command("send_overdue_claims")
    assert real.stdout.startswith("send_overdue_claims: created 4 claim(s), deferred 1 send job(s)")
    assert Claim.objects.count() == 4
    assert "created 0 claim(s)" in run_command("send_overdue_claims").stdout


def test_sweep_is_one_statement_not_a_loop_per_permit(make_permit, django_assert_max_num_queries):
    for _ in range(5):
        make_permit(overdue_by=2)
    # the police look-up, then the sweep between a savepoint and its release
    with django_assert_max_num_queries(4):
        assert claims_create_overdue(now=day_after(local_today(), 0)).created == 10


def test_claims_are_sent_in_batches_of_fifty_per_job(make_permit):
    for _ in range(30):
        make_permit(overdue_by=1)
    result = claims_create_overdue(now=day_after(local_today(), 0))
    assert (result.created, result.deferred) == (60, 2)
    sizes = sorted(len(j["args"]["claim_ids"]) for j in procrastinate_jobs(SEND_CLAIM_TASK))
    assert sizes == [10, 50]
    assert claims_in_jobs() == sorted(Claim.objects.values_list("pk", flat=True))


def test_claim_numbers_are_unique_and_sequential(make_permit):
    for _ in range(3):
        make_permit(overdue_by=1)
    claims_create_overdue(now=day_after(local_today(), 0))
    numbers = list(Claim.objects.order_by("pk").values_list("number", flat=True))
    assert len(set(numbers)) == 6
    assert numbers == sorted(numbers)


def test_jobs_are_deferred_in_the_callers_transaction(make_permit):
    """Procrastinate's Django connector writes jobs on Django's connection, in its transaction."""
    permit = make_permit(overdue_by=1)
    with transaction.atomic():
        claims_create_overdue(now=day_after(permit.deadline, 1))
        with connection.cursor() as cursor:
            cursor.execute("SELECT txid_current_if_assigned() IS NOT NULL")
            assert cursor.fetchone()[0]
        assert len(claims_in_jobs()) == 2
