"""Adjudication and calibration (issue 6): where double reads disagree, the coach's consensus,
and calibration sets with reference answers.

* **Disagreements.** For exams with two or more complete *review* audits of one checklist, every
  answer key whose effective answer (the stored current score's ``effective_answers``: explicit
  answers, else computed values) differs between the reads, plus "meets_criteria" when the
  effective results differ (overrides included). Pass/fail, choice and ordinal items are
  compared; numbers (measurements differ by a millimetre every time) and free text are not: their
  spread is what the agreement statistics (``auditdesk.review.agreement``)
  describe. A key that one read
  answered and another left unanswered or not applicable counts only when at least two reads
  answered it differently.
* **Consensus.** A coach adjudicates an exam in an audit of its own (purpose "consensus"):
  answers every read agrees on are prefilled (source "consensus", attributed to the coach), the
  disagreeing ones are left for the coach, and each decision needs a reason, kept in the audit's
  comment (one line per decision, with the history event of who and when). Once complete, the
  consensus audit is what the measure counts for the exam (``measures.counted_audit_rule``).
* **Calibration.** A calibration set names exams; the coach records reference answers for each
  (audits with purpose "reference", which never count in the measure nor in agreement between
  reviewers); a reviewer's own complete reads of the same exams are compared with them: per key,
  percent agreement and Cohen's kappa.

No Qt; the GUI and the CLI (``auditdesk disagreements``, ``consensus``, ``calibration``) use this.
Exams are labelled by procedure date, kind and pseudonymous exam key: no patient data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.checklists.effective import apply_overrides, effective_answers, newest_overrides
from auditdesk.checklists.rules import answer_keys, item_for_key, normalise_answer
from auditdesk.checklists.schema import Checklist, ChoiceItem, OrdinalItem, PassFailItem
from auditdesk.qi import site
from auditdesk.reading.auditing import AuditingError, AuditSession, stored_checklist
from auditdesk.review.agreement import cohen_kappa
from auditdesk.store import audits as store
from auditdesk.store.db import Database
from auditdesk.store.models import (
    Audit,
    AuditOverride,
    AuditScore,
    CalibrationItem,
    CalibrationSet,
    ChecklistVersion,
    Reviewer,
    Study,
)

__all__ = [
    "MEETS_KEY",
    "CalibrationResult",
    "CalibrationRow",
    "CalibrationSetInfo",
    "Disagreement",
    "calibration_result",
    "calibration_set",
    "calibration_sets",
    "cohen_kappa_value",
    "consensus_audit_pk",
    "create_calibration_set",
    "decide",
    "disagreements",
    "exam_label",
    "exam_reads",
    "open_keys",
    "set_reference",
    "start_consensus",
    "start_reference",
]

#: Key of the derived result in disagreements and calibration rows.
MEETS_KEY = "meets_criteria"
MEETS_LABEL = "Meets criteria"
#: Reason code stored with every answer a coach decided in a consensus audit.
CONSENSUS_REASON = "consensus"
_COMPARED_ITEMS = (PassFailItem, ChoiceItem, OrdinalItem)


# --- plain results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    """One answer key (or "meets_criteria") on which the complete reads of an exam differ."""

    study_pk: int
    exam_label: str
    procedure_date: dt.date | None
    key: str
    label: str
    answers: dict[str, object]  # reviewer name -> effective answer (None: none / not applicable)
    adjudicated: bool = False  # a complete consensus audit of the exam exists


@dataclass(frozen=True)
class CalibrationSetInfo:
    id: int
    name: str
    checklist_id: str
    created_by: int
    created_by_name: str
    created_at: dt.datetime
    study_pks: tuple[int, ...]
    n_references: int  # exams with a complete reference audit


@dataclass(frozen=True)
class CalibrationRow:
    """One key of one exam: the reviewer's answer beside the reference answer."""

    study_pk: int
    exam_label: str
    key: str
    label: str
    reviewer_answer: object
    reference_answer: object
    agrees: bool | None  # None: one of the two has no answer (not counted)


