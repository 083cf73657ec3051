"""QI charts drawn with pyqtgraph: the p-chart, the run chart and per-technologist small multiples.

The numbers come from ``auditdesk.qi.spc`` (limits, phases, signals); these widgets only draw them,
so a chart on screen, in a PNG/SVG export and in a PDF report always shows the same values. The
x axis is in weeks (days / 7 since 1970), so weeks with no audits leave a visible gap and an
annotation dated mid-week sits where it happened. Exports redraw with dark pens on white, so the
images read on paper whatever the screen theme is.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # registers pg.exporters
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from auditdesk.qi import spc
from auditdesk.qi.measures import measured_weeks

EPOCH = date(1970, 1, 1)
#: Top of the y axis: 0–100 % plus a band above 100 for the legend and annotation labels.
Y_TOP = 122
RULE_SETS = {"anhoej": "Anhøj", "ihi": "IHI", "both": "Anhøj + IHI"}


@dataclass(frozen=True)
class ChartStyle:
    """Colours of one rendering: the screen theme, or white paper for exports and reports."""

    background: str
    foreground: str
    data: str
    centre: str
    limits: str
    goal: str
    outside: str
    annotation: str
    phase: str
    signal: str
    grid_alpha: float = 0.15


DARK = ChartStyle(
    background="#16181c",
    foreground="#d6d9de",
    data="#6fa8dc",
    centre="#8fd19e",
    limits="#e8b86a",
    goal="#c58af9",
    outside="#ff6b6b",
    annotation="#aab0b8",
    phase="#7f8791",
    signal="#ffb347",
)
LIGHT = ChartStyle(
    background="#ffffff",
    foreground="#1a1a1a",
    data="#1f4e79",
    centre="#2e7d32",
    limits="#a65e00",
    goal="#6a1b9a",
    outside="#c62828",
    annotation="#444444",
    phase="#777777",
    signal="#d35400",
    grid_alpha=0.25,
)


def week_x(day: date) -> float:
    """A date as an x position (weeks since 1970): week starts are whole weeks apart."""
    return (day - EPOCH).days / 7.0


def date_label(day: date) -> str:
    """Short axis label, e.g. "Nov 15" (no year: the title and the tables carry it)."""
    return f"{day:%b} {day.day}"


def _ticks(labels: Sequence[date], max_labels: int = 12) -> list[list[tuple[float, str]]]:
    if not labels:
        return [[], []]
    step = max(1, math.ceil(len(labels) / max_labels))
    major = [(week_x(d), date_label(d)) for d in labels[::step]]
    minor = [(week_x(d), "") for d in labels]
    return [major, minor]


def _pen(color: str, width: float = 1.5, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> Any:
    pen = pg.mkPen(color=color, width=width)
    pen.setStyle(style)
    pen.setCosmetic(True)
    return pen


def _prepare(plot: pg.PlotItem, style: ChartStyle, title: str, y_label: str) -> None:
    plot.clear()
    if plot.legend is not None:
        plot.legend.clear()
    plot.setTitle(html.escape(title), color=style.foreground, size="11pt")  # titles are HTML
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(_pen(style.foreground, 1))
        axis.setTextPen(_pen(style.foreground, 1))
    plot.setLabel("left", y_label, color=style.foreground)
    plot.showGrid(x=False, y=True, alpha=style.grid_alpha)
    plot.setMenuEnabled(False)


def _legend(plot: pg.PlotItem, style: ChartStyle) -> pg.LegendItem:
    if plot.legend is None:
        plot.addLegend(offset=(8, 2), labelTextSize="8pt", colCount=7)
    legend = plot.legend
    legend.setLabelTextColor(style.foreground)
    legend.setBrush(pg.mkBrush(style.background + "e0" if len(style.background) == 7 else None))
    legend.setPen(_pen(style.phase, 1))
    return legend


def _annotation_lines(
    plot: pg.PlotItem, annotations: Sequence[Any], style: ChartStyle, x_range: tuple[float, float]
) -> list[pg.InfiniteLine]:
    """PDSA cycles and other events as dashed vertical markers with their label."""
    lines = []
    for i, note in enumerate(annotations):
        x = week_x(note.date)
        if not (x_range[0] - 1 <= x <= x_range[1] + 1):
            continue
        text = note.label + (f" ({note.pdsa_cycle})" if getattr(note, "pdsa_cycle", "") else "")
        right = x > (x_range[0] + x_range[1]) / 2
        line = pg.InfiniteLine(
            pos=x,
            angle=90,
            movable=False,
            pen=_pen(style.annotation, 1.2, Qt.PenStyle.DashLine),
            label=text,
            labelOpts={
                "position": 0.88 - 0.035 * (i % 2),
                "color": style.annotation,
                # Right half: the label reads leftwards so it is not cut at the edge.
                "anchors": [(1, 0.5), (1, 0.5)] if right else [(0, 0.5), (0, 0.5)],
                "rotateAxis": None,
            },
        )
        line.setToolTip(f"{note.date:%Y-%m-%d} {text}\n{getattr(note, 'description', '')}".strip())
        plot.addItem(line)
        lines.append(line)
    return lines


# --------------------------------------------------------------------------------------------
# Drawing functions (shared by the single charts and the small multiples)
# --------------------------------------------------------------------------------------------


@dataclass
class PChartDrawing:
    """What was drawn, kept for tests and tooltips: the scatter, the limit curves, the chart."""

    chart: spc.PChart
    points: pg.ScatterPlotItem
    ucl: list[pg.PlotDataItem]  # one curve per phase
    lcl: list[pg.PlotDataItem]
    centre: list[pg.PlotDataItem]
    goal: pg.InfiniteLine | None
    annotations: list[pg.InfiniteLine]
    phase_lines: list[pg.InfiniteLine]


def _steps(chart: spc.PChart, attr: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-week values as flat steps one week wide: one curve per phase and per run of
    consecutive weeks (a week without audits leaves a gap; NaN breaks would be simpler, but
    the SVG export cannot write them)."""
    curves = []
    for start, end in chart.phases or [(0, len(chart.points))]:
        xs: list[float] = []
        ys: list[float] = []
        for point in chart.points[start:end]:
            x = week_x(point.label)
            if xs and attr != "cl" and x - xs[-1] > 0.75:  # a week or more without audits
                curves.append((np.array(xs, dtype=float), np.array(ys, dtype=float)))
                xs, ys = [], []
            value = getattr(point, attr) * 100.0
            xs += [x - 0.5, x + 0.5]
            ys += [value, value]
        if xs:
            curves.append((np.array(xs, dtype=float), np.array(ys, dtype=float)))
    return curves


