"""The per-exam sheet (XLSX or CSV): what a team leader needs to give feedback on each exam.

One row per counted exam: the audit :mod:`auditdesk.qi.measures` counts for it (consensus first,
then the sampled primary reviewer, then the earliest), so the sheet always agrees with the weekly
submission. Besides the columns of the collaborative template's Exam Entry sheet (one Pass / Fail
/ N/A column per criterion) a row says *why* an exam failed: the failed view and item with the
reviewer's reason, the checklist id and exact version the audit was scored with, each PNL length
with the calibration it was measured in (pixels are never called millimetres), the pectoral
muscle to PNL gaps, and why an exam could not be evaluated.

No patient identifier or UID is written: exams are named by the site's pseudonymous exam key,
and free-text comments are left out (a reviewer may type a name there). Every text cell goes
through :func:`auditdesk.exchange.weekly.safe_cell`, so a technologist typed as ``=HYPERLINK(..)``
is never run as a formula. XLSX and CSV have the same columns; CSV is UTF-8 with a byte-order mark
like the weekly CSV, so Excel on Windows reads accents right.

Whether an exam is evaluable, and why not, comes from :func:`auditdesk.qi.measures.exam_results`
(the checklist's N/A rule, with a reviewer's meets-criteria override respected), so the sheet
and the weekly submission always agree.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from auditdesk.checklists.effective import effective_answers
from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.checklists.schema import SCOPES, Checklist, PassFailItem
from auditdesk.checklists.validate import parse_key
from auditdesk.exchange.formats import EXAM_SHEET_FORMATS
from auditdesk.exchange.weekly import (
    DEMO_MARK,
    _atomic,
    _checklist,
    _criteria,
    _save_workbook,
    _set,
    new_sheet,
    safe_cell,
    site_exam_results,
)
from auditdesk.reading.auditing import stored_checklist
from auditdesk.store.models import (
    Audit,
    AuditAnswer,
    AuditMeasurement,
    AuditScore,
    ChecklistVersion,
)

if TYPE_CHECKING:
    from auditdesk.qi.measures import ExamResult

__all__ = [
    "CALIBRATION_TEXT",
    "EXAMS_SHEET",
    "EXAM_SHEET_FORMATS",
    "ExamDetail",
    "FailedItem",
    "Length",
    "exam_details",
    "exam_sheet_format",
    "exam_sheet_rows",
    "write_exam_sheet",
]

EXAMS_SHEET = "Exam Entry"
#: Columns before the per-criterion columns (one per pass/fail item of the measure checklist).
COLUMNS_BEFORE = (
    "Exam key",
    "Procedure date",
    "Week (Sunday)",
    "Location",
    "Technologist",
    "Evaluator",
    "Checklist",
    "Checklist version",
    "Result",
    "Failed items",
    "Failed items (labels)",
    "Not evaluable reasons",
    "PNL",
    "Pectoral to PNL",
)
#: Columns after the per-criterion columns.
COLUMNS_AFTER = ("Double read", "Consensus", "Learning opportunity", "Demo")
RESULT_MEETS = "Meets criteria"
RESULT_FAILS = "Does not meet criteria"
RESULT_NOT_EVALUABLE = "Not evaluable"
ANSWER_TEXT = {"pass": "Pass", "fail": "Fail", "na": "N/A"}
#: Item ids whose numbers the sheet shows: the PNL length and the pectoral muscle to PNL gap.
PNL_ITEM = "pnl_mm"
PECTORAL_GAP_ITEM = "pectoral_to_pnl_mm"
#: How a length's calibration is named beside it (store.audits.CALIBRATION_SOURCES, plus a
#: number the reviewer typed in, which wins over the measurement tool when scoring).
CALIBRATION_TEXT = {
    "pixel_spacing": "Pixel Spacing",
    "imager_pixel_spacing": "Imager Pixel Spacing",
    "imager_pixel_spacing_ermf": "Imager Pixel Spacing / ERMF",
    "digitiser_spacing": "digitiser spacing (scanned film)",
    "reported": "reported by import, calibration unknown",
    "none": "no calibration",
    "entered": "entered by the reviewer",
}
#: Audit ids per query: SQLite limits the bound parameters of one statement.
_CHUNK = 500


# --------------------------------------------------------------------------------------------
# what the counted audits say beyond ExamResult
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedItem:
    """One failed item on one view, e.g. RMLO ``pectoral_to_pnl`` with reason ``short``."""

    member: str
    item_id: str
    label: str
    reason_code: str | None = None
    reason_label: str | None = None
    #: For a fail the checklist computed from measurements and no reason was given: what was
    #: measured and what was needed, e.g. ``LMLO:pectoral_to_pnl_mm = 14.5 mm, needs <= 10 mm``.
    computed: str | None = None

    @property
    def reason(self) -> str | None:
        return self.reason_label or self.reason_code or self.computed

    def short_text(self) -> str:
        """``RMLO: pectoral_to_pnl (Pectoral muscle too short)``."""
        reason = self.reason
        return f"{self.member}: {self.item_id}" + (f" ({reason})" if reason else "")

    def label_text(self) -> str:
        """``LCC: Medial tissue included — <reason label>``: the item's label, for reading."""
        reason = self.reason
        return f"{self.member}: {self.label}" + (f" — {reason}" if reason else "")


