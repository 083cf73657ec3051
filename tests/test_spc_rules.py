"""p-chart special-cause rules (domain notes §5.3: 1 point outside the limits; 8 consecutive on
one side of the centre line; 6 consecutive increasing/decreasing; 2 of 3 in the outer third near
a limit) on hand-built series, with the limits worked out by hand in the comments.

Most series use n = 100 exams every week and p̄ = 0.80, so (qicharts2 formulas, §5.2)
σ = √(0.8 · 0.2 / 100) = 0.04, limits 0.80 ± 0.12 = 0.68 … 0.92, and the 2σ band is
0.72 … 0.88. Weekly counts are chosen so that Σx / Σn is exactly 0.80.
"""

from __future__ import annotations

import datetime as dt

import pytest

from auditdesk.qi import spc
from auditdesk.qi.spc_rules import (
    ALL_RULES,
    RULE_NAMES,
    format_rules,
    parse_rules,
    point_rules,
    rule_text,
    special_causes,
)

FIRST = dt.date(2026, 1, 4)  # a Sunday


def _chart(x: list[int], n: int | list[int] = 100, phase_starts=(), small_np=spc.SMALL_NP):
    ns = n if isinstance(n, list) else [n] * len(x)
    labels = [FIRST + dt.timedelta(weeks=i) for i in range(len(x))]
    return spc.p_chart(x, ns, labels, phase_starts=phase_starts, small_np=small_np)


def _fired(x, rules=ALL_RULES, **kw) -> dict[str, set[int]]:
    """Rule key -> indices of the points it flags (only the rules that fired)."""
    chart = _chart(x, **kw)
    out: dict[str, set[int]] = {}
    for cause in special_causes(chart, rules):
        out.setdefault(cause.rule, set()).update(cause.indices)
    return out


def test_the_hand_computed_limits_hold() -> None:
    """The premise of the other tests: p̄ 0.8, limits 0.68 and 0.92 for n = 100."""
    chart = _chart([84] * 5 + [76] * 5)
    point = chart.points[0]
    assert point.cl == pytest.approx(0.80)
    assert point.sigma == pytest.approx(0.04)
    assert (point.lcl, point.ucl) == (pytest.approx(0.68), pytest.approx(0.92))


def test_a_stable_series_fires_nothing() -> None:
    # Σx = 960 over 12 weeks of 100: p̄ = 0.80. Every p is in 0.77 … 0.83, inside the 2σ band
    # (0.72 … 0.88); sides + − + − 0 + − 0 + − 0 (0 = on the line): no run longer than 1;
    # directions alternate: no two rises in a row.
    x = [80, 82, 78, 81, 79, 80, 83, 77, 80, 81, 79, 80]
    assert sum(x) == 960
    assert _fired(x) == {}


def test_outside_the_limits() -> None:
    # Σx = 800 over 10 weeks: p̄ = 0.80, limits 0.68 … 0.92. 0.93 is above, 0.67 below; 0.80
    # is on the line. 0.93 and 0.67 are beyond 2σ but on opposite sides: no "2 of 3".
    x = [80] * 8 + [93, 67]
    assert _fired(x) == {"outside": {8, 9}}
    # 0.92 and 0.68 sit exactly on the limits: not outside (the test is strict).
    assert _fired([80] * 8 + [90, 70]) == {}


def test_seven_in_a_row_does_not_fire_eight_does() -> None:
    # 0.84 is above p̄ = 0.80, 0.76 below; both inside the 2σ band, no rises (ties).
    assert _fired([84] * 7 + [76] * 7) == {}
    assert _fired([84] * 8 + [76] * 8) == {"shift": set(range(8)) | set(range(8, 16))}


def test_a_point_on_the_centre_line_neither_counts_nor_breaks_a_run() -> None:
    # Σx = 8·84 + 80 + 8·76 = 1360 over 17 weeks: p̄ = 0.80 exactly, so week 4 (80/100) is on
    # the line. Weeks 0-3 and 5-8 are 8 points above without a point below: a run of 8.
    x = [84] * 4 + [80] + [84] * 4 + [76] * 8
    assert sum(x) == 1360
    fired = _fired(x, rules={"shift"})
    assert fired == {"shift": {0, 1, 2, 3, 5, 6, 7, 8} | set(range(9, 17))}


def test_five_rising_does_not_fire_six_does() -> None:
    # Σx = 560 / 700 = 0.80. Weeks 1-5 rise 78, 79, 80, 81, 82 (5 points, 4 rises): quiet.
    five = [80, 78, 79, 80, 81, 82, 80]
    assert sum(five) == 560
    assert _fired(five) == {}
    # Σx = 640 / 800 = 0.80. Weeks 1-6 rise 77 … 83 (6 points, 5 rises): the trend fires on
    # those 6 points; every p is inside the 2σ band and no side has 8 in a row.
    six = [80, 77, 78, 79, 81, 82, 83, 80]
    assert sum(six) == 640
    assert _fired(six) == {"trend": {1, 2, 3, 4, 5, 6}}
    falling = [80, 83, 82, 81, 79, 78, 77, 80]
    assert _fired(falling) == {"trend": {1, 2, 3, 4, 5, 6}}


def test_a_repeated_value_ends_a_trend() -> None:
    # 77, 78, 79, 79, 81, 82, 83: six distinct rising values, but the repeated 79 is not a
    # rise, so the stretches are 77-79 (3 points) and 79-83 (4 points): quiet.
    x = [77, 78, 79, 79, 81, 82, 83, 81]
    assert sum(x) == 640
    assert _fired(x) == {}


