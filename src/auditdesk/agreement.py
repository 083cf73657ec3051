"""Reviewer agreement: how often two or more reviewers give the same answer on the same exam.

Two layers, no Qt:

* **Statistics** on a ratings matrix (subjects x raters; a value per cell, ``None`` = missing):
  percent agreement, Cohen's kappa (plain and weighted), Fleiss' kappa, Gwet's AC1/AC2,
  Krippendorff's alpha and the ICC. Every coefficient comes with an uncertainty, because a
  kappa from 15 double reads is a wide interval, not a number (domain notes §6):

  - Cohen's kappa: large-sample variance of Fleiss, Cohen & Everitt (1969), the one statsmodels'
    ``cohens_kappa`` reports as ``var_kappa``; normal 95 % interval.
  - Fleiss' kappa and Gwet's AC1/AC2: Gwet's (2008, 2014) linearisation variance as irrCAC
    computes it (missing ratings allowed; no finite-population correction); 95 % interval from
    Student's t with n - 1 degrees of freedom, like irrCAC. The Fleiss (1971) variance "under
    the null" is *not* used: it is only valid for testing kappa = 0.
  - Krippendorff's alpha: the value from the ``krippendorff`` package (the reference
    implementation, missing data allowed); 95 % percentile interval from a seeded bootstrap over
    subjects.
  - ICC(2,1) and ICC(3,1): Shrout & Fleiss (1979) / McGraw & Wong (1996) with their F-based
    intervals; the F quantile is computed here (regularised incomplete beta) so SciPy is not a
    runtime dependency.

  Weighted kappa and AC2 use agreement weights on the *rank* of each category (linear
  1 - |i-j|/(q-1), quadratic 1 - (i-j)²/(q-1)²); for equally spaced scores this equals weights on
  the values. Landis & Koch labels are descriptions only, never pass/fail thresholds.

* **Data extraction** from the audit store: the effective answers of COMPLETE review audits of
  one checklist, subject = exam (or exam x view for item-level rows), rater = reviewer, so the
  report answers "do our reviewers agree on this criterion?".
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

__all__ = [
    "AgreementFilter",
    "Estimate",
    "ItemAgreement",
    "agreement_report",
    "agreement_trend",
    "cohen_kappa",
    "confusion",
    "f_cdf",
    "f_quantile",
    "fleiss_kappa",
    "gwet_ac",
    "icc",
    "krippendorff_alpha",
    "landis_koch",
    "pairwise_matrix",
    "percent_agreement",
    "prevalence",
    "rating_table",
    "ratings_from_counts",
    "t_quantile",
    "write_agreement_csv",
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
        from auditdesk.measures import wilson

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
    """Per unit, its V x V coincidence contribution (units with < 2 values contribute zero)."""
    index = {v: i for i, v in enumerate(domain.tolist())}
    v = len(domain)
    out = np.zeros((data.shape[0], v, v))
    for u, row in enumerate(data):
        vals = row[~np.isnan(row)]
        m = len(vals)
        if m < 2:
            continue
        c = np.zeros(v)
        for x in vals.tolist():
            c[index[x]] += 1
        out[u] = (np.outer(c, c) - np.diag(c)) / (m - 1)
    return out


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
    value = float(
        krippendorff.alpha(reliability_data=data.T, level_of_measurement=level, value_domain=domain)
    )
    if bootstrap <= 0 or n < 2:
        return Estimate(value, None, None, None, n, "no bootstrap")
    units = _unit_coincidences(data, domain)
    rng = np.random.default_rng(seed)
    estimates: list[np.ndarray] = []
    for start in range(0, bootstrap, 250):
        size = min(250, bootstrap - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)  # B x n
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


# --------------------------------------------------------------------------------------------
# data extraction from the audit store
# --------------------------------------------------------------------------------------------

KIND_OF_TYPE = {
    "pass_fail": "nominal",
    "choice": "nominal",
    "ordinal": "ordinal",
    "number": "interval",
}
MEETS = "score:meets_criteria"
GRADE = "score:grade"
OVERALL = "overall"


@dataclass(frozen=True)
class AgreementFilter:
    """Which audits enter the agreement statistics."""

    checklist_id: str
    start: dt.date | None = None
    end: dt.date | None = None
    reviewer_pks: tuple[int, ...] = ()
    technologist: str | None = None


@dataclass(frozen=True)
class ItemAgreement:
    """Agreement on one target (answer key, item across views, derived score or measurement)."""

    target: str
    label: str
    kind: str
    n_subjects: int
    n_raters: int
    percent: Estimate
    kappa: Estimate | None
    weighted_kappa: Estimate | None
    fleiss: Estimate | None
    ac1: Estimate
    alpha: Estimate
    icc: Estimate | None
    prevalence: dict = field(default_factory=dict)
    confusion: tuple | None = None


@dataclass
class _Read:
    """One complete review audit, reduced to what agreement needs."""

    audit_pk: int
    study_pk: int
    reviewer_pk: int
    procedure_date: dt.date | None
    answers: dict[str, Any]
    meets: bool | None
    grade: str | None
    measurements: dict[str, float]


@dataclass
class _Data:
    checklist: Any  # the newest checklist version the audits used (order and labels)
    reads: list[_Read]
    studies: list[int]  # exams with >= 2 reads, in procedure-date order
    reviewers: list[int]


def _load(session: Session, flt: AgreementFilter, *, measurements: bool = True) -> _Data | None:
    """Complete review audits of the checklist, in five queries whatever their number."""
    from auditdesk.auditing import stored_checklist
    from auditdesk.store.models import (
        Audit,
        AuditAnswer,
        AuditMeasurement,
        AuditOverride,
        AuditScore,
        ChecklistVersion,
        Study,
    )

    # Consensus and reference audits are not independent reads.
    where = [
        Audit.checklist_id == flt.checklist_id,
        Audit.status == "complete",
        Audit.purpose == "review",
    ]
    if flt.start is not None:
        where.append(Study.procedure_date >= flt.start)
    if flt.end is not None:
        where.append(Study.procedure_date <= flt.end)
    if flt.reviewer_pks:
        where.append(Audit.reviewer_pk.in_(flt.reviewer_pks))
    rows = session.execute(
        select(
            Audit.id,
            Audit.study_pk,
            Audit.reviewer_pk,
            Audit.checklist_version_pk,
            Study.procedure_date,
            Study.technologist,
        )
        .join(Study, Study.id == Audit.study_pk)
        .where(*where)
        .order_by(Audit.id)
    ).all()
    if flt.technologist is not None:
        from auditdesk.site import technologist_resolver

        resolve = technologist_resolver(session)
        wanted = resolve(flt.technologist) or flt.technologist
        rows = [r for r in rows if resolve(r.technologist) == wanted]
    per_study: dict[int, dict[int, Any]] = defaultdict(dict)
    for r in rows:
        per_study[r.study_pk][r.reviewer_pk] = r  # newest audit id wins for a repeated pair
    kept = [r for reads in per_study.values() if len(reads) >= 2 for r in reads.values()]
    if not kept:
        return None
    ids = [r.id for r in kept]
    version_pks = {r.checklist_version_pk for r in kept}

    scores: dict[int, dict[int, tuple[bool | None, str | None, dict[str, Any]]]] = {}
    for audit_pk, version_pk, meets, grade, result in session.execute(
        select(
            AuditScore.audit_pk,
            AuditScore.checklist_version_pk,
            AuditScore.meets_criteria,
            AuditScore.grade,
            AuditScore.result,
        )
        .where(AuditScore.audit_pk.in_(ids), AuditScore.is_current.is_(True))
        .order_by(AuditScore.id)
    ):
        scores.setdefault(audit_pk, {})[version_pk] = (meets, grade, result or {})
    overrides: dict[int, dict[str, Any]] = defaultdict(dict)
    for audit_pk, fld, value in session.execute(
        select(AuditOverride.audit_pk, AuditOverride.field, AuditOverride.value)
        .where(AuditOverride.audit_pk.in_(ids))
        .order_by(AuditOverride.id)
    ):
        overrides[audit_pk][fld] = value  # newest wins; None = back to the computed value
    unscored = [r.id for r in kept if r.checklist_version_pk not in scores.get(r.id, {})]
    raw: dict[int, dict[str, Any]] = defaultdict(dict)
    if unscored:  # fall back to the raw answers (never happens for audits made by AuditSession)
        for audit_pk, key, value in session.execute(
            select(AuditAnswer.audit_pk, AuditAnswer.key, AuditAnswer.value).where(
                AuditAnswer.audit_pk.in_(unscored)
            )
        ):
            raw[audit_pk][key] = value
    measured: dict[int, dict[str, float]] = defaultdict(dict)
    if measurements:
        for audit_pk, key, value in session.execute(
            select(
                AuditMeasurement.audit_pk, AuditMeasurement.key, AuditMeasurement.value_mm
            ).where(AuditMeasurement.audit_pk.in_(ids), AuditMeasurement.value_mm.is_not(None))
        ):
            measured[audit_pk][key] = float(value)
    newest = session.scalar(select(ChecklistVersion).where(ChecklistVersion.id == max(version_pks)))
    reads: list[_Read] = []
    for r in kept:
        score = scores.get(r.id, {}).get(r.checklist_version_pk)
        if score is None:
            answers, meets, grade = raw[r.id], None, None
        else:
            meets, grade, result = score
            skipped = set(result.get("not_applicable") or ())
            answers = {
                k: v for k, v in (result.get("effective_answers") or {}).items() if k not in skipped
            }
        o = overrides.get(r.id, {})
        if o.get("meets_criteria") is not None:
            meets = bool(o["meets_criteria"])
        if o.get("grade") is not None:
            grade = str(o["grade"])
        reads.append(
            _Read(
                r.id,
                r.study_pk,
                r.reviewer_pk,
                r.procedure_date,
                answers,
                meets,
                grade,
                measured[r.id],
            )
        )
    dates = {r.study_pk: r.procedure_date or dt.date.max for r in kept}
    studies = sorted(dates, key=lambda pk: (dates[pk], pk))
    reviewers = sorted({r.reviewer_pk for r in kept})
    return _Data(stored_checklist(newest), reads, studies, reviewers)


def _grade_order(checklist: Any) -> list[str] | None:
    """The checklist's grades best first (grade table rows, or a "worst" rule's order)."""
    from auditdesk.checklists.schema import GradeTableRule, WorstRule

    if not checklist.grade:
        return None
    rule = next((r for r in checklist.rules if r.id == checklist.grade), None)
    if isinstance(rule, GradeTableRule):
        return list(dict.fromkeys(row.grade for row in rule.grades))
    if isinstance(rule, WorstRule):
        return list(rule.order)
    return None


@dataclass(frozen=True)
class _Target:
    target: str
    label: str
    kind: str
    categories: list[Any] | None


def _targets(data: _Data) -> list[_Target]:
    """Every target in checklist order, "overall" first (see :func:`agreement_report`)."""
    from auditdesk.checklists.rules import answer_keys, item_for_key, parse_key

    checklist = data.checklist
    measured_keys = list(dict.fromkeys(k for r in data.reads for k in sorted(r.measurements)))
    out = [_Target(OVERALL, "All pass/fail answers pooled", "nominal", ["pass", "fail", "na"])]
    by_item: dict[str, list[str]] = defaultdict(list)
    keys = answer_keys(checklist)
    for key in keys:
        item = item_for_key(checklist, key)
        kind = KIND_OF_TYPE.get(item.type)
        if kind is None or (kind == "interval" and key in measured_keys):
            continue  # text answers; numbers that are measurements get a measure: row
        out.append(
            _Target(key, f"{item.label} ({parse_key(key)[0]})", kind, _item_categories(item))
        )
        by_item[item.id].append(key)
    for item_id, item_keys in by_item.items():
        if len(item_keys) > 1:
            item = item_for_key(checklist, item_keys[0])
            kind = KIND_OF_TYPE[item.type]
            out.append(_Target(item_id, f"{item.label} (all views)", kind, _item_categories(item)))
    out.append(_Target(MEETS, "Meets criteria (exam)", "nominal", [True, False]))
    order = _grade_order(checklist)
    if checklist.grade:
        out.append(_Target(GRADE, "Grade (exam)", "ordinal" if order else "nominal", order))
    known = {k: i for i, k in enumerate(keys)}
    measured_keys.sort(key=lambda k: (known.get(k, len(known)), k))
    for key in measured_keys:
        label = key
        if key in known:
            label = f"{item_for_key(checklist, key).label} ({parse_key(key)[0]}), mm"
        out.append(_Target(f"measure:{key}", label, "interval", None))
    return out


def _item_categories(item: Any) -> list[Any] | None:
    if item.type == "pass_fail":
        return ["pass", "fail", "na"]  # "na" is an answer like any other (documented)
    if item.type in ("choice", "ordinal"):
        return [o.value for o in item.options]
    return None


def _keys_for(data: _Data, target: str) -> list[str] | None:
    """Answer keys pooled into one target (None: the target is not answer-based)."""
    from auditdesk.checklists.rules import answer_keys, item_for_key, parse_key

    keys = answer_keys(data.checklist)
    if target == OVERALL:
        return [k for k in keys if item_for_key(data.checklist, k).type == "pass_fail"]
    if target in keys:
        return [target]
    pooled = [k for k in keys if parse_key(k)[1] == target]
    return pooled or None


def _table(
    data: _Data, target: str, studies: Sequence[int] | None = None
) -> tuple[list, list[int], list[list]]:
    """(subjects, reviewer pks, matrix) for one target; subjects are study pks or (study, key)."""
    chosen = data.studies if studies is None else list(studies)
    col = {pk: j for j, pk in enumerate(data.reviewers)}
    by_study: dict[int, list[_Read]] = defaultdict(list)
    for r in data.reads:
        by_study[r.study_pk].append(r)
    keys = _keys_for(data, target)
    subjects: list[Any] = []
    matrix: list[list[Any]] = []
    if keys is not None:
        for pk in chosen:
            for key in keys:
                row: list[Any] = [None] * len(col)
                for r in by_study[pk]:
                    row[col[r.reviewer_pk]] = r.answers.get(key)
                subjects.append(pk if len(keys) == 1 else (pk, key))
                matrix.append(row)
        return subjects, list(data.reviewers), matrix
    for pk in chosen:
        row = [None] * len(col)
        for r in by_study[pk]:
            if target == MEETS:
                value: Any = r.meets
            elif target == GRADE:
                value = r.grade
            elif target.startswith("measure:"):
                value = r.measurements.get(target.removeprefix("measure:"))
            else:
                raise ValueError(f"unknown agreement target {target!r}")
            row[col[r.reviewer_pk]] = value
        subjects.append(pk)
        matrix.append(row)
    return subjects, list(data.reviewers), matrix


def rating_table(
    session: Session, flt: AgreementFilter, target: str
) -> tuple[list[int], list[int], list[list]]:
    """(study pks, reviewer pks, ratings) of exams read by >= 2 reviewers (complete review audits).

    Values are the effective answers of each audit's current score (computed answers filled in,
    not-applicable keys left out), the effective meets-criteria/grade (overrides applied) or the
    measured mm. For item ids pooled across views one study appears once per view.
    """
    data = _load(session, flt, measurements=target.startswith("measure:"))
    if data is None:
        return [], [], []
    subjects, reviewers, matrix = _table(data, target)
    studies = [s[0] if isinstance(s, tuple) else s for s in subjects]
    return studies, reviewers, matrix


def _pair(matrix: list[list[Any]]) -> tuple[list, list] | None:
    """The two columns when exactly two reviewers rated anything, else None."""
    used = [
        j for j in range(len(matrix[0]) if matrix else 0) if any(r[j] is not None for r in matrix)
    ]
    if len(used) != 2:
        return None
    return [r[used[0]] for r in matrix], [r[used[1]] for r in matrix]


def _agreement(t: _Target, matrix: list[list[Any]], bootstrap: int, seed: int) -> ItemAgreement:
    doubled = [r for r in matrix if sum(v is not None for v in r) >= 2]
    n_raters = sum(
        1 for j in range(len(matrix[0]) if matrix else 0) if any(r[j] is not None for r in doubled)
    )
    n = len(doubled)
    pair = _pair(doubled)
    if t.kind == "interval":
        na = _none(n, "not used for measurements")
        return ItemAgreement(
            t.target,
            t.label,
            "interval",
            n,
            n_raters,
            na,
            None,
            None,
            None,
            na,
            krippendorff_alpha(doubled, level="interval", bootstrap=bootstrap, seed=seed),
            icc(doubled, form="ICC2,1"),
        )
    seen = _categories([v for r in doubled for v in r], None)
    cats = [c for c in t.categories or [] if c in seen]  # unused categories add nothing
    cats += [c for c in seen if c not in cats]
    ordinal = t.kind == "ordinal"
    kappa = weighted = conf = None
    if pair is not None:
        kappa = cohen_kappa(*pair, categories=cats)
        if ordinal:
            weighted = cohen_kappa(*pair, weights="quadratic", categories=cats)
        conf = confusion(*pair, categories=cats)
    return ItemAgreement(
        t.target,
        t.label,
        t.kind,
        n,
        n_raters,
        percent_agreement(doubled),
        kappa,
        weighted,
        fleiss_kappa(doubled, categories=cats),
        gwet_ac(doubled, weights="quadratic" if ordinal else None, categories=cats),
        krippendorff_alpha(doubled, level=t.kind, bootstrap=bootstrap, seed=seed, categories=cats),
        None,
        prevalence(doubled),
        conf,
    )


def agreement_report(
    session: Session, flt: AgreementFilter, *, bootstrap: int = 1000, seed: int = 0
) -> list[ItemAgreement]:
    """One row per target: "overall" (all pass/fail answers pooled) first, then every answer
    key, every item across its views, the derived meets-criteria and grade, and every measured
    length, in checklist order. Empty when no exam has two complete review audits.

    Kinds: pass/fail and choice are nominal ("na" is a category of its own: reviewers who
    disagree on whether a criterion applies do disagree); ordinal items and the grade get
    quadratic-weighted kappa, AC2 and ordinal alpha; numbers and measurements get ICC(2,1) and
    interval alpha.
    """
    data = _load(session, flt)
    if data is None:
        return []
    rows = []
    for t in _targets(data):
        _, _, matrix = _table(data, t.target)
        rows.append(_agreement(t, matrix, bootstrap, seed))
    return rows


def pairwise_matrix(
    session: Session, flt: AgreementFilter, target: str = MEETS
) -> dict[tuple[int, int], Estimate]:
    """Cohen's kappa for every pair of reviewers (lower pk first) who read common exams."""
    data = _load(session, flt, measurements=target.startswith("measure:"))
    if data is None:
        return {}
    _, reviewers, matrix = _table(data, target)
    out: dict[tuple[int, int], Estimate] = {}
    for i, a in enumerate(reviewers):
        for j in range(i + 1, len(reviewers)):
            both = [(r[i], r[j]) for r in matrix if r[i] is not None and r[j] is not None]
            if both:
                out[(a, reviewers[j])] = cohen_kappa([x for x, _ in both], [y for _, y in both])
    return out


