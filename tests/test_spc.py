"""p-chart (qicharts2 formulas) and run-chart rules (Anhøj, IHI) against hand-computed values."""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import pytest

from auditdesk.qi.spc import (
    anhoej_limits,
    ihi_runs_limits,
    p_chart,
    qbinom,
    run_chart,
    runs_distribution,
)

WEEK0 = dt.date(2025, 1, 5)


def weeks(k: int) -> list[dt.date]:
    return [WEEK0 + dt.timedelta(days=7 * i) for i in range(k)]


# --- p-chart ---------------------------------------------------------------------------------


def test_p_chart_limits_vary_with_n_and_are_clamped() -> None:
    # Hand computed: p̄ = 115/140 = 0.8214286; σ_i = sqrt(p̄(1 − p̄)/n_i).
    chart = p_chart([45, 40, 30], [50, 50, 40], weeks(3))
    assert chart.phases == [(0, 3)]
    p1, p2, p3 = chart.points
    assert p1.cl == p2.cl == p3.cl == pytest.approx(0.8214286, abs=1e-7)
    assert p1.ucl == pytest.approx(0.9839179, abs=1e-6)  # 0.8214286 + 3 · 0.0541631
    assert p1.lcl == pytest.approx(0.6589392, abs=1e-6)
    assert p3.ucl == pytest.approx(1.0)  # 0.8214286 + 3 · 0.0605566 = 1.0031 -> clamped
    assert p3.lcl == pytest.approx(0.6397587, abs=1e-6)
    assert (p1.p, p2.p, p3.p) == pytest.approx((0.9, 0.8, 0.75))
    assert not any(p.outside for p in chart.points)
    # n(1 − p̄) = 50 · 0.179 = 8.9 and 40 · 0.179 = 7.1: the approximation is fine.
    assert not any(p.small_np for p in chart.points)


def test_p_chart_small_samples_and_lower_clamp() -> None:
    # p̄ = 34/40 = 0.85, σ = sqrt(0.85 · 0.15 / 10) = 0.1129159; UCL 1.1887 -> 1.
    chart = p_chart([8, 9, 7, 10], [10, 10, 10, 10], weeks(4))
    for point in chart.points:
        assert point.ucl == 1.0
        assert point.lcl == pytest.approx(0.5112522, abs=1e-6)
        assert point.small_np  # n(1 − p̄) = 1.5 < 5
    assert not chart.points[3].outside  # p = 1 on a clamped UCL of 1 is not outside
    low = p_chart([1, 0, 2], [20, 20, 20], weeks(3))  # p̄ = 0.05: LCL 0.05 − 0.146 -> 0
    assert all(p.lcl == 0.0 for p in low.points)
    assert low.points[0].ucl == pytest.approx(0.05 + 3 * math.sqrt(0.05 * 0.95 / 20))


def test_p_chart_centre_is_pooled_not_the_mean_of_proportions() -> None:
    chart = p_chart([1, 90], [2, 100], weeks(2))
    assert chart.points[0].cl == pytest.approx(91 / 102)  # mean of proportions would be 0.7


def test_p_chart_point_outside_limits() -> None:
    x = [80, 82, 79, 81, 80, 40]
    n = [100] * 6
    chart = p_chart(x, n, weeks(6))
    cl = sum(x) / 600
    sigma = math.sqrt(cl * (1 - cl) / 100)
    assert chart.points[5].lcl == pytest.approx(cl - 3 * sigma)
    assert [p.outside for p in chart.points] == [False] * 5 + [True]


def test_p_chart_phases_start_at_the_first_week_on_or_after_the_date() -> None:
    labels = weeks(6)
    x = [5, 6, 5, 9, 10, 9]
    n = [10, 10, 10, 10, 12, 10]
    # A Wednesday inside week 2: the new phase starts with week 3.
    chart = p_chart(x, n, labels, phase_starts=[labels[2] + dt.timedelta(days=3)])
    assert chart.phases == [(0, 3), (3, 6)]
    assert [p.phase for p in chart.points] == [0, 0, 0, 1, 1, 1]
    assert chart.points[0].cl == pytest.approx(16 / 30)
    assert chart.points[3].cl == pytest.approx(28 / 32)
    sigma = math.sqrt((28 / 32) * (4 / 32) / 12)
    assert chart.points[4].lcl == pytest.approx(28 / 32 - 3 * sigma)
    # A date on a week start, before the first week or after the last changes nothing extra.
    again = p_chart(
        x, n, labels, phase_starts=[labels[3], WEEK0 - dt.timedelta(days=30), dt.date(2030, 1, 1)]
    )
    assert again.phases == [(0, 3), (3, 6)]


