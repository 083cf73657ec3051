"""Every change to an audit: open, discard, list, answers, measurements, comment, learning flag,
status, overrides and scores, each writing its history event with the old and the new value.
These functions flush and never commit; the caller (``AuditRecorder`` or an import) decides the
transaction. Separate from reading (``audit_state``) and from the one-commit-per-action recorder.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from auditdesk.checklists.answers import check_stored_answer
from auditdesk.store.audit_rows import (
    ANSWER_SOURCES,
    CALIBRATION_SOURCES,
    OVERRIDE_FIELDS,
    PURPOSES,
    STATUSES,
    AuditError,
    _audit,
    _canonical,
    _check_answer_input,
    _check_json,
    _check_key,
    _checklist_version,
    _jsonable,
    _overrides,
    _record,
    _reviewer,
)
from auditdesk.store.models import (
    Audit,
    AuditAnswer,
    AuditEvent,
    AuditMeasurement,
    AuditOverride,
    AuditScore,
    Study,
    utcnow,
)

# --- audits ----------------------------------------------------------------------------------


def open_audit(
    session: Session,
    study_pk: int,
    reviewer_pk: int,
    checklist_version_pk: int,
    blinded: bool = False,
    purpose: str = "review",
) -> Audit:
    """The reviewer's audit of this study with this checklist, created on first use.

    One reviewer audits a study once per checklist id and purpose: opening it again (even after
    the checklist file changed) returns the same audit, which keeps the version it was started
    with. Another reviewer gets an audit of their own (double reads); a coach's consensus or
    reference audit of an exam is separate from the coach's own review of it. The database
    enforces the same rule with a unique constraint. ``blinded`` is recorded when the audit is
    created.
    """
    if purpose not in PURPOSES:
        raise AuditError(f"Unknown audit purpose {purpose!r}; choose one of {', '.join(PURPOSES)}.")
    version = _checklist_version(session, checklist_version_pk)
    _reviewer(session, reviewer_pk)
    if session.get(Study, study_pk) is None:
        raise AuditError(f"There is no study with id {study_pk}.")
    existing = session.scalars(
        select(Audit).where(
            Audit.study_pk == study_pk,
            Audit.reviewer_pk == reviewer_pk,
            Audit.checklist_id == version.checklist_id,
            Audit.purpose == purpose,
        )
    ).first()
    if existing is not None:
        return existing
    now = utcnow()
    audit = Audit(
        study_pk=study_pk,
        reviewer_pk=reviewer_pk,
        checklist_version_pk=version.id,
        checklist_id=version.checklist_id,
        status="in_progress",
        comment=None,
        learning_opportunity=False,
        blinded=bool(blinded),
        started_at=now,
        updated_at=now,
        purpose=purpose,
    )
    session.add(audit)
    session.flush()
    _record(session, audit, reviewer_pk, "status", None, None, "in_progress", now)
    return audit


def discard_if_blank(session: Session, audit_pk: int) -> bool:
    """Remove an audit that was opened but never given anything (no answer, measurement,
    comment, flag or override), so looking at an exam does not mark it "in progress".

    Returns True when it was removed. An audit with anything recorded is never touched.
    """
    audit = session.get(Audit, audit_pk)
    if audit is None or audit.status != "in_progress":
        return False
    # Anything the reviewer ever did (even an answer later undone) keeps the audit and its history.
    did_something = session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.audit_pk == audit_pk,
            AuditEvent.kind.not_in(("status", "rescore")),
        )
        .limit(1)
    )
    if did_something or audit.comment or audit.learning_opportunity:
        return False
    for model in (AuditAnswer, AuditMeasurement, AuditOverride):
        if session.scalar(select(model.id).where(model.audit_pk == audit_pk).limit(1)):
            return False
    session.execute(delete(AuditScore).where(AuditScore.audit_pk == audit_pk))
    session.execute(delete(AuditEvent).where(AuditEvent.audit_pk == audit_pk))
    session.delete(audit)
    session.flush()
    return True


def list_audits(
    session: Session,
    *,
    study_pk: int | None = None,
    reviewer_pk: int | None = None,
    purpose: str | None = None,
) -> list[Audit]:
    """Audits, oldest first, optionally of one study (all its reads), by one reviewer or with
    one purpose (all purposes when None)."""
    query = select(Audit).order_by(Audit.started_at, Audit.id)
    if purpose is not None:
        query = query.where(Audit.purpose == purpose)
    if study_pk is not None:
        query = query.where(Audit.study_pk == study_pk)
    if reviewer_pk is not None:
        query = query.where(Audit.reviewer_pk == reviewer_pk)
    return list(session.scalars(query))


def _answer_snapshot(row: AuditAnswer | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"value": row.value, "reason_code": row.reason_code, "source": row.source}


def set_answer(
    session: Session,
    audit_pk: int,
    key: str,
    value: Any,
    reviewer_pk: int,
    reason_code: str | None = None,
    source: str = "reviewer",
) -> AuditEvent | None:
    """Set (or with ``value=None`` clear) one answer, attributed to ``reviewer_pk``.

    The value is checked against the audit's checklist version and kept in its checked form
    (``InvalidAnswerError`` names what is valid). Returns the history event, or None when
    nothing changed, so repeated clicks do not flood the history. A cleared answer is removed.
    """
    _check_key(key)
    if source not in ANSWER_SOURCES:
        raise AuditError(
            f"Unknown answer source {source!r}; choose one of {', '.join(ANSWER_SOURCES)}."
        )
    _check_answer_input(key, value, reason_code)
    audit = _audit(session, audit_pk)
    value = check_stored_answer(_checklist_version(session, audit.checklist_version_pk), key, value)
    _reviewer(session, reviewer_pk)
    row = session.scalars(
        select(AuditAnswer).where(AuditAnswer.audit_pk == audit_pk, AuditAnswer.key == key)
    ).first()
    old = _answer_snapshot(row)
    new = (
        None
        if value is None
        else {"value": _jsonable(value), "reason_code": reason_code, "source": source}
    )
    if _canonical(old) == _canonical(new):
        return None
    now = utcnow()
    if new is None:
        assert row is not None
        session.delete(row)
    elif row is None:
        session.add(
            AuditAnswer(
                audit_pk=audit_pk,
                key=key,
                value=new["value"],
                reason_code=reason_code,
                source=source,
                answered_by=reviewer_pk,
                answered_at=now,
            )
        )
    else:
        row.value = new["value"]
        row.reason_code = reason_code
        row.source = source
        row.answered_by = reviewer_pk
        row.answered_at = now
    return _record(session, audit, reviewer_pk, "answer", key, old, new, now)


def _measurement_snapshot(row: AuditMeasurement | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "value_mm": row.value_mm,
        "value_px": row.value_px,
        "calibration_source": row.calibration_source,
        "sop_uid": row.sop_uid,
        "geometry": row.geometry,
    }


def set_measurement(
    session: Session,
    audit_pk: int,
    key: str,
    *,
    value_px: float,
    value_mm: float | None,
    calibration_source: str,
    sop_uid: str | None,
    reviewer_pk: int,
    geometry: Any = None,
) -> AuditEvent | None:
    """Store one measurement (replacing an earlier one under the same key).

    ``value_mm`` is given exactly when the image has a calibration (``calibration_source`` is
    not "none"); storing millimetres without saying where they came from would make a PNL rule
    look more certain than it is. ``geometry`` (the points) lets the GUI redraw the line.
    Returns the history event, or None when nothing changed.
    """
    _check_key(key)
    if calibration_source not in CALIBRATION_SOURCES:
        raise AuditError(
            f"Unknown calibration source {calibration_source!r}; choose one of "
            f"{', '.join(CALIBRATION_SOURCES)}."
        )
    for name, number in (("value_px", value_px), ("value_mm", value_mm)):
        if number is None and name == "value_mm":
            continue
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise AuditError(f"The measurement {key!r} needs {name} as a number.")
        if not math.isfinite(number) or number < 0:
            raise AuditError(f"The measurement {key!r} has an invalid {name} of {number!r}.")
    if calibration_source == "none" and value_mm is not None:
        raise AuditError(
            f"The measurement {key!r} has no calibration, so it cannot have a length in mm."
        )
    if calibration_source != "none" and value_mm is None:
        raise AuditError(
            f"The measurement {key!r} is calibrated by {calibration_source}, so it needs value_mm."
        )
    if sop_uid is not None and (not sop_uid or len(sop_uid) > 64):
        raise AuditError(
            f"The measurement {key!r} names its image by an invalid SOP Instance UID; "
            "give the UID, or none for a number typed in without an image."
        )
    _check_json(geometry, f"The geometry of {key!r}")
    audit = _audit(session, audit_pk)
    _reviewer(session, reviewer_pk)
    row = session.scalars(
        select(AuditMeasurement).where(
            AuditMeasurement.audit_pk == audit_pk, AuditMeasurement.key == key
        )
    ).first()
    old = _measurement_snapshot(row)
    new = {
        "value_mm": None if value_mm is None else float(value_mm),
        "value_px": float(value_px),
        "calibration_source": calibration_source,
        "sop_uid": sop_uid,
        "geometry": _jsonable(geometry),
    }
    if _canonical(old) == _canonical(new):
        return None
    now = utcnow()
    if row is None:
        row = AuditMeasurement(audit_pk=audit_pk, key=key)
        session.add(row)
    row.value_mm = new["value_mm"]
    row.value_px = new["value_px"]
    row.calibration_source = calibration_source
    row.sop_uid = sop_uid
    row.geometry = new["geometry"]
    row.measured_by = reviewer_pk
    row.measured_at = now
    return _record(session, audit, reviewer_pk, "measurement", key, old, new, now)


def clear_measurement(
    session: Session, audit_pk: int, key: str, reviewer_pk: int
) -> AuditEvent | None:
    """Remove a measurement (the history keeps it); None when there was none."""
    audit = _audit(session, audit_pk)
    _reviewer(session, reviewer_pk)
    row = session.scalars(
        select(AuditMeasurement).where(
            AuditMeasurement.audit_pk == audit_pk, AuditMeasurement.key == key
        )
    ).first()
    if row is None:
        return None
    old = _measurement_snapshot(row)
    session.delete(row)
    return _record(session, audit, reviewer_pk, "measurement", key, old, None, utcnow())


def set_comment(
    session: Session, audit_pk: int, comment: str | None, reviewer_pk: int
) -> AuditEvent | None:
    """Replace the audit's free-text comment; blank text clears it. None when unchanged."""
    audit = _audit(session, audit_pk)
    _reviewer(session, reviewer_pk)
    new = comment if comment and comment.strip() else None
    if new == audit.comment:
        return None
    old = audit.comment
    audit.comment = new
    return _record(session, audit, reviewer_pk, "comment", None, old, new, utcnow())


