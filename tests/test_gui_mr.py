"""The MR study layout: keys, wheel, linking, DCE phases, cine, layouts and show_role."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from auditdesk.dicom.index import import_paths
from auditdesk.store.models import Study

pytestmark = pytest.mark.gui


@pytest.fixture
def view(qtbot: Any, db: Any, loader: Any, test_set: Any) -> Any:
    from auditdesk.ui.reading.mr_view import MRStudyView

    import_paths(db, [test_set.root])
    study = next(s for s in test_set.studies if s.kind == "mr")
    with db.session() as session:
        pk = session.scalar(select(Study.id).where(Study.study_uid == study.study_uid))
    widget = MRStudyView(loader)
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    with qtbot.waitSignal(widget.all_visible_loaded, timeout=60000):
        widget.show_study(db, pk)
    return widget


def _role_viewport(view: Any, role: str) -> int:
    return next(vi for vi in view.visible_indices() if view.stack_in(vi).role == role)


def _wait(qtbot: Any, view: Any) -> None:
    qtbot.waitUntil(view.all_loaded, timeout=60000)


def test_default_2x2_shows_t2w_dwi_adc_dce(qtbot: Any, view: Any) -> None:
    roles = [view.stack_in(vi).role for vi in view.visible_indices()]
    assert roles == ["T2W", "DWI", "ADC", "DCE"]
    assert view.stack_in(1).b_value == max(s.b_value or 0 for s in view.stacks)
    for vi in view.visible_indices():
        vp = view.viewports[vi]
        assert vp.array is not None and vp.array.dtype == np.uint8
        assert vp.overlay.text().startswith(view.stack_in(vi).label)
        assert "mm" in vp.info.text() and "slice" in vp.info.text()
    assert "phase 1/" in view.viewports[3].info.text()
    assert view.panels[3].phase_slider.isVisibleTo(view)
    assert not view.panels[0].phase_slider.isVisibleTo(view)


def test_keys_scroll_and_linked_viewports_follow_by_position(qtbot: Any, view: Any) -> None:
    t2, adc = 0, _role_viewport(view, "ADC")
    view.set_slice(t2, 0)
    _wait(qtbot, view)
    vp = view.viewports[t2]
    vp.setFocus()
    for _ in range(3):
        qtbot.keyClick(vp, Qt.Key.Key_Down)
    assert view.slice_index(t2) == 3
    t2_stack, adc_stack = view.stack_in(t2), view.stack_in(adc)
    target = t2_stack.position_mm(3)
    nearest = min(range(adc_stack.n_slices), key=lambda k: abs(adc_stack.position_mm(k) - target))
    assert view.slice_index(adc) == nearest
    _wait(qtbot, view)
    assert f"slice 4/{t2_stack.n_slices}" in vp.info.text()
    qtbot.keyClick(vp, Qt.Key.Key_Up)
    assert view.slice_index(t2) == 2
    qtbot.keyClick(vp, Qt.Key.Key_End)
    assert view.slice_index(t2) == t2_stack.n_slices - 1
    qtbot.keyClick(vp, Qt.Key.Key_Home)
    assert view.slice_index(t2) == 0
    qtbot.keyClick(vp, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert view.slice_index(t2) == 5
    # L unlinks: the ADC stays where it is
    qtbot.keyClick(vp, Qt.Key.Key_L)
    assert not view.linked
    before = view.slice_index(adc)
    qtbot.keyClick(vp, Qt.Key.Key_Home)
    assert view.slice_index(adc) == before
    # the viewport's own keys still work (invert)
    _wait(qtbot, view)
    qtbot.keyClick(vp, Qt.Key.Key_I)
    assert vp.inverted


def _wheel(widget: Any, dy: int, modifiers: Any = Qt.KeyboardModifier.NoModifier) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, dy),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_wheel_scrolls_slices_and_ctrl_wheel_zooms(qtbot: Any, view: Any) -> None:
    vp = view.viewports[0]
    target = vp.graphics.viewport()
    view.set_slice(0, 3)
    range_before = vp.view.viewRange()
    _wheel(target, -120)
    assert view.slice_index(0) == 4
    _wheel(target, 120)
    _wheel(target, 120)
    assert view.slice_index(0) == 2
    assert vp.view.viewRange() == range_before  # no zoom
    _wheel(target, 120, Qt.KeyboardModifier.ControlModifier)
    assert view.slice_index(0) == 2
    assert vp.view.viewRange() != range_before


def test_dce_left_right_changes_phase_and_keeps_the_window(qtbot: Any, view: Any) -> None:
    dce = _role_viewport(view, "DCE")
    vp = view.viewports[dce]
    vp.setFocus()
    window = vp.voi
    qtbot.keyClick(vp, Qt.Key.Key_Right)
    qtbot.keyClick(vp, Qt.Key.Key_Right)
    assert view.phase_index(dce) == 2
    assert view.panels[dce].phase_slider.value() == 2
    _wait(qtbot, view)
    assert "phase 3/" in vp.info.text()
    assert view.current_slice(dce).temporal_position == 3
    assert (vp.voi.center, vp.voi.width) == (window.center, window.width)
    qtbot.keyClick(vp, Qt.Key.Key_Left)
    assert view.phase_index(dce) == 1
    view.set_phase(999)
    assert view.phase_index(dce) == view.stack_in(dce).n_phases - 1


def test_user_window_is_kept_while_scrolling(qtbot: Any, view: Any) -> None:
    vp = view.viewports[0]
    vp.set_window(500.0, 300.0)
    view.set_slice(0, view.slice_index(0) + 1)
    _wait(qtbot, view)
    assert (vp.voi.center, vp.voi.width) == (500.0, 300.0)


def test_cine_advances_slices_over_time(qtbot: Any, view: Any) -> None:
    view.set_layout("1x1")
    view.set_slice(0, 0)
    view.set_cine_fps(25)
    qtbot.keyClick(view.viewports[0], Qt.Key.Key_Space)
    assert view.cine_running
    qtbot.waitUntil(lambda: view.slice_index(0) >= 3, timeout=20000)
    qtbot.keyClick(view.viewports[0], Qt.Key.Key_C)
    assert not view.cine_running
    stopped = view.slice_index(0)
    qtbot.wait(200)
    assert view.slice_index(0) == stopped


def test_layouts_change_the_visible_viewports(qtbot: Any, view: Any) -> None:
    def shown() -> int:
        return sum(p.isVisibleTo(view) for p in view.panels)

    assert shown() == 4
    view.set_layout("1x2")
    assert shown() == 2 and view.visible_indices() == [0, 1]
    view.set_layout("1x1")
    assert shown() == 1
    assert view.layout_combo.currentText() == "1x1"
    view.layout_combo.setCurrentText("2x2")
    assert shown() == 4 and view.layout_name == "2x2"
    _wait(qtbot, view)
    with pytest.raises(ValueError):
        view.set_layout("3x3")


def test_show_role_highlights_or_replaces(qtbot: Any, view: Any) -> None:
    view.show_role("ADC")
    assert view.active == _role_viewport(view, "ADC")
    view.set_layout("1x1")
    view.show_role("adc")
    assert view.stack_in(0).role == "ADC"
    _wait(qtbot, view)
    assert view.viewports[0].overlay.text().startswith("ADC")
    view.show_role("NOPE")  # unknown role: nothing happens
    assert view.stack_in(0).role == "ADC"
