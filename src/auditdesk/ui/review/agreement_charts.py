"""Agreement dashboard charts: κ matrix colours, answer prevalence bars and the κ trend.

Drawing code, separate from the window that lays out the tabs and fills the tables, so the
window stays about data flow and the charts about pyqtgraph.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QWidget,
)

from auditdesk.review import agreement
from auditdesk.ui.qi.chart_drawing import _pen, _prepare, week_x
from auditdesk.ui.qi.charts import _ChartBase
from auditdesk.ui.review import agreement_report as fmt

#: matrix cell colours by κ band (light backgrounds with dark text: readable in both themes)
KAPPA_COLOURS = (
    (0.8, "#9fd8a4"),
    (0.6, "#c7e6a3"),
    (0.4, "#eee49a"),
    (0.2, "#f5c98f"),
    (0.0, "#f3a99b"),
    (-1.01, "#e58a8a"),
)


def kappa_colour(value: float | None) -> str | None:
    """Background colour of a matrix cell for a κ (None when there is no value)."""
    if value is None or value != value:
        return None
    for threshold, colour in KAPPA_COLOURS:
        if value >= threshold:
            return colour
    return KAPPA_COLOURS[-1][1]


# --------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------


class PrevalenceChart(_ChartBase):
    """How often each answer was given for one target (bars, % of all ratings)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot: pg.PlotItem = self.graphics.addPlot()
        self._data: tuple[str, dict[Any, float]] | None = None
        self.bars: pg.BarGraphItem | None = None
        self.setMinimumSize(260, 200)
        self._redraw()

    def set_prevalence(self, title: str, prevalence: dict[Any, float]) -> None:
        self._data = (title, dict(prevalence))
        self._redraw()

    def clear(self) -> None:
        self._data = None
        self._redraw()

    def values(self) -> dict[str, float]:
        """Shown answers and their share in % (for tests)."""
        if self._data is None:
            return {}
        return {fmt.answer_text(k): v * 100.0 for k, v in self._data[1].items()}

    def _redraw(self) -> None:
        self.bars = None
        if self._data is None or not self._data[1]:
            _prepare(self.plot, self.style_, "Select an item to see its answers", "% of answers")
            return
        _title, prevalence = self._data
        _prepare(self.plot, self.style_, "Answers given", "% of answers")
        keys = sorted(prevalence, key=lambda k: (-prevalence[k], str(k)))
        xs = np.arange(len(keys), dtype=float)
        heights = np.array([prevalence[k] * 100.0 for k in keys], dtype=float)
        self.bars = pg.BarGraphItem(
            x=xs,
            height=heights,
            width=0.6,
            brush=pg.mkBrush(self.style_.data),
            pen=_pen(self.style_.foreground, 1),
        )
        self.plot.addItem(self.bars)
        for x, h in zip(xs, heights, strict=True):
            text = pg.TextItem(f"{h:.0f} %", color=self.style_.foreground, anchor=(0.5, 1))
            text.setPos(float(x), float(h) + 1)
            self.plot.addItem(text)
        self.plot.getAxis("bottom").setTicks(
            [[(float(x), fmt.answer_text(k)) for x, k in zip(xs, keys, strict=True)], []]
        )
        self.plot.setXRange(-0.7, len(keys) - 0.3, padding=0)
        self.plot.setYRange(0, 112, padding=0)


class AgreementTrendChart(_ChartBase):
    """An agreement coefficient per period with its 95 % interval as error bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot: pg.PlotItem = self.graphics.addPlot()
        self._args: tuple[str, list[tuple[dt.date, agreement.Estimate]]] | None = None
        self.points: pg.ScatterPlotItem | None = None
        self._redraw()

    def set_trend(self, title: str, points: Sequence[tuple[dt.date, agreement.Estimate]]) -> None:
        self._args = (title, list(points))
        self._redraw()

    def point_count(self) -> int:
        return 0 if self.points is None else len(self.points.points())

    def _redraw(self) -> None:
        self.points = None
        used = (
            [] if self._args is None else [(d, e) for d, e in self._args[1] if e.value is not None]
        )
        if not used:
            _prepare(self.plot, self.style_, "Not enough double reads for a trend", "κ")
            return
        title = self._args[0] if self._args else ""
        _prepare(self.plot, self.style_, title, "κ")
        xs = np.array([week_x(d) for d, _e in used], dtype=float)
        ys = np.array([float(e.value) for _d, e in used], dtype=float)
        lows = np.array([e.ci_low if e.ci_low is not None else e.value for _d, e in used], float)
        highs = np.array([e.ci_high if e.ci_high is not None else e.value for _d, e in used], float)
        bars = pg.ErrorBarItem(
            x=xs, y=ys, top=highs - ys, bottom=ys - lows, beam=0.4, pen=_pen(self.style_.limits)
        )
        self.plot.addItem(bars)
        self.plot.addItem(pg.PlotDataItem(xs, ys, pen=_pen(self.style_.data, 1.8)))
        for level in (0.4, 0.6, 0.8):
            line = pg.InfiniteLine(
                pos=level, angle=0, pen=_pen(self.style_.phase, 1, Qt.PenStyle.DotLine)
            )
            self.plot.addItem(line)
        spots = [
            {
                "pos": (x, y),
                "size": 9,
                "pen": _pen(self.style_.data),
                "brush": pg.mkBrush(self.style_.data),
                "data": (
                    f"From {d:%Y-%m-%d}: κ {fmt.num(e.value)} (95 % CI {fmt.ci(e)}), "
                    f"{e.n_subjects} exams"
                ),
            }
            for (d, e), x, y in zip(used, xs, ys, strict=True)
        ]
        self.points = pg.ScatterPlotItem(hoverable=True, tip=lambda x, y, data: data)
        self.points.addPoints(spots)
        self.plot.addItem(self.points)
        self.plot.getAxis("bottom").setTicks([[(week_x(d), f"{d:%Y-%m-%d}") for d, _e in used], []])
        span = max(float(xs.max() - xs.min()), 8.0)  # one point: still a readable axis
        middle = float(xs.min() + xs.max()) / 2
        self.plot.setXRange(middle - span / 2 - 1, middle + span / 2 + 1, padding=0)
        low = min(0.0, float(np.nanmin(lows)) - 0.05)
        self.plot.setYRange(low, 1.05, padding=0)


__all__ = ["AgreementTrendChart", "PrevalenceChart", "kappa_colour"]