def test_laney_p_prime_uses_the_moving_range_of_z_within_each_phase() -> None:
    x = [10, 30, 50, 20]
    n = [100] * 4
    chart = p_chart(x, n, weeks(4), laney=True)
    # Hand computed: p̄ = 0.275, σ = 0.0446514, z = (−3.9193, 0.5599, 5.0391, −1.6797),
    # mean |Δz| = 5.2257, σ_z = 5.2257 / 1.128 = 4.6327, σ′ = 0.206856.
    point = chart.points[0]
    assert point.cl == pytest.approx(0.275)
    assert point.ucl == pytest.approx(0.275 + 3 * 0.206856, abs=1e-5)
    assert point.lcl == 0.0
    plain = p_chart(x, n, weeks(4))
    assert plain.points[2].outside and not chart.points[2].outside
    # Per phase: the second phase's σ_z comes from its own points only.
    x2 = [*x, 60, 62, 58]
    n2 = n + [100] * 3
    phased = p_chart(x2, n2, weeks(7), phase_starts=[weeks(7)[4]], laney=True)
    assert phased.points[0].ucl == pytest.approx(point.ucl)
    cl = 180 / 300
    sigma = math.sqrt(cl * (1 - cl) / 100)
    z = [(p - cl) / sigma for p in (0.60, 0.62, 0.58)]
    sigma_z = (abs(z[1] - z[0]) + abs(z[2] - z[1])) / 2 / 1.128
    assert phased.points[5].ucl == pytest.approx(cl + 3 * sigma * sigma_z)


def test_laney_with_a_single_point_phase_falls_back_to_plain_limits() -> None:
    chart = p_chart([8, 9, 3], [10, 10, 10], weeks(3), phase_starts=[weeks(3)[2]], laney=True)
    last = chart.points[2]
    assert last.cl == pytest.approx(0.3)
    assert last.ucl == pytest.approx(0.3 + 3 * math.sqrt(0.3 * 0.7 / 10))


def test_p_chart_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        p_chart([1], [0], weeks(1))
    with pytest.raises(ValueError):
        p_chart([3], [2], weeks(1))
    with pytest.raises(ValueError):
        p_chart([1, 1], [2], weeks(2))
    assert p_chart([], [], []).points == []


# --- Anhøj -----------------------------------------------------------------------------------

# domain.md §5.3: n_useful -> (max longest run, min crossings).
ANHOEJ_TABLE = {
    10: (6, 2),
    12: (7, 3),
    14: (7, 4),
    16: (7, 4),
    18: (7, 5),
    20: (7, 6),
    22: (7, 7),
    23: (8, 7),
    24: (8, 8),
    26: (8, 8),
    28: (8, 9),
    30: (8, 10),
    36: (8, 13),
    40: (8, 14),
    46: (9, 17),
    50: (9, 19),
    60: (9, 23),
}


@pytest.mark.parametrize(("n_useful", "expected"), sorted(ANHOEJ_TABLE.items()))
def test_anhoej_critical_values_match_the_table(n_useful: int, expected: tuple[int, int]) -> None:
    assert anhoej_limits(n_useful) == expected


def test_qbinom_is_the_smallest_quantile() -> None:
    assert qbinom(0.05, 9, 0.5) == 2  # P(X <= 1) = 10/512 < 0.05 <= P(X <= 2) = 46/512
    assert qbinom(0.5, 10, 0.5) == 5
    assert qbinom(0.05, 0, 0.5) == 0
    assert qbinom(0.05, 20, 0.1) == 0  # P(X = 0) = 0.9^20 = 0.1216


def test_anhoej_long_run_and_few_crossings() -> None:
    low = [0.6, 0.7, 0.65, 0.62, 0.68, 0.7, 0.66, 0.64, 0.69, 0.63]
    high = [0.9, 0.92, 0.88, 0.95, 0.91, 0.93, 0.9, 0.94, 0.89, 0.96]
    chart = run_chart(low + high)
    assert chart.median == pytest.approx(0.79)
    assert (chart.n_useful, chart.longest_run, chart.crossings) == (20, 10, 1)
    assert [s.rule for s in chart.signals] == ["longest_run", "longest_run", "crossings"]
    assert all(s.rule_set == "Anhøj" for s in chart.signals)
    assert chart.signals[0].indices == tuple(range(10))
    assert chart.signals[0].text == (
        "Shift: 10 points below the median, longer than the 7 expected (Anhøj)"
    )
    assert chart.signals[2].text == (
        "Too few crossings: the line crosses the median once, fewer than the 6 expected (Anhøj)"
    )


def test_random_looking_data_gives_no_anhoej_signal() -> None:
    values = [0.8, 0.7, 0.9, 0.75, 0.85, 0.72, 0.88, 0.71, 0.83, 0.78, 0.86, 0.74]
    chart = run_chart(values)
    assert chart.signals == []
    assert chart.runs == chart.crossings + 1


def test_points_on_the_median_neither_break_nor_extend_runs() -> None:
    # Median 5: the 5s are not useful; the run of low values continues across them.
    values = [1, 2, 5, 3, 5, 4, 9, 8, 9, 7, 5]
    chart = run_chart(values, rules="both")
    assert chart.median == 5
    assert chart.n_useful == 8 and chart.n_above == 4
    assert chart.longest_run == 4
    assert chart.crossings == 1 and chart.runs == 2
    lo = [1, 5, 2, 5, 3, 4, 2, 1, 9, 9, 9, 9, 9, 9, 9]
    # Median 5; the six low points run across two 5s and make a 6-point IHI shift.
    shift = run_chart([*lo, 5], rules="ihi")
    assert shift.median == 5
    below = next(s for s in shift.signals if s.rule == "shift" and "below" in s.text)
    assert below.indices == (0, 2, 4, 5, 6, 7)
    assert below.text == "Shift: 6 points below the median (IHI)"


