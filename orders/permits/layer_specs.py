"""The layers of excavation permits: staff see all, a contractor its own."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from psycopg import sql

from layers.registry import STAFF_AND_CONTRACTORS, LayerSpec
from orders.permits.models import Permit

SPECS = (
    LayerSpec(
        name="permits",
        title=_("Excavation permits"),
        model=Permit,
        label=sql.SQL("{t}.number || ': ' || {t}.purpose"),
        geometry_type="Polygon",
        properties=(
            "number",
            "purpose",
            "contractor",
            "address",
            "network_kind",
            "issued_on",
            "planned_start",
            "deadline",
            "status",
        ),
        staff_properties=("responsible_person", "responsible_phone", "conflict_override"),
        roles=STAFF_AND_CONTRACTORS,
        scope_field="contractor",
        minzoom=11,
        search_fields=("number", "address", "purpose"),
        list_filter=("status", "network_kind"),
        datetime_field="issued_on",
        imported_by=(
            "POST /api/permits or the admin (the conflict check, the history and the claims)"
        ),
    ),
)
