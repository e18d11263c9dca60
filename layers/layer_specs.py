"""The city's own layers: houses, yards, networks, transport and the base map.

The apps built on layers declare theirs in their own ``layer_specs``; ``LayersConfig.ready``
registers every app's in ``INSTALLED_APPS`` order, this one first, so its layers come first in
every list.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from psycopg import sql

from layers import models as m
from layers.registry import STAFF, LayerSpec

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

SPECS = (
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
        label=sql.SQL("coalesce(nullif({t}.address, ''), nullif({t}.name, ''), 'yard ' || {t}.id)"),
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
)