def draw_p_chart(
    plot: pg.PlotItem,
    chart: spc.PChart,
    *,
    style: ChartStyle = DARK,
    title: str = "",
    goal_pct: float | None = None,
    annotations: Sequence[Any] = (),
    legend: bool = True,
    compact: bool = False,
) -> PChartDrawing:
    """Draw a p-chart (values in %, limits per week, a centre line per phase) on ``plot``."""
    _prepare(plot, style, title, "" if compact else "% meeting criteria")
    if legend:
        _legend(plot, style)
    points = chart.points
    xs = np.array([week_x(p.label) for p in points], dtype=float)
    ys = np.array([p.p * 100.0 for p in points], dtype=float)

    curves: dict[str, list[pg.PlotDataItem]] = {"ucl": [], "lcl": [], "cl": []}
    for attr, colour, width, name in (
        ("ucl", style.limits, 1.2, "Limits (3σ)"),
        ("lcl", style.limits, 1.2, None),
        ("cl", style.centre, 1.8, "Centre line"),
    ):
        for k, (sx, sy) in enumerate(_steps(chart, attr)):
            item = pg.PlotDataItem(sx, sy, pen=_pen(colour, width), name=name if k == 0 else None)
            plot.addItem(item)
            curves[attr].append(item)

    goal_line = None
    if goal_pct is not None:
        goal_line = pg.InfiniteLine(
            pos=goal_pct,
            angle=0,
            movable=False,
            pen=_pen(style.goal, 1.5, Qt.PenStyle.DashLine),
            label=f"Goal {goal_pct:g} %",
            labelOpts={"position": 0.02, "color": style.goal, "anchors": [(0, 1), (0, 1)]},
        )
        plot.addItem(goal_line)
        if plot.legend is not None:
            plot.legend.addItem(
                pg.PlotDataItem(pen=_pen(style.goal, 1.5, Qt.PenStyle.DashLine)), "Goal"
            )

    line = pg.PlotDataItem(xs, ys, pen=_pen(style.data, 1.5), name="Weekly %")
    plot.addItem(line)
    spots = []
    for point, x, y in zip(points, xs, ys, strict=True):
        colour = style.outside if point.outside else style.data
        note = (
            f"Week of {point.label:%a %d %b %Y}\n{point.x}/{point.n} = {y:.1f} %\n"
            f"CL {point.cl * 100:.1f} %, limits {point.lcl * 100:.1f}–{point.ucl * 100:.1f} %"
        )
        if point.outside:
            note += "\nOutside the control limits"
        if point.small_np:
            note += f"\nFew exams (n·p̄ < {chart.small_np_limit:g}): the limits are approximate"
        spots.append(
            {
                "pos": (x, y),
                "size": 11 if point.outside else (6 if compact else 8),
                "symbol": "o",
                "pen": _pen(colour, 1.6),
                "brush": pg.mkBrush(style.background if point.small_np else colour),
                "data": note,
            }
        )
    scatter = pg.ScatterPlotItem(hoverable=True, tip=lambda x, y, data: data)
    scatter.addPoints(spots)
    plot.addItem(scatter)
    if plot.legend is not None and any(p.outside for p in points):
        plot.legend.addItem(
            pg.ScatterPlotItem(symbol="o", size=10, brush=pg.mkBrush(style.outside), pen=None),
            "Outside limits",
        )
    if plot.legend is not None and any(p.small_np for p in points):
        plot.legend.addItem(
            pg.ScatterPlotItem(
                symbol="o", size=8, brush=pg.mkBrush(style.background), pen=_pen(style.data)
            ),
            f"Few exams (np &lt; {chart.small_np_limit:g})",  # legend labels are HTML
        )

    phase_lines = []
    for start, _end in (chart.phases or [])[1:]:
        x = week_x(points[start].label) - 0.5
        boundary = pg.InfiniteLine(
            pos=x,
            angle=90,
            movable=False,
            pen=_pen(style.phase, 2),
            label="New phase",
            labelOpts={"position": 0.05, "color": style.phase, "anchors": [(0, 1), (0, 1)]},
        )
        plot.addItem(boundary)
        phase_lines.append(boundary)
    if not compact:
        for start, end in chart.phases or []:
            if start < end:
                cl = points[start].cl * 100.0
                text = pg.TextItem(f"CL {cl:.1f} %", color=style.centre, anchor=(1, 1))
                text.setPos(week_x(points[end - 1].label) + 0.5, cl)
                plot.addItem(text)

    x_range = (float(xs.min()) - 0.7, float(xs.max()) + 0.7) if len(xs) else (0.0, 1.0)
    notes = _annotation_lines(plot, annotations, style, x_range) if not compact else []
    plot.getAxis("bottom").setTicks(_ticks([p.label for p in points], 6 if compact else 12))
    plot.setXRange(*x_range, padding=0)
    plot.setYRange(0, 108 if compact else Y_TOP, padding=0)
    plot.getAxis("left").setTicks([[(v, f"{v}") for v in range(0, 101, 20)], []])
    return PChartDrawing(
        chart, scatter, curves["ucl"], curves["lcl"], curves["cl"], goal_line, notes, phase_lines
    )


