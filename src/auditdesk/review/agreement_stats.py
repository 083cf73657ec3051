"""Reviewer agreement statistics on a ratings matrix (subjects x raters; ``None`` = missing).

Percent agreement, Cohen's kappa (plain and weighted), Fleiss' kappa, Gwet's AC1/AC2,
Krippendorff's alpha and the ICC, each with an uncertainty, because a kappa from 15 double reads
is a wide interval, not a number (domain notes §6). No database, no Qt: the report layer
(:mod:`auditdesk.review.agreement`) feeds these functions and re-exports them.

- Cohen's kappa: large-sample variance of Fleiss, Cohen & Everitt (1969), the one statsmodels'
  ``cohens_kappa`` reports as ``var_kappa``; normal 95 % interval.
- Fleiss' kappa and Gwet's AC1/AC2: Gwet's (2008, 2014) linearisation variance as irrCAC
  computes it (missing ratings allowed; no finite-population correction); 95 % interval from
  Student's t with n - 1 degrees of freedom, like irrCAC. The Fleiss (1971) variance "under the
  null" is *not* used: it is only valid for testing kappa = 0.
- Krippendorff's alpha: the value from the ``krippendorff`` package (the reference
  implementation, missing data allowed), for interval data from per-unit sums that give the same
  number in linear memory (:mod:`auditdesk.review.alpha_interval`); 95 % percentile interval
  from a seeded bootstrap over subjects.
- ICC(2,1) and ICC(3,1): Shrout & Fleiss (1979) / McGraw & Wong (1996) with their F-based
  intervals; the F quantile is computed here (regularised incomplete beta) so SciPy is not a
  runtime dependency.

**The category set is part of the input.** Weighted kappa and AC2 use agreement weights on the
*rank* of each category in ``categories`` (linear 1 - |i-j|/(q-1), quadratic
1 - (i-j)²/(q-1)²; for equally spaced scores this equals weights on the values), and Gwet's
chance agreement divides by q(q-1): both change when a category of the scale was never used.
Pass the item's full scale (every option it defines, in scale order); without ``categories``
only the observed values are used, which is right only when every category occurs.
Unweighted kappa, Fleiss' kappa, percent agreement and Krippendorff's alpha do not depend on
unused categories. Landis & Koch labels are descriptions only, never pass/fail thresholds.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditdesk.review.alpha_interval import interval_alpha, interval_unit_sums

__all__ = [
    "LEVELS",
    "WEIGHTS",
    "Estimate",
    "cohen_kappa",
    "confusion",
    "f_cdf",
    "f_quantile",
    "fleiss_kappa",
    "gwet_ac",
    "icc",
    "krippendorff_alpha",
    "landis_koch",
    "percent_agreement",
    "prevalence",
    "ratings_from_counts",
    "t_quantile",
]

#: z for a two-sided 95 % interval.
Z95 = 1.959964
WEIGHTS = (None, "linear", "quadratic")
LEVELS = ("nominal", "ordinal", "interval", "ratio")


@dataclass(frozen=True)
class Estimate:
    """A coefficient with its standard error and 95 % interval; None where undefined."""

    value: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n_subjects: int
    note: str = ""


def _none(n: int, note: str) -> Estimate:
    return Estimate(None, None, None, None, n, note)


# --------------------------------------------------------------------------------------------
# distributions without SciPy: F and t quantiles for the ICC and t-based intervals
# --------------------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz, Numerical Recipes)."""
    tiny, eps = 1e-300, 3e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def f_cdf(x: float, df1: float, df2: float) -> float:
    """P(F <= x) for the F distribution with (possibly non-integer) degrees of freedom."""
    if x <= 0:
        return 0.0
    return _betainc(df1 / 2.0, df2 / 2.0, df1 * x / (df1 * x + df2))


