"""The audit record: reviewers, checklist versions, and audits with their answers, measurements,
scores, overrides and change history. This module re-exports the public names; the code lives in
``reviewers``, ``checklist_versions``, ``audit_writes``, ``audit_state``, ``audit_recorder`` and
``audit_rows`` (shared row helpers), split by responsibility.

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

from auditdesk.store.audit_recorder import AuditRecorder
from auditdesk.store.audit_rows import (
    ANSWER_SOURCES,
    CALIBRATION_SOURCES,
    EVENT_KINDS,
    OVERRIDE_FIELDS,
    PURPOSES,
    ROLES,
    STATUSES,
    AuditError,
)
from auditdesk.store.audit_state import (
    AuditState,
    HistoryEntry,
    MeasurementState,
    OverrideState,
    ScoreState,
    audit_state,
    history,
)
from auditdesk.store.audit_writes import (
    clear_measurement,
    discard_if_blank,
    list_audits,
    open_audit,
    save_score,
    set_answer,
    set_comment,
    set_learning_opportunity,
    set_measurement,
    set_override,
    set_status,
)
from auditdesk.store.checklist_versions import (
    checklist_versions,
    register_checklist_version,
    sha256_text,
)
from auditdesk.store.reviewers import (
    create_reviewer,
    get_reviewer_by_name,
    list_reviewers,
    set_reviewer_active,
)

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