@dataclass
class RunChartDrawing:
    """What was drawn: the run chart from ``spc`` and the signal texts placed on the chart."""

    run: spc.RunChart
    points: pg.ScatterPlotItem
    median: pg.PlotDataItem
    signal_texts: list[str]


def draw_run_chart(
    plot: pg.PlotItem,
    labels: Sequence[date],
    values: Sequence[float],
    *,
    rules: str = "anhoej",
    style: ChartStyle = DARK,
    title: str = "",
    goal_pct: float | None = None,
    annotations: Sequence[Any] = (),
    legend: bool = True,
    compact: bool = False,
) -> RunChartDrawing:
    """Draw a run chart: values (%), the median, and every signal named on the chart."""
    _prepare(plot, style, title, "" if compact else "% meeting criteria")
    if legend:
        _legend(plot, style)
    run = spc.run_chart(list(values), rules=rules)
    xs = np.array([week_x(d) for d in labels], dtype=float)
    ys = np.array(values, dtype=float)
    x_range = (float(xs.min()) - 0.7, float(xs.max()) + 0.7) if len(xs) else (0.0, 1.0)
    median = pg.PlotDataItem(
        [x_range[0], x_range[1]],
        [run.median, run.median],
        pen=_pen(style.centre, 1.8),
        name=f"Median {run.median:.1f} %",
    )
    plot.addItem(median)
    if goal_pct is not None:
        goal = pg.InfiniteLine(
            pos=goal_pct,
            angle=0,
            pen=_pen(style.goal, 1.5, Qt.PenStyle.DashLine),
            label=f"Goal {goal_pct:g} %",
            labelOpts={"position": 0.02, "color": style.goal, "anchors": [(0, 1), (0, 1)]},
        )
        plot.addItem(goal)
    plot.addItem(pg.PlotDataItem(xs, ys, pen=_pen(style.data, 1.5), name="Weekly %"))

    local, whole = _group_signals(run.signals)
    flagged = {i for indices in local for i in indices}
    spots = [
        {
            "pos": (x, y),
            "size": 9 if i in flagged else (6 if compact else 8),
            "pen": _pen(style.signal if i in flagged else style.data, 1.5),
            "brush": pg.mkBrush(style.signal if i in flagged else style.data),
            "data": f"Week of {labels[i]:%a %d %b %Y}: {y:.1f} %",
        }
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    ]
    scatter = pg.ScatterPlotItem(hoverable=True, tip=lambda x, y, data: data)
    scatter.addPoints(spots)
    plot.addItem(scatter)
    if plot.legend is not None and flagged:
        plot.legend.addItem(
            pg.ScatterPlotItem(symbol="o", size=9, brush=pg.mkBrush(style.signal), pen=None),
            "Part of a signal",
        )

    texts: list[str] = []
    small = QFont()
    small.setPointSize(7 if compact else 9)
    for k, (indices, (name, tip)) in enumerate(local.items()):
        texts.append(name)
        idx = [i for i in indices if 0 <= i < len(xs)]
        x = float(np.mean(xs[idx]))
        y = min(float(np.max(ys[idx])) + 5 + 6 * (k % 2), 104)
        item = pg.TextItem(name, color=style.signal, anchor=(0.5, 1))
        item.setToolTip(tip)
        item.setFont(small)
        item.setPos(x, y)
        plot.addItem(item)
    if whole:  # whole-chart signals (too few crossings / runs): top right, no points flagged
        texts += [name for name, _tip in whole]
        item = pg.TextItem(
            "\n".join(name for name, _tip in whole), color=style.signal, anchor=(1, 0)
        )
        item.setToolTip("\n".join(tip for _name, tip in whole))
        item.setFont(small)
        item.setPos(x_range[1] - 0.1, (108 if compact else Y_TOP) - 0.5)
        plot.addItem(item)
    if not compact:
        plot.setTitle(
            f"{html.escape(title)}<br><span style='font-size:8pt'>"
            f"{html.escape(_run_summary(run, rules))}</span>",
            color=style.foreground,
            size="11pt",
        )
        _annotation_lines(plot, annotations, style, x_range)
    plot.getAxis("bottom").setTicks(_ticks(list(labels), 6 if compact else 12))
    plot.setXRange(*x_range, padding=0)
    plot.setYRange(0, 108 if compact else Y_TOP, padding=0)
    plot.getAxis("left").setTicks([[(v, f"{v}") for v in range(0, 101, 20)], []])
    return RunChartDrawing(run, scatter, median, texts)


