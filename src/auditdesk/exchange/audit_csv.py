"""Import past audits from a CSV file (sites moving from a spreadsheet to AuditDesk).

Layout (one row per audit; the header row names the columns, in any order; see README.md):

- ``accession_number`` or ``study_uid``: which indexed study was audited (at least one).
- ``reviewer``: the reviewer's name; created when unknown if ``reviewer_role`` is given
  (``technologist``, ``team_leader`` or ``coach``; ``reviewer_initials`` optional).
- ``checklist``: checklist id (``auditdesk checklist list``); ``checklist_version`` optional
  (default: the newest available).
- answer columns, headed by answer keys (``RMLO:imf_open``; ``auditdesk checklist show ID``);
  an empty cell means "not answered".
- measurement columns ``measure:<key>`` in mm (e.g. ``measure:RMLO:pnl_mm``), stored with
  calibration source "reported" (the spreadsheet does not say how it was measured).
- optional ``comment``, ``learning_opportunity`` (yes/no), ``complete`` (yes/no; default yes
  when every required answer is there).

Rows are checked before anything is written; a bad row is reported with its line number and
skipped, the others are imported, each in its own transaction. Importing the same file twice
changes nothing (the same study, reviewer and checklist open the same audit; equal answers are
not rewritten).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from auditdesk.auditing import (
    AuditingError,
    find_checklist,
    save_computed_score,
    snapshot_checklist,
)
from auditdesk.checklists.rules import answer_keys, item_for_key, normalise_answer
from auditdesk.checklists.schema import Checklist
from auditdesk.store import audits as store
from auditdesk.store.db import Database
from auditdesk.store.models import Study

IDENTITY_COLUMNS = ("accession_number", "study_uid")
KNOWN_COLUMNS = {
    "accession_number", "study_uid", "reviewer", "reviewer_role", "reviewer_initials",
    "checklist", "checklist_version", "comment", "learning_opportunity", "complete",
}  # fmt: skip
MEASURE_PREFIX = "measure:"
YES = {"yes", "y", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}


@dataclass
class CsvImportResult:
    """What an import did; skipped rows carry their line number and one reason."""

    imported: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    audit_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "unchanged": self.unchanged,
            "skipped": [{"line": line, "reason": reason} for line, reason in self.skipped],
            "audit_ids": self.audit_ids,
        }


class RowError(ValueError):
    """One row cannot be imported; the message says why in one sentence."""


def _flag(value: str, column: str) -> bool:
    text = value.strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise RowError(f"{column} must be yes or no, not {value!r}.")


@dataclass
class _Row:
    line: int
    study_pk: int
    reviewer: str
    reviewer_role: str | None
    reviewer_initials: str
    checklist: Checklist
    answers: dict[str, Any]
    measurements: dict[str, float]
    comment: str | None
    learning: bool | None
    complete: bool | None


def _checklist(cells: dict[str, str], cache: dict[tuple[str, str | None], Checklist]) -> Checklist:
    key = (cells.get("checklist", "").strip(), cells.get("checklist_version", "").strip() or None)
    if not key[0]:
        raise RowError("The checklist column is empty.")
    if key not in cache:
        try:
            cache[key] = find_checklist(*key)
        except AuditingError as exc:
            raise RowError(str(exc)) from exc
    return cache[key]


def _study_pk(session: Any, cells: dict[str, str]) -> int:
    accession = cells.get("accession_number", "").strip()
    uid = cells.get("study_uid", "").strip()
    if not accession and not uid:
        raise RowError("Neither accession_number nor study_uid is given.")
    conditions = []
    if uid:
        conditions.append(Study.study_uid == uid)
    if accession:
        conditions.append(Study.accession_number == accession)
    found = list(session.scalars(select(Study.id).where(or_(*conditions))))
    if not found:
        raise RowError(
            "No indexed study has this accession number or study UID; import its images first."
        )
    if len(set(found)) > 1:
        raise RowError("The accession number matches several studies; give study_uid instead.")
    return found[0]


def _parse_row(session: Any, line: int, cells: dict[str, str], cache: dict[Any, Checklist]) -> _Row:
    checklist = _checklist(cells, cache)
    keys = set(answer_keys(checklist))
    answers: dict[str, Any] = {}
    measurements: dict[str, float] = {}
    for column, raw in cells.items():
        value = (raw or "").strip()
        if column in KNOWN_COLUMNS or not column:
            continue
        if column.startswith(MEASURE_PREFIX):
            key = column.removeprefix(MEASURE_PREFIX)
            if key not in keys:
                raise RowError(f"Column {column!r}: {key} is not a key of '{checklist.id}'.")
            if value:
                try:
                    measurements[key] = float(value)
                except ValueError:
                    raise RowError(f"Column {column!r}: {value!r} is not a number of mm.") from None
            continue
        if column not in keys:
            raise RowError(
                f"Column {column!r} is not an answer key of '{checklist.id}' "
                f"{checklist.version} (see 'auditdesk checklist show {checklist.id}')."
            )
        if value:
            try:
                answers[column] = normalise_answer(item_for_key(checklist, column), value)
            except ValueError as exc:
                raise RowError(f"Column {column!r}: {exc}") from None
    reviewer = cells.get("reviewer", "").strip()
    if not reviewer:
        raise RowError("The reviewer column is empty.")
    complete_cell = cells.get("complete", "").strip()
    learning_cell = cells.get("learning_opportunity", "").strip()
    return _Row(
        line=line,
        study_pk=_study_pk(session, cells),
        reviewer=reviewer,
        reviewer_role=cells.get("reviewer_role", "").strip() or None,
        reviewer_initials=cells.get("reviewer_initials", "").strip()
        or "".join(part[0] for part in reviewer.split() if part)[:4].upper(),
        checklist=checklist,
        answers=answers,
        measurements=measurements,
        comment=cells.get("comment", "").strip() or None,
        learning=_flag(learning_cell, "learning_opportunity") if learning_cell else None,
        complete=_flag(complete_cell, "complete") if complete_cell else None,
    )


def _write(db: Database, row: _Row) -> tuple[int, bool]:
    """Write one row in one transaction; returns (audit id, whether anything changed)."""
    with db.transaction() as session:
        reviewer = store.get_reviewer_by_name(session, row.reviewer)
        if reviewer is None:
            if row.reviewer_role is None:
                raise RowError(
                    f"Reviewer {row.reviewer!r} is unknown; add a reviewer_role column to "
                    "create reviewers, or add them with 'auditdesk reviewer add'."
                )
            reviewer = store.create_reviewer(
                session, row.reviewer, row.reviewer_role, row.reviewer_initials
            )
        version = snapshot_checklist(session, row.checklist)
        audit = store.open_audit(session, row.study_pk, reviewer.id, version.id)
        changes = [
            store.set_answer(session, audit.id, key, value, reviewer.id)
            for key, value in row.answers.items()
        ]
        for key, mm in row.measurements.items():
            changes.append(
                store.set_measurement(
                    session,
                    audit.id,
                    key,
                    value_px=mm,
                    value_mm=mm,
                    calibration_source="reported",
                    sop_uid=None,
                    reviewer_pk=reviewer.id,
                )
            )
        if row.comment is not None:
            changes.append(store.set_comment(session, audit.id, row.comment, reviewer.id))
        if row.learning is not None:
            changes.append(
                store.set_learning_opportunity(session, audit.id, row.learning, reviewer.id)
            )
        result = save_computed_score(session, audit.id)
        wants_complete = row.complete if row.complete is not None else result.complete
        if wants_complete:
            if not result.complete:
                missing = ", ".join(result.missing_required[:5])
                raise RowError(f"complete is yes but required answers are missing ({missing}).")
            changes.append(store.set_status(session, audit.id, "complete", reviewer.id))
        return audit.id, any(change is not None for change in changes)


def import_audits_csv(db: Database, path: str | Path) -> CsvImportResult:
    """Import the audits in ``path`` (layout in the module docstring)."""
    result = CsvImportResult()
    cache: dict[Any, Checklist] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fp:
            rows = list(csv.DictReader(fp))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AuditingError(f"The CSV file {path} cannot be read ({exc}).") from exc
    for offset, cells in enumerate(rows):
        line = offset + 2  # the header is line 1
        cells = {(k or "").strip(): v for k, v in cells.items() if k is not None}
        try:
            with db.session() as session:
                parsed = _parse_row(session, line, cells, cache)
            audit_id, changed = _write(db, parsed)
        except (RowError, store.AuditError, AuditingError) as exc:
            result.skipped.append((line, str(exc)))
            continue
        result.audit_ids.append(audit_id)
        if changed:
            result.imported += 1
        else:
            result.unchanged += 1
    return result