def agreement_trend(
    session: Session, flt: AgreementFilter, target: str = MEETS, *, weeks_per_point: int = 4
) -> list[tuple[dt.date, Estimate]]:
    """Kappa per block of ``weeks_per_point`` Sunday weeks (by procedure date), oldest first:
    Cohen's kappa when the block has exactly two reviewers, else Fleiss' kappa."""
    from auditdesk.worklist import week_start

    data = _load(session, flt, measurements=target.startswith("measure:"))
    if data is None:
        return []
    dates = {r.study_pk: r.procedure_date for r in data.reads if r.procedure_date is not None}
    if not dates:
        return []
    first = week_start(min(dates.values()))
    blocks: dict[dt.date, list[int]] = defaultdict(list)
    for pk in data.studies:
        if pk in dates:
            index = (week_start(dates[pk]) - first).days // (7 * weeks_per_point)
            blocks[first + dt.timedelta(weeks=index * weeks_per_point)].append(pk)
    out = []
    for start, studies in sorted(blocks.items()):
        _, _, matrix = _table(data, target, studies)
        pair = _pair(matrix)
        out.append((start, cohen_kappa(*pair) if pair else fleiss_kappa(matrix)))
    return out


def _fmt(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"


CSV_COEFFICIENTS = ("percent", "kappa", "weighted_kappa", "fleiss", "ac1", "alpha", "icc")


def write_agreement_csv(rows: list[ItemAgreement], path: str | Path) -> int:
    """One row per target with each coefficient, its 95 % interval and the Landis–Koch wording
    beside kappa; targets and labels only (no exam, patient or reviewer identifiers)."""
    header = ["target", "label", "kind", "n_subjects", "n_raters"]
    for name in CSV_COEFFICIENTS:
        header += [name, f"{name}_ci_low", f"{name}_ci_high"]
        if name == "kappa":
            header.append("kappa_landis_koch")
    header.append("prevalence")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            line: list[Any] = [row.target, row.label, row.kind, row.n_subjects, row.n_raters]
            for name in CSV_COEFFICIENTS:
                est: Estimate | None = getattr(row, name)
                if est is None:
                    line += ["", "", ""]
                else:
                    line += [_fmt(est.value), _fmt(est.ci_low), _fmt(est.ci_high)]
                if name == "kappa":
                    kappa = (
                        row.kappa.value if row.kappa else (row.fleiss.value if row.fleiss else None)
                    )
                    line.append(landis_koch(kappa))
            line.append("; ".join(f"{k}={v:.3f}" for k, v in row.prevalence.items()))
            writer.writerow(line)
    return len(rows)
