"""The layers of residents' appeals."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from psycopg import sql

from layers.registry import LayerSpec
from orders.appeals.models import Appeal

SPECS = (
    LayerSpec(
        name="appeals",
        title=_("Appeals"),
        model=Appeal,
        label=sql.SQL(
            "{t}.number || ': ' || "
            "(SELECT c.name FROM appeals_category c WHERE c.id = {t}.category_id)"
        ),
        geometry_type="Point",
        # Never a resident's name, phone or e-mail: not even staff see those on a map.
        properties=("number", "category", "status", "organisation", "received_at"),
        staff_properties=(
            "channel",
            "text",
            "address",
            "priority",
            "sla_due",
            "linked_layer",
            "linked_id",
            "needs_attention",
        ),
        tile_properties=("number", "category", "status", "received_at"),
        minzoom=11,
        search_fields=("number", "address"),
        list_filter=("status", "channel"),
        datetime_field="received_at",
        imported_by="manage.py import_appeals FILE --mapping PRESET (intake and history)",
    ),
)
