"""The city's objects: every geometry SRID 4326, GiST-indexed, checked valid by the database."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex
from django.db.models import CharField, F, Func
from django.db.models.functions import Coalesce
from django.db.models.lookups import In
from django.utils.translation import gettext_lazy as _

from layers.addresses import (
    parse_address,
)
from layers.model_base import (
    JSON_EMPTY,
    AddressKeys,
    AddressMixin,
    CityObject,
    NameKeyMixin,
    address_keys_indexes,
    name_key_index,
)
from layers.validators import validate_geometry

SRID = 4326  # see gis.spatial.STORAGE_SRID for why
STOREY_HEIGHT_M = 3.0
"""The storey height a building's height is estimated with when only its floors are known."""


class Organisation(models.Model):
    """A service, contractor, police department or administration the centre works with."""

    class Kind(models.TextChoices):
        SERVICE = "service", _("Service")
        CONTRACTOR = "contractor", _("Contractor")
        POLICE = "police", _("Police")
        ADMINISTRATION = "administration", _("Administration")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=255, unique=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True, help_text="E.g. that the record is demo data.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Building(AddressMixin, NameKeyMixin, CityObject):
    """A building: its outline, or a point where the source maps it only as a point.

    A point is never replaced by an invented outline; 228 of the demo city's buildings are points.
    """

    geometry_types = ("MultiPolygon", "Point")

    name = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=64, blank=True, help_text="OSM building=* value")
    flats = models.PositiveIntegerField(null=True, blank=True)
    floors = models.PositiveSmallIntegerField(null=True, blank=True)
    height_m = models.FloatField(null=True, blank=True)
    year_built = models.PositiveSmallIntegerField(null=True, blank=True)
    render_height_m = models.GeneratedField(
        expression=Coalesce(F("height_m"), F("floors") * STOREY_HEIGHT_M),
        output_field=models.FloatField(),
        db_persist=True,
        help_text="Height for 3D maps: the surveyed height, else floors × storey height.",
    )
    geom = models.GeometryField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [
            GinIndex(
                fields=["search_key"], name="building_search_trgm", opclasses=["gin_trgm_ops"]
            ),
            *address_keys_indexes("building"),
            name_key_index("building"),
        ]
        constraints = [
            *CityObject.Meta.constraints,
            models.CheckConstraint(
                condition=In(
                    Func(F("geom"), function="GeometryType", output_field=CharField()),
                    ["MULTIPOLYGON", "POINT"],
                ),
                name="building_geom_type",
            ),
        ]

    def __str__(self) -> str:
        return self.address or self.name or f"building {self.pk}"

    def refresh_search_key(self) -> None:
        """Recompute the address keys and the name key; importers call this on every row."""
        AddressMixin.refresh_search_key(self)
        NameKeyMixin.refresh_search_key(self)


class Address(AddressMixin, NameKeyMixin, CityObject):
    """An address that is not a building's own: an address point, an entrance, an addressed area.

    OSM puts addresses on nodes inside a building (a house whose outline carries none, a second
    address of a corner house), on entrances (``entrance=*``, with their ``ref``: подъезд 2),
    and on areas that are not buildings (a school ground, a park). Each is found by the address
    search like a building and is attached to the building it lies in or on (``building``).
    A point that repeats its building's own address adds nothing and is not imported.
    """

    class Kind(models.TextChoices):
        POINT = "point", _("Address point")
        ENTRANCE = "entrance", _("Entrance")
        AREA = "area", _("Addressed area")

    geometry_types = ("Point", "MultiPolygon")

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.POINT)
    name = models.CharField(max_length=255, blank=True)
    ref = models.CharField(max_length=32, blank=True, help_text="An entrance's number or ref")
    flats = models.CharField(
        max_length=64, blank=True, help_text="The flats it serves, as written (addr:flats: 1-36)"
    )
    building = models.ForeignKey(
        Building,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="addresses",
        help_text="The building it lies in or on",
    )
    geom = models.GeometryField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [*address_keys_indexes("address"), name_key_index("address")]

    def __str__(self) -> str:
        building = self.building.address if self.building_id and self.building else ""
        label = self.address or building or self.name or f"{self.kind} {self.pk}"
        return f"{label} ({self.ref})" if self.ref else label

    def refresh_search_key(self) -> None:
        """Recompute the address keys and the name key; importers call this on every row."""
        AddressMixin.refresh_search_key(self)
        NameKeyMixin.refresh_search_key(self)


