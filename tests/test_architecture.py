"""Rules of the package layout that the test run enforces (issue 14), read statically.

* no import circle among auditdesk modules (lazy, function-level imports count; see
  tests/import_graph.py for how imports are counted);
* the core packages import neither Qt (PySide6, shiboken6, pyqtgraph) nor ``auditdesk.ui`` nor
  ``auditdesk.cli``: they must run in scripts, the CLI and worker processes;
* at most four modules stay loose at the top of ``src/auditdesk``;
* every package is in pyproject's explicit setuptools ``packages`` list (else an installed
  copy would miss it while the editable install in the repo still works).

Each checker is also shown to fail on a planted violation, so none of them can pass vacuously.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from import_graph import circles, imported_names, internal_graph, module_files

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

CORE_PACKAGES = (
    "dicom",
    "checklists",
    "store",
    "reading",
    "qi",
    "review",
    "exchange",
    "demo",
    "runtime",
)
CORE_LOOSE = ("auditdesk", "auditdesk.paths")
FORBIDDEN_IN_CORE = ("PySide6", "shiboken6", "pyqtgraph", "auditdesk.ui", "auditdesk.cli")
MAX_LOOSE = 4


def _forbidden_imports(src: Path) -> list[str]:
    modules = module_files(src)
    bad = []
    for name, path in modules.items():
        parts = name.split(".")
        core = name in CORE_LOOSE or (len(parts) > 1 and parts[1] in CORE_PACKAGES)
        if not core:
            continue
        for target in sorted(imported_names(name, path, modules)):
            if any(target == f or target.startswith(f + ".") for f in FORBIDDEN_IN_CORE):
                bad.append(f"{name} imports {target}")
    return bad


def _write(root: Path, files: dict[str, str]) -> Path:
    src = root / "src"
    for rel, text in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return src


def test_no_import_circles() -> None:
    assert circles(internal_graph(SRC)) == []


def test_a_planted_circle_is_found_even_through_a_lazy_import(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        {
            "auditdesk/__init__.py": "",
            "auditdesk/qi/__init__.py": "",
            "auditdesk/qi/sampling.py": "from auditdesk.reading.worklist import week_start\n",
            "auditdesk/reading/__init__.py": "",
            "auditdesk/reading/worklist.py": (
                "def marks():\n    from auditdesk.qi import sampling\n    return sampling\n"
            ),
            # type-only imports never run: they do not make a circle
            "auditdesk/reading/panel.py": (
                "from typing import TYPE_CHECKING\nimport auditdesk.reading.viewer\n"
            ),
            "auditdesk/reading/viewer.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from auditdesk.reading.panel import Panel\n"
            ),
        },
    )
    assert circles(internal_graph(src)) == [["auditdesk.qi.sampling", "auditdesk.reading.worklist"]]


def test_core_imports_no_qt_ui_or_cli() -> None:
    assert _forbidden_imports(SRC) == []


def test_a_planted_qt_import_in_the_core_is_found(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        {
            "auditdesk/__init__.py": "",
            "auditdesk/qi/__init__.py": "",
            "auditdesk/qi/spc.py": "def draw():\n    import pyqtgraph\n",
            "auditdesk/review/__init__.py": "",
            "auditdesk/review/agreement.py": "from auditdesk.cli.context import open_db\n",
            "auditdesk/ui/__init__.py": "from PySide6 import QtCore\n",  # the ui may
        },
    )
    assert _forbidden_imports(src) == [
        "auditdesk.qi.spc imports pyqtgraph",
        "auditdesk.review.agreement imports auditdesk.cli.context",
    ]


def test_at_most_four_loose_top_level_modules() -> None:
    loose = sorted(p.name for p in (SRC / "auditdesk").glob("*.py"))
    assert len(loose) <= MAX_LOOSE, loose


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    packages = {
        ".".join(p.parent.relative_to(SRC).parts) for p in (SRC / "auditdesk").rglob("__init__.py")
    }
    assert packages - listed == set()
