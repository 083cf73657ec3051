"""The foundation window, driven as a user would: it starts on indexed studies, shows real,
correctly windowed pixels, imports off the GUI thread, and saves classification corrections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from auditdesk.dicom.index import import_paths
from auditdesk.dicom.loader import LoadedImage
from auditdesk.store.models import ClassificationOverride, Image

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, db, loader):
    from auditdesk.ui.main_window import MainWindow

    win = MainWindow(db, loader=loader)
    qtbot.addWidget(win)
    win.show()
    return win


def _wait_loaded(qtbot, win) -> LoadedImage:
    qtbot.waitUntil(lambda: win.last_loaded is not None, timeout=30000)
    assert isinstance(win.last_loaded, LoadedImage), win.last_loaded
    return win.last_loaded


def test_window_shows_studies_and_a_correctly_windowed_image(qtbot, db, window, shared_data):
    import_paths(db, [shared_data / "mg" / "GH133_GE_SenographeEssential_R_MLO.dcm"])
    window.refresh()
    assert window.model.rowCount() == 1
    with db.session() as session:
        image_id = session.scalar(select(Image.id))
    window.select_image(image_id)
    loaded = _wait_loaded(qtbot, window)
    assert loaded.display.voi.function == "SIGMOID"
    # A 3062x2394 frame is first drawn from every 2nd stored pixel (display_scale: at least
    # 1280x1024 kept); the full-resolution render is the same window over every pixel.
    shown = window.viewport.array
    assert shown is not None and shown.dtype == np.uint8 and shown.shape == (1531, 1197)
    full = window.viewport.full_array()
    assert full is not None and full.shape == (3062, 2394)
    assert np.array_equal(full[::2, ::2], shown)
    assert shown.std() > 20  # real contrast, not a flat image
    assert window.voi_combo.count() >= 3
    assert "RMLO" in window.viewport.overlay.text()
    assert "Imager Pixel Spacing" in window.viewport.info.text()


def test_window_opens_on_the_newest_study_with_pixels(qtbot, db, loader, test_set):
    from auditdesk.ui.main_window import MainWindow

    import_paths(db, [test_set.root])
    win = MainWindow(db, loader=loader)
    qtbot.addWidget(win)
    loaded = _wait_loaded(qtbot, win)
    # The newest study is a mammogram, so the first screen is its 2x2 hanging: real pixels in
    # every slot.
    assert win.central.currentWidget() is win.hanging_view
    qtbot.waitUntil(win.hanging_view.all_loaded, timeout=30000)
    for viewport in win.hanging_view.viewports.values():
        assert viewport.array is not None and viewport.array.std() > 10
    newest = max(st.procedure_date for st in test_set.studies)
    assert win.tree.currentIndex().data().startswith(newest.isoformat())
    assert loaded.display.array.dtype == np.uint8


def test_empty_database_shows_what_to_do(window) -> None:
    assert window.viewport.message.isVisible()
    assert "Import" in window.viewport.message.text()


def test_export_png_saves_the_image_as_shown(qtbot, db, window, shared_data, tmp_path):
    from PIL import Image as PILImage

    import_paths(db, [shared_data / "mg" / "GH133_GE_SenographeEssential_R_MLO.dcm"])
    window.refresh()
    with db.session() as session:
        window.select_image(session.scalar(select(Image.id)))
    _wait_loaded(qtbot, window)
    out = tmp_path / "shown.png"
    assert window.export_png(str(out))
    with PILImage.open(out) as png:
        saved = np.asarray(png)
    # PNG export is at full resolution even while the screen shows a reduced first render.
    assert saved.shape == (3062, 2394)
    assert np.array_equal(saved, window.viewport.full_array())


def test_bad_image_shows_a_sentence_not_a_crash(qtbot, db, window, shared_data):
    import_paths(db, [shared_data / "edge" / "JPEG2000-embedded-sequence-delimiter.dcm"])
    window.refresh()
    with db.session() as session:
        image_id = session.scalar(select(Image.id))
    window.select_image(image_id)
    qtbot.waitUntil(lambda: window.last_loaded is not None, timeout=30000)
    assert isinstance(window.last_loaded, Exception)
    assert window.viewport.message.isVisible()
    assert "cannot be shown" in window.viewport.message.text()


def test_import_runs_off_the_gui_thread_and_refreshes(qtbot, window, test_set):
    worker = window.start_import([str(test_set.root)], show_dialog=False)
    with qtbot.waitSignal(worker.finished_summary, timeout=60000):
        pass
    assert window.last_summary is not None and window.last_summary.added > 0
    assert window.model.rowCount() == len(test_set.studies)


def test_monochrome1_mammogram_shows_tissue_bright(qtbot, db, window, test_set):
    import_paths(db, [test_set.root])
    window.refresh()
    mono1 = next(f for st in test_set.studies for f in st.files if f.photometric == "MONOCHROME1")
    with db.session() as session:
        image_id = session.scalar(select(Image.id).where(Image.sop_uid == mono1.sop_uid))
    window.select_image(image_id)
    _wait_loaded(qtbot, window)
    shown = window.viewport.array.astype(float)
    # Background (air) dark, breast bright: the brightest decile is far above the darkest.
    assert np.percentile(shown, 90) - np.percentile(shown, 10) > 80
    assert np.median(shown[:, :5]) != np.median(shown[:, -5:])  # chest wall on one side only


def test_correcting_a_view_from_the_tree_is_saved(qtbot, db, window, shared_data):
    import_paths(db, [shared_data / "mg" / "GH133_GE_SenographeEssential_R_MLO.dcm"])
    window.refresh()
    with db.session() as session:
        image_id = session.scalar(select(Image.id))
    window.apply_override("image", image_id, "view", "CC", "Coach", "mislabelled")
    with db.session() as session:
        rows = list(session.scalars(select(ClassificationOverride)))
    assert [(r.field, r.value, r.reviewer) for r in rows] == [("view", "CC", "Coach")]
    labels = []
    model = window.model
    series_item = model.item(0).child(0)
    for row in range(series_item.rowCount()):
        labels.append(series_item.child(row).text())
    assert labels == ["RCC"]


def test_keyboard_navigation_in_the_tree_opens_the_exam_below(qtbot, db, window, test_set):
    """Down opens the study on the next row, not just any study: checked by its Study UID and
    by the file the loaded image came from."""
    from auditdesk.store.models import Study
    from auditdesk.ui.main_window import ROLE_ID

    import_paths(db, [test_set.root])
    window.refresh()
    window.tree.collapseAll()  # one row per study
    # The tree lists studies newest first: the manifest's studies sorted by date, descending.
    expected = sorted(test_set.studies, key=lambda s: s.procedure_date, reverse=True)
    assert len({s.procedure_date for s in expected}) == len(expected)  # the order is unambiguous
    with db.session() as session:
        uid_of = {pk: uid for pk, uid in session.execute(select(Study.id, Study.study_uid))}

    def check_open(row: int) -> None:
        study = expected[row]
        index = window.tree.currentIndex()
        assert index.row() == row and not index.parent().isValid()
        assert uid_of[index.data(ROLE_ID)] == study.study_uid
        assert window.exam is not None and uid_of[window.exam.id] == study.study_uid
        loaded = _wait_loaded(qtbot, window)
        assert Path(loaded.location.path).resolve() in {Path(f.path).resolve() for f in study.files}

    window.tree.setFocus()
    window.tree.setCurrentIndex(window.model.index(0, 0))
    check_open(0)
    for row in (1, 2):
        window.last_loaded = None
        qtbot.keyClick(window.tree, Qt.Key.Key_Down)
        check_open(row)
    # Let the MR view's neighbour prefetch finish before the shared decode pool moves on.
    mr = window.mr_view
    qtbot.waitUntil(lambda: not mr._in_flight and not mr._prefetch_queue, timeout=60000)


def test_theme_switch_keeps_black_image_area(qtbot, window) -> None:
    window._set_theme("light")
    window._set_theme("dark")
    assert window.viewport.graphics.backgroundBrush().color().name() == "#000000"


def test_stale_results_are_dropped(qtbot, window) -> None:
    window._request = 5
    window._current_image_id = None
    window._on_loaded(4, RuntimeError("old"))
    assert window.last_loaded is None


def test_summary_text_has_reasons(shared_data: Path, db) -> None:
    from auditdesk.ui.common.importing import summary_text

    summary = import_paths(db, [shared_data / "edge"])
    text = summary_text(summary)
    assert "MR_truncated.dcm" in text and "truncated" in text
