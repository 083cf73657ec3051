"""Krippendorff's alpha for interval data from per-unit sums (review.alpha_interval) is the
number the ``krippendorff`` package computes (the independent oracle), and its bootstrap interval
is the one the dense coincidence-matrix engine gives for the same seeded resamples. It also works
where the coincidence route cannot: thousands of distinct lengths (no N x V x V array)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from auditdesk.review import agreement_stats as st
from auditdesk.review.agreement_stats import krippendorff_alpha


def _ratings(seed: int, units: int, raters: int, gap: float) -> list[list[float | None]]:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(40.0, 160.0, units)
    rows = []
    for t in truth:
        row = [round(float(t + rng.normal(0, 6.0)), 1) for _ in range(raters)]
        rows.append([None if rng.random() < gap else v for v in row])
    return rows


@pytest.mark.parametrize(
    ("seed", "units", "raters", "gap"),
    [(1, 12, 2, 0.0), (2, 40, 3, 0.2), (3, 25, 4, 0.35), (4, 60, 2, 0.1)],
)
def test_value_equals_the_krippendorff_package(seed, units, raters, gap) -> None:
    rows = _ratings(seed, units, raters, gap)
    data = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)
    oracle = krippendorff.alpha(reliability_data=data.T, level_of_measurement="interval")
    mine = krippendorff_alpha(rows, level="interval", bootstrap=0)
    assert mine.value == pytest.approx(oracle, rel=1e-9, abs=1e-12)


def test_bootstrap_interval_equals_the_dense_engine() -> None:
    rows = _ratings(5, 30, 3, 0.15)
    est = krippendorff_alpha(rows, level="interval", bootstrap=500, seed=7)
    # The dense route of agreement_stats on the same seeded resamples, written out here.
    kept = [r for r in st._rows(rows) if sum(v is not None for v in r) >= 2]
    data, domain = st._coded(kept, "interval", None)
    units = st._unit_coincidences(data, domain)
    n = len(kept)
    rng = np.random.default_rng(7)
    boots = []
    for start in range(0, 500, 250):
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=min(250, 500 - start))
        stacked = np.einsum("bu,uvw->bvw", weights.astype(float), units)
        boots.append(st._alpha_from_coincidences(stacked, domain, "interval"))
    dense = np.concatenate(boots)
    dense = dense[np.isfinite(dense)]
    low, high = np.percentile(dense, [2.5, 97.5])
    assert est.n_subjects == n
    assert (est.ci_low, est.ci_high) == pytest.approx((max(-1.0, low), min(1.0, high)), rel=1e-9)
    assert est.se == pytest.approx(float(dense.std(ddof=1)), rel=1e-9)


def test_thousands_of_distinct_lengths() -> None:
    """2,000 double-read lengths: the coincidence route would need a 2,000 x 4,000 x 4,000 array
    (256 GB). Two raters 2 mm apart on lengths spread over 100 mm agree almost perfectly."""
    rng = np.random.default_rng(3)
    truth = rng.uniform(50.0, 150.0, 2000)
    rows = [[float(t), float(t) + rng.choice([-2.0, 2.0])] for t in truth]
    est = krippendorff_alpha(rows, level="interval", bootstrap=200, seed=1)
    # Observed mean squared difference 4 mm² against a variance of 100²/12 ≈ 833 mm² between
    # values: alpha ≈ 1 - 4 / (2 * 833) ≈ 0.9976.
    assert est.value == pytest.approx(1 - 4 / (2 * 100**2 / 12), abs=2e-3)
    assert est.ci_low is not None and est.ci_low <= est.value <= est.ci_high


def test_no_variation_is_undefined_not_a_crash() -> None:
    est = krippendorff_alpha([[5.0, 5.0], [5.0, 5.0]], level="interval", bootstrap=50)
    assert est.value is None or np.isnan(est.value) or est.ci_low is None


def test_shared_resamples_give_the_intervals_of_fresh_ones() -> None:
    """Criteria of one report share the seeded draws; the result is the same as drawing anew,
    and a large pooled set is drawn chunk by chunk (never kept) with the same stream."""
    nominal = [[str(a), str(b)] for a, b in np.random.default_rng(2).integers(0, 2, (80, 2))]
    st.release_bootstrap_weights()
    fresh = krippendorff_alpha(nominal, level="nominal", bootstrap=400, seed=3)
    shared = krippendorff_alpha(nominal, level="nominal", bootstrap=400, seed=3)
    assert st._shared_weights.cache_info().hits >= 1
    assert shared == fresh
    kept = tuple(st._bootstrap_weights(80, 400, 3))
    streamed = list(st._draw_weights(80, 400, 3))
    assert all(np.array_equal(a, b) for a, b in zip(kept, streamed, strict=True))
    st.release_bootstrap_weights()
    assert st._shared_weights.cache_info().currsize == 0
