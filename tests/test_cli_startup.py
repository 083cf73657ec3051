"""The command line starts without the heavy libraries: what keeps `--version` and `--help` fast.

Nothing here is timed (speed is measured in benchmarks/bench_startup.py). The tests check the cause
of a slow start instead: which modules a fresh interpreter has loaded after building the parser and
answering `--version` / `--help` / `COMMAND --help` for every command. If a command module imports
Qt, numpy, SQLAlchemy, pydicom, Alembic or pyqtgraph at module level again, these tests fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("numpy", "sqlalchemy", "pydicom", "PySide6", "alembic", "pyqtgraph")

# Runs in a fresh interpreter: builds the parser, asks every (sub)command for its help text, and
# reports the top-level packages that got imported along the way.
_EVERY_HELP = r"""
import argparse, contextlib, io, json, sys
from auditdesk.cli import build_parser

def walk(parser, prefix):
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, [*prefix, name])

parser = build_parser()
commands = list(walk(parser, []))
for argv in commands:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        build_parser().parse_args([*argv, "--help"])
print(json.dumps({"commands": [" ".join(c) for c in commands],
                  "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["AUDITDESK_HOME"] = str(tmp_path)
    return env


def _imported_by_importtime(stderr: str) -> set[str]:
    """Top-level package names from ``python -X importtime`` output (one line per module)."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            module = line.rsplit("|", 1)[1].strip()
            if module and module != "imported package":
                names.add(module.split(".")[0])
    return names


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_no_heavy_library(flag: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "auditdesk", flag],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "auditdesk" in result.stdout
    imported = _imported_by_importtime(result.stderr)
    # The check itself can fail: the output does list the modules that were imported.
    assert {"auditdesk", "argparse"} <= imported
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_every_command_help_imports_no_heavy_library(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _EVERY_HELP],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    # Every command was visited, nested ones included.
    for command in ("gui", "demo", "import", "studies confirm-view", "export weekly", "agreement"):
        assert command in report["commands"]
    loaded = set(report["modules"]) & set(HEAVY)
    assert not loaded, f"building the parser imported {sorted(loaded)}"


def test_command_still_finds_its_libraries_when_it_runs(tmp_path: Path) -> None:
    """The lazy imports happen: a command that needs the database really opens it."""
    code = (
        "import sys; from auditdesk.cli import main; rc = main(['reviewer', 'list']); "
        "print(rc, 'sqlalchemy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "0 True"
