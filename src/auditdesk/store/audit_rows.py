"""Shared pieces of the audit record: the allowed values (roles, statuses, answer sources,
purposes, event kinds), ``AuditError`` and the small row helpers (look up a row or refuse, check a
JSON value, write one history event) that every audit-writing module uses. Separate so that the
reviewer, checklist-version, audit-writing and state modules share one definition of each rule
without importing each other.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.store.models import (
    Audit,
    AuditEvent,
    AuditOverride,
    ChecklistVersion,
    Reviewer,
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


def _check_answer_input(key: str, value: Any, reason_code: str | None) -> None:
    """The checks every answer write makes before the checklist's own (one or many answers)."""
    _check_key(key)
    _check_json(value, f"The answer to {key!r}")
    if value is None and reason_code is not None:
        raise AuditError(
            f"A reason code needs an answer; to clear {key!r} give no value and no reason code."
        )
    if reason_code is not None and (not reason_code.strip() or len(reason_code) > 64):
        raise AuditError("A reason code must have 1 to 64 characters.")


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


def _overrides(session: Session, audit_pk: int) -> list[AuditOverride]:
    return list(
        session.scalars(
            select(AuditOverride)
            .where(AuditOverride.audit_pk == audit_pk)
            .order_by(AuditOverride.id)
        )
    )