class Yard(AddressKeys, NameKeyMixin, CityObject):
    class Surface(models.TextChoices):
        ASPHALT = "asphalt", _("Asphalt")
        PAVING = "paving", _("Paving stones")
        GRAVEL = "gravel", _("Gravel")
        GRASS = "grass", _("Grass")
        MIXED = "mixed", _("Mixed")
        UNKNOWN = "unknown", _("Unknown")

    class Condition(models.TextChoices):
        GOOD = "good", _("Good")
        FAIR = "fair", _("Fair")
        POOR = "poor", _("Poor")
        UNKNOWN = "unknown", _("Unknown")

    name = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=255, blank=True)
    surface = models.CharField(max_length=16, choices=Surface.choices, default=Surface.UNKNOWN)
    condition = models.CharField(
        max_length=16, choices=Condition.choices, default=Condition.UNKNOWN
    )
    last_repaired_on = models.DateField(null=True, blank=True)
    geom = models.PolygonField(srid=SRID, validators=[validate_geometry])
    # Geodesic area, kept by the database itself so plain SQL and imports can never leave it stale.
    area_m2 = models.GeneratedField(
        expression=Func("geom", function="ST_Area", template="ST_Area(%(expressions)s::geography)"),
        output_field=models.FloatField(),
        db_persist=True,
    )

    class Meta(CityObject.Meta):
        indexes = [
            GinIndex(fields=["search_key"], name="yard_search_trgm", opclasses=["gin_trgm_ops"]),
            *address_keys_indexes("yard"),
            name_key_index("yard"),
        ]

    def __str__(self) -> str:
        return self.address or self.name or f"yard {self.pk}"

    def refresh_search_key(self) -> None:
        """Recompute the address keys and the name key; importers call this on every row."""
        parsed = parse_address(self.address or "")
        self.set_address_keys(street=parsed.street, house=parsed.housenumber)
        NameKeyMixin.refresh_search_key(self)


class Playground(NameKeyMixin, CityObject):
    name = models.CharField(max_length=255, blank=True)
    surface = models.CharField(max_length=64, blank=True)
    installed_on = models.DateField(null=True, blank=True)
    geom = models.GeometryField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("playground")]

    def __str__(self) -> str:
        return self.name or f"playground {self.pk}"


class SportsField(NameKeyMixin, CityObject):
    kind = models.CharField(
        max_length=64, blank=True, help_text="Sport: soccer, mini-football, basketball, tennis…"
    )
    name = models.CharField(max_length=255, blank=True)
    surface = models.CharField(max_length=64, blank=True)
    installed_on = models.DateField(null=True, blank=True)
    geom = models.GeometryField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("sportsfield")]

    def __str__(self) -> str:
        return self.name or f"{self.kind or 'sports field'} {self.pk}"


class Camera(NameKeyMixin, CityObject):
    kind = models.CharField(max_length=64, blank=True, help_text="fixed, dome, panning…")
    name = models.CharField(max_length=255, blank=True)
    owner = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="cameras"
    )
    geom = models.PointField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("camera")]

    def __str__(self) -> str:
        return self.name or f"camera {self.pk}"


class NetworkKind(models.TextChoices):
    WATER = "water", _("Water")
    HEAT = "heat", _("Heating")
    SEWER = "sewer", _("Sewer")
    STORM = "storm", _("Storm drain")
    GAS = "gas", _("Gas")
    POWER = "power", _("Power")
    TELECOM = "telecom", _("Telecom")
    OTHER = "other", _("Other")


