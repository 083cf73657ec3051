"""The viewport's measuring tools: ruler and posterior nipple line, drafts, handles, hints.

A mixin of ``ImageViewport`` kept apart from the viewing code (window/level, zoom, pan, layout)
because it is its own responsibility: turning clicks into STORED-pixel points (undoing the
hanging transform and the row stretch), snapping onto the chest-wall edge, building the
:mod:`auditdesk.reading.measure` result and letting the user drag handles to edit it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF

from auditdesk.dicom.orientation import chest_wall_side_from_pixels
from auditdesk.reading.measure import (
    Measurement,
    Point,
    display_shape,
    display_to_stored,
    pnl_cc,
    pnl_mlo,
    recompute,
    ruler,
    stored_to_display,
)
from auditdesk.ui.reading.measure import Drawing, MeasurementGraphic, Segment, drawing_for

#: A click this close (screen pixels) to the chest-wall edge / the perpendicular snaps onto it.
SNAP_PX = 15.0
#: A left press this close (screen pixels) to a handle drags the handle.
HANDLE_GRAB_PX = 10.0
#: Measuring tools :meth:`ImageViewport.set_tool` accepts ("window" = no measuring tool).
TOOLS = ("window", "ruler", "pnl")

_PROMPTS = {
    ("ruler", 0): "Ruler: click the first point",
    ("ruler", 1): "Ruler: click the second point",
    ("pnl_cc", 0): "PNL (CC): click the nipple",
    ("pnl_cc", 1): "PNL (CC): click the posterior (chest-wall) edge; it snaps to the edge",
    ("pnl_mlo", 0): "PNL (MLO): click the nipple",
    ("pnl_mlo", 1): "PNL (MLO): click the anterior edge of the pectoral muscle, high up",
    ("pnl_mlo", 2): "PNL (MLO): click the inferior end of the pectoral muscle edge",
}


@dataclass
class _Shown:
    """A measurement drawn in the viewport."""

    measurement: Measurement
    editable: bool
    graphic: MeasurementGraphic


class MeasuringTools:
    """Measuring methods of ``ImageViewport`` (uses its view, image item, signals and state)."""

    # ------------------------------------------------------------------ measuring
    def set_view_kind(self, kind: str | None) -> None:
        """'CC' or 'MLO' (which PNL the PNL tool draws); None: the PNL tool is refused."""
        text = (kind or "").strip().upper()
        self._view_kind = text if text in ("CC", "MLO") else None
        if self._tool == "pnl":
            self._cancel_draft()
            if self._view_kind is None:
                self.set_tool("window")
            self._update_hint()

    def set_tool(self, name: str | None) -> bool:
        """None / "window" (left drag = window/level), "ruler" or "pnl"; cancels a measurement
        in progress. False (and a message on the overlay) when the PNL has no CC/MLO view."""
        tool = name or "window"
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {', '.join(TOOLS)} or None, not {name!r}")
        self._cancel_draft()
        if tool == "pnl" and self._view_kind is None:
            changed = self._tool != "window"
            self._tool = "window"
            self._show_hint("PNL needs a CC or MLO view; this viewport has neither")
            if changed:
                self.tool_changed.emit(self._tool)
            return False
        changed = tool != self._tool
        self._tool = tool
        self._update_hint()
        if changed:
            self.tool_changed.emit(tool)
        return True

    def show_measurements(self, items: list[Measurement], *, editable: bool = True) -> None:
        """Draw saved measurements (stored coordinates) over the image, replacing those shown."""
        self.clear_measurements()
        if self._stored_shape is None:
            return
        for m in items:
            graphic = MeasurementGraphic(self.view)
            self._shown.append(_Shown(m, editable, graphic))
            self._draw_shown(len(self._shown) - 1)

    def clear_measurements(self) -> None:
        """Remove every drawn measurement (not the one being placed)."""
        self._dragging = None
        for shown in self._shown:
            shown.graphic.remove()
        self._shown = []

    # Conversions: stored pixel (x, y) <-> view (x, y * aspect) through the hanging transform.
    def _to_view(self, p: Point) -> Point:
        assert self._stored_shape is not None
        x, y = stored_to_display(p, self._transform, self._stored_shape)
        return x, y * self._aspect

    def _view_to_stored(self, v: Point) -> Point:
        assert self._stored_shape is not None
        return display_to_stored((v[0], v[1] / self._aspect), self._transform, self._stored_shape)

    def _scene_to_view(self, scene_pos: QPointF) -> Point:
        v = self.view.mapSceneToView(scene_pos)
        return v.x(), v.y()

    def _view_to_scene(self, v: Point) -> QPointF:
        return self.view.mapViewToScene(QPointF(v[0], v[1]))

    def _display_size(self) -> tuple[float, float]:
        """(width, height) of the image in view coordinates."""
        assert self._stored_shape is not None
        rows_d, cols_d = display_shape(self._stored_shape, self._transform)
        return float(cols_d), rows_d * self._aspect

    def _clamp_view(self, v: Point) -> Point:
        width, height = self._display_size()
        return min(max(v[0], 0.0), width), min(max(v[1], 0.0), height)

    def _pixel_size(self) -> float:
        try:
            px = self.view.viewPixelSize()[0]
        except Exception:  # not laid out yet
            return 1.0
        return float(px) if px and math.isfinite(px) else 1.0

    def _chest_wall_x(self, nipple_view: Point) -> float:
        """View x of the chest-wall (posterior) edge: from the hanging, else the brighter edge
        of the image, else the edge farther from the nipple."""
        width, _height = self._display_size()
        side = self._transform.chest_wall_side if self._transform is not None else None
        if side not in ("left", "right") and self._original is not None:
            side = chest_wall_side_from_pixels(self._original)
        if side not in ("left", "right"):
            side = "right" if nipple_view[0] < width / 2 else "left"
        return 0.0 if side == "left" else width

    def _snap_posterior(self, nipple_view: Point, v: Point) -> Point:
        """Snap a CC posterior point onto the chest-wall edge and onto the perpendicular."""
        edge_x = self._chest_wall_x(nipple_view)
        scene = self._view_to_scene(v)
        edge_scene = self._view_to_scene((edge_x, v[1]))
        x, y = v
        if abs(scene.x() - edge_scene.x()) <= SNAP_PX:
            x = edge_x
            perp_scene = self._view_to_scene((edge_x, nipple_view[1]))
            if abs(scene.y() - perp_scene.y()) <= SNAP_PX:
                y = nipple_view[1]
        return x, y

    def _cc_helper(self, nipple_view: Point) -> list[Segment]:
        """The dashed perpendicular from the nipple to the chest-wall edge."""
        return [(nipple_view, (self._chest_wall_x(nipple_view), nipple_view[1]))]

    def _pnl_kind(self) -> str | None:
        return {"CC": "pnl_cc", "MLO": "pnl_mlo"}.get(self._view_kind or "")

    def _build(self, kind: str, points: list[Point]) -> Measurement:
        cal = self._calibration
        if kind == "ruler":
            return ruler(points[0], points[1], cal)
        if kind == "pnl_cc":
            return pnl_cc(points[0], points[1], cal)
        if kind == "pnl_mlo":
            return pnl_mlo(points[0], points[1], points[2], cal)
        return recompute(kind, points, cal)

    def _drawing(self, m: Measurement) -> Drawing:
        helpers: list[Segment] = []
        if m.kind == "pnl_cc":
            helpers = self._cc_helper(self._to_view(m.points[0]))
        return self._place_label(drawing_for(m, self._to_view, helpers=helpers))

    def _place_label(self, drawing: Drawing) -> Drawing:
        """Label towards the middle of the image so it is not cut off at the edge."""
        if drawing.label_at is not None and drawing.label_at[0] > self._display_size()[0] / 2:
            drawing.label_anchor = (1.08, 1.1)
        return drawing

    def _draw_shown(self, index: int) -> None:
        shown = self._shown[index]
        shown.graphic.set_pixel_size(self._pixel_size())
        shown.graphic.set_drawing(self._drawing(shown.measurement))

    def _tool_click(self, scene_pos: QPointF) -> None:
        if self._stored_shape is None or self._tool == "window":
            return
        kind = "ruler" if self._tool == "ruler" else self._pnl_kind()
        if kind is None:
            self.set_tool("pnl")  # refuses, with the message
            return
        self._draft_kind = kind
        v = self._clamp_view(self._scene_to_view(scene_pos))
        if kind == "pnl_cc" and len(self._draft) == 1:
            v = self._snap_posterior(self._to_view(self._draft[0]), v)
        self._draft.append(self._view_to_stored(v))
        needed = 3 if kind == "pnl_mlo" else 2
        if len(self._draft) < needed:
            self._update_draft(None)
            self._update_hint()
            return
        m = self._build(kind, self._draft)
        self._cancel_draft()
        if m.is_pnl:  # one PNL per image: a new one replaces the old
            for shown in [s for s in self._shown if s.measurement.is_pnl]:
                shown.graphic.remove()
                self._shown.remove(shown)
        self._shown.append(_Shown(m, True, MeasurementGraphic(self.view)))
        self._draw_shown(len(self._shown) - 1)
        self._update_hint()
        self.measurement_done.emit(m)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self._draft and self._stored_shape is not None and self._tool != "window":
            self._update_draft(scene_pos)

    def _update_draft(self, scene_pos: QPointF | None) -> None:
        """Redraw the measurement being placed, previewed up to the cursor when known."""
        kind = self._draft_kind
        if kind is None or not self._draft:
            return
        if self._draft_graphic is None:
            self._draft_graphic = MeasurementGraphic(self.view)
        graphic = self._draft_graphic
        graphic.set_pixel_size(self._pixel_size())
        points = list(self._draft)
        helpers: list[Segment] = []
        if kind == "pnl_cc":
            helpers = self._cc_helper(self._to_view(points[0]))
        preview: Measurement | None = None
        if scene_pos is not None:
            v = self._clamp_view(self._scene_to_view(scene_pos))
            if kind == "pnl_cc":
                v = self._snap_posterior(self._to_view(points[0]), v)
            cursor = self._view_to_stored(v)
            if kind in ("ruler", "pnl_cc") or len(points) == 2:
                preview = self._build(kind, [*points, cursor])
        if preview is not None:
            drawing = self._place_label(drawing_for(preview, self._to_view, helpers=helpers))
            drawing.handles = drawing.handles[: len(points)]
        else:
            drawing = Drawing(handles=[self._to_view(p) for p in points], helpers=helpers)
        graphic.set_drawing(drawing)

    def _cancel_draft(self) -> None:
        self._draft = []
        self._draft_kind = None
        if self._draft_graphic is not None:
            self._draft_graphic.remove()
            self._draft_graphic = None

    def _handle_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """(shown index, point index) of the editable handle under ``scene_pos``, if any."""
        if self._draft or self._stored_shape is None:
            return None
        best: tuple[float, tuple[int, int]] | None = None
        for i, shown in enumerate(self._shown):
            if not shown.editable:
                continue
            for j, p in enumerate(shown.measurement.points):
                q = self._view_to_scene(self._to_view(p))
                dist = math.hypot(q.x() - scene_pos.x(), q.y() - scene_pos.y())
                if dist <= HANDLE_GRAB_PX and (best is None or dist < best[0]):
                    best = (dist, (i, j))
        return best[1] if best is not None else None

    def _handle_drag_event(self, ev: Any) -> bool:
        """Left drag on a handle: move it, recompute; emit on release. True when handled."""
        if ev.isStart():
            self._dragging = self._handle_at(ev.buttonDownScenePos())
        if self._dragging is None:
            return False
        i, j = self._dragging
        if i >= len(self._shown):
            self._dragging = None
            return False
        shown = self._shown[i]
        m = shown.measurement
        v = self._clamp_view(self._scene_to_view(ev.scenePos()))
        if m.kind == "pnl_cc" and j == 1:
            v = self._snap_posterior(self._to_view(m.points[0]), v)
        points = list(m.points)
        points[j] = self._view_to_stored(v)
        shown.measurement = self._build(m.kind, points)
        self._draw_shown(i)
        if ev.isFinish():
            self._dragging = None
            self.measurement_done.emit(shown.measurement)
        return True

    def _on_range_changed(self, *_args: Any) -> None:
        px = self._pixel_size()
        for shown in self._shown:
            shown.graphic.set_pixel_size(px)
        if self._draft_graphic is not None:
            self._draft_graphic.set_pixel_size(px)

    def _show_hint(self, text: str) -> None:
        self.hint.setText(text)
        self.hint.adjustSize()
        self.hint.setVisible(bool(text))
        self._place_info()

    def _update_hint(self) -> None:
        if self._tool == "window":
            self._show_hint("")
            return
        kind = "ruler" if self._tool == "ruler" else self._pnl_kind()
        prompt = _PROMPTS.get((kind or "", len(self._draft)), "")
        self._show_hint(f"{prompt}  ·  Esc: cancel" if prompt else "")


__all__ = ["HANDLE_GRAB_PX", "SNAP_PX", "TOOLS", "MeasuringTools"]
