"""The per-exam sheet (XLSX and CSV): which audit each row shows, the failed views and items
with their reasons, the checklist version, PNL lengths with their calibration, not-evaluable
reasons, formula injection, the CLI, and no patient identifier in any byte.

Audits are made through the real API (AuditSession, adjudication) on the test set's two
mammograms; every expected cell below is written out by hand from what the fixture entered.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from auditdesk.checklists.loader import parse_checklist_text
from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.cli import main
from auditdesk.dicom.index import import_paths
from auditdesk.exchange.exam_sheet import (
    COLUMNS_AFTER,
    COLUMNS_BEFORE,
    exam_details,
    exam_sheet_format,
    write_exam_sheet,
)
from auditdesk.exchange.weekly import DEMO_BANNER, site_exam_results
from auditdesk.qi import site
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.review.adjudication import start_consensus
from auditdesk.store.audits import create_reviewer
from auditdesk.store.db import open_database
from auditdesk.store.models import Audit, AuditScore, Study

BOTH_BACKENDS = True  # tests using the db fixture also run on PostgreSQL (conftest.py)

CHECKLIST = "acr-mammo-positioning"
SUN = dt.date(2026, 3, 1)  # the test set's first mammogram (a Sunday)
SAT = dt.date(2026, 3, 7)  # the second one (the Saturday of the same week)
TECH = '=HYPERLINK("http://evil.example","x")'  # a formula-like raw Operators' Name
EDITED_VERSION = "9.9"  # the Sunday exam is audited with an edited copy of the checklist


def _answer_all(
    audit: AuditSession, checklist, fails: dict[str, str | None], computed: tuple[str, ...] = ()
) -> None:
    """Every required pass/fail item: fail (with the reason code given) for keys in ``fails``,
    unanswered for keys in ``computed`` (a measurement rule decides), pass otherwise."""
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if key in computed:
            continue
        if item.required and getattr(item, "type", None) == "pass_fail":
            if key in fails:
                audit.answer(key, "fail", reason_code=fails[key])
            else:
                audit.answer(key, "pass")


@pytest.fixture(scope="module")
def sheet_template(tmp_path_factory: pytest.TempPathFactory, test_set) -> tuple[Path, str]:
    """Built once per module (importing and auditing take seconds); tests get a copy.

    Sunday exam: one read by Rita Reader with checklist version 9.9 (an edited copy): fails
    RMLO:pectoral_to_pnl (reason "short") and LCC:medial_tissue (no reason); PNLs RCC 84.2 mm
    (Imager Pixel Spacing), LCC 80.0 mm (Pixel Spacing), RMLO 812 px (uncalibrated), LMLO 88 mm
    typed in; pectoral gaps RMLO 14.5 mm (IPS / ERMF), LMLO 12.5 mm (reported) with
    LMLO:pectoral_to_pnl left to the measurement rule (12.5 > 10 mm: fail); learning flag.
    Saturday exam: read by Rita (all pass) and Sam (fails RCC:nipple_profile), settled by
    Coach Carter's consensus, which fails RCC:no_skin_folds (reason "axillary").
    """
    folder = tmp_path_factory.mktemp("exam-sheet")
    path = folder / "template.sqlite"
    installed = find_checklist(CHECKLIST)
    edited = parse_checklist_text(
        re.sub(
            r'^version = "[^"]*"',
            f'version = "{EDITED_VERSION}"',
            installed.source_text,
            count=1,
            flags=re.M,
        ),
        origin="edited copy",
    )
    assert edited.version == EDITED_VERSION != installed.version
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITDESK_HOME", str(folder / "home"))
        db = open_database(f"sqlite:///{path}")
        import_paths(db, [test_set.root])
        with db.transaction() as session:
            rita = create_reviewer(session, "Rita Reader", "team_leader", "RR").id
            sam = create_reviewer(session, "Sam Second", "technologist", "SS").id
            coach = create_reviewer(session, "Coach Carter", "coach", "CC").id
            studies = {
                s.procedure_date: s.id
                for s in session.scalars(select(Study).where(Study.kind == "mammo"))
            }
            assert set(studies) == {SUN, SAT}
            session.get(Study, studies[SUN]).technologist = TECH

        audit = AuditSession.start(db, study_pk=studies[SUN], reviewer_pk=rita, checklist=edited)
        _answer_all(
            audit,
            edited,
            {"RMLO:pectoral_to_pnl": "short", "LCC:medial_tissue": None},
            computed=("LMLO:pectoral_to_pnl",),
        )
        audit.measure(
            "RCC:pnl_mm",
            value_px=842.0,
            value_mm=84.2,
            calibration_source="imager_pixel_spacing",
            sop_uid=None,
        )
        audit.measure(
            "LCC:pnl_mm", value_px=800.0, value_mm=80.0, calibration_source="pixel_spacing",
            sop_uid=None,
        )  # fmt: skip
        audit.measure(
            "RMLO:pnl_mm", value_px=812.0, value_mm=None, calibration_source="none", sop_uid=None
        )
        audit.answer("LMLO:pnl_mm", 88)
        audit.measure(
            "RMLO:pectoral_to_pnl_mm",
            value_px=145.0,
            value_mm=14.5,
            calibration_source="imager_pixel_spacing_ermf",
            sop_uid=None,
        )
        audit.measure(
            "LMLO:pectoral_to_pnl_mm", value_px=12.5, value_mm=12.5, calibration_source="reported",
            sop_uid=None,
        )  # fmt: skip
        audit.learning_opportunity(True)
        audit.complete()

        for reviewer, fails in ((rita, {}), (sam, {"RCC:nipple_profile": None})):
            read = AuditSession.start(
                db, study_pk=studies[SAT], reviewer_pk=reviewer, checklist=installed
            )
            _answer_all(read, installed, fails)
            read.complete()
        consensus = start_consensus(db, studies[SAT], coach, installed)
        _answer_all(consensus, installed, {"RCC:no_skin_folds": "axillary"})
        consensus.complete()
        db.dispose()
    return path, installed.version


@pytest.fixture
def audited(tmp_path: Path, sheet_template):
    """A copy of the template database: (db, url, {procedure date: study pk}, installed version)."""
    template, version = sheet_template
    path = tmp_path / "sheet.sqlite"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    db = open_database(url)
    with db.session() as session:
        studies = {
            s.procedure_date: s.id
            for s in session.scalars(select(Study).where(Study.kind == "mammo"))
        }
    yield db, url, studies, version
    db.dispose()


def _assert_no_phi(path: Path, phi: frozenset[str]) -> None:
    """Every XML part of an XLSX (or the whole CSV) is free of every test-set identifier."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as zf:
            parts = {name: zf.read(name) for name in zf.namelist()}
    else:
        parts = {path.name: path.read_bytes()}
    assert parts
    for name, data in parts.items():
        for value in phi:
            assert value.encode() not in data, f"{value!r} found in {path.name}:{name}"