LOCAL_RULES = ("longest_run", "shift", "trend")


def _group_signals(
    signals: Sequence[spc.Signal],
) -> tuple[dict[tuple[int, ...], tuple[str, str]], list[tuple[str, str]]]:
    """Signals as chart labels: local ones (shift, trend) by the points they cover, one label
    per stretch naming every rule set that found it ("Shift (Anhøj, IHI)"); whole-chart ones
    (crossings, number of runs) as a list."""
    local: dict[tuple[int, ...], tuple[str, list[str], list[str]]] = {}
    whole: list[tuple[str, str]] = []
    for signal in signals:
        kind = signal.text.split(":", 1)[0].strip() or signal.rule.replace("_", " ").capitalize()
        if signal.rule in LOCAL_RULES and signal.indices:
            key = tuple(signal.indices)
            name, sets, tips = local.get(key, (kind, [], []))
            if signal.rule_set not in sets:
                sets.append(signal.rule_set)
            tips.append(signal.text)
            local[key] = (name, sets, tips)
        else:
            whole.append((f"{kind} ({signal.rule_set})", signal.text))
    named = {
        k: (f"{name} ({', '.join(sets)})", "\n".join(tips))
        for k, (name, sets, tips) in local.items()
    }
    return named, whole


def _run_summary(run: spc.RunChart, rules: str) -> str:
    """One line saying which rules were tested and whether they signalled (no silent rules)."""
    parts = [f"{run.n_useful} useful points"]
    if rules in ("anhoej", "both") and run.n_useful:
        longest, crossings = spc.anhoej_limits(run.n_useful)
        parts.append(
            f"Anhøj: longest run {run.longest_run} (max {longest}), "
            f"crossings {run.crossings} (min {crossings})"
        )
    if rules in ("ihi", "both") and run.n_useful:
        low, high = spc.ihi_runs_limits(run.n_useful)
        parts.append(f"IHI: {run.runs} runs (expected {low}–{high})")
    parts.append("signals: " + (", ".join(s.rule for s in run.signals) or "none"))
    return " · ".join(parts)


