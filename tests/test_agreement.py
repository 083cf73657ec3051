"""Reviewer agreement: published test vectors, reference libraries, and the DB extraction."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.reading.auditing import (
    AuditSession,
    find_checklist,
    save_computed_score,
    snapshot_checklist,
)
from auditdesk.review import agreement as ag
from auditdesk.review import agreement_stats as st
from auditdesk.review.agreement import (
    AgreementFilter,
    agreement_report,
    agreement_trend,
    cohen_kappa,
    confusion,
    f_quantile,
    fleiss_kappa,
    gwet_ac,
    icc,
    krippendorff_alpha,
    landis_koch,
    pairwise_matrix,
    percent_agreement,
    prevalence,
    rating_table,
    ratings_from_counts,
    t_quantile,
    target_scale,
    write_agreement_csv,
)
from auditdesk.store import audits as store
from auditdesk.store.models import Audit, Study

N = None
FLEISS_COUNTS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]
KRIPPENDORFF_C = [
    (1, 1, N, 1),
    (2, 2, 3, 2),
    (3, 3, 3, 3),
    (3, 3, 3, 3),
    (2, 2, 2, 2),
    (1, 2, 3, 4),
    (4, 4, 4, 4),
    (1, 1, 2, 1),
    (2, 2, 2, 2),
    (N, 5, 5, 5),
    (N, N, 1, 1),
    (N, N, 3, N),
]
# irrCAC's raw_4raters (Gwet 2014): 12 units x 4 raters with gaps.
RAW_4RATERS = list(
    zip(
        [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, N],
        [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 3],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
        strict=True,
    )
)
# Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def _vectors(table: list[list[int]]) -> tuple[list[int], list[int]]:
    a: list[int] = []
    b: list[int] = []
    for i, row in enumerate(table):
        for j, n in enumerate(row):
            a += [i] * n
            b += [j] * n
    return a, b


# --- distributions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "df1", "df2", "expected"),
    [
        (0.95, 3, 10, 3.708),  # printed F tables
        (0.975, 2, 20, 4.461),
        (0.99, 5, 12, 5.064),
        (0.95, 1, 30, 4.171),
        (0.95, 10, 120, 1.910),
    ],
)
def test_f_quantile_matches_tables(p, df1, df2, expected) -> None:
    assert f_quantile(p, df1, df2) == pytest.approx(expected, abs=5e-4)


def test_t_quantile_matches_tables() -> None:
    assert t_quantile(0.975, 1) == pytest.approx(12.706, abs=5e-4)
    assert t_quantile(0.975, 10) == pytest.approx(2.228, abs=5e-4)
    assert t_quantile(0.025, 10) == pytest.approx(-2.228, abs=5e-4)
    assert t_quantile(0.975, 1e6) == pytest.approx(1.95996, abs=1e-4)


# --- published test vectors (domain notes §6, anchors A5) ------------------------------------


def test_cohen_two_by_two() -> None:
    a, b = _vectors([[20, 5], [10, 15]])
    est = cohen_kappa(a, b)
    assert est.value == pytest.approx(0.40)
    assert est.n_subjects == 50
    assert est.ci_low < 0.40 < est.ci_high
    assert percent_agreement(list(zip(a, b, strict=True))).value == pytest.approx(0.70)
    assert gwet_ac(list(zip(a, b, strict=True))).value == pytest.approx(0.406, abs=5e-4)


def test_cohen_irrcac_vignette_table() -> None:
    """R irrCAC cont3x3abstractors: kappa 0.7964, SE 0.0589 (CI there uses t, here normal)."""
    est = cohen_kappa(*_vectors([[13, 0, 0], [0, 20, 7], [0, 4, 56]]))
    assert est.value == pytest.approx(0.7964, abs=5e-5)
    assert est.se == pytest.approx(0.0589, abs=5e-5)
    assert (est.ci_low, est.ci_high) == pytest.approx((0.680, 0.913), abs=2e-3)


def test_fleiss_textbook_example() -> None:
    ratings = ratings_from_counts(FLEISS_COUNTS, [1, 2, 3, 4, 5])
    assert fleiss_kappa(ratings).value == pytest.approx(0.210, abs=5e-4)
    assert percent_agreement(ratings).value == pytest.approx(0.378, abs=5e-4)
    assert gwet_ac(ratings).value == pytest.approx(0.226, abs=5e-4)


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_example_with_missing_data(level, expected) -> None:
    est = krippendorff_alpha(KRIPPENDORFF_C, level=level, bootstrap=300, seed=1)
    assert est.value == pytest.approx(expected, abs=5e-4)
    assert est.ci_low is not None and est.ci_low <= est.value <= est.ci_high
    again = krippendorff_alpha(KRIPPENDORFF_C, level=level, bootstrap=300, seed=1)
    assert again == est  # seeded: a report is reproducible


@pytest.mark.parametrize("level", st.LEVELS)
def test_bootstrap_alpha_engine_equals_the_package(level) -> None:
    """The vectorised coincidence-matrix alpha used for the bootstrap equals the package."""
    rows = [r for r in st._rows(KRIPPENDORFF_C) if sum(v is not None for v in r) >= 2]
    data, domain = st._coded(rows, level, None)
    units = st._unit_coincidences(data, domain)
    mine = st._alpha_from_coincidences(units.sum(axis=0)[None], domain, level)[0]
    assert mine == pytest.approx(krippendorff_alpha(rows, level=level, bootstrap=0).value)


def test_irrcac_raw_4raters_docstring_values() -> None:
    ac1 = gwet_ac(RAW_4RATERS)
    assert ac1.value == pytest.approx(0.7754, abs=5e-5)
    assert (ac1.ci_low, ac1.ci_high) == pytest.approx((0.461, 1.0), abs=5e-4)
    fk = fleiss_kappa(RAW_4RATERS)
    assert fk.value == pytest.approx(0.7612, abs=5e-5)
    assert (fk.ci_low, fk.ci_high) == pytest.approx((0.424, 1.0), abs=5e-4)


def test_icc_shrout_fleiss_example() -> None:
    two = icc(SHROUT_FLEISS, form="ICC2,1")
    three = icc(SHROUT_FLEISS, form="ICC3,1")
    assert two.value == pytest.approx(0.29, abs=5e-3)
    assert three.value == pytest.approx(0.71, abs=5e-3)
    # pingouin's documented output for this data set
    assert (two.ci_low, two.ci_high) == pytest.approx((0.02, 0.76), abs=5e-3)
    assert (three.ci_low, three.ci_high) == pytest.approx((0.34, 0.95), abs=5e-3)


def test_small_helpers() -> None:
    assert landis_koch(-0.1) == "poor"
    assert landis_koch(0.2) == "slight"
    assert landis_koch(0.40) == "fair"
    assert landis_koch(0.75) == "substantial"
    assert landis_koch(0.9) == "almost perfect"
    assert landis_koch(None) == ""
    cats, table = confusion(["pass", "fail", "pass", None], ["pass", "pass", "pass", "fail"])
    assert cats == ["fail", "pass"] and table == [[0, 1], [0, 2]]
    assert prevalence([["pass", "fail"], ["pass", None]]) == pytest.approx(
        {"fail": 1 / 3, "pass": 2 / 3}
    )
    undefined = cohen_kappa(["pass"] * 5, ["pass"] * 5)
    assert undefined.value is None and "one category" in undefined.note
    assert cohen_kappa([], []).n_subjects == 0
    assert percent_agreement([[1, None], [None, 2]]).value is None


# --- the checklist's full scale: PI-QUAL v1 T2W quality, category 1 unused (issue 12) ----------

# Reviewer A and B on four exams, PI-QUAL v1 "T2W quality" (scale 0, 1, 2, 3; nobody chose 1).
T2W_A = [0, 2, 3, 3]
T2W_B = [0, 3, 3, 2]
PIQUAL_SCALE = [0, 1, 2, 3]

# Worked by hand on the full 0-3 scale (q = 4), subjects (0,0) (2,3) (3,3) (3,2):
#
# Quadratic agreement weights w_ij = 1 - (i-j)^2 / (q-1)^2 = 1 - (i-j)^2 / 9:
#          0     1     2     3
#     0 [  1    8/9   5/9    0  ]
#     1 [ 8/9    1    8/9   5/9 ]
#     2 [ 5/9   8/9    1    8/9 ]
#     3 [  0    5/9   8/9    1  ]
# p_o = (w00 + w23 + w33 + w32) / 4 = (1 + 8/9 + 1 + 8/9) / 4 = 17/18 = 0.9444
# Marginals (both readers alike): p = (1/4, 0, 1/4, 1/2) for 0, 1, 2, 3.
# p_e = sum_ij w_ij p_i p_j
#     = 1/4 (1/4·1 + 1/4·5/9 + 1/2·0) + 1/4 (1/4·5/9 + 1/4·1 + 1/2·8/9)
#       + 1/2 (1/4·0 + 1/4·8/9 + 1/2·1)
#     = 1/4·14/36 + 1/4·30/36 + 1/2·26/36 = (14 + 30 + 52)/144 = 96/144 = 2/3
# quadratic-weighted kappa = (17/18 - 2/3) / (1 - 2/3) = (5/18) / (1/3) = 5/6 = 0.8333
#
# Gwet's AC2, quadratic: p_a (two readers) = p_o = 17/18; pi_k = (1/4, 0, 1/4, 1/2);
# sum of all weights T_w = 4·1 + 6·8/9 + 4·5/9 + 2·0 = 104/9;
# p_e = T_w / (q(q-1)) · sum_k pi_k (1 - pi_k) = (104/9)/12 · (3/16 + 0 + 3/16 + 4/16)
#     = 26/27 · 5/8 = 65/108;  AC2 = (17/18 - 65/108) / (1 - 65/108) = (37/108)/(43/108)
#     = 37/43 = 0.8605
#
# Linear weights 1 - |i-j|/3: p_o = (1 + 2/3 + 1 + 2/3)/4 = 5/6; p_e = 1/4·4/12 + 1/4·8/12
# + 1/2·8/12 = 7/12; kappa = (5/6 - 7/12)/(5/12) = 3/5; T_w = 4 + 6·2/3 + 4·1/3 = 28/3,
# p_e(AC2) = (28/3)/12 · 5/8 = 35/72, AC2 = (60/72 - 35/72)/(37/72) = 25/37 = 0.6757.
# AC1 (no weights): p_a = 2/4, p_e = (5/8)/(q-1) = 5/24, AC1 = (12/24 - 5/24)/(19/24) = 7/19.
#
# Dropping the unused category 1 (the old report) gives ranks 0,1,2 for 0,2,3, weights
# 1, 3/4, 0: kappa 7/11 = 0.6364 and AC2 2/3 = 0.6667 — the wrong numbers of issue 12.


def test_full_scale_worked_example_by_hand() -> None:
    pairs = list(zip(T2W_A, T2W_B, strict=True))
    quad = cohen_kappa(T2W_A, T2W_B, weights="quadratic", categories=PIQUAL_SCALE)
    assert quad.value == pytest.approx(5 / 6, abs=1e-12)
    assert round(quad.value, 4) == 0.8333
    ac2 = gwet_ac(pairs, weights="quadratic", categories=PIQUAL_SCALE)
    assert ac2.value == pytest.approx(37 / 43, abs=1e-12)
    assert round(ac2.value, 4) == 0.8605
    lin = cohen_kappa(T2W_A, T2W_B, weights="linear", categories=PIQUAL_SCALE)
    assert lin.value == pytest.approx(3 / 5, abs=1e-12)
    assert gwet_ac(pairs, weights="linear", categories=PIQUAL_SCALE).value == pytest.approx(
        25 / 37, abs=1e-12
    )
    assert gwet_ac(pairs, categories=PIQUAL_SCALE).value == pytest.approx(7 / 19, abs=1e-12)
    # The observed categories alone give the old, wrong numbers (why the scale must be passed).
    assert cohen_kappa(T2W_A, T2W_B, weights="quadratic").value == pytest.approx(7 / 11)
    assert gwet_ac(pairs, weights="quadratic").value == pytest.approx(2 / 3)
    # Unweighted kappa does not depend on the unused category: p_o = 2/4, p_e = (1/4)² + (1/4)²
    # + (1/2)² = 3/8, kappa = (1/2 - 3/8)/(1 - 3/8) = 1/5 on either category list.
    for cats in (PIQUAL_SCALE, None):
        assert cohen_kappa(T2W_A, T2W_B, categories=cats).value == pytest.approx(1 / 5)


def test_full_scale_worked_example_matches_the_references() -> None:
    ir = _oracle("statsmodels.stats.inter_rater")
    raw = _oracle("irrCAC.raw")
    pd = _oracle("pandas")
    _cats, table = confusion(T2W_A, T2W_B, categories=PIQUAL_SCALE)
    assert table[1] == [0, 0, 0, 0] and [r[1] for r in table] == [0, 0, 0, 0]
    assert ir.cohens_kappa(np.array(table), wt="quadratic").kappa == pytest.approx(5 / 6)
    frame = pd.DataFrame({"a": T2W_A, "b": T2W_B})
    ref = raw.CAC(frame, weights="quadratic", categories=PIQUAL_SCALE, digits=10).gwet()["est"]
    assert ref["coefficient_value"] == pytest.approx(37 / 43, abs=1e-9)


# --- reference libraries (test dependencies: a missing one FAILS, it never skips) --------------


def _oracle(module: str) -> Any:
    """Import a reference library. They are test dependencies (the dev extra, irrCAC through
    scripts/setup), so a missing one fails the test: skipped oracles let a wrong AC2 formula
    and a wrong report weight pass unnoticed (issue 12)."""
    if module.startswith("pingouin"):
        os.environ.setdefault("MPLBACKEND", "Agg")  # pingouin imports matplotlib: no GUI
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"reference library {module!r} is missing ({exc}); run bash scripts/setup")


def test_f_quantile_matches_scipy() -> None:
    stats = _oracle("scipy.stats")
    for p, d1, d2 in [(0.975, 2.7, 13.3), (0.9, 7, 3), (0.999, 1, 2), (0.05, 4, 9)]:
        assert f_quantile(p, d1, d2) == pytest.approx(stats.f.ppf(p, d1, d2), rel=1e-9)


# Scales with categories nobody used: inside the scale and at its end.
SCALE = [0, 1, 2, 3, 4]
USED = [0, 1, 3]


def _random_pairs(seed: int, n: int = 80, used: Sequence[int] = USED) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    a = rng.choice(used, n)
    b = np.where(rng.random(n) < 0.6, a, rng.choice(used, n))
    return a.tolist(), b.tolist()


@pytest.mark.parametrize("wt", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cohen_matches_statsmodels_with_unused_categories(wt, seed) -> None:
    ir = _oracle("statsmodels.stats.inter_rater")
    a, b = _random_pairs(seed)
    cats, table = confusion(a, b, categories=SCALE)
    assert cats == SCALE and not np.array(table)[[2, 4]].any()  # 2 and 4 unused
    ref = ir.cohens_kappa(np.array(table), wt=wt) if wt else ir.cohens_kappa(np.array(table))
    est = cohen_kappa(a, b, weights=wt, categories=SCALE)
    assert est.value == pytest.approx(ref.kappa, abs=1e-12)
    assert est.se == pytest.approx(math.sqrt(ref.var_kappa), rel=1e-9)
    if wt:  # the data really exercise the unused categories
        assert cohen_kappa(a, b, weights=wt).value != pytest.approx(ref.kappa, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fleiss_matches_statsmodels_with_unused_categories(seed) -> None:
    ir = _oracle("statsmodels.stats.inter_rater")
    rng = np.random.default_rng(seed)
    truth = rng.choice(USED, 40)
    ratings = [
        [int(t) if rng.random() < 0.7 else int(rng.choice(USED)) for _ in range(5)] for t in truth
    ]
    counts, _ = ir.aggregate_raters(np.array(ratings), n_cat=len(SCALE))
    assert not counts[:, [2, 4]].any()
    ref = ir.fleiss_kappa(counts)
    assert fleiss_kappa(ratings, categories=SCALE).value == pytest.approx(ref, abs=1e-12)


def _random_with_gaps(
    seed: int, n: int = 30, raters: int = 4, used: Sequence[int] = (1, 2, 3, 4, 5)
) -> list[list[int | None]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        truth = int(rng.choice(used))
        row = [truth if rng.random() < 0.6 else int(rng.choice(used)) for _ in range(raters)]
        out.append([None if rng.random() < 0.2 else v for v in row])
    return out


@pytest.mark.parametrize(
    "used",
    [(1, 2, 3, 4, 5), (1, 2, 4), (2, 3, 4)],  # all used; 3 and 5 unused; both ends unused
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gwet_and_fleiss_match_irrcac(seed, used) -> None:
    """irrCAC weights the category *values*; on the equally spaced 1..5 scale that equals our
    rank weights, so the whole scale (used or not) must enter both the same way."""
    raw = _oracle("irrCAC.raw")
    pd = _oracle("pandas")
    ratings = _random_with_gaps(seed, used=used)
    frame = pd.DataFrame([[np.nan if v is None else v for v in r] for r in ratings])
    cats = [1, 2, 3, 4, 5]
    for weights in ("identity", "linear", "quadratic"):
        ours = gwet_ac(ratings, weights=None if weights == "identity" else weights, categories=cats)
        ref = raw.CAC(frame, weights=weights, categories=cats, digits=10).gwet()["est"]
        assert ours.value == pytest.approx(ref["coefficient_value"], abs=1e-8)
        assert ours.se == pytest.approx(ref["se"], abs=1e-8)
        assert (ours.ci_low, ours.ci_high) == pytest.approx(ref["confidence_interval"], abs=1e-6)
    ref = raw.CAC(frame, categories=cats, digits=10).fleiss()["est"]
    ours = fleiss_kappa(ratings, categories=cats)
    assert ours.value == pytest.approx(ref["coefficient_value"], abs=1e-8)
    assert ours.se == pytest.approx(ref["se"], abs=1e-8)


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_krippendorff_unused_categories_change_nothing(level) -> None:
    """Published values of the "C" data hold with unused categories added (6, 7) and with
    the 5s moved to 6 so that 5 is an unused category inside the scale."""
    expected = {"nominal": 0.743, "ordinal": 0.815}[level]
    wide = krippendorff_alpha(KRIPPENDORFF_C, level=level, bootstrap=0, categories=range(1, 8))
    assert wide.value == pytest.approx(expected, abs=5e-4)
    moved = [tuple(6 if v == 5 else v for v in row) for row in KRIPPENDORFF_C]
    gap = krippendorff_alpha(moved, level=level, bootstrap=0, categories=[1, 2, 3, 4, 5, 6])
    assert gap.value == pytest.approx(expected, abs=5e-4)
    rows = [r for r in st._rows(moved) if sum(v is not None for v in r) >= 2]
    data, domain = st._coded(rows, level, [1, 2, 3, 4, 5, 6])
    engine = st._alpha_from_coincidences(
        st._unit_coincidences(data, domain).sum(axis=0)[None], domain, level
    )[0]
    assert engine == pytest.approx(gap.value)


@pytest.mark.parametrize("seed", [0, 1])
def test_icc_matches_pingouin(seed) -> None:
    pg = _oracle("pingouin")
    pd = _oracle("pandas")
    rng = np.random.default_rng(seed)
    truth = rng.normal(50, 8, 20)
    ratings = [[t + rng.normal(bias, 2) for bias in (0, 1.5, -1)] for t in truth]
    long = pd.DataFrame(
        [(i, j, v) for i, row in enumerate(ratings) for j, v in enumerate(row)],
        columns=["exam", "rater", "mm"],
    )
    ref = pg.intraclass_corr(long, targets="exam", raters="rater", ratings="mm").set_index("Type")
    ci = "CI95%" if "CI95%" in ref.columns else "CI95"
    for form, names in [("ICC2,1", ("ICC2", "ICC(A,1)")), ("ICC3,1", ("ICC3", "ICC(C,1)"))]:
        name = next(n for n in names if n in ref.index)  # pingouin 0.6 renamed the rows
        est = icc(ratings, form=form)
        assert est.value == pytest.approx(ref.loc[name, "ICC"], abs=1e-9)
        low, high = ref.loc[name, ci]
        assert (est.ci_low, est.ci_high) == pytest.approx((low, high), abs=6e-3)  # 2 decimals


# --- from the audit store --------------------------------------------------------------------

CHECKLIST = "acr-mammo-positioning"
DAY = dt.date(2025, 3, 4)


@pytest.fixture
def checklist():
    return find_checklist(CHECKLIST)


def _reviewers(db, *names: str) -> list[int]:
    with db.transaction() as s:
        return [store.create_reviewer(s, n, "team_leader", n[:2].upper()).id for n in names]


def _studies(db, n: int, day: dt.date = DAY) -> list[int]:
    with db.transaction() as s:
        rows = [
            Study(
                study_uid=f"1.2.{i}",
                procedure_date=day + dt.timedelta(days=i),
                kind="mammo",
                technologist="SMITH^JANE" if i % 2 else "DOE^JO",
            )
            for i in range(n)
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def _read(db, checklist, study_pk, reviewer_pk, fails=(), nas=(), pnl=None, complete=True):
    """A complete audit: every pass/fail key "pass" (one transaction, for speed), then the
    listed fails and n/a through the recorder, as a reviewer would change them."""
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    with db.transaction() as s:
        for key in answer_keys(checklist):
            if item_for_key(checklist, key).type == "pass_fail":
                store.set_answer(s, audit.audit_pk, key, "pass", reviewer_pk)
        save_computed_score(s, audit.audit_pk, reviewer_pk=reviewer_pk)
    for key in fails:
        audit.answer(key, "fail")
    for key in nas:
        audit.answer(key, "na")
    if pnl is not None:
        audit.measure(
            "RMLO:pnl_mm",
            value_mm=pnl,
            value_px=pnl * 10,
            calibration_source="pixel_spacing",
            sop_uid=None,
        )
    if complete:
        audit.complete()
    return audit


# Known disagreements on RCC:compression over six exams (A, B) and a third reader C on four.
COMPRESSION_A = ["fail", "pass", "pass", "fail", "pass", "pass"]
COMPRESSION_B = ["fail", "fail", "pass", "pass", "pass", "pass"]
COMPRESSION_C = ["fail", "fail", "pass", "fail"]


@pytest.fixture
def reads(db, checklist):
    a, b, c = _reviewers(db, "Ann Lead", "Bo Coach", "Cy Tech")
    studies = _studies(db, 7)
    for i, pk in enumerate(studies[:6]):
        _read(
            db, checklist, pk, a, fails=("RCC:compression",) if COMPRESSION_A[i] == "fail" else ()
        )
        _read(
            db,
            checklist,
            pk,
            b,
            fails=("RCC:compression",) if COMPRESSION_B[i] == "fail" else (),
            nas=("LMLO:imf_open",) if i == 5 else (),
        )
    for i, pk in enumerate(studies[:4]):
        _read(
            db, checklist, pk, c, fails=("RCC:compression",) if COMPRESSION_C[i] == "fail" else ()
        )
    _read(db, checklist, studies[6], a)  # single read: never counts
    _read(db, checklist, studies[6], b, complete=False)  # in progress: never counts
    return {"reviewers": (a, b, c), "studies": studies}


# Worked by hand for the six exams A and B both read, scale pass, fail (q = 2; N/A is not a
# rating on the scale and joins the categories only where someone answered it):
# RCC:compression, rows A, columns B: pass/pass 3 (exams 2, 4, 5), pass/fail 1 (exam 1),
# fail/pass 1 (exam 3), fail/fail 1 (exam 0); nobody answered na.
# p_o = 4/6 = 2/3; marginals A = B = (pass 4/6, fail 2/6): p_e = 4/9 + 1/9 = 5/9;
# kappa = (2/3 - 5/9) / (1 - 5/9) = (1/9)/(4/9) = 1/4.
# AC1: pi = (2/3, 1/3), sum pi(1-pi) = 2/9 + 2/9 = 4/9, p_e = (4/9)/(q-1) = 4/9,
# AC1 = (2/3 - 4/9)/(1 - 4/9) = (2/9)/(5/9) = 2/5 (irrCAC with categories pass, fail: 0.4).
# Meets criteria (scale True, False; q = 2) disagrees exactly where compression does: kappa
# 1/4 and AC1 = (2/3 - 4/9)/(1 - 4/9) = (2/9)/(5/9) = 2/5.
# LMLO:imf_open: A pass 6 times, B pass 5 times and na once (na joins the categories):
# p_o = 5/6 = p_e = 1 · 5/6, kappa = 0.


def test_rating_table_and_kappa_from_the_store(db, reads) -> None:
    a, b, _c = reads["reviewers"]
    flt = AgreementFilter(CHECKLIST, reviewer_pks=(a, b))
    with db.session() as s:
        studies, reviewers, matrix = rating_table(s, flt, "RCC:compression")
        assert target_scale(s, flt, "RCC:compression") == ["pass", "fail"]
        assert target_scale(s, flt, "LMLO:imf_open") == ["pass", "fail", "na"]
        rows = {r.target: r for r in agreement_report(s, flt, bootstrap=50)}
    assert studies == reads["studies"][:6] and reviewers == [a, b]
    assert [r[0] for r in matrix] == COMPRESSION_A
    assert [r[1] for r in matrix] == COMPRESSION_B
    row = rows["RCC:compression"]
    assert row.kind == "nominal" and row.n_subjects == 6 and row.n_raters == 2
    assert row.kappa.value == pytest.approx(1 / 4, abs=1e-12)
    ir = _oracle("statsmodels.stats.inter_rater")
    assert row.kappa.se == pytest.approx(math.sqrt(ir.cohens_kappa([[3, 1], [1, 1]]).var_kappa))
    assert row.percent.value == pytest.approx(4 / 6)
    assert row.confusion == (["pass", "fail"], [[3, 1], [1, 1]])
    assert row.ac1.value == pytest.approx(2 / 5, abs=1e-12)
    meets = rows["score:meets_criteria"]
    assert meets.kappa.value == pytest.approx(1 / 4, abs=1e-12)
    assert meets.ac1.value == pytest.approx(2 / 5, abs=1e-12)
    # An N/A that was given is a disagreement: one out of six on LMLO:imf_open.
    imf = rows["LMLO:imf_open"]
    assert imf.percent.value == pytest.approx(5 / 6)
    assert imf.confusion == (["pass", "fail", "na"], [[5, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert imf.kappa.value == pytest.approx(0.0, abs=1e-12)


# Three readers on RCC:compression (C read exams 0-3), per exam (pass, fail) counts:
# (0,3) (1,2) (3,0) (1,2) (2,0) (2,0). Per-exam pair agreement sum n_k(n_k-1)/(r(r-1)):
# 1, 1/3, 1, 1/3, 1, 1, mean p_a = 7/9. pi = mean of n_k/r: pass (0 + 1/3 + 1 + 1/3 + 1 + 1)/6
# = 11/18, fail 7/18 (q = 2). Fleiss: p_e = (11/18)² + (7/18)² = 170/324, kappa = (252 - 170)/
# (324 - 170) = 41/77. AC1: p_e = (2·77/324)/(q-1) = 154/324, AC1 = (252 - 154)/(324 - 154)
# = 98/170 = 49/85. (irrCAC with categories pass, fail: 0.5324675325 and 0.5764705882.)


def test_report_order_and_three_readers(db, reads, checklist) -> None:
    with db.session() as s:
        report = agreement_report(s, AgreementFilter(CHECKLIST), bootstrap=50)
    targets = [r.target for r in report]
    assert targets[0] == "overall"
    keys = [k for k in answer_keys(checklist) if item_for_key(checklist, k).type == "pass_fail"]
    assert [t for t in targets if t in keys] == keys  # checklist order
    assert "compression" in targets and "score:meets_criteria" in targets
    row = next(r for r in report if r.target == "RCC:compression")
    assert row.n_raters == 3 and row.kappa is None  # more than two readers: Fleiss, not Cohen
    assert row.fleiss.value == pytest.approx(41 / 77, abs=1e-12)
    assert row.ac1.value == pytest.approx(49 / 85, abs=1e-12)
    assert row.fleiss.se == pytest.approx(0.2664151862, abs=1e-9)  # irrCAC
    assert row.ac1.se == pytest.approx(0.3047033471, abs=1e-9)  # irrCAC
    overall = report[0]
    assert overall.n_subjects == 6 * len(keys)  # every pass/fail key of every double-read exam


PIQUAL = "pi-qual-v1"


def _piqual_read(db, checklist, study_pk, reviewer_pk, t2w_quality) -> None:
    """A complete PI-QUAL v1 read: the given T2W quality, DWI/DCE quality 3, all else pass."""
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if item.type == "pass_fail":
            audit.answer(key, "pass")
        elif item.type == "ordinal":
            audit.answer(key, t2w_quality if key == "T2W:quality" else 3)
    audit.complete()


def test_report_uses_the_items_full_scale(db) -> None:
    """Issue 12's example through the store: PI-QUAL v1 T2W quality, nobody chose 1.
    Expected values are worked by hand above (test_full_scale_worked_example_by_hand)."""
    checklist = find_checklist(PIQUAL)
    a, b = _reviewers(db, "Ann Lead", "Bo Coach")
    with db.transaction() as s:
        rows = [
            Study(study_uid=f"1.3.{i}", procedure_date=DAY + dt.timedelta(days=i), kind="mr")
            for i in range(4)
        ]
        s.add_all(rows)
        s.flush()
        studies = [r.id for r in rows]
    for pk, x, y in zip(studies, T2W_A, T2W_B, strict=True):
        _piqual_read(db, checklist, pk, a, x)
        _piqual_read(db, checklist, pk, b, y)
    flt = AgreementFilter(PIQUAL)
    with db.session() as s:
        report = {r.target: r for r in agreement_report(s, flt, bootstrap=50)}
        _, _, matrix = rating_table(s, flt, "T2W:quality")
        scale = target_scale(s, flt, "T2W:quality")
        pairs = pairwise_matrix(s, flt, "T2W:quality")
        trend = agreement_trend(s, flt, "T2W:quality", weeks_per_point=52)
    assert matrix == [list(p) for p in zip(T2W_A, T2W_B, strict=True)]
    assert scale == PIQUAL_SCALE
    row = report["T2W:quality"]
    assert row.kind == "ordinal" and row.confusion[0] == PIQUAL_SCALE
    assert round(row.weighted_kappa.value, 4) == 0.8333  # quadratic, 5/6
    assert row.weighted_kappa.value == pytest.approx(5 / 6, abs=1e-12)
    assert round(row.ac1.value, 4) == 0.8605  # AC2 quadratic, 37/43
    assert row.ac1.value == pytest.approx(37 / 43, abs=1e-12)
    # Unweighted kappa: p_o = 2/4, p_e = (1/4)² + (1/4)² + (1/2)² = 3/8, kappa = (1/8)/(5/8).
    assert row.kappa.value == pytest.approx(1 / 5, abs=1e-12)
    assert pairs[(a, b)].value == pytest.approx(1 / 5, abs=1e-12)
    assert [e.value for _, e in trend] == pytest.approx([1 / 5])


def test_off_scale_values_are_kept_and_text_is_read_on_the_scale() -> None:
    """An answer "2" (text) is the option 2; a value the scale lacks (older checklist) stays a
    category of its own after the scale instead of breaking the report."""
    target = ag._Target("T2W:quality", "T2W quality", "ordinal", PIQUAL_SCALE)
    matrix, cats = ag._scale(target, [["2", 3], [None, 9]])
    assert matrix == [[2, 3], [None, 9]] and cats == [0, 1, 2, 3, 9]


def test_filters_dates_and_purpose(db, reads) -> None:
    a, b, _c = reads["reviewers"]
    late = DAY + dt.timedelta(days=3)
    with db.session() as s:
        studies, _, _ = rating_table(s, AgreementFilter(CHECKLIST, start=late), "RCC:compression")
        assert studies == reads["studies"][3:6]
        tech = AgreementFilter(CHECKLIST, technologist="SMITH^JANE")
        studies, _, _ = rating_table(s, tech, "RCC:compression")
        assert studies == [pk for i, pk in enumerate(reads["studies"][:6]) if i % 2]
        pairs = pairwise_matrix(s, AgreementFilter(CHECKLIST))
    if hasattr(Audit, "purpose"):  # a consensus read of exam 7 is not a second reviewer's read
        with db.transaction() as s:
            version = snapshot_checklist(s, find_checklist(CHECKLIST))
            audit = store.open_audit(s, reads["studies"][6], b, version.id, purpose="consensus")
            s.get(Audit, audit.id).status = "complete"
        with db.session() as s:
            studies, _, _ = rating_table(s, AgreementFilter(CHECKLIST), "score:meets_criteria")
        assert reads["studies"][6] not in studies
    with db.session() as s:
        assert set(pairs) == {(a, b), (a, reads["reviewers"][2]), (b, reads["reviewers"][2])}
        trend = agreement_trend(
            s, AgreementFilter(CHECKLIST, reviewer_pks=(a, b)), weeks_per_point=1
        )
    assert [d.weekday() for d, _ in trend] == [6] * len(trend)  # Sunday weeks
    assert sum(e.n_subjects for _, e in trend) == 6


def test_measurements_give_icc(db, checklist) -> None:
    a, b = _reviewers(db, "Ann Lead", "Bo Coach")
    pnl_a = [101.0, 95.5, 120.0, 88.0, 110.0]
    pnl_b = [103.0, 94.0, 118.5, 90.0, 111.5]
    for pk, x, y in zip(_studies(db, 5), pnl_a, pnl_b, strict=True):
        _read(db, checklist, pk, a, pnl=x)
        _read(db, checklist, pk, b, pnl=y)
    with db.session() as s:
        rows = {r.target: r for r in agreement_report(s, AgreementFilter(CHECKLIST), bootstrap=50)}
    row = rows["measure:RMLO:pnl_mm"]
    assert row.kind == "interval" and row.n_subjects == 5
    # Two-way ANOVA by hand (n = 5 exams, k = 2 readers): grand mean 103.15; exam means
    # 102, 94.75, 119.25, 89, 110.75; reader means 102.9, 103.4.
    # SS_rows = 2·Σ(exam mean - 103.15)² = 1178.15, SS_cols = 5·(0.25² + 0.25²) = 0.625,
    # SS_total = 1185.525, SS_err = 6.75; MSR = 294.5375, MSC = 0.625, MSE = 6.75/4 = 1.6875.
    # ICC(2,1) = (MSR - MSE) / (MSR + MSE + 2(MSC - MSE)/5) = 292.85 / 295.8 = 0.990027.
    assert row.icc.value == pytest.approx(292.85 / 295.8, abs=1e-12)
    pg, pd = _oracle("pingouin"), _oracle("pandas")
    long = pd.DataFrame(
        [
            (i, j, v)
            for i, pair in enumerate(zip(pnl_a, pnl_b, strict=True))
            for j, v in enumerate(pair)
        ],
        columns=["exam", "rater", "mm"],
    )
    ref = pg.intraclass_corr(long, targets="exam", raters="rater", ratings="mm").set_index("Type")
    ref_row = ref.loc["ICC2" if "ICC2" in ref.index else "ICC(A,1)"]
    assert row.icc.value == pytest.approx(ref_row["ICC"], abs=1e-12)
    low, high = ref_row["CI95%" if "CI95%" in ref.columns else "CI95"]
    assert (row.icc.ci_low, row.icc.ci_high) == pytest.approx((low, high), abs=6e-3)
    assert "RMLO:pnl_mm" not in rows  # the measured number is reported once, as measure:


def test_csv_and_cli(db, reads, tmp_path) -> None:
    from auditdesk.cli import main

    with db.session() as s:
        rows = agreement_report(s, AgreementFilter(CHECKLIST), bootstrap=20)
    path = tmp_path / "agreement.csv"
    assert write_agreement_csv(rows, path) == len(rows)
    with open(path, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert table[0]["target"] == "overall"
    assert {"kappa", "kappa_ci_low", "kappa_landis_koch", "ac1", "alpha", "icc"} <= set(table[0])
    text = path.read_text(encoding="utf-8")
    assert "1.2." not in text and "SMITH" not in text and "Ann Lead" not in text  # no PHI

    url = db.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "cli.csv"
    argv = ["--db", url, "agreement", "-o", str(out), "--checklist", CHECKLIST]
    assert main([*argv, "--reviewers", "Ann Lead,Bo Coach"]) == 0
    assert out.exists()
    assert main([*argv, "--from", "2030-01-01"]) == 1
    assert main([*argv, "--reviewers", "Nobody"]) == 2
