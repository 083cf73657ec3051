"""Ruler and posterior nipple line placed with the real mouse on a hung (transposed + mirrored)
frame with non-square pixels; the emitted measurements are in stored pixel coordinates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from auditdesk.dicom.calibration import Calibration, CalibrationSource
from auditdesk.dicom.loader import display_aspect
from auditdesk.dicom.orientation import MammoTransform, apply_transform
from auditdesk.reading.measure import Measurement, distance_mm, pnl_cc, recompute, stored_to_display

pytestmark = pytest.mark.gui

ROWS, COLS = 200, 160
# Rows 0.1 mm apart, columns 0.08 mm apart.
CAL = Calibration(0.1, 0.08, CalibrationSource.IMAGER_PIXEL_SPACING)
# Stored with the chest wall along the top row; hung with it on the right (transpose, mirror).
TRANSFORM = MammoTransform(
    flip_left_right=True, flip_up_down=False, transpose=True, chest_wall_side="right"
)


def _stored_frame() -> np.ndarray:
    rows = np.linspace(255, 40, ROWS, dtype=np.float32)[:, None]  # bright at the chest wall
    return np.repeat(rows, COLS, axis=1).astype(np.uint8)


@pytest.fixture
def viewport(qtbot):
    from auditdesk.ui.reading.viewer import ImageViewport

    vp = ImageViewport()
    qtbot.addWidget(vp)
    vp.resize(700, 700)
    vp.show()
    qtbot.waitExposed(vp)
    vp.show_frame(
        apply_transform(_stored_frame(), TRANSFORM),
        aspect=display_aspect(CAL, TRANSFORM),
        transform=TRANSFORM,
        calibration=CAL,
    )
    qtbot.wait(20)
    done: list[Measurement] = []
    vp.measurement_done.connect(done.append)
    vp.done = done  # type: ignore[attr-defined]
    return vp


def _widget_pos(vp, stored: tuple[float, float]) -> QPoint:
    """Where a stored (x, y) point is on the graphics view's viewport widget."""
    x, y = stored_to_display(stored, TRANSFORM, (ROWS, COLS))
    aspect = display_aspect(CAL, TRANSFORM)
    scene = vp.view.mapViewToScene(QPointF(x, y * aspect))
    widget = vp.graphics.mapFromScene(scene)
    return QPoint(round(widget.x()), round(widget.y()))


def _display_pos(vp, x: float, y: float, aspect: float | None = None) -> QPoint:
    """Where a hung-display (x, y) point is; ``aspect`` is the row stretch the frame got."""
    aspect = display_aspect(CAL, TRANSFORM) if aspect is None else aspect
    widget = vp.graphics.mapFromScene(vp.view.mapViewToScene(QPointF(x, y * aspect)))
    return QPoint(round(widget.x()), round(widget.y()))


def _click(qtbot, vp, pos: QPoint) -> None:
    target = vp.graphics.viewport()
    qtbot.mouseMove(target, pos)
    qtbot.wait(20)  # pyqtgraph drops moves that come too fast
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.wait(20)


def _drag(qtbot, vp, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton) -> None:
    target = vp.graphics.viewport()
    qtbot.mouseMove(target, start)
    qtbot.wait(20)
    qtbot.mousePress(target, button, pos=start)
    steps = 6
    for k in range(1, steps + 1):
        qtbot.wait(30)
        qtbot.mouseMove(
            target,
            QPoint(
                start.x() + (end.x() - start.x()) * k // steps,
                start.y() + (end.y() - start.y()) * k // steps,
            ),
        )
    qtbot.wait(30)
    qtbot.mouseRelease(target, button, pos=end)
    qtbot.wait(60)


def test_ruler_by_clicks_in_stored_millimetres_then_edited(qtbot, viewport):
    vp = viewport
    assert vp.calibration == CAL and vp.transform == TRANSFORM
    qtbot.keyClick(vp, Qt.Key.Key_M)
    assert vp.tool == "ruler" and "Ruler" in vp.hint.text()
    p, q = (20.0, 30.0), (120.0, 150.0)
    _click(qtbot, vp, _widget_pos(vp, p))
    assert vp.done == []
    _click(qtbot, vp, _widget_pos(vp, q))
    assert len(vp.done) == 1
    m = vp.done[0]
    assert m.kind == "ruler"
    assert m.points[0] == pytest.approx(p, abs=0.5)
    assert m.points[1] == pytest.approx(q, abs=0.5)
    # 100 columns x 0.08 mm = 8 mm, 120 rows x 0.1 mm = 12 mm.
    assert m.value_mm == pytest.approx(math.hypot(8.0, 12.0), abs=0.05)
    assert m.calibration_source == "imager_pixel_spacing"
    assert vp.measurements == [m]

    # Drag the second handle to a new place: recomputed, emitted on release.
    new_q = (120.0, 100.0)
    _drag(qtbot, vp, _widget_pos(vp, q), _widget_pos(vp, new_q))
    assert len(vp.done) == 2
    edited = vp.done[1]
    assert edited.kind == "ruler"
    assert edited.points[0] == m.points[0]
    assert edited.points[1] == pytest.approx(new_q, abs=0.5)
    assert edited.value_mm == pytest.approx(math.hypot(8.0, 7.0), abs=0.05)
    assert vp.measurements == [edited]


