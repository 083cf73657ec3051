"""Import past audits from a CSV file (sites moving from a spreadsheet to AuditDesk).

Layout (one row per audit; the header row names the columns, in any order; see README.md):

- ``accession_number`` or ``study_uid``: which indexed study was audited (at least one).
- ``reviewer``: the reviewer's name; created when unknown if ``reviewer_role`` is given
  (``technologist``, ``team_leader`` or ``coach``; ``reviewer_initials`` optional).
- ``checklist``: checklist id (``auditdesk checklist list``); ``checklist_version`` optional
  (default: the newest available). A version no checklist file provides any more is taken from
  the text stored when audits used it; an older version known nowhere is mapped onto the newest
  one when every key and value of the row still exists there (a note says so).
- answer columns, headed by answer keys (``RMLO:imf_open``; ``auditdesk checklist show ID``);
  an empty cell means "not answered".
- measurement columns ``measure:<key>`` in mm (e.g. ``measure:RMLO:pnl_mm``), stored with
  calibration source "reported" (the spreadsheet does not say how it was measured).
- optional ``comment``, ``learning_opportunity`` (yes/no), ``complete`` (yes/no; default yes
  when every required answer is there).

Every row is checked before anything is written. An answer the checklist cannot take (an
unknown key column, a value that is not an option, a number out of range), or one that cannot be
mapped from an older version, refuses the whole file: nothing is written and the error lists
each such answer with its line and what is valid. Other bad rows (a study not indexed, an
unknown reviewer) are reported with their line number and skipped; the others are imported,
each in its own transaction. Importing the same file twice changes nothing (the same study,
reviewer and checklist open the same audit; equal answers are not rewritten).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from auditdesk.checklists.answers import (
    InvalidAnswerError,
    check_answers,
    check_measurements,
    map_answers,
)
from auditdesk.checklists.schema import Checklist
from auditdesk.reading.auditing import (
    AuditingError,
    find_checklist,
    save_computed_score,
    snapshot_checklist,
    stored_checklist,
)
from auditdesk.store import audits as store
from auditdesk.store.db import Database
from auditdesk.store.models import Audit, ChecklistVersion, Study

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
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "unchanged": self.unchanged,
            "skipped": [{"line": line, "reason": reason} for line, reason in self.skipped],
            "audit_ids": self.audit_ids,
            "notes": self.notes,
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
    mapped_from: str | None = None  # "'id' version" the answers were mapped from


_Cache = dict[tuple[str, str | None], tuple[Checklist, str | None]]


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _checklist(session: Any, cells: dict[str, str], cache: _Cache) -> tuple[Checklist, str | None]:
    """The row's checklist, and the "'id' version" its answers must be mapped from (or None)."""
    key = (cells.get("checklist", "").strip(), cells.get("checklist_version", "").strip() or None)
    if not key[0]:
        raise RowError("The checklist column is empty.")
    if key not in cache:
        try:
            cache[key] = (find_checklist(key[0], key[1], session), None)
        except AuditingError as exc:
            if key[1] is None:
                raise RowError(str(exc)) from exc
            try:
                newest = find_checklist(key[0])
            except AuditingError as missing:
                raise RowError(str(missing)) from missing
            if _version_tuple(key[1]) > _version_tuple(newest.version):
                raise RowError(
                    f"Checklist '{key[0]}' version {key[1]} is newer than this workstation's "
                    f"({newest.version}); add that version first."
                ) from exc
            cache[key] = (newest, f"'{key[0]}' {key[1]}")
    return cache[key]


def _existing_checklist(session: Any, row: _Row) -> Checklist | None:
    """The version of the audit this row will update, when it exists: answers go to it."""
    reviewer = store.get_reviewer_by_name(session, row.reviewer)
    if reviewer is None:
        return None
    version = session.scalar(
        select(ChecklistVersion)
        .join(Audit, Audit.checklist_version_pk == ChecklistVersion.id)
        .where(
            Audit.study_pk == row.study_pk,
            Audit.reviewer_pk == reviewer.id,
            Audit.checklist_id == row.checklist.id,
            Audit.purpose == "review",
        )
    )
    return None if version is None else stored_checklist(version)


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


