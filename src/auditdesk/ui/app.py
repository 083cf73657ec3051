"""Start the GUI: one QApplication, the theme, the database, the main window."""

from __future__ import annotations

import sys
from importlib.resources import files

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from auditdesk import __version__

THEMES = ("dark", "light")


def apply_theme(name: str) -> None:
    """Dark by default (reading rooms are dim); the palette keeps native dialogs consistent."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    name = name if name in THEMES else "dark"
    palette = QPalette()
    if name == "dark":
        for role, color in (
            (QPalette.ColorRole.Window, "#16181c"),
            (QPalette.ColorRole.WindowText, "#d6d9de"),
            (QPalette.ColorRole.Base, "#1b1e23"),
            (QPalette.ColorRole.AlternateBase, "#1f2228"),
            (QPalette.ColorRole.Text, "#d6d9de"),
            (QPalette.ColorRole.Button, "#23272e"),
            (QPalette.ColorRole.ButtonText, "#d6d9de"),
            (QPalette.ColorRole.Highlight, "#2f5d8a"),
            (QPalette.ColorRole.HighlightedText, "#ffffff"),
            (QPalette.ColorRole.ToolTipBase, "#23272e"),
            (QPalette.ColorRole.ToolTipText, "#e6e6e6"),
        ):
            palette.setColor(role, QColor(color))
    app.setPalette(palette)
    app.setStyleSheet(files("auditdesk.resources").joinpath(f"{name}.qss").read_text())


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("AuditDesk")
        app.setApplicationVersion(__version__)
        app.setStyle("Fusion")
        from auditdesk.ui.app_fonts import register_bundled_fonts, set_app_icon

        register_bundled_fonts()
        set_app_icon(app)
    assert isinstance(app, QApplication)
    return app


def run(db_url: str | None = None) -> int:
    """Open the main window on the database and run the event loop."""
    from auditdesk.store.db import DatabaseError, open_database
    from auditdesk.ui.main_window import MainWindow, settings

    app = create_app()
    apply_theme(str(settings().value("theme", "dark")))
    try:
        db = open_database(db_url)
    except DatabaseError as exc:
        QMessageBox.critical(None, "AuditDesk cannot open its database", str(exc))
        return 2
    from auditdesk.crash_report import database_identifiers
    from auditdesk.ui.crash_dialog import install_crash_handler

    install_crash_handler([database_identifiers(db)])
    window = MainWindow(db)
    from auditdesk.ui.selftest_qt import add_selftest_action

    add_selftest_action(window)
    window.show()
    code = app.exec()
    db.dispose()
    return code
