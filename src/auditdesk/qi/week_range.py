"""Whole Sunday–Saturday weeks for exports, and weeks still in progress.

Why: the collaborative takes one row per reporting week (Sunday to Saturday, domain notes §1.2,
§5.1). An export for 4–10 March that kept only those days would send the week of 1 March with
Wednesday to Saturday only and the week of 8 March with Sunday to Tuesday only: two wrong rows
that look like real weeks. So a range that cuts a week is either **snapped** outwards to the
whole weeks it touches (the default; the caller is told what it snapped to) or **refused**
(the site setting or the ``--weeks refuse`` flag), never silently cut.

A week whose Saturday is after "today" is still in progress: its numbers will change, so every
export row and the chart flag it "partial". ``today`` is always a parameter so tests and
reproduced exports can fix it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from auditdesk.reading.weeks import week_start

__all__ = [
    "PARTIAL",
    "WEEK_POLICIES",
    "WeekRange",
    "WeekRangeError",
    "is_partial",
    "week_end",
    "whole_weeks",
]

#: What to do with a range that cuts a week: widen it to whole weeks, or refuse it.
WEEK_POLICIES = ("snap", "refuse")
#: The word every export row and the chart use for a week still in progress.
PARTIAL = "partial"


class WeekRangeError(ValueError):
    """The range cuts a reporting week and the policy is to refuse; one sentence for users."""


def week_end(day: dt.date) -> dt.date:
    """The Saturday ending the Sunday–Saturday week that contains ``day``."""
    return week_start(day) + dt.timedelta(days=6)


def is_partial(week: dt.date, today: dt.date) -> bool:
    """True when the week containing ``week`` ends (Saturday) after ``today``."""
    return week_end(week) > today


@dataclass(frozen=True)
class WeekRange:
    """The range used (``start``/``end``, whole weeks) and the one asked for."""

    start: dt.date | None
    end: dt.date | None
    asked_start: dt.date | None
    asked_end: dt.date | None

    @property
    def snapped(self) -> bool:
        """True when the range was widened to whole weeks."""
        return (self.start, self.end) != (self.asked_start, self.asked_end)

    def message(self) -> str:
        """One sentence: what was snapped to (or that the range already is whole weeks)."""
        if not self.snapped:
            return f"The period {_text(self.start, self.end)} is whole Sunday–Saturday weeks."
        return (
            f"Snapped to whole Sunday–Saturday weeks: {_text(self.start, self.end)} "
            f"(asked for {_text(self.asked_start, self.asked_end)})."
        )


def _text(start: dt.date | None, end: dt.date | None) -> str:
    first = start.isoformat() if start else "the first week"
    last = end.isoformat() if end else "the latest week"
    return f"{first} to {last}"


def whole_weeks(start: dt.date | None, end: dt.date | None, policy: str = "snap") -> WeekRange:
    """``start``/``end`` (inclusive; None is open) as whole Sunday–Saturday weeks.

    ``policy`` "snap" widens a cut week to the whole week (start back to its Sunday, end on to
    its Saturday); "refuse" raises :class:`WeekRangeError` naming the cut weeks instead.
    """
    if policy not in WEEK_POLICIES:
        raise ValueError(f"Unknown week policy {policy!r}; use {' or '.join(WEEK_POLICIES)}.")
    if start is not None and end is not None and start > end:
        raise WeekRangeError(f"The period starts on {start} after it ends on {end}.")
    new_start = None if start is None else week_start(start)
    new_end = None if end is None else week_end(end)
    found = WeekRange(new_start, new_end, start, end)
    if found.snapped and policy == "refuse":
        cuts = []
        if start is not None and new_start != start:
            cuts.append(f"starts on {start:%A} {start} inside the week of Sunday {new_start}")
        if end is not None and new_end != end:
            cuts.append(f"ends on {end:%A} {end} inside the week ending Saturday {new_end}")
        raise WeekRangeError(
            f"The period {' and '.join(cuts)}; give a Sunday as the first day and a Saturday "
            "as the last, or let the export snap to whole weeks."
        )
    return found
