"""QI chart drawing: styles, axes and the functions that draw a p-chart or a run chart on a plot.

Pure drawing onto a pyqtgraph ``PlotItem`` from ``auditdesk.qi.spc`` results, apart from the
widgets in ``charts.py`` (themes, exports, small multiples) so the same functions serve the
screen, the PNG/SVG exports and the PDF reports, and other charts (agreement, measure chart)
can reuse the axes and pens without the widget code.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # registers pg.exporters
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont

from auditdesk.qi import spc

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
