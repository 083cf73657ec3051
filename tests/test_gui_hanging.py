"""The 2x2 mammography hanging in the main window, checked on the pixels as drawn."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from auditdesk.dicom.index import import_paths
from auditdesk.dicom.loader import LoadedImage
from auditdesk.dicom.orientation import chest_wall_side_from_pixels
from auditdesk.reading.hanging import MAMMO_SLOTS
from auditdesk.store.models import Image, Study

pytestmark = pytest.mark.gui

# Left column of the grid (right breast): chest wall on the right edge, at the centre line.
EXPECTED_CHEST_WALL = {"RMLO": "right", "RCC": "right", "LMLO": "left", "LCC": "left"}


@pytest.fixture
def window(qtbot, db, loader, test_set):
    from auditdesk.ui.main_window import MainWindow

    import_paths(db, [test_set.root])
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.hanging_view.all_loaded(), timeout=60000)
    return win


def _study_row(win, study_uid: str, db):
    with db.session() as session:
        study_id = session.scalar(select(Study.id).where(Study.study_uid == study_uid))
    for row in range(win.model.rowCount()):
        index = win.model.index(row, 0)
        if index.data(win_role_id()) == study_id:
            return index
    raise AssertionError("study row not found")


def win_role_id() -> int:
    from auditdesk.ui.main_window import ROLE_ID

    return ROLE_ID


def _edge_side(array: np.ndarray) -> str:
    """Which outer 5% column strip is brighter (tissue runs off the chest-wall edge)."""
    side = chest_wall_side_from_pixels(array)
    assert side is not None, "both edges look alike"
    return side


@pytest.mark.parametrize("index", [1, 2], ids=["mono1_sct", "jpeg2000_srt"])
def test_four_views_hang_mirrored_with_chest_walls_at_the_centre_line(
    qtbot, db, window, test_set, index
):
    study = next(s for s in test_set.studies if s.kind == "mammo" and s.index == index)
    window.tree.setCurrentIndex(_study_row(window, study.study_uid, db))
    view = window.hanging_view
    assert window.central.currentWidget() is view
    qtbot.waitUntil(view.all_loaded, timeout=60000)
    truth = {
        f"{f.laterality}{f.view}": f.sop_uid
        for f in study.files
        if not f.for_processing and not f.modifier and f.view in ("CC", "MLO")
    }
    for slot in MAMMO_SLOTS:
        result = view.results[slot]
        assert isinstance(result, LoadedImage), result
        assert view.hanging.slots[slot].image.sop_uid == truth[slot]
        viewport = view.viewports[slot]
        shown = viewport.array
        assert shown is not None and shown.dtype == np.uint8 and shown.std() > 10
        assert _edge_side(shown) == EXPECTED_CHEST_WALL[slot], slot
        assert viewport.overlay.text().startswith(slot)
    # Grid geometry: MLOs on top, right breast in the left column.
    pos = {s: view.viewports[s].geometry() for s in MAMMO_SLOTS}
    assert pos["RMLO"].x() < pos["LMLO"].x() and pos["RCC"].x() < pos["LCC"].x()
    assert pos["RMLO"].y() < pos["RCC"].y() and pos["LMLO"].y() < pos["LCC"].y()


def test_series_row_hangs_the_study_and_image_row_shows_one_image(qtbot, db, window, test_set):
    study = next(s for s in test_set.studies if s.kind == "mammo" and s.index == 1)
    study_index = _study_row(window, study.study_uid, db)
    window.tree.setCurrentIndex(study_index.model().index(0, 0, study_index))
    assert window.central.currentWidget() is window.hanging_view
    qtbot.waitUntil(window.hanging_view.all_loaded, timeout=60000)
    assert window.hanging_view.study.study_uid == study.study_uid

    spot = next(f for f in study.files if f.modifier)
    with db.session() as session:
        image_id = session.scalar(select(Image.id).where(Image.sop_uid == spot.sop_uid))
    window.last_loaded = None
    window.select_image(image_id)
    assert window.central.currentWidget() is window.viewport
    qtbot.waitUntil(lambda: window.last_loaded is not None, timeout=30000)
    assert window.viewport.array is not None


def test_mr_study_opens_in_the_mr_layout_not_the_hanging(qtbot, db, window, test_set):
    mr = next(s for s in test_set.studies if s.kind == "mr")
    window.last_loaded = None
    window.tree.setCurrentIndex(_study_row(window, mr.study_uid, db))
    assert window.central.currentWidget() is window.mr_view
    qtbot.waitUntil(window.mr_view.all_loaded, timeout=60000)
    shown = [vp for vp in window.mr_view.viewports[:4] if vp.array is not None]
    assert len(shown) == 4
    assert isinstance(window.last_loaded, LoadedImage)


def test_missing_view_slot_says_what_is_missing_and_blinding_hides_the_technologist(
    qtbot, db, window, test_set
):
    from auditdesk.reading.hanging import hang_mammo

    study = next(st for st in window._studies.values() if st.kind == "mammo")
    for series in study.series:
        series.images = [img for img in series.images if img.label != "LCC"]
    window.blinded = True
    window.show_hanging(study)
    view = window.hanging_view
    qtbot.waitUntil(view.all_loaded, timeout=60000)
    assert view.viewports["LCC"].array is None
    assert "No LCC image in this study." in view.viewports["LCC"].message.text()
    assert hang_mammo(study).missing == ["LCC"]
    for slot in ("RMLO", "LMLO", "RCC"):
        assert view.viewports[slot].overlay.text() == slot  # no technologist when blinded
    window.blinded = False
    window.show_hanging(window._studies[study.id])
    qtbot.waitUntil(view.all_loaded, timeout=60000)
    assert "tech" in view.viewports["RMLO"].overlay.text()
