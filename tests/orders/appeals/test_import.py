"""import_appeals: the 311 preset, idempotence, unusable coordinates, reports, the real sample."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.core.management.base import CommandError

from orders.appeals.models import Appeal, AppealHistory
from orders.appeals.presets import BALTIMORE_311
from tests.orders.appeals.conftest import at

pytestmark = pytest.mark.django_db
COLUMNS = [
    "SRRecordID",
    "ServiceRequestNum",
    "SRType",
    "MethodReceived",
    "CreatedDate",
    "SRStatus",
    "StatusDate",
    "DueDate",
    "CloseDate",
    "Agency",
    "Address",
    "Latitude",
    "Longitude",
]
SAMPLE = Path(settings.SHARED_DATA_DIR) / "311-baltimore" / "baltimore_311_sample_2014-2019.csv"


def row(record: str, **fields: str) -> dict[str, str]:
    near_street = at(0, 6)
    base = {
        "SRRecordID": record,
        "ServiceRequestNum": f"18-{record}",
        "SRType": "TRM-Pothole Repair",
        "MethodReceived": "Phone",
        "CreatedDate": "04/12/2018 11:11:26 AM",
        "SRStatus": "Closed",
        "StatusDate": "04/12/2018 12:45:48 PM",
        "DueDate": "04/15/2018 11:11:26 AM",
        "CloseDate": "04/12/2018 12:45:47 PM",
        "Agency": "Transportation",
        "Address": "3400 GARRISON BLVD, BALTIMORE, MD, 21215",
        "Latitude": str(near_street.y),
        "Longitude": str(near_street.x),
    }
    return {**base, **fields}


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def sample(tmp_path, city, categories) -> Path:
    return write(
        tmp_path / "311.csv",
        [
            row("1"),
            # The placeholder point: geocoded from the address (the house of the test city).
            row("2", Latitude="39", Longitude="-77", Address="12 MAIN ST, BALTIMORE, MD, 21224"),
            # No coordinates and an address the city does not know: unlocated, flagged.
            row("3", Latitude="NA", Longitude="NA", Address="999 NOWHERE AVE, BC"),
            # A type the preset does not map: filed under "other", still open.
            row(
                "4",
                SRType="FIR-Fire Smoke Alarm Installation Request",
                SRStatus="Open",
                CloseDate="NA",
            ),
            # Outside the city's bounds: the same as a placeholder.
            row("5", Latitude="39.6", Longitude="-76.4", Address="1 FAR RD, TOWSON"),
        ],
    )


def test_import_keeps_dates_status_and_history_and_links(run_command, sample, city):
    result = run_command("import_appeals", str(sample), "--mapping", "baltimore311")
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith(
        "import_appeals: read 5, created 5, updated 0, unchanged 0, rejected 0"
    )
    first = Appeal.objects.get(source="baltimore311", source_id="1")
    assert first.number.startswith("A-2018-")
    assert first.category.code == "pothole" and first.channel == "phone"
    assert first.status == "archived"
    assert first.received_at.isoformat() == "2018-04-12T15:11:26+00:00"  # 11:11 EDT
    assert first.closed_at.isoformat() == "2018-04-12T16:45:47+00:00"
    assert first.done_at == first.closed_at
    assert first.sla_due.isoformat() == "2018-04-15T15:11:26+00:00"
    assert (first.linked_layer, first.linked_id) == ("streets", city["street"].pk)
    assert first.link_distance_m == pytest.approx(6, abs=0.5)
    assert first.link_candidates[0]["id"] == city["street"].pk
    assert first.text == "TRM-Pothole Repair (Transportation); 311 request 18-1"
    history = list(first.history.values_list("action", "from_status", "to_status", "at"))
    assert [h[:3] for h in history] == [("registered", "", "new"), ("status", "new", "archived")]
    assert history[0][3] == first.received_at and history[1][3] == first.closed_at


def test_placeholder_missing_and_outside_points_are_geocoded_or_flagged(run_command, sample, city):
    result = run_command("import_appeals", str(sample), "--mapping", "baltimore311")
    assert "3 rows without usable coordinates (1 at a placeholder point, 1 missing, 1 outside" in (
        result.stdout
    )
    assert "1 geocoded from the address, 2 left unlocated" in result.stdout
    geocoded = Appeal.objects.get(source_id="2")
    assert geocoded.located_by == "geocoded"
    assert geocoded.geom.distance(city["house"].geom.point_on_surface) < 1e-4
    for source_id in ("3", "5"):
        lost = Appeal.objects.get(source_id=source_id)
        assert lost.geom is None and lost.needs_attention and lost.linked_layer == ""
    assert not Appeal.objects.filter(geom__dwithin=(Point(-77, 39, srid=4326), 0.01)).exists()


def test_unknown_types_go_to_other_and_are_reported(run_command, sample):
    result = run_command("import_appeals", str(sample), "--mapping", "baltimore311")
    other = Appeal.objects.get(source_id="4")
    assert other.category.code == "other" and other.status == "assigned"
    assert other.closed_at is None
    assert "1 rows of 1 types not in the mapping" in result.stdout
    assert "FIR-Fire Smoke Alarm Installation Request (1)" in result.stdout


def test_a_second_run_changes_nothing_and_a_changed_row_is_updated(run_command, sample, tmp_path):
    run_command("import_appeals", str(sample), "--mapping", "baltimore311")
    history = AppealHistory.objects.count()
    numbers = set(Appeal.objects.values_list("number", flat=True))
    again = run_command("import_appeals", str(sample), "--mapping", "baltimore311")
    assert "created 0, updated 0, unchanged 5, rejected 0" in again.stdout
    assert AppealHistory.objects.count() == history
    assert set(Appeal.objects.values_list("number", flat=True)) == numbers
    rows = list(csv.DictReader(sample.open()))
    rows[3].update(SRStatus="Closed", CloseDate="04/20/2018 09:00:00 AM")
    changed = write(tmp_path / "changed.csv", rows)
    third = run_command("import_appeals", str(changed), "--mapping", "baltimore311")
    assert "created 0, updated 1, unchanged 4" in third.stdout
    appeal = Appeal.objects.get(source_id="4")
    assert appeal.status == "archived"
    last = appeal.history.order_by("-id").first()
    assert (last.action, last.from_status, last.to_status) == ("imported", "assigned", "archived")


def test_a_bad_row_aborts_unless_skip_invalid_and_the_report_lists_it(
    run_command, sample, tmp_path, categories
):
    rows = list(csv.DictReader(sample.open()))
    rows.append(row("6", CreatedDate="yesterday"))
    rows.append(row("7", SRStatus="Lost"))
    rows.append(row("1"))
    bad = write(tmp_path / "bad.csv", rows)
    with pytest.raises(CommandError, match="3 rows rejected, nothing was written"):
        run_command("import_appeals", str(bad), "--mapping", "baltimore311")
    assert not Appeal.objects.exists()
    report = tmp_path / "report.json"
    result = run_command(
        "import_appeals",
        str(bad),
        "--mapping",
        "baltimore311",
        "--skip-invalid",
        "--report",
        str(report),
    )
    assert "created 5" in result.stdout and "rejected 3" in result.stdout
    data = json.loads(report.read_text())
    reasons = [r["reason"] for r in data["rejected"]]
    assert any("CreatedDate 'yesterday' is not a date" in r for r in reasons)
    assert any("SRStatus 'Lost' is not in the status map" in r for r in reasons)
    assert "duplicate id in the source" in reasons
    assert [u.split(":")[0] for u in data["unlocated"]] == ["row 4 (id 3)", "row 6 (id 5)"]


def test_mapping_errors_are_usage_errors(run_command, sample, tmp_path, categories):
    with pytest.raises(CommandError, match="no preset or file"):
        run_command("import_appeals", str(sample), "--mapping", "atlantis")
    custom = tmp_path / "mapping.json"
    custom.write_text(json.dumps({**BALTIMORE_311, "address": "Street"}))
    with pytest.raises(CommandError, match="lacks the mapped columns: Street"):
        run_command("import_appeals", str(sample), "--mapping", str(custom))
    custom.write_text(json.dumps({**BALTIMORE_311, "colour": "red"}))
    with pytest.raises(CommandError, match="unknown mapping keys: colour"):
        run_command("import_appeals", str(sample), "--mapping", str(custom))
    custom.write_text("{")
    with pytest.raises(CommandError, match="cannot read"):
        run_command("import_appeals", str(sample), "--mapping", str(custom))
    with pytest.raises(CommandError, match="cannot read"):
        run_command("import_appeals", str(tmp_path / "none.csv"), "--mapping", "baltimore311")


def test_a_json_mapping_file_works_like_the_preset(run_command, sample, tmp_path):
    custom = tmp_path / "mapping.json"
    custom.write_text(json.dumps({**BALTIMORE_311, "source": "b311-copy"}))
    result = run_command("import_appeals", str(sample), "--mapping", str(custom))
    assert "created 5" in result.stdout
    assert Appeal.objects.filter(source="b311-copy").count() == 5


@pytest.mark.e2e
def test_the_real_sample_imports_whole_and_never_at_the_placeholder(run_command, categories):
    if not SAMPLE.is_file():
        pytest.skip(f"sample missing: {SAMPLE}")
    first = run_command("import_appeals", str(SAMPLE), "--mapping", "baltimore311")
    assert "read 10,000, created 10,000, updated 0, unchanged 0, rejected 0" in first.stdout
    assert "885 at a placeholder point, 590 missing" in first.stdout
    assert Appeal.objects.count() == 10_000
    assert not Appeal.objects.filter(
        geom__distance_lte=(Point(-77, 39, srid=4326), D(km=5))
    ).exists()
    west, south, east, north = BALTIMORE_311["bounds"]
    located = Appeal.objects.filter(located_by="point")
    assert located.count() > 8_000
    for lon, lat in (a.geom.coords for a in located.only("geom")):
        assert west <= lon <= east and south <= lat <= north
    unlocated = Appeal.objects.filter(geom__isnull=True)
    assert unlocated.count() > 0 and not unlocated.filter(needs_attention=False).exists()
    assert Appeal.objects.filter(status="duplicate").count() == 217
    second = run_command("import_appeals", str(SAMPLE), "--mapping", "baltimore311")
    assert "created 0, updated 0, unchanged 10,000, rejected 0" in second.stdout