@dataclass(frozen=True)
class CalibrationResult:
    set_id: int
    set_name: str
    checklist_id: str
    reviewer_pk: int
    reviewer_name: str
    rows: list[CalibrationRow]
    n_compared: int  # item rows with both answers ("meets_criteria" rows not included)
    n_agree: int
    percent: float | None  # 0..100 over the compared item rows
    kappa: float | None  # Cohen's kappa (nominal) over the same rows
    meets_compared: int = 0
    meets_agree: int = 0
    exams_not_read: list[int] = field(default_factory=list)  # no complete read by the reviewer
    exams_without_reference: list[int] = field(default_factory=list)


# --- helpers ---------------------------------------------------------------------------------


def exam_label(secret: bytes, study_uid: str, procedure_date: dt.date | None, kind: str) -> str:
    """'2025-01-11 mammo EX-K3J5Q2ZT7M': procedure date, kind and pseudonymous key (no PHI)."""
    date = procedure_date.isoformat() if procedure_date else "undated"
    return f"{date} {kind} {site.exam_key(secret, study_uid)}"


def _key_label(checklist: Checklist | None, key: str) -> str:
    if key == MEETS_KEY:
        return MEETS_LABEL
    if checklist is None:
        return key
    try:
        item = item_for_key(checklist, key)
    except KeyError:
        return key
    member, _, _item_id = key.partition(":")
    return f"{member}: {item.label}" if member else item.label


def _compared(checklist: Checklist | None, key: str) -> bool:
    if checklist is None:
        return False
    try:
        return isinstance(item_for_key(checklist, key), _COMPARED_ITEMS)
    except KeyError:
        return False


def _effective(result: dict[str, Any]) -> dict[str, Any]:
    """Effective answers of a stored score, not-applicable keys left out."""
    return {k: v for k, v in effective_answers(result).items() if v is not None}


@dataclass
class _Read:
    audit_pk: int
    study_pk: int
    reviewer_pk: int
    reviewer_name: str
    version_pk: int
    purpose: str
    status: str
    completed_at: dt.datetime | None
    answers: dict[str, Any] = field(default_factory=dict)
    meets: bool | None = None


def _reads(
    session: Session,
    checklist_id: str,
    purposes: Sequence[str],
    *conditions: Any,
    complete_only: bool = True,
) -> list[_Read]:
    """Audits with their effective answers and effective "meets criteria", in three queries."""
    where = [
        Audit.checklist_id == checklist_id,
        Audit.purpose.in_(tuple(purposes)),
        *conditions,
    ]
    if complete_only:
        where.append(Audit.status == "complete")
    rows = session.execute(
        select(
            Audit.id,
            Audit.study_pk,
            Audit.reviewer_pk,
            Reviewer.name,
            Audit.checklist_version_pk,
            Audit.purpose,
            Audit.status,
            Audit.completed_at,
        )
        .join(Reviewer, Reviewer.id == Audit.reviewer_pk)
        .join(Study, Study.id == Audit.study_pk)
        .where(*where)
        .order_by(Audit.id)
    ).all()
    reads = {row[0]: _Read(*row) for row in rows}
    if not reads:
        return []
    for audit_pk, meets, result in session.execute(
        select(AuditScore.audit_pk, AuditScore.meets_criteria, AuditScore.result)
        .join(Audit, Audit.id == AuditScore.audit_pk)
        .join(Study, Study.id == Audit.study_pk)
        .where(
            *where,
            AuditScore.is_current.is_(True),
            AuditScore.checklist_version_pk == Audit.checklist_version_pk,
        )
        .order_by(AuditScore.id)
    ):
        reads[audit_pk].answers = _effective(result or {})
        reads[audit_pk].meets = meets
    newest = newest_overrides(
        session.execute(
            select(AuditOverride.audit_pk, AuditOverride.field, AuditOverride.value)
            .join(Audit, Audit.id == AuditOverride.audit_pk)
            .join(Study, Study.id == Audit.study_pk)
            .where(*where, AuditOverride.field == MEETS_KEY)
            .order_by(AuditOverride.id)
        )
    )
    for audit_pk, fields in newest.items():
        read = reads[audit_pk]
        read.meets = apply_overrides(read.meets, None, fields).meets_criteria
    return list(reads.values())