def _xlsx_rows(path: Path, first: int = 1) -> tuple[list[str], list[dict[str, object]]]:
    ws = load_workbook(path)["Exam Entry"]
    header = [c.value for c in ws[first]]
    rows = [
        dict(zip(header, (c.value for c in r), strict=True))
        for r in ws.iter_rows(min_row=first + 1)
    ]
    return header, rows


def _csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8-sig") as fp:
        table = list(csv.reader(fp))
    return table[0], [dict(zip(table[0], r, strict=True)) for r in table[1:]]


# The two rows, written out from what the fixture entered (not from the code under test).
# Views are listed in reading order RCC, LCC, RMLO, LMLO; items in form order within a view.
SUNDAY_CELLS = {
    "Location": None,
    "Technologist": "'" + TECH,
    "Evaluator": "Rita Reader",
    "Checklist": CHECKLIST,
    "Checklist version": EDITED_VERSION,
    "Result": "Does not meet criteria",
    "Failed items": (
        "LCC: medial_tissue; RMLO: pectoral_to_pnl (Pectoral muscle too short); "
        "LMLO: pectoral_to_pnl (LMLO:pectoral_to_pnl_mm = 12.5 mm, needs <= 10 mm)"
    ),
    "Failed items (labels)": (
        "LCC: Medial tissue included; "
        "RMLO: Pectoral muscle reaches the PNL (or within 10 mm) — Pectoral muscle too short; "
        "LMLO: Pectoral muscle reaches the PNL (or within 10 mm) — "
        "LMLO:pectoral_to_pnl_mm = 12.5 mm, needs <= 10 mm"
    ),
    "Not evaluable reasons": None,
    "PNL": (
        "RCC 84.2 mm (Imager Pixel Spacing); LCC 80.0 mm (Pixel Spacing); "
        "RMLO 812.0 px (no calibration); LMLO 88.0 mm (entered by the reviewer)"
    ),
    "Pectoral to PNL": (
        "RMLO 14.5 mm (Imager Pixel Spacing / ERMF); "
        "LMLO 12.5 mm (reported by import, calibration unknown)"
    ),
    "Medial tissue included": "Fail",
    "Inframammary fold open and shown": "Pass",
    "Double read": "No",
    "Consensus": "No",
    "Learning opportunity": "Yes",
    "Demo": None,
}
SATURDAY_CELLS = {
    "Evaluator": "Coach Carter",
    "Checklist": CHECKLIST,
    "Result": "Does not meet criteria",
    "Failed items": "RCC: no_skin_folds (Axillary fold)",
    "Failed items (labels)": "RCC: No skin folds obscuring tissue — Axillary fold",
    "Not evaluable reasons": None,
    "PNL": None,
    "Pectoral to PNL": None,
    "No skin folds obscuring tissue": "Fail",
    "Nipple in profile": "Pass",  # Sam's fail is not the counted audit's
    "Double read": "Yes",
    "Consensus": "Yes",
    "Learning opportunity": "No",
}


