"""The packages' dependency order: gis, layers, tiles and importers never import the apps.

The contracts live in pyproject.toml ([tool.importlinter]); pre-commit runs the same check.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_the_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_the_pre_commit_hooks_run_what_make_test_runs() -> None:
    config = ROOT / ".pre-commit-config.yaml"
    validate = subprocess.run(
        [Path(sys.executable).parent / "pre-commit", "validate-config", config],
        capture_output=True,
        text=True,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    hooks = yaml.safe_load(config.read_text())["repos"][0]["hooks"]
    entries = {hook["entry"].split()[0] for hook in hooks}
    assert {".venv/bin/ruff", ".venv/bin/lint-imports"} <= entries
