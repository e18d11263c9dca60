"""The one list of layers: what exists, who may see it, and which of its properties.

Tiles, search, OGC API Features, importers and the admin all look layers up here; nothing else
names a layer's table or columns. Adding a layer is one ``LayerSpec`` below plus its model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.db import models
from django.utils.translation import gettext_lazy as _
from psycopg import sql

from gis.exceptions import Forbidden, NotFound, Unauthorized
from gis.roles import Role, Viewer
from layers import models as m
from orders.appeals.models import Appeal
from orders.operations.models import RepeatedProblem, Work
from orders.permits.models import Permit
from orders.planning.models import ImprovementWork, Incident, NetworkRepair, YardPlanItem

EVERYONE = frozenset(Role)
STAFF = frozenset({Role.OPERATOR, Role.PLANNER})
STAFF_AND_CONTRACTORS = STAFF | {Role.CONTRACTOR}

# A building in lists: its address as the city writes it (AddressMixin.address), else its name.
BUILDING_LABEL = (
    sql.SQL(
        "coalesce(nullif(concat_ws(' ', nullif({t}.housenumber, ''), nullif({t}.street, '')), ''),"
        " nullif({t}.name, ''), 'building ' || {t}.id)"
    )
    if settings.ADDRESS_NUMBER_FIRST
    else sql.SQL(
        "coalesce(nullif(concat_ws(', ', nullif({t}.street, ''), nullif({t}.housenumber, '')), ''),"
        " nullif({t}.name, ''), 'building ' || {t}.id)"
    )
)

# An address point or entrance: its address, else its building's (an entrance has none of its
# own), else its name, or kind and id; then its ref ("улица Маросейка, 12 (2)").
ADDRESS_LABEL = (
    sql.SQL(
        "concat_ws(' ', coalesce(nullif(concat_ws(' ', nullif({t}.housenumber, ''), "
        "nullif({t}.street, '')), ''), (SELECT nullif(concat_ws(' ', nullif(b.housenumber, ''), "
        "nullif(b.street, '')), '') FROM layers_building b WHERE b.id = {t}.building_id), "
        "nullif({t}.name, ''), {t}.kind || ' ' || {t}.id), '(' || nullif({t}.ref, '') || ')')"
    )
    if settings.ADDRESS_NUMBER_FIRST
    else sql.SQL(
        "concat_ws(' ', coalesce(nullif(concat_ws(', ', nullif({t}.street, ''), "
        "nullif({t}.housenumber, '')), ''), (SELECT nullif(concat_ws(', ', nullif(b.street, ''), "
        "nullif(b.housenumber, '')), '') FROM layers_building b WHERE b.id = {t}.building_id), "
        "nullif({t}.name, ''), {t}.kind || ' ' || {t}.id), '(' || nullif({t}.ref, '') || ')')"
    )
)

# Every layer shows where its rows come from: derived data must never pass for surveyed data.
COMMON_PROPERTIES = ("source",)


@dataclass(frozen=True, slots=True, eq=False)
class LayerSpec:
    """One layer of the registry.

    Each is made once, so it compares and hashes by identity: specs key many caches on hot
    paths, and hashing every field took most of a search's planning (22 layers per query).
    """

    name: str
    """Key in URLs, MVT layer name, OGC collection id."""
    title: str
    """What a person reads (a lazy translation: it speaks the request's language)."""
    model: type[models.Model]
    geometry_type: str
    """OGC/GeoJSON geometry type of the column: Point, LineString, MultiPolygon, Geometry…"""
    properties: tuple[str, ...]
    """Model fields every role that sees the layer may see."""
    label: sql.SQL
    """The row's name in lists (nearby): the model's ``__str__`` as SQL of the row ``{t}``, so
    a list is built whole in PostgreSQL (``layers.sql.label_expression``). A test holds the two
    equal for every layer."""
    staff_properties: tuple[str, ...] = ()
    """Further fields only operators and planners see."""
    tile_properties: tuple[str, ...] | None = None
    """The subset of ``properties`` a map needs, when tiles should carry fewer (every column
    costs encoding time in each tile); the object card and OGC still show all."""
    roles: frozenset[Role] = EVERYONE
    """Roles that may see the layer at all."""
    minzoom: int = 0
    maxzoom: int = 22
    search_fields: tuple[str, ...] = ()
    """Text fields searched by name (the admin; the address search uses ``search_key``)."""
    list_filter: tuple[str, ...] = ()
    datetime_field: str | None = None
    description: str = ""
    scope_field: str | None = None
    """Organisation foreign key that scopes rows for contractors: a contractor sees only the
    rows of its own organisation (its permits); other roles that see the layer see all rows."""
    fed_by: tuple[str, ...] = ()
    """Layers whose rows this one is computed from (a database view over their tables): a
    change to one of them purges this layer's cached tiles too. A view has no triggers of its
    own (tiles.triggers skips views) and must show each row at its source row's geometry, so
    that the source's purge boxes cover it."""
    computed: bool = False
    """Rows citygis computes from other layers (a view, a refreshed table): never imported,
    never the object an appeal is about."""
    imported_by: str = ""
    """For a layer ``import_layer`` does not write (its rows have a workflow: a history, checks,
    claims), how its rows come in instead; the command refuses the layer with it."""
    import_aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per choice field, the words sources write for its values ("Завершен" → done), beyond
    the choices' own labels in every interface language."""

    @property
    def geometry_field(self) -> GeometryField:
        return next(f for f in self.model._meta.concrete_fields if isinstance(f, GeometryField))

    @property
    def is_public(self) -> bool:
        return Role.PUBLIC in self.roles

    def visible_to(self, viewer: Viewer) -> bool:
        return viewer.role in self.roles

    @property
    def common_properties(self) -> tuple[str, ...]:
        return tuple(p for p in COMMON_PROPERTIES if hasattr(self.model, p))

    def properties_for(self, viewer: Viewer) -> tuple[str, ...]:
        props = self.common_properties + self.properties
        if viewer.is_staff_role:
            props += self.staff_properties
        return props

    def tile_properties_for(self, viewer: Viewer) -> tuple[str, ...]:
        if self.tile_properties is None:
            return self.properties_for(viewer)
        props = self.common_properties + self.tile_properties
        if viewer.is_staff_role:
            props += self.staff_properties
        return props

    def is_scoped_for(self, viewer: Viewer) -> bool:
        return self.scope_field is not None and viewer.role == Role.CONTRACTOR

    def queryset_for(self, viewer: Viewer) -> models.QuerySet:
        """The rows this viewer may see; callers must have checked ``visible_to``."""
        qs = self.model._default_manager.all()
        if self.is_scoped_for(viewer):
            qs = qs.filter(**{f"{self.scope_field}_id": viewer.organisation_id})
        return qs


def _registry(specs: Iterable[LayerSpec]) -> dict[str, LayerSpec]:
    registry: dict[str, LayerSpec] = {}
    for spec in specs:
        if spec.name in registry:
            raise ValueError(f"layer {spec.name!r} registered twice")
        field_names = {f.name for f in spec.model._meta.get_fields()}
        unknown = set(spec.properties + spec.staff_properties) - field_names
        if spec.tile_properties is not None:
            unknown |= set(spec.tile_properties) - set(spec.properties)
        if unknown:
            raise ValueError(f"layer {spec.name!r}: unknown properties {sorted(unknown)}")
        registry[spec.name] = spec
    for spec in registry.values():
        if unfed := set(spec.fed_by) - set(registry) | ({spec.name} & set(spec.fed_by)):
            raise ValueError(f"layer {spec.name!r}: fed by unknown layers {sorted(unfed)}")
    return registry


LAYERS: dict[str, LayerSpec] = _registry(
    [
        LayerSpec(
            name="buildings",
            title=_("Buildings"),
            model=m.Building,
            label=BUILDING_LABEL,
            geometry_type="Geometry",
            properties=(
                "name",
                "street",
                "housenumber",
                "city",
                "postcode",
                "kind",
                "flats",
                "floors",
                "height_m",
                "render_height_m",
                "year_built",
            ),
            tile_properties=(
                "street",
                "housenumber",
                "kind",
                "flats",
                "floors",
                "height_m",
                "render_height_m",
            ),
            minzoom=13,
            search_fields=("street", "housenumber", "name"),
            list_filter=("kind", "source"),
        ),
        LayerSpec(
            name="addresses",
            title=_("Addresses and entrances"),
            model=m.Address,
            label=ADDRESS_LABEL,
            geometry_type="Geometry",
            properties=("kind", "name", "street", "housenumber", "ref", "flats", "building"),
            minzoom=15,
            search_fields=("street", "housenumber", "name", "ref"),
            list_filter=("kind", "source"),
            description=_(
                "Address points, entrances and addressed areas that are not a building's own "
                "address, each attached to the building it lies in."
            ),
        ),
        LayerSpec(
            name="yards",
            title=_("Yards"),
            model=m.Yard,
            label=sql.SQL(
                "coalesce(nullif({t}.address, ''), nullif({t}.name, ''), 'yard ' || {t}.id)"
            ),
            geometry_type="Polygon",
            properties=("name", "address", "surface", "condition", "last_repaired_on", "area_m2"),
            minzoom=13,
            search_fields=("address", "name"),
            list_filter=("surface", "condition", "source"),
            datetime_field="last_repaired_on",
        ),
        LayerSpec(
            name="playgrounds",
            title=_("Playgrounds"),
            model=m.Playground,
            label=sql.SQL("coalesce(nullif({t}.name, ''), 'playground ' || {t}.id)"),
            geometry_type="Geometry",
            properties=("name", "surface", "installed_on"),
            minzoom=13,
            search_fields=("name",),
            list_filter=("source",),
            datetime_field="installed_on",
        ),
        LayerSpec(
            name="sports_fields",
            title=_("Sports fields"),
            model=m.SportsField,
            label=sql.SQL(
                "coalesce(nullif({t}.name, ''), "
                "coalesce(nullif({t}.kind, ''), 'sports field') || ' ' || {t}.id)"
            ),
            geometry_type="Geometry",
            properties=("kind", "name", "surface", "installed_on"),
            minzoom=13,
            search_fields=("name", "kind"),
            list_filter=("kind", "source"),
            datetime_field="installed_on",
        ),
        LayerSpec(
            name="cameras",
            title=_("Cameras"),
            model=m.Camera,
            label=sql.SQL("coalesce(nullif({t}.name, ''), 'camera ' || {t}.id)"),
            geometry_type="Point",
            properties=("kind", "name", "owner"),
            roles=STAFF,
            minzoom=14,
            search_fields=("name",),
            list_filter=("kind", "source"),
        ),
        LayerSpec(
            name="networks",
            title=_("Underground and overhead networks"),
            model=m.NetworkSegment,
            label=sql.SQL("coalesce(nullif({t}.name, ''), {t}.kind || ' segment ' || {t}.id)"),
            geometry_type="LineString",
            properties=(
                "kind",
                "name",
                "owner",
                "location",
                "diameter_mm",
                "voltage_v",
                "laid_on",
            ),
            roles=STAFF,
            minzoom=11,
            search_fields=("name",),
            list_filter=("kind", "source"),
            datetime_field="laid_on",
        ),
        LayerSpec(
            name="manholes",
            title=_("Manholes"),
            model=m.Manhole,
            label=sql.SQL("{t}.kind || ' manhole ' || {t}.id"),
            geometry_type="Point",
            properties=("kind", "depth_m", "segment"),
            roles=STAFF,
            minzoom=15,
            list_filter=("kind", "source"),
        ),
        LayerSpec(
            name="street_lights",
            title=_("Street lights"),
            model=m.StreetLight,
            label=sql.SQL("'street light ' || coalesce(nullif({t}.ref, ''), {t}.id::text)"),
            geometry_type="Point",
            properties=("ref", "kind", "owner"),
            minzoom=15,
            search_fields=("ref",),
            list_filter=("kind", "source"),
        ),
        LayerSpec(
            name="districts",
            title=_("Districts"),
            model=m.District,
            label=sql.SQL("{t}.name"),
            geometry_type="MultiPolygon",
            properties=("name", "admin_level"),
            minzoom=8,
            search_fields=("name",),
            list_filter=("admin_level", "source"),
        ),
        LayerSpec(
            name="places",
            title=_("Neighbourhood names"),
            model=m.Place,
            label=sql.SQL("{t}.name"),
            geometry_type="Point",
            properties=("name", "kind"),
            minzoom=11,
            search_fields=("name",),
            list_filter=("kind", "source"),
            description=_("Named places mapped as points; demo districts are derived from them."),
        ),
        LayerSpec(
            name="bus_routes",
            title=_("Public transport routes"),
            model=m.BusRoute,
            label=sql.SQL(
                "coalesce(nullif(concat_ws(' ', nullif({t}.ref, ''), nullif({t}.name, '')), ''), "
                "'route ' || {t}.id)"
            ),
            geometry_type="MultiLineString",
            properties=("ref", "name", "operator", "kind", "partial"),
            minzoom=10,
            search_fields=("ref", "name"),
            list_filter=("kind", "operator", "partial"),
            description=_(
                "Bus, minibus, trolleybus, tram, light rail and metro routes; a partial route "
                "leaves the imported extract."
            ),
        ),
        LayerSpec(
            name="bus_stops",
            title=_("Public transport stops"),
            model=m.BusStop,
            label=sql.SQL("coalesce(nullif({t}.name, ''), 'stop ' || {t}.id)"),
            geometry_type="Point",
            properties=("name", "ref", "kind"),
            minzoom=14,
            search_fields=("name", "ref"),
            list_filter=("kind", "source"),
        ),
        LayerSpec(
            name="snowplough_routes",
            title=_("Snowplough routes"),
            model=m.SnowploughRoute,
            label=sql.SQL("coalesce(nullif({t}.name, ''), 'snowplough route ' || {t}.id)"),
            geometry_type="MultiLineString",
            properties=("name", "priority", "organisation", "schedule"),
            minzoom=10,
            search_fields=("name",),
            list_filter=("priority", "source"),
        ),
        LayerSpec(
            name="streets",
            title=_("Streets"),
            model=m.Street,
            label=sql.SQL("coalesce(nullif({t}.name, ''), {t}.kind || ' ' || {t}.id)"),
            geometry_type="LineString",
            properties=("name", "kind"),
            minzoom=10,
            search_fields=("name",),
            list_filter=("kind",),
        ),
        LayerSpec(
            name="land",
            title=_("Land use"),
            model=m.LandArea,
            label=sql.SQL("coalesce(nullif({t}.name, ''), {t}.kind || ' ' || {t}.id)"),
            geometry_type="MultiPolygon",
            properties=("name", "kind"),
            minzoom=8,
            search_fields=("name",),
            list_filter=("kind",),
        ),
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
                "coalesce(nullif({t}.name, ''), nullif({t}.address, ''), "
                "'improvement work ' || {t}.id)"
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
    ]
)


def layers_purged_with(name: str) -> frozenset[str]:
    """The layer and every layer fed by it: whose cached tiles a change to its rows touches."""
    return frozenset({name} | {spec.name for spec in LAYERS.values() if name in spec.fed_by})


def source_layers() -> list[str]:
    """The layers whose rows come from outside (surveys, imports, staff), not computed ones."""
    return [name for name, spec in LAYERS.items() if not spec.computed]


def importable_layers() -> list[str]:
    """The layers ``import_layer`` writes: from outside, rows without a workflow of their own."""
    return [name for name in source_layers() if not LAYERS[name].imported_by]


def layers_for(viewer: Viewer) -> list[LayerSpec]:
    """The layers a viewer may see, in registry order."""
    return [spec for spec in LAYERS.values() if spec.visible_to(viewer)]


def get_layer(name: str, viewer: Viewer) -> LayerSpec:
    """A layer by name for this viewer.

    Unknown → 404; restricted and anonymous → 401; restricted and the wrong role → 403.
    """
    spec = LAYERS.get(name)
    if spec is None:
        raise NotFound(
            _("Unknown layer %(name)s.") % {"name": repr(name)}, extra={"layers": sorted(LAYERS)}
        )
    if not spec.visible_to(viewer):
        if viewer.is_public:
            raise Unauthorized(
                _("Layer %(name)s needs an authenticated operator or planner.")
                % {"name": repr(name)}
            )
        raise Forbidden(
            _("Your role (%(role)s) may not see layer %(name)s.")
            % {"role": viewer.role, "name": repr(name)}
        )
    return spec
