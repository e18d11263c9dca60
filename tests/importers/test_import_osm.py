"""import_osm end to end on the real Baltimore extract (2015, east/central Baltimore)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.gis.geos import Polygon
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import CharField, Func, Model
from pytest_django import DjangoDbBlocker

from layers.models import (
    Building,
    BusRoute,
    BusStop,
    NetworkKind,
    NetworkSegment,
    Organisation,
    Playground,
    SportsField,
    Street,
)
from layers.registry import LAYERS
from tests.factories import CommandRun

# Around Patterson Park: a small part of the extract.
SMALL_BBOX = (-76.585, 39.285, -76.575, 39.295)
UNASSEMBLABLE_AREAS = ("osm w222550663", "osm w222550664")

RunCommand = Callable[..., CommandRun]


def summary_counts(stdout: str) -> dict[str, int]:
    """Read the numbers of the summary line: read, created, updated, unchanged, rejected."""
    line = next(line for line in stdout.splitlines() if line.startswith("import_osm:"))
    return {
        key: int(value.replace(",", ""))
        for key, value in re.findall(r"(read|created|updated|unchanged|rejected) ([\d,]+)", line)
    }


def ids_by_source_id(model: type[Model]) -> dict[str, int]:
    return dict(model.objects.values_list("source_id", "pk"))


def row_counts() -> dict[str, int]:
    return {name: spec.model.objects.count() for name, spec in LAYERS.items()}


@pytest.fixture(scope="class")
def imported(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker, osm_file: Path
) -> Iterator[CommandRun]:
    """Import the extract once per test class; roll it back after the class's last test."""
    stdout, stderr = StringIO(), StringIO()
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("import_osm", str(osm_file), stdout=stdout, stderr=stderr)
        # Each test runs in a savepoint inside this transaction (the db fixture), so what one
        # test writes the next never sees.
        yield CommandRun(stdout=stdout.getvalue(), stderr=stderr.getvalue())
        transaction.set_rollback(True)


@pytest.mark.e2e
@pytest.mark.usefixtures("imported", "db")
class TestImportedExtract:
    """What one import of the extract leaves in the layers."""

    def test_buildings_are_outlines_and_points(self) -> None:
        assert Building.objects.count() >= 1_900
        points = Building.objects.annotate(
            geom_type=Func("geom", function="GeometryType", output_field=CharField())
        ).filter(geom_type="POINT")
        assert points.count() == 228
        assert Building.objects.count() - points.count() == 1_736

    def test_buildings_carry_their_address_key(self) -> None:
        addressed = Building.objects.exclude(street="").exclude(housenumber="")
        assert addressed.exists()
        assert not addressed.filter(search_key="").exists()

    def test_playgrounds(self) -> None:
        assert Playground.objects.count() == 12

    def test_sports_fields(self) -> None:
        assert SportsField.objects.count() >= 40

    def test_networks_are_pipelines_and_power_lines(self) -> None:
        assert NetworkSegment.objects.count() == 14
        assert NetworkSegment.objects.filter(kind=NetworkKind.POWER).count() == 8
        assert NetworkSegment.objects.exclude(kind=NetworkKind.POWER).count() == 6

    def test_bus_routes(self) -> None:
        # 87 bus routes and the metro line; the 23 railway, 11 road, 7 train, 2 bicycle and
        # 1 hiking route relations are counted as skipped.
        assert BusRoute.objects.filter(kind="bus").count() == 87
        assert BusRoute.objects.filter(kind="subway").count() == 1
        assert BusRoute.objects.count() == 88

    def test_bus_stops(self) -> None:
        assert BusStop.objects.count() >= 50

    def test_streets(self) -> None:
        assert Street.objects.count() >= 3_000
        assert Street.objects.filter(kind="residential").exists()

    def test_rows_are_keyed_by_osm_id(self) -> None:
        assert set(Building.objects.values_list("source", flat=True)) == {"osm"}
        assert all(re.fullmatch(r"[nwr]\d+", s) for s in ids_by_source_id(Building))

    def test_unassemblable_areas_are_reported_rejected(self, imported: CommandRun) -> None:
        rejected = [line for line in imported.stderr.splitlines() if line.startswith("rejected")]
        assert len(rejected) == 2
        for row, line in zip(UNASSEMBLABLE_AREAS, rejected, strict=True):
            assert line.startswith(f"rejected buildings {row}: area could not be assembled")
        assert summary_counts(imported.stdout)["rejected"] == 2

    def test_second_run_changes_nothing(self, run_command: RunCommand, osm_file: Path) -> None:
        counts = row_counts()
        building_ids = ids_by_source_id(Building)
        route_ids = ids_by_source_id(BusRoute)
        last_update = Building.objects.latest("updated_at").updated_at

        second = run_command("import_osm", str(osm_file))

        summary = summary_counts(second.stdout)
        assert (summary["created"], summary["updated"]) == (0, 0)
        assert summary["unchanged"] == sum(counts.values())
        assert row_counts() == counts
        assert ids_by_source_id(Building) == building_ids
        assert ids_by_source_id(BusRoute) == route_ids
        assert not Building.objects.filter(updated_at__gt=last_update).exists()


@pytest.mark.e2e
@pytest.mark.django_db
def test_rejected_rows_with_strict_abort_and_write_nothing(
    run_command: RunCommand, osm_file: Path
) -> None:
    with pytest.raises(CommandError, match=r"2 rows rejected, nothing was written \(--strict"):
        run_command("import_osm", str(osm_file), "--strict")
    assert Building.objects.count() == 0
    assert set(row_counts().values()) == {0}
    assert not Organisation.objects.exists()


@pytest.mark.e2e
@pytest.mark.django_db
def test_bbox_limits_the_import(run_command: RunCommand, osm_file: Path) -> None:
    bbox = ",".join(str(v) for v in SMALL_BBOX)
    # "--bbox=": argparse would read a value starting with "-" as an option.
    run_command("import_osm", str(osm_file), f"--bbox={bbox}")
    area = Polygon.from_bbox(SMALL_BBOX)
    area.srid = 4326
    count = Building.objects.count()
    assert 0 < count < 1_900
    assert not Building.objects.exclude(geom__intersects=area).exists()
    assert not Street.objects.exclude(geom__intersects=area).exists()
    assert 0 < BusRoute.objects.count() < 87
    assert not BusRoute.objects.exclude(geom__intersects=area).exists()


@pytest.mark.parametrize(
    ("bbox", "reason"),
    [
        ("-76.6,39.2,-76.5", "west,south,east,north"),
        ("west,south,east,north", "west,south,east,north"),
        ("-76.5,39.2,-76.6,39.3", "west<east"),
        ("-76.6,39.2,-76.5,95", "within lon/lat limits"),
    ],
)
def test_bad_bbox_is_a_command_error(
    run_command: RunCommand, tmp_path: Path, bbox: str, reason: str
) -> None:
    extract = tmp_path / "city.osm"
    extract.write_text("<osm version='0.6'/>")
    with pytest.raises(CommandError, match=reason):
        run_command("import_osm", str(extract), f"--bbox={bbox}")


def test_missing_file_is_a_command_error(run_command: RunCommand, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.osm.pbf"
    with pytest.raises(CommandError, match="no such file"):
        run_command("import_osm", str(missing))
