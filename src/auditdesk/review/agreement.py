"""Reviewer agreement from the audit store: do our reviewers agree on this criterion?

Data extraction: the effective answers of COMPLETE review audits of one checklist, subject =
exam (or exam x view for item-level rows), rater = reviewer. Every categorical target carries
the item's full scale (all options it defines, in scale order), which is handed to every
coefficient: weighted kappa and Gwet's AC1/AC2 change when a category nobody used is dropped
(see :mod:`auditdesk.review.agreement_stats`,
where the coefficients live; they are re-exported here).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.checklists.effective import apply_overrides, effective_answers, newest_overrides
from auditdesk.review.agreement_stats import (
    LEVELS,
    WEIGHTS,
    Estimate,
    _categories,
    _none,
    cohen_kappa,
    confusion,
    f_cdf,
    f_quantile,
    fleiss_kappa,
    gwet_ac,
    icc,
    krippendorff_alpha,
    landis_koch,
    percent_agreement,
    prevalence,
    ratings_from_counts,
    release_bootstrap_weights,
    t_quantile,
)

__all__ = [
    "LEVELS",
    "WEIGHTS",
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
    "target_scale",
    "write_agreement_csv",
]

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
    from auditdesk.reading.auditing import stored_checklist
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
        from auditdesk.qi.site import technologist_resolver

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
    overrides = newest_overrides(
        session.execute(
            select(AuditOverride.audit_pk, AuditOverride.field, AuditOverride.value)
            .where(AuditOverride.audit_pk.in_(ids))
            .order_by(AuditOverride.id)
        )
    )
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
            answers = effective_answers(result)
        verdict = apply_overrides(meets, grade, overrides.get(r.id, {}))
        meets, grade = verdict.meets_criteria, verdict.grade
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
    """The item's full scale in scale order: every rating it allows, used or not (weighted
    kappa and AC1/AC2 depend on it; see :mod:`auditdesk.review.agreement_stats`).

    A pass/fail item's scale is pass, fail. N/A is not a rating on that scale (the checklist's
    N/A rule leaves it out of the pass test), so an N/A no one gave does not change the chance
    correction; an N/A that was given is kept as an extra category (:func:`_scale`), so a
    reader's N/A against another's pass still counts as a disagreement.
    """
    if item.type == "pass_fail":
        return ["pass", "fail"]
    if item.type in ("choice", "ordinal"):
        return [o.value for o in item.options]
    return None


def _target(data: _Data, target: str) -> _Target:
    """The target's kind and full scale (an unknown target: nominal, observed values only)."""
    found = next((t for t in _targets(data) if t.target == target), None)
    return found or _Target(target, target, "nominal", None)


def _scale(t: _Target, matrix: list[list[Any]]) -> tuple[list[list[Any]], list[Any]]:
    """(matrix with values on the target's scale, the full category list).

    A value equal to an option only as text (``"2"`` for 2) is read as that option; a value
    the scale lacks (an answer from an older checklist version) is kept as an extra category
    after the scale, so it still counts as a disagreement instead of failing the report.
    """
    if not t.categories:
        return matrix, _categories([v for r in matrix for v in r], None)
    cats = list(t.categories)
    by_text = {str(c): c for c in cats}

    def on_scale(v: Any) -> Any:
        if v is None or v in cats:
            return v
        return by_text.get(str(v), v)

    scaled = [[on_scale(v) for v in r] for r in matrix]
    extra = _categories([v for r in scaled for v in r if v is not None and v not in cats], None)
    return scaled, cats + extra


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
    measured mm. For item ids pooled across views one study appears once per view. Values are
    on the item's scale (see :func:`target_scale`, the categories to compute coefficients with).
    """
    data = _load(session, flt, measurements=target.startswith("measure:"))
    if data is None:
        return [], [], []
    subjects, reviewers, matrix = _table(data, target)
    studies = [s[0] if isinstance(s, tuple) else s for s in subjects]
    return studies, reviewers, _scale(_target(data, target), matrix)[0]


def target_scale(session: Session, flt: AgreementFilter, target: str) -> list[Any]:
    """The categories of a target in scale order: every option the item defines (used or not)
    plus any off-scale value found, the list to give weighted kappa and AC1/AC2 for the
    matrix of :func:`rating_table`; observed values for targets without a scale."""
    data = _load(session, flt, measurements=target.startswith("measure:"))
    if data is None:
        return []
    return _scale(_target(data, target), _table(data, target)[2])[1]


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
    doubled, cats = _scale(t, doubled)  # the full scale: unused categories change AC2, wκ
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
    try:
        for t in _targets(data):
            _, _, matrix = _table(data, t.target)
            rows.append(_agreement(t, matrix, bootstrap, seed))
    finally:
        release_bootstrap_weights()  # the draws shared by the criteria of this report
    return rows


def pairwise_matrix(
    session: Session, flt: AgreementFilter, target: str = MEETS
) -> dict[tuple[int, int], Estimate]:
    """Cohen's kappa for every pair of reviewers (lower pk first) who read common exams."""
    data = _load(session, flt, measurements=target.startswith("measure:"))
    if data is None:
        return {}
    _, reviewers, matrix = _table(data, target)
    matrix, cats = _scale(_target(data, target), matrix)
    out: dict[tuple[int, int], Estimate] = {}
    for i, a in enumerate(reviewers):
        for j in range(i + 1, len(reviewers)):
            both = [(r[i], r[j]) for r in matrix if r[i] is not None and r[j] is not None]
            if both:
                x, y = [x for x, _ in both], [y for _, y in both]
                out[(a, reviewers[j])] = cohen_kappa(x, y, categories=cats)
    return out


def agreement_trend(
    session: Session, flt: AgreementFilter, target: str = MEETS, *, weeks_per_point: int = 4
) -> list[tuple[dt.date, Estimate]]:
    """Kappa per block of ``weeks_per_point`` Sunday weeks (by procedure date), oldest first:
    Cohen's kappa when the block has exactly two reviewers, else Fleiss' kappa."""
    from auditdesk.reading.weeks import week_start

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
    t = _target(data, target)
    out = []
    for start, studies in sorted(blocks.items()):
        matrix, cats = _scale(t, _table(data, target, studies)[2])
        pair = _pair(matrix)
        kappa = cohen_kappa(*pair, categories=cats) if pair else fleiss_kappa(matrix, cats)
        out.append((start, kappa))
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