def test_two_of_three_beyond_two_sigma_on_one_side() -> None:
    # Each series sums to 80 per week (p̄ = 0.80); only this rule is switched on, so the
    # balancing weeks (inside the 2σ band 0.72 … 0.88) may form other patterns harmlessly.
    # 0.89 is beyond the 2σ line 0.88 (inside the limit 0.92). Weeks 1 and 3 are two of the
    # three weeks 1-3: fires on those two.
    x = [80, 89, 80, 89, 77, 77, 77, 77, 77, 77]
    assert sum(x) == 800
    assert _fired(x, rules={"two-of-three"}) == {"two-of-three": {1, 3}}
    # Two beyond 2σ three weeks apart (weeks 1 and 4) are never in one window of 3: quiet.
    x = [80, 89, 80, 80, 89, 77, 77, 77, 77, 74]
    assert sum(x) == 800
    assert _fired(x, rules={"two-of-three"}) == {}
    # Beyond 2σ on opposite sides (0.89 above, 0.71 below): quiet.
    x = [80, 89, 71, 80, 80, 80]
    assert sum(x) == 480
    assert _fired(x, rules={"two-of-three"}) == {}
    # 0.87 and 0.73 are inside the 2σ band: quiet.
    x = [87, 87, 73, 73, 80, 80]
    assert sum(x) == 480
    assert _fired(x, rules={"two-of-three"}) == {}
    # A point beyond the limit counts as beyond 2σ (0.93 and 0.89 in weeks 1-2).
    x = [80, 93, 89, 77, 77, 77, 77, 77, 77, 76]
    assert sum(x) == 800
    assert _fired(x, rules={"two-of-three"}) == {"two-of-three": {1, 2}}


def test_switched_off_rules_do_not_fire() -> None:
    x = [84] * 8 + [76] * 8
    assert _fired(x, rules=ALL_RULES - {"shift"}) == {}
    assert _fired([80] * 8 + [93, 67], rules=frozenset()) == {}
    assert _fired([80, 77, 78, 79, 81, 82, 83, 80], rules={"outside", "shift"}) == {}


def test_rules_are_evaluated_per_phase() -> None:
    # One phase: Σx = 824 / 1000, p̄ = 0.824; weeks 1-8 (0.84) are 8 above: a run of 8.
    x = [76, 84, 84, 84, 84, 84, 84, 84, 84, 76]
    assert _fired(x, rules={"shift"}) == {"shift": set(range(1, 9))}
    # A new phase at week 5: each phase has p̄ = 412/500 = 0.824 and only 4 weeks above.
    split = (FIRST + dt.timedelta(weeks=5),)
    assert _fired(x, rules={"shift"}, phase_starts=split) == {}


def test_clamped_limits_cannot_be_crossed() -> None:
    # n = 10, x = 10, 10, 10, 6: p̄ = 36/40 = 0.9, σ = √(0.9·0.1/10) = 0.0949; UCL 1.185 is
    # clamped to 1, LCL = 0.9 − 0.285 = 0.615; 2σ lines 1.090 (unreachable) and 0.710.
    # 100 % weeks are not "outside" the clamped limit and not beyond 2σ; 0.6 is below the LCL.
    chart = _chart([10, 10, 10, 6], n=10)
    assert chart.points[0].ucl == 1.0
    assert chart.points[0].lcl == pytest.approx(0.6154, abs=1e-4)
    assert _fired([10, 10, 10, 6], n=10) == {"outside": {3}}


def test_a_phase_without_limits_fires_nothing() -> None:
    # Every exam met the criteria: p̄ = 1, σ = 0, no limits; every point is on the line.
    chart = _chart([10] * 12, n=10)
    assert all(p.sigma == 0 and p.ucl == p.lcl == 1.0 for p in chart.points)
    assert special_causes(chart) == []


def test_small_n_flag_follows_the_setting() -> None:
    # n = 10, p̄ = 0.8: n·p̄ = 8, n·(1 − p̄) = 2.
    x = [8, 8, 8]
    assert all(p.small_np for p in _chart(x, n=10).points)  # default 5: 2 < 5
    assert not any(p.small_np for p in _chart(x, n=10, small_np=2).points)  # 2 < 2 is false
    assert all(p.small_np for p in _chart(x, n=10, small_np=2.5).points)
    assert not any(p.small_np for p in _chart(x, n=10, small_np=0).points)  # off
    assert _chart(x, n=10, small_np=6).small_np_limit == 6
    with pytest.raises(ValueError, match="small_np"):
        _chart(x, n=10, small_np=-1)


def test_point_rules_and_words() -> None:
    chart = _chart([80] * 8 + [93, 67])
    per_point = point_rules(chart, special_causes(chart))
    assert per_point[8] == ("outside",) and per_point[0] == ()
    assert rule_text(("shift", "outside")) == (
        "Point outside the control limits; 8 in a row on one side of the centre line"
    )
    assert rule_text(()) == ""
    causes = special_causes(chart)
    assert [c.text for c in causes] == [
        "Point outside the control limits: week of 2026-03-01 is above the upper limit",
        "Point outside the control limits: week of 2026-03-08 is below the lower limit",
    ]


def test_parse_and_format_rules() -> None:
    assert parse_rules("all") == ALL_RULES
    assert parse_rules("none") == frozenset() == parse_rules("")
    assert parse_rules("Shift, two_of_three") == {"shift", "two-of-three"}
    assert format_rules({"two-of-three", "outside"}) == "outside,two-of-three"
    with pytest.raises(ValueError, match=r"Unknown special-cause rule 'bogus'.*outside, shift"):
        parse_rules("shift,bogus")
    assert set(RULE_NAMES) == {"outside", "shift", "trend", "two-of-three"}
