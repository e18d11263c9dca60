"""Imported rows: records, validation, a report of every rejected row, idempotent upserts.

Every importer turns its source into ``Record``s and hands them to ``records_import``: rows are
checked first (geometry, type, required fields, values), then written in one transaction keyed
on (source, source_id). Unchanged rows are not touched, so a second run of the same file
reports nothing created or updated and fires no tile purge.
"""

from __future__ import annotations

import datetime
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.geos import (
    GEOSGeometry,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone, translation

from layers.registry import LayerSpec
from layers.validators import geometry_problem

BATCH = 2000
# Fields an importer never sets from a source column.
# The search keys (layers.model_base.AddressKeys, NameKeyMixin) are computed from the other fields.
NOT_IMPORTED = frozenset(
    {
        "id",
        "source",
        "source_id",
        "created_at",
        "updated_at",
        "search_key",
        "street_key",
        "house_key",
        "house_number",
        "name_key",
    }
)


class ImportAborted(Exception):
    """Rows were rejected and --skip-invalid was not given: nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.rejected)} rows rejected; nothing was written")
        self.report = report


@dataclass(slots=True)
class Record:
    """One row for a layer: its key in the source, field values and geometry."""

    source_id: str
    values: dict[str, Any]
    geom: GEOSGeometry | None
    label: str = ""
    """How the report names the row (OSM id, file row number)."""


@dataclass(slots=True)
class Rejection:
    layer: str
    row: str
    reason: str

    def __str__(self) -> str:
        return f"{self.layer} {self.row}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    """What was left out on purpose, by kind ("train routes", "incomplete boundaries")."""
    skipped_rows: list[Rejection] = field(default_factory=list)
    """The skipped objects the report names one by one (an incomplete relation)."""
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    by_layer: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def summary(self, what: str) -> str:
        skipped = ""
        if self.skipped:
            kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(self.skipped.items()))
            skipped = f", skipped {self.skipped.total():,} ({kinds})"
        return (
            f"{what}: read {self.read:,}, created {self.created:,}, updated {self.updated:,}, "
            f"unchanged {self.unchanged:,}, rejected {len(self.rejected):,}{skipped} "
            f"in {self.seconds:.1f} s"
        )

    def skip(self, kind: str, row: Rejection | None = None, n: int = 1) -> None:
        """Count something left out on purpose; a named row is also listed."""
        self.skipped[kind] += n
        if row is not None:
            self.skipped_rows.append(row)

    def count(self, layer: str, key: str, n: int = 1) -> None:
        setattr(self, key, getattr(self, key) + n)
        per = self.by_layer.setdefault(layer, {"created": 0, "updated": 0, "unchanged": 0})
        per[key] += n


# --- validation ------------------------------------------------------------------------------

_SINGLE_OF_MULTI = {MultiPolygon: Polygon, MultiLineString: LineString, MultiPoint: Point}
_MULTI_OF_SINGLE = {Polygon: MultiPolygon, LineString: MultiLineString, Point: MultiPoint}


def coerce_geometry(geom: GEOSGeometry, model: type[models.Model]) -> GEOSGeometry:
    """The geometry in a type the model stores: single parts promoted, one-part multis unwrapped.

    A model with a generic geometry column may list the types it takes in ``geometry_types``.
    Raises ValueError naming the mismatch otherwise ("wrong type").
    """
    column = _geom_field(model).geom_type
    allowed = [t.upper() for t in getattr(model, "geometry_types", (column,))]
    if "GEOMETRY" in allowed or geom.geom_type.upper() in allowed:
        return geom
    kind = type(geom)
    multi = _MULTI_OF_SINGLE.get(kind)
    if multi is not None and multi.__name__.upper() in allowed:
        return multi(geom, srid=geom.srid)
    single = _SINGLE_OF_MULTI.get(kind)
    if single is not None and single.__name__.upper() in allowed and len(geom) == 1:
        part = geom[0]
        part.srid = geom.srid
        return part
    expected = " or ".join(getattr(model, "geometry_types", (column,)))
    if single is not None and single.__name__.upper() in allowed:
        raise ValueError(
            f"wrong geometry type: a {geom.geom_type} of {len(geom)} parts where one "
            f"{single.__name__} is expected (split it into one row per part)"
        )
    raise ValueError(f"wrong geometry type: {geom.geom_type} where {expected} is expected")


# Dates as sources write them: ISO, and the day first with dots (ДД.ММ.ГГГГ, as CIS registers
# do). Day-first with slashes (DD/MM/YYYY) only when told: 03/04/2025 is 3 April in Almaty and
# 4 March in Baltimore.
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?")
_DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s.*)?")
_SLASHED_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s.*)?")


def parse_date(value: Any, *, dayfirst: bool = False) -> datetime.date:
    """A date from a cell: a date, a timestamp, or text in ISO or ДД.ММ.ГГГГ (or DD/MM/YYYY)."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = match.groups()
    elif match := _DOTTED_DATE.fullmatch(text):
        day, month, year = match.groups()
    elif dayfirst and (match := _SLASHED_DATE.fullmatch(text)):
        day, month, year = match.groups()
    else:
        forms = "YYYY-MM-DD or ДД.ММ.ГГГГ" + (" or DD/MM/YYYY" if dayfirst else "")
        hint = "" if dayfirst or not _SLASHED_DATE.fullmatch(text) else " (--dayfirst reads it)"
        raise ValueError(f"{text!r} is not a date ({forms}){hint}")
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date: {exc}") from None


def _word(text: str) -> str:
    return text.strip().casefold().replace("ё", "е")


@lru_cache(maxsize=256)
def _choice_words(spec: LayerSpec, name: str) -> dict[str, str]:
    """The words that name each choice of field ``name``, once per field, not once per cell.

    The layer's aliases, then the choices' labels in every interface language.
    """
    field = spec.model._meta.get_field(name)
    words = {_word(k): v for k, v in spec.import_aliases.get(name, {}).items()}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            words.update({_word(str(label)): v for v, label in field.choices})
    return words


def choice_value(spec: LayerSpec, name: str, value: Any) -> Any:
    """A choice field's value from a cell: the value, its label in any language, or an alias.

    Registers write their statuses as words ("Завершен", "Аяқталды"): those are matched with
    case and ё/е ignored against the aliases the layer declares and the choices' labels in
    every language of the interface.
    """
    text = str(value).strip()
    if text in {str(v) for v, _ in spec.model._meta.get_field(name).choices}:
        return text
    return _choice_words(spec, name).get(_word(text), text)


def _geom_field(model: type[models.Model]) -> GeometryField:
    return next(f for f in model._meta.concrete_fields if isinstance(f, GeometryField))


def required_fields(model: type[models.Model]) -> list[str]:
    """Fields a row must have: not nullable, no default, not blank-able."""
    return [
        f.name
        for f in model._meta.concrete_fields
        if f.name not in NOT_IMPORTED
        and not isinstance(f, GeometryField)
        and not f.null
        and not f.blank
        and not f.has_default()
        and not f.generated
    ]


def importable_fields(model: type[models.Model]) -> dict[str, models.Field]:
    return {
        f.name: f
        for f in model._meta.concrete_fields
        if f.name not in NOT_IMPORTED and not getattr(f, "generated", False)
    }


def clean_record(spec: LayerSpec, record: Record, *, dayfirst: bool = False) -> Record:
    """The record with values converted and checked; raises ValueError with the reason."""
    model = spec.model
    fields = importable_fields(model)
    if record.geom is None:
        raise ValueError("missing geometry")
    geom = record.geom
    if geom.srid is None:
        geom.srid = 4326
    elif geom.srid != 4326:
        geom = geom.transform(4326, clone=True)
    geom = coerce_geometry(geom, model)
    problem = geometry_problem(geom)
    if problem:
        raise ValueError(problem)
    values: dict[str, Any] = {}
    for name, value in record.values.items():
        model_field = fields.get(name)
        if model_field is None:
            raise ValueError(f"unknown field {name!r} for layer {spec.name}")
        if value is None or value == "":
            if not (model_field.null or model_field.blank):
                raise ValueError(f"missing required field {name!r}")
            values[model_field.attname] = None if model_field.null else ""
            continue
        try:
            if model_field.is_relation:
                values[model_field.attname] = int(value)
            elif isinstance(model_field, models.DateField) and not isinstance(
                model_field, models.DateTimeField
            ):
                values[name] = model_field.clean(parse_date(value, dayfirst=dayfirst), None)
            elif model_field.choices:
                values[name] = model_field.clean(choice_value(spec, name, value), None)
            else:
                values[name] = model_field.clean(value, None)
        except ValueError as exc:
            raise ValueError(f"field {name!r}: {exc}") from None
        except (ValidationError, TypeError) as exc:
            msgs = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            raise ValueError(f"field {name!r}: {'; '.join(msgs)}") from None
    missing = [
        f
        for f in required_fields(model)
        if values.get(fields[f].attname) in (None, "") and values.get(f) in (None, "")
    ]
    if missing:
        raise ValueError(f"missing required field(s): {', '.join(missing)}")
    return Record(source_id=record.source_id, values=values, geom=geom, label=record.label)


# --- writing ---------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, GEOSGeometry) or isinstance(b, GEOSGeometry):
        return a is not None and b is not None and a.equals_exact(b, 0)
    return a == b


def records_write(
    *,
    spec: LayerSpec,
    source: str,
    records: list[Record],
    report: ImportReport,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Upsert cleaned records on (source, source_id); returns source_id → primary key.

    Must run inside a transaction. The search key of addressed layers is recomputed on each row
    before it is compared, so a changed address updates it too.
    """
    model = spec.model
    geom_name = _geom_field(model).name
    ids: dict[str, int] = {}
    now = timezone.now()
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        existing = {
            obj.source_id: obj
            for obj in model.objects.filter(
                source=source, source_id__in=[r.source_id for r in batch]
            )
        }
        to_create, to_update, update_fields = [], [], set()
        for record in batch:
            obj = existing.get(record.source_id)
            new = model(source=source, source_id=record.source_id, **record.values)
            setattr(new, geom_name, record.geom)
            if hasattr(new, "refresh_search_key"):
                new.refresh_search_key()
            if obj is None:
                to_create.append(new)
                continue
            changed = [
                f.attname
                for f in model._meta.concrete_fields
                if f.attname not in {"id", "created_at", "updated_at"}
                and not getattr(f, "generated", False)
                and not _same(getattr(obj, f.attname), getattr(new, f.attname))
            ]
            if changed:
                for name in changed:
                    setattr(obj, name, getattr(new, name))
                obj.updated_at = now
                update_fields.update(changed)
                to_update.append(obj)
            else:
                report.count(spec.name, "unchanged")
            ids[record.source_id] = obj.pk
        for obj in model.objects.bulk_create(to_create, batch_size=BATCH):
            ids[obj.source_id] = obj.pk
        if to_update:
            model.objects.bulk_update(to_update, [*update_fields, "updated_at"], batch_size=500)
        report.count(spec.name, "created", len(to_create))
        report.count(spec.name, "updated", len(to_update))
        if progress:
            progress(len(batch))
    return ids


def records_validate(
    spec: LayerSpec, records: Iterable[Record], report: ImportReport, *, dayfirst: bool = False
) -> list[Record]:
    """Cleaned records; the rejected ones go to the report with their reason."""
    clean, seen = [], set()
    for record in records:
        report.read += 1
        if record.source_id in seen:
            report.rejected.append(
                Rejection(spec.name, record.label or record.source_id, "duplicate id in the source")
            )
            continue
        seen.add(record.source_id)
        try:
            clean.append(clean_record(spec, record, dayfirst=dayfirst))
        except ValueError as exc:
            report.rejected.append(Rejection(spec.name, record.label or record.source_id, str(exc)))
    return clean


def check_rejections(report: ImportReport, *, skip_invalid: bool) -> None:
    """All or nothing: abort (before anything is written) unless told to skip invalid rows."""
    if report.rejected and not skip_invalid:
        raise ImportAborted(report)
