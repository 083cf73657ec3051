"""Many answers to one audit in one statement: what the demo, spreadsheet-style imports and the
benchmarks need when they write whole audits at once.

``set_answer`` checks, writes and flushes one answer and its history event at a time (the GUI's
one-click-one-commit path); thousands of answers that way spend their time in ORM flushes. Here the
same checks run on every answer first (nothing is written when one is refused), then the answer
rows and their history events go in as two multi-row INSERTs. The rows are exactly those
``set_answer`` would write for answers given one after another in the same order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from auditdesk.checklists.answers import check_stored_answer
from auditdesk.store.audit_rows import (
    ANSWER_SOURCES,
    AuditError,
    _audit,
    _check_answer_input,
    _checklist_version,
    _jsonable,
    _reviewer,
)
from auditdesk.store.audit_writes import set_answer
from auditdesk.store.models import AuditAnswer, AuditEvent, utcnow

#: One answer: (key, value, reason code or None).
Answer = tuple[str, Any, "str | None"]

__all__ = ["Answer", "set_answers"]


def _checked(
    version: Any, key: str, value: Any, reason_code: str | None
) -> tuple[str, Any, str | None]:
    """The checks of ``set_answer`` for one answer, with the same messages."""
    _check_answer_input(key, value, reason_code)
    return key, check_stored_answer(version, key, value), reason_code


def set_answers(
    session: Session,
    audit_pk: int,
    answers: Iterable[Answer],
    reviewer_pk: int,
    source: str = "reviewer",
    now: dt.datetime | None = None,
) -> int:
    """Give many answers to one audit, attributed to ``reviewer_pk``; returns how many changed.

    Every answer is checked against the audit's checklist version before anything is written, so
    a refused answer (``InvalidAnswerError`` / ``AuditError``) leaves the audit as it was. Keys
    that already have an answer go through :func:`set_answer` one by one (same history as a
    reviewer's change; ``None`` clears); new keys are inserted in bulk with one history event
    each. A key given twice is refused: its second value would silently win.
    """
    if source not in ANSWER_SOURCES:
        raise AuditError(
            f"Unknown answer source {source!r}; choose one of {', '.join(ANSWER_SOURCES)}."
        )
    audit = _audit(session, audit_pk)
    version = _checklist_version(session, audit.checklist_version_pk)
    _reviewer(session, reviewer_pk)
    checked: list[tuple[str, Any, str | None]] = []
    seen: set[str] = set()
    for key, value, reason_code in answers:
        if key in seen:
            raise AuditError(f"The answer to {key!r} is given twice.")
        seen.add(key)
        checked.append(_checked(version, key, value, reason_code))
    existing = set(
        session.scalars(
            select(AuditAnswer.key).where(
                AuditAnswer.audit_pk == audit_pk, AuditAnswer.key.in_(list(seen))
            )
        )
    )
    # A new key without a value is no change, as with set_answer.
    fresh = [item for item in checked if item[0] not in existing and item[1] is not None]
    changed = sum(
        set_answer(session, audit_pk, key, value, reviewer_pk, reason, source) is not None
        for key, value, reason in checked
        if key in existing
    )
    if fresh:
        when = now or utcnow()
        _insert_new(session, audit_pk, fresh, reviewer_pk, source, when)
        audit.updated_at = when
        session.flush()
    return changed + len(fresh)


def _insert_new(
    session: Session,
    audit_pk: int,
    fresh: Sequence[tuple[str, Any, str | None]],
    reviewer_pk: int,
    source: str,
    when: dt.datetime,
) -> None:
    answer_rows = []
    event_rows = []
    for key, value, reason in fresh:
        stored = _jsonable(value)
        answer_rows.append(
            {
                "audit_pk": audit_pk,
                "key": key,
                "value": stored,
                "reason_code": reason,
                "source": source,
                "answered_by": reviewer_pk,
                "answered_at": when,
            }
        )
        event_rows.append(
            {
                "audit_pk": audit_pk,
                "reviewer_pk": reviewer_pk,
                "at": when,
                "kind": "answer",
                "key": key,
                "old_value": None,
                "new_value": {"value": stored, "reason_code": reason, "source": source},
            }
        )
    session.flush()  # pending ORM rows first, so ids stay in the order of the calls
    session.execute(insert(AuditAnswer), answer_rows)
    session.execute(insert(AuditEvent), event_rows)
