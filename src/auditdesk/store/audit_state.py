"""The audit read back as plain values: the state dataclasses (``AuditState`` and its parts), the
change history and ``audit_state``, which applies the newest override of each field. Separate from
the writing functions because reading has its own rules (which version is reported, when
overrides apply) and many callers only read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.checklists.effective import apply_overrides, newest_overrides
from auditdesk.store.audit_rows import (
    _audit,
    _overrides,
)
from auditdesk.store.models import (
    AuditAnswer,
    AuditEvent,
    AuditMeasurement,
    AuditScore,
    ChecklistVersion,
    Reviewer,
)

# --- plain results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasurementState:
    key: str
    value_mm: float | None
    value_px: float
    calibration_source: str
    sop_uid: str | None
    geometry: Any
    measured_by: int
    measured_at: dt.datetime


@dataclass(frozen=True)
class ScoreState:
    score_pk: int
    checklist_version_pk: int
    checklist_id: str
    version: str
    content_hash: str
    result: dict[str, Any]
    meets_criteria: bool | None
    grade: str | None
    complete: bool
    computed_at: dt.datetime


@dataclass(frozen=True)
class OverrideState:
    field: str
    value: Any  # None: back to the computed result
    reviewer_pk: int
    reviewer_name: str
    reason: str
    created_at: dt.datetime


@dataclass(frozen=True)
class HistoryEntry:
    event_pk: int
    at: dt.datetime
    kind: str
    key: str | None
    old_value: Any
    new_value: Any
    reviewer_pk: int | None
    reviewer_name: str | None  # None for changes made by the program (e.g. a recomputed score)


@dataclass
class AuditState:
    """Everything about one audit, as plain values (safe to use after the session closed).

    ``score`` is the current score under ``reported_version_pk`` (the audit's own checklist
    version unless another was asked for); ``meets_criteria`` and ``grade`` are the effective
    values: the score's, replaced by the newest override of each field. Overrides were given
    against the audit's own version, so they are applied only when that version is reported;
    a re-score under another version shows what those rules compute (``overrides_applied``).
    """

    audit_pk: int
    study_pk: int
    reviewer_pk: int
    checklist_id: str
    checklist_version_pk: int
    status: str
    comment: str | None
    learning_opportunity: bool
    blinded: bool
    started_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None
    answers: dict[str, Any]
    reason_codes: dict[str, str]
    answer_sources: dict[str, str]
    measurements: dict[str, MeasurementState]
    scores: dict[int, ScoreState]  # current score per checklist version pk
    reported_version_pk: int
    score: ScoreState | None
    meets_criteria: bool | None
    grade: str | None
    overridden: list[str]
    overrides_applied: bool
    overrides: list[OverrideState]  # all of them, oldest first
    history: list[HistoryEntry] = field(default_factory=list)
    purpose: str = "review"


# --- reading ---------------------------------------------------------------------------------


def history(session: Session, audit_pk: int) -> list[HistoryEntry]:
    """Every change to the audit, oldest first, with the reviewer's name."""
    _audit(session, audit_pk)
    rows = session.execute(
        select(AuditEvent, Reviewer.name)
        .outerjoin(Reviewer, Reviewer.id == AuditEvent.reviewer_pk)
        .where(AuditEvent.audit_pk == audit_pk)
        .order_by(AuditEvent.id)
    )
    return [
        HistoryEntry(
            event_pk=event.id,
            at=event.at,
            kind=event.kind,
            key=event.key,
            old_value=event.old_value,
            new_value=event.new_value,
            reviewer_pk=event.reviewer_pk,
            reviewer_name=name,
        )
        for event, name in rows
    ]


def _score_state(row: AuditScore, version: ChecklistVersion) -> ScoreState:
    return ScoreState(
        score_pk=row.id,
        checklist_version_pk=row.checklist_version_pk,
        checklist_id=version.checklist_id,
        version=version.version,
        content_hash=version.content_hash,
        result=row.result,
        meets_criteria=row.meets_criteria,
        grade=row.grade,
        complete=row.complete,
        computed_at=row.computed_at,
    )


def audit_state(
    session: Session,
    audit_pk: int,
    checklist_version_pk: int | None = None,
    *,
    include_history: bool = True,
) -> AuditState:
    """The audit as plain values; the score of its own checklist version unless
    ``checklist_version_pk`` asks for a re-score under another one (``score`` is None when the
    audit has not been scored under that version)."""
    audit = _audit(session, audit_pk)
    answers: dict[str, Any] = {}
    reason_codes: dict[str, str] = {}
    sources: dict[str, str] = {}
    for row in session.scalars(
        select(AuditAnswer).where(AuditAnswer.audit_pk == audit_pk).order_by(AuditAnswer.key)
    ):
        answers[row.key] = row.value
        sources[row.key] = row.source
        if row.reason_code is not None:
            reason_codes[row.key] = row.reason_code
    measurements = {
        row.key: MeasurementState(
            key=row.key,
            value_mm=row.value_mm,
            value_px=row.value_px,
            calibration_source=row.calibration_source,
            sop_uid=row.sop_uid,
            geometry=row.geometry,
            measured_by=row.measured_by,
            measured_at=row.measured_at,
        )
        for row in session.scalars(
            select(AuditMeasurement)
            .where(AuditMeasurement.audit_pk == audit_pk)
            .order_by(AuditMeasurement.key)
        )
    }
    scores = {
        row.checklist_version_pk: _score_state(row, version)
        for row, version in session.execute(
            select(AuditScore, ChecklistVersion)
            .join(ChecklistVersion, ChecklistVersion.id == AuditScore.checklist_version_pk)
            .where(AuditScore.audit_pk == audit_pk, AuditScore.is_current.is_(True))
            .order_by(AuditScore.id)
        ).all()
    }
    reported = audit.checklist_version_pk if checklist_version_pk is None else checklist_version_pk
    score = scores.get(reported)
    meets = score.meets_criteria if score else None
    grade = score.grade if score else None
    names = {pk: name for pk, name in session.execute(select(Reviewer.id, Reviewer.name))}
    overrides = [
        OverrideState(
            field=o.field,
            value=o.value,
            reviewer_pk=o.reviewer_pk,
            reviewer_name=names.get(o.reviewer_pk, "?"),
            reason=o.reason,
            created_at=o.created_at,
        )
        for o in _overrides(session, audit_pk)
    ]
    applied = reported == audit.checklist_version_pk
    overridden: list[str] = []
    if applied:
        newest = newest_overrides((audit_pk, o.field, o.value) for o in overrides)
        verdict = apply_overrides(meets, grade, newest.get(audit_pk, {}))
        meets, grade, overridden = verdict.meets_criteria, verdict.grade, list(verdict.overridden)
    return AuditState(
        audit_pk=audit.id,
        study_pk=audit.study_pk,
        reviewer_pk=audit.reviewer_pk,
        checklist_id=audit.checklist_id,
        checklist_version_pk=audit.checklist_version_pk,
        status=audit.status,
        comment=audit.comment,
        learning_opportunity=audit.learning_opportunity,
        blinded=audit.blinded,
        started_at=audit.started_at,
        updated_at=audit.updated_at,
        completed_at=audit.completed_at,
        answers=answers,
        reason_codes=reason_codes,
        answer_sources=sources,
        measurements=measurements,
        scores=scores,
        reported_version_pk=reported,
        score=score,
        meets_criteria=meets,
        grade=grade,
        overridden=overridden,
        overrides_applied=applied,
        overrides=overrides,
        history=history(session, audit_pk) if include_history else [],
        purpose=audit.purpose,
    )
