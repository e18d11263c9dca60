"""Importing appeals from another system's CSV export (a 311 dump), idempotent by source id.

A mapping (``orders.appeals.presets`` or a JSON file of the same shape) says which columns hold
what. Every row keeps its dates (received, status, due, closed) and its status, mapped to ours,
with a history row for its receipt and one for its status. Coordinates that are missing, a known
placeholder or outside the city's bounds are never used: the address is geocoded (the exact
house only) or the appeal stays unlocated and flagged. Located appeals are linked to the nearest
object of their category's layer like any other appeal.

As for every importer: all or nothing unless ``skip_invalid``; a second run of the same file
creates and updates nothing; the report names every rejected and every unlocated row.
"""

from __future__ import annotations

import csv
import json
import math
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.gis.geos import GEOSGeometry, Point
from django.contrib.postgres.fields import ArrayField
from django.db import transaction
from django.db.models import BigIntegerField, BooleanField, Count, F, Func, Q, Value
from django.utils import timezone

from importers.records import ImportReport, Rejection, check_rejections
from orders.appeals.lifecycle import OPEN_STATUSES
from orders.appeals.models import Appeal, AppealHistory, Category
from orders.appeals.presets import PRESETS
from orders.appeals.selectors import addresses_locate
from orders.appeals.services.linking import appeals_link_bulk
from orders.appeals.services.registration import appeal_numbers_next

LAYER = "appeals"
BATCH = 2000
S = Appeal.Status
# What an import sets on an appeal; a re-import compares these and nothing else (a link an
# operator corrected, or a status moved since, is not the source's to undo unless it changed).
IMPORTED = (
    "category_id",
    "organisation_id",
    "priority",
    "channel",
    "status",
    "text",
    "address",
    "geom",
    "located_by",
    "received_at",
    "sla_due",
    "done_at",
    "closed_at",
)
MAPPING_KEYS = frozenset(
    {
        "source",
        "id",
        "category",
        "channel",
        "status",
        "text",
        "address",
        "lat",
        "lon",
        "received_at",
        "status_at",
        "closed_at",
        "sla_due",
        "date_formats",
        "timezone",
        "missing",
        "placeholder_points",
        "bounds",
    }
)
REQUIRED_KEYS = ("source", "id", "category", "status", "received_at")


class MappingError(ValueError):
    """The mapping itself is wrong (unknown key, column, category or status)."""


@dataclass(frozen=True, slots=True)
class Choice:
    column: str
    map: dict[str, str]
    default: str | None = None


@dataclass(frozen=True, slots=True)
class AppealMapping:
    source: str
    id: str
    category: Choice
    status: Choice
    received_at: str
    channel: Choice | None = None
    text: str = ""
    address: str = ""
    lat: str = ""
    lon: str = ""
    status_at: str = ""
    closed_at: str = ""
    sla_due: str = ""
    date_formats: tuple[str, ...] = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S")
    timezone: str = "UTC"
    missing: tuple[str, ...] = ("",)
    placeholder_points: tuple[tuple[float, float], ...] = ()
    bounds: tuple[float, float, float, float] | None = None

    @property
    def columns(self) -> set[str]:
        """Every column the mapping reads, the text template's too."""
        names = {self.id, self.category.column, self.status.column, self.received_at}
        names |= {self.address, self.lat, self.lon, self.status_at, self.closed_at, self.sla_due}
        if self.channel:
            names.add(self.channel.column)
        names |= {n for _, n, _, _ in string.Formatter().parse(self.text) if n}
        return {n for n in names if n}


def _choice(data: Any, key: str, *, needs_map: bool = True) -> Choice:
    if not isinstance(data, dict) or not isinstance(data.get("column"), str):
        raise MappingError(f"mapping {key!r} must be an object with a 'column'")
    values = data.get("map", {})
    if not isinstance(values, dict) or (needs_map and not values):
        raise MappingError(f"mapping {key!r} needs a 'map' of source values to ours")
    return Choice(column=data["column"], map=dict(values), default=data.get("default"))


