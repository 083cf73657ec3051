"""The audit record: reviewers, checklist versions, and audits with their answers, measurements,
scores, overrides and change history.

Why it is shaped like this:

* **Every answer is saved at once.** The functions here change the session and flush; they never
  commit. The caller wraps each user action in its own ``db.transaction()`` so that each action
  is one short, durable commit (SQLite runs WAL with ``synchronous=FULL``, see ``store.db``).
  ``AuditRecorder`` does exactly that and is what the GUI and CLI use; the plain functions are
  for callers that need several changes in one transaction (e.g. importing past audits).
* **Checked answers are stored, scores are derived.** ``set_answer`` refuses a key or value the
  audit's own checklist version does not define (``checklists.answers``: one check for every
  entry point); the engine computes the score and hands it to ``save_score``. Each version is
  kept with its full text, so an audit is re-scored years later with the rules it used.
* **Nothing is silently lost.** Each change writes an ``AuditEvent`` with the old and the new
  value; scores under another checklist version are added next to the original, never over it;
  overrides are appended (the newest per field wins).

Times are naive UTC (``models.utcnow``), like the rest of the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from auditdesk.checklists.answers import check_stored_answer
from auditdesk.store.db import Database
from auditdesk.store.models import (
    Audit,
    AuditAnswer,
    AuditEvent,
    AuditMeasurement,
    AuditOverride,
    AuditScore,
    ChecklistVersion,
    Reviewer,
    Study,
    utcnow,
)

ROLES = ("technologist", "team_leader", "coach")
STATUSES = ("in_progress", "complete")
# "consensus": agreed by every reviewer of the exam, prefilled into a coach's consensus audit.
ANSWER_SOURCES = ("reviewer", "computed", "header", "consensus")
# Why an audit exists: an ordinary read, a coach's adjudication of disagreeing reads, or a coach's
# reference answers for a calibration set. Only "review" and "consensus" audits count in the
# measures; only "review" audits count in agreement between reviewers.
PURPOSES = ("review", "consensus", "reference")
# "reported": a number in mm taken from an imported spreadsheet; how it was calibrated is unknown.
# "digitiser_spacing": a scanned film's Pixel Spacing (dicom.digitised), never detector mm.
CALIBRATION_SOURCES = (
    "pixel_spacing", "imager_pixel_spacing", "imager_pixel_spacing_ermf", "digitiser_spacing",
    "reported", "none",
)  # fmt: skip
OVERRIDE_FIELDS = ("meets_criteria", "grade")
EVENT_KINDS = (
    "answer",
    "measurement",
    "comment",
    "learning_flag",
    "override",
    "status",
    "rescore",
)

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class AuditError(ValueError):
    """A request the audit store refuses; the message is one sentence fit to show the user."""


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


# --- helpers ---------------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    """Stable text of a JSON value, so that 1, 1.0 and True count as different values."""
    return json.dumps(value, sort_keys=True, allow_nan=False)


def _check_json(value: Any, what: str) -> None:
    """Refuse values that JSON cannot store faithfully (NaN, objects, non-string keys)."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AuditError(f"{what} must be a finite number, not {value!r}.")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(item, what)
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise AuditError(f"{what} may only use text as keys, not {k!r}.")
            _check_json(item, what)
        return
    raise AuditError(
        f"{what} must be text, a number, true/false, a list or empty, not {type(value).__name__}."
    )


def _jsonable(value: Any) -> Any:
    """Tuples become lists, as they will when read back."""
    return json.loads(_canonical(value))


def _row(session: Session, model: Any, pk: int, what: str) -> Any:
    row = session.get(model, pk)
    if row is None:
        raise AuditError(f"There is no {what} with id {pk}.")
    return row


def _audit(session: Session, audit_pk: int) -> Audit:
    return _row(session, Audit, audit_pk, "audit")


def _reviewer(session: Session, reviewer_pk: int) -> Reviewer:
    return _row(session, Reviewer, reviewer_pk, "reviewer")


def _checklist_version(session: Session, checklist_version_pk: int) -> ChecklistVersion:
    return _row(session, ChecklistVersion, checklist_version_pk, "checklist version")


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise AuditError("An answer or measurement needs a non-empty key.")
    if len(key) > 128:
        raise AuditError(f"The key {key[:40]!r}... is longer than 128 characters.")
    return key


def _record(
    session: Session,
    audit: Audit,
    reviewer_pk: int | None,
    kind: str,
    key: str | None,
    old: Any,
    new: Any,
    now: dt.datetime,
) -> AuditEvent:
    """Write the history row for one change and mark the audit as touched."""
    assert kind in EVENT_KINDS, kind
    event = AuditEvent(
        audit_pk=audit.id,
        reviewer_pk=reviewer_pk,
        at=now,
        kind=kind,
        key=key,
        old_value=old,
        new_value=new,
    )
    session.add(event)
    audit.updated_at = now
    session.flush()
    return event