@dataclass(frozen=True)
class Length:
    """A length on one view as scoring used it: mm with a calibration source, or pixels."""

    member: str
    value: float
    unit: str  # "mm" or "px"
    source: str  # a key of CALIBRATION_TEXT

    def text(self) -> str:
        """``RCC 84.2 mm (Imager Pixel Spacing)``; pixels stay pixels."""
        where = CALIBRATION_TEXT.get(self.source, self.source)
        return f"{self.member} {self.value:.1f} {self.unit} ({where})"


@dataclass(frozen=True)
class ExamDetail:
    """The counted audit's checklist version, failures, lengths and evaluability."""

    checklist_version: str
    failed: tuple[FailedItem, ...]
    pnl: tuple[Length, ...]
    pectoral_gap: tuple[Length, ...]


def _chunks(values: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(values), _CHUNK):
        yield list(values[i : i + _CHUNK])


def _member_order(checklist: Checklist) -> dict[str, int]:
    """Views in reading order (RCC, LCC, RMLO, LMLO; MR sequences as the modality lists them)."""
    order: dict[str, int] = {}
    for scope in SCOPES.get(checklist.modality, {}).values():
        for member in scope:
            order.setdefault(member, len(order))
    return order


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _computed_detail(record: object) -> str | None:
    """What a measurement rule saw when it failed the item (None unless it computed "fail")."""
    if not isinstance(record, dict) or record.get("value") != "fail" or not record.get("detail"):
        return None
    needs = record.get("requirement")
    return f"{record['detail']}, needs {needs}" if needs else str(record["detail"])


def _failed(
    checklist: Checklist, result: dict[str, Any], reason_codes: dict[str, str]
) -> tuple[FailedItem, ...]:
    """Failed pass/fail items as scoring saw them (typed or computed), views in reading order."""
    effective = effective_answers(result)
    computed = result.get("computed") or {}
    order = _member_order(checklist)
    form = {key: i for i, key in enumerate(answer_keys(checklist))}
    failed: list[tuple[int, int, FailedItem]] = []
    for key, value in effective.items():
        if value != "fail":
            continue
        try:
            member, item_id = parse_key(key)
            item = item_for_key(checklist, key)
        except (ValueError, KeyError):
            continue
        if not isinstance(item, PassFailItem):
            continue
        code = reason_codes.get(key)
        labels = {r.code: r.label for r in item.reason_codes}
        failed.append(
            (
                order.get(member, len(order)),
                form.get(key, len(form)),
                FailedItem(
                    member,
                    item_id,
                    item.label,
                    code,
                    labels.get(code) if code else None,
                    None if code else _computed_detail(computed.get(key)),
                ),
            )
        )
    failed.sort(key=lambda t: (t[0], t[1]))
    return tuple(f for _, _, f in failed)


