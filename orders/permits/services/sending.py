"""Sending a claim: by e-mail with its PDF, at most once per success, in the claim's language."""

from __future__ import annotations

import logging
from datetime import date
from email.utils import make_msgid
from enum import StrEnum

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext as _

from orders.permits.models import Claim

logger = logging.getLogger(__name__)


class ClaimDeliveryError(Exception):
    """A claim could not be sent; the worker retries the job."""


class SendOutcome(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    BUSY = "busy"
    MISSING = "missing"


def claim_send(*, claim_id: int) -> SendOutcome:
    """Send one claim by e-mail with its PDF, at most once per success.

    1. A short transaction records the attempt (``attempts``, ``last_attempt_at``) and fixes the
       claim's ``Message-ID`` once, so every retry sends the very same message. A claim another
       worker is sending (row locked) is left to it; one already sent is skipped.
    2. A second transaction locks the claim row, checks it again, sends, and marks it sent, so
       two workers can never both send it. A failure is recorded (``delivery=failed``,
       ``last_error``) and re-raised: procrastinate retries the job.

    The one window left is between the mail server accepting the message and this transaction
    committing (a crash there resends it). No protocol closes it with SMTP; the resend carries
    the same Message-ID, which mail systems and the recipient can de-duplicate on. Marking the
    claim sent *before* sending would close it the other way and could lose a claim, which the
    city cannot afford: at-least-once with a stable Message-ID is the deliberate choice.
    """
    now = timezone.now()
    with transaction.atomic():
        claim = Claim.objects.select_for_update(skip_locked=True).filter(pk=claim_id).first()
        if claim is None:
            exists = Claim.objects.filter(pk=claim_id).exists()
            return SendOutcome.BUSY if exists else SendOutcome.MISSING
        if claim.delivery == Claim.Delivery.SENT:
            return SendOutcome.ALREADY_SENT
        claim.attempts += 1
        claim.last_attempt_at = now
        if not claim.message_id:
            claim.message_id = make_msgid(idstring=claim.number, domain=str(DNS_NAME))
        claim.save(update_fields=["attempts", "last_attempt_at", "message_id"])

    error = ""
    with transaction.atomic():
        claim = (
            Claim.objects.select_for_update(of=("self",))
            .select_related("permit__contractor", "recipient")
            .get(pk=claim_id)
        )
        if claim.delivery == Claim.Delivery.SENT:
            return SendOutcome.ALREADY_SENT
        try:
            with transaction.atomic():
                address = claim.recipient.email or claim.email
                if not address:
                    raise ClaimDeliveryError(
                        _(
                            "%(name)s has no e-mail address: add one (admin, Organisations); the "
                            "claim is retried"
                        )
                        % {"name": claim.recipient.name}
                    )
                claim_email(claim, to=address).send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, then retried
            error = f"{type(exc).__name__}: {exc}"[:2000]
            claim.delivery = Claim.Delivery.FAILED
            claim.last_error = error
            claim.save(update_fields=["delivery", "last_error"])
        else:
            claim.delivery = Claim.Delivery.SENT
            claim.email = address
            claim.sent_at = timezone.now()
            claim.last_error = ""
            claim.save(update_fields=["delivery", "email", "sent_at", "last_error"])
    if error:
        logger.warning(
            "claim %s: delivery failed (attempt %d): %s", claim.number, claim.attempts, error
        )
        raise ClaimDeliveryError(error)
    logger.info("claim %s sent to %s", claim.number, address)
    return SendOutcome.SENT


def claims_send(*, claim_ids: list[int]) -> dict[str, int]:
    """Send each claim of a job on its own; raise at the end if any failed, so the job retries.

    A retry sends only what is still unsent: the ones sent before are skipped by ``claim_send``.
    """
    outcomes: dict[str, int] = {}
    failed: list[str] = []
    for claim_id in claim_ids:
        try:
            outcome = str(claim_send(claim_id=claim_id))
        except ClaimDeliveryError as exc:
            outcome = "failed"
            failed.append(f"claim {claim_id}: {exc}")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if failed:
        raise ClaimDeliveryError(f"{len(failed)} of {len(claim_ids)} failed: " + "; ".join(failed))
    return outcomes


def human_date(day: date) -> str:
    """A date as a letter writes it in the active language: 3 March 2026, 3 марта 2026 г."""
    return date_format(day, "DATE_FORMAT")


def claim_document(claim: Claim) -> bytes:
    """The claim's PDF: made once and stored with the claim, then read back on every send."""
    if claim.document:
        try:
            with claim.document.open("rb") as stored:
                return stored.read()
        except FileNotFoundError:
            logger.warning("claim %s: stored PDF missing, making it again", claim.number)
    from orders.permits.claim_pdf import claim_pdf

    pdf = claim_pdf(claim=claim)
    claim.document.save(f"{claim.number}.pdf", ContentFile(pdf), save=False)
    claim.save(update_fields=["document"])
    return pdf


def claim_email(claim: Claim, *, to: str) -> EmailMessage:
    """The e-mail of a claim, its PDF attached, with the claim's fixed Message-ID.

    It speaks the claim's language (``CLAIM_LANGUAGE``), as the PDF does, whoever sends it.
    """
    with translation.override(settings.CLAIM_LANGUAGE):
        return _claim_email(claim, to=to)


def _claim_email(claim: Claim, *, to: str) -> EmailMessage:
    permit = claim.permit
    if claim.recipient_kind == Claim.Recipient.POLICE:
        ask = gettext(
            "The site is still not restored and may endanger traffic and pedestrians. We ask "
            "the traffic police to inspect it and to take the measures the law provides."
        )
    else:
        ask = gettext(
            "Restore the site without delay and send the restoration act (date, text, photos) "
            "through the permit's page, or ask for an extension with its reason."
        )
    values = {
        "claim": claim.number,
        "permit": permit.number,
        "purpose": permit.purpose,
        "where": permit.address or gettext("the site on the attached map"),
        "contractor": permit.contractor.name,
        "deadline": human_date(claim.deadline),
        "short_deadline": date_format(claim.deadline, "SHORT_DATE_FORMAT"),
        "city": settings.DEMO_CITY_NAME,
    }
    overdue = ngettext(
        "It is %(days)s day overdue.", "It is %(days)s days overdue.", claim.days_overdue
    ) % {"days": claim.days_overdue}
    body = "\n\n".join(
        [
            gettext("Claim %(claim)s") % values,
            gettext(
                "Excavation permit %(permit)s (%(purpose)s) at %(where)s, issued to "
                "%(contractor)s, had to be restored by %(deadline)s."
            )
            % values
            + " "
            + overdue,
            ask,
            gettext("The formal claim is attached as a PDF."),
            gettext("%(city)s city operations centre (citygis)") % values + "\n",
        ]
    )
    message = EmailMessage(
        subject=gettext("Claim %(claim)s: permit %(permit)s not restored by %(short_deadline)s")
        % values,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": claim.message_id, "X-Citygis-Claim": claim.number},
    )
    message.attach(f"{claim.number}.pdf", claim_document(claim), "application/pdf")
    return message
