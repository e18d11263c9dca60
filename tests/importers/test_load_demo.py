"""load_demo end to end: the real extract, the derived layers and the demo accounts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from pytest_django import DjangoDbBlocker

from importers.demo import DEMO_USERS
from layers.models import Building, BusRouteStop, District, Manhole, Place, SnowploughRoute, Yard
from tests.factories import CommandRun

RunCommand = Callable[..., CommandRun]

TOKEN_LINE = re.compile(r"^\s+(\w+)\s+(\w+)\s+([0-9a-f]{40})\b", re.MULTILINE)


def tokens(stdout: str) -> dict[str, str]:
    """The demo users' tokens by username, as load_demo prints them."""
    return {username: token for _, username, token in TOKEN_LINE.findall(stdout)}


def summaries(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("demo city: ")]


@pytest.fixture(scope="class")
def loaded(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker, osm_file: Path
) -> Iterator[CommandRun]:
    """Load the demo city once per test class; roll it back after the class's last test."""
    stdout, stderr = StringIO(), StringIO()
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_demo", stdout=stdout, stderr=stderr)
        # Each test runs in a savepoint inside this transaction (the db fixture).
        yield CommandRun(stdout=stdout.getvalue(), stderr=stderr.getvalue())
        transaction.set_rollback(True)


@pytest.mark.e2e
@pytest.mark.usefixtures("loaded", "db")
class TestLoadDemo:
    """What one run of load_demo leaves in the database and prints."""

    def test_prints_the_demo_users_with_their_tokens(self, loaded: CommandRun) -> None:
        assert "demo users (API tokens" in loaded.stdout
        assert set(tokens(loaded.stdout)) == {user.username for user in DEMO_USERS}
        assert "(Harbor Utility Works (demo contractor))" in loaded.stdout

    def test_prints_a_summary_of_the_import_and_of_the_derived_layers(
        self, loaded: CommandRun
    ) -> None:
        imported, derived, districts = summaries(loaded.stdout)
        assert imported.startswith("demo city: baltimore-2015.osm.pbf: read ")
        assert derived.startswith("demo city: derived layers: read ")
        assert "rejected 0" in derived
        assert districts == (
            "demo city: districts: 27 (27 derived from neighbourhood points, "
            "not official boundaries)"
        )

    def test_districts_are_derived_from_the_neighbourhood_points(self) -> None:
        # The extract has no district-level boundaries: one district per neighbourhood node.
        assert Place.objects.filter(kind="neighbourhood").count() == 27
        names = set(District.objects.values_list("name", flat=True))
        assert {"Fells Point", "Canton", "Highlandtown"} <= names
        assert set(District.objects.values_list("source", flat=True)) == {"derived"}
        # Every building lies in one of them.
        for building in Building.objects.order_by("pk")[::97]:
            point = building.geom.point_on_surface
            assert District.objects.filter(geom__covers=point).exists(), building.pk

    def test_loads_the_city_and_derives_what_osm_lacks(self) -> None:
        assert Building.objects.count() >= 1_900
        assert Yard.objects.count() >= 30
        # The extract's only pipelines are tagged overground or overhead: they have no manholes.
        assert not Manhole.objects.exists()
        assert SnowploughRoute.objects.count() > 50
        assert BusRouteStop.objects.filter(derived=True).exists()

    def test_derived_layers_are_marked_derived(self) -> None:
        for model in (Yard, SnowploughRoute):
            assert set(model.objects.values_list("source", flat=True)) == {"derived"}, model

    def test_second_run_changes_nothing_and_keeps_the_tokens(
        self, loaded: CommandRun, run_command: RunCommand
    ) -> None:
        second = run_command("load_demo")

        imported, derived, _ = summaries(second.stdout)
        assert "created 0, updated 0," in imported
        assert "created 0, updated 0," in derived
        assert "stops" not in second.stdout
        assert tokens(second.stdout) == tokens(loaded.stdout)