def _lengths(
    item_id: str,
    order: dict[str, int],
    effective: dict[str, Any],
    typed: dict[str, Any],
    measured: dict[str, tuple[float | None, float, str]],
) -> tuple[Length, ...]:
    """Each view's length of ``item_id``: a typed number wins over the measurement tool (as in
    scoring); an uncalibrated measurement is shown in pixels, never as mm."""
    lengths: list[Length] = []
    keys = {k for k in (*typed, *measured) if k.endswith(":" + item_id)}
    for key in keys:
        member = key.partition(":")[0]
        number = _number(effective.get(key)) if key in typed else None
        if key in typed and number is None:
            number = _number(typed[key])
        if number is not None:
            lengths.append(Length(member, number, "mm", "entered"))
        elif key in measured:
            value_mm, value_px, source = measured[key]
            if value_mm is not None:
                lengths.append(Length(member, value_mm, "mm", source))
            else:
                lengths.append(Length(member, value_px, "px", source))
    lengths.sort(key=lambda x: (order.get(x.member, len(order)), x.member))
    return tuple(lengths)


def exam_details(session: Session, results: Sequence[ExamResult]) -> dict[int, ExamDetail]:
    """Details of each counted audit, by audit id, in four queries per 500 exams.

    Reads the audit's current score under its own checklist version (what ``exam_results``
    counted), the reason codes and typed lengths among its answers, and its measurements with
    their calibration source; labels come from the checklist version the audit was made with.
    """
    audit_pks = sorted({r.audit_pk for r in results})
    versions: dict[int, ChecklistVersion] = {}
    scores: dict[int, dict[str, Any]] = {}
    reasons: dict[int, dict[str, str]] = {}
    typed: dict[int, dict[str, Any]] = {}
    measured: dict[int, dict[str, tuple[float | None, float, str]]] = {}
    length_keys = or_(
        AuditAnswer.key.like(f"%:{PNL_ITEM}"), AuditAnswer.key.like(f"%:{PECTORAL_GAP_ITEM}")
    )
    for chunk in _chunks(audit_pks):
        for audit_pk, version in session.execute(
            select(Audit.id, ChecklistVersion)
            .join(ChecklistVersion, ChecklistVersion.id == Audit.checklist_version_pk)
            .where(Audit.id.in_(chunk))
        ):
            versions[audit_pk] = version
        for audit_pk, result in session.execute(
            select(AuditScore.audit_pk, AuditScore.result)
            .join(Audit, Audit.id == AuditScore.audit_pk)
            .where(
                AuditScore.audit_pk.in_(chunk),
                AuditScore.is_current.is_(True),
                AuditScore.checklist_version_pk == Audit.checklist_version_pk,
            )
            .order_by(AuditScore.id)
        ):
            scores[audit_pk] = result or {}
        for audit_pk, key, value, code in session.execute(
            select(
                AuditAnswer.audit_pk, AuditAnswer.key, AuditAnswer.value, AuditAnswer.reason_code
            )
            .where(AuditAnswer.audit_pk.in_(chunk))
            .where(or_(AuditAnswer.reason_code.is_not(None), length_keys))
        ):
            if code is not None:
                reasons.setdefault(audit_pk, {})[key] = code
            if value is not None and key.endswith((f":{PNL_ITEM}", f":{PECTORAL_GAP_ITEM}")):
                typed.setdefault(audit_pk, {})[key] = value
        for audit_pk, key, value_mm, value_px, source in session.execute(
            select(
                AuditMeasurement.audit_pk,
                AuditMeasurement.key,
                AuditMeasurement.value_mm,
                AuditMeasurement.value_px,
                AuditMeasurement.calibration_source,
            ).where(AuditMeasurement.audit_pk.in_(chunk))
        ):
            measured.setdefault(audit_pk, {})[key] = (value_mm, value_px, source)

    details: dict[int, ExamDetail] = {}
    for exam in results:
        version = versions[exam.audit_pk]
        checklist = stored_checklist(version)
        result = scores.get(exam.audit_pk, {})
        # not-applicable keys kept: an entered length is shown whether or not it was scored
        effective = effective_answers(result, keep_not_applicable=True)
        order = _member_order(checklist)
        mine_typed = typed.get(exam.audit_pk, {})
        mine_measured = measured.get(exam.audit_pk, {})
        details[exam.audit_pk] = ExamDetail(
            checklist_version=version.version,
            failed=_failed(checklist, result, reasons.get(exam.audit_pk, {})),
            pnl=_lengths(PNL_ITEM, order, effective, mine_typed, mine_measured),
            pectoral_gap=_lengths(PECTORAL_GAP_ITEM, order, effective, mine_typed, mine_measured),
        )
    return details


# --------------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------------


