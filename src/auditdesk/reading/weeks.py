"""Reporting weeks: Sunday to Saturday by the date the exam was performed.

Kept apart from the worklist so every step that groups by week (sampling, the weekly measure,
agreement, exports, the demo) imports this small module instead of the worklist, which itself
uses the weekly sample (no import circle).
"""

from __future__ import annotations

import datetime as dt

__all__ = ["week_label", "week_start"]


def week_start(d: dt.date) -> dt.date:
    """The Sunday on or before ``d`` (reporting weeks run Sunday to Saturday)."""
    if isinstance(d, dt.datetime):
        d = d.date()
    return d - dt.timedelta(days=(d.weekday() + 1) % 7)


def week_label(d: dt.date) -> str:
    """How a week is named to users, e.g. 'Week of Sun 2026-11-15'."""
    return f"Week of Sun {week_start(d).isoformat()}"
