"""Set-up on today's Debian: the PostgreSQL the scripts pick, and the locked Python packages.

The scripts are run as a newcomer's `make` runs them, with the machine's directories and apt
replaced by fakes: Debian 12 offers PostgreSQL 15, Debian 13 offers 17.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def chosen_major(tmp_path: Path, *, installed=(), with_postgis=(), apt_offers=(), cluster=None):
    lib, share, data, bin_ = (tmp_path / d for d in ("lib", "share", "data", "bin"))
    for major in installed:
        (lib / major / "bin").mkdir(parents=True)
        (lib / major / "bin" / "postgres").touch(mode=0o755)
    for major in with_postgis:
        (share / major / "extension").mkdir(parents=True)
        (share / major / "extension" / "postgis.control").touch()
    if cluster:
        data.mkdir()
        (data / "PG_VERSION").write_text(f"{cluster}\n")
    bin_.mkdir()
    known = " ".join(f"postgresql-{major}-postgis-3" for major in apt_offers)
    (bin_ / "apt-cache").write_text(  # `apt-cache show PACKAGE`: 0 when apt knows it
        f'#!/bin/sh\ncase " {known} " in *" $2 "*) exit 0;; esac\nexit 100\n'
    )
    (bin_ / "apt-cache").chmod(0o755)
    env = {
        "PATH": f"{bin_}:/usr/bin:/bin",
        "PG_LIB": str(lib),
        "PG_SHARE": str(share),
        "PG_DATA": str(data),
    }
    script = f'. "{ROOT}/scripts/env.sh"; echo "$PG_MAJOR $PG_BIN"'
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    major, bin_dir = out.stdout.split()
    assert bin_dir == f"{lib}/{major}/bin"
    return major


@pytest.mark.parametrize(
    "machine, expected",
    [
        (dict(apt_offers=["15"]), "15"),  # a fresh Debian 12
        (dict(apt_offers=["17"]), "17"),  # a fresh Debian 13
        (dict(apt_offers=["15", "16", "17", "18"]), "17"),  # PGDG: the newest we run on
        (dict(installed=["15"], with_postgis=["15"], apt_offers=["17"]), "15"),  # installed first
        (dict(installed=["15", "17"], with_postgis=["15", "17"]), "17"),
        (dict(installed=["15", "17"], with_postgis=["15"], apt_offers=["15"]), "15"),
        (dict(installed=["17"], with_postgis=["17"], cluster="15", apt_offers=["15"]), "15"),
    ],
    ids=[
        "debian12",
        "debian13",
        "pgdg-newest-supported",
        "installed-first",
        "newest-installed",
        "postgis-required",
        "cluster-decides",
    ],
)
def test_the_scripts_pick_the_postgresql_the_machine_offers(tmp_path, machine, expected):
    assert chosen_major(tmp_path, **machine) == expected


def test_a_missing_postgresql_is_said_plainly(tmp_path):
    """db.sh names the version it needs instead of failing on a path that is not there."""
    env = {**os.environ, "PG_BIN": str(tmp_path / "none"), "PG_MAJOR": "16"}
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [str(ROOT / "scripts/db.sh"), "start"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "PostgreSQL 16 is not installed" in out.stderr


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def locked() -> list[Requirement]:
    """The lock's pins (`name==version ; marker`), each on the first line of its entry."""
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = (line.rstrip(" \\") for line in lines if "==" in line and "--hash" not in line)
    return [Requirement(pin) for pin in pins]


def test_python_3_11_to_3_13_are_allowed():
    allowed = SpecifierSet(project()["requires-python"])
    assert all(v in allowed for v in ("3.11", "3.12", "3.13"))
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in allowed


def test_every_dependency_is_locked_within_what_pyproject_asks():
    pins = {canonicalize_name(pin.name): next(iter(pin.specifier)).version for pin in locked()}
    wanted = project()["dependencies"] + project()["optional-dependencies"]["dev"]
    for line in wanted:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_the_venv_holds_exactly_the_locked_versions():
    for pin in locked():
        if pin.marker is None or pin.marker.evaluate():
            assert pin.specifier.contains(metadata.version(pin.name)), pin


def test_make_help_lists_every_target_with_what_it_does():
    """``make help`` is the index of the Makefile: a target left out of it, or of .PHONY, fails."""
    makefile = (ROOT / "Makefile").read_text()
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:"))
    targets = set(phony.removeprefix(".PHONY:").split())
    answer = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    listed = {line.split()[1]: line for line in answer.stdout.splitlines() if line.strip()}
    assert set(listed) == targets
    assert all(len(line.split()) > 2 for line in listed.values())  # each says what it does


def test_every_variable_the_settings_read_is_in_env_example() -> None:
    settings_source = (ROOT / "gis" / "settings.py").read_text()
    read = set(
        re.findall(
            r'(?:os\.environ\.get\(|os\.environ\[|_env_(?:bool|list|box)\()"([A-Z][A-Z0-9_]+)"',
            settings_source,
        )
    )
    assert len(read) > 50  # the pattern still finds them
    documented = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text()))
    assert read - documented == set()
