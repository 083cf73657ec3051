"""The Qt half of ``auditdesk --selftest`` (Qt starts, a PDF report renders) and the same
self-test from the window (Help → Run self-test…).

Kept apart from :mod:`auditdesk.runtime.selftest` so the core never imports Qt. The report is
written
exactly as the app writes it (``reports.write_weekly_report``: QTextDocument printed with
QPdfWriter), so a bundle without fonts or the PDF writer's pieces fails here, not at a site.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QLibraryInfo, Qt, qVersion
from PySide6.QtGui import QAction, QFont, QFontDatabase, QFontInfo
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from auditdesk.runtime.selftest import Check, core_checks, run_checks, scratch_folder
from auditdesk.ui.common.application import create_app

REPORT_FONT = "DejaVu Sans"  # the family ui/reports.py asks for


def _platform_plugins() -> list[str]:
    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    names = []
    for path in sorted(folder.glob("*")):
        stem = path.stem.removeprefix("lib").removeprefix("q")
        names.append(stem)
    return names


def check_qt() -> str:
    """A QApplication starts and a pyqtgraph image view paints a decoded test image."""
    import numpy as np
    import pyqtgraph as pg
    from PySide6.QtGui import QGuiApplication

    from auditdesk.dicom.display import to_display
    from auditdesk.dicom.pixels import read_dataset
    from auditdesk.runtime.selftest import selftest_files

    app = create_app()
    plugins = _platform_plugins()
    if sys.platform.startswith("linux"):
        missing = {"xcb", "offscreen"} - set(plugins)
        if missing:
            raise FileNotFoundError(f"Qt platform plug-ins missing: {', '.join(sorted(missing))}")
    image = to_display(read_dataset(selftest_files("raw")[0])).array
    view = pg.GraphicsLayoutWidget()
    try:
        view.resize(200, 240)
        view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)  # painted, never seen
        item = pg.ImageItem(np.ascontiguousarray(image.T))
        view.addViewBox().addItem(item)
        view.show()
        app.processEvents()
        grabbed = view.grab()
        if grabbed.isNull():
            raise RuntimeError("the image view could not be painted")
    finally:
        view.close()
        view.deleteLater()
    return (
        f"platform {QGuiApplication.platformName()}, Qt {qVersion()}, PySide6 {pyside_version}, "
        f"pyqtgraph {pg.__version__}; platform plug-ins: {', '.join(plugins)}"
    )


def check_pdf(db_url: str, folder: Path) -> str:
    """The weekly report renders to a PDF with its font embedded."""
    from auditdesk.store.db import open_database
    from auditdesk.ui.common.app_fonts import bundled_font_files
    from auditdesk.ui.qi.reports import write_weekly_report

    create_app()
    if not QFontDatabase.families():
        raise RuntimeError("Qt found no fonts at all: reports would have no text")
    family = QFontInfo(QFont(REPORT_FONT)).family()
    target = folder / "selftest-report.pdf"
    db = open_database(db_url)
    try:
        write_weekly_report(db, target)
    finally:
        db.dispose()
    data = target.read_bytes()
    if not data.startswith(b"%PDF-") or b"/FontFile" not in data:
        raise RuntimeError(f"{target.name} is not a PDF with embedded text")
    bundled = len(bundled_font_files())
    return f"weekly report, {len(data) // 1024} KiB, font {family} ({bundled} bundled font files)"


def gui_checks(folder: Path) -> list[Check]:
    """The same checks as ``auditdesk --selftest``, for Help → Run self-test in the window."""
    return [
        Check("Qt starts", check_qt),
        *core_checks(folder),
        Check("PDF report renders", lambda: check_pdf(f"sqlite:///{folder / 'st.sqlite'}", folder)),
    ]


def show_selftest(parent: QWidget | None = None) -> QDialog:
    """Run every check (a few seconds) and show the lines; returns the shown dialog."""
    out = io.StringIO()
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        with scratch_folder() as tmp:
            code = run_checks(gui_checks(Path(tmp)), out)
    finally:
        QApplication.restoreOverrideCursor()
    lines = out.getvalue().strip().splitlines()
    dialog = QDialog(parent)
    dialog.setWindowTitle("AuditDesk self-test")
    layout = QVBoxLayout(dialog)
    verdict = QLabel(lines[-1] if code == 0 else f"{lines[-1]}: see the FAIL lines.")
    verdict.setObjectName("verdict")
    layout.addWidget(verdict)
    view = QPlainTextEdit("\n".join(lines[:-1]))
    view.setReadOnly(True)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    layout.addWidget(view)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    dialog.resize(960, 360)
    dialog.exec()
    return dialog


def add_selftest_action(window: QMainWindow) -> QAction:
    """Help → Run self-test… (added from ui/app.py, so main_window.py stays as it is)."""
    menu = next(
        (
            a.menu()
            for a in window.menuBar().actions()
            if a.menu() is not None and a.text().replace("&", "") == "Help"
        ),
        None,
    )
    if not isinstance(menu, QMenu):
        menu = window.menuBar().addMenu("&Help")
    action = menu.addAction("Run &self-test…")
    action.triggered.connect(lambda: show_selftest(window))
    return action
