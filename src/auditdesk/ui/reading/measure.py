"""Drawing of measurements (ruler, posterior nipple line) in an image viewport.

Geometry lives in :mod:`auditdesk.reading.measure` (stored pixel coordinates);
this module only draws,
in the ViewBox's coordinates, which the viewport supplies through a ``to_view`` function. View
coordinates are proportional to millimetres on both axes (the viewport stretches rows by the
pixel aspect), so a right angle in the breast is drawn as a right angle on screen.

Readability on mammograms, which are both nearly black and nearly white: yellow (measured line)
and cyan (construction lines) over a dark outline, cosmetic pens (widths in screen pixels) and
handles and labels that keep their screen size whatever the zoom.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyqtgraph as pg
from PySide6.QtCore import Qt

from auditdesk.reading.measure import Measurement, Point

__all__ = [
    "Drawing",
    "MeasurementGraphic",
    "Segment",
    "drawing_for",
]

Segment = tuple[Point, Point]
ToView = Callable[[Point], Point]

MAIN_COLOUR = (255, 221, 0)  # yellow: the measured line
HELPER_COLOUR = (0, 229, 255)  # cyan: pectoral line, construction lines
OUTLINE_COLOUR = (0, 0, 0, 210)
LINE_WIDTH = 2.0  # screen pixels
OUTLINE_WIDTH = 4.5
HANDLE_SIZE = 10  # screen pixels
RIGHT_ANGLE_PX = 11.0  # side of the right-angle mark, screen pixels
Z_VALUE = 50  # above the image


@dataclass
class Drawing:
    """What to draw, in view coordinates (the right-angle mark is sized at paint time)."""

    main: list[Segment] = field(default_factory=list)
    pectoral: list[Segment] = field(default_factory=list)
    helpers: list[Segment] = field(default_factory=list)
    handles: list[Point] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    label_at: Point | None = None
    # TextItem anchor: (-0.08, 1.1) puts the text right of ``label_at``, (1.08, 1.1) left of it.
    label_anchor: tuple[float, float] = (-0.08, 1.1)
    # Foot of a perpendicular with unit vectors along the line and towards the nipple.
    right_angle: tuple[Point, Point, Point] | None = None


def _unit(dx: float, dy: float) -> Point | None:
    length = math.hypot(dx, dy)
    if length <= 1e-12:
        return None
    return dx / length, dy / length


def _mid(p: Point, q: Point) -> Point:
    return (p[0] + q[0]) / 2, (p[1] + q[1]) / 2


def drawing_for(
    m: Measurement, to_view: ToView, *, helpers: Sequence[Segment] = (), label: bool = True
) -> Drawing:
    """The drawing of a finished (or previewed) measurement; ``helpers`` are extra dashed lines
    in view coordinates (the CC chest-wall perpendicular, which needs the image edge)."""
    pts = [to_view(p) for p in m.points]
    d = Drawing(handles=list(pts), helpers=list(helpers))
    if m.kind == "pnl_mlo":
        nipple, a, b = pts
        foot_stored = m.foot
        foot = to_view(foot_stored) if foot_stored is not None else b
        d.main.append((nipple, foot))
        d.pectoral.append((a, b))
        along = _unit(b[0] - a[0], b[1] - a[1])
        if along is not None:
            # The pectoral line extended past both ends and the foot, dashed.
            length = math.hypot(b[0] - a[0], b[1] - a[1])

            def t_of(p: Point) -> float:
                return (p[0] - a[0]) * along[0] + (p[1] - a[1]) * along[1]

            ts = [0.0, length, t_of(foot)]
            margin = 0.08 * (max(ts) - min(ts))
            t0, t1 = min(ts) - margin, max(ts) + margin
            d.helpers.append(
                (
                    (a[0] + t0 * along[0], a[1] + t0 * along[1]),
                    (a[0] + t1 * along[0], a[1] + t1 * along[1]),
                )
            )
            towards = _unit(nipple[0] - foot[0], nipple[1] - foot[1])
            if towards is not None:
                # Mark on the side of the muscle's upper point (the line runs on both sides).
                side = -1.0 if t_of(foot) > length / 2 else 1.0
                d.right_angle = (foot, (side * along[0], side * along[1]), towards)
        d.label_at = _mid(nipple, foot)
    else:
        d.main.append((pts[0], pts[1]))
        d.label_at = _mid(pts[0], pts[1])
    if label:
        d.label = m.label_lines()
    return d


def _pairs(segments: Sequence[Segment]) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for (x0, y0), (x1, y1) in segments:
        xs += [x0, x1]
        ys += [y0, y1]
    return xs, ys


def _label_html(lines: Sequence[str]) -> str:
    if not lines:
        return ""
    head, *rest = lines
    colour = "#{:02x}{:02x}{:02x}".format(*MAIN_COLOUR)
    sub = "#{:02x}{:02x}{:02x}".format(*HELPER_COLOUR)
    parts = [f'<span style="color:{colour}; font-weight:600;">{html.escape(head)}</span>']
    parts += [f'<span style="color:{sub}; font-size:small;">{html.escape(x)}</span>' for x in rest]
    return '<div style="white-space:nowrap;">' + "<br>".join(parts) + "</div>"


class MeasurementGraphic(pg.ItemGroup):
    """All items of one measurement; added to ``view`` (not counted in its auto-range)."""

    def __init__(self, view: pg.ViewBox) -> None:
        super().__init__()
        self.setZValue(Z_VALUE)
        self._drawing = Drawing()
        self._pixel = 1.0  # view units per screen pixel
        outline_pen = pg.mkPen(OUTLINE_COLOUR, width=OUTLINE_WIDTH)
        outline_pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.outline = pg.PlotCurveItem(pen=outline_pen, connect="pairs", antialias=True)
        self.main = pg.PlotCurveItem(
            pen=pg.mkPen(MAIN_COLOUR, width=LINE_WIDTH), connect="pairs", antialias=True
        )
        self.pectoral = pg.PlotCurveItem(
            pen=pg.mkPen(HELPER_COLOUR, width=LINE_WIDTH), connect="pairs", antialias=True
        )
        self.helpers = pg.PlotCurveItem(
            pen=pg.mkPen(HELPER_COLOUR, width=1.5, style=Qt.PenStyle.DashLine),
            connect="pairs",
            antialias=True,
        )
        self.handles = pg.ScatterPlotItem(
            size=HANDLE_SIZE,
            pxMode=True,
            symbol="o",
            pen=pg.mkPen(OUTLINE_COLOUR, width=1.5),
            brush=pg.mkBrush(*MAIN_COLOUR, 150),
        )
        self.text = pg.TextItem(anchor=(-0.08, 1.1), fill=pg.mkBrush(0, 0, 0, 170))
        for item in (self.outline, self.helpers, self.pectoral, self.main, self.handles):
            item.setParentItem(self)
        self.text.setParentItem(self)
        view.addItem(self, ignoreBounds=True)
        self._view = view

    # ------------------------------------------------------------------ public
    @property
    def drawing(self) -> Drawing:
        return self._drawing

    def set_drawing(self, drawing: Drawing) -> None:
        """Replace what is drawn."""
        self._drawing = drawing
        self._redraw()

    def set_pixel_size(self, view_units_per_px: float) -> None:
        """Keep the right-angle mark a fixed number of screen pixels after a zoom."""
        if view_units_per_px > 0 and math.isfinite(view_units_per_px):
            self._pixel = view_units_per_px
            if self._drawing.right_angle is not None:
                self._redraw()

    def remove(self) -> None:
        """Take the items off the view."""
        self._view.removeItem(self)

    # ------------------------------------------------------------------ drawing
    def _right_angle_segments(self) -> list[Segment]:
        if self._drawing.right_angle is None:
            return []
        foot, u, v = self._drawing.right_angle
        s = RIGHT_ANGLE_PX * self._pixel
        p1 = (foot[0] + s * u[0], foot[1] + s * u[1])
        p2 = (p1[0] + s * v[0], p1[1] + s * v[1])
        p3 = (foot[0] + s * v[0], foot[1] + s * v[1])
        return [(p1, p2), (p2, p3)]

    def _redraw(self) -> None:
        d = self._drawing
        main = list(d.main) + self._right_angle_segments()
        everything = main + list(d.pectoral) + list(d.helpers)
        for item, segments in (
            (self.outline, everything),
            (self.main, main),
            (self.pectoral, d.pectoral),
            (self.helpers, d.helpers),
        ):
            xs, ys = _pairs(segments)
            if xs:
                item.setData(xs, ys, connect="pairs")
                item.show()
            else:
                item.clear()
                item.hide()
        if d.handles:
            self.handles.setData(pos=list(d.handles))
            self.handles.show()
        else:
            self.handles.clear()
            self.handles.hide()
        if d.label and d.label_at is not None:
            self.text.setHtml(_label_html(d.label))
            self.text.setAnchor(d.label_anchor)
            self.text.setPos(*d.label_at)
            self.text.show()
        else:
            self.text.hide()
