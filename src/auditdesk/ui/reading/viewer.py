"""One image viewport: pyqtgraph ImageItem on black, with an overlay (laterality + view, window,
calibration) and a message area for images that cannot be shown.

Levels are never auto-computed by pyqtgraph (it samples a subset and can show an empty image for
mammograms, see anchors.md B8): the core display pipeline delivers a windowed uint8 frame, and the
viewport shows it with fixed levels 0-255.

Viewing tools (display state only, nothing is saved): left-drag window/level (horizontal = width,
vertical = centre, both proportional to the width at the start of the drag), wheel zoom about the
cursor, middle- or right-drag pan, and the keys F (fit), 1 (one image pixel per screen pixel),
I (invert) and R (reset to fit + the file's default window + not inverted). Re-windowing goes
through :meth:`DisplayImage.rewindow`, so no second decode.

Measuring tools (M ruler, N posterior nipple line, Esc cancels and returns to window/level):
left clicks place points, pan and zoom keep working. Points are converted to STORED pixel
coordinates (undoing the hanging transform and the row stretch for non-square pixels) before
:mod:`auditdesk.reading.measure`
computes anything, so what is emitted and saved does not depend on how
the image was hung. Handles of shown measurements can be dragged to edit them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QPainter, QResizeEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from auditdesk.dicom.calibration import Calibration
from auditdesk.dicom.display import DisplayImage, VOIPreset
from auditdesk.dicom.loader import LoadedImage, display_aspect
from auditdesk.dicom.orientation import MammoTransform, apply_transform
from auditdesk.reading.measure import Measurement, Point, display_shape
from auditdesk.ui.reading.measure import MeasurementGraphic
from auditdesk.ui.reading.viewer_measuring import MeasuringTools, _Shown
from auditdesk.ui.reading.viewer_progressive import ProgressiveImage, preview_note

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

#: Screen pixels of drag that change the window by its own width (radiology-viewer feel).
WL_PIXELS_PER_WIDTH = 200.0
#: Re-render at most this often while dragging (a 13 Mpx mammogram takes tens of ms).
WL_THROTTLE_MS = 40


class _ToolViewBox(pg.ViewBox):
    """ViewBox whose left drag is window/level (reported to the viewport), middle/right drag pans,
    and the wheel zooms about the cursor (pyqtgraph's own wheel handling)."""

    def __init__(self, viewport: ImageViewport, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._viewport = viewport

    def mouseClickEvent(self, ev: Any) -> None:
        self._viewport._clicked()
        if (
            ev.button() == Qt.MouseButton.LeftButton
            and self._viewport.tool != "window"
            and not ev.double()
        ):
            ev.accept()
            self._viewport._tool_click(ev.scenePos())
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:
        button = ev.button()
        if ev.isStart():
            self._viewport._clicked()
        if button == Qt.MouseButton.LeftButton:
            ev.accept()
            if self._viewport._handle_drag_event(ev):
                return
            if self._viewport.tool != "window":
                return  # no window/level while measuring; clicks place points
            self._viewport._window_drag(
                ev.buttonDownScreenPos(), ev.screenPos(), ev.isStart(), ev.isFinish()
            )
            return
        if button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            ev.accept()
            delta = ev.pos() - ev.lastPos()
            tr = self.childGroup.transform()
            inv, _ok = tr.inverted()
            moved = inv.map(QPointF(delta)) - inv.map(QPointF(0.0, 0.0))
            self._resetTarget()
            self.translateBy(x=-moved.x(), y=-moved.y())
            self._viewport._user_moved_view()
            return
        super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:
        super().wheelEvent(ev, axis)
        self._viewport._user_moved_view()


class LoadBridge(QObject):
    """Carries decode results from pool threads back to the GUI thread (queued signal)."""

    loaded = Signal(object, object)  # caller's key (e.g. request id), LoadedImage | Exception


class ImageViewport(MeasuringTools, ProgressiveImage, QWidget):
    """Shows one display frame, fit to the viewport, aspect ratio from the pixel spacing."""

    #: The viewport got keyboard focus (click): e.g. the main window shows its presets.
    activated = Signal()
    #: The window (VOI) shown changed by a drag, a preset or reset; carries the overlay text.
    window_changed = Signal(str)
    #: A measurement was finished or edited (handle released): an
    #: auditdesk.reading.measure.Measurement in STORED pixel coordinates.
    measurement_done = Signal(object)
    #: The measuring tool changed ("window", "ruler" or "pnl").
    tool_changed = Signal(str)
    #: The user zoomed or panned (wheel, drag, 1:1), e.g. for zoom synchronisation.
    view_moved = Signal()
    #: Esc with nothing to cancel: give the keyboard back (e.g. to the checklist form).
    leave_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("k")
        # Keys go to this widget (F, 1, I, R), not to the graphics view.
        self.graphics.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # A 4096-row mammogram shown in ~900 screen rows: smooth scaling averages pixels instead
        # of dropping 3 of 4, so fine detail (calcifications) does not flicker in and out.
        self.graphics.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)  # pyqtgraph's default is 9 px a side
        self.view = _ToolViewBox(self, lockAspect=True, invertY=True, enableMenu=False)
        self.graphics.addItem(self.view)
        self.view.setDefaultPadding(0.0)
        self.image_item = pg.ImageItem(autoDownsample=False)
        self.view.addItem(self.image_item)

        self.overlay = QLabel(self.graphics)
        self.overlay.setObjectName("overlay")
        self.overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.overlay.move(10, 8)
        self.info = QLabel(self.graphics)
        self.info.setObjectName("overlay")
        self.info.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint = QLabel(self.graphics)  # tool prompts ("click the nipple")
        self.hint.setObjectName("overlay")
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint.hide()
        self.message = QLabel(self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.message)
        self._array: np.ndarray | None = None
        self._overlay_right = False
        self._anchor: str | None = None
        self._label = ""
        self._detail = ""
        # Re-windowing state: the decoded frame, how it is hung, and what it opened with.
        self._source: DisplayImage | None = None
        self._transform: MammoTransform | None = None
        self._original: np.ndarray | None = None  # the frame as first shown (for reset)
        self._original_voi: VOIPreset | None = None
        self._voi: VOIPreset | None = None
        self._base: np.ndarray | None = None  # windowed + hung, before invert
        self._inverted = False
        self._fitted = True
        self._drag_start: tuple[float, float, str] | None = None  # centre, width, function
        self._pending_window: tuple[float, float] | None = None
        self._wl_timer = QTimer(self)
        self._wl_timer.setSingleShot(True)
        self._wl_timer.setInterval(WL_THROTTLE_MS)
        self._wl_timer.timeout.connect(self._render_pending_window)
        self.view.sigResized.connect(self._on_view_resized)
        # Reduced first render (issue 15): every n-th stored pixel until the zoom needs more.
        self._reduction = 1
        self.view.sigRangeChanged.connect(self._render_full_if_zoomed)
        self.view.sigResized.connect(self._render_full_if_zoomed)
        # Measuring state.
        self._calibration: Calibration | None = None
        self._aspect = 1.0
        self._stored_shape: tuple[int, int] | None = None
        self._view_kind: str | None = None
        self._tool = "window"
        self._draft: list[Point] = []
        self._draft_kind: str | None = None
        self._draft_graphic: MeasurementGraphic | None = None
        self._shown: list[_Shown] = []
        self._dragging: tuple[int, int] | None = None  # (shown index, point index)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.view.sigRangeChanged.connect(self._on_range_changed)

    # ------------------------------------------------------------------ state
    @property
    def array(self) -> np.ndarray | None:
        """The displayed uint8 frame (as hung), for tests and screenshots."""
        return self._array

    @property
    def voi(self) -> VOIPreset | None:
        """The window shown now (None for frames shown without their source image)."""
        return self._voi

    @property
    def inverted(self) -> bool:
        return self._inverted

    @property
    def calibration(self) -> Calibration | None:
        """The calibration of the image shown (None: not given, measurements in pixels)."""
        return self._calibration

    @property
    def transform(self) -> MammoTransform | None:
        """How the stored image is hung here (None: shown as stored)."""
        return self._transform

    @property
    def stored_shape(self) -> tuple[int, int] | None:
        """(rows, cols) of the image as stored (before the hanging transform)."""
        return self._stored_shape

    @property
    def tool(self) -> str:
        """What a left click / drag does: "window", "ruler" or "pnl"."""
        return self._tool

    @property
    def view_kind(self) -> str | None:
        """Which posterior nipple line the PNL tool draws: "CC", "MLO" (None: refused)."""
        return self._view_kind

    @property
    def measurements(self) -> list[Measurement]:
        """The measurements drawn now (stored coordinates)."""
        return [s.measurement for s in self._shown]

    @property
    def can_rewindow(self) -> bool:
        return self._source is not None and not self._source.is_colour

    def window_text(self) -> str:
        """'W 900 C 2653 (SIGMOID)' for a custom window, else the preset's name."""
        voi = self._voi
        if voi is None:
            return ""
        if voi.name == "Custom" and voi.center is not None and voi.width is not None:
            return f"W {voi.width:.0f} C {voi.center:.0f} ({voi.function})"
        return voi.name

    # ------------------------------------------------------------------ showing
    def show_loaded(
        self, loaded: LoadedImage, transform: MammoTransform, *, label: str = "", info: str = ""
    ) -> None:
        """Show a decoded image hung by ``transform``, re-windowable in place.

        A JPEG 2000 preview (``loaded.is_preview``) is placed in full-resolution coordinates;
        :meth:`swap_in_full` later replaces it without moving anything.
        """
        level = loaded.reduce_level if loaded.full_shape is not None else 0
        if level:
            info = "\n".join(p for p in (info, preview_note(level)) if p)
        self.show_frame(
            apply_transform(loaded.display.array, transform),
            label=label,
            info=info,
            aspect=display_aspect(loaded.calibration, transform),
            source=loaded.display,
            transform=transform,
            calibration=loaded.calibration,
            full_shape=loaded.full_shape if level else None,
            level=level,
        )

    def show_frame(
        self,
        array: np.ndarray,
        *,
        label: str = "",
        info: str = "",
        aspect: float = 1.0,
        source: DisplayImage | None = None,
        transform: MammoTransform | None = None,
        calibration: Calibration | None = None,
        full_shape: tuple[int, int] | None = None,
        level: int = 0,
    ) -> None:
        """Display a windowed uint8 (or RGB uint8) frame; ``aspect`` = row spacing / col spacing.

        ``level`` > 0: ``array`` is a reduced-resolution preview of a stored frame of
        ``full_shape`` (rows, cols); it is drawn scaled by 2**level so that view coordinates
        (and measurements) are full-resolution pixels.

        With ``source`` (the DisplayImage ``array`` was rendered from) and ``transform`` (how it is
        hung), the viewport can re-window it locally; ``info`` is then the detail shown after the
        window name in the info overlay. ``calibration`` (of the stored image) turns measurements
        into millimetres; shown measurements are cleared (the caller re-shows saved ones).
        """
        self.clear_measurements()
        self._cancel_draft()
        self._calibration = calibration
        self._aspect = float(aspect)
        # transpose is its own inverse
        self._preview_level = level if full_shape is not None else 0
        # A reduced render of the full image (display_scale): every n-th stored pixel.
        reduced = source is not None and source.stored is not None and not self._preview_level
        self._reduction = source.reduction if reduced and source is not None else 1
        if full_shape is not None:
            self._stored_shape = full_shape
        elif self._reduction > 1 and source is not None and source.stored is not None:
            self._stored_shape = (int(source.stored.shape[0]), int(source.stored.shape[1]))
        else:
            self._stored_shape = display_shape(array.shape, transform)
        self._source = source
        self._transform = transform
        self._voi = source.voi if source is not None else None
        self._original_voi = self._voi
        self._inverted = False
        self._wl_timer.stop()
        self._pending_window = None
        self._drag_start = None
        self._base = np.ascontiguousarray(array)
        self._original = self._base
        self._array = self._base
        self.image_item.setImage(self._array, levels=(0, 255), autoLevels=False)
        self._place_image(*array.shape[:2])
        self.view.setAspectLocked(True, 1.0)
        self.fit()
        self.message.hide()
        self._label = label
        self._detail = info
        self._refresh_overlay()

    def _render_full_if_zoomed(self, *_args: Any) -> None:
        """Swap a reduced render for the full frame once a screen pixel shows less than one
        reduced pixel (same window, invert, zoom and pan: only the sharpness changes)."""
        if self._reduction <= 1 or self.is_preview or self._source is None or self._voi is None:
            return
        (x0, x1), _ = self.view.viewRange()
        screen = self.view.width() * (self.devicePixelRatioF() or 1.0)
        if x1 <= x0 or screen * self._reduction <= (x1 - x0):
            return
        self._reduction = 1
        original = self._original_voi
        self._source = self._source.rewindow(self._voi, reduction=1)
        self._base = self._hung(self._source.array)
        if original is not None and original != self._voi:
            self._original = self._hung(self._source.rewindow(original).array)
        else:
            self._original = self._base
        ranges = self.view.viewRange()
        self._show_array()
        self._place_image(*self._base.shape[:2])
        self.view.setRange(xRange=ranges[0], yRange=ranges[1], padding=0.0)

    def _hung(self, array: np.ndarray) -> np.ndarray:
        if self._transform is not None:
            array = apply_transform(array, self._transform)
        return np.ascontiguousarray(array)

    def full_array(self) -> np.ndarray | None:
        """The shown frame at full resolution (window, hanging and invert as shown), e.g. for
        PNG export: a reduced first render is rendered in full here, the display is kept."""
        if self._reduction <= 1 or self._source is None or self._voi is None:
            return self._array
        full = self._hung(self._source.rewindow(self._voi, reduction=1).array)
        return 255 - full if self._inverted and full.dtype == np.uint8 else full

    def set_highlight(self, on: bool) -> None:
        """Mark this viewport's label as the view the checklist is asking about."""
        if self.overlay.property("current") == on:
            return
        self.overlay.setProperty("current", on)
        self.overlay.style().unpolish(self.overlay)
        self.overlay.style().polish(self.overlay)
        self.overlay.adjustSize()
        self._place_info()

    def set_overlay(self, label: str, info: str = "") -> None:
        self.overlay.setText(label)
        self.overlay.adjustSize()
        self.info.setText(info)
        self.info.adjustSize()
        self._place_info()

    def _refresh_overlay(self) -> None:
        parts = [p for p in (self.window_text(), "inverted" if self._inverted else "") if p]
        head = " · ".join(parts)
        info = f"{head} · {self._detail}" if head and self._detail else (head or self._detail)
        self.set_overlay(self._label, info)

    def show_message(self, text: str) -> None:
        """Replace the image by a sentence (decode error, missing view, ...)."""
        self._array = None
        self._base = None
        self._original = None
        self._source = None
        self._voi = None
        self._wl_timer.stop()
        self.image_item.clear()
        self._label = self._detail = ""
        self.set_overlay("")
        self.message.setText(text)
        self.message.show()
        self.clear_measurements()
        self._cancel_draft()
        self._calibration = None
        self._stored_shape = None
        self._preview_level = 0

    def _show_array(self) -> None:
        if self._base is None:
            return
        shown = 255 - self._base if self._inverted and self._base.dtype == np.uint8 else self._base
        self._array = np.ascontiguousarray(shown)
        self.image_item.setImage(self._array, levels=(0, 255), autoLevels=False)

    # ------------------------------------------------------------------ window / level
    def apply_preset(self, preset: VOIPreset) -> None:
        """Re-window the shown frame through ``preset`` (no decode); keeps zoom and invert."""
        if not self.can_rewindow or self._source is None:
            return
        self._base = self._hung(self._source.rewindow(preset).array)
        self._voi = preset
        self._show_array()
        self._refresh_overlay()
        self.window_changed.emit(self.window_text())

    def set_window(self, center: float, width: float) -> None:
        """A custom window (keeps the current VOI function; LUTs and ranges go linear)."""
        function = self._current_function()
        preset = VOIPreset(
            name="Custom",
            kind="window",
            center=float(center),
            width=max(1.0, float(width)),
            function=function,
            source="window/level by mouse",
        )
        self.apply_preset(preset)

    def _current_function(self) -> str:
        voi = self._voi
        if voi is None:
            return "LINEAR"
        if voi.kind == "window":
            return voi.function
        return "LINEAR_EXACT" if voi.kind == "range" else "LINEAR"

    def _current_center_width(self) -> tuple[float, float]:
        voi = self._voi
        if voi is not None and voi.center is not None and voi.width is not None:
            return voi.center, voi.width
        values = self._source.modality_values if self._source is not None else None
        if values is None:
            return 127.5, 255.0
        low, high = float(np.min(values)), float(np.max(values))
        return (low + high) / 2, max(1.0, high - low)

    def _window_drag(self, start: QPointF, pos: QPointF, is_start: bool, is_finish: bool) -> None:
        if not self.can_rewindow:
            return
        if is_start or self._drag_start is None:
            center, width = self._current_center_width()
            self._drag_start = (center, width, self._current_function())
        center0, width0, _function = self._drag_start
        per_pixel = width0 / WL_PIXELS_PER_WIDTH
        dx, dy = pos.x() - start.x(), pos.y() - start.y()
        self._pending_window = (center0 + dy * per_pixel, max(1.0, width0 + dx * per_pixel))
        if is_finish:
            self._wl_timer.stop()
            self._render_pending_window()
            self._drag_start = None
        elif not self._wl_timer.isActive():
            self._wl_timer.start()

    def _render_pending_window(self) -> None:
        if self._pending_window is None:
            return
        center, width = self._pending_window
        self._pending_window = None
        self.set_window(center, width)

    def toggle_invert(self) -> None:
        """Display-only inversion (white on black becomes black on white)."""
        if self._base is None:
            return
        self._inverted = not self._inverted
        self._show_array()
        self._refresh_overlay()

    def reset(self) -> None:
        """Fit, the file's default window, not inverted."""
        if self._original is None:
            return
        self._wl_timer.stop()
        self._pending_window = None
        self._base = self._original
        self._voi = self._original_voi
        self._inverted = False
        self._show_array()
        self.fit()
        self._refresh_overlay()
        self.window_changed.emit(self.window_text())

    # ------------------------------------------------------------------ zoom / pan
    def fit(self) -> None:
        """The whole image in the viewport (against the anchor edge when hung)."""
        self._fitted = True
        if self._base is None:
            return
        if self.is_preview or self._reduction > 1:  # the full extent, not the rounded-up one
            self.view.setRange(rect=self._image_rect(), padding=0.0)
        else:
            self.view.autoRange(padding=0.0)
        self._apply_anchor()

    def one_to_one(self) -> None:
        """One image pixel (column) per screen pixel, about the current view centre."""
        if self._base is None:
            return
        view_w, view_h = self.view.width(), self.view.height()
        if view_w <= 0 or view_h <= 0:
            return
        ratio = self.devicePixelRatioF() or 1.0
        (x0, x1), (y0, y1) = self.view.viewRange()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        w, h = view_w * ratio, view_h * ratio
        self._fitted = False
        self.view.setRange(
            xRange=(cx - w / 2, cx + w / 2), yRange=(cy - h / 2, cy + h / 2), padding=0.0
        )
        self.view_moved.emit()

    def _user_moved_view(self) -> None:
        self._fitted = False
        self.view_moved.emit()

    def image_width(self) -> float:
        """Width of the shown image in view coordinates (0 when nothing is shown)."""
        if self._array is None:
            return 0.0
        return float(self._image_rect().width())

    def set_view_range(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        """Show exactly this part of the image (no signal: used to follow another viewport)."""
        if self._array is None:
            return
        self._fitted = False
        self.view.setRange(xRange=x_range, yRange=y_range, padding=0.0)

    def _on_view_resized(self) -> None:
        if self._fitted:
            self.fit()

    def set_anchor(self, side: str | None) -> None:
        """Fit the image against the 'left' or 'right' edge instead of centring it (a hung
        mammogram's chest wall touches the centre line of the layout)."""
        self._anchor = side
        self._apply_anchor()

    def _apply_anchor(self) -> None:
        if self._anchor is None or self._array is None:
            return
        rect = self._image_rect()
        width, height = rect.width(), rect.height()
        view_w, view_h = self.view.width(), self.view.height()
        if width <= 0 or height <= 0 or view_w <= 0 or view_h <= 0:
            return
        scale = min(view_w / width, view_h / height)
        vis_w, vis_h = view_w / scale, view_h / scale
        x0 = rect.left() if self._anchor == "left" else rect.right() - vis_w
        y0 = rect.center().y() - vis_h / 2
        self.view.setRange(xRange=(x0, x0 + vis_w), yRange=(y0, y0 + vis_h), padding=0.0)

    # ------------------------------------------------------------------ keys / focus
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_F:
            self.fit()
        elif key == Qt.Key.Key_1:
            self.one_to_one()
        elif key == Qt.Key.Key_I:
            self.toggle_invert()
        elif key == Qt.Key.Key_R:
            self.reset()
        elif key == Qt.Key.Key_M:
            self.set_tool("ruler")
        elif key == Qt.Key.Key_N:
            self.set_tool("pnl")
        elif key == Qt.Key.Key_Escape and (self._tool != "window" or self._draft):
            self.set_tool("window")
        elif key == Qt.Key.Key_Escape:
            self.leave_requested.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _clicked(self) -> None:
        """A click or drag in the image makes this viewport the one tools and presets act on,
        even when the window system did not give it keyboard focus (another window active)."""
        if not self.hasFocus():
            self.setFocus(Qt.FocusReason.MouseFocusReason)
        if not self.hasFocus():
            self.activated.emit()

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.activated.emit()

    # ------------------------------------------------------------------ layout
    def set_overlay_corner(self, corner: str) -> None:
        """'left' (default) or 'right': the top corner of the label, e.g. away from the tissue."""
        self._overlay_right = corner == "right"
        self._place_info()

    def _place_info(self) -> None:
        if self._overlay_right:
            width = self.graphics.width()
            self.overlay.move(max(10, width - self.overlay.width() - 10), 8)
            self.info.move(
                max(10, width - self.info.width() - 10),
                max(8, self.graphics.height() - self.info.height() - 8),
            )
        else:
            self.overlay.move(10, 8)
            self.info.move(10, max(8, self.graphics.height() - self.info.height() - 8))
        hint_y = self.overlay.y() + (self.overlay.height() if self.overlay.text() else 0) + 4
        if self._overlay_right:
            self.hint.move(max(10, self.graphics.width() - self.hint.width() - 10), hint_y)
        else:
            self.hint.move(10, hint_y)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_info()
