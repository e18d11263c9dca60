"""The demo city: the real OSM extract, what is derived from it, and demo accounts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gis.apps import app_modules
from gis.roles import Role
from gis.services import user_create_or_update
from importers.derive import layers_derive
from importers.records import ImportReport
from importers.services import osm_import
from layers.models import District, Organisation

DEMO_NOTE = "Demo organisation created by `manage.py load_demo`; not a real body."
DEMO_ORGANISATIONS = (
    ("Police traffic department (demo)", Organisation.Kind.POLICE, "traffic-police@demo.invalid"),
    ("Water and sewer service (demo)", Organisation.Kind.SERVICE, "water@demo.invalid"),
    (
        "Harbor Utility Works (demo contractor)",
        Organisation.Kind.CONTRACTOR,
        "works@harbor-utility.demo.invalid",
    ),
    ("City administration (demo)", Organisation.Kind.ADMINISTRATION, "admin@demo.invalid"),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    organisation: str | None = None


DEMO_USERS = (
    DemoUser("operator", Role.OPERATOR),
    DemoUser("planner", Role.PLANNER),
    DemoUser("contractor", Role.CONTRACTOR, "Harbor Utility Works (demo contractor)"),
)


def demo_city_load(*, osm_file: Path, progress=None) -> tuple[ImportReport, ImportReport]:
    """Load the extract (invalid areas skipped and reported) and derive what OSM lacks."""
    for name, kind, email in DEMO_ORGANISATIONS:
        Organisation.objects.get_or_create(
            name=name, defaults={"kind": kind, "email": email, "note": DEMO_NOTE}
        )
    imported = osm_import(path=osm_file, progress=progress)
    derived = layers_derive()
    # Then each app's demo data, in INSTALLED_APPS order (appeals, permits, planning…): its
    # ``demo`` module's ``demo_load()`` returns the lines to show.
    for module in app_modules("demo"):
        if load := getattr(module, "demo_load", None):
            derived.notes += load()
    return imported, derived


def demo_districts_summary() -> str:
    """How many districts the demo city has, and whether they are derived (the summary line)."""
    total = District.objects.count()
    derived = District.objects.filter(source="derived").count()
    if derived:
        where = f"{derived} derived from neighbourhood points, not official boundaries"
    else:
        where = "none derived"
    return f"demo city: districts: {total} ({where})"


def demo_users_create() -> list[tuple[DemoUser, str]]:
    """The demo accounts with their API tokens (stable across runs)."""
    return [
        (
            user,
            user_create_or_update(
                username=user.username, role=user.role, organisation_name=user.organisation
            )[1],
        )
        for user in DEMO_USERS
    ]
