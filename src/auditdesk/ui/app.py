"""Start the GUI: one QApplication, the theme, the database, the main window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from auditdesk.ui.common.application import create_app
from auditdesk.ui.common.theme import apply_theme

if TYPE_CHECKING:
    from auditdesk.store.db import Database
    from auditdesk.ui.main_window import MainWindow


def open_with_dialogs(db_url: str | None, read_only: bool = False) -> Database | None:
    """Open the database; when it is refused, offer another file or a backup (None: quit)."""
    from auditdesk.runtime.db_settings import database_url
    from auditdesk.store.db import DatabaseError, DatabaseRefusedError, open_database
    from auditdesk.store.db_check import sqlite_path_of
    from auditdesk.ui.common.database_dialogs import DatabaseProblemDialog

    if db_url is None:
        from auditdesk.runtime.db_settings import needs_password_prompt
        from auditdesk.ui.common.database_page import ask_password_url

        if needs_password_prompt() is not None:
            db_url = ask_password_url()
            if db_url is None:
                return None  # the user cancelled the password: nothing to open
    url = db_url or database_url()
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
                from auditdesk.ui.common.database_page import open_database_settings

                open_database_settings()  # an unreachable server: fix the settings, restart
            return None


def show_read_only(window: MainWindow, db: Database) -> None:
    """Mark a read-only window at once, and say so again in the status bar once the deferred
    start is done (its "N studies indexed" would otherwise hide the message)."""
    from auditdesk.ui.common.database_dialogs import mark_read_only

    mark_read_only(window, db)
    if db.read_only:
        message = db.read_only_message()
        window.first_exam_opened.connect(lambda: window.statusBar().showMessage(message))


def run(db_url: str | None = None, read_only: bool = False) -> int:
    """Open the main window on the database and run the event loop."""
    from auditdesk.runtime import app_log
    from auditdesk.ui.common.database_dialogs import install_excepthook
    from auditdesk.ui.main_window import MainWindow, settings

    app_log.setup()
    app = create_app()
    apply_theme(str(settings().value("theme", "dark")))
    db = open_with_dialogs(db_url, read_only)
    if db is None:
        return 3
    from auditdesk.runtime.crash_report import database_identifiers
    from auditdesk.ui.common.crash_dialog import install_crash_handler
    from auditdesk.ui.common.selftest_qt import add_selftest_action

    install_crash_handler([database_identifiers(db)])
    install_excepthook()  # refused writes first: "Not saved", not a crash report
    window = MainWindow(db, defer_first_exam=True)  # on screen first, then the first exam
    add_selftest_action(window)
    show_read_only(window, db)
    from auditdesk.ui import startup_probe

    startup_probe.install(window)
    window.show()
    code = app.exec()
    db.dispose()
    return code
