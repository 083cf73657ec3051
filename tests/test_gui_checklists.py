"""Checklists → Show checklists…: the loaded checklists, and a broken site file pointed out by
file and line while the shipped checklists still load."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from auditdesk.checklists.loader import load_checklist_file, shipped_dir, site_dir

pytestmark = pytest.mark.gui

SHIPPED_IDS = {
    "acr-mammo-positioning",
    "ear",
    "mqsa-attributes",
    "pgmi",
    "pi-qual-v1",
    "pi-qual-v2",
}


def _window(qtbot, db, loader):
    from auditdesk.ui.main_window import MainWindow

    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()
    return win


def _write_broken_site_file() -> tuple[str, int]:
    """A copy of the shipped PGMI file with an unknown item type; returns (name, line)."""
    lines = (shipped_dir() / "pgmi.toml").read_text(encoding="utf-8").split("\n")
    line = next(n for n, text in enumerate(lines) if text.startswith('type = "pass_fail"'))
    lines[line] = 'type = "slider"'
    folder = site_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pgmi-site.toml").write_text("\n".join(lines), encoding="utf-8")
    return "pgmi-site.toml", line + 1


def _table_rows(dialog) -> list[tuple[str, ...]]:
    table = dialog.table
    return [
        tuple(table.item(r, c).text() for c in range(table.columnCount()))
        for r in range(table.rowCount())
    ]


def test_a_broken_site_file_is_pointed_out_and_the_others_still_load(qtbot, db, loader):
    name, line = _write_broken_site_file()
    win = _window(qtbot, db, loader)

    # A non-modal warning in the status bar, no dialog in the way.
    assert win.checklist_warning.isVisible()
    assert win.checklist_warning.text().endswith(
        "1 checklist file has an error; see Checklists → Show checklists…"
    )
    modal = QApplication.activeModalWidget()
    assert modal is None or not win.isAncestorOf(modal)

    win.show_checklists_action.trigger()
    dialog = win.checklists_dialog
    assert dialog is not None and dialog.isVisible()
    errors = [dialog.error_list.item(i).text() for i in range(dialog.error_list.count())]
    assert len(errors) == 1
    expected = f"{site_dir() / name}:{line}: [sections[0].items[0].type] unknown item type 'slider'"
    assert errors[0].startswith(expected), errors[0]
    assert dialog.error_list.isVisible()
    assert "1 file could not be loaded" in dialog.errors_title.text()

    rows = _table_rows(dialog)
    assert {r[0] for r in rows} == SHIPPED_IDS
    assert {r[4] for r in rows} == {"shipped"}
    pgmi = next(r for r in rows if r[0] == "pgmi")
    assert pgmi[1:3] == (win.checklists.get("pgmi").version, "MG")
    assert int(pgmi[5]) == len(win.checklists.get("pgmi").unconfirmed) > 0

    # Clicking the warning opens the same dialog.
    dialog.close()
    qtbot.mouseClick(win.checklist_warning, Qt.MouseButton.LeftButton)
    assert win.checklists_dialog is not None and win.checklists_dialog.isVisible()


def test_details_show_sources_unconfirmed_notes_and_the_meets_criteria_rule(qtbot, db, loader):
    win = _window(qtbot, db, loader)
    assert not win.checklist_warning.isVisible()
    dialog = win.show_checklists()
    assert not dialog.error_list.isVisible()
    assert dialog.errors_title.text() == "All checklist files loaded without errors."
    ids = [r[0] for r in _table_rows(dialog)]
    dialog.table.setFocus()
    dialog.table.selectRow(0)
    for _ in range(ids.index("pgmi")):
        qtbot.keyClick(dialog.table, Qt.Key.Key_Down)
    text = dialog.details.toPlainText()
    pgmi = win.checklists.get("pgmi")
    assert pgmi.title in text
    assert "[P] Radiopaedia: PGMI evaluation system" in text
    assert "[NF]" in text
    assert f"Unconfirmed notes ({len(pgmi.unconfirmed)})" in text
    assert pgmi.unconfirmed[0][:40] in text
    assert "When does an exam meet criteria?" in text
    assert pgmi.meets_criteria in text


def test_an_edited_site_version_is_listed_as_site_and_reload_clears_fixed_errors(qtbot, db, loader):
    name, _line = _write_broken_site_file()
    win = _window(qtbot, db, loader)
    dialog = win.show_checklists()
    assert dialog.error_list.count() == 1

    # The site fixes the file and gives it a new version.
    shipped = load_checklist_file(shipped_dir() / "pgmi.toml")
    new = shipped.version + ".1"
    (site_dir() / name).write_text(
        shipped.source_text.replace(f'version = "{shipped.version}"', f'version = "{new}"', 1),
        encoding="utf-8",
    )
    reload_button = dialog.findChild(type(dialog.open_button), "reload_checklists")
    qtbot.mouseClick(reload_button, Qt.MouseButton.LeftButton)
    assert dialog.error_list.count() == 0 and not dialog.error_list.isVisible()
    assert not win.checklist_warning.isVisible()
    rows = _table_rows(dialog)
    assert ("pgmi", new) in {(r[0], r[1]) for r in rows}
    assert next(r for r in rows if r[:2] == ("pgmi", new))[4] == "site"


def test_open_site_folder_shows_the_path_without_launching_anything(qtbot, db, loader):
    win = _window(qtbot, db, loader)
    dialog = win.show_checklists()
    opened = []
    dialog.open_folder = lambda path: opened.append(path) or False
    assert dialog.folder_edit.text() == str(site_dir())
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert opened == [site_dir()] and site_dir().is_dir()
    assert str(site_dir()) in dialog.folder_note.text()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == str(site_dir())