def _parse_row(session: Any, line: int, cells: dict[str, str], cache: _Cache) -> _Row:
    """A row's fields; its answers and measurements are checked by :func:`_check_answers`."""
    checklist, mapped_from = _checklist(session, cells, cache)
    answers: dict[str, Any] = {}
    measurements: dict[str, Any] = {}
    for column, raw in cells.items():
        value = (raw or "").strip()
        if column in KNOWN_COLUMNS or not column:
            continue
        if column.startswith(MEASURE_PREFIX):
            if value:
                measurements[column.removeprefix(MEASURE_PREFIX)] = value
            continue
        answers[column] = value  # empty: not answered, but the column must still be a key
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
        mapped_from=mapped_from,
    )


def _check_answers(session: Any, row: _Row) -> None:
    """Check (and, from an older version, map) the row's answers in place; InvalidAnswerError.

    They are checked against the version the answers will be stored under: an audit already
    here keeps its own version, so the row's answers must exist in that one too.
    """
    target = _existing_checklist(session, row) or row.checklist
    if row.mapped_from is not None:
        checked = map_answers(row.mapped_from, target, row.answers)
    else:
        checked = check_answers(target, row.answers)
    row.answers = {k: v for k, v in checked.items() if v is not None}
    numbers: list[tuple[str, Any]] = []
    problems: list[str] = []
    for key, text in row.measurements.items():
        try:
            numbers.append((key, float(text)))
        except ValueError:
            problems.append(f"{MEASURE_PREFIX}{key}: {text!r} is not a number of mm")
    try:
        row.measurements = check_measurements(target, numbers)
    except InvalidAnswerError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidAnswerError(problems)


def _refusal(path: str | Path, refused: dict[str, list[int]]) -> InvalidAnswerError:
    """One line for the whole file: each refused answer with the lines it is on."""
    parts = []
    for problem, lines in refused.items():
        where = "line" if len(lines) == 1 else "lines"
        shown = ", ".join(str(n) for n in lines[:5]) + (" ..." if len(lines) > 5 else "")
        parts.append(f"{where} {shown}: {problem}")
    prefix = f"The CSV file {Path(path).name} was not imported, nothing was written: "
    return InvalidAnswerError(parts, prefix)


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
    """Import the audits in ``path`` (layout in the module docstring).

    Raises :class:`InvalidAnswerError` (nothing written) when any answer cannot be stored.
    """
    result = CsvImportResult()
    cache: _Cache = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fp:
            rows = list(csv.DictReader(fp))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AuditingError(f"The CSV file {path} cannot be read ({exc}).") from exc
    parsed: list[_Row] = []
    refused: dict[str, list[int]] = {}
    with db.session() as session:
        for offset, cells in enumerate(rows):
            line = offset + 2  # the header is line 1
            cells = {(k or "").strip(): v for k, v in cells.items() if k is not None}
            try:
                row = _parse_row(session, line, cells, cache)
                _check_answers(session, row)
            except InvalidAnswerError as exc:
                for problem in exc.problems:
                    refused.setdefault(problem, []).append(line)
                continue
            except (RowError, store.AuditError, AuditingError) as exc:
                result.skipped.append((line, str(exc)))
                continue
            parsed.append(row)
    if refused:
        raise _refusal(path, refused)
    for row in parsed:
        try:
            audit_id, changed = _write(db, row)
        except (RowError, store.AuditError, AuditingError) as exc:
            result.skipped.append((row.line, str(exc)))
            continue
        if row.mapped_from is not None:
            result.notes.append(
                f"line {row.line}: {row.mapped_from} is not known here; its answers were mapped "
                f"to '{row.checklist.id}' {row.checklist.version} (every key and value exists "
                "there)."
            )
        result.audit_ids.append(audit_id)
        if changed:
            result.imported += 1
        else:
            result.unchanged += 1
    result.skipped.sort()
    return result
