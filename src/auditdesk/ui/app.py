"""Start the GUI: one QApplication, the theme, the database, the main window."""

from __future__ import annotations

import sys
from importlib.resources import files
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from auditdesk import __version__

if TYPE_CHECKING:
    from auditdesk.store.db import Database

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


def open_with_dialogs(db_url: str | None, read_only: bool = False) -> Database | None:
    """Open the database; when it is refused, offer another file or a backup (None: quit)."""
    from auditdesk.paths import default_db_url
    from auditdesk.store.db import DatabaseError, DatabaseRefusedError, open_database
    from auditdesk.store.db_check import sqlite_path_of
    from auditdesk.ui.database_dialogs import DatabaseProblemDialog

    if db_url is None:
        from auditdesk.db_settings import needs_password_prompt
        from auditdesk.ui.database_page import ask_password_url

        if needs_password_prompt() is not None:
            db_url = ask_password_url()
            if db_url is None:
                return None  # the user cancelled the password: nothing to open
    url = db_url or default_db_url()
    while True:
        try:
            return open_database(url, read_only=True if read_only else None)
        except DatabaseRefusedError as exc:
            dialog = DatabaseProblemDialog(str(exc), sqlite_path_of(url))
            result = dialog.exec()
            if result == DatabaseProblemDialog.OPEN_OTHER and dialog.chosen is not None:
                url = f"sqlite:///{dialog.chosen}"
            elif result != DatabaseProblemDialog.RESTORE:
                return None
        except DatabaseError as exc:
            QMessageBox.critical(None, "AuditDesk cannot open its database", str(exc))
            if db_url is None and "://" in url and not url.startswith("sqlite"):
                from auditdesk.ui.database_page import open_database_settings

                open_database_settings()  # an unreachable server: fix the settings, restart
            return None


def run(db_url: str | None = None, read_only: bool = False) -> int:
    """Open the main window on the database and run the event loop."""
    from auditdesk import app_log
    from auditdesk.ui.database_dialogs import install_excepthook, mark_read_only
    from auditdesk.ui.main_window import MainWindow, settings

    app_log.setup()
    app = create_app()
    apply_theme(str(settings().value("theme", "dark")))
    db = open_with_dialogs(db_url, read_only)
    if db is None:
        return 3
    from auditdesk.crash_report import database_identifiers
    from auditdesk.ui.crash_dialog import install_crash_handler
    from auditdesk.ui.selftest_qt import add_selftest_action

    install_crash_handler([database_identifiers(db)])
    install_excepthook()  # refused writes first: "Not saved", not a crash report
    window = MainWindow(db)
    add_selftest_action(window)
    mark_read_only(window, db)
    window.show()
    code = app.exec()
    db.dispose()
    return code
