"""Statistical process control for the weekly measure: p-chart and run-chart rules.

Why it is shaped like this:

* **Same numbers as qicharts2.** The ACR collaborative and most QI teams read their charts in
  qicharts2 (R); the p-chart here uses its formulas (domain notes §5.2) so a site can check
  AuditDesk against the tool its coach uses: centre line Σx/Σn per phase (not the mean of the
  weekly proportions), limits recomputed for each week's n, clamped to [0, 1], Laney p′ with
  σ_z = mean(|Δz|)/1.128 within the phase.
* **Both run-chart rule sets, named.** Anhøj (qicharts2's default, longest run and crossings)
  and IHI (Perla et al.: shift, trend, number of runs). Each signal says which rule set and
  which rule produced it, because the two disagree and a chart must say what it tested.
* **Exact arithmetic, no SciPy.** Critical values come from binomial and runs distributions
  computed with integers (``math.comb``), so they are reproducible on any machine.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "PChart",
    "PPoint",
    "RunChart",
    "Signal",
    "anhoej_limits",
    "ihi_runs_limits",
    "p_chart",
    "qbinom",
    "run_chart",
    "runs_distribution",
]

#: Default small-n warning: the limits are flagged approximate when n·p̄ or n·(1 − p̄) is below
#: this (a site setting; domain notes §5.2 quote n·p > 6 from the IQCC documentation).
SMALL_NP = 5.0
#: d2 for a moving range of two points (Laney's σ_z = mean |Δz| / d2).
D2 = 1.128
#: IHI shift and trend lengths (Perla, Provost and Murray 2011).
IHI_SHIFT = 6
IHI_TREND = 5
#: Tail probabilities of the IHI runs rule. The upper tail at 5 % and the lower at 2.5 %
#: reproduce the Perla et al. table (e.g. 16 useful points: 5 to 12 runs, domain notes §5.3).
IHI_RUNS_ALPHA_LOW = 0.025
IHI_RUNS_ALPHA_HIGH = 0.05

RULES = ("anhoej", "ihi", "both")


# --- p-chart ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PPoint:
    """One week on the p-chart; ``small_np`` warns that the normal approximation is poor.

    ``sigma`` is the week's (Laney-corrected) σ before the limits were clamped to [0, 1], so
    zone rules (2σ) can be tested; it is 0 when p̄ of the phase is 0 or 1.
    """

    index: int
    label: dt.date
    x: int
    n: int
    p: float
    cl: float
    ucl: float
    lcl: float
    phase: int
    outside: bool
    small_np: bool
    sigma: float = 0.0


@dataclass(frozen=True)
class PChart:
    points: list[PPoint]
    phases: list[tuple[int, int]]  # [start, end) indices into points
    #: the n·p̄ below which a point is flagged ``small_np`` (0: never flagged)
    small_np_limit: float = SMALL_NP


def _phase_bounds(labels: Sequence[dt.date], phase_starts: Sequence[dt.date]) -> list[int]:
    """Start indices of the phases: a phase starts at the first label on or after its date."""
    starts = {0}
    for day in phase_starts:
        for i, label in enumerate(labels):
            if label >= day:
                starts.add(i)
                break
    return sorted(starts)


def p_chart(
    x: list[int],
    n: list[int],
    labels: list[dt.date],
    *,
    phase_starts: Sequence[dt.date] = (),
    laney: bool = False,
    small_np: float = SMALL_NP,
) -> PChart:
    """A p-chart as qicharts2 draws it, one centre line and set of limits per phase.

    ``small_np``: a week is flagged ``small_np`` when n·p̄ or n·(1 − p̄) is below it (the
    site's small-n setting; 0 switches the flag off).

    ``labels`` are in time order (week starts). Every ``n_i`` must be positive: a week with no
    audited exam has no proportion and is left out of the chart, not plotted as zero. A phase of
    one point has no moving range, so Laney's correction is 1 there (plain p-chart limits).
    """
    if not len(x) == len(n) == len(labels):
        raise ValueError("x, n and labels must have the same length")
    for xi, ni in zip(x, n, strict=True):
        if ni <= 0 or xi < 0 or xi > ni:
            raise ValueError(f"need 0 <= x <= n and n > 0, got x={xi}, n={ni}")
    if not (math.isfinite(small_np) and small_np >= 0):
        raise ValueError(f"small_np must be a number >= 0, got {small_np}")
    limit = Fraction(small_np)
    if any(b < a for a, b in itertools.pairwise(labels)):
        raise ValueError("labels must be in time order")
    bounds = _phase_bounds(labels, phase_starts) if labels else []
    phases = [
        (start, bounds[k + 1] if k + 1 < len(bounds) else len(labels))
        for k, start in enumerate(bounds)
    ]
    points: list[PPoint] = []
    for phase_no, (a, b) in enumerate(phases):
        cl = sum(x[a:b]) / sum(n[a:b])
        cl_exact = Fraction(sum(x[a:b]), sum(n[a:b]))  # for the small-n test, without rounding
        sigmas = [math.sqrt(cl * (1 - cl) / n[i]) for i in range(a, b)]
        props = [x[i] / n[i] for i in range(a, b)]
        factor = 1.0
        if laney and b - a > 1 and all(s > 0 for s in sigmas):
            z = [(p - cl) / s for p, s in zip(props, sigmas, strict=True)]
            moving = [abs(z2 - z1) for z1, z2 in itertools.pairwise(z)]
            factor = (sum(moving) / len(moving)) / D2
        for k, i in enumerate(range(a, b)):
            s = sigmas[k] * factor
            ucl = min(1.0, cl + 3 * s)
            lcl = max(0.0, cl - 3 * s)
            p = props[k]
            points.append(
                PPoint(
                    index=i,
                    label=labels[i],
                    x=x[i],
                    n=n[i],
                    p=p,
                    cl=cl,
                    ucl=ucl,
                    lcl=lcl,
                    phase=phase_no,
                    outside=p > ucl or p < lcl,
                    small_np=min(n[i] * cl_exact, n[i] * (1 - cl_exact)) < limit,
                    sigma=s,
                )
            )
    return PChart(points=points, phases=phases, small_np_limit=small_np)


# --- run charts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """A non-random pattern; ``text`` is one sentence to print on the chart."""

    rule_set: str  # "Anhøj" | "IHI"
    rule: str  # longest_run, crossings | shift, trend, too_few_runs, too_many_runs
    indices: tuple[int, ...]
    text: str


@dataclass(frozen=True)
class RunChart:
    values: list[float]
    median: float
    n_useful: int
    longest_run: int
    crossings: int
    runs: int
    signals: list[Signal]
    # Useful points above the median: ihi_runs_limits(n_useful, n_above=...) gives the limits
    # the IHI runs rule applied to this chart.
    n_above: int = 0


def qbinom(p: float, size: int, prob: float = 0.5) -> int:
    """R's ``qbinom``: the smallest k with P(X <= k) >= p, X ~ Binomial(size, prob), exactly."""
    if size < 0:
        raise ValueError("size must be >= 0")
    target = Fraction(p)
    q = Fraction(prob)
    total = Fraction(0)
    for k in range(size + 1):
        total += comb_prob(size, k, q)
        if total >= target:
            return k
    return size


def comb_prob(size: int, k: int, q: Fraction) -> Fraction:
    """Exact binomial probability P(X = k)."""
    return math.comb(size, k) * q**k * (1 - q) ** (size - k)


def anhoej_limits(n_useful: int) -> tuple[int, int]:
    """(longest run allowed, fewest crossings allowed) for ``n_useful`` points off the median.

    A signal is a run *longer* than the first value or *fewer* crossings than the second
    (qicharts2: round(log2 n) + 3 and qbinom(0.05, n − 1, 0.5)).
    """
    if n_useful < 1:
        raise ValueError("need at least one useful point")
    return round(math.log2(n_useful)) + 3, qbinom(0.05, n_useful - 1, 0.5)


def runs_distribution(n_above: int, n_below: int) -> dict[int, Fraction]:
    """Exact distribution of the number of runs for a random order (Swed and Eisenhart 1943)."""
    if n_above == 0 or n_below == 0:
        return {1: Fraction(1)} if n_above + n_below else {}
    total = math.comb(n_above + n_below, n_above)
    dist: dict[int, Fraction] = {}
    for r in range(2, n_above + n_below + 1):
        k = r // 2
        if r % 2 == 0:
            ways = 2 * math.comb(n_above - 1, k - 1) * math.comb(n_below - 1, k - 1)
        else:
            ways = math.comb(n_above - 1, k - 1) * math.comb(n_below - 1, k) + math.comb(
                n_above - 1, k
            ) * math.comb(n_below - 1, k - 1)
        if ways:
            dist[r] = Fraction(ways, total)
    return dist


def ihi_runs_limits(n_useful: int, *, n_above: int | None = None) -> tuple[int, int]:
    """(fewest runs, most runs) that are not a signal for ``n_useful`` points off the median.

    Computed from the exact runs distribution for ``n_above`` points above the median (half of
    the points when not given, as in published tables): fewer runs than the first value have
    P <= 2.5 %, more runs than the second P <= 5 %, which reproduces the Perla et al. table
    (16 points: 5 to 12 runs).
    """
    if n_useful < 1:
        raise ValueError("need at least one useful point")
    above = n_useful // 2 if n_above is None else n_above
    if not 0 <= above <= n_useful:
        raise ValueError("n_above must be between 0 and n_useful")
    dist = runs_distribution(above, n_useful - above)
    low_alpha = Fraction(IHI_RUNS_ALPHA_LOW)
    high_alpha = Fraction(IHI_RUNS_ALPHA_HIGH)
    values = sorted(dist)
    low = values[0]
    cum = Fraction(0)
    for r in values:
        cum += dist[r]
        if cum > low_alpha:
            low = r
            break
    high = values[-1]
    cum = Fraction(0)
    for r in reversed(values):
        cum += dist[r]
        if cum > high_alpha:
            high = r
            break
    return low, high


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    m = len(ordered)
    if m == 0:
        return math.nan
    mid = m // 2
    return float(ordered[mid]) if m % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _side_runs(values: Sequence[float], median: float) -> list[tuple[int, list[int]]]:
    """Runs of useful points as (side, indices); points on the median are skipped."""
    runs: list[tuple[int, list[int]]] = []
    for i, v in enumerate(values):
        side = (v > median) - (v < median)
        if side == 0:
            continue
        if runs and runs[-1][0] == side:
            runs[-1][1].append(i)
        else:
            runs.append((side, [i]))
    return runs


def _times(k: int) -> str:
    return {1: "once", 2: "twice"}.get(k, f"{k} times")


def _where(side: int) -> str:
    return "above" if side > 0 else "below"


def _trends(values: Sequence[float]) -> list[tuple[int, list[int], int]]:
    """Monotone stretches as (direction, indices, counted points); ties count once."""
    groups: list[tuple[float, list[int]]] = []  # consecutive equal values merged
    for i, v in enumerate(values):
        if groups and groups[-1][0] == v:
            groups[-1][1].append(i)
        else:
            groups.append((v, [i]))
    found: list[tuple[int, list[int], int]] = []
    start = 0
    while start < len(groups) - 1:
        direction = 1 if groups[start + 1][0] > groups[start][0] else -1
        end = start + 1
        while end + 1 < len(groups) and (groups[end + 1][0] - groups[end][0]) * direction > 0:
            end += 1
        indices = [i for g in groups[start : end + 1] for i in g[1]]
        found.append((direction, indices, end - start + 1))
        start = end  # the turning point starts the next stretch
    return found


def run_chart(values: list[float], *, rules: str = "anhoej") -> RunChart:
    """Median line and the signals of the chosen rule set(s): "anhoej", "ihi" or "both".

    Points exactly on the median are not useful: they neither break nor extend a run and are
    not counted in ``n_useful``. ``runs`` = ``crossings`` + 1 counts runs of useful points.
    """
    if rules not in RULES:
        raise ValueError(f"rules must be one of {', '.join(RULES)}")
    values = [float(v) for v in values]
    median = _median(values)
    runs = _side_runs(values, median) if values else []
    n_useful = sum(len(r[1]) for r in runs)
    longest = max((len(r[1]) for r in runs), default=0)
    crossings = max(len(runs) - 1, 0)
    signals: list[Signal] = []
    if n_useful and rules in ("anhoej", "both"):
        max_run, min_cross = anhoej_limits(n_useful)
        for side, idx in runs:
            if len(idx) > max_run:
                signals.append(
                    Signal(
                        "Anhøj",
                        "longest_run",
                        tuple(idx),
                        f"Shift: {len(idx)} points {_where(side)} the median, longer than the "
                        f"{max_run} expected (Anhøj)",
                    )
                )
        if crossings < min_cross:
            signals.append(
                Signal(
                    "Anhøj",
                    "crossings",
                    tuple(i for r in runs for i in r[1]),
                    f"Too few crossings: the line crosses the median {_times(crossings)}, fewer "
                    f"than the {min_cross} expected (Anhøj)",
                )
            )
    if rules in ("ihi", "both"):
        for side, idx in runs:
            if len(idx) >= IHI_SHIFT:
                signals.append(
                    Signal(
                        "IHI",
                        "shift",
                        tuple(idx),
                        f"Shift: {len(idx)} points {_where(side)} the median (IHI)",
                    )
                )
        for direction, idx, counted in _trends(values):
            if counted >= IHI_TREND:
                word = "increasing" if direction > 0 else "decreasing"
                signals.append(
                    Signal("IHI", "trend", tuple(idx), f"Trend: {counted} points {word} (IHI)")
                )
        if n_useful:
            n_above = sum(len(idx) for side, idx in runs if side > 0)
            low, high = ihi_runs_limits(n_useful, n_above=n_above)
            useful = tuple(i for r in runs for i in r[1])
            if len(runs) < low:
                signals.append(
                    Signal(
                        "IHI",
                        "too_few_runs",
                        useful,
                        f"Too few runs: {len(runs)} runs, fewer than the {low} expected (IHI)",
                    )
                )
            elif len(runs) > high:
                signals.append(
                    Signal(
                        "IHI",
                        "too_many_runs",
                        useful,
                        f"Too many runs: {len(runs)} runs, more than the {high} expected (IHI)",
                    )
                )
    return RunChart(
        values=values,
        median=median,
        n_useful=n_useful,
        longest_run=longest,
        crossings=crossings,
        runs=len(runs),
        signals=signals,
        n_above=sum(len(idx) for side, idx in runs if side > 0),
    )
