"""Sending a claim: the e-mail with its PDF, once; failures recorded and retried; the API."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from orders.appeals.models import Appeal, Category
from orders.permits.claim_pdf import claim_pdf
from orders.permits.models import Claim
from orders.permits.selectors import local_today
from orders.permits.services.sending import ClaimDeliveryError, SendOutcome, claim_email, claim_send
from orders.permits.services.sweep import (
    claims_create_overdue,
    claims_redeliver,
    claims_redeliver_now,
)
from tests.factories import building, point
from tests.orders.permits.conftest import claims_in_jobs, day_after

pytestmark = pytest.mark.django_db


@pytest.fixture
def claims(make_permit) -> dict[str, Claim]:
    permit = make_permit(overdue_by=4, address="2900 Eastern Avenue")
    # The sweep ran at the start of today: never later than the test's own clock.
    claims_create_overdue(now=day_after(permit.deadline, 4, hour=0))
    return {c.recipient_kind: c for c in Claim.objects.filter(permit=permit)}


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def test_claim_is_emailed_with_its_pdf_and_marked_sent(claims):
    claim = claims["contractor"]

    assert claim_send(claim_id=claim.pk) == SendOutcome.SENT

    [message] = mail.outbox
    claim.refresh_from_db()
    assert message.to == ["works@acme.test"]
    assert claim.number in message.subject
    assert message.extra_headers["Message-ID"] == claim.message_id
    assert message.message()["Message-ID"] == claim.message_id
    [(name, content, mimetype)] = message.attachments
    assert (name, mimetype) == (f"{claim.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF-")
    assert (claim.delivery, claim.attempts, claim.last_error) == ("sent", 1, "")
    assert claim.sent_at is not None and claim.document.name.endswith(".pdf")


def test_a_claim_already_sent_is_not_sent_again(claims):
    claim = claims["police"]
    claim_send(claim_id=claim.pk)

    assert claim_send(claim_id=claim.pk) == SendOutcome.ALREADY_SENT
    assert len(mail.outbox) == 1
    claim.refresh_from_db()
    assert claim.attempts == 1


def test_failed_delivery_is_recorded_and_raised_for_a_retry(claims, orgs):
    claim = claims["contractor"]
    orgs["acme"].email = ""
    orgs["acme"].save()
    Claim.objects.filter(pk=claim.pk).update(email="")

    with pytest.raises(ClaimDeliveryError, match="has no e-mail address"):
        claim_send(claim_id=claim.pk)

    claim.refresh_from_db()
    assert (claim.delivery, claim.attempts) == ("failed", 1)
    assert "Acme Digging has no e-mail address" in claim.last_error
    message_id = claim.message_id
    # The address is fixed in the admin; the retry sends the very same message.
    orgs["acme"].email = "new@acme.test"
    orgs["acme"].save()
    assert claim_send(claim_id=claim.pk) == SendOutcome.SENT
    claim.refresh_from_db()
    assert (claim.delivery, claim.attempts, claim.last_error) == ("sent", 2, "")
    assert claim.message_id == message_id
    assert mail.outbox[0].to == ["new@acme.test"]


def test_smtp_failure_is_recorded(claims, settings):
    settings.EMAIL_BACKEND = "tests.orders.permits.mail_backends.FailingBackend"
    with pytest.raises(ClaimDeliveryError, match="SMTP says no"):
        claim_send(claim_id=claims["police"].pk)
    claim = Claim.objects.get(pk=claims["police"].pk)
    assert claim.delivery == "failed" and "SMTP says no" in claim.last_error


def test_unsent_claim_without_a_live_job_is_deferred_again(claims):
    from django.db import connection

    claim = claims["contractor"]
    with connection.cursor() as cursor:  # the jobs gave up (retries exhausted)
        cursor.execute("UPDATE procrastinate_jobs SET status = 'failed'")
    later = timezone.now() + timedelta(hours=1)

    assert claims_redeliver(now=later) == 2
    assert claims_redeliver(now=later) == 0  # a waiting job has them: not deferred twice
    assert claims_in_jobs("todo") == sorted(c.pk for c in claims.values())
    claim_send(claim_id=claim.pk)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'failed'")
    assert claims_redeliver(now=later + timedelta(hours=1)) == 1  # the sent one is done
    assert claims_redeliver_now(claim_ids=[claim.pk], now=later) == 0


def test_a_batch_sends_what_it_can_and_raises_for_the_rest(claims, orgs):
    from orders.permits.services.sending import claims_send

    orgs["police"].email = ""
    orgs["police"].save()
    Claim.objects.filter(pk=claims["police"].pk).update(email="")
    ids = sorted(c.pk for c in claims.values())

    with pytest.raises(ClaimDeliveryError, match="1 of 2 failed"):
        claims_send(claim_ids=ids)
    assert len(mail.outbox) == 1
    orgs["police"].email = "desk@police.test"
    orgs["police"].save()
    assert claims_send(claim_ids=ids) == {"already_sent": 1, "sent": 1}  # the retry
    assert len(mail.outbox) == 2


def test_claim_pdf_names_permit_address_contractor_deadline_and_days_overdue(claims):
    claim = claims["police"]
    text = pdf_text(claim_pdf(claim=claim))
    permit = claim.permit
    for expected in (
        claim.number,
        permit.number,
        "2900 Eastern Avenue",
        "Acme Digging",
        "Traffic police",
        permit.deadline.isoformat(),
        "Days overdue",
        "4 days overdue",
        "FORMAL CLAIM",
        "Site plan",
    ):
        assert expected in text, expected
    assert "Ivan Petrov" in text  # the responsible person: the police need a name


def test_claim_pdf_lists_the_appeals_about_the_site(claims):
    claim = claims["contractor"]
    category = Category.objects.create(code="pothole", name="Dug-up yard not restored")
    centre = claim.permit.geom.point_on_surface
    Appeal.objects.create(
        number="A-77",
        channel="web",
        category=category,
        address="2900 Eastern Avenue",
        geom=point(centre.x, centre.y),
        received_at=timezone.now(),
        resident_name="Mary Resident",
    )
    Appeal.objects.create(
        number="A-78",
        channel="phone",
        category=category,
        linked_layer="permits",
        linked_id=claim.permit.pk,
        received_at=timezone.now(),
    )
    Appeal.objects.create(  # far away, not linked: not about this site
        number="A-79",
        channel="web",
        category=category,
        geom=point(-76.50, 39.30),
        received_at=timezone.now(),
    )

    text = pdf_text(claim_pdf(claim=claim))

    assert "A-77" in text and "A-78" in text and "A-79" not in text
    assert "Dug-up yard not restored" in text
    assert "Mary Resident" not in text  # no resident's personal data in a claim


def test_claim_pdf_draws_the_city_around_the_site(claims):
    centre = claims["police"].permit.geom.centroid
    building(geom=point(centre.x + 0.0002, centre.y), street="Eastern Avenue", housenumber="2901")
    pdf = claim_pdf(claim=claims["police"])
    assert len(PdfReader(BytesIO(pdf)).pages) == 1


def test_claim_pdf_handles_cyrillic_addresses(make_permit):
    permit = make_permit(overdue_by=1, address="ул. Ленина, 12к2", purpose="Ремонт водопровода")
    claims_create_overdue(now=day_after(permit.deadline, 1))
    text = pdf_text(claim_pdf(claim=Claim.objects.filter(permit=permit).first()))
    assert "Ленина, 12к2" in text


# --- the API -------------------------------------------------------------------------------------


def test_claims_api_lists_delivery_state_for_staff(client, auth, claims):
    claim_send(claim_id=claims["contractor"].pk)

    body = client.get("/api/claims", **auth("operator")).json()

    assert body["count"] == 2
    state = {c["recipient_kind"]: c for c in body["results"]}
    assert state["contractor"]["delivery"] == "sent"
    assert state["police"]["delivery"] == "pending"
    assert state["contractor"]["document_url"] == f"/api/claims/{claims['contractor'].pk}/document"
    assert client.get("/api/claims?delivery=pending", **auth("planner")).json()["count"] == 1


def test_contractor_sees_only_the_claims_addressed_to_it(client, auth, claims):
    own = client.get("/api/claims", **auth("acme")).json()
    assert [c["id"] for c in own["results"]] == [claims["contractor"].pk]
    assert client.get("/api/claims", **auth("other")).json()["count"] == 0
    assert client.get(f"/api/claims/{claims['police'].pk}", **auth("acme")).status_code == 404
    assert client.get("/api/claims").status_code == 401


def test_claim_document_downloads_as_pdf(client, auth, claims):
    claim = claims["contractor"]
    assert client.get(f"/api/claims/{claim.pk}/document", **auth("operator")).status_code == 404
    claim_send(claim_id=claim.pk)

    response = client.get(f"/api/claims/{claim.pk}/document", **auth("acme"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_failed_delivery_is_visible_in_the_api(client, auth, claims, orgs):
    orgs["police"].email = ""
    orgs["police"].save()
    Claim.objects.filter(pk=claims["police"].pk).update(email="")
    with pytest.raises(ClaimDeliveryError):
        claim_send(claim_id=claims["police"].pk)

    body = client.get(f"/api/claims/{claims['police'].pk}", **auth("operator")).json()

    assert body["delivery"] == "failed"
    assert body["attempts"] == 1
    assert "no e-mail address" in body["last_error"]


def test_today_helper_is_the_city_day(settings):
    assert local_today() == timezone.localdate(
        timezone=__import__("zoneinfo").ZoneInfo(settings.TIME_ZONE)
    )


def test_a_russian_citys_claim_is_a_russian_letter_with_russian_dates(claims, settings):
    """CLAIM_LANGUAGE=ru (any Russian or Kazakh city): the legal wording, ДД.ММ.ГГГГ, plurals."""
    settings.CLAIM_LANGUAGE = "ru"
    claim = claims["police"]
    text = " ".join(pdf_text(claim_pdf(claim=claim)).split())
    deadline = claim.deadline.strftime("%d.%m.%Y")
    for expected in (
        f"ПРЕТЕНЗИЯ № {claim.number}",
        "Ордер на производство земляных работ",
        "просрочено на 4 дня",
        "Срок восстановления",
        deadline,
        "Схема участка",
        "© OpenStreetMap contributors",
    ):
        assert expected in text, expected
    assert "FORMAL CLAIM" not in text and claim.deadline.isoformat() not in text
    # A Kazakh copy on request, in the same letter's form.
    kazakh = pdf_text(claim_pdf(claim=claim, language="kk"))
    assert f"№ {claim.number} ТАЛАП-АРЫЗ" in kazakh and deadline in kazakh


def test_a_russian_citys_claim_email_speaks_russian(claims, settings):
    settings.CLAIM_LANGUAGE = "ru"
    claim = claims["contractor"]
    message = claim_email(claim, to="works@acme.test")
    assert message.subject.startswith(f"Претензия {claim.number}: по ордеру")
    assert claim.deadline.strftime("%d.%m.%Y") in message.subject
    assert "Просрочка — 4 дня." in message.body
    assert "Официальная претензия приложена в формате PDF." in message.body
