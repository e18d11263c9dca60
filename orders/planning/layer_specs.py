"""The layers of planning: the yard repair plan, network incidents and repairs, improvements."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from psycopg import sql

from layers.registry import STAFF, LayerSpec
from orders.planning.models import ImprovementWork, Incident, NetworkRepair, YardPlanItem

SPECS = (
    LayerSpec(
        name="yard_plan",
        title=_("Yard repair plan"),
        model=YardPlanItem,
        label=sql.SQL(
            "{t}.year || ' #' || {t}.rank || ': ' || "
            "coalesce(nullif({t}.address, ''), {t}.source_id)"
        ),
        geometry_type="Polygon",
        # Only the plans of record have a geometry here (superseded versions: NULL), so the
        # map shows each year's published plan and no older version (orders.planning).
        properties=("address", "rank", "status", "planned_month", "year"),
        minzoom=13,
        search_fields=("address",),
        list_filter=("year", "status"),
        imported_by="POST /api/yards/plans (a plan ranks and costs the yards itself)",
    ),
    LayerSpec(
        name="incidents",
        title=_("Network incidents"),
        model=Incident,
        label=sql.SQL("{t}.kind || ' incident ' || to_char({t}.occurred_on, 'YYYY-MM-DD')"),
        geometry_type="Point",
        properties=("kind", "occurred_on", "segment", "description"),
        roles=STAFF,
        minzoom=11,
        search_fields=("description",),
        list_filter=("kind", "source"),
        datetime_field="occurred_on",
    ),
    LayerSpec(
        name="network_repairs",
        title=_("Planned network repairs"),
        model=NetworkRepair,
        label=sql.SQL(
            "'repair of ' || (SELECT coalesce(nullif(s.name, ''), "
            "s.kind || ' segment ' || s.id) FROM layers_networksegment s "
            "WHERE s.id = {t}.segment_id) || ' ' || "
            "to_char({t}.planned_start, 'YYYY-MM-DD') || '–' || "
            "to_char({t}.planned_end, 'YYYY-MM-DD')"
        ),
        geometry_type="LineString",
        properties=(
            "segment",
            "organisation",
            "planned_start",
            "planned_end",
            "status",
            "note",
        ),
        # The networks are staff-only; so are the repairs of them.
        roles=STAFF,
        minzoom=11,
        search_fields=("note",),
        list_filter=("status",),
        datetime_field="planned_start",
        imported_by="POST /api/networks/repairs or the admin",
    ),
    LayerSpec(
        name="improvement_works",
        title=_("Improvement works"),
        model=ImprovementWork,
        label=sql.SQL(
            "coalesce(nullif({t}.name, ''), nullif({t}.address, ''), 'improvement work ' || {t}.id)"
        ),
        geometry_type="Geometry",
        properties=(
            "name",
            "name_kk",
            "work_kind",
            "address",
            "status",
            "starts_on",
            "ends_on",
            "organisation",
        ),
        minzoom=11,
        search_fields=("name", "name_kk", "address", "work_kind"),
        list_filter=("status", "source"),
        datetime_field="starts_on",
        description=_(
            "The city's register of improvement works (asphalt, playgrounds, "
            "landscaping): imported with import_layer improvement_works."
        ),
        # The words registers write for a status, beyond its label in ru, kk and en.
        import_aliases={
            "status": {
                "Планируется": "planned",
                "Запланировано": "planned",
                "Запланирован": "planned",
                "План": "planned",
                "Жоспарланған": "planned",
                "Жоспарлануда": "planned",
                "В работе": "in_progress",
                "Выполняется": "in_progress",
                "В процессе": "in_progress",
                "Орындалуда": "in_progress",
                "Жүргізілуде": "in_progress",
                "Завершен": "done",
                "Завершено": "done",
                "Завершена": "done",
                "Выполнено": "done",
                "Выполнен": "done",
                "Аяқталды": "done",
                "Аяқталған": "done",
                "Орындалды": "done",
                "Отменен": "cancelled",
                "Отменено": "cancelled",
                "Отменена": "cancelled",
                "Тоқтатылды": "cancelled",
                "Болдырылмады": "cancelled",
                "Бас тартылды": "cancelled",
                "Completed": "done",
                "Finished": "done",
                "Canceled": "cancelled",
            }
        },
    ),
)
