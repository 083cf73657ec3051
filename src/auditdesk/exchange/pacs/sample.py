"""Draw the week's sample from a PACS query, so only the sampled exams are retrieved.

The same draw as Site → Draw a week's sample (``auditdesk.qi.sampling``): candidates in (date, UID)
order, ``n`` per technologist or ``n`` overall, a seeded ``random.Random`` so the seed
reproduces the draw. Differences, because nothing is retrieved yet: the technologist is the
study's first Operators' Name as the PACS returns it (none → one group), and whether an exam is
a complete 4-view screening exam is not known, so every listed study is a candidate.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

from auditdesk.exchange.pacs.nodes import PacsError
from auditdesk.exchange.pacs.query import StudyMatch
from auditdesk.qi.sampling import MODES, SEED_LIMIT, SamplePlan, _choose
from auditdesk.qi.site import normalise_operator


def draw_from_matches(
    matches: list[StudyMatch], *, n: int, mode: str = "per_technologist", seed: int | None = None
) -> tuple[int, list[StudyMatch]]:
    """Returns (seed used, the sampled studies in date order)."""
    if mode not in MODES:
        raise PacsError(f"Unknown sampling mode {mode!r}; use one of {', '.join(MODES)}.")
    if n < 1:
        raise PacsError(f"The number of exams must be at least 1, not {n}.")
    if seed is None:
        seed = secrets.randbelow(SEED_LIMIT)
    rows = sorted(
        (
            (i, m.date, m.study_uid, normalise_operator(m.operators[0]) if m.operators else None)
            for i, m in enumerate(matches)
        ),
        key=lambda r: (r[1] or dt.date.min, r[2]),
    )
    picked = _choose(random.Random(seed), rows, SamplePlan(week_start=None, mode=mode, n=n))  # type: ignore[arg-type]
    return seed, [matches[r[0]] for r in picked]


__all__ = ["draw_from_matches"]
