"""The database's own dialogs: a refused database at start, and File > Database backups.

Why here and not in the main window: the refusal dialog is shown before any window exists
(the database could not be opened), and both dialogs only call ``store.backup`` /
``store.db.open_database``; the rules (what is damaged, which backups are kept) live there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from auditdesk.runtime import app_settings
from auditdesk.store import backup
from auditdesk.store.errors import DatabaseError

if TYPE_CHECKING:
    from auditdesk.store.db import Database


class DatabaseProblemDialog(QDialog):
    """The one sentence of a refused database, with the two ways out the sentence names."""

    OPEN_OTHER, RESTORE = 10, 11

    def __init__(self, message: str, db_path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("AuditDesk cannot open its database")
        self.db_path = db_path
        self.chosen: Path | None = None
        label = QLabel(message)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox()
        self.open_button = buttons.addButton(
            "Open another database…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.restore_button = buttons.addButton(
            "Restore from backup…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.restore_button.setEnabled(db_path is not None)
        quit_button = buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        self.open_button.clicked.connect(self._open_other)
        self.restore_button.clicked.connect(self._restore)
        quit_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(buttons)
        self.resize(560, 180)

    def _open_other(self) -> None:
        start = str(self.db_path.parent) if self.db_path else ""
        name, _ = QFileDialog.getOpenFileName(
            self, "Open another AuditDesk database", start, "SQLite (*.sqlite *.db);;All (*)"
        )
        if name:
            self.chosen = Path(name)
            self.done(self.OPEN_OTHER)

    def _restore(self) -> None:
        assert self.db_path is not None
        if restore_with_dialog(self, self.db_path):
            self.done(self.RESTORE)


def restore_with_dialog(parent: QWidget, db_path: Path, source: Path | None = None) -> bool:
    """Ask for a backup (unless given), restore it, say what happened; True when restored."""
    if source is None:
        name, _ = QFileDialog.getOpenFileName(
            parent, "Restore from backup", str(backup.backup_folder(db_path)), "SQLite (*.sqlite)"
        )
        if not name:
            return False
        source = Path(name)
    try:
        kept = backup.restore_backup(source, db_path)
    except DatabaseError as exc:
        QMessageBox.warning(parent, "Backup not restored", str(exc))
        return False
    note = f"\n\nThe previous file was kept as {kept}." if kept else ""
    QMessageBox.information(parent, "Backup restored", f"Restored {db_path} from {source}.{note}")
    return True


class BackupsDialog(QDialog):
    """File > Database backups: list, back up now, restore, and how many to keep."""

    def __init__(self, db_path: Path, read_only: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Database backups")
        self.db_path = db_path
        self.restored = False
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.keep = QSpinBox()
        self.keep.setRange(1, 365)
        self.keep.setValue(app_settings.backup_keep())
        self.keep.valueChanged.connect(app_settings.set_backup_keep)
        self.backup_button = QPushButton("Back up now")
        self.backup_button.clicked.connect(self._backup_now)
        self.backup_button.setEnabled(not read_only)
        self.restore_button = QPushButton("Restore selected…")
        self.restore_button.clicked.connect(self._restore_selected)
        self.restore_button.setEnabled(not read_only)
        row = QHBoxLayout()
        row.addWidget(QLabel("Keep the newest"))
        row.addWidget(self.keep)
        row.addStretch(1)
        row.addWidget(self.backup_button)
        row.addWidget(self.restore_button)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        where = QLabel(f"Backups of {db_path} in {backup.backup_folder(db_path)}")
        where.setWordWrap(True)
        layout.addWidget(where)
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(close)
        self.resize(640, 360)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for info in backup.list_backups(self.db_path):
            item = QListWidgetItem(
                f"{info.created:%Y-%m-%d %H:%M:%S}   {info.reason}   {info.size / 1e6:.1f} MB"
            )
            item.setData(Qt.ItemDataRole.UserRole, str(info.path))
            self.list.addItem(item)

    def _backup_now(self) -> None:
        try:
            backup.make_backup(self.db_path, "manual")
        except DatabaseError as exc:
            QMessageBox.warning(self, "No backup made", str(exc))
        self.refresh()

    def _restore_selected(self) -> None:
        item = self.list.currentItem()
        if item is None:
            QMessageBox.information(self, "Restore", "Choose a backup in the list first.")
            return
        source = Path(item.data(Qt.ItemDataRole.UserRole))
        answer = QMessageBox.question(
            self,
            "Restore this backup?",
            "The database is replaced by this backup (the current file is kept as a backup "
            "first). AuditDesk closes afterwards; start it again to continue.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        if restore_with_dialog(self, self.db_path, source):
            self.restored = True
            self.accept()
        self.refresh()


def show_error(exc: BaseException) -> None:
    """The GUI's last net (``sys.excepthook``): one sentence in a dialog, details in the log."""
    from auditdesk.runtime import app_log

    if isinstance(exc, DatabaseError):
        QMessageBox.warning(None, "Not saved", str(exc))
        return
    app_log.log_exception("gui: unexpected error", exc)
    QMessageBox.critical(
        None,
        "Unexpected error",
        f"Something went wrong ({type(exc).__name__}); what was saved before stays saved. "
        f"Details are in {app_log.log_path()}.",
    )


def install_excepthook() -> None:
    """A refused write (read-only or damaged database) is one "Not saved" sentence; anything
    else goes on to the hook installed before (the crash report dialog)."""
    from auditdesk.store.db import DatabaseError

    previous = sys.excepthook

    def hook(kind, value, tb) -> None:  # noqa: ANN001 (sys.excepthook's signature)
        if isinstance(value, DatabaseError):
            show_error(value)
        else:
            previous(kind, value, tb)

    sys.excepthook = hook


def mark_read_only(window: QMainWindow, db: Database) -> None:
    """Say "read-only" where the user looks: the window title and the status bar."""
    if db.read_only:
        window.setWindowTitle(f"{window.windowTitle()} — read-only")
        window.statusBar().showMessage(db.read_only_message())


def open_backups(window: QWidget, db: Database) -> BackupsDialog | None:
    """File > Database backups…; after a restore the window closes (its data is stale)."""
    if db.path is None:
        QMessageBox.information(
            window, "Database backups", "Backups here are for SQLite files; use the server's tools."
        )
        return None
    dialog = BackupsDialog(db.path, db.read_only, window)
    dialog.exec()
    if dialog.restored:
        window.close()
    return dialog