# --- reviewers -------------------------------------------------------------------------------


def create_reviewer(session: Session, name: str, role: str, initials: str) -> Reviewer:
    """Add a reviewer profile. Names are unique because the reviewer is chosen by name at start
    and appears by name in exports and history."""
    name = (name or "").strip()
    initials = (initials or "").strip()
    if not name:
        raise AuditError("A reviewer needs a name.")
    if len(name) > 128:
        raise AuditError("A reviewer's name can be at most 128 characters long.")
    if role not in ROLES:
        raise AuditError(f"Unknown reviewer role {role!r}; choose one of {', '.join(ROLES)}.")
    if not initials or len(initials) > 8:
        raise AuditError("A reviewer needs initials of 1 to 8 characters.")
    if get_reviewer_by_name(session, name) is not None:
        raise AuditError(f"A reviewer named {name!r} already exists.")
    reviewer = Reviewer(name=name, role=role, initials=initials, active=True, created_at=utcnow())
    session.add(reviewer)
    session.flush()
    return reviewer


def list_reviewers(session: Session, *, include_inactive: bool = False) -> list[Reviewer]:
    """Reviewers by name; inactive ones only on request (they are kept for old audits)."""
    query = select(Reviewer).order_by(Reviewer.name)
    if not include_inactive:
        query = query.where(Reviewer.active.is_(True))
    return list(session.scalars(query))


def get_reviewer_by_name(session: Session, name: str) -> Reviewer | None:
    return session.scalars(select(Reviewer).where(Reviewer.name == name.strip())).first()


def set_reviewer_active(session: Session, reviewer_pk: int, active: bool) -> Reviewer:
    """Hide or show a reviewer at start. Profiles are never deleted: audits point at them."""
    reviewer = _reviewer(session, reviewer_pk)
    reviewer.active = bool(active)
    session.flush()
    return reviewer


# --- checklist versions ----------------------------------------------------------------------


def sha256_text(source_text: str) -> str:
    """The content hash of a checklist file's text (UTF-8), as ``register_checklist_version``
    expects it. Callers may hash the raw file bytes instead, as long as they always do."""
    return hashlib.sha256(source_text.encode("utf-8")).hexdigest()


