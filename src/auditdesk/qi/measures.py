"""The collaborative measure: share of audited exams that meet criteria, by week and by group.

What counts (domain notes §1.2, and the rule :func:`counted_audit_rule` states for reports):

* **Complete audits of one checklist.** In-progress audits never count. A complete audit whose
  effective "meets criteria" (the reviewer's override when there is one, else the computed
  result) is undecided is skipped: it counts in no numerator, denominator or breakdown.
* **One result per exam.** Double reads must not count an exam twice. A coach's complete
  consensus audit (issue 6, ``auditdesk.review.adjudication``) settles the exam and counts first;
  otherwise the primary reviewer's audit when the sample named one who completed it, else the
  earliest completed audit (then the lowest audit id).
* **Reads and consensus only.** Only audits with purpose "review" or "consensus" count; a
  coach's "reference" audits (answers for a calibration set) never do.
* **Not evaluable apart.** An exam whose counted audit is not evaluable (a view or sequence
  not assessed: every required item N/A or unanswered, or not in the exam; the checklist's N/A
  rule, :mod:`auditdesk.checklists.evaluability`) is in no numerator or denominator; every rate
  carries the count of such exams, and weeks carry their reasons. A meets-criteria override is
  an explicit decision and makes the exam count again.
* **Weeks by procedure date.** An exam belongs to the Sunday-Saturday week of the day it was
  performed, never the day it was audited; an exam with no procedure date has no week and is
  left out.
* **A few queries.** Audits, scores, overrides and checklist versions are each read once and
  joined in Python, so thousands of audits summarise quickly.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.checklists.effective import apply_overrides, effective_answers, newest_overrides
from auditdesk.checklists.evaluability import not_evaluable_reasons
from auditdesk.checklists.schema import Checklist, PassFailItem
from auditdesk.checklists.validate import parse_key
from auditdesk.reading.auditing import stored_checklist
from auditdesk.reading.weeks import week_start
from auditdesk.store.models import (
    Audit,
    AuditOverride,
    AuditScore,
    ChecklistVersion,
    Reviewer,
    Study,
)

__all__ = [
    "COUNTED_PURPOSES",
    "CriterionRow",
    "ExamResult",
    "Rate",
    "WeekRow",
    "by_criterion",
    "by_evaluator",
    "by_group",
    "by_location",
    "by_technologist",
    "counted_audit_rule",
    "exam_results",
    "make_rate",
    "measured_weeks",
    "overall",
    "pass_fail_items",
    "weekly",
    "wilson",
]

#: Audit purposes that count in the measure ("reference" audits never do).
COUNTED_PURPOSES = ("review", "consensus")

#: z for a two-sided 95 % interval.
Z95 = 1.959964


@dataclass(frozen=True)
class ExamResult:
    """One audited exam as it counts in the measure (one per study)."""

    study_pk: int
    study_uid: str
    procedure_date: dt.date
    week_start: dt.date
    technologist: str | None
    location: str | None
    evaluator: str
    audit_pk: int
    checklist_id: str
    # None when the exam is not evaluable (see ``not_evaluable_reasons``).
    meets: bool | None
    double_read: bool
    criteria: dict[str, str]
    learning_opportunity: bool
    # True when the counted audit is a coach's consensus audit (the reads disagreed).
    consensus: bool = False
    not_evaluable_reasons: tuple[str, ...] = ()

    @property
    def evaluable(self) -> bool:
        """False when the counted audit could not judge the exam: out of every rate."""
        return self.meets is not None


@dataclass(frozen=True)
class Rate:
    """x of n with its Wilson 95 % interval; rate and interval are None when n is 0.

    ``not_evaluable`` exams of the same group are in neither x nor n; they are counted apart so
    that every table shows them.
    """

    numerator: int
    denominator: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    not_evaluable: int = 0


@dataclass(frozen=True)
class WeekRow:
    """One reporting week (Sunday start) with the exams performed in it."""

    week_start: dt.date
    rate: Rate
    # Why exams of the week were not evaluable: reason -> number of exams.
    not_evaluable_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CriterionRow:
    """One criterion across exams; its rate is passed / (passed + failed), n/a left out."""

    criterion: str
    label: str
    passed: int
    failed: int
    not_applicable: int
    rate: Rate


def counted_audit_rule() -> str:
    """One sentence for reports: which audit counts when an exam was read more than once."""
    return (
        "Each exam counts once, in the Sunday-Saturday week of its procedure date: a coach's "
        "complete consensus audit when the reads were adjudicated, else the primary "
        "reviewer's complete audit when the sample named a primary reviewer who completed one, "
        "otherwise the earliest completed audit; in-progress audits, audits without a decided "
        "result, calibration reference audits and exams without a procedure date are not "
        "counted. An exam whose counted audit is not evaluable (a view or sequence not "
        "assessed: all its required items N/A or unanswered, or not in the exam) is left out "
        "of the numerator and the denominator and counted apart."
    )


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for x of n: unlike the Wald interval it stays inside [0, 1] and is
    usable for the small weekly samples (5-20 exams) a site audits. ``n`` must be positive."""
    if n <= 0 or not 0 <= x <= n:
        raise ValueError(f"need 0 <= x <= n and n > 0, got x={x}, n={n}")
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Exact ends at 0/n and n/n (the formula leaves rounding dust like 0.9999999999999999).
    low = 0.0 if x == 0 else max(0.0, centre - half)
    high = 1.0 if x == n else min(1.0, centre + half)
    return low, high