def f_quantile(p: float, df1: float, df2: float) -> float:
    """The F quantile by bisection on :func:`f_cdf` (to ~1e-12 relative)."""
    if not 0.0 < p < 1.0 or df1 <= 0 or df2 <= 0:
        raise ValueError(f"need 0 < p < 1 and positive df, got p={p}, df=({df1}, {df2})")
    low, high = 0.0, 1.0
    while f_cdf(high, df1, df2) < p:
        low, high = high, high * 2.0
        if high > 1e12:
            return math.inf
    for _ in range(200):
        mid = (low + high) / 2.0
        if f_cdf(mid, df1, df2) < p:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * max(1.0, high):
            break
    return (low + high) / 2.0


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile (t² with df degrees of freedom is F(1, df))."""
    if p == 0.5:
        return 0.0
    if p > 0.5:
        return math.sqrt(f_quantile(2.0 * p - 1.0, 1.0, df))
    return -t_quantile(1.0 - p, df)


# --------------------------------------------------------------------------------------------
# ratings helpers
# --------------------------------------------------------------------------------------------


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _rows(ratings: Iterable[Sequence[Any]]) -> list[list[Any]]:
    return [[None if _missing(v) else v for v in row] for row in ratings]


def _categories(values: Iterable[Any], categories: Sequence[Any] | None) -> list[Any]:
    if categories is not None:
        return list(categories)
    seen = list(dict.fromkeys(v for v in values if not _missing(v)))
    try:
        return sorted(seen)
    except TypeError:
        return seen


def ratings_from_counts(counts: Sequence[Sequence[int]], categories: Sequence[Any]) -> list[list]:
    """Turn a subjects x categories count table (Fleiss' layout) into a ratings matrix."""
    rows = [
        [c for c, n in zip(categories, row, strict=True) for _ in range(int(n))] for row in counts
    ]
    width = max((len(r) for r in rows), default=0)
    return [r + [None] * (width - len(r)) for r in rows]


def _weight_matrix(q: int, weights: str | None) -> np.ndarray:
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")
    if weights is None or q < 2:
        return np.eye(q)
    idx = np.arange(q, dtype=float)
    dist = np.abs(idx[:, None] - idx[None, :]) / (q - 1)
    return 1.0 - (dist if weights == "linear" else dist**2)


def _clip(value: float) -> float:
    return max(-1.0, min(1.0, value))


def _normal_ci(value: float, se: float, n: int, note: str = "") -> Estimate:
    return Estimate(value, se, _clip(value - Z95 * se), _clip(value + Z95 * se), n, note)


def _t_ci(value: float, se: float, n: int, note: str = "") -> Estimate:
    half = t_quantile(0.975, n - 1) * se if n > 1 else math.inf
    return Estimate(value, se, _clip(value - half), _clip(value + half), n, note)


# --------------------------------------------------------------------------------------------
# coefficients
# --------------------------------------------------------------------------------------------


def percent_agreement(ratings: Iterable[Sequence[Any]]) -> Estimate:
    """Share of agreeing rater pairs, over subjects rated at least twice.

    Two raters: agreeing subjects / subjects with a Wilson interval. More raters: the mean over
    subjects of the share of agreeing pairs (Fleiss' P̄, irrCAC's ``pa``), with a t interval on
    the per-subject shares.
    """
    per_subject: list[tuple[int, int]] = []  # (agreeing pairs, pairs)
    for row in _rows(ratings):
        values = [v for v in row if v is not None]
        m = len(values)
        if m < 2:
            continue
        counts: dict[Any, int] = defaultdict(int)
        for v in values:
            counts[v] += 1
        per_subject.append((sum(c * (c - 1) // 2 for c in counts.values()), m * (m - 1) // 2))
    n = len(per_subject)
    if n == 0:
        return _none(0, "no subject rated twice")
    if all(pairs == 1 for _, pairs in per_subject):
        from auditdesk.qi.measures import wilson

        x = sum(agree for agree, _ in per_subject)
        low, high = wilson(x, n)
        p = x / n
        return Estimate(p, math.sqrt(p * (1 - p) / n), low, high, n, "Wilson interval")
    shares = np.array([agree / pairs for agree, pairs in per_subject])
    p = float(shares.mean())
    se = float(shares.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    if n < 2:
        return Estimate(p, None, None, None, n, "one subject: no interval")
    half = t_quantile(0.975, n - 1) * se
    return Estimate(p, se, max(0.0, p - half), min(1.0, p + half), n, "mean pairwise agreement")


def confusion(
    a: Sequence[Any], b: Sequence[Any], categories: Sequence[Any] | None = None
) -> tuple[list, list[list[int]]]:
    """(categories, table): rows = rater a, columns = rater b, over subjects both rated."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if not _missing(x) and not _missing(y)]
    cats = _categories([v for p in pairs for v in p], categories)
    pos = {c: i for i, c in enumerate(cats)}
    table = [[0] * len(cats) for _ in cats]
    for x, y in pairs:
        if x not in pos or y not in pos:
            raise ValueError(f"rating {x if x not in pos else y!r} is not among {cats}")
        table[pos[x]][pos[y]] += 1
    return cats, table


def cohen_kappa(
    a: Sequence[Any],
    b: Sequence[Any],
    *,
    weights: str | None = None,
    categories: Sequence[Any] | None = None,
) -> Estimate:
    """Cohen's kappa of two raters (weighted for ordinal scales: categories in scale order).

    SE from the large-sample variance of Fleiss, Cohen & Everitt (1969) (statsmodels'
    ``var_kappa``), normal 95 % interval clipped to [-1, 1].
    """
    cats, table_list = confusion(a, b, categories)
    table = np.asarray(table_list, dtype=float)
    n = int(table.sum())
    if n == 0:
        return _none(0, "no subject rated by both")
    w = _weight_matrix(len(cats), weights)
    p = table / n
    row, col = p.sum(axis=1), p.sum(axis=0)
    po = float((w * p).sum())
    pe = float((w * np.outer(row, col)).sum())
    if pe >= 1.0 - 1e-12:
        return _none(n, "all ratings in one category: kappa undefined")
    kappa = (po - pe) / (1 - pe)
    w_row = w @ col  # w̄_i. = Σ_j p_.j w_ij
    w_col = row @ w  # w̄_.j = Σ_i p_i. w_ij
    term = (p * (w - (w_row[:, None] + w_col[None, :]) * (1 - kappa)) ** 2).sum()
    var = (term - (kappa - pe * (1 - kappa)) ** 2) / ((1 - pe) ** 2 * n)
    se = math.sqrt(max(var, 0.0))
    return _normal_ci(kappa, se, n, "weighted " + weights if weights else "")


def _agree_matrix(
    ratings: Iterable[Sequence[Any]], categories: Sequence[Any] | None
) -> tuple[list[Any], np.ndarray]:
    """(categories, subjects x categories counts), subjects without any rating dropped."""
    rows = [r for r in _rows(ratings) if any(v is not None for v in r)]
    cats = _categories([v for r in rows for v in r], categories)
    pos = {c: i for i, c in enumerate(cats)}
    counts = np.zeros((len(rows), len(cats)))
    for i, row in enumerate(rows):
        for v in row:
            if v is None:
                continue
            if v not in pos:
                raise ValueError(f"rating {v!r} is not among {cats}")
            counts[i, pos[v]] += 1
    return cats, counts


def _chance_corrected(
    counts: np.ndarray, w: np.ndarray, kind: str
) -> tuple[float, float, int] | str:
    """Gwet's (2008) estimator and variance for Fleiss' kappa ("fleiss") or AC1/AC2 ("gwet"),
    line by line as irrCAC's ``CAC.fleiss`` / ``CAC.gwet`` with N = infinity."""
    n, q = counts.shape
    r = counts.sum(axis=1)
    two = r >= 2
    n2 = int(two.sum())
    if n2 == 0:
        return "no subject rated twice"
    counts_w = counts @ w.T
    sum_q = (counts * (counts_w - 1)).sum(axis=1)
    den = r * (r - 1)
    pa = float((sum_q[two] / den[two]).sum() / n2)
    pi = (counts / r[:, None]).mean(axis=0)
    if kind == "fleiss":
        pe = float((w * np.outer(pi, pi)).sum())
    else:
        pe = float(w.sum() * (pi * (1 - pi)).sum() / (q * (q - 1))) if q >= 2 else 1.0
    if pe >= 1.0 - 1e-12:
        return "all ratings in one category: coefficient undefined"
    coef = (pa - pe) / (1 - pe)
    den_i = np.where(den == 0, -1.0, den)
    pa_i = sum_q / den_i
    coef_i = (n / n2) * (pa_i - pe * two) / (1 - pe)
    if kind == "fleiss":
        pi_w = ((w @ pi) + (w.T @ pi)) / 2
        pe_i = (counts @ pi_w) / r
    else:
        pe_i = (w.sum() / (q * (q - 1))) * (counts @ (1 - pi)) / r
    coef_x = coef_i - 2 * (1 - coef) * (pe_i - pe) / (1 - pe)
    var = float(((coef_x - coef) ** 2).sum() / (n * (n - 1))) if n > 1 else math.nan
    return coef, math.sqrt(var), n


def fleiss_kappa(
    ratings: Iterable[Sequence[Any]], categories: Sequence[Any] | None = None
) -> Estimate:
    """Fleiss' kappa for any number of raters (raters may differ per subject, gaps allowed).

    With complete data this is Fleiss (1971); SE is Gwet's variance (irrCAC), t interval.
    """
    cats, counts = _agree_matrix(ratings, categories)
    n2 = int((counts.sum(axis=1) >= 2).sum())
    out = _chance_corrected(counts, np.eye(len(cats)), "fleiss")
    if isinstance(out, str):
        return _none(n2, out)
    value, se, n = out
    return _t_ci(value, se, n, "Gwet variance, t interval")


def gwet_ac(
    ratings: Iterable[Sequence[Any]],
    *,
    weights: str | None = None,
    categories: Sequence[Any] | None = None,
) -> Estimate:
    """Gwet's AC1 (no weights) or AC2 (linear/quadratic weights on the category order).

    AC1 resists the "kappa paradox": with most exams passing, kappa can be low although
    reviewers almost always agree. SE and t interval as irrCAC (Gwet 2008/2014).
    """
    cats, counts = _agree_matrix(ratings, categories)
    n2 = int((counts.sum(axis=1) >= 2).sum())
    if len(cats) < 2:
        return _none(n2, "only one category used: coefficient undefined")
    out = _chance_corrected(counts, _weight_matrix(len(cats), weights), "gwet")
    if isinstance(out, str):
        return _none(n2, out)
    value, se, n = out
    return _t_ci(value, se, n, ("AC2 " + weights) if weights else "AC1")


# --- Krippendorff's alpha --------------------------------------------------------------------


def _coded(
    rows: list[list[Any]], level: str, categories: Sequence[Any] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(subjects x raters float array with NaN gaps, the value domain in order)."""
    if level in ("interval", "ratio"):
        data = np.array(
            [[math.nan if v is None else float(v) for v in r] for r in rows], dtype=float
        )
        domain = np.unique(data[~np.isnan(data)])
        return data, domain
    cats = _categories([v for r in rows for v in r], categories)
    pos = {c: float(i) for i, c in enumerate(cats)}
    data = np.array([[math.nan if v is None else pos[v] for v in r] for r in rows], dtype=float)
    return data, np.arange(len(cats), dtype=float)


def _unit_coincidences(data: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Per unit, its V x V coincidence contribution (units with < 2 values contribute zero).

    For unit counts c (values per category) and m = Σc: (c cᵀ - diag(c)) / (m - 1), all units at
    once (the same arithmetic per element as one unit at a time)."""
    v = len(domain)
    present = ~np.isnan(data)
    counts = np.zeros((data.shape[0], v))
    rows, cols = np.nonzero(present)
    np.add.at(counts, (rows, np.searchsorted(domain, data[rows, cols])), 1.0)
    m = present.sum(axis=1)
    out = counts[:, :, None] * counts[:, None, :]
    diag = np.arange(v)
    out[:, diag, diag] -= counts
    pairable = m >= 2
    out[pairable] /= (m[pairable] - 1).astype(float)[:, None, None]
    out[~pairable] = 0.0
    return out


#: Resamples up to this many weights (8 bytes each, 32 MB) are kept for the next criterion.
_SHARED_WEIGHTS = 4_000_000


def _draw_weights(n: int, bootstrap: int, seed: int) -> Iterator[np.ndarray]:
    """The seeded resamples over ``n`` units, in chunks of at most 250 x n unit counts."""
    rng = np.random.default_rng(seed)
    for start in range(0, bootstrap, 250):
        size = min(250, bootstrap - start)
        yield rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)  # B x n


@functools.lru_cache(maxsize=4)
def _shared_weights(n: int, bootstrap: int, seed: int) -> tuple[np.ndarray, ...]:
    chunks = tuple(_draw_weights(n, bootstrap, seed))
    for chunk in chunks:
        chunk.flags.writeable = False
    return chunks


def _bootstrap_weights(n: int, bootstrap: int, seed: int) -> Iterable[np.ndarray]:
    """The seeded resamples. Every criterion of a report has the same subjects and seed, so
    small sets of identical draws are made once and shared (read-only); large ones (the pooled
    rows) are drawn chunk by chunk so they never sit in memory whole."""
    if n * bootstrap <= _SHARED_WEIGHTS:
        return _shared_weights(n, bootstrap, seed)
    return _draw_weights(n, bootstrap, seed)


def release_bootstrap_weights() -> None:
    """Forget the shared resamples (a report is done; the memory goes back)."""
    _shared_weights.cache_clear()


def _alpha_from_coincidences(o: np.ndarray, domain: np.ndarray, level: str) -> np.ndarray:
    """Alpha for a stack of coincidence matrices (B x V x V), vectorised for the bootstrap."""
    marg = o.sum(axis=2)  # B x V
    total = marg.sum(axis=1)  # B
    if level == "nominal":
        delta = np.broadcast_to(1.0 - np.eye(len(domain)), o.shape)
    elif level == "ordinal":
        cum = np.cumsum(marg, axis=1)
        lo = np.minimum.outer(np.arange(len(domain)), np.arange(len(domain)))
        hi = np.maximum.outer(np.arange(len(domain)), np.arange(len(domain)))
        between = cum[:, hi] - cum[:, lo] + marg[:, lo]  # Σ_{g=lo..hi} n_g
        delta = (between - (marg[:, :, None] + marg[:, None, :]) / 2) ** 2
    elif level == "interval":
        delta = np.broadcast_to((domain[:, None] - domain[None, :]) ** 2, o.shape)
    else:  # ratio
        s = domain[:, None] + domain[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(s == 0, 0.0, (domain[:, None] - domain[None, :]) / s)
        delta = np.broadcast_to(d**2, o.shape)
    observed = (o * delta).sum(axis=(1, 2))
    expected = (marg[:, :, None] * marg[:, None, :] * delta).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - (total - 1) * observed / expected


def krippendorff_alpha(
    ratings: Iterable[Sequence[Any]],
    *,
    level: str = "nominal",
    bootstrap: int = 1000,
    seed: int = 0,
    categories: Sequence[Any] | None = None,
) -> Estimate:
    """Krippendorff's alpha (any number of raters, gaps allowed) with a bootstrap interval.

    The value comes from the ``krippendorff`` package; the interval resamples subjects with
    replacement (seeded, so a report is reproducible) and recomputes alpha from the summed
    per-subject coincidence matrices. Nominal/ordinal values are coded by category order.
    """
    import krippendorff

    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    rows = [r for r in _rows(ratings) if sum(v is not None for v in r) >= 2]
    n = len(rows)
    if n == 0:
        return _none(0, "no subject rated twice")
    data, domain = _coded(rows, level, categories)
    if len(domain) < 2:
        return _none(n, "only one value used: alpha undefined")
    # Interval data (lengths) have about one value per rating: the N x V x V coincidence route
    # would need gigabytes, so alpha comes from per-unit sums (same number, see alpha_interval).
    sums = interval_unit_sums(data) if level == "interval" else None
    if sums is not None:
        value = float(interval_alpha(sums)[0])
    else:
        value = float(
            krippendorff.alpha(
                reliability_data=data.T, level_of_measurement=level, value_domain=domain
            )
        )
    if bootstrap <= 0 or n < 2:
        return Estimate(value, None, None, None, n, "no bootstrap")
    units = _unit_coincidences(data, domain) if sums is None else None
    estimates: list[np.ndarray] = []
    for weights in _bootstrap_weights(n, bootstrap, seed):
        if sums is not None:
            estimates.append(interval_alpha(sums, weights))
            continue
        stacked = np.einsum("bu,uvw->bvw", weights, units)
        estimates.append(_alpha_from_coincidences(stacked, domain, level))
    boots = np.concatenate(estimates)
    boots = boots[np.isfinite(boots)]
    if len(boots) < max(10, bootstrap // 2):
        return Estimate(value, None, None, None, n, "bootstrap mostly undefined")
    low, high = np.percentile(boots, [2.5, 97.5])
    return Estimate(
        value,
        float(boots.std(ddof=1)),
        float(max(-1.0, low)),
        float(min(1.0, high)),
        n,
        f"bootstrap {bootstrap}x over subjects, seed {seed}",
    )


# --- ICC -------------------------------------------------------------------------------------


def icc(ratings: Iterable[Sequence[float | None]], *, form: str = "ICC2,1") -> Estimate:
    """ICC(2,1) (two-way random, absolute agreement) or ICC(3,1) (two-way mixed, consistency).

    Single rater, Shrout & Fleiss (1979); F-based 95 % interval (McGraw & Wong 1996, the
    Satterthwaite form for ICC(2,1)). Subjects with a missing rating are left out (the design
    must be complete, as in pingouin with ``nan_policy="omit"``). No SE: the interval is exact
    under the model, a symmetric SE would mislead.
    """
    if form not in ("ICC2,1", "ICC3,1"):
        raise ValueError(f"form must be 'ICC2,1' or 'ICC3,1', not {form!r}")
    rows = _rows(ratings)
    width = max((len(r) for r in rows), default=0)
    # Drop raters who rated nothing, then subjects with a gap.
    used = [j for j in range(width) if any(j < len(r) and r[j] is not None for r in rows)]
    full = [
        [float(r[j]) for j in used]
        for r in rows
        if all(j < len(r) and r[j] is not None for j in used)
    ]
    n, k = len(full), len(used)
    if n < 2 or k < 2:
        return _none(n, "needs at least 2 subjects rated by every rater")
    x = np.array(full)
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    msr, msc = ss_rows / (n - 1), ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    note = f"{form}, {n} subjects x {k} raters, F interval"
    if mse <= 0:
        return _none(n, "no residual variation: ICC undefined")
    df1, df2 = n - 1, (n - 1) * (k - 1)
    if form == "ICC3,1":
        value = (msr - mse) / (msr + (k - 1) * mse)
        f0 = msr / mse
        fl = f0 / f_quantile(0.975, df1, df2)
        fu = f0 * f_quantile(0.975, df2, df1)
        low, high = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
        return Estimate(float(value), None, float(low), float(high), n, note)
    denom = msr + (k - 1) * mse + k * (msc - mse) / n
    if denom <= 0:
        return _none(n, "no variation: ICC undefined")
    value = (msr - mse) / denom
    a = k * value / (n * (1 - value)) if value < 1 else math.inf
    b = 1 + k * value * (n - 1) / (n * (1 - value)) if value < 1 else math.inf
    if math.isfinite(a):
        v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / df2)
    else:
        v = math.inf
    if not math.isfinite(v) or v <= 0:
        return Estimate(float(value), None, None, None, n, note + " (no interval)")
    fl = f_quantile(0.975, df1, v)
    fu = f_quantile(0.975, v, df1)
    low = n * (msr - fl * mse) / (fl * (k * msc + (k * n - k - n) * mse) + n * msr)
    high = n * (fu * msr - mse) / (k * msc + (k * n - k - n) * mse + n * fu * msr)
    return Estimate(float(value), None, float(low), float(high), n, note)


def prevalence(ratings: Iterable[Sequence[Any]]) -> dict[object, float]:
    """Share of each answer among all ratings: context for kappa (a rare "fail" depresses it)."""
    values = [v for r in _rows(ratings) for v in r if v is not None]
    if not values:
        return {}
    counts: dict[object, int] = defaultdict(int)
    for v in values:
        counts[v] += 1
    cats = _categories(counts, None)
    return {c: counts[c] / len(values) for c in cats}


def landis_koch(kappa: float | None) -> str:
    """Landis & Koch (1977) wording for a kappa-type value; a description, not a verdict."""
    if kappa is None or math.isnan(kappa):
        return ""
    if kappa < 0:
        return "poor"
    for upper, label in (
        (0.20, "slight"),
        (0.40, "fair"),
        (0.60, "moderate"),
        (0.80, "substantial"),
    ):
        if kappa <= upper:
            return label
    return "almost perfect"
