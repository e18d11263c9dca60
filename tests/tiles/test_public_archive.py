"""The public archive: the worker's export of the public layers, and its byte-range route."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mapbox_vector_tile
import psycopg
import pytest
from django.conf import settings
from django.contrib.gis.geos import LineString, MultiPolygon, Point
from django.core.management.base import CommandError
from django.test import Client
from pmtiles.reader import Reader

from gis.roles import PUBLIC
from layers.models import Camera, Manhole, NetworkKind, NetworkSegment, Street
from layers.registry import LAYERS, source_layers
from tests.factories import CITY_LAT, CITY_LON, CommandRun, building, rectangle
from tests.tiles.test_export import archive_tiles
from tiles.asgi import conninfo
from tiles.services import PUBLIC_EXPORT_LOCK, ExportError, tiles_export_public

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]
URL = "/tiles/public.pmtiles"
SUMMARY = re.compile(
    r"^export_public_tiles: ([\d,]+) tiles \(([\d,]+) empty skipped\), ([\d,]+) bytes in "
    r"[\d.]+ s; (\d+) public layers to (.+)$"
)
RESTRICTED = {name for name, spec in LAYERS.items() if not spec.is_public}


@pytest.fixture
def archive(settings, tmp_path: Path) -> Path:
    """Where the export writes, over a few zooms only (fast)."""
    settings.PMTILES_PATH = tmp_path / "tiles" / "public.pmtiles"
    settings.PMTILES_MINZOOM = 14
    settings.PMTILES_MAXZOOM = 16
    settings.PMTILES_LAYERS = []
    settings.CITY_BBOX = None
    return settings.PMTILES_PATH


@pytest.fixture
def city() -> None:
    """Public buildings and a street, with a water main, a manhole and a camera on top of them."""
    building(
        geom=MultiPolygon(rectangle(30, 20), srid=4326),
        street="Eastern Avenue",
        housenumber="100",
        kind="house",
    )
    Street.objects.create(
        name="Eastern Avenue",
        kind="primary",
        geom=LineString((CITY_LON - 0.001, CITY_LAT), (CITY_LON + 0.001, CITY_LAT), srid=4326),
    )
    NetworkSegment.objects.create(
        source="test",
        source_id="w1",
        kind=NetworkKind.WATER,
        name="Main under Eastern Avenue",
        geom=LineString((CITY_LON - 0.001, CITY_LAT), (CITY_LON + 0.001, CITY_LAT), srid=4326),
    )
    Manhole.objects.create(kind=NetworkKind.WATER, geom=Point(CITY_LON, CITY_LAT, srid=4326))
    Camera.objects.create(name="Corner camera", geom=Point(CITY_LON, CITY_LAT, srid=4326))


def decoded_layers(path: Path) -> dict[str, list[dict]]:
    """Every feature's properties of every tile, by MVT layer."""
    _, _, tiles = archive_tiles(path)
    layers: dict[str, list[dict]] = {}
    for data in tiles.values():
        for name, layer in mapbox_vector_tile.decode(gzip.decompress(data)).items():
            layers.setdefault(name, []).extend(f["properties"] for f in layer["features"])
    return layers


# --- the export ------------------------------------------------------------------------------


