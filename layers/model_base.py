"""What every layer's model is made of: the shared columns, the search keys, the address.

The concrete layers are in ``layers.models``; the apps' layers (permits, incidents…) build on
``CityObject`` too.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex, GistIndex
from django.db.models import Q

from layers.addresses import address_keys, house_number_key, name_key, street_key


def new_source_id() -> str:
    return uuid.uuid4().hex


class CityObject(models.Model):
    """What every layer shares: where a row came from, when, and a stable id.

    ``source`` + ``source_id`` is the natural key importers upsert on, so re-importing a file
    updates rows in place and ids never change. ``source="derived"`` marks objects computed from
    other data (e.g. yards from residential land use), never surveyed.
    """

    source = models.CharField(max_length=32, default="manual")
    source_id = models.CharField(max_length=64, default=new_source_id)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_id"], name="%(app_label)s_%(class)s_source_key"
            ),
            models.CheckConstraint(
                condition=Q(geom__isvalid=True), name="%(app_label)s_%(class)s_geom_valid"
            ),
        ]


# A database default for a JSON object column, so that plain SQL may leave it out.
JSON_EMPTY = models.Value({}, output_field=models.JSONField())


class NameKeyMixin(models.Model):
    """The normalised key of an object's name, for the search by name (trigram GIN)."""

    name_fields: ClassVar[tuple[str, ...]] = ("name",)
    """The fields, in order, that make the object's name (a bus route: ref, then name)."""

    # The database default lets plain SQL leave a key out; refresh_search_keys fills it later.
    name_key = models.CharField(
        max_length=300, blank=True, default="", db_default="", editable=False
    )

    class Meta:
        abstract = True

    @property
    def search_name(self) -> str:
        return " ".join(v for v in (getattr(self, f) for f in self.name_fields) if v)

    def refresh_search_key(self) -> None:
        """Recompute the stored keys from the fields; importers call this on every row."""
        self.name_key = name_key(self.search_name)


def name_key_index(prefix: str) -> GinIndex:
    return GinIndex(fields=["name_key"], name=f"{prefix}_name_trgm", opclasses=["gin_trgm_ops"])


class AddressKeys(models.Model):
    """The stored keys of an address (see layers.addresses), read by the address search.

    ``street_key`` and ``house_key`` are kept apart so that a query finds its street by trigram
    on the few distinct street keys (``StreetName``) and then its house by equality on a btree;
    ``house_number`` is the house key's leading number, for "the same number with another part"
    (12 for 12к2) and the numbers near it.
    """

    # Database defaults let plain SQL leave the keys out; refresh_search_keys fills them later.
    search_key = models.CharField(
        max_length=400, blank=True, default="", db_default="", editable=False
    )
    street_key = models.CharField(
        max_length=300, blank=True, default="", db_default="", editable=False
    )
    house_key = models.CharField(
        max_length=32, blank=True, default="", db_default="", editable=False
    )
    house_number = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    def set_address_keys(self, *, street: str, house: str) -> None:
        """Store an address's keys from its street key and house key."""
        for name, value in address_keys(street, house).items():
            setattr(self, name, value)


def address_keys_indexes(prefix: str) -> list[models.Index]:
    return [
        # Equality on the street, then the house number as a range (neighbours, same number) and
        # the full house key: one btree answers all three steps of the search.
        models.Index(
            fields=["street_key", "house_number", "house_key"], name=f"{prefix}_street_house"
        ),
        # A street's houses nearest to a point first (a query without a house number, with
        # ``near``): KNN within one street key, which needs btree_gist for the text column.
        # Partial, so that only a query saying ``street_key <> ''`` (the search's) can use it:
        # PostgreSQL costs it the same as the plain GiST on geom for a query on geom alone and
        # took it for tiles, reading 8 times the index pages (1.9 ms a z16 tile instead of 0.4).
        GistIndex(
            fields=["street_key", "geom"],
            name=f"{prefix}_street_geom",
            condition=~models.Q(street_key=""),
        ),
    ]


def written_address(street: str, housenumber: str) -> str:
    """An address in the city's order: "12 Main Street" or "улица Ленина, 12"."""
    if settings.ADDRESS_NUMBER_FIRST:
        return " ".join(p for p in (housenumber, street) if p)
    return ", ".join(p for p in (street, housenumber) if p)


class AddressMixin(AddressKeys):
    """Address parts and the normalised search keys (see layers.addresses)."""

    street = models.CharField(max_length=255, blank=True)
    street_names = models.JSONField(
        default=dict,
        db_default=JSON_EMPTY,
        blank=True,
        help_text="The street in other languages, by language code (OSM addr:street:ru …): "
        '{"ru": "проспект Независимости"}',
    )
    housenumber = models.CharField(
        max_length=32, blank=True, help_text="As written: 12, 12А, 12к2, 12 корп. 2, 16 с1, 12/2"
    )
    city = models.CharField(max_length=128, blank=True)
    postcode = models.CharField(max_length=16, blank=True)

    class Meta:
        abstract = True

    @property
    def address(self) -> str:
        """The address as the city writes it (``ADDRESS_NUMBER_FIRST``)."""
        return written_address(self.street, self.housenumber)

    def refresh_search_key(self) -> None:
        """Recompute the stored keys from the fields; importers call this on every row."""
        self.set_address_keys(
            street=street_key(self.street), house=house_number_key(self.housenumber)
        )
