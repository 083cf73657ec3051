"""Viewing tools driven with the real mouse and keys: window/level drag, presets without a second
decode, invert, reset, fit, 1:1 and wheel zoom."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from auditdesk.dicom.index import import_paths
from auditdesk.dicom.loader import LoadedImage
from auditdesk.store.models import Image

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, db, loader, test_set):
    from auditdesk.ui.main_window import MainWindow

    import_paths(db, [test_set.root])
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.resize(1200, 900)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.last_loaded is not None, timeout=60000)
    mammo = next(
        f
        for st in test_set.studies
        for f in st.files
        if f.kind == "mammo" and f.photometric == "MONOCHROME2" and not f.for_processing
    )
    with db.session() as session:
        image_id = session.scalar(select(Image.id).where(Image.sop_uid == mammo.sop_uid))
    win.last_loaded = None
    win.select_image(image_id)
    qtbot.waitUntil(lambda: win.last_loaded is not None, timeout=60000)
    assert isinstance(win.last_loaded, LoadedImage)
    qtbot.waitUntil(lambda: win.viewport.array is not None, timeout=5000)
    return win


def _drag(qtbot, viewport, dx: int, dy: int, button=Qt.MouseButton.LeftButton) -> None:
    widget = viewport.graphics.viewport()
    start = QPoint(widget.width() // 2, widget.height() // 2)
    qtbot.mousePress(widget, button, pos=start)
    steps = 6
    for k in range(1, steps + 1):
        qtbot.wait(30)  # pyqtgraph drops move events that come too fast
        qtbot.mouseMove(widget, QPoint(start.x() + dx * k // steps, start.y() + dy * k // steps))
    qtbot.wait(30)
    qtbot.mouseRelease(widget, button, pos=QPoint(start.x() + dx, start.y() + dy))
    qtbot.wait(60)


def _range_width(viewport) -> float:
    (x0, x1), _y = viewport.view.viewRange()
    return x1 - x0


def test_horizontal_drag_widens_the_window(qtbot, window):
    vp = window.viewport
    before = vp.array.copy()
    center0, width0 = vp.voi.center, vp.voi.width
    assert width0 is not None
    _drag(qtbot, vp, 120, 0)
    assert vp.voi.name == "Custom"
    assert vp.voi.width > width0 * 1.3
    assert vp.voi.center == pytest.approx(center0, abs=width0 / 50)
    assert vp.array.std() < before.std()  # a wider window: less contrast
    assert f"W {vp.voi.width:.0f} C {vp.voi.center:.0f}" in vp.info.text()
    assert "Imager Pixel Spacing" in vp.info.text() or "pixel" in vp.info.text()


def test_vertical_drag_moves_the_centre(qtbot, window):
    vp = window.viewport
    center0, width0 = vp.voi.center, vp.voi.width
    before_mean = vp.array.mean()
    _drag(qtbot, vp, 0, 80)
    assert vp.voi.width == pytest.approx(width0, rel=0.02)
    assert vp.voi.center > center0 + width0 * 0.2
    assert vp.array.mean() < before_mean  # a higher centre: darker image
    # The function of the file's window is kept for the custom window.
    assert vp.voi.function == window.last_loaded.display.voi.function


def test_invert_and_reset_by_keys(qtbot, window):
    vp = window.viewport
    original = vp.array.copy()
    qtbot.mouseClick(vp.graphics.viewport(), Qt.MouseButton.LeftButton)  # click to focus
    assert QApplication.focusWidget() is vp
    qtbot.keyClick(vp, Qt.Key.Key_I)
    assert np.array_equal(vp.array.astype(int), 255 - original.astype(int))
    assert "inverted" in vp.info.text()
    _drag(qtbot, vp, 100, 40)
    qtbot.keyClick(vp, Qt.Key.Key_R)
    assert np.array_equal(vp.array, original)
    assert "inverted" not in vp.info.text()
    assert vp.voi == window.last_loaded.display.voi


def test_fit_one_to_one_and_wheel_zoom(qtbot, window):
    vp = window.viewport
    rows, cols = vp.array.shape[:2]
    qtbot.mouseClick(vp.graphics.viewport(), Qt.MouseButton.LeftButton)
    fit_width = _range_width(vp)
    (x0, x1), (y0, y1) = vp.view.viewRange()
    assert x0 <= 1 and x1 >= cols - 1 and y0 <= 1 and y1 >= rows * 0 + vp.image_item.height() - 1

    qtbot.keyClick(vp, Qt.Key.Key_1)
    assert _range_width(vp) == pytest.approx(vp.view.width() * vp.devicePixelRatioF(), rel=0.02)

    qtbot.keyClick(vp, Qt.Key.Key_F)
    assert _range_width(vp) == pytest.approx(fit_width, rel=0.01)

    widget = vp.graphics.viewport()
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    for _ in range(3):
        event = QWheelEvent(
            centre,
            widget.mapToGlobal(centre),
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(widget, event)
    assert _range_width(vp) < fit_width * 0.9

    # Middle-button drag pans; the window is untouched.
    voi = vp.voi
    (px0, _), _y = vp.view.viewRange()
    _drag(qtbot, vp, 80, 0, button=Qt.MouseButton.MiddleButton)
    (px1, _), _y = vp.view.viewRange()
    assert px1 < px0 - 10  # content follows the mouse to the right
    assert vp.voi == voi

    qtbot.keyClick(vp, Qt.Key.Key_R)
    assert _range_width(vp) == pytest.approx(fit_width, rel=0.01)


def test_preset_from_the_combo_rewindows_without_decoding(
    qtbot, db, loader, shared_data, monkeypatch
):
    from auditdesk.ui.main_window import MainWindow

    # A real mammogram with several file windows (the generated ones have one).
    import_paths(db, [shared_data / "mg" / "GH133_GE_SenographeEssential_R_MLO.dcm"])
    window = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(window)
    window.show()
    with db.session() as session:
        image_id = session.scalar(select(Image.id))
    window.last_loaded = None
    window.select_image(image_id)
    qtbot.waitUntil(lambda: isinstance(window.last_loaded, LoadedImage), timeout=60000)
    qtbot.waitUntil(lambda: window.viewport.array is not None, timeout=5000)
    vp = window.viewport
    loaded = window.last_loaded
    assert window.voi_combo.count() >= 2
    other = next(p for p in loaded.presets if p.name != vp.voi.name)
    before = vp.array.copy()
    submitted = []
    monkeypatch.setattr(window.loader, "submit", lambda *a, **k: submitted.append(a))
    index = window.voi_combo.findText(other.name)
    window.voi_combo.setCurrentIndex(index)
    window.voi_combo.activated.emit(index)
    assert submitted == []  # no second decode
    assert vp.voi == other
    assert other.name in vp.info.text()
    assert not np.array_equal(vp.array, before)


def test_hanging_slot_tools(qtbot, db, loader, test_set):
    from auditdesk.ui.main_window import MainWindow

    import_paths(db, [test_set.root])
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.resize(1200, 900)
    win.show()
    qtbot.waitUntil(lambda: win.hanging_view.all_loaded(), timeout=60000)
    vp = next(v for v in win.hanging_view.viewports.values() if v.can_rewindow)
    original = vp.array.copy()
    qtbot.mouseClick(vp.graphics.viewport(), Qt.MouseButton.LeftButton)
    assert win.active_viewport() is vp
    assert win.voi_combo.count() >= 1
    _drag(qtbot, vp, 100, 0)
    assert vp.voi.name == "Custom" and "W " in vp.info.text()
    qtbot.keyClick(vp, Qt.Key.Key_R)
    assert np.array_equal(vp.array, original)