def test_pnl_cc_snaps_to_the_chest_wall_edge(qtbot, viewport):
    vp = viewport
    vp.set_view_kind("CC")
    qtbot.keyClick(vp, Qt.Key.Key_N)
    assert vp.tool == "pnl" and "nipple" in vp.hint.text()
    nipple = (80.0, 150.0)
    _click(qtbot, vp, _widget_pos(vp, nipple))
    # Hung: the stored top row (chest wall) is the right edge, display x = 200 (stored rows).
    # Move near the edge, slightly off the perpendicular: the live helper and preview follow.
    near = _display_pos(vp, 198.0, 82.0)
    qtbot.mouseMove(vp.graphics.viewport(), near)
    qtbot.wait(30)
    draft = vp._draft_graphic
    assert draft is not None and draft.drawing.helpers  # dashed perpendicular to the edge
    assert "PNL" in draft.drawing.label[0]
    _click(qtbot, vp, near)
    assert len(vp.done) == 1
    m = vp.done[0]
    assert m.kind == "pnl_cc"
    assert m.points[0] == pytest.approx(nipple, abs=0.5)
    # Snapped onto the edge (stored row 0) and onto the perpendicular (same stored column).
    assert m.points[1][1] == pytest.approx(0.0, abs=1e-9)
    assert m.points[1][0] == pytest.approx(m.points[0][0], abs=1e-9)
    assert m.value_mm == pytest.approx(15.0, abs=0.05)  # 150 rows x 0.1 mm
    assert m.label_lines() == [
        f"PNL {m.value_mm:.1f} mm",
        "mm (Imager Pixel Spacing, detector plane)",
    ]
    assert vp.tool == "pnl"  # stays on for the next image


def test_pnl_mlo_perpendicular_in_millimetres(qtbot, viewport):
    vp = viewport
    vp.set_view_kind("MLO")
    assert vp.set_tool("pnl")
    # In mm: pectoral edge from (2, 2) to (4, 6), nipple (10, 4). The foot of the perpendicular
    # is (4.4, 6.8) mm, past the muscle's inferior end, PNL = 2.8 * sqrt(5) mm, and the muscle
    # stops 0.2 * sqrt(20) mm short of it. Stored pixels: x = mm / 0.08, y = mm / 0.1.
    nipple, pect_a, pect_b = (125.0, 40.0), (25.0, 20.0), (50.0, 60.0)
    _click(qtbot, vp, _widget_pos(vp, nipple))
    _click(qtbot, vp, _widget_pos(vp, pect_a))
    qtbot.mouseMove(vp.graphics.viewport(), _widget_pos(vp, (45.0, 52.0)))
    qtbot.wait(30)
    draft = vp._draft_graphic
    assert draft is not None and draft.drawing.right_angle is not None  # live perpendicular
    assert vp.done == []
    _click(qtbot, vp, _widget_pos(vp, pect_b))
    assert len(vp.done) == 1
    m = vp.done[0]
    assert m.kind == "pnl_mlo"
    for got, want in zip(m.points, (nipple, pect_a, pect_b), strict=True):
        assert got == pytest.approx(want, abs=0.5)
    assert m.value_mm == pytest.approx(2.8 * math.sqrt(5), abs=0.05)
    assert m.foot == pytest.approx((55.0, 68.0), abs=0.6)
    assert m.extra["pectoral_to_pnl_mm"] == pytest.approx(0.2 * math.sqrt(20), abs=0.05)
    assert recompute(m.kind, m.points, CAL) == m

    # Drag the inferior end past the PNL: the muscle now reaches it.
    _drag(qtbot, vp, _widget_pos(vp, m.points[2]), _widget_pos(vp, (75.0, 100.0)))
    assert len(vp.done) == 2
    edited = vp.done[1]
    assert edited.kind == "pnl_mlo"
    assert edited.extra["pectoral_to_pnl_mm"] == 0.0
    assert edited.value_mm == pytest.approx(2.8 * math.sqrt(5), abs=0.1)  # same line


