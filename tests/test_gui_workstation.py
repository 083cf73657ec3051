"""Workstation conveniences in the main window: drag-and-drop import, the extra images of a
hanging, blinding, and the user's own window presets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from auditdesk.dicom.index import import_paths
from auditdesk.dicom.loader import LoadedImage

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, db, loader):
    from auditdesk.ui.main_window import MainWindow

    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()
    return win


def _drop(win, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    win.dropEvent(event)


def test_dropping_a_folder_imports_it_off_the_gui_thread(qtbot, window, test_set):
    assert window.model.rowCount() == 0
    _drop(window, [test_set.root])
    assert window.import_worker is not None
    qtbot.waitUntil(lambda: window.last_summary is not None, timeout=120000)
    assert window.model.rowCount() == len(test_set.studies)


def test_dropping_text_is_ignored(window):
    mime = QMimeData()
    mime.setText("not a file")
    event = QDropEvent(
        QPoint(1, 1),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.import_worker is None


def _mammo_with_extras(test_set):
    return next(
        s
        for s in test_set.studies
        if s.kind == "mammo" and any(f.modifier or f.for_processing for f in s.files)
    )


def _show_study(qtbot, win, db, study_uid: str) -> None:
    from sqlalchemy import select

    from auditdesk.store.models import Study
    from auditdesk.ui.main_window import ROLE_ID

    with db.session() as session:
        study_id = session.scalar(select(Study.id).where(Study.study_uid == study_uid))
    for row in range(win.model.rowCount()):
        index = win.model.index(row, 0)
        if index.data(ROLE_ID) == study_id:
            win.tree.setCurrentIndex(index)
            break
    qtbot.waitUntil(win.hanging_view.all_loaded, timeout=60000)


def test_extra_images_are_reachable_from_the_hanging(qtbot, db, window, test_set):
    import_paths(db, [test_set.root])
    window.refresh()
    study = _mammo_with_extras(test_set)
    _show_study(qtbot, window, db, study.study_uid)
    combo = window.extras_combo
    n_extra = sum(1 for f in study.files if f.modifier or f.for_processing)
    assert combo.count() == 1 + n_extra
    assert combo.itemText(0) == "4-view hanging"
    extra_id = combo.itemData(1)
    window.last_loaded = None
    window.show_extra(extra_id)
    qtbot.waitUntil(lambda: isinstance(window.last_loaded, LoadedImage), timeout=60000)
    assert window.central.currentWidget() is window.viewport
    assert window.viewport.array is not None
    # ... and back to the 2x2 from the same list.
    combo.setCurrentIndex(0)
    window._on_extra_chosen(0)
    assert window.central.currentWidget() is window.hanging_view


def test_blinding_hides_the_technologist_in_tree_and_overlays(qtbot, db, window, test_set):
    import_paths(db, [test_set.root])
    window.refresh()
    study = next(s for s in test_set.studies if s.kind == "mammo" and s.technologist)
    _show_study(qtbot, window, db, study.study_uid)
    technologist = window.hanging_view.study.technologist  # as indexed ("SMITH, JANE")
    assert technologist

    def visible_text() -> str:
        texts = []
        for row in range(window.model.rowCount()):
            texts.append(window.model.index(row, 1).data() or "")
        texts += [vp.overlay.text() for vp in window.hanging_view.viewports.values()]
        return "\n".join(texts)

    assert technologist in visible_text()
    window.blind_action.trigger()
    assert window.blinded
    _show_study(qtbot, window, db, study.study_uid)
    assert technologist not in visible_text()
    assert "hidden" in visible_text()


def test_a_saved_window_preset_is_offered_again_for_the_same_modality(qtbot, db, window, test_set):
    import_paths(db, [test_set.root])
    window.refresh()
    study = next(s for s in test_set.studies if s.kind == "mammo")
    _show_study(qtbot, window, db, study.study_uid)
    viewport = window.hanging_view.viewports["RCC"]
    window._hanging_active = viewport
    viewport.set_window(1234, 567)
    assert window.save_user_preset("Dense breast", viewport)
    names = [window.voi_combo.itemText(i) for i in range(window.voi_combo.count())]
    assert "★ Dense breast" in names
    # Another image of the same modality offers it and applies it without a decode.
    other = window.hanging_view.viewports["LMLO"]
    window._on_hanging_viewport_activated("LMLO")
    index = window.voi_combo.findText("★ Dense breast")
    assert index >= 0
    window.voi_combo.setCurrentIndex(index)
    window._on_voi_chosen(index)
    assert (other.voi.center, other.voi.width) == (1234, 567)
    # It is kept on disk for the next start.
    from auditdesk.reading.window_presets import UserPresets

    assert [p.name for p in UserPresets().for_modality("MG")] == ["Dense breast"]


def test_the_window_list_follows_the_view_the_checklist_asks_about(qtbot, db, window, test_set):
    import_paths(db, [test_set.root])
    window.refresh()
    study = next(s for s in test_set.studies if s.kind == "mammo")
    _show_study(qtbot, window, db, study.study_uid)
    # Opened on a hanging: the Window list is filled without clicking a viewport.
    assert window.voi_combo.count() >= 1
    assert window.active_viewport() is not None
    window._on_member_changed("LCC")
    assert window.active_viewport() is window.hanging_view.viewports["LCC"]
    assert window.hanging_view.viewports["LCC"].overlay.property("current") is True
