"""The weekly measure as a p-chart with its special causes and partial weeks, for every consumer.

Why one function: the dashboard chart, its PNG/SVG export and the weekly CSV/XLSX/JSON must name
the same special causes for the same weeks. :func:`weekly_chart` is the only place that turns
weekly rows, the site's switched-on rules, its small-n setting, the phase starts and "today"
into flags; the chart draws them and the exports write them.

A week with no counted exam (denominator 0) has no proportion: it is left off the chart and gets
no rule (a run is not broken by it). A week still in progress (Saturday after ``today``) stays on
the chart and in the rules, flagged partial, because its exams are real; its number will change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auditdesk.qi import spc
from auditdesk.qi.measures import measured_weeks
from auditdesk.qi.spc_rules import ALL_RULES, SpecialCause, point_rules, special_causes
from auditdesk.qi.week_range import is_partial

__all__ = ["WeeklyChart", "weekly_chart"]


@dataclass(frozen=True)
class WeeklyChart:
    """A p-chart of the weeks with exams, the causes found and, per point, rules and partial."""

    chart: spc.PChart
    causes: list[SpecialCause]
    rules: frozenset[str]
    point_rules: list[tuple[str, ...]]
    partial: list[bool]
    today: dt.date

    def rules_by_week(self) -> dict[dt.date, tuple[str, ...]]:
        """Week start -> keys of the rules that flag that week (weeks on the chart only)."""
        return {p.label: keys for p, keys in zip(self.chart.points, self.point_rules, strict=True)}


def weekly_chart(
    weeks: Sequence[Any],
    *,
    rules: frozenset[str] | set[str] = ALL_RULES,
    small_np: float = spc.SMALL_NP,
    phase_starts: Sequence[dt.date] = (),
    today: dt.date | None = None,
    laney: bool = False,
) -> WeeklyChart:
    """The p-chart of ``weeks`` (``measures.WeekRow``, oldest first) with its special causes.

    ``today`` decides which weeks are partial (default: the computer's date).
    """
    today = today or dt.date.today()
    used = measured_weeks(weeks)
    chart = spc.p_chart(
        [w.rate.numerator for w in used],
        [w.rate.denominator for w in used],
        [w.week_start for w in used],
        phase_starts=phase_starts,
        laney=laney,
        small_np=small_np,
    )
    causes = special_causes(chart, rules)
    return WeeklyChart(
        chart=chart,
        causes=causes,
        rules=frozenset(rules),
        point_rules=point_rules(chart, causes),
        partial=[is_partial(p.label, today) for p in chart.points],
        today=today,
    )
