"""Planned network repairs: saving one (its line copied from the segment) and listing them."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Q, QuerySet

from gis.models import User
from layers.models import NetworkSegment, Organisation
from orders.planning.models import NetworkRepair


@transaction.atomic
def network_repair_save(*, repair: NetworkRepair, by: User | None = None) -> NetworkRepair:
    """Validate and save a repair, its ``geom`` copied from its segment's line.

    The copy keeps the repair where it was planned and lets the ``works`` view and the tiles
    draw it without a join; a changed segment is picked up the next time the repair is saved.
    """
    repair.geom = NetworkSegment.objects.only("geom").get(pk=repair.segment_id).geom
    if repair.pk is None and by is not None:
        repair.created_by = by
    repair.full_clean()
    repair.save()
    return repair


def network_repair_create(
    *,
    segment: NetworkSegment,
    organisation: Organisation,
    planned_start: date,
    planned_end: date,
    status: str = NetworkRepair.Status.PLANNED,
    note: str = "",
    by: User | None = None,
) -> NetworkRepair:
    repair = NetworkRepair(
        segment=segment,
        organisation=organisation,
        planned_start=planned_start,
        planned_end=planned_end,
        status=status,
        note=note,
    )
    return network_repair_save(repair=repair, by=by)


def network_repairs_list(
    *,
    covering: date | None = None,
    status: str | None = None,
    segment_id: int | None = None,
) -> QuerySet[NetworkRepair]:
    """Repairs, optionally those whose planned period covers a day, of a status or a segment."""
    qs = NetworkRepair.objects.select_related("segment", "organisation")
    if covering is not None:
        qs = qs.filter(Q(planned_start__lte=covering) & Q(planned_end__gte=covering))
    if status is not None:
        qs = qs.filter(status=status)
    if segment_id is not None:
        qs = qs.filter(segment_id=segment_id)
    return qs.order_by("planned_start", "id")
