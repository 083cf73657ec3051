"""The app start shows the window before it fills it: the study tree and the first exam (which
starts the decode processes) come after the first paint, and they do come. The launch is also
checked end to end in a subprocess with the start-up probe the benchmark uses. Nothing is timed
here (benchmarks/bench_startup.py measures the seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditdesk.dicom.index import import_paths

pytestmark = pytest.mark.gui


def test_deferred_window_is_painted_empty_then_opens_the_first_exam(qtbot, db, loader, test_set):
    from auditdesk.ui.main_window import MainWindow

    # The mammograms only: an MR exam keeps prefetching slices after the test.
    mammo = [s for s in test_set.studies if s.kind == "mammo"]
    import_paths(db, [f.path for s in mammo for f in s.files])
    # The exam an immediate start opens (in the constructor), for comparison.
    immediate = MainWindow(db, loader=loader)
    qtbot.addWidget(immediate)
    assert immediate.exam is not None
    expected = immediate.exam.id
    immediate.close()
    win = MainWindow(db, loader=loader, defer_first_exam=True)
    qtbot.addWidget(win)
    # Nothing read or decoded before the window is on screen.
    assert win.model.rowCount() == 0
    assert win.exam is None and win.last_loaded is None
    win.show()
    qtbot.waitUntil(lambda: win.exam is not None, timeout=30000)
    assert win.model.rowCount() == len(mammo)
    assert win.exam.id == expected  # the same first exam, not the worklist's focus row
    qtbot.wait(200)
    assert win.exam.id == expected
    assert win.central.currentWidget() is win.hanging_view
    qtbot.waitUntil(win.hanging_view.all_loaded, timeout=30000)
    for viewport in win.hanging_view.viewports.values():
        assert viewport.array is not None and viewport.array.std() > 10


def test_launch_reports_the_window_shown(tmp_path: Path) -> None:
    from auditdesk.ui.startup_probe import PROBE_ENV, SHOWN_LINE

    env = dict(os.environ, AUDITDESK_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    env[PROBE_ENV] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "auditdesk", "gui"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert SHOWN_LINE in result.stdout.splitlines()
    log = "\n".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "gui started" in log and "crash report" not in log


def test_window_closed_before_its_first_exam_opens_nothing(qtbot, db, test_set):
    """Quit right after the first paint: the deferred start must not open the first exam on a
    closed window (the window's own decode processes are shut down by then)."""
    from auditdesk.ui.main_window import MainWindow

    mammo = [s for s in test_set.studies if s.kind == "mammo"]
    import_paths(db, [f.path for s in mammo for f in s.files])
    win = MainWindow(db, defer_first_exam=True)  # owns its loader: closing shuts it down
    qtbot.addWidget(win)
    calls = []
    win.open_first_exam = lambda first: calls.append(first)
    win.show()
    win.close()  # before the event loop delivers the deferred start
    qtbot.wait(300)
    assert calls == []


def test_read_only_message_survives_the_deferred_start(qtbot, tmp_path: Path, loader) -> None:
    from auditdesk.store.audits import create_reviewer
    from auditdesk.store.db import open_database
    from auditdesk.ui.app import show_read_only
    from auditdesk.ui.main_window import MainWindow

    url = f"sqlite:///{tmp_path / 'audits.sqlite'}"
    rw = open_database(url)
    with rw.transaction() as s:
        create_reviewer(s, "Robin", "coach", "RB")
    rw.dispose()
    db = open_database(url, read_only=True)
    win = MainWindow(db, loader=loader, ask_reviewer=False, defer_first_exam=True)
    qtbot.addWidget(win)
    show_read_only(win, db)
    assert win.windowTitle().endswith("read-only")
    with qtbot.waitSignal(win.first_exam_opened, timeout=30000):
        win.show()
    assert "open read-only" in win.statusBar().currentMessage()
    assert win.windowTitle().count("read-only") == 1
    db.dispose()
