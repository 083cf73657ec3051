"""The dashboard's p-chart with its special causes and partial weeks marked.

``charts.PChartWidget`` draws the weekly proportions and limits; this widget adds, on top, what
:func:`auditdesk.qi.weekly_chart.weekly_chart` found (the same function the weekly exports use, so
the chart and the CSV name the same weeks):

* every week a special-cause rule flags gets a hollow marker, one shape per rule (circle: outside
  the limits, square: 8 in a row, triangle: 6 rising or falling, diamond: 2 of 3 beyond 2σ),
  named in the legend and, on hover, with the sentence saying what the rule found;
* a week still in progress carries the label "partial" above its point.

Kept apart from ``charts.py`` so the drawing code of the plain charts stays as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyqtgraph as pg

from auditdesk.qi import spc
from auditdesk.qi.spc_rules import ALL_RULES, RULE_NAMES
from auditdesk.qi.week_range import PARTIAL
from auditdesk.qi.weekly_chart import WeeklyChart, weekly_chart
from auditdesk.ui.qi.chart_drawing import ChartStyle, week_x
from auditdesk.ui.qi.charts import PChartWidget

__all__ = ["MeasureChartWidget", "SpecialCauseMarks", "draw_special_causes"]

#: Marker shape and size per rule: nested hollow shapes stay readable when rules coincide.
RULE_SYMBOLS = {
    "outside": ("o", 17),
    "shift": ("s", 20),
    "trend": ("t", 24),
    "two-of-three": ("d", 27),
}
#: Partial-week label height above the point, in % points.
PARTIAL_OFFSET = 4.0


@dataclass
class SpecialCauseMarks:
    """What was drawn: one scatter per rule that fired, and the "partial" labels."""

    scatters: dict[str, pg.ScatterPlotItem] = field(default_factory=dict)
    partial_labels: list[pg.TextItem] = field(default_factory=list)
    marked: dict[dt.date, tuple[str, ...]] = field(default_factory=dict)
    partial_weeks: list[dt.date] = field(default_factory=list)


def draw_special_causes(
    plot: pg.PlotItem, measure: WeeklyChart, style: ChartStyle
) -> SpecialCauseMarks:
    """Mark the flagged and the partial weeks of ``measure`` on a plot ``draw_p_chart`` drew."""
    marks = SpecialCauseMarks()
    points = measure.chart.points
    texts: dict[tuple[str, int], list[str]] = {}
    for cause in measure.causes:
        for i in cause.indices:
            texts.setdefault((cause.rule, i), []).append(cause.text)
    for rule in RULE_NAMES:
        flagged = [i for i, keys in enumerate(measure.point_rules) if rule in keys]
        if not flagged:
            continue
        symbol, size = RULE_SYMBOLS[rule]
        colour = style.outside if rule == "outside" else style.signal
        scatter = pg.ScatterPlotItem(
            name=RULE_NAMES[rule],
            symbol=symbol,
            size=size,
            pen=pg.mkPen(colour, width=2),
            brush=None,
            hoverable=True,
            tip=lambda x, y, data: data,
        )
        scatter.addPoints(
            [
                {
                    "pos": (week_x(points[i].label), points[i].p * 100.0),
                    "data": f"Week of {points[i].label:%a %d %b %Y}\n"
                    + "\n".join(texts.get((rule, i), [RULE_NAMES[rule]])),
                }
                for i in flagged
            ]
        )
        plot.addItem(scatter)
        marks.scatters[rule] = scatter
    for point, keys, partial in zip(points, measure.point_rules, measure.partial, strict=True):
        if keys:
            marks.marked[point.label] = keys
        if partial:
            label = pg.TextItem(PARTIAL, color=style.annotation, anchor=(0.5, 1))
            label.setPos(week_x(point.label), point.p * 100.0 + PARTIAL_OFFSET)
            label.setToolTip(
                f"Week of {point.label:%d %b %Y} is still in progress: its number will change"
            )
            plot.addItem(label)
            marks.partial_labels.append(label)
            marks.partial_weeks.append(point.label)
    return marks


class MeasureChartWidget(PChartWidget):
    """A :class:`PChartWidget` that also marks special causes and partial weeks."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.measure: WeeklyChart | None = None
        self.marks: SpecialCauseMarks | None = None

    def set_weeks(
        self,
        rows: Sequence[Any],
        *,
        title: str = "",
        goal_pct: float | None = None,
        annotations: Sequence[Any] = (),
        laney: bool = False,
        rules: frozenset[str] | set[str] = ALL_RULES,
        small_np: float = spc.SMALL_NP,
        today: dt.date | None = None,
    ) -> spc.PChart | None:
        """Weekly rows (``measures.WeekRow``) as a p-chart with the site's switched-on rules,
        its small-n setting and the partial weeks as of ``today`` (default: the computer's)."""
        if not any(r.rate.denominator > 0 for r in rows):
            self.clear()
            return None
        self.measure = weekly_chart(
            rows,
            rules=rules,
            small_np=small_np,
            phase_starts=[a.date for a in annotations if getattr(a, "starts_phase", False)],
            today=today,
            laney=laney,
        )
        self.set_chart(self.measure.chart, title=title, goal_pct=goal_pct, annotations=annotations)
        return self.measure.chart

    def clear(self) -> None:
        self.measure = None
        super().clear()

    def _redraw(self) -> None:
        super()._redraw()
        self.marks = None
        measure = getattr(self, "measure", None)
        if self.drawing is not None and measure is not None and self.drawing.chart is measure.chart:
            self.marks = draw_special_causes(self.plot, measure, self.style_)

    def marked_weeks(self) -> dict[dt.date, tuple[str, ...]]:
        """Week start -> rule keys marked on the chart."""
        return {} if self.marks is None else dict(self.marks.marked)

    def partial_weeks(self) -> list[dt.date]:
        """Weeks labelled "partial" on the chart."""
        return [] if self.marks is None else list(self.marks.partial_weeks)