class NetworkLocation(models.TextChoices):
    """Where a network line runs (OSM ``location=*``); unknown is taken as buried."""

    UNKNOWN = "", _("Unknown")
    UNDERGROUND = "underground", _("Underground")
    OVERGROUND = "overground", _("Overground")
    OVERHEAD = "overhead", _("Overhead")
    UNDERWATER = "underwater", _("Underwater")


class NetworkSegment(NameKeyMixin, CityObject):
    kind = models.CharField(max_length=16, choices=NetworkKind.choices)
    name = models.CharField(max_length=255, blank=True)
    location = models.CharField(
        max_length=16, choices=NetworkLocation.choices, blank=True, default=NetworkLocation.UNKNOWN
    )
    owner = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="networks"
    )
    diameter_mm = models.PositiveIntegerField(null=True, blank=True)
    voltage_v = models.PositiveIntegerField(null=True, blank=True)
    laid_on = models.DateField(null=True, blank=True)
    geom = models.LineStringField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("network")]

    def __str__(self) -> str:
        return self.name or f"{self.kind} segment {self.pk}"


class Manhole(CityObject):
    kind = models.CharField(max_length=16, choices=NetworkKind.choices)
    depth_m = models.FloatField(null=True, blank=True)
    segment = models.ForeignKey(
        NetworkSegment, null=True, blank=True, on_delete=models.SET_NULL, related_name="manholes"
    )
    geom = models.PointField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.kind} manhole {self.pk}"


class StreetLight(CityObject):
    """A street lamp: what a "light is out" appeal links to."""

    ref = models.CharField(max_length=64, blank=True, help_text="The lamp's number on its pole")
    kind = models.CharField(max_length=64, blank=True, help_text="OSM lamp_type/light:method")
    owner = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="lights"
    )
    geom = models.PointField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        pass

    def __str__(self) -> str:
        return f"street light {self.ref or self.pk}"


class District(NameKeyMixin, CityObject):
    """An administrative district: appeals, permits and yards belong to one by space."""

    name = models.CharField(max_length=255)
    admin_level = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="OSM admin_level; empty for imported or derived areas"
    )
    geom = models.MultiPolygonField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("district")]

    def __str__(self) -> str:
        return self.name


class Place(CityObject):
    """A named place mapped as a point (OSM ``place=neighbourhood|suburb|quarter``).

    Kept because a city whose data has no district boundaries gets its districts derived from
    these points (importers.derive): each district is the area closer to its place than to any
    other, named after it.
    """

    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=32, help_text="OSM place=*: neighbourhood, suburb, quarter")
    geom = models.PointField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        pass

    def __str__(self) -> str:
        return self.name


class TransitKind(models.TextChoices):
    """The public transport a route runs, or a stop serves first (OSM ``route=*``)."""

    BUS = "bus", _("Bus")
    SHARE_TAXI = "share_taxi", _("Minibus")
    TROLLEYBUS = "trolleybus", _("Trolleybus")
    TRAM = "tram", _("Tram")
    LIGHT_RAIL = "light_rail", _("Light rail")
    SUBWAY = "subway", _("Metro")


class BusStop(NameKeyMixin, CityObject):
    """A public transport stop: a bus, trolleybus or tram stop, or a metro station."""

    name = models.CharField(max_length=255, blank=True)
    ref = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=16, choices=TransitKind.choices, default=TransitKind.BUS)
    geom = models.PointField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("busstop")]

    def __str__(self) -> str:
        return self.name or f"stop {self.pk}"


class BusRoute(NameKeyMixin, CityObject):
    """A public transport route (bus, minibus, trolleybus, tram, light rail, metro)."""

    name_fields = ("ref", "name")

    ref = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=255, blank=True)
    operator = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=16, choices=TransitKind.choices, default=TransitKind.BUS)
    partial = models.BooleanField(
        default=False,
        help_text="Some of its ways are not in the source (the route leaves the extract)",
    )
    stops = models.ManyToManyField(BusStop, through="BusRouteStop", related_name="routes")
    geom = models.MultiLineStringField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("busroute")]

    def __str__(self) -> str:
        return " ".join(p for p in (self.ref, self.name) if p) or f"route {self.pk}"