def _checklists(session: Session, version_pks: Iterable[int]) -> dict[int, Checklist]:
    pks = set(version_pks)
    if not pks:
        return {}
    return {
        v.id: stored_checklist(v)
        for v in session.scalars(select(ChecklistVersion).where(ChecklistVersion.id.in_(pks)))
    }


def _differ(values: Iterable[Any]) -> bool:
    seen = {repr(v) for v in values if v is not None}
    return len(seen) > 1


# --- disagreements ---------------------------------------------------------------------------


def disagreements(
    session: Session,
    checklist_id: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    reviewer_pks: Sequence[int] = (),
) -> list[Disagreement]:
    """Where complete review audits of the same exam differ, oldest procedure first.

    Only exams with at least two complete review audits (by ``reviewer_pks`` when given) in the
    procedure-date range count. Keys follow the form order of the newest checklist version the
    reads used, then "meets_criteria". ``adjudicated`` tells that a complete consensus audit of
    the exam exists. A handful of queries whatever the number of audits. The exam label uses the
    site secret, created on first use: call this in a session that is committed (or where the
    secret already exists) so labels stay the same between calls.
    """
    conditions: list[Any] = []
    if start is not None:
        conditions.append(Study.procedure_date >= start)
    if end is not None:
        conditions.append(Study.procedure_date <= end)
    if reviewer_pks:
        conditions.append(Audit.reviewer_pk.in_(tuple(reviewer_pks)))
    by_study: dict[int, list[_Read]] = defaultdict(list)
    for read in _reads(session, checklist_id, ("review",), *conditions):
        by_study[read.study_pk].append(read)
    by_study = {pk: reads for pk, reads in by_study.items() if len(reads) >= 2}
    if not by_study:
        return []
    studies = {
        row.id: row
        for row in session.execute(
            select(Study.id, Study.study_uid, Study.procedure_date, Study.kind).where(
                Study.id.in_(by_study)
            )
        )
    }
    adjudicated = set(
        session.scalars(
            select(Audit.study_pk).where(
                Audit.study_pk.in_(by_study),
                Audit.checklist_id == checklist_id,
                Audit.purpose == "consensus",
                Audit.status == "complete",
            )
        )
    )
    checklists = _checklists(session, {r.version_pk for reads in by_study.values() for r in reads})
    secret = site.site_secret(session)

    out: list[Disagreement] = []
    for study_pk, reads in by_study.items():
        study = studies[study_pk]
        label = exam_label(secret, study.study_uid, study.procedure_date, study.kind)
        newest = checklists.get(max(r.version_pk for r in reads))
        keys = answer_keys(newest) if newest is not None else []
        extra = sorted({k for r in reads for k in r.answers} - set(keys))
        reads.sort(key=lambda r: (r.reviewer_name, r.audit_pk))
        for key in [*keys, *extra]:
            if not _compared(newest, key):
                continue
            values = [r.answers.get(key) for r in reads]
            if _differ(values):
                out.append(
                    Disagreement(
                        study_pk=study_pk,
                        exam_label=label,
                        procedure_date=study.procedure_date,
                        key=key,
                        label=_key_label(newest, key),
                        answers={r.reviewer_name: r.answers.get(key) for r in reads},
                        adjudicated=study_pk in adjudicated,
                    )
                )
        if _differ([r.meets for r in reads]):
            out.append(
                Disagreement(
                    study_pk=study_pk,
                    exam_label=label,
                    procedure_date=study.procedure_date,
                    key=MEETS_KEY,
                    label=MEETS_LABEL,
                    answers={r.reviewer_name: r.meets for r in reads},
                    adjudicated=study_pk in adjudicated,
                )
            )
    out.sort(key=lambda d: (d.procedure_date or dt.date.max, d.study_pk))
    return out