# The job closes its connections as a worker's thread must: outside a test's transaction.
@pytest.mark.django_db(transaction=True)
def test_the_job_exports_the_public_layers_and_never_a_restricted_one(
    city: None, archive: Path
) -> None:
    from tiles.tasks import export_public_tiles

    summary = export_public_tiles(timestamp=0)

    counts = SUMMARY.match(summary)
    assert counts, summary
    assert int(counts[3].replace(",", "")) == archive.stat().st_size
    assert counts[5] == str(archive)
    header, metadata, tiles = archive_tiles(archive)
    assert int(counts[1].replace(",", "")) == len(tiles)
    assert (header["min_zoom"], header["max_zoom"]) == (14, 16)
    listed = [layer["id"] for layer in metadata["vector_layers"]]
    assert listed == [name for name, spec in LAYERS.items() if spec.is_public]
    assert int(counts[4]) == len(listed)
    assert metadata["attribution"] == "© OpenStreetMap contributors"
    assert metadata["exported"]

    found = decoded_layers(archive)
    # The water main, the manhole and the camera lie under the house: their rows are in every
    # tile the house is, and none of them is in the archive.
    assert {"buildings", "streets"} <= set(found)
    assert not RESTRICTED & set(found)
    for name, features in found.items():
        allowed = set(LAYERS[name].tile_properties_for(PUBLIC))
        assert all(set(props) <= allowed for props in features), name
    assert {p.get("housenumber") for p in found["buildings"]} == {"100"}
    assert all("Main under" not in str(props) for features in found.values() for props in features)


def test_a_restricted_layer_named_for_the_archive_is_refused(
    city: None, archive: Path, settings, run_command: RunCommand
) -> None:
    settings.PMTILES_LAYERS = ["buildings", "networks"]
    with pytest.raises(ExportError, match="restricted"):
        tiles_export_public()
    with pytest.raises(CommandError, match="public layers only"):
        run_command("export_public_tiles")
    assert not archive.exists()


def test_the_command_exports_as_the_job_does(
    city: None, archive: Path, settings, run_command: RunCommand
) -> None:
    settings.PMTILES_LAYERS = ["buildings"]
    run = run_command("export_public_tiles")
    counts = SUMMARY.match(run.stdout.strip())
    assert counts, run.stdout
    assert counts[4] == "1"
    _, metadata, _ = archive_tiles(archive)
    assert [layer["id"] for layer in metadata["vector_layers"]] == ["buildings"]


def test_a_new_archive_replaces_the_old_whole_and_a_failed_one_leaves_it(
    city: None, archive: Path
) -> None:
    tiles_export_public()
    old = archive.read_bytes()
    # A reader that opened the old archive keeps reading the old one, whole, after the export.
    with archive.open("rb") as reader:
        building(geom=MultiPolygon(rectangle(12, 12, lon=CITY_LON + 0.002), srid=4326))
        tiles_export_public()
        assert reader.read() == old
    new = archive.read_bytes()
    assert new != old
    assert sorted(p.name for p in archive.parent.iterdir()) == ["public.pmtiles"]

    def fail(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt  # the worker stopped mid-export

    with pytest.raises(KeyboardInterrupt):
        tiles_export_public(progress=fail)
    assert archive.read_bytes() == new
    assert sorted(p.name for p in archive.parent.iterdir()) == ["public.pmtiles"]


def test_an_export_while_another_runs_is_skipped(city: None, archive: Path) -> None:
    with psycopg.connect(**conninfo()) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [PUBLIC_EXPORT_LOCK])
        result = tiles_export_public()
        # Let go explicitly: a closed session's backend frees its locks a moment later.
        other.execute("SELECT pg_advisory_unlock(%s)", [PUBLIC_EXPORT_LOCK])
    assert result.summary() == "export_public_tiles: skipped, another export is running"
    assert not archive.exists()
    # Once the other export is done, the next one runs.
    assert tiles_export_public().export is not None
    assert archive.is_file()


def test_with_nothing_to_show_the_old_archive_is_removed(city: None, archive: Path) -> None:
    tiles_export_public()
    assert archive.is_file()
    for name in source_layers():
        LAYERS[name].model._default_manager.all().delete()
    result = tiles_export_public()
    assert result.export is None
    assert "hold no rows" in result.summary()
    assert "removed" in result.summary()
    assert not archive.exists()


def test_the_export_is_scheduled_with_its_cron_setting() -> None:
    from procrastinate.contrib.django import app

    from tiles import tasks

    periodic = {
        p.periodic_id: (p.task.name, p.cron) for p in app.periodic_registry.periodic_tasks.values()
    }
    assert periodic["tiles_export_public"] == ("tiles.export_public_tiles", settings.PMTILES_CRON)
    assert tasks.export_public_tiles.queueing_lock == "tiles.export_public_tiles"