def make_rate(x: int, n: int, not_evaluable: int = 0) -> Rate:
    """A :class:`Rate`; n = 0 gives rate and interval None (nothing was audited)."""
    if n == 0:
        return Rate(0, 0, None, None, None, not_evaluable)
    low, high = wilson(x, n)
    return Rate(x, n, x / n, low, high, not_evaluable)


def overall(results: list[ExamResult]) -> Rate:
    """The rate over these exams: evaluable ones in x/n, the others counted apart."""
    decided = [r.meets for r in results if r.meets is not None]
    return make_rate(sum(decided), len(decided), len(results) - len(decided))


def exam_results(
    session: Session,
    checklist_id: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    technologist_of: Callable[[str | None], str | None] = lambda raw: raw,
    location_of: Callable[[str | None], str | None] = lambda tech: None,
    primary_of: Callable[[int], int | None] = lambda study_pk: None,
) -> list[ExamResult]:
    """One result per audited exam (see :func:`counted_audit_rule`), oldest procedure first.

    Four queries whatever the number of audits; ``primary_of`` is asked only for exams with
    more than one usable audit, since a single audit counts whoever made it.
    """
    complete = (
        Audit.checklist_id == checklist_id,
        Audit.status == "complete",
        Audit.purpose.in_(COUNTED_PURPOSES),
    )
    dated = [Study.procedure_date.is_not(None)]
    if start is not None:
        dated.append(Study.procedure_date >= start)
    if end is not None:
        dated.append(Study.procedure_date <= end)

    audits = session.execute(
        select(
            Audit.id,
            Audit.study_pk,
            Audit.reviewer_pk,
            Audit.checklist_version_pk,
            Audit.completed_at,
            Audit.learning_opportunity,
            Audit.purpose,
            Reviewer.name,
            Study.study_uid,
            Study.procedure_date,
            Study.technologist,
        )
        .join(Study, Study.id == Audit.study_pk)
        .join(Reviewer, Reviewer.id == Audit.reviewer_pk)
        .where(*complete, *dated)
    ).all()
    if not audits:
        return []

    # The audit's own-version current score, as audit_state reports it.
    scores: dict[int, tuple[bool | None, dict[str, Any]]] = {}
    for audit_pk, meets, result in session.execute(
        select(AuditScore.audit_pk, AuditScore.meets_criteria, AuditScore.result)
        .join(Audit, Audit.id == AuditScore.audit_pk)
        .join(Study, Study.id == Audit.study_pk)
        .where(
            *complete,
            *dated,
            AuditScore.is_current.is_(True),
            AuditScore.checklist_version_pk == Audit.checklist_version_pk,
        )
        .order_by(AuditScore.id)
    ):
        scores[audit_pk] = (meets, result or {})

    # Newest meets_criteria override per audit; a None value means "back to the computed".
    overrides = newest_overrides(
        session.execute(
            select(AuditOverride.audit_pk, AuditOverride.field, AuditOverride.value)
            .join(Audit, Audit.id == AuditOverride.audit_pk)
            .join(Study, Study.id == Audit.study_pk)
            .where(*complete, *dated, AuditOverride.field == "meets_criteria")
            .order_by(AuditOverride.id)
        )
    )

    version_pks = {row.checklist_version_pk for row in audits}
    checklists = {
        v.id: stored_checklist(v)
        for v in session.scalars(
            select(ChecklistVersion).where(ChecklistVersion.id.in_(version_pks))
        )
    }

    def reasons_of(row: Any) -> list[str]:
        result = scores.get(row.id, (None, {}))[1]
        if "evaluable" in result:
            return list(result.get("not_evaluable") or ())
        # A score stored before the N/A rule existed: apply the rule to its stored answers.
        return not_evaluable_reasons(
            checklists[row.checklist_version_pk],
            effective_answers(result, keep_not_applicable=True),
            result.get("not_applicable") or (),
        )

    def outcome(row: Any) -> tuple[bool | None, list[str]] | None:
        """(meets, []) or (None, reasons) for a not-evaluable audit; None when undecided."""
        verdict = apply_overrides(None, None, overrides.get(row.id, {}))
        if verdict.overridden:
            return bool(verdict.meets_criteria), []
        if not scores.get(row.id, (None, {}))[1].get("complete", True):
            return None
        reasons = reasons_of(row)
        if reasons:
            return None, reasons
        meets = scores.get(row.id, (None, {}))[0]
        return None if meets is None else (meets, [])

    outcomes = {row.id: outcome(row) for row in audits}
    by_study: dict[int, list[Any]] = defaultdict(list)
    for row in audits:
        if outcomes[row.id] is not None:
            by_study[row.study_pk].append(row)

    results: list[ExamResult] = []
    for study_pk, rows in by_study.items():
        rows.sort(key=lambda r: (r.completed_at is None, r.completed_at or dt.datetime.min, r.id))
        consensus = [r for r in rows if r.purpose == "consensus"]
        reads = [r for r in rows if r.purpose != "consensus"]
        if consensus:
            chosen = consensus[0]
        else:
            chosen = reads[0]
            if len(reads) > 1:
                primary = primary_of(study_pk)
                chosen = next((r for r in reads if r.reviewer_pk == primary), chosen)
        chosen_outcome = outcomes[chosen.id]
        assert chosen_outcome is not None
        meets, reasons = chosen_outcome
        result = scores.get(chosen.id, (None, {}))[1]
        technologist = technologist_of(chosen.technologist)
        results.append(
            ExamResult(
                study_pk=study_pk,
                study_uid=chosen.study_uid,
                procedure_date=chosen.procedure_date,
                week_start=week_start(chosen.procedure_date),
                technologist=technologist,
                location=location_of(technologist),
                evaluator=chosen.name,
                audit_pk=chosen.id,
                checklist_id=checklist_id,
                meets=meets,
                double_read=len(rows) > 1,
                criteria=_criteria(checklists[chosen.checklist_version_pk], result),
                learning_opportunity=bool(chosen.learning_opportunity),
                consensus=chosen.purpose == "consensus",
                not_evaluable_reasons=tuple(reasons),
            )
        )
    results.sort(key=lambda r: (r.procedure_date, r.study_pk))
    return results