def exam_reads(session: Session, study_pk: int, checklist_id: str) -> list[store.AuditState]:
    """Every complete review audit of the exam (oldest first), then its consensus audit if any
    (complete or not). Reference audits are not reads and are left out."""
    pks = session.scalars(
        select(Audit.id)
        .where(
            Audit.study_pk == study_pk,
            Audit.checklist_id == checklist_id,
            (
                ((Audit.purpose == "review") & (Audit.status == "complete"))
                | (Audit.purpose == "consensus")
            ),
        )
        .order_by(Audit.purpose != "review", Audit.completed_at, Audit.id)
    ).all()
    return [store.audit_state(session, pk, include_history=False) for pk in pks]


def consensus_audit_pk(session: Session, study_pk: int, checklist_id: str) -> int | None:
    """The exam's consensus audit (any coach, any status), the oldest when several exist."""
    return session.scalar(
        select(Audit.id)
        .where(
            Audit.study_pk == study_pk,
            Audit.checklist_id == checklist_id,
            Audit.purpose == "consensus",
        )
        .order_by(Audit.id)
        .limit(1)
    )


# --- consensus -------------------------------------------------------------------------------


def _agreed(reads: list[_Read], checklist: Checklist) -> tuple[dict[str, Any], list[str]]:
    """(answers every read gives alike, keys where reads differ), in form order. Free text is
    never carried over."""
    agreed: dict[str, Any] = {}
    differing: list[str] = []
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if item.type == "text":
            continue
        values = [r.answers.get(key) for r in reads]
        if all(v is not None for v in values) and not _differ(values):
            agreed[key] = values[0]
        elif _differ(values):
            differing.append(key)
    return agreed, differing


def start_consensus(
    db: Database, study_pk: int, coach_pk: int, checklist: Checklist
) -> AuditSession:
    """Open (or resume) the coach's consensus audit of the exam.

    Needs at least two complete review audits of the exam with this checklist id. Answers that
    every read gives alike are prefilled (source "consensus", attributed to the coach) unless the
    consensus audit already has an answer for that key; keys where the reads differ stay open for
    :func:`decide`. The prefill is one transaction, scored like any change.
    """
    with db.session() as s:
        if s.get(Reviewer, coach_pk) is None:
            raise AuditingError(f"There is no reviewer with id {coach_pk}.")
        reads = _reads(s, checklist.id, ("review",), Audit.study_pk == study_pk)
    if len(reads) < 2:
        raise AuditingError(
            f"Study {study_pk} has {len(reads)} complete read(s) with checklist "
            f"'{checklist.id}'; a consensus needs at least two."
        )
    agreed, _differing = _agreed(reads, checklist)
    session = AuditSession.start(
        db, study_pk=study_pk, reviewer_pk=coach_pk, checklist=checklist, purpose="consensus"
    )
    with session._tx() as s:
        have = store.audit_state(s, session.audit_pk, include_history=False).answers
        for key, value in agreed.items():
            if key not in have:
                store.set_answer(s, session.audit_pk, key, value, coach_pk, source=CONSENSUS_REASON)
    return session


def open_keys(db: Database, study_pk: int, checklist: Checklist) -> list[str]:
    """Keys where the complete reads of the exam differ (what the coach has to decide)."""
    with db.session() as s:
        reads = _reads(s, checklist.id, ("review",), Audit.study_pk == study_pk)
    return _agreed(reads, checklist)[1] if len(reads) >= 2 else []