def test_escape_cancels_and_returns_to_window_level(qtbot, viewport):
    vp = viewport
    qtbot.keyClick(vp, Qt.Key.Key_M)
    _click(qtbot, vp, _widget_pos(vp, (20.0, 20.0)))
    assert vp._draft_graphic is not None
    qtbot.keyClick(vp, Qt.Key.Key_Escape)
    assert vp.tool == "window"
    assert vp._draft_graphic is None and not vp.hint.isVisible()
    _click(qtbot, vp, _widget_pos(vp, (60.0, 60.0)))
    _click(qtbot, vp, _widget_pos(vp, (90.0, 90.0)))
    assert vp.done == [] and vp.measurements == []


def test_pnl_refused_without_a_view_kind(qtbot, viewport):
    vp = viewport
    qtbot.keyClick(vp, Qt.Key.Key_N)
    assert vp.tool == "window"
    assert "CC or MLO" in vp.hint.text() and vp.hint.isVisible()


def test_pan_and_zoom_still_work_while_measuring(qtbot, viewport):
    vp = viewport
    qtbot.keyClick(vp, Qt.Key.Key_M)
    _click(qtbot, vp, _widget_pos(vp, (20.0, 20.0)))
    (x0, _), _y = vp.view.viewRange()
    centre = QPoint(350, 350)
    _drag(qtbot, vp, centre, QPoint(430, 350), button=Qt.MouseButton.MiddleButton)
    (x1, _), _y = vp.view.viewRange()
    assert x1 < x0 - 10
    assert vp.done == [] and vp.tool == "ruler"
    # The second click still lands where the (panned) image is.
    _click(qtbot, vp, _widget_pos(vp, (120.0, 150.0)))
    assert len(vp.done) == 1
    assert vp.done[0].points[1] == pytest.approx((120.0, 150.0), abs=0.5)


def test_show_measurements_and_new_frame_clears(qtbot, viewport):
    vp = viewport
    saved = [pnl_cc((80.0, 150.0), (80.0, 0.0), CAL)]
    vp.show_measurements(saved, editable=False)
    assert vp.measurements == saved
    graphic = vp._shown[0].graphic
    assert graphic.scene() is vp.graphics.scene()
    # Drawn where the stored points are hung: nipple at display (50, 80).
    (nx, ny), _foot = graphic.drawing.main[0]
    aspect = display_aspect(CAL, TRANSFORM)
    assert (nx, ny) == pytest.approx((50.0, 80.0 * aspect))
    # Not editable: a drag from the handle is window/level (no image source: nothing happens).
    _drag(qtbot, vp, _widget_pos(vp, (80.0, 150.0)), _widget_pos(vp, (60.0, 100.0)))
    assert vp.done == [] and vp.measurements == saved
    vp.show_frame(apply_transform(_stored_frame(), TRANSFORM), transform=TRANSFORM)
    assert vp.measurements == [] and graphic.scene() is None
    assert vp.calibration is None


def test_uncalibrated_ruler_reports_pixels(qtbot, viewport):
    vp = viewport
    vp.show_frame(apply_transform(_stored_frame(), TRANSFORM), transform=TRANSFORM)
    vp.set_tool("ruler")
    _click(qtbot, vp, _display_pos(vp, 10.0, 10.0, aspect=1.0))
    _click(qtbot, vp, _display_pos(vp, 40.0, 50.0, aspect=1.0))
    m = vp.done[-1]
    assert m.value_mm is None and m.calibration_source == "none"
    assert m.value_px == pytest.approx(50.0, abs=0.5)
    assert distance_mm(m.points[0], m.points[1], None) is None
    assert m.label_lines()[-1] == "px (no calibration)"


def test_hanging_view_sets_view_kinds_and_tools(qtbot):
    from auditdesk.ui.reading.hanging_view import MammoHangingView

    view = MammoHangingView(loader=None)  # type: ignore[arg-type]  # nothing is decoded here
    qtbot.addWidget(view)
    assert {s: v.view_kind for s, v in view.viewports.items()} == {
        "RMLO": "MLO",
        "LMLO": "MLO",
        "RCC": "CC",
        "LCC": "CC",
    }
    view.set_tool("pnl")
    assert all(v.tool == "pnl" for v in view.viewports.values())
    view.set_tool(None)
    assert all(v.tool == "window" for v in view.viewports.values())
