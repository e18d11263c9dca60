"""Shared fixtures: command runs with captured output, the demo extract, the browser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.utils import translation

from layers.selectors import forget_city_extent
from tests.factories import CommandRun
from tiles.selectors import forget_bounds

# The live server and Chromium of the browser tests: the `browser` fixture and their helpers;
# real servers and workers as subprocesses: the `processes` fixture; the streaming replica of the
# test cluster: the `replica` fixture (tests/replica.py).
pytest_plugins = ["tests.live_server", "tests.processes", "tests.replica"]


@pytest.fixture(autouse=True, scope="session")
def no_public_archive(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the checkout's own public archive (var/media/tiles).

    The map and the job use one in a temporary directory, absent until a test exports it.
    """
    settings.PMTILES_PATH = tmp_path_factory.mktemp("pmtiles") / "public.pmtiles"


@pytest.fixture(autouse=True)
def fresh_layer_bounds() -> None:
    """TileJSON and city bounds are remembered for a minute: never across tests' data."""
    forget_bounds()
    forget_city_extent()


@pytest.fixture(autouse=True)
def fresh_limits() -> None:
    """Start each test with no failed secret or anonymous write counted (all come from 127.0.0.1).

    Django's cache holds nothing else.
    """
    cache.clear()


@pytest.fixture
def run_command() -> Callable[..., CommandRun]:
    """Call a management command; its stdout and stderr come back as text."""

    def run(name: str, *args: str) -> CommandRun:
        stdout, stderr = StringIO(), StringIO()
        call_command(name, *args, stdout=stdout, stderr=stderr)
        return CommandRun(stdout=stdout.getvalue(), stderr=stderr.getvalue())

    return run


@pytest.fixture(scope="session")
def osm_file() -> Path:
    """Locate the real Baltimore extract the demo city is loaded from."""
    path = Path(settings.DEMO_OSM_FILE)
    if not path.is_file():
        pytest.skip(f"demo extract missing: {path}")
    return path


@pytest.fixture(autouse=True)
def city_language() -> Iterator[None]:
    """Each test starts in the city's language.

    A request's LocaleMiddleware leaves its language active in the thread, as Django does
    between requests.
    """
    yield
    translation.deactivate()
