"""The window's side of reliability: a refused database offers another file or a backup; a
read-only database says so and refuses writes in one sentence; File > Database backups."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from auditdesk.store import backup
from auditdesk.store.db import open_database


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def quiet_boxes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    for name in ("information", "warning", "critical"):
        monkeypatch.setattr(
            QMessageBox,
            name,
            staticmethod(lambda _p, title, text, *a, **k: shown.append((title, text))),
        )
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)
    )
    return shown


def _good_db(path: Path) -> None:
    from auditdesk.store.audits import create_reviewer

    db = open_database(f"sqlite:///{path}")
    with db.transaction() as s:
        create_reviewer(s, "Robin", "coach", "RB")
    db.dispose()


def test_refused_database_dialog_restores_a_backup(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet_boxes
) -> None:
    from auditdesk.ui import app as ui_app
    from auditdesk.ui.common.database_dialogs import DatabaseProblemDialog

    path = tmp_path / "audits.sqlite"
    _good_db(path)
    saved = backup.make_backup(path, "manual")
    path.write_bytes(b"")  # the file is emptied by accident
    seen: list[DatabaseProblemDialog] = []

    def fake_exec(dialog: DatabaseProblemDialog) -> int:
        seen.append(dialog)
        assert dialog.open_button.text() == "Open another database…"
        assert dialog.restore_button.text() == "Restore from backup…"
        monkeypatch.setattr(
            QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(saved), ""))
        )
        dialog.restore_button.click()
        return dialog.result()

    monkeypatch.setattr(DatabaseProblemDialog, "exec", fake_exec)
    db = ui_app.open_with_dialogs(f"sqlite:///{path}")
    assert db is not None and len(seen) == 1
    from sqlalchemy import select

    from auditdesk.store.models import Reviewer

    with db.session() as s:
        assert list(s.scalars(select(Reviewer.name))) == ["Robin"]
    db.dispose()


def test_quit_leaves_a_damaged_file_unchanged(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditdesk.ui import app as ui_app
    from auditdesk.ui.common.database_dialogs import DatabaseProblemDialog

    path = tmp_path / "audits.sqlite"
    path.write_bytes(b"this is not a database" * 200)
    before = _sha(path)
    monkeypatch.setattr(DatabaseProblemDialog, "exec", lambda self: 0)  # Quit
    assert ui_app.open_with_dialogs(f"sqlite:///{path}") is None
    assert _sha(path) == before


def test_read_only_window_says_so_and_refuses_a_write(
    qtbot, tmp_path: Path, loader, quiet_boxes
) -> None:
    from auditdesk.store.audits import create_reviewer
    from auditdesk.store.errors import ReadOnlyDatabaseError
    from auditdesk.ui.common.database_dialogs import mark_read_only, show_error
    from auditdesk.ui.main_window import MainWindow

    path = tmp_path / "audits.sqlite"
    _good_db(path)
    db = open_database(f"sqlite:///{path}", read_only=True)
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    mark_read_only(win, db)
    assert win.windowTitle().endswith("read-only")
    assert "open read-only" in win.statusBar().currentMessage()
    with pytest.raises(ReadOnlyDatabaseError) as info, db.transaction() as s:
        create_reviewer(s, "Kim", "coach", "KM")
    show_error(info.value)  # what the window's exception hook shows
    assert quiet_boxes[-1] == ("Not saved", str(info.value))
    db.dispose()


def test_backups_dialog_backs_up_and_keeps_n(qtbot, tmp_path: Path, quiet_boxes) -> None:
    from auditdesk.runtime import app_settings
    from auditdesk.ui.common.database_dialogs import BackupsDialog

    path = tmp_path / "audits.sqlite"
    _good_db(path)
    shutil.rmtree(backup.backup_folder(path), ignore_errors=True)
    dialog = BackupsDialog(path, read_only=False)
    qtbot.addWidget(dialog)
    dialog.keep.setValue(2)
    assert app_settings.backup_keep() == 2
    for _ in range(3):
        dialog.backup_button.click()
    assert dialog.list.count() == 2 == len(backup.list_backups(path))
    dialog.list.setCurrentRow(1)
    dialog.restore_button.click()
    assert dialog.restored
    assert quiet_boxes[-1][0] == "Backup restored"
