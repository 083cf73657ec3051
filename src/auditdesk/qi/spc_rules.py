"""Special-cause rules for the p-chart: which weeks show more than common-cause variation.

The four tests are the control-chart (Shewhart) rules domain notes §5.3 quotes from the CPHQ
material (Perla et al. / NAHQ): **1 point outside the limits; 8 consecutive points on one side of
the centre line; 6 consecutive points increasing or decreasing; 2 of 3 points in the outer third
near a limit.** Each can be switched off per site (``site.SiteSettings.spc_rules``), because a
coach may read only some of them and every extra test adds false alarms.

How the rules read the chart, and why:

* **Per phase.** Each test uses the centre line and σ of the point's own phase and never looks
  across a phase boundary: a re-baseline starts the counting again, as it starts new limits.
* **Consecutive plotted weeks.** A week without audited exams is not on the chart, so it neither
  breaks nor extends a run (qicharts2 drops missing values the same way).
* **Points exactly on the centre line** neither count nor break a run of 8 (the convention domain
  notes §5.3 state for the run-chart shift rule and that qicharts2 uses). The comparison is exact
  (integer cross-multiplication), so 8/10 against p̄ = 40/50 is "on the line", not rounding dust.
* **"6 rising" means 6 points** (5 increases in a row), as the rule is worded ("6 consecutive
  increasing"); a repeated value is not a rise, so a tie ends the run (the rule asks for points
  that keep increasing).
* **"Near a limit" is beyond 2σ** (the outer third between the centre line and the 3σ limit, or
  past the limit), on the same side, in any window of up to 3 consecutive points of the phase,
  so 2 such points in a row always fire. The flagged weeks are the points beyond 2σ.
* **Clamped or missing limits.** Limits are clamped to [0, 1]; a point cannot lie beyond a
  clamped limit (it would have to be below 0 % or above 100 %), so "outside" and "2 of 3" cannot
  fire on that side. A phase whose p̄ is 0 or 1 has σ = 0 and no limits at all: every point is on
  the centre line and no rule fires there.
* **Every point of the pattern is flagged** (all 8+ points of a run, all 6+ points of a trend),
  so the chart shows where a shift began, not only where it was detected.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditdesk.qi.spc import PChart, PPoint

__all__ = [
    "ALL_RULES",
    "RULE_NAMES",
    "SHIFT_LENGTH",
    "TREND_LENGTH",
    "SpecialCause",
    "format_rules",
    "parse_rules",
    "point_rules",
    "rule_text",
    "special_causes",
]

#: Points in a row on one side of the centre line (domain notes §5.3: 8).
SHIFT_LENGTH = 8
#: Points in a row increasing or decreasing (domain notes §5.3: 6 consecutive points).
TREND_LENGTH = 6
#: "2 of 3 near a limit": ZONE_COUNT of ZONE_WINDOW consecutive points beyond ZONE_SIGMA σ.
ZONE_COUNT = 2
ZONE_WINDOW = 3
ZONE_SIGMA = 2.0

#: Rule keys (as stored and typed on the command line) and their names in words, in the order
#: exports list them.
RULE_NAMES: dict[str, str] = {
    "outside": "Point outside the control limits",
    "shift": "8 in a row on one side of the centre line",
    "trend": "6 in a row rising or falling",
    "two-of-three": "2 of 3 beyond 2 sigma on one side",
}
ALL_RULES: frozenset[str] = frozenset(RULE_NAMES)


@dataclass(frozen=True)
class SpecialCause:
    """One pattern found: the rule key, the chart point indices it flags, one sentence."""

    rule: str
    indices: tuple[int, ...]
    text: str


def parse_rules(text: str) -> frozenset[str]:
    """Rule keys from "all", "none" or a comma-separated list; ValueError in one sentence."""
    words = [w.strip().lower().replace("_", "-") for w in (text or "").split(",") if w.strip()]
    if words == ["all"]:
        return ALL_RULES
    if words in ([], ["none"]):
        return frozenset()
    unknown = [w for w in words if w not in RULE_NAMES]
    if unknown:
        raise ValueError(
            f"Unknown special-cause rule {unknown[0]!r}; use all, none or a comma-separated "
            f"list of {', '.join(RULE_NAMES)}."
        )
    return frozenset(words)


def format_rules(rules: frozenset[str] | set[str]) -> str:
    """The stored form: rule keys in :data:`RULE_NAMES` order, comma-separated ("" for none)."""
    return ",".join(k for k in RULE_NAMES if k in rules)


def rule_text(keys: tuple[str, ...] | list[str]) -> str:
    """Rule names in words, "; "-separated, for an export cell ("" when none fired)."""
    return "; ".join(RULE_NAMES[k] for k in RULE_NAMES if k in keys)


def _cmp_frac(x1: int, n1: int, x2: int, n2: int) -> int:
    """Sign of x1/n1 − x2/n2, exactly."""
    d = x1 * n2 - x2 * n1
    return (d > 0) - (d < 0)


def _week(point: PPoint) -> str:
    return point.label.isoformat()


def _span(points: list[PPoint], idx: list[int]) -> str:
    first, last = points[idx[0]], points[idx[-1]]
    return f"weeks of {_week(first)} to {_week(last)}"


def _outside(chart: PChart, a: int, b: int) -> list[SpecialCause]:
    out = []
    for p in chart.points[a:b]:
        if p.outside:
            where = "above the upper" if p.p > p.ucl else "below the lower"
            out.append(
                SpecialCause(
                    "outside",
                    (p.index,),
                    f"{RULE_NAMES['outside']}: week of {_week(p)} is {where} limit",
                )
            )
    return out


def _shift(chart: PChart, a: int, b: int) -> list[SpecialCause]:
    pts = chart.points[a:b]
    total_x, total_n = sum(p.x for p in pts), sum(p.n for p in pts)
    runs: list[tuple[int, list[int]]] = []
    for p in pts:
        side = _cmp_frac(p.x, p.n, total_x, total_n)
        if side == 0:
            continue  # on the centre line: neither counts nor breaks the run
        if runs and runs[-1][0] == side:
            runs[-1][1].append(p.index)
        else:
            runs.append((side, [p.index]))
    return [
        SpecialCause(
            "shift",
            tuple(idx),
            f"{RULE_NAMES['shift']}: {len(idx)} points {'above' if side > 0 else 'below'} "
            f"({_span(chart.points, idx)})",
        )
        for side, idx in runs
        if len(idx) >= SHIFT_LENGTH
    ]


def _trend(chart: PChart, a: int, b: int) -> list[SpecialCause]:
    pts = chart.points[a:b]
    found: list[SpecialCause] = []
    start = 0
    while start < len(pts) - 1:
        direction = _cmp_frac(pts[start + 1].x, pts[start + 1].n, pts[start].x, pts[start].n)
        end = start + 1
        if direction != 0:
            while (
                end + 1 < len(pts)
                and _cmp_frac(pts[end + 1].x, pts[end + 1].n, pts[end].x, pts[end].n) == direction
            ):
                end += 1
            if end - start + 1 >= TREND_LENGTH:
                idx = [p.index for p in pts[start : end + 1]]
                word = "rising" if direction > 0 else "falling"
                found.append(
                    SpecialCause(
                        "trend",
                        tuple(idx),
                        f"{RULE_NAMES['trend']}: {len(idx)} points {word} "
                        f"({_span(chart.points, idx)})",
                    )
                )
        start = end  # the turning point (or the tie) starts the next stretch
    return found


def _zone_side(p: PPoint) -> int:
    """+1 beyond +2σ, −1 beyond −2σ, else 0 (σ = 0: no zones)."""
    if p.sigma <= 0:
        return 0
    if p.p > p.cl + ZONE_SIGMA * p.sigma:
        return 1
    if p.p < p.cl - ZONE_SIGMA * p.sigma:
        return -1
    return 0


def _two_of_three(chart: PChart, a: int, b: int) -> list[SpecialCause]:
    pts = chart.points[a:b]
    sides = [_zone_side(p) for p in pts]
    flagged: dict[int, set[int]] = {1: set(), -1: set()}
    for end in range(len(pts)):
        window = range(max(0, end - ZONE_WINDOW + 1), end + 1)
        for side in (1, -1):
            hits = [k for k in window if sides[k] == side]
            if len(hits) >= ZONE_COUNT:
                flagged[side].update(pts[k].index for k in hits)
    out = []
    for side in (1, -1):
        idx = sorted(flagged[side])
        # One cause per group of flagged points that are at most 2 apart (one pattern).
        groups: list[list[int]] = []
        for i in idx:
            if groups and i - groups[-1][-1] < ZONE_WINDOW:
                groups[-1].append(i)
            else:
                groups.append([i])
        for g in groups:
            where = "above" if side > 0 else "below"
            out.append(
                SpecialCause(
                    "two-of-three",
                    tuple(g),
                    f"{RULE_NAMES['two-of-three']}: {len(g)} points {where} "
                    f"({_span(chart.points, g)})",
                )
            )
    return out


_TESTS = {"outside": _outside, "shift": _shift, "trend": _trend, "two-of-three": _two_of_three}


def special_causes(
    chart: PChart, rules: frozenset[str] | set[str] = ALL_RULES
) -> list[SpecialCause]:
    """The patterns of the switched-on ``rules`` in ``chart``, phase by phase, in rule order."""
    unknown = set(rules) - ALL_RULES
    if unknown:
        raise ValueError(f"Unknown special-cause rule {sorted(unknown)[0]!r}.")
    phases = chart.phases or [(0, len(chart.points))]
    found: list[SpecialCause] = []
    for key in RULE_NAMES:
        if key in rules:
            for a, b in phases:
                found += _TESTS[key](chart, a, b)
    return found


def point_rules(chart: PChart, causes: list[SpecialCause]) -> list[tuple[str, ...]]:
    """For each chart point, the keys of the rules that flag it (in :data:`RULE_NAMES` order)."""
    per_point: list[set[str]] = [set() for _ in chart.points]
    for cause in causes:
        for i in cause.indices:
            per_point[i].add(cause.rule)
    return [tuple(k for k in RULE_NAMES if k in keys) for keys in per_point]