# --------------------------------------------------------------------------------------------
# Widgets
# --------------------------------------------------------------------------------------------


def _settle(item: Any) -> None:
    """Apply pending layout requests now (Qt lays out graphics widgets lazily)."""
    for _ in range(3):
        QApplication.sendPostedEvents(None, 0)
        attr = getattr(item, "layout", None)
        layout = attr() if callable(attr) else attr
        if layout is not None:
            layout.activate()


class _ChartBase(QWidget):
    """A GraphicsLayoutWidget that can redraw itself in the screen style or the paper style."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.style_ = DARK
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(self.style_.background)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.setMinimumSize(320, 220)

    # subclasses redraw from their stored data
    def _redraw(self) -> None:
        raise NotImplementedError

    def _export_item(self) -> Any:
        return self.graphics.ci

    def set_theme(self, name: str, *, redraw: bool = True) -> None:
        """Follow the app theme ("dark" or "light")."""
        self.style_ = LIGHT if name == "light" else DARK
        self.graphics.setBackground(self.style_.background)
        if redraw:
            self._redraw()

    def _on_paper(self, width: int, action: Any, layout_width: int | None = None) -> Any:
        """Redraw dark-on-white at an export size, run ``action(item)``, then restore.

        The layout is resized directly (not the widget), so exporting works on a hidden widget
        and does not make the window on screen jump.
        """
        saved = self.style_
        item = self._export_item()
        old_rect = QRectF(item.geometry())
        height = int(width * 0.5) if self._single else int(width * 0.7)
        # Lay out at a screen-like size (so text keeps its proportion); the exporter scales up.
        scale = min(1.0, (layout_width or 1400) / width)
        self.style_ = LIGHT
        self.graphics.setBackground(LIGHT.background)
        self._redraw()
        item.setGeometry(QRectF(0, 0, width * scale, height * scale))
        _settle(item)
        try:
            return action(item)
        finally:
            self.style_ = saved
            self.graphics.setBackground(saved.background)
            self._redraw()
            item.setGeometry(old_rect)
            _settle(item)

    _single = True

    def to_image(self, width: int = 1600, layout_width: int | None = None) -> QImage | None:
        """The chart as a white-background image (for reports); ``layout_width`` is the size
        it is laid out at before scaling (smaller: larger text relative to the image)."""

        def grab(item: Any) -> QImage:
            exporter = pg.exporters.ImageExporter(item)
            exporter.parameters()["width"] = int(width)
            exporter.parameters()["background"] = pg.mkColor(LIGHT.background)
            return exporter.export(toBytes=True)

        try:
            image = self._on_paper(width, grab, layout_width)
        except Exception:  # pyqtgraph raises assorted errors on empty/zero-size scenes
            return None
        return image if isinstance(image, QImage) and not image.isNull() else None

    def png_bytes(self, width: int = 1600) -> bytes:
        """PNG-encoded white-background image, b"" when nothing could be drawn."""
        image = self.to_image(width)
        if image is None:
            return b""
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        return bytes(data.data())

    def export_png(self, path: str | Path, width: int = 1600) -> bool:
        """Save a PNG (white background, dark pens); False when it could not be written."""
        image = self.to_image(width)
        return bool(image is not None and image.save(str(path), "PNG"))

    def export_svg(self, path: str | Path) -> bool:
        """Save an SVG (white background, dark pens); False when it could not be written."""

        def write(item: Any) -> bool:
            # Qt's own SVG generator: pyqtgraph 0.14's SVGExporter cannot parse the closed
            # paths ("... Z") that Qt 6.11 writes and raises on every plot.
            rect = item.mapRectToScene(item.boundingRect())
            generator = QSvgGenerator()
            generator.setFileName(str(path))
            generator.setSize(rect.size().toSize())
            generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
            generator.setTitle("AuditDesk chart")
            painter = QPainter(generator)
            try:
                painter.fillRect(QRectF(0, 0, rect.width(), rect.height()), QColor("white"))
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                item.scene().render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
            finally:
                painter.end()
            return True

        try:
            self._on_paper(1200, write)
        except Exception:
            return False
        target = Path(path)
        return target.is_file() and b"<svg" in target.read_bytes()[:4096]


class PChartWidget(_ChartBase):
    """Weekly proportions with per-week limits, phases, the goal line and PDSA annotations."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot: pg.PlotItem = self.graphics.addPlot()
        self.drawing: PChartDrawing | None = None
        self._args: dict[str, Any] | None = None
        self._empty()

    def _empty(self) -> None:
        _prepare(self.plot, self.style_, "No complete audits in this period", "% meeting criteria")

    def set_chart(
        self,
        chart: spc.PChart,
        *,
        title: str = "",
        goal_pct: float | None = None,
        annotations: Sequence[Any] = (),
    ) -> None:
        """Show a p-chart already computed by ``spc.p_chart``."""
        self._args = {
            "chart": chart,
            "title": title,
            "goal_pct": goal_pct,
            "annotations": list(annotations),
        }
        self._redraw()

    def set_weeks(
        self,
        rows: Sequence[Any],
        *,
        title: str = "",
        goal_pct: float | None = None,
        annotations: Sequence[Any] = (),
        laney: bool = False,
    ) -> spc.PChart | None:
        """Compute (``spc.p_chart``; phases start at annotations marked as new phase) and show."""
        rows = measured_weeks(rows)
        if not rows:
            self.clear()
            return None
        chart = spc.p_chart(
            [r.rate.numerator for r in rows],
            [r.rate.denominator for r in rows],
            [r.week_start for r in rows],
            phase_starts=[a.date for a in annotations if getattr(a, "starts_phase", False)],
            laney=laney,
        )
        self.set_chart(chart, title=title, goal_pct=goal_pct, annotations=annotations)
        return chart

    def clear(self) -> None:
        """Nothing to show (no complete audits in the period)."""
        self._args = None
        self.drawing = None
        self._redraw()

    def _redraw(self) -> None:
        if self._args is None or not self._args["chart"].points:
            self.drawing = None
            self._empty()
            return
        self.drawing = draw_p_chart(self.plot, style=self.style_, **self._args)

    def point_count(self) -> int:
        """Points drawn (one per week with audits)."""
        return 0 if self.drawing is None else len(self.drawing.points.points())

    def plotted_limits(self) -> list[tuple[float, float, float]]:
        """(lcl, cl, ucl) per point as fractions, read back from the drawn curves."""
        if self.drawing is None:
            return []

        def values(items: list[pg.PlotDataItem]) -> list[float]:
            out: list[float] = []
            for item in items:
                _x, y = item.getData()
                out += [float(v) / 100.0 for v in y[::2]]
            return out

        d = self.drawing
        return list(zip(values(d.lcl), values(d.centre), values(d.ucl), strict=True))

    def phase_count(self) -> int:
        """How many phases (baselines) the chart shows."""
        if self.drawing is None:
            return 0
        return max(1, len(self.drawing.chart.phases))


