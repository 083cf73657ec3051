"""Merging and splitting studies in the window as a reviewer does it: right-click a study in the
tree, pick the entry, check the hanging preview, type why, press the button; then the database
holds one exam (or two), with the reviewer's name in the history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMenu
from sqlalchemy import select

from auditdesk.dicom.index import import_paths
from auditdesk.paths import data_dir
from auditdesk.store import audits as store
from auditdesk.store.catalog import list_studies
from auditdesk.store.models import StudyGrouping
from auditdesk.ui.reading.worklist import COL_VIEWS
from study_group_files import four_view_exam

pytestmark = pytest.mark.gui
DAY = dt.date(2025, 3, 4)


@pytest.fixture
def window(qtbot, db, loader, tmp_path: Path):
    from auditdesk.ui.main_window import MainWindow

    four_view_exam(tmp_path / "data", index=1, day=DAY, patient_id="FILM9",
                   view_in_patient_id=True)  # fmt: skip
    import_paths(db, [tmp_path / "data"])
    with db.transaction() as session:
        reviewer_pk = store.create_reviewer(session, "Tess Tech", "technologist", "TT").id
    ini = QSettings(str(data_dir() / "auditdesk.ini"), QSettings.Format.IniFormat)
    ini.setValue("reviewer_id", reviewer_pk)
    ini.sync()
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    assert win.reviewer is not None
    return win


def _study_row(win, study_id: int) -> int:
    from auditdesk.ui.main_window import ROLE_ID

    for row in range(win.model.rowCount()):
        if win.model.item(row, 0).data(ROLE_ID) == study_id:
            return row
    raise AssertionError(f"study {study_id} not in the tree")


def _right_click_and_choose(qtbot, win, study_id: int, entry: str) -> None:
    """Open the study row's context menu and choose ``entry`` with the keyboard."""
    qtbot.wait(100)  # let a dialog that just closed hand the focus back (it would close a popup)
    row = _study_row(win, study_id)
    index = win.model.index(row, 0)
    win.tree.scrollTo(index)
    pos = win.tree.visualRect(index).center()
    chosen: list[str] = []

    def pick() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu), (
            QApplication.activeModalWidget(),
            [w for w in QApplication.topLevelWidgets() if w.isVisible()],
        )
        texts = [a.text() for a in menu.actions()]
        action = next(a for a in menu.actions() if a.text().startswith(entry))
        assert action.isEnabled(), texts
        menu.setActiveAction(action)
        chosen.append(action.text())
        qtbot.keyClick(menu, Qt.Key.Key_Return)

    QTimer.singleShot(100, pick)
    win.tree.customContextMenuRequested.emit(pos)
    assert chosen, "the context menu did not open"


def test_suggested_studies_are_marked_merged_from_the_menu_and_unmerged(qtbot, db, window):
    with db.session() as s:
        ids = sorted(st.id for st in list_studies(s))
    assert len(ids) == 4
    # The tree marks each of the four one-image studies with the suggestion, nothing merged.
    marks = [window.model.item(r, 1).text() for r in range(window.model.rowCount())]
    assert all("merge suggested with" in text for text in marks), marks
    assert "FILM9" not in " ".join(marks)
    # The worklist says so too, with the other studies in the tooltip.
    views = window.worklist.model.index(0, COL_VIEWS)
    assert "merge suggested" in views.data()
    assert "File → Suggested merges" in views.data(Qt.ItemDataRole.ToolTipRole)

    _right_click_and_choose(qtbot, window, ids[0], "Merge with other studies")
    dialog = window.study_group_dialog
    qtbot.waitUntil(dialog.isVisible)
    assert sorted(dialog.checked()) == ids  # the suggested group is ticked
    preview = dialog.preview.toPlainText()
    for slot in ("RMLO", "LMLO", "RCC", "LCC"):
        assert f"{slot} " in preview and "empty" not in preview, preview
    assert "4 image(s)" in preview
    # Unticking one study updates the preview: its slot goes empty.
    item = dialog.items.item(dialog.items.count() - 1)
    item.setCheckState(Qt.CheckState.Unchecked)
    assert "empty" in dialog.preview.toPlainText()
    item.setCheckState(Qt.CheckState.Checked)
    qtbot.keyClicks(dialog.reason, "film digitised one image per study")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible())

    with db.session() as s:
        studies = list_studies(s)
        (grouping,) = s.scalars(select(StudyGrouping)).all()
    assert len(studies) == 1 and studies[0].n_images == 4
    assert (grouping.action, grouping.reviewer, grouping.reason) == (
        "merge",
        "Tess Tech",
        "film digitised one image per study",
    )
    assert window.model.rowCount() == 1
    assert "merge suggested" not in window.model.item(0, 1).text()

    merged = studies[0].id
    _right_click_and_choose(qtbot, window, merged, "Unmerge")
    dialog = window.study_group_dialog
    qtbot.waitUntil(dialog.isVisible)
    assert f"merged from studies {', '.join(map(str, ids))}" in dialog.preview.toPlainText()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    with db.session() as s:
        assert len(list_studies(s)) == 4
        assert s.scalar(select(StudyGrouping.undone_by)) == "Tess Tech"
    assert window.model.rowCount() == 4