class BusRouteStop(models.Model):
    """A stop's place in a route: the order in which a bus serves them."""

    route = models.ForeignKey(BusRoute, on_delete=models.CASCADE, related_name="route_stops")
    stop = models.ForeignKey(BusStop, on_delete=models.CASCADE, related_name="route_stops")
    sequence = models.PositiveIntegerField()
    derived = models.BooleanField(
        default=False,
        help_text="Matched by distance to the route's line, not listed in the source's route",
    )

    class Meta:
        ordering = ["route", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["route", "sequence"], name="bus_route_stop_sequence")
        ]


class SnowploughRoute(NameKeyMixin, CityObject):
    name = models.CharField(max_length=255, blank=True)
    priority = models.PositiveSmallIntegerField(
        default=2, help_text="1 is cleared first (main roads), 3 last"
    )
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="snow_routes"
    )
    schedule = models.TextField(blank=True)
    geom = models.MultiLineStringField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("snowroute")]

    def __str__(self) -> str:
        return self.name or f"snowplough route {self.pk}"


class Street(NameKeyMixin, CityObject):
    """A street centreline: the base map, and what snowplough routes and addresses refer to."""

    name = models.CharField(max_length=255, blank=True)
    names = models.JSONField(
        default=dict,
        db_default=JSON_EMPTY,
        blank=True,
        help_text="Its other names: by language code (OSM name:ru, name:kk, name:be …) and "
        "alt_name, old_name, official_name; an address on any of them finds its houses",
    )
    kind = models.CharField(max_length=32, help_text="OSM highway=* class")
    geom = models.LineStringField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("street")]

    def __str__(self) -> str:
        return self.name or f"{self.kind} {self.pk}"


class LandArea(NameKeyMixin, CityObject):
    """Land use and cover for the base map: parks, water, residential areas."""

    name = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=32)
    geom = models.MultiPolygonField(srid=SRID, validators=[validate_geometry])

    class Meta(CityObject.Meta):
        indexes = [name_key_index("land")]

    def __str__(self) -> str:
        return self.name or f"{self.kind} {self.pk}"


class StreetAlias(models.Model):
    """Another name's street key for a street key in use: "независимости пр" → "незалежнасці пр".

    A street has names in several languages (a Minsk street's ``name`` is Belarusian, its
    ``name:ru`` Russian) and its houses carry one of them; a query may use any. The search
    matches the query's street against these keys as against ``StreetName`` and then looks for
    houses under ``target``. Rebuilt from the streets' ``names`` and the buildings'
    ``street_names`` by ``layers.services.street_aliases_refresh`` after every import.
    """

    key = models.CharField(max_length=300)
    target = models.CharField(max_length=300, help_text="The street key the houses carry")
    name = models.CharField(max_length=255, help_text="The name as written")
    language = models.CharField(
        max_length=16, blank=True, help_text="Its language code, or alt_name, old_name …"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "target"], name="streetalias_key_target")
        ]
        indexes = [
            GinIndex(fields=["key"], name="streetalias_key_trgm", opclasses=["gin_trgm_ops"]),
            # A street's name in the viewer's language, for the search's answers.
            models.Index(fields=["target", "language"], name="streetalias_target_language"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.target}"


class StreetName(models.Model):
    """A distinct street key of the addressed layers (``buildings``, ``yards``).

    The small table a query's street is matched against by trigram (one typo), before its houses
    are fetched by equality. Kept by database triggers on every addressed table
    (``layers.triggers``), so imports, the admin and plain SQL all add their new streets;
    ``refresh_search_keys`` also drops the keys no row uses any more.
    """

    key = models.CharField(max_length=300, unique=True)

    class Meta:
        indexes = [GinIndex(fields=["key"], name="streetname_key_trgm", opclasses=["gin_trgm_ops"])]

    def __str__(self) -> str:
        return self.key
