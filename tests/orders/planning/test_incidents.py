"""Incidents: `import_layer incidents FILE` (the services' records), and the demo's 311 breaks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from layers.models import NetworkKind, NetworkSegment
from orders.planning.demo import DEMO_311_FILE, demo_load, incident_records_311
from orders.planning.models import Incident, UnitCost, YardPlan
from tests.factories import CommandRun, line
from tests.orders.planning.conftest import offset

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]


def write(path: Path, rows: list[dict]) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {k: v for k, v in row.items() if k not in ("lon", "lat")},
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        }
        for row in rows
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_import_layer_loads_incidents_keyed_on_their_id(
    run_command: RunCommand, tmp_path: Path
) -> None:
    segment = NetworkSegment.objects.create(
        source="test", source_id="s", kind=NetworkKind.WATER, geom=line()
    )
    lon, lat = offset(10, 10)
    rows = [
        {"id": "W-1", "kind": "water", "occurred_on": "2024-03-05", "lon": lon, "lat": lat},
        {
            "id": "W-2",
            "kind": "water",
            "occurred_on": "2024-04-01",
            "description": "main burst",
            "segment": segment.pk,
            "lon": lon,
            "lat": lat,
        },
    ]
    path = write(tmp_path / "breaks.geojson", rows)
    result = run_command("import_layer", "incidents", str(path))
    assert "created 2" in result.stdout
    incidents = {i.source_id: i for i in Incident.objects.all()}
    assert incidents["W-1"].occurred_on == date(2024, 3, 5)
    assert incidents["W-1"].segment is None
    assert incidents["W-2"].segment == segment
    assert incidents["W-2"].source == "file:breaks"
    # The same file again changes nothing.
    assert (
        "created 0, updated 0, unchanged 2"
        in run_command("import_layer", "incidents", str(path)).stdout
    )


def test_an_incident_needs_a_known_kind_and_a_date(run_command: RunCommand, tmp_path: Path) -> None:
    lon, lat = offset(0, 0)
    path = write(
        tmp_path / "bad.geojson",
        [
            {"id": "1", "kind": "lava", "occurred_on": "2024-03-05", "lon": lon, "lat": lat},
            {"id": "2", "kind": "water", "lon": lon, "lat": lat},
        ],
    )
    with pytest.raises(CommandError, match="2 rows rejected"):
        run_command("import_layer", "incidents", str(path))
    assert not Incident.objects.exists()


@pytest.mark.e2e
def test_the_demo_takes_the_311_break_requests_and_leaves_placeholders_out() -> None:
    if not DEMO_311_FILE.is_file():
        pytest.skip(f"311 sample missing: {DEMO_311_FILE}")
    records = incident_records_311(path=DEMO_311_FILE)
    kinds = [r.values["kind"] for r in records]
    # SOURCE.md: 186 geocoded exterior water leaks, 3 of them on the 39, -76 placeholder; 13 sewer
    # overflows.
    assert (kinds.count("water"), kinds.count("sewer")) == (183, 13)
    assert all(not (r.geom.x.is_integer() and r.geom.y.is_integer()) for r in records)
    assert all(-76.9 < r.geom.x < -76.3 and 39.1 < r.geom.y < 39.7 for r in records)
    assert len({r.source_id for r in records}) == len(records)
    assert str(settings.SHARED_DATA_DIR) in str(DEMO_311_FILE)


@pytest.mark.e2e
def test_the_demo_seed_loads_the_breaks_and_a_plan_once(yards: dict) -> None:
    if not DEMO_311_FILE.is_file():
        pytest.skip(f"311 sample missing: {DEMO_311_FILE}")
    UnitCost.objects.all().delete()  # as after a flush: the demo restores its placeholders
    first = demo_load()
    assert Incident.objects.filter(source="baltimore-311").count() == 196
    plan = YardPlan.objects.get(year=timezone.localdate().year, is_record=True)
    assert plan.items.count() == 4 and plan.note.startswith("Demo plan")
    assert "created 196" in first[0]
    again = demo_load()
    assert "created 0, updated 0, unchanged 196" in again[0]
    assert len(again) == 1 and YardPlan.objects.count() == 1
