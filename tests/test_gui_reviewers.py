"""Reviewer chosen at start, driven with the keyboard as a reviewer would, and corrections
attributed to whoever is current."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from auditdesk.dicom.index import import_paths
from auditdesk.store.audits import create_reviewer, set_reviewer_active
from auditdesk.store.models import ClassificationOverride, Image, Reviewer

pytestmark = pytest.mark.gui


def _open(qtbot, db, loader, **kwargs):
    from auditdesk.ui.main_window import MainWindow

    win = MainWindow(db, loader=loader, **kwargs)
    qtbot.addWidget(win)
    win.show()
    return win


def _wait_dialog(qtbot, win):
    qtbot.waitUntil(
        lambda: win.reviewer_dialog is not None and win.reviewer_dialog.isVisible(), timeout=5000
    )
    return win.reviewer_dialog


def _type(qtbot, dialog, text: str) -> None:
    """Type into whatever has the keyboard focus in the dialog."""
    qtbot.keyClicks(dialog.focusWidget(), text)


def _key(qtbot, dialog, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(dialog.focusWidget(), key, modifier)


def _add_reviewer(db, name: str, role: str = "technologist", initials: str = "XX") -> int:
    with db.transaction() as session:
        return create_reviewer(session, name, role, initials).id


def _remember(reviewer_id: int) -> None:
    from auditdesk.ui.main_window import settings

    settings().setValue("reviewer_id", reviewer_id)


def test_first_start_asks_and_a_new_reviewer_is_created_with_the_keyboard(qtbot, db, loader):
    win = _open(qtbot, db, loader)
    dialog = _wait_dialog(qtbot, win)
    assert win.reviewer is None
    assert dialog.windowTitle() == "Who is reviewing?"
    # No reviewers yet: the cursor is already in the name field.
    assert dialog.focusWidget() is dialog.name_edit
    _type(qtbot, dialog, "Jane Smith")
    _key(qtbot, dialog, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is dialog.role_combo
    _key(qtbot, dialog, Qt.Key.Key_Down)  # technologist -> team leader
    _key(qtbot, dialog, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is dialog.initials_edit
    assert dialog.initials_edit.text() == "JS"  # suggested from the name
    _key(qtbot, dialog, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    _type(qtbot, dialog, "JSm")
    _key(qtbot, dialog, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.reviewer is not None, timeout=5000)

    with db.session() as session:
        rows = [(r.name, r.role, r.initials, r.active) for r in session.scalars(select(Reviewer))]
    assert rows == [("Jane Smith", "team_leader", "JSm", True)]
    assert win.reviewer.name == "Jane Smith"
    assert win.reviewer_label.text() == "Reviewer: Jane Smith (team leader)"
    assert win.reviewer_label.isVisible()
    assert win.reviewer_dialog is None
    win.close()

    # Restarting with the same data folder picks the reviewer up without asking.
    again = _open(qtbot, db, loader)
    qtbot.wait(100)
    assert again.reviewer_dialog is None
    assert again.reviewer is not None and again.reviewer.name == "Jane Smith"
    assert "Jane Smith" in again.reviewer_label.text()


def test_a_name_that_exists_is_refused_with_a_sentence(qtbot, db, loader):
    _add_reviewer(db, "Jane Smith")
    win = _open(qtbot, db, loader)
    dialog = _wait_dialog(qtbot, win)
    dialog.name_edit.setFocus()
    _type(qtbot, dialog, "Jane Smith")
    _key(qtbot, dialog, Qt.Key.Key_Return)
    assert dialog.isVisible()
    assert dialog.error_label.isVisible()
    assert "already exists" in dialog.error_label.text()
    assert win.reviewer is None


def test_escape_at_start_leaves_the_window_read_only_and_recording_asks_again(
    qtbot, db, loader, shared_data
):
    import_paths(db, [shared_data / "mg" / "GH133_GE_SenographeEssential_R_MLO.dcm"])
    win = _open(qtbot, db, loader)
    dialog = _wait_dialog(qtbot, win)
    _key(qtbot, dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: win.reviewer_dialog is None, timeout=5000)
    assert win.reviewer is None
    assert "No reviewer chosen" in win.reviewer_label.text()
    assert win.model.rowCount() == 1  # studies are still there to look at

    with db.session() as session:
        image_id = session.scalar(select(Image.id))

    def answer() -> None:  # the blocking prompt of a recording action, answered by keys
        asked = win.reviewer_dialog
        assert asked is not None and asked.isVisible()
        _type(qtbot, asked, "Sam Coach")
        _key(qtbot, asked, Qt.Key.Key_Tab)
        _type(qtbot, asked, "c")  # keyboard search in the role list: Coach
        _key(qtbot, asked, Qt.Key.Key_Return)

    QTimer.singleShot(50, answer)
    assert win.record_override("image", image_id, "view", "CC", "mislabelled")
    with db.session() as session:
        overrides = [(o.value, o.reviewer) for o in session.scalars(select(ClassificationOverride))]
        role = session.scalar(select(Reviewer.role).where(Reviewer.name == "Sam Coach"))
    assert overrides == [("CC", "Sam Coach")]
    assert role == "coach"
    assert win.reviewer is not None and win.reviewer.name == "Sam Coach"


def test_declining_the_prompt_saves_nothing(qtbot, db, loader, shared_data):
    import_paths(db, [shared_data / "mg" / "GH133_GE_SenographeEssential_R_MLO.dcm"])
    win = _open(qtbot, db, loader, ask_reviewer=False)
    assert win.reviewer is None and win.reviewer_dialog is None
    with db.session() as session:
        image_id = session.scalar(select(Image.id))
    QTimer.singleShot(50, lambda: _key(qtbot, win.reviewer_dialog, Qt.Key.Key_Escape))
    assert not win.record_override("image", image_id, "view", "CC")
    with db.session() as session:
        assert session.scalar(select(ClassificationOverride.id)) is None


def test_switching_reviewer_attributes_later_corrections(qtbot, db, loader, shared_data):
    alice = _add_reviewer(db, "Alice Jones", "technologist", "AJ")
    _add_reviewer(db, "Bob Brown", "coach", "BB")
    _remember(alice)
    import_paths(db, [shared_data / "mg" / "GH133_GE_SenographeEssential_R_MLO.dcm"])
    win = _open(qtbot, db, loader)
    qtbot.wait(50)
    assert win.reviewer_dialog is None
    assert win.reviewer is not None and win.reviewer.name == "Alice Jones"
    with db.session() as session:
        image_id = session.scalar(select(Image.id))
    assert win.record_override("image", image_id, "view", "CC", "mislabelled")

    assert win.switch_reviewer_action.shortcut().toString() == "Ctrl+R"
    win.switch_reviewer_action.trigger()
    dialog = _wait_dialog(qtbot, win)
    assert dialog.focusWidget() is dialog.list
    assert dialog.list.currentItem().text().startswith("Alice Jones")  # current preselected
    _key(qtbot, dialog, Qt.Key.Key_Down)
    _key(qtbot, dialog, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.reviewer is not None and win.reviewer.name == "Bob Brown")
    assert win.reviewer_label.text() == "Reviewer: Bob Brown (coach)"

    # The GUI's correction path after the switch is attributed to Bob.
    assert win.record_override("image", image_id, "view", "MLO", "was right after all")
    with db.session() as session:
        rows = [
            (o.value, o.reviewer)
            for o in session.scalars(
                select(ClassificationOverride).order_by(ClassificationOverride.id)
            )
        ]
    assert rows == [("CC", "Alice Jones"), ("MLO", "Bob Brown")]


def test_ctrl_r_opens_the_reviewer_dialog(qtbot, db, loader):
    _remember(_add_reviewer(db, "Alice Jones"))
    win = _open(qtbot, db, loader)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    qtbot.keyClick(win, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    dialog = _wait_dialog(qtbot, win)
    _key(qtbot, dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: win.reviewer_dialog is None)
    assert win.reviewer is not None and win.reviewer.name == "Alice Jones"  # unchanged


def test_a_deactivated_remembered_reviewer_is_not_used_at_start(qtbot, db, loader):
    gone = _add_reviewer(db, "Gone Away", initials="GA")
    _add_reviewer(db, "Still Here", initials="SH")
    _remember(gone)
    with db.transaction() as session:
        set_reviewer_active(session, gone, False)
    win = _open(qtbot, db, loader)
    dialog = _wait_dialog(qtbot, win)
    assert win.reviewer is None
    names = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert len(names) == 1 and names[0].startswith("Still Here")
    _key(qtbot, dialog, Qt.Key.Key_Return)  # the only active reviewer is preselected
    qtbot.waitUntil(lambda: win.reviewer is not None)
    assert win.reviewer.name == "Still Here"


def test_a_remembered_reviewer_that_no_longer_exists_is_not_used(qtbot, db, loader):
    _remember(4242)
    win = _open(qtbot, db, loader)
    _wait_dialog(qtbot, win)
    assert win.reviewer is None


def test_manage_reviewers_deactivates_and_reactivates(qtbot, db, loader):
    from auditdesk.ui.common.reviewers import ManageReviewersDialog

    alice = _add_reviewer(db, "Alice Jones", initials="AJ")
    _remember(alice)
    win = _open(qtbot, db, loader)
    assert win.reviewer is not None
    win.manage_reviewers_action.trigger()
    dialog = next(w for w in win.findChildren(ManageReviewersDialog) if w.isVisible())
    assert dialog.table.item(0, 3).text() == "active"
    assert dialog.toggle_button.text() == "Deactivate"
    qtbot.mouseClick(dialog.toggle_button, Qt.MouseButton.LeftButton)
    with db.session() as session:
        assert session.get(Reviewer, alice).active is False
    assert dialog.table.item(0, 3).text() == "deactivated"
    assert dialog.toggle_button.text() == "Reactivate"
    dialog.reject()
    # The current reviewer was deactivated: nothing is attributed to them any more.
    assert win.reviewer is None
    assert "No reviewer chosen" in win.reviewer_label.text()

    win.manage_reviewers_action.trigger()
    dialog = next(w for w in win.findChildren(ManageReviewersDialog) if w.isVisible())
    qtbot.mouseClick(dialog.toggle_button, Qt.MouseButton.LeftButton)
    with db.session() as session:
        assert session.get(Reviewer, alice).active is True
    dialog.reject()
