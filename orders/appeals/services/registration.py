"""Registering an appeal: numbered, located, linked, routed and timed; the categories it needs.

Every service runs in one transaction and writes a history row (``history``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gis.exceptions import ApplicationError
from gis.models import User
from layers.models import Organisation
from orders.appeals.categories import ADMINISTRATION, CATEGORIES, DEMO_NOTE, POLICE
from orders.appeals.models import NUMBER_SEQUENCE, Appeal, Category
from orders.appeals.selectors import HISTORY_WRITTEN, address_locate
from orders.appeals.services.history import _history
from orders.appeals.services.linking import _link_json, appeal_link_auto, appeal_point_check

S = Appeal.Status
# How far ahead of the server's clock a client's received_at may be (clock skew), no more.
CLOCK_SKEW = timedelta(minutes=5)


def appeal_numbers_next(*, years: list[int]) -> list[str]:
    """Fresh appeal numbers, ``A-<year>-<000123>``, one per year given, from the DB sequence.

    The one raw statement outside tiles: the ORM has no expression for ``nextval``.
    """
    if not years:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(%s) FROM generate_series(1, %s)", [NUMBER_SEQUENCE, len(years)]
        )
        values = [row[0] for row in cursor.fetchall()]
    return [f"A-{year}-{value:06d}" for year, value in zip(years, values, strict=True)]


@transaction.atomic
def categories_load() -> int:
    """Create the starting categories (``orders.appeals.categories``) and their organisations.

    Existing categories are left as they are (an administrator may have tuned a norm or a
    radius); returns how many were created.
    """
    kinds = {POLICE: Organisation.Kind.POLICE, ADMINISTRATION: Organisation.Kind.ADMINISTRATION}
    created = 0
    for seed in CATEGORIES:
        slug = seed.organisation.split(" (")[0].lower().replace(" ", "-")
        organisation, _ = Organisation.objects.get_or_create(
            name=seed.organisation,
            defaults={
                "kind": kinds.get(seed.organisation, Organisation.Kind.SERVICE),
                "email": f"{slug}@demo.invalid",
                "note": DEMO_NOTE,
            },
        )
        _, made = Category.objects.get_or_create(
            code=seed.code,
            defaults={
                "name": seed.name,
                "group": seed.group,
                "organisation": organisation,
                "layer": seed.layer,
                "link_radius_m": seed.link_radius_m,
                "sla_hours": seed.sla_hours,
                "priority": seed.priority,
                "network_break": seed.network_break,
            },
        )
        created += made
    return created


@transaction.atomic
def appeal_register(
    *,
    category: Category,
    channel: str,
    text: str = "",
    address: str = "",
    point: Point | None = None,
    resident_name: str = "",
    resident_phone: str = "",
    resident_email: str = "",
    received_at: datetime | None = None,
    by: User | None = None,
    by_label: str = "",
    source: str = "manual",
    source_id: str = "",
    history_data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Appeal:
    """Register an appeal: locate it (the point, else the address), link it, route it, time it.

    The responsible organisation and the priority come from the category, the SLA due from
    its norm counted from ``received_at`` (default: now).
    """
    now = now or timezone.now()
    received_at = received_at or now
    if received_at > now + CLOCK_SKEW:
        raise ApplicationError(
            _("received_at is in the future."),
            extra={"fields": {"received_at": ["In the future."]}},
        )
    address = address.strip()
    if not address and point is None:
        raise ApplicationError(
            _("Give an address or a point (or both)."),
            extra={"fields": {"address": ["An address or a point is required."]}},
        )
    appeal_point_check(point)
    appeal = Appeal(
        channel=channel,
        category=category,
        text=text,
        address=address,
        geom=point,
        located_by="point" if point is not None else "",
        organisation=category.organisation,
        priority=category.priority,
        status=S.NEW,
        sla_due=received_at + timedelta(hours=category.sla_hours),
        resident_name=resident_name,
        resident_phone=resident_phone,
        resident_email=resident_email,
        received_at=received_at,
        source=source,
        source_id=source_id,
    )
    if point is None:
        appeal.geom = address_locate(address=address)
        appeal.located_by = "geocoded" if appeal.geom is not None else ""
    appeal_link_auto(appeal)
    # The unique and check constraints are the database's; checking them here too would cost
    # two queries per appeal. The foreign keys are objects in hand.
    appeal.full_clean(
        exclude=["number", "category", "organisation", "duplicate_of"], validate_constraints=False
    )
    (appeal.number,) = appeal_numbers_next(years=[timezone.localtime(received_at).year])
    appeal.save()
    # A new appeal's history is what this object writes: the answer needs no query for it.
    setattr(appeal, HISTORY_WRITTEN, [])
    _history(
        appeal,
        action="registered",
        at=now,
        by=by,
        by_label=by_label,
        to_status=S.NEW,
        data={
            "channel": channel,
            "located_by": appeal.located_by,
            "linked": _link_json(appeal),
            **(history_data or {}),
        },
    )
    return appeal