def _check_row(row: dict[str, object], expected: dict[str, object], blank: object) -> None:
    for column, value in expected.items():
        want = blank if value is None else value
        assert row[column] == want, (column, row[column], want)


def test_xlsx_cells(audited, tmp_path: Path, test_set, phi_values) -> None:
    db, _url, _studies, installed_version = audited
    path = tmp_path / "exams.xlsx"
    with db.transaction() as session:
        assert write_exam_sheet(session, path) == 2
        secret = site.site_secret(session)
    ws = load_workbook(path)["Exam Entry"]
    assert ws.freeze_panes == "A2"
    assert all(c.font.b for c in ws[1])
    header, rows = _xlsx_rows(path)
    assert tuple(header[: len(COLUMNS_BEFORE)]) == COLUMNS_BEFORE
    assert tuple(header[-len(COLUMNS_AFTER) :]) == COLUMNS_AFTER
    by_date = {r["Procedure date"].date(): r for r in rows}
    assert set(by_date) == {SUN, SAT}
    mammo = {s.procedure_date: s.study_uid for s in test_set.studies if s.kind == "mammo"}
    for day, row in by_date.items():
        assert row["Exam key"] == site.exam_key(secret, mammo[day])
        assert row["Week (Sunday)"].date() == SUN
    _check_row(by_date[SUN], SUNDAY_CELLS, None)
    _check_row(by_date[SAT], {**SATURDAY_CELLS, "Checklist version": installed_version}, None)
    # the formula-like technologist is a text cell, never a formula
    tech = next(c for c in ws["E"] if c.value == "'" + TECH)
    assert tech.data_type == "s"
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            assert b"<f>" not in data and b"<f " not in data, name
    _assert_no_phi(path, phi_values)


def test_csv_has_the_same_columns_and_cells(audited, tmp_path: Path, phi_values) -> None:
    db, _url, _studies, installed_version = audited
    xlsx, path = tmp_path / "exams.xlsx", tmp_path / "exams.csv"
    with db.transaction() as session:
        assert write_exam_sheet(session, path) == 2
        assert write_exam_sheet(session, xlsx) == 2
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, like the weekly CSV
    header, rows = _csv_rows(path)
    assert header == _xlsx_rows(xlsx)[0]
    by_date = {r["Procedure date"]: r for r in rows}
    assert set(by_date) == {"2026-03-01", "2026-03-07"}
    assert by_date["2026-03-01"]["Week (Sunday)"] == "2026-03-01"
    _check_row(by_date["2026-03-01"], SUNDAY_CELLS, "")
    _check_row(
        by_date["2026-03-07"], {**SATURDAY_CELLS, "Checklist version": installed_version}, ""
    )
    cells = [cell for row in rows for cell in row.values()] + header
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    _assert_no_phi(path, phi_values)