# --- IHI -------------------------------------------------------------------------------------


def test_ihi_shift_needs_six_points() -> None:
    values = [3, 2, 3, 2, 3, 2, 3, 2, 9, 6, 9, 1, 9, 9, 8, 9, 9, 8, 4, 1]
    chart = run_chart(values, rules="ihi")
    assert chart.median == 3.5
    shifts = [s for s in chart.signals if s.rule == "shift"]
    assert [s.indices for s in shifts] == [tuple(range(8)), tuple(range(12, 19))]
    assert shifts[0].text == "Shift: 8 points below the median (IHI)"
    assert shifts[1].text == "Shift: 7 points above the median (IHI)"
    five = run_chart([1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 1, 9], rules="ihi")
    assert not [s for s in five.signals if s.rule == "shift"]


def test_ihi_trend_counts_equal_neighbours_once() -> None:
    chart = run_chart([5, 1, 2, 2, 3, 4, 5, 3], rules="ihi")
    (trend,) = [s for s in chart.signals if s.rule == "trend"]
    assert trend.indices == (1, 2, 3, 4, 5, 6)
    assert trend.text == "Trend: 5 points increasing (IHI)"
    four = run_chart([1, 2, 2, 3, 4, 1], rules="ihi")
    assert not [s for s in four.signals if s.rule == "trend"]
    down = run_chart([9, 8, 7, 6, 5, 6], rules="ihi")
    (trend,) = [s for s in down.signals if s.rule == "trend"]
    assert trend.indices == (0, 1, 2, 3, 4) and "decreasing" in trend.text


def test_runs_distribution_is_exact() -> None:
    dist = runs_distribution(8, 8)
    assert sum(dist.values()) == 1
    assert dist[2] == Fraction(2, math.comb(16, 8))
    assert dist[9] == Fraction(2 * math.comb(7, 4) * math.comb(7, 3), math.comb(16, 8))
    assert runs_distribution(3, 0) == {1: 1}


def test_ihi_runs_limits() -> None:
    # domain.md §5.3 / Perla et al.: 16 useful points -> 5 to 12 runs.
    assert ihi_runs_limits(16) == (5, 12)
    # Swed-Eisenhart (1943) lower critical values at 2.5 %, equal halves: runs <= value are
    # too few (n1 = n2 = 5: 2, 6: 3, 7: 3, 8: 4, 10: 6, 15: 10).
    for half, critical in {5: 2, 6: 3, 7: 3, 8: 4, 10: 6, 15: 10}.items():
        assert ihi_runs_limits(2 * half)[0] == critical + 1
    # The upper limit keeps P(more runs) <= 5 %.
    for n_useful in range(10, 31):
        low, high = ihi_runs_limits(n_useful)
        dist = runs_distribution(n_useful // 2, n_useful - n_useful // 2)
        assert sum(p for r, p in dist.items() if r > high) <= Fraction(5, 100)
        assert sum(p for r, p in dist.items() if r >= high) > Fraction(5, 100)
        assert sum(p for r, p in dist.items() if r < low) <= Fraction(25, 1000)
        assert sum(p for r, p in dist.items() if r <= low) > Fraction(25, 1000)
    # An uneven split changes the distribution.
    assert ihi_runs_limits(16, n_above=4) != ihi_runs_limits(16)


def test_ihi_too_many_and_too_few_runs() -> None:
    alternating = [1, 9] * 10
    chart = run_chart(alternating, rules="both")
    assert chart.runs == 20
    rules = {(s.rule_set, s.rule) for s in chart.signals}
    assert rules == {("IHI", "too_many_runs")}
    text = next(s.text for s in chart.signals)
    assert text == "Too many runs: 20 runs, more than the 15 expected (IHI)"
    two = run_chart([1] * 10 + [9] * 10, rules="both")
    rules = {(s.rule_set, s.rule) for s in two.signals}
    assert ("IHI", "too_few_runs") in rules
    assert ("Anhøj", "longest_run") in rules and ("Anhøj", "crossings") in rules
    assert ("IHI", "shift") in rules


def test_run_chart_rule_sets_are_separate() -> None:
    values = [1] * 10 + [9] * 10
    assert {s.rule_set for s in run_chart(values).signals} == {"Anhøj"}
    assert {s.rule_set for s in run_chart(values, rules="ihi").signals} == {"IHI"}
    with pytest.raises(ValueError):
        run_chart(values, rules="western-electric")


def test_run_chart_degenerate_inputs() -> None:
    empty = run_chart([], rules="both")
    assert (empty.n_useful, empty.runs, empty.signals) == (0, 0, [])
    flat = run_chart([0.8] * 6, rules="both")
    assert flat.median == 0.8 and flat.n_useful == 0 and flat.signals == []