def register_checklist_version(
    session: Session,
    checklist_id: str,
    version: str,
    content_hash: str,
    source_text: str,
    title: str,
) -> ChecklistVersion:
    """Return the stored snapshot of a checklist file, adding it the first time it is used.

    Idempotent by content hash: the same file always maps to the same row, and an edited file
    (new hash) becomes a new row even if its version string was not bumped, so audits made
    with the old text keep pointing at the old text.
    """
    content_hash = (content_hash or "").strip().lower()
    if not _SHA256_HEX.match(content_hash):
        raise AuditError(f"{content_hash!r} is not a SHA-256 hash (64 hexadecimal digits).")
    existing = session.scalars(
        select(ChecklistVersion).where(ChecklistVersion.content_hash == content_hash)
    ).first()
    if existing is not None:
        if existing.checklist_id != checklist_id or existing.version != version:
            raise AuditError(
                f"Content hash {content_hash[:12]}... is already stored for checklist "
                f"{existing.checklist_id!r} version {existing.version!r}, not {checklist_id!r} "
                f"version {version!r}; the hash must be computed from the file's own text."
            )
        return existing
    if not checklist_id or len(checklist_id) > 64:
        raise AuditError("A checklist id must have 1 to 64 characters.")
    if not version or len(version) > 32:
        raise AuditError("A checklist version must have 1 to 32 characters.")
    row = ChecklistVersion(
        checklist_id=checklist_id,
        version=version,
        content_hash=content_hash,
        source_text=source_text,
        title=(title or checklist_id)[:256],
        first_used_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def checklist_versions(session: Session, checklist_id: str) -> list[ChecklistVersion]:
    """All stored versions of one checklist, oldest first."""
    return list(
        session.scalars(
            select(ChecklistVersion)
            .where(ChecklistVersion.checklist_id == checklist_id)
            .order_by(ChecklistVersion.first_used_at, ChecklistVersion.id)
        )
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
    _check_json(value, f"The answer to {key!r}")
    if value is None and reason_code is not None:
        raise AuditError(
            f"A reason code needs an answer; to clear {key!r} give no value and no reason code."
        )
    if reason_code is not None and (not reason_code.strip() or len(reason_code) > 64):
        raise AuditError("A reason code must have 1 to 64 characters.")
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


def _overrides(session: Session, audit_pk: int) -> list[AuditOverride]:
    return list(
        session.scalars(
            select(AuditOverride)
            .where(AuditOverride.audit_pk == audit_pk)
            .order_by(AuditOverride.id)
        )
    )


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
        newest = {o.field: o for o in overrides}  # oldest first, so the last one stays
        if "meets_criteria" in newest and newest["meets_criteria"].value is not None:
            meets = newest["meets_criteria"].value
            overridden.append("meets_criteria")
        if "grade" in newest and newest["grade"].value is not None:
            grade = newest["grade"].value
            overridden.append("grade")
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


# --- one commit per user action --------------------------------------------------------------


class AuditRecorder:
    """Records one reviewer's changes to one audit, committing each change at once.

    Every method runs in its own ``db.transaction()``: when it returns, the change is on disk
    (WAL, ``synchronous=FULL``) and survives the app being killed. This is what the GUI and the
    CLI use; there is no save button.
    """

    def __init__(self, db: Database, audit_pk: int, reviewer_pk: int) -> None:
        self.db = db
        self.audit_pk = audit_pk
        self.reviewer_pk = reviewer_pk

    @classmethod
    def open(
        cls,
        db: Database,
        study_pk: int,
        reviewer_pk: int,
        checklist_version_pk: int,
        blinded: bool = False,
        purpose: str = "review",
    ) -> AuditRecorder:
        """Open (or create) the reviewer's audit of the study and return a recorder for it."""
        with db.transaction() as session:
            audit = open_audit(
                session, study_pk, reviewer_pk, checklist_version_pk, blinded, purpose
            )
            audit_pk = audit.id
        return cls(db, audit_pk, reviewer_pk)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self.db.transaction() as session:
            yield session
            self._after_change(session)

    def _after_change(self, session: Session) -> None:
        """Hook run inside each change's transaction (e.g. recompute the derived score)."""

    def answer(
        self, key: str, value: Any, reason_code: str | None = None, source: str = "reviewer"
    ) -> AuditEvent | None:
        with self._tx() as s:
            return set_answer(s, self.audit_pk, key, value, self.reviewer_pk, reason_code, source)

    def measure(
        self,
        key: str,
        *,
        value_px: float,
        value_mm: float | None,
        calibration_source: str,
        sop_uid: str | None,
        geometry: Any = None,
    ) -> AuditEvent | None:
        with self._tx() as s:
            return set_measurement(
                s,
                self.audit_pk,
                key,
                value_px=value_px,
                value_mm=value_mm,
                calibration_source=calibration_source,
                sop_uid=sop_uid,
                reviewer_pk=self.reviewer_pk,
                geometry=geometry,
            )

    def clear_measurement(self, key: str) -> AuditEvent | None:
        with self._tx() as s:
            return clear_measurement(s, self.audit_pk, key, self.reviewer_pk)

    def comment(self, text: str | None) -> AuditEvent | None:
        with self._tx() as s:
            return set_comment(s, self.audit_pk, text, self.reviewer_pk)

    def learning_opportunity(self, flag: bool) -> AuditEvent | None:
        with self._tx() as s:
            return set_learning_opportunity(s, self.audit_pk, flag, self.reviewer_pk)

    def override(self, field: str, value: Any, reason: str) -> AuditEvent:
        with self._tx() as s:
            return set_override(s, self.audit_pk, field, value, self.reviewer_pk, reason)

    def status(self, status: str) -> AuditEvent | None:
        with self._tx() as s:
            return set_status(s, self.audit_pk, status, self.reviewer_pk)

    def save_score(
        self,
        checklist_version_pk: int,
        result: dict[str, Any],
        meets_criteria: bool | None,
        grade: str | None,
        complete: bool,
    ) -> AuditScore:
        with self._tx() as s:
            return save_score(
                s,
                self.audit_pk,
                checklist_version_pk,
                result,
                meets_criteria,
                grade,
                complete,
                reviewer_pk=self.reviewer_pk,
            )

    def state(self, checklist_version_pk: int | None = None) -> AuditState:
        with self.db.session() as s:
            return audit_state(s, self.audit_pk, checklist_version_pk)

    def history(self) -> list[HistoryEntry]:
        with self.db.session() as s:
            return history(s, self.audit_pk)


__all__ = [
    "ANSWER_SOURCES",
    "CALIBRATION_SOURCES",
    "EVENT_KINDS",
    "OVERRIDE_FIELDS",
    "PURPOSES",
    "ROLES",
    "STATUSES",
    "AuditError",
    "AuditRecorder",
    "AuditState",
    "HistoryEntry",
    "MeasurementState",
    "OverrideState",
    "ScoreState",
    "audit_state",
    "checklist_versions",
    "clear_measurement",
    "create_reviewer",
    "discard_if_blank",
    "get_reviewer_by_name",
    "history",
    "list_audits",
    "list_reviewers",
    "open_audit",
    "register_checklist_version",
    "save_score",
    "set_answer",
    "set_comment",
    "set_learning_opportunity",
    "set_measurement",
    "set_override",
    "set_reviewer_active",
    "set_status",
    "sha256_text",
]
