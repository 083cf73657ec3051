"""``AuditRecorder``: one reviewer's changes to one audit, each committed at once (no save
button). Separate because it is the only part of the audit record that opens transactions; the
functions it wraps only flush.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from auditdesk.store.audit_state import (
    AuditState,
    HistoryEntry,
    audit_state,
    history,
)
from auditdesk.store.audit_writes import (
    clear_measurement,
    open_audit,
    save_score,
    set_answer,
    set_comment,
    set_learning_opportunity,
    set_measurement,
    set_override,
    set_status,
)
from auditdesk.store.db import Database
from auditdesk.store.models import (
    AuditEvent,
    AuditScore,
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
