"""The one list of layers: what exists, who may see it, and which of its properties.

Tiles, search, OGC API Features, importers and the admin all look layers up here; nothing else
names a layer's table or columns. Each app declares its own layers in its ``layer_specs`` module
(``SPECS``), and ``LayersConfig.ready()`` registers each app's, as the admin discovers each
app's ``admin.py``: the base package never names the apps built on it. Adding a layer is one
``LayerSpec`` in its app's ``layer_specs`` plus its model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.gis.db.models import GeometryField
from django.db import models
from django.utils.translation import gettext_lazy as _
from psycopg import sql

from gis.exceptions import Forbidden, NotFound, Unauthorized
from gis.roles import Role, Viewer

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

EVERYONE = frozenset(Role)
STAFF = frozenset({Role.OPERATOR, Role.PLANNER})
STAFF_AND_CONTRACTORS = STAFF | {Role.CONTRACTOR}

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
    title: _StrOrPromise
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
    description: _StrOrPromise = ""
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
    def geometry_field(self) -> GeometryField[Any, Any]:
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

    def queryset_for(self, viewer: Viewer) -> models.QuerySet[Any]:
        """The rows this viewer may see; callers must have checked ``visible_to``."""
        qs = self.model._default_manager.all()
        if self.is_scoped_for(viewer):
            qs = qs.filter(**{f"{self.scope_field}_id": viewer.organisation_id})
        return qs


LAYERS: dict[str, LayerSpec] = {}
"""Every layer by name, in the order the apps registered them (``INSTALLED_APPS``): filled by
``layers_register`` while Django starts, so read it only once the apps are ready (never at a
module's import)."""


def layers_register(
    specs: Iterable[LayerSpec], *, into: dict[str, LayerSpec] | None = None
) -> dict[str, LayerSpec]:
    """Add an app's layers to the registry (``LAYERS``, or ``into``), all or none.

    A property that is not a field of the model, a name taken, or a layer fed by one not
    registered before it is a mistake in the code: Django does not start (ValueError).
    """
    registry = LAYERS if into is None else into
    batch: dict[str, LayerSpec] = {}
    for spec in specs:
        if spec.name in registry or spec.name in batch:
            raise ValueError(f"layer {spec.name!r} registered twice")
        field_names = {f.name for f in spec.model._meta.get_fields()}
        unknown = set(spec.properties + spec.staff_properties) - field_names
        if spec.tile_properties is not None:
            unknown |= set(spec.tile_properties) - set(spec.properties)
        if unknown:
            raise ValueError(f"layer {spec.name!r}: unknown properties {sorted(unknown)}")
        known = registry.keys() | batch.keys()
        if unfed := set(spec.fed_by) - known | ({spec.name} & set(spec.fed_by)):
            raise ValueError(f"layer {spec.name!r}: fed by unknown layers {sorted(unfed)}")
        batch[spec.name] = spec
    registry.update(batch)
    return registry


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