def _criteria(checklist: Checklist, result: dict[str, Any]) -> dict[str, str]:
    """Per pass/fail item across its views: fail if any view fails, else pass if any passes."""
    out: dict[str, str] = {item_id: "na" for item_id in pass_fail_items(checklist)}
    for key, value in effective_answers(result).items():
        try:
            _member, item_id = parse_key(key)
        except ValueError:
            continue
        if item_id not in out:
            continue
        if value == "fail":
            out[item_id] = "fail"
        elif value == "pass" and out[item_id] == "na":
            out[item_id] = "pass"
    return out


def pass_fail_items(checklist: Checklist) -> dict[str, str]:
    """Pass/fail item ids of the checklist in form order, with their labels."""
    items: dict[str, str] = {}
    for section in checklist.sections:
        for item in section.items:
            if isinstance(item, PassFailItem) and item.id not in items:
                items[item.id] = item.label
    return items


def weekly(results: list[ExamResult]) -> list[WeekRow]:
    """The weekly measure (what ACR takes), oldest week first; weeks with no exams are omitted.

    A week whose exams were all not evaluable is kept, with n = 0 and its reasons.
    """
    weeks: dict[dt.date, list[ExamResult]] = defaultdict(list)
    for r in results:
        weeks[r.week_start].append(r)
    rows: list[WeekRow] = []
    for week, exams in sorted(weeks.items()):
        reasons: dict[str, int] = defaultdict(int)
        for r in exams:
            for reason in r.not_evaluable_reasons:
                reasons[reason] += 1
        rows.append(WeekRow(week, overall(exams), dict(sorted(reasons.items()))))
    return rows


def measured_weeks(weeks: Sequence[WeekRow]) -> list[WeekRow]:
    """Weeks with at least one evaluable exam: what a p-chart can plot. A week whose exams were
    all not evaluable has no proportion (its count is in the tables and exports instead)."""
    return [w for w in weeks if w.rate.denominator > 0]


def by_group(results: list[ExamResult], key: Callable[[ExamResult], str | None]) -> dict[str, Rate]:
    """Rates per group, sorted by group name; exams whose key is None are left out."""
    groups: dict[str, list[ExamResult]] = defaultdict(list)
    for r in results:
        k = key(r)
        if k is not None:
            groups[k].append(r)
    return {k: overall(v) for k, v in sorted(groups.items())}


def by_technologist(results: list[ExamResult]) -> dict[str, Rate]:
    """Rates per technologist (as resolved by ``technologist_of``)."""
    return by_group(results, lambda r: r.technologist)


def by_evaluator(results: list[ExamResult]) -> dict[str, Rate]:
    """Rates per evaluator: the reviewer of the audit that counted."""
    return by_group(results, lambda r: r.evaluator)


def by_location(results: list[ExamResult]) -> dict[str, Rate]:
    """Rates per location (as resolved by ``location_of``)."""
    return by_group(results, lambda r: r.location)


def by_criterion(results: list[ExamResult], checklist: Checklist) -> list[CriterionRow]:
    """Pass/fail counts per criterion, in checklist order with the checklist's labels.

    Only evaluable exams count, like the measure itself.
    """
    rows: list[CriterionRow] = []
    evaluable = [r for r in results if r.evaluable]
    for item_id, label in pass_fail_items(checklist).items():
        values = [r.criteria.get(item_id) for r in evaluable]
        passed, failed = values.count("pass"), values.count("fail")
        rows.append(
            CriterionRow(
                criterion=item_id,
                label=label,
                passed=passed,
                failed=failed,
                not_applicable=values.count("na"),
                rate=make_rate(passed, passed + failed),
            )
        )
    return rows