def _yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def exam_sheet_rows(
    session: Session,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> tuple[list[str], list[list[object]], bool]:
    """(header, rows, demo): one row per counted exam by procedure date, ``start``/``end``
    inclusive; dates are ``datetime.date``, flags "Yes"/"No", several values joined by "; "."""
    from auditdesk.qi.site import exam_key, site_secret

    settings, results = site_exam_results(session, start, end)
    criteria = _criteria(results, _checklist(settings.checklist_id))
    details = exam_details(session, results)
    secret = site_secret(session)
    results = sorted(results, key=lambda r: (r.procedure_date, r.technologist or "", r.study_pk))
    header = [*COLUMNS_BEFORE, *(label for _cid, label in criteria), *COLUMNS_AFTER]
    demo = DEMO_MARK if settings.is_demo else ""
    rows: list[list[object]] = []
    for exam in results:
        d = details[exam.audit_pk]
        if not exam.evaluable:
            verdict = RESULT_NOT_EVALUABLE
        else:
            verdict = RESULT_MEETS if exam.meets else RESULT_FAILS
        rows.append(
            [
                exam_key(secret, exam.study_uid),
                exam.procedure_date,
                exam.week_start,
                exam.location,
                exam.technologist,
                exam.evaluator,
                exam.checklist_id,
                d.checklist_version,
                verdict,
                "; ".join(f.short_text() for f in d.failed),
                "; ".join(f.label_text() for f in d.failed),
                "; ".join(exam.not_evaluable_reasons),
                "; ".join(x.text() for x in d.pnl),
                "; ".join(x.text() for x in d.pectoral_gap),
                *(ANSWER_TEXT.get(exam.criteria.get(cid, ""), "") for cid, _ in criteria),
                _yes_no(exam.double_read),
                _yes_no(getattr(exam, "consensus", False)),
                _yes_no(exam.learning_opportunity),
                demo,
            ]
        )
    return header, rows, bool(settings.is_demo)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def exam_sheet_format(path: str | Path, fmt: str | None = None) -> str:
    """``fmt`` when given, else the file's suffix; ValueError (one sentence) if neither is known."""
    chosen = (fmt or Path(path).suffix.lstrip(".")).lower()
    if chosen not in EXAM_SHEET_FORMATS:
        raise ValueError(
            f"Cannot write the per-exam sheet as {chosen or 'a file without a suffix'!r} "
            f"({Path(path).name}); use " + " or ".join(EXAM_SHEET_FORMATS) + "."
        )
    return chosen


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return safe_cell(value)


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with _atomic(path, "w", newline="", encoding="utf-8-sig") as fp:
        writer = csv.writer(fp)
        writer.writerow([safe_cell(c) for c in header])
        for row in rows:
            writer.writerow([_csv_value(v) for v in row])


def _write_xlsx(path: Path, header: list[str], rows: list[list[object]], demo: bool) -> None:
    from openpyxl.utils import get_column_letter

    wb, ws, r = new_sheet(EXAMS_SHEET, header, demo)
    for row in rows:
        r += 1
        for c, value in enumerate(row, start=1):
            cell = _set(ws, r, c, value)
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    wide = {"Failed items", "Failed items (labels)", "Not evaluable reasons", "PNL"}
    for c, name in enumerate(header, start=1):
        if name in wide or name == "Pectoral to PNL":
            width = 40
        elif c <= len(COLUMNS_BEFORE) or name in COLUMNS_AFTER:
            width = 14
        else:
            width = min(max(len(name) // 2, 10), 30)
        ws.column_dimensions[get_column_letter(c)].width = width
    _save_workbook(wb, path)


def write_exam_sheet(
    session: Session,
    path: str | Path,
    fmt: str | None = None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> int:
    """Write the per-exam sheet as ``xlsx`` or ``csv`` (default: from the suffix); returns the
    exams written. The file is replaced only once complete; with no counted exam it holds the
    header only. XLSX: sheet "Exam Entry", bold frozen header, date cells, a DEMO banner row
    above the header for demo data."""
    fmt = exam_sheet_format(path, fmt)
    path = Path(path)
    header, rows, demo = exam_sheet_rows(session, start=start, end=end)
    if fmt == "csv":
        _write_csv(path, header, rows)
    else:
        _write_xlsx(path, header, rows, demo)
    return len(rows)