def test_split_from_the_menu_and_a_refusal_stays_in_the_dialog(qtbot, db, window):
    with db.session() as s:
        ids = sorted(st.id for st in list_studies(s))
    _right_click_and_choose(qtbot, window, ids[0], "Merge with other studies")
    dialog = window.study_group_dialog
    qtbot.waitUntil(dialog.isVisible)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    with db.session() as s:
        (merged,) = list_studies(s)

    _right_click_and_choose(qtbot, window, merged.id, "Split this study")
    dialog = window.study_group_dialog
    qtbot.waitUntil(dialog.isVisible)
    assert not dialog.ok_button.isEnabled()  # nothing ticked yet
    for i in range(dialog.items.count()):  # tick the two CC images: "the other exam"
        if "CC" in dialog.items.item(i).text():
            dialog.items.item(i).setCheckState(Qt.CheckState.Checked)
    preview = dialog.preview.toPlainText()
    keeps, gets = preview.split("New study gets")
    assert "RCC   empty" in keeps and "RMLO  image" in keeps
    assert "RCC   image" in gets and "RMLO  empty" in gets
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    with db.session() as s:
        studies = list_studies(s)
    assert sorted(tuple(st.views) for st in studies) == [("RCC", "LCC"), ("RMLO", "LMLO")]

    # The merged study now has a later split: unmerging it is refused inside the dialog.
    _right_click_and_choose(qtbot, window, merged.id, "Unmerge")
    dialog = window.study_group_dialog
    qtbot.waitUntil(dialog.isVisible)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "first" in dialog.error.text()
    with db.session() as s:
        assert len(list_studies(s)) == 2
    dialog.reject()


def test_suggestion_list_opens_the_merge_and_history_undoes_it(qtbot, db, window):
    from auditdesk.ui.reading import study_groups

    with db.session() as s:
        ids = sorted(st.id for st in list_studies(s))
    action = next(
        a for a in window.menuBar().actions()[0].menu().actions() if "Suggested" in a.text()
    )
    action.trigger()
    listing = window.study_group_dialog
    assert isinstance(listing, study_groups.SuggestionsDialog)
    assert listing.list.count() == 1 and "RCC, LCC, RMLO, LMLO" in listing.list.item(0).text()
    listing.list.setCurrentRow(0)
    qtbot.mouseClick(listing.review_button, Qt.MouseButton.LeftButton)
    dialog = window.study_group_dialog
    assert isinstance(dialog, study_groups.StudyGroupDialog) and dialog.mode == "merge"
    assert sorted(dialog.checked()) == ids
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    with db.session() as s:
        (merged,) = list_studies(s)

    _right_click_and_choose(qtbot, window, merged.id, "Merge and split history")
    history = window.study_group_dialog
    assert isinstance(history, study_groups.GroupHistoryDialog)
    assert "Tess Tech: merged studies" in history.list.item(0).text()
    history.list.setCurrentRow(0)
    qtbot.mouseClick(history.undo_button, Qt.MouseButton.LeftButton)
    assert "undone" in history.list.item(0).text()
    with db.session() as s:
        assert len(list_studies(s)) == 4
    assert window.model.rowCount() == 4