def test_not_evaluable_read_from_the_stored_score(audited, tmp_path: Path) -> None:
    """The N/A semantics of issue 12 store ``evaluable`` and ``not_evaluable`` in the score
    JSON; the sheet reports them (written here by hand as that change will store them)."""
    db, _url, studies, _version = audited
    reasons = ["RCC: all required items N/A", "LCC: view missing"]
    with db.transaction() as session:
        audit_pk = session.scalars(select(Audit.id).where(Audit.study_pk == studies[SUN])).one()
        row = session.scalars(
            select(AuditScore).where(
                AuditScore.audit_pk == audit_pk, AuditScore.is_current.is_(True)
            )
        ).one()
        row.result = {**row.result, "evaluable": False, "not_evaluable": reasons}
    path = tmp_path / "exams.csv"
    with db.session() as session:
        write_exam_sheet(session, path, "csv", start=SUN, end=SUN)
    _header, (row,) = _csv_rows(path)
    assert row["Result"] == "Not evaluable"
    assert row["Not evaluable reasons"] == "RCC: all required items N/A; LCC: view missing"


def test_demo_banner_and_column(audited, tmp_path: Path) -> None:
    db, _url, _studies, _version = audited
    xlsx, path = tmp_path / "exams.xlsx", tmp_path / "exams.csv"
    with db.transaction() as session:
        site.save_site(session, site.SiteSettings(is_demo=True))
        write_exam_sheet(session, xlsx, start=SUN, end=SUN)
        write_exam_sheet(session, path, start=SUN, end=SUN)
    ws = load_workbook(xlsx)["Exam Entry"]
    assert ws.cell(1, 1).value == DEMO_BANNER
    assert ws.cell(2, 1).value == "Exam key"
    assert ws.freeze_panes == "A3"
    assert ws.max_row == 3  # banner, header, the Sunday exam
    _header, rows = _xlsx_rows(xlsx, first=2)
    assert [r["Demo"] for r in rows] == ["DEMO"]
    assert [r["Demo"] for r in _csv_rows(path)[1]] == ["DEMO"]


def test_details_take_four_queries_whatever_the_number_of_exams(audited) -> None:
    """One query each for versions, scores, answers and measurements (per 500 exams): one query
    per exam would make 8 here, for the two exams."""
    db, _url, _studies, _version = audited
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with db.session() as session:
        _settings, results = site_exam_results(session)
        assert len(results) == 2
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            details = exam_details(session, results)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(details) == 2
    assert len(statements) == 4, statements


def test_format_from_suffix_or_refused(tmp_path: Path) -> None:
    assert exam_sheet_format("a.XLSX") == "xlsx"
    assert exam_sheet_format("a.txt", "csv") == "csv"
    with pytest.raises(ValueError, match="use xlsx or csv"):
        exam_sheet_format(tmp_path / "a.ods")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_export_exams(
    audited, tmp_path: Path, capsys: pytest.CaptureFixture[str], phi_values
) -> None:
    _db, url, _studies, _version = audited
    path = tmp_path / "exams.xlsx"
    code, out, err = run(capsys, "--db", url, "export", "exams", "-o", str(path))
    assert code == 0, err
    assert "2 exam" in out
    assert load_workbook(path)["Exam Entry"].max_row == 3
    code, out, _ = run(
        capsys, "--db", url, "export", "exams", "-o", str(path), "--from", "2026-03-07"
    )
    assert code == 0 and "1 exam" in out
    for argv in (
        ["-o", str(tmp_path / "e.csv")],
        ["-o", str(tmp_path / "e.txt"), "--format", "csv"],
    ):
        code, out, err = run(capsys, "--db", url, "export", "exams", *argv)
        assert code == 0, err
        written = Path(argv[1])
        _header, rows = _csv_rows(written)
        assert sorted(r["Failed items"] for r in rows) == sorted(
            [SUNDAY_CELLS["Failed items"], SATURDAY_CELLS["Failed items"]]
        )
        _assert_no_phi(written, phi_values)
    code, _, err = run(capsys, "--db", url, "export", "exams", "-o", str(tmp_path / "e.ods"))
    assert code == 2 and "--format xlsx|csv" in err
    assert not (tmp_path / "e.ods").exists()
    code, _, err = run(
        capsys, "--db", url, "export", "exams", "-o", str(path), "--to", "2026-01-01"
    )
    assert code == 1 and "no complete audits" in err
