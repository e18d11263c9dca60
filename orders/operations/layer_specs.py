"""The layers of operations, computed from the other layers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from psycopg import sql

from layers.registry import STAFF, LayerSpec
from orders.operations.models import RepeatedProblem, Work

SPECS = (
    LayerSpec(
        name="repeated_problems",
        title=_("Repeated problems"),
        model=RepeatedProblem,
        label=sql.SQL(
            "coalesce(nullif({t}.label, ''), {t}.kind) || ': ' || {t}.appeals || ' appeals'"
        ),
        geometry_type="Point",
        properties=(
            "kind",
            "label",
            "layer",
            "object_id",
            "appeals",
            "open_share",
            "categories",
            "first_date",
            "last_date",
        ),
        roles=STAFF,
        computed=True,
        minzoom=10,
        search_fields=("label", "categories"),
        list_filter=("kind",),
        datetime_field="last_date",
        description=_(
            "Objects and places with at least 3 appeals in 36 months (refreshed "
            "hourly by the worker; GET /api/problems/repeated for other periods)."
        ),
    ),
    LayerSpec(
        name="works",
        title=_("Works (permits, yard plan, network repairs, improvement)"),
        model=Work,
        label=sql.SQL("{t}.kind || ': ' || {t}.title"),
        geometry_type="Geometry",
        properties=(
            "kind",
            "title",
            "status",
            "starts_on",
            "ends_on",
            "ongoing",
            "planned_month",
            "organisation",
        ),
        # Its rows come from layers with different audiences (the yard plan is public,
        # permits are each contractor's own, repairs staff-only) and a layer has one: staff.
        # Others get the works they may see from GET /api/works, layer by layer.
        roles=STAFF,
        fed_by=("permits", "yard_plan", "network_repairs", "improvement_works"),
        computed=True,
        minzoom=11,
        search_fields=("title",),
        list_filter=("kind", "status"),
        description=_(
            "Everything on the ground, each with its period as ISO dates: the map "
            "filters it by date."
        ),
    ),
)