def test_an_empty_cron_schedules_no_export() -> None:
    """Settings are read at import: a fresh interpreter with PMTILES_CRON empty."""
    code = (
        "import django; django.setup();"
        "from procrastinate.contrib.django import app;"
        "print(sorted(p.periodic_id for p in app.periodic_registry.periodic_tasks.values()))"
    )
    env = {**os.environ, "PMTILES_CRON": "", "DJANGO_SETTINGS_MODULE": "gis.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "claims_sweep" in out
    assert "tiles_export_public" not in out


# --- the route -------------------------------------------------------------------------------


@pytest.fixture
def exported(city: None, archive: Path) -> bytes:
    tiles_export_public()
    return archive.read_bytes()


def test_a_range_is_answered_with_206_and_exactly_its_bytes(
    client: Client, exported: bytes
) -> None:
    size = len(exported)
    answer = client.get(URL, headers={"range": "bytes=0-99"})
    assert answer.status_code == 206
    assert b"".join(answer.streaming_content) == exported[:100]
    assert answer["Content-Range"] == f"bytes 0-99/{size}"
    assert answer["Content-Length"] == "100"
    assert answer["Accept-Ranges"] == "bytes"
    assert answer["Content-Type"] == "application/vnd.pmtiles"
    assert answer["ETag"].startswith('"') and answer["Last-Modified"]
    assert answer["Cache-Control"] == f"public, max-age={settings.PMTILES_MAX_AGE}"

    for wanted, first, last in [
        ("bytes=100-", 100, size - 1),
        ("bytes=-500", size - 500, size - 1),
        (f"bytes={size - 10}-{size + 1000}", size - 10, size - 1),  # clamped to the end
        ("bytes=7-7", 7, 7),
        # A reader's first request, for the header and root directory, past a small archive's
        # end: what there is (RFC 9110), not a 416.
        ("bytes=0-16383", 0, size - 1),
    ]:
        answer = client.get(URL, headers={"range": wanted})
        assert answer.status_code == 206, wanted
        assert b"".join(answer.streaming_content) == exported[first : last + 1], wanted
        assert answer["Content-Range"] == f"bytes {first}-{last}/{size}", wanted


def test_a_pmtiles_reader_reads_the_archive_over_http_ranges(
    client: Client, exported: bytes
) -> None:
    def get_bytes(offset: int, length: int) -> bytes:
        answer = client.get(URL, headers={"range": f"bytes={offset}-{offset + length - 1}"})
        assert answer.status_code == 206
        return b"".join(answer.streaming_content)

    reader = Reader(get_bytes)
    assert reader.header()["max_zoom"] == 16
    from gis.spatial import lonlat_to_tile

    x, y = lonlat_to_tile(CITY_LON, CITY_LAT, 16)
    tile = mapbox_vector_tile.decode(gzip.decompress(reader.get(16, x, y)))
    assert {f["properties"].get("housenumber") for f in tile["buildings"]["features"]} == {"100"}


def test_a_range_past_the_end_is_416_and_others_get_the_whole_file(
    client: Client, exported: bytes
) -> None:
    size = len(exported)
    for wanted in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"):
        answer = client.get(URL, headers={"range": wanted})
        assert answer.status_code == 416, wanted
        assert answer["Content-Range"] == f"bytes */{size}"
    # Not a range we serve (several, another unit, backwards, nonsense): the whole archive.
    for wanted in ("bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=-", "bytes=x-y"):
        answer = client.get(URL, headers={"range": wanted})
        assert answer.status_code == 200, wanted
        assert b"".join(answer.streaming_content) == exported
        assert answer["Content-Length"] == str(size)


def test_etags_revalidate_and_if_range_guards_a_changed_archive(
    client: Client, exported: bytes, archive: Path
) -> None:
    first = client.get(URL, headers={"range": "bytes=0-99"})
    etag = first["ETag"]
    assert client.get(URL, headers={"if-none-match": etag}).status_code == 304
    same = client.get(URL, headers={"range": "bytes=0-99", "if-range": etag})
    assert same.status_code == 206

    building(geom=MultiPolygon(rectangle(12, 12, lon=CITY_LON + 0.002), srid=4326))
    tiles_export_public()
    changed = client.get(URL, headers={"range": "bytes=0-99", "if-range": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert b"".join(changed.streaming_content) == archive.read_bytes()
    assert client.get(URL, headers={"if-none-match": etag}).status_code == 200


def test_head_answers_the_length_without_a_body_and_writes_are_refused(
    client: Client, exported: bytes
) -> None:
    answer = client.head(URL, headers={"range": "bytes=0-9"})
    assert answer.status_code == 206
    assert answer["Content-Length"] == "10"
    assert answer.content == b""
    assert client.post(URL).status_code == 405
    assert client.put(URL).status_code == 405


def test_without_an_archive_the_route_is_a_json_404(client: Client, archive: Path) -> None:
    answer = client.get(URL, headers={"range": "bytes=0-16383"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/tiles/../gis/settings.py",
        "/tiles/%2e%2e/%2e%2e/etc/passwd",
        "/tiles/public.pmtiles/../../manage.py",
        "/tiles/..%2fmanage.py.pmtiles",
        "/tiles/public.pmtiles%00",
        "/tiles/other.pmtiles",
        "/tiles/public.pmtiles/x",
    ],
)
def test_no_other_file_is_served(client: Client, exported: bytes, path: str) -> None:
    answer = client.get(path, headers={"range": "bytes=0-99"})
    assert answer.status_code in (400, 404), path
    content = b"".join(answer.streaming_content) if answer.streaming else answer.content
    assert content[:7] != b"PMTiles"
    assert b"SECRET_KEY" not in content and b"root:" not in content


# --- the map's config ------------------------------------------------------------------------


def map_config(client: Client) -> dict:
    import json

    html = client.get("/").content.decode()
    found = re.search(r'<script id="citygis-config" type="application/json">(.*?)</script>', html)
    assert found
    return json.loads(found[1])


def test_the_map_is_told_of_the_archive_only_when_there_is_one(
    client: Client, city: None, archive: Path, settings
) -> None:
    assert map_config(client)["pmtiles"] is None
    tiles_export_public()
    config = map_config(client)["pmtiles"]
    assert config["url"] == URL
    assert config["exported"].endswith("+00:00")
    settings.PMTILES_URL = "https://cdn.example.city/citygis/public.pmtiles"
    assert map_config(client)["pmtiles"]["url"] == settings.PMTILES_URL


def test_pmtiles_url_is_checked_and_let_through_the_content_policy() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['connect-src'])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gis.settings"}
    good = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PMTILES_URL": "https://cdn.example.city/t/public.pmtiles"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "https://cdn.example.city" in good.stdout
    bad = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PMTILES_URL": "cdn.example.city/public.pmtiles"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0
    assert "PMTILES_URL must be an absolute http(s) URL" in bad.stderr


# The queueing lock refuses the second job with a unique violation: outside a test's transaction.
@pytest.mark.django_db(transaction=True)
def test_defer_queues_one_export_for_the_worker(run_command: RunCommand, settings) -> None:
    from procrastinate.contrib.django.models import ProcrastinateJob

    first = run_command("export_public_tiles", "--defer").stdout
    assert re.match(r"export_public_tiles: job \d+ queued for the worker", first), first
    again = run_command("export_public_tiles", "--defer").stdout
    assert again.strip() == "export_public_tiles: an export is already queued"
    jobs = ProcrastinateJob.objects.filter(task_name="tiles.export_public_tiles", status="todo")
    assert jobs.count() == 1
    settings.PMTILES_CRON = ""
    off = run_command("export_public_tiles", "--defer").stdout
    assert "not scheduled" in off