def set_learning_opportunity(
    session: Session, audit_pk: int, flag: bool, reviewer_pk: int
) -> AuditEvent | None:
    """Flag (or unflag) the exam as a learning opportunity for coaching. None when unchanged."""
    audit = _audit(session, audit_pk)
    _reviewer(session, reviewer_pk)
    flag = bool(flag)
    if flag == audit.learning_opportunity:
        return None
    audit.learning_opportunity = flag
    return _record(session, audit, reviewer_pk, "learning_flag", None, not flag, flag, utcnow())


def set_status(session: Session, audit_pk: int, status: str, reviewer_pk: int) -> AuditEvent | None:
    """Mark the audit complete (stamping ``completed_at``) or re-open it. None when unchanged.

    A complete audit can still be corrected; each correction is in the history.
    """
    if status not in STATUSES:
        raise AuditError(f"Unknown audit status {status!r}; choose one of {', '.join(STATUSES)}.")
    audit = _audit(session, audit_pk)
    _reviewer(session, reviewer_pk)
    if status == audit.status:
        return None
    old = audit.status
    now = utcnow()
    audit.status = status
    audit.completed_at = now if status == "complete" else None
    return _record(session, audit, reviewer_pk, "status", None, old, status, now)


def set_override(
    session: Session,
    audit_pk: int,
    field: str,
    value: Any,
    reviewer_pk: int,
    reason: str,
) -> AuditEvent:
    """Override the derived ``meets_criteria`` (True/False) or ``grade`` (text) of the audit.

    A reason is required: an override replaces the checklist's own judgement and must be
    explainable later. ``value=None`` withdraws the override (back to the computed result).
    Rows are only ever added; the newest per field wins. History values are
    ``{"value", "reason"}`` (old: the override that was in force, or None).
    """
    if field not in OVERRIDE_FIELDS:
        raise AuditError(f"Only {' and '.join(OVERRIDE_FIELDS)} can be overridden, not {field!r}.")
    if not isinstance(reason, str) or not reason.strip():
        raise AuditError("An override needs a reason: say why the computed result is not right.")
    if field == "meets_criteria" and value is not None and not isinstance(value, bool):
        raise AuditError("An override of meets_criteria must be yes (True), no (False) or None.")
    if field == "grade" and value is not None and (not isinstance(value, str) or not value.strip()):
        raise AuditError("An override of the grade must be a grade (text) or None.")
    audit = _audit(session, audit_pk)
    _reviewer(session, reviewer_pk)
    previous = [o for o in _overrides(session, audit_pk) if o.field == field]
    old = {"value": previous[-1].value, "reason": previous[-1].reason} if previous else None
    now = utcnow()
    session.add(
        AuditOverride(
            audit_pk=audit_pk,
            field=field,
            value=value,
            reviewer_pk=reviewer_pk,
            reason=reason.strip(),
            created_at=now,
        )
    )
    new = {"value": value, "reason": reason.strip()}
    return _record(session, audit, reviewer_pk, "override", field, old, new, now)