def _audit_checklist(session: Session, audit_pk: int) -> tuple[Audit, Checklist]:
    audit = session.get(Audit, audit_pk)
    if audit is None:
        raise AuditingError(f"No audit with id {audit_pk}.")
    version = session.get(ChecklistVersion, audit.checklist_version_pk)
    assert version is not None
    return audit, stored_checklist(version)


def _as_bool(value: object) -> bool:
    text = str(value).strip().lower()
    if isinstance(value, bool):
        return value
    if text in {"true", "yes", "y", "1", "pass", "meets"}:
        return True
    if text in {"false", "no", "n", "0", "fail"}:
        return False
    raise AuditingError(f"{value!r} is not yes or no.")


def decide(session: AuditSession, key: str, value: object, reason: str) -> None:
    """The coach's decision on one key of a consensus audit, with the reason (required).

    The answer is stored with reason code "consensus" (attributed to the coach, in the history);
    the reason is added to the audit comment as ``"KEY = VALUE: reason"``. ``key``
    "meets_criteria" decides the result itself: an override with the reason. Each call is one
    commit, with the score recomputed.
    """
    reason = (reason or "").strip()
    if not reason:
        raise AuditingError(f"A consensus decision on {key!r} needs a reason.")
    with session.db.session() as s:
        audit, checklist = _audit_checklist(s, session.audit_pk)
        if audit.purpose != "consensus":
            raise AuditingError(f"Audit {audit.id} is not a consensus audit.")
    if key == MEETS_KEY:
        decided: Any = _as_bool(value)
    else:
        try:
            item = item_for_key(checklist, key)
        except KeyError:
            raise AuditingError(f"Checklist '{checklist.id}' has no answer key {key!r}.") from None
        try:
            decided = normalise_answer(item, value)
        except ValueError as exc:
            raise AuditingError(f"{key}: {exc}.") from None
        if decided is None:
            raise AuditingError(f"A consensus decision on {key!r} needs a value.")
    line = f"{key} = {decided}: {reason}"
    with session._tx() as s:  # decision and reason in one commit
        if key == MEETS_KEY:
            store.set_override(s, session.audit_pk, MEETS_KEY, decided, session.reviewer_pk, reason)
        else:
            store.set_answer(
                s,
                session.audit_pk,
                key,
                decided,
                session.reviewer_pk,
                reason_code=CONSENSUS_REASON,
            )
        current = store.audit_state(s, session.audit_pk, include_history=False).comment
        text = f"{current}\n{line}" if current else line
        store.set_comment(s, session.audit_pk, text, session.reviewer_pk)


# --- calibration sets --------------------------------------------------------------------------


def create_calibration_set(
    session: Session, name: str, checklist_id: str, study_pks: list[int], created_by: int
) -> int:
    """A new calibration set of these exams (order kept, repeats ignored); returns its id."""
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise AuditingError("A calibration set needs a name of 1 to 128 characters.")
    if session.scalar(select(CalibrationSet.id).where(CalibrationSet.name == name)) is not None:
        raise AuditingError(f"A calibration set named {name!r} already exists.")
    if not checklist_id:
        raise AuditingError("A calibration set needs a checklist id.")
    if session.get(Reviewer, created_by) is None:
        raise AuditingError(f"There is no reviewer with id {created_by}.")
    unique = list(dict.fromkeys(study_pks))
    if not unique:
        raise AuditingError("A calibration set needs at least one exam.")
    found = set(session.scalars(select(Study.id).where(Study.id.in_(unique))))
    missing = [pk for pk in unique if pk not in found]
    if missing:
        raise AuditingError(f"There is no study with id {missing[0]}.")
    row = CalibrationSet(name=name, checklist_id=checklist_id, created_by=created_by)
    row.items = [CalibrationItem(study_pk=pk) for pk in unique]
    session.add(row)
    session.flush()
    return row.id


