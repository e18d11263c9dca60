"""The production units and the Procfile run commands that exist, with options their tools take."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import get_commands
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parent.parent


def commands() -> list[list[str]]:
    """Every ExecStart of deploy/systemd and every Procfile line, as argument lists."""
    found = []
    for unit in sorted((ROOT / "deploy" / "systemd").glob("*.service")):
        text = unit.read_text().replace("\\\n", " ")
        found += [shlex.split(m) for m in re.findall(r"^ExecStart=(.+)$", text, re.M)]
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip():
            found.append(shlex.split(re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", line.split(":", 1)[1])))
    return found


@pytest.mark.parametrize("argv", commands(), ids=lambda argv: " ".join(argv[:3]))
def test_the_command_exists(argv: list[str]) -> None:
    program = Path(argv[0]).name
    if program == "python":
        assert argv[1] == "manage.py"
        assert argv[2] in get_commands(), argv[2]
    else:
        assert program == "gunicorn"
        options = Config().parser().parse_args(argv[1:])  # an unknown option exits
        module, attr = options.args[0].split(":")
        assert hasattr(importlib.import_module(module), attr)
        worker = options.worker_class.rsplit(".", 1)
        assert hasattr(importlib.import_module(worker[0]), worker[1])


def test_the_web_unit_gives_the_server_its_metrics_directory() -> None:
    web = (ROOT / "deploy" / "systemd" / "citygis-web.service").read_text()
    assert "RuntimeDirectory=citygis-web" in web
    assert "PROMETHEUS_MULTIPROC_DIR=/run/citygis-web" in web