def _score_snapshot(row: AuditScore | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "checklist_version_pk": row.checklist_version_pk,
        "meets_criteria": row.meets_criteria,
        "grade": row.grade,
        "complete": row.complete,
    }


def save_score(
    session: Session,
    audit_pk: int,
    checklist_version_pk: int,
    result: dict[str, Any],
    meets_criteria: bool | None,
    grade: str | None,
    complete: bool,
    reviewer_pk: int | None = None,
) -> AuditScore:
    """Store the engine's score of the audit under one checklist version.

    The new row becomes the current one FOR THAT VERSION ONLY; the previous current row of that
    version is kept with ``is_current`` false, and other versions' rows are not touched. So
    scoring under the audit's own version keeps it up to date as answers change, and a re-score
    under a newer version (on request) is added next to the original, never over it. An
    identical score is not stored again. ``reviewer_pk`` is who asked (None: the program).
    """
    audit = _audit(session, audit_pk)
    version = _checklist_version(session, checklist_version_pk)
    if version.checklist_id != audit.checklist_id:
        raise AuditError(
            f"Audit {audit_pk} uses checklist {audit.checklist_id!r}; it cannot be scored with "
            f"checklist {version.checklist_id!r}."
        )
    if not isinstance(result, dict):
        raise AuditError("A score result must be a dictionary.")
    _check_json(result, "The score result")
    if meets_criteria is not None and not isinstance(meets_criteria, bool):
        raise AuditError("meets_criteria must be True, False or None.")
    if reviewer_pk is not None:
        _reviewer(session, reviewer_pk)
    current = session.scalars(
        select(AuditScore).where(
            AuditScore.audit_pk == audit_pk,
            AuditScore.checklist_version_pk == checklist_version_pk,
            AuditScore.is_current.is_(True),
        )
    ).first()
    result = _jsonable(result)
    if (
        current is not None
        and _canonical(current.result) == _canonical(result)
        and current.meets_criteria == meets_criteria
        and current.grade == grade
        and current.complete == bool(complete)
    ):
        return current
    now = utcnow()
    old = _score_snapshot(current)
    if current is not None:
        current.is_current = False
    row = AuditScore(
        audit_pk=audit_pk,
        checklist_version_pk=checklist_version_pk,
        result=result,
        meets_criteria=meets_criteria,
        grade=grade,
        complete=bool(complete),
        computed_at=now,
        is_current=True,
    )
    session.add(row)
    session.flush()
    key = f"{version.checklist_id}@{version.version}"
    _record(session, audit, reviewer_pk, "rescore", key, old, _score_snapshot(row), now)
    return row