def _reference_pks(session: Session, sets: list[CalibrationSet]) -> dict[tuple[int, int], int]:
    """(set id, study pk) -> the complete reference audit that serves it: the set creator's
    when there is one, else the oldest complete reference audit of the exam."""
    study_pks = {item.study_pk for s in sets for item in s.items}
    if not study_pks:
        return {}
    rows = session.execute(
        select(Audit.id, Audit.study_pk, Audit.reviewer_pk, Audit.checklist_id)
        .where(
            Audit.study_pk.in_(study_pks),
            Audit.purpose == "reference",
            Audit.status == "complete",
        )
        .order_by(Audit.id)
    ).all()
    out: dict[tuple[int, int], int] = {}
    by_creator: set[tuple[int, int]] = set()
    for cal in sets:
        members = {item.study_pk for item in cal.items}
        for audit_pk, study_pk, reviewer_pk, checklist_id in rows:  # oldest first
            key = (cal.id, study_pk)
            if study_pk not in members or checklist_id != cal.checklist_id or key in by_creator:
                continue
            if reviewer_pk == cal.created_by:
                out[key] = audit_pk
                by_creator.add(key)
            else:
                out.setdefault(key, audit_pk)
    return out


def _info(session: Session, sets: list[CalibrationSet]) -> list[CalibrationSetInfo]:
    names = {pk: name for pk, name in session.execute(select(Reviewer.id, Reviewer.name))}
    refs = _reference_pks(session, sets)
    return [
        CalibrationSetInfo(
            id=cal.id,
            name=cal.name,
            checklist_id=cal.checklist_id,
            created_by=cal.created_by,
            created_by_name=names.get(cal.created_by, "?"),
            created_at=cal.created_at,
            study_pks=tuple(item.study_pk for item in cal.items),
            n_references=sum((cal.id, item.study_pk) in refs for item in cal.items),
        )
        for cal in sets
    ]


def calibration_sets(session: Session) -> list[CalibrationSetInfo]:
    """Every calibration set, oldest first."""
    sets = list(session.scalars(select(CalibrationSet).order_by(CalibrationSet.id)))
    return _info(session, sets)


def calibration_set(session: Session, set_ref: int | str) -> CalibrationSetInfo:
    """One calibration set by id or by name."""
    if isinstance(set_ref, int) or str(set_ref).isdigit():
        row = session.get(CalibrationSet, int(set_ref))
    else:
        row = session.scalar(select(CalibrationSet).where(CalibrationSet.name == set_ref))
    if row is None:
        raise AuditingError(f"There is no calibration set {set_ref!r}.")
    return _info(session, [row])[0]


def start_reference(
    db: Database, set_id: int, study_pk: int, coach_pk: int, checklist: Checklist
) -> AuditSession:
    """Open (or resume) the coach's reference audit of one exam of the set (purpose
    "reference"): answered and completed like any audit, never counted in the measure."""
    with db.session() as s:
        cal = s.get(CalibrationSet, set_id)
        if cal is None:
            raise AuditingError(f"There is no calibration set with id {set_id}.")
        if checklist.id != cal.checklist_id:
            raise AuditingError(
                f"Calibration set {cal.name!r} uses checklist '{cal.checklist_id}', "
                f"not '{checklist.id}'."
            )
        if study_pk not in {item.study_pk for item in cal.items}:
            raise AuditingError(f"Study {study_pk} is not in calibration set {cal.name!r}.")
    return AuditSession.start(
        db, study_pk=study_pk, reviewer_pk=coach_pk, checklist=checklist, purpose="reference"
    )


#: The contract's name for recording reference answers.
set_reference = start_reference


def cohen_kappa_value(a: Sequence[object], b: Sequence[object]) -> float | None:
    """Unweighted Cohen's kappa of two raters' paired ratings; None when undefined (no pairs,
    or chance agreement 1: both always gave the same single answer)."""
    if len(a) != len(b):
        raise ValueError("kappa needs paired ratings")
    if not a:
        return None
    return cohen_kappa(list(a), list(b)).value