def mapping_from(data: dict[str, Any]) -> AppealMapping:
    """A mapping from its JSON shape; MappingError names what is wrong."""
    if not isinstance(data, dict):
        raise MappingError("a mapping is a JSON object")
    unknown = sorted(set(data) - MAPPING_KEYS)
    if unknown:
        raise MappingError(f"unknown mapping keys: {', '.join(unknown)}")
    missing = [k for k in REQUIRED_KEYS if not data.get(k)]
    if missing:
        raise MappingError(f"the mapping lacks: {', '.join(missing)}")
    status = _choice(data["status"], "status")
    bad = sorted(set(status.map.values()) - set(S.values))
    if bad:
        raise MappingError(f"status map names unknown statuses: {', '.join(bad)}")
    channel = _choice(data["channel"], "channel", needs_map=False) if "channel" in data else None
    if channel:
        bad = sorted(set(channel.map.values()) | {channel.default or "import"})
        bad = [c for c in bad if c not in Appeal.Channel.values]
        if bad:
            raise MappingError(f"channel map names unknown channels: {', '.join(bad)}")
    try:
        ZoneInfo(data.get("timezone", "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"unknown time zone {data.get('timezone')!r}") from None
    bounds = data.get("bounds")
    return AppealMapping(
        source=str(data["source"])[:32],
        id=data["id"],
        category=_choice(data["category"], "category", needs_map=False),
        status=status,
        received_at=data["received_at"],
        channel=channel,
        text=data.get("text", ""),
        address=data.get("address", ""),
        lat=data.get("lat", ""),
        lon=data.get("lon", ""),
        status_at=data.get("status_at", ""),
        closed_at=data.get("closed_at", ""),
        sla_due=data.get("sla_due", ""),
        date_formats=tuple(data.get("date_formats") or AppealMapping.date_formats),
        timezone=data.get("timezone", "UTC"),
        missing=tuple(data.get("missing", ("",))),
        placeholder_points=tuple(tuple(p) for p in data.get("placeholder_points", ())),
        bounds=tuple(bounds) if bounds else None,
    )


def mapping_load(name_or_path: str) -> AppealMapping:
    """A preset by name, or a JSON mapping file."""
    if name_or_path in PRESETS:
        return mapping_from(PRESETS[name_or_path])
    path = Path(name_or_path)
    if not path.is_file():
        raise MappingError(
            f"no preset or file {name_or_path!r} (presets: {', '.join(sorted(PRESETS))})"
        )
    try:
        return mapping_from(json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        raise MappingError(f"cannot read {path}: {exc}") from None


@dataclass(slots=True)
class AppealImportReport(ImportReport):
    unlocated: list[str] = field(default_factory=list)
    """Rows left without a point (their coordinates unusable, their address not found)."""
    unknown_types: Counter[str] = field(default_factory=Counter)
    why: Counter[str] = field(default_factory=Counter)
    """Rows by why their coordinates were not used, and how many were geocoded."""


@dataclass(slots=True)
class Row:
    source_id: str
    label: str
    values: dict[str, Any]
    status_at: datetime
    source_status: str
    address_only: bool
    """Its coordinates were unusable: locate by the address."""


# --- reading ---------------------------------------------------------------------------------


class RowError(ValueError):
    pass


class Reader:
    """Turns CSV rows into appeal field values by a mapping."""

    def __init__(self, mapping: AppealMapping, categories: dict[str, Category]) -> None:
        self.mapping = mapping
        self.categories = categories
        self.zone = ZoneInfo(mapping.timezone)
        self.missing = set(mapping.missing)

    def text(self, row: dict[str, str], column: str) -> str:
        value = (row.get(column) or "").strip() if column else ""
        return "" if value in self.missing else value

    def date(self, row: dict[str, str], column: str, *, required: bool = False) -> datetime | None:
        raw = self.text(row, column)
        if not raw:
            if required:
                raise RowError(f"missing {column}")
            return None
        for fmt in self.mapping.date_formats:
            try:
                value = datetime.strptime(raw, fmt)
            except ValueError:
                continue
            if value.tzinfo is None:
                value = value.replace(tzinfo=self.zone)
            # In UTC at once: a local time in a DST gap or fold never compares equal to the
            # stored one otherwise (PEP 495), and a re-import would "update" it every time.
            return value.astimezone(UTC)
        raise RowError(f"{column} {raw!r} is not a date ({' or '.join(self.mapping.date_formats)})")

    def point(self, row: dict[str, str]) -> tuple[Point | None, str]:
        """The row's point, or None and why not: missing, placeholder, outside the city."""
        lat, lon = self.text(row, self.mapping.lat), self.text(row, self.mapping.lon)
        if not lat or not lon:
            return None, "missing"
        try:
            x, y = float(lon), float(lat)
        except ValueError:
            return None, "missing"
        if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
            return None, "missing"
        if any(
            abs(x - px) < 1e-9 and abs(y - py) < 1e-9 for px, py in self.mapping.placeholder_points
        ):
            return None, "placeholder"
        bounds = self.mapping.bounds
        if bounds and not (bounds[0] <= x <= bounds[2] and bounds[1] <= y <= bounds[3]):
            return None, "outside"
        return Point(x, y, srid=4326), ""

    def read(self, row: dict[str, str], line: int, report: AppealImportReport) -> Row:
        m = self.mapping
        source_id = self.text(row, m.id)
        if not source_id:
            raise RowError(f"missing {m.id}")
        if len(source_id) > 64:
            raise RowError(f"{m.id} is longer than 64 characters")
        kind = self.text(row, m.category.column)
        code = m.category.map.get(kind)
        if code is None:
            code = m.category.default
            report.unknown_types[kind or "(none)"] += 1
        category = self.categories.get(code or "")
        if category is None:
            raise RowError(f"{m.category.column} {kind!r}: no category (and no default)")
        source_status = self.text(row, m.status.column)
        status = m.status.map.get(source_status, m.status.default)
        if status is None:
            raise RowError(f"{m.status.column} {source_status!r} is not in the status map")
        channel = Appeal.Channel.IMPORT
        if m.channel:
            method = self.text(row, m.channel.column)
            channel = m.channel.map.get(method, m.channel.default or Appeal.Channel.IMPORT)
        received_at = self.date(row, m.received_at, required=True)
        status_at = self.date(row, m.status_at) or received_at
        closed_at = None
        if status not in OPEN_STATUSES:
            closed_at = self.date(row, m.closed_at) or status_at
        point, why = self.point(row)
        if why:
            report.why[why] += 1
        try:
            text = m.text.format_map(_Blank({k: self.text(row, k) for k in row}))
        except (ValueError, IndexError) as exc:
            raise RowError(f"text template: {exc}") from None
        values = {
            "category_id": category.pk,
            "organisation_id": category.organisation_id,
            "priority": category.priority,
            "channel": channel,
            "status": status,
            "text": text,
            "address": self.text(row, m.address)[:255],
            "geom": point,
            "located_by": "point" if point else "",
            "received_at": received_at,
            "sla_due": self.date(row, m.sla_due),
            "done_at": closed_at if status in (S.DONE, S.ARCHIVED) else None,
            "closed_at": closed_at,
        }
        return Row(
            source_id=source_id,
            label=f"row {line} (id {source_id})",
            values=values,
            status_at=status_at,
            source_status=source_status,
            address_only=point is None,
        )


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


# --- the import ------------------------------------------------------------------------------


def appeals_import(
    *,
    path: Path,
    mapping: AppealMapping,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> AppealImportReport:
    """Import a CSV of appeals; see the module's docstring."""
    report = AppealImportReport()
    now = now or timezone.now()
    categories = {c.code: c for c in Category.objects.all()}
    unknown = sorted(
        {c for c in mapping.category.map.values()} | {mapping.category.default or "other"}
    )
    unknown = [c for c in unknown if c not in categories]
    if unknown:
        raise MappingError(
            f"categories not in the database: {', '.join(unknown)} "
            "(load them: manage.py load_categories)"
        )
    rows = _read(path, mapping, categories, report, progress)
    check_rejections(report, skip_invalid=skip_invalid)
    _locate(rows, report)
    with transaction.atomic():
        changed_ids = _write(mapping.source, rows, report, now)
        linked = _link(changed_ids, categories)
    _notes(report, linked)
    return report


def _read(
    path: Path,
    mapping: AppealMapping,
    categories: dict[str, Category],
    report: AppealImportReport,
    progress: Callable[[int], None] | None,
) -> list[Row]:
    reader = Reader(mapping, categories)
    rows: list[Row] = []
    seen: set[str] = set()
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise FileNotFoundError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        table = csv.DictReader(handle)
        header = set(table.fieldnames or ())
        missing = sorted(mapping.columns - header)
        if missing:
            raise MappingError(
                f"{path.name} lacks the mapped columns: {', '.join(missing)} "
                f"(it has: {', '.join(sorted(header)) or 'no header'})"
            )
        try:
            for line, raw in enumerate(table, start=2):
                report.read += 1
                try:
                    row = reader.read(raw, line, report)
                    if row.source_id in seen:
                        raise RowError("duplicate id in the source")
                    seen.add(row.source_id)
                    rows.append(row)
                except RowError as exc:
                    report.rejected.append(Rejection(LAYER, f"row {line}", str(exc)))
                if progress and report.read % 500 == 0:
                    progress(500)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read {path.name}: {exc}") from None
    if progress:
        progress(report.read % 500)
    return rows


def _locate(rows: list[Row], report: AppealImportReport) -> None:
    """Geocode the rows whose coordinates are unusable; the rest of them stay unlocated."""
    wanted = [r for r in rows if r.address_only]
    found = addresses_locate(addresses=[r.values["address"] for r in wanted])
    for row in wanted:
        point = found.get(row.values["address"])
        if point is not None:
            row.values["geom"], row.values["located_by"] = point, "geocoded"
            report.why["geocoded"] += 1
        else:
            report.unlocated.append(f"{row.label}: {row.values['address'] or 'no address'}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, GEOSGeometry) or isinstance(b, GEOSGeometry):
        return a is not None and b is not None and a.equals_exact(b, 1e-9)
    return a == b


def _write(source: str, rows: list[Row], report: AppealImportReport, now: datetime) -> list[int]:
    """Create the new rows, update the changed ones; returns the ids to (re)link."""
    relink: list[int] = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        existing = {
            a.source_id: a
            for a in Appeal.objects.filter(
                source=source, source_id__in=[r.source_id for r in batch]
            )
        }
        new_rows = [r for r in batch if r.source_id not in existing]
        numbers = appeal_numbers_next(
            years=[timezone.localtime(r.values["received_at"]).year for r in new_rows]
        )
        created = Appeal.objects.bulk_create(
            [
                Appeal(
                    number=number,
                    source=source,
                    source_id=row.source_id,
                    needs_attention=row.values["geom"] is None,
                    **row.values,
                )
                for row, number in zip(new_rows, numbers, strict=True)
            ],
            batch_size=BATCH,
        )
        history = []
        for appeal, row in zip(created, new_rows, strict=True):
            history += _created_history(appeal, row)
            relink.append(appeal.pk)
        updated = []
        for row in batch:
            appeal = existing.get(row.source_id)
            if appeal is None:
                continue
            changed = [f for f in IMPORTED if not _same(getattr(appeal, f), row.values[f])]
            if not changed:
                report.count(LAYER, "unchanged")
                continue
            before = appeal.status
            for name in changed:
                setattr(appeal, name, row.values[name])
            appeal.updated_at = now
            updated.append(appeal)
            history.append(
                AppealHistory(
                    appeal=appeal,
                    at=now,
                    by_label="import",
                    action="imported",
                    from_status=before if before != appeal.status else "",
                    to_status=appeal.status if before != appeal.status else "",
                    comment=f"updated from {source}: {', '.join(changed)}",
                    data={"source_status": row.source_status},
                )
            )
            if {"geom", "category_id"} & set(changed):
                relink.append(appeal.pk)
        if updated:
            Appeal.objects.bulk_update(updated, [*IMPORTED, "updated_at"], batch_size=500)
        AppealHistory.objects.bulk_create(history, batch_size=BATCH)
        report.count(LAYER, "created", len(created))
        report.count(LAYER, "updated", len(updated))
    return relink


def _created_history(appeal: Appeal, row: Row) -> list[AppealHistory]:
    rows = [
        AppealHistory(
            appeal=appeal,
            at=appeal.received_at,
            by_label="import",
            action="registered",
            to_status=S.NEW,
            comment=f"imported from {appeal.source} ({appeal.source_id})",
            data={"channel": appeal.channel, "located_by": appeal.located_by},
        )
    ]
    if appeal.status != S.NEW:
        rows.append(
            AppealHistory(
                appeal=appeal,
                at=appeal.closed_at or row.status_at,
                by_label="import",
                action="status",
                from_status=S.NEW,
                to_status=appeal.status,
                comment=f"status at the source: {row.source_status}",
            )
        )
    return rows


def _link(ids: list[int], categories: dict[str, Category]) -> Counter[str]:
    """Link the created and moved appeals, a few statements per category (appeals_link_bulk)."""
    by_id = {c.pk: c for c in categories.values()}
    # One array parameter, not ten thousand: psycopg and Django pay per parameter.
    appeals = Appeal.objects.filter(
        Func(
            F("pk"),
            Value(ids, output_field=ArrayField(BigIntegerField())),
            arg_joiner=" = ANY(",
            template="%(expressions)s)",
            output_field=BooleanField(),
        )
    )
    appeals.filter(geom__isnull=True).update(
        link_candidates=[], needs_attention=True, **_unlinked()
    )
    for category_id in set(appeals.values_list("category_id", flat=True)):
        category = by_id[category_id]
        mine = appeals.filter(category_id=category_id, geom__isnull=False)
        if category.layer:
            appeals_link_bulk(layer=category.layer, radius_m=category.link_radius_m, appeals=mine)
        else:
            mine.update(link_candidates=[], needs_attention=False, **_unlinked())
    located, with_layer = Q(geom__isnull=False), ~Q(category__layer="")
    return Counter(
        appeals.aggregate(
            linked=Count("pk", filter=Q(linked_id__isnull=False)),
            unlinked=Count("pk", filter=located & with_layer & Q(linked_id__isnull=True)),
            no_layer=Count("pk", filter=located & ~with_layer),
        )
    )


def _unlinked() -> dict[str, Any]:
    return {
        "linked_layer": "",
        "linked_id": None,
        "link_distance_m": None,
        "link_method": Appeal.LinkMethod.NONE,
    }


def _notes(report: AppealImportReport, linked: Counter[str]) -> None:
    why = report.why
    unusable = why["missing"] + why["placeholder"] + why["outside"]
    if unusable:
        report.notes.append(
            f"{unusable:,} rows without usable coordinates ({why['placeholder']:,} at a "
            f"placeholder point, {why['missing']:,} missing, {why['outside']:,} outside the "
            f"city): {why['geocoded']:,} geocoded from the address, {len(report.unlocated):,} "
            "left unlocated and flagged (--report lists them)"
        )
    if report.unknown_types:
        total = sum(report.unknown_types.values())
        top = ", ".join(f"{k} ({v})" for k, v in report.unknown_types.most_common(5))
        report.notes.append(
            f"{total:,} rows of {len(report.unknown_types)} types not in the mapping filed "
            f"under the default category; most frequent: {top}"
        )
    if sum(linked.values()):
        report.notes.append(
            f"linked to an object: {linked['linked']:,}; no object of the layer in range: "
            f"{linked['unlinked']:,}; category without a layer: {linked['no_layer']:,}"
        )