class RunChartWidget(_ChartBase):
    """Weekly values with the median and the run-chart signals of the chosen rule set."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot: pg.PlotItem = self.graphics.addPlot()
        self.drawing: RunChartDrawing | None = None
        self._args: dict[str, Any] | None = None
        self.rules = "anhoej"
        _prepare(self.plot, self.style_, "No complete audits in this period", "% meeting criteria")

    def set_values(
        self,
        labels: Sequence[date],
        values: Sequence[float],
        *,
        rules: str = "anhoej",
        title: str = "",
        goal_pct: float | None = None,
        annotations: Sequence[Any] = (),
    ) -> spc.RunChart | None:
        """Show ``values`` (in %) against week start ``labels``; rules "anhoej" | "ihi" | "both"."""
        self.rules = rules
        self._args = {
            "labels": list(labels),
            "values": [float(v) for v in values],
            "title": title,
            "goal_pct": goal_pct,
            "annotations": list(annotations),
        }
        self._redraw()
        return None if self.drawing is None else self.drawing.run

    def set_weeks(self, rows: Sequence[Any], **kwargs: Any) -> spc.RunChart | None:
        """Weekly rows (``measures.WeekRow``) as a run chart of their rates in %."""
        used = [r for r in rows if r.rate.rate is not None]
        return self.set_values(
            [r.week_start for r in used], [r.rate.rate * 100.0 for r in used], **kwargs
        )

    def set_rules(self, rules: str) -> None:
        """Switch the rule set (Anhøj, IHI or both) and redraw."""
        self.rules = rules
        self._redraw()

    def _redraw(self) -> None:
        if self._args is None or not self._args["values"]:
            self.drawing = None
            _prepare(self.plot, self.style_, "No complete audits in this period", "")
            return
        self.drawing = draw_run_chart(self.plot, rules=self.rules, style=self.style_, **self._args)

    def point_count(self) -> int:
        """Points drawn."""
        return 0 if self.drawing is None else len(self.drawing.points.points())

    def signal_names(self) -> list[str]:
        """The signal texts written on the chart, e.g. "Shift (Anhøj)"."""
        return [] if self.drawing is None else list(self.drawing.signal_texts)


class SmallMultiples(_ChartBase):
    """One small p-chart (or run chart) per technologist, in a grid, on shared 0–100 % axes."""

    _single = False

    def __init__(self, parent: QWidget | None = None, columns: int = 3) -> None:
        super().__init__(parent)
        self.columns = columns
        self.plots: dict[str, pg.PlotItem] = {}
        self._groups: dict[str, list[Any]] = {}
        self._kind = "p"
        self._goal: float | None = None
        self._rules = "anhoej"
        self.setMinimumSize(480, 320)

    def set_groups(
        self,
        groups: dict[str, Sequence[Any]],
        *,
        kind: str = "p",
        goal_pct: float | None = None,
        rules: str = "anhoej",
    ) -> None:
        """``groups``: name -> weekly rows (``measures.WeekRow``); kind "p" or "run"."""
        self._groups = {name: list(rows) for name, rows in groups.items() if rows}
        self._kind = kind
        self._goal = goal_pct
        self._rules = rules
        self._redraw()

    def _redraw(self) -> None:
        self.graphics.clear()
        self.plots = {}
        if not self._groups:
            label = self.graphics.addLabel("No technologist has complete audits in this period")
            label.setText(
                "No technologist has complete audits in this period", color=self.style_.foreground
            )
            return
        self.graphics.addLabel(
            "Per technologist — % of exams meeting criteria by week",
            colspan=self.columns,
            color=self.style_.foreground,
            size="11pt",
        )
        self.graphics.nextRow()
        for i, (name, rows) in enumerate(sorted(self._groups.items())):
            if i and i % self.columns == 0:
                self.graphics.nextRow()
            plot = self.graphics.addPlot()
            if self._kind == "run":
                used = [r for r in rows if r.rate.rate is not None]
                draw_run_chart(
                    plot,
                    [r.week_start for r in used],
                    [r.rate.rate * 100.0 for r in used],
                    rules=self._rules,
                    style=self.style_,
                    title=name,
                    goal_pct=self._goal,
                    legend=False,
                    compact=True,
                )
            else:
                rows = measured_weeks(rows)
                chart = spc.p_chart(
                    [r.rate.numerator for r in rows],
                    [r.rate.denominator for r in rows],
                    [r.week_start for r in rows],
                )
                draw_p_chart(
                    plot,
                    chart,
                    style=self.style_,
                    title=name,
                    goal_pct=self._goal,
                    legend=False,
                    compact=True,
                )
            self.plots[name] = plot

    def names(self) -> list[str]:
        """Technologists shown, in grid order."""
        return list(self.plots)