def calibration_result(session: Session, set_id: int, reviewer_pk: int) -> CalibrationResult:
    """The reviewer's complete reads of the set's exams against the reference answers.

    One row per compared key (pass/fail, choice, ordinal) of each exam that has both a complete
    reference audit and a complete review audit by the reviewer, plus a "meets_criteria" row.
    Percent agreement and Cohen's kappa pool the item rows where both gave an answer.
    """
    cal = session.get(CalibrationSet, set_id)
    if cal is None:
        raise AuditingError(f"There is no calibration set with id {set_id}.")
    reviewer = session.get(Reviewer, reviewer_pk)
    if reviewer is None:
        raise AuditingError(f"There is no reviewer with id {reviewer_pk}.")
    members = [item.study_pk for item in cal.items]
    refs = _reference_pks(session, [cal])
    all_reads = _reads(
        session,
        cal.checklist_id,
        ("review", "reference"),
        Audit.study_pk.in_(members),
    )
    by_pk = {r.audit_pk: r for r in all_reads}
    mine = {
        r.study_pk: r for r in all_reads if r.purpose == "review" and r.reviewer_pk == reviewer_pk
    }
    studies = {
        row.id: row
        for row in session.execute(
            select(Study.id, Study.study_uid, Study.procedure_date, Study.kind).where(
                Study.id.in_(members)
            )
        )
    }
    checklists = _checklists(session, {r.version_pk for r in all_reads})
    secret = site.site_secret(session)

    rows: list[CalibrationRow] = []
    not_read: list[int] = []
    no_reference: list[int] = []
    for study_pk in members:
        ref_pk = refs.get((cal.id, study_pk))
        if ref_pk is None:
            no_reference.append(study_pk)
        read = mine.get(study_pk)
        if read is None:
            not_read.append(study_pk)
        if ref_pk is None or read is None:
            continue
        ref = by_pk[ref_pk]
        study = studies[study_pk]
        label = exam_label(secret, study.study_uid, study.procedure_date, study.kind)
        checklist = checklists.get(ref.version_pk)
        for key in answer_keys(checklist) if checklist is not None else []:
            if not _compared(checklist, key):
                continue
            mine_value, ref_value = read.answers.get(key), ref.answers.get(key)
            if mine_value is None and ref_value is None:
                continue
            both = mine_value is not None and ref_value is not None
            rows.append(
                CalibrationRow(
                    study_pk=study_pk,
                    exam_label=label,
                    key=key,
                    label=_key_label(checklist, key),
                    reviewer_answer=mine_value,
                    reference_answer=ref_value,
                    agrees=(mine_value == ref_value) if both else None,
                )
            )
        both_meets = read.meets is not None and ref.meets is not None
        rows.append(
            CalibrationRow(
                study_pk=study_pk,
                exam_label=label,
                key=MEETS_KEY,
                label=MEETS_LABEL,
                reviewer_answer=read.meets,
                reference_answer=ref.meets,
                agrees=(read.meets == ref.meets) if both_meets else None,
            )
        )

    items = [r for r in rows if r.key != MEETS_KEY and r.agrees is not None]
    meets = [r for r in rows if r.key == MEETS_KEY and r.agrees is not None]
    n_agree = sum(bool(r.agrees) for r in items)
    return CalibrationResult(
        set_id=cal.id,
        set_name=cal.name,
        checklist_id=cal.checklist_id,
        reviewer_pk=reviewer_pk,
        reviewer_name=reviewer.name,
        rows=rows,
        n_compared=len(items),
        n_agree=n_agree,
        percent=100.0 * n_agree / len(items) if items else None,
        kappa=cohen_kappa_value(
            [r.reviewer_answer for r in items], [r.reference_answer for r in items]
        ),
        meets_compared=len(meets),
        meets_agree=sum(bool(r.agrees) for r in meets),
        exams_not_read=not_read,
        exams_without_reference=no_reference,
    )
