"""Weekly submission (the per-exam sheet is in test_exam_sheet.py): contents, week selection,
demo marking, formula injection, the CLI, and no patient data in any byte of any output."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.cli import main
from auditdesk.dicom.index import import_paths
from auditdesk.exchange.exam_sheet import write_exam_sheet
from auditdesk.exchange.weekly import (
    DEMO_BANNER,
    WEEKLY_COLUMNS,
    safe_cell,
    weekly_rows,
    write_weekly,
)
from auditdesk.qi import site
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.store.audits import create_reviewer
from auditdesk.store.db import open_database
from auditdesk.store.models import Study

CHECKLIST = "acr-mammo-positioning"
SUN = dt.date(2026, 3, 1)  # the test set's first mammogram (a Sunday)
SAT = dt.date(2026, 3, 7)  # the second one (the Saturday of the same week)


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


def _audit(db, study_pk: int, reviewer_pk: int, fail: str | None = None) -> None:
    checklist = find_checklist(CHECKLIST)
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if item.required and getattr(item, "type", None) == "pass_fail":
            audit.answer(key, "fail" if key == fail else "pass")
    audit.complete()


@pytest.fixture(scope="module")
def audited_template(tmp_path_factory: pytest.TempPathFactory, test_set) -> Path:
    """Built once per module (importing and auditing take seconds); tests get a copy."""
    folder = tmp_path_factory.mktemp("exports")
    path = folder / "template.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITDESK_HOME", str(folder / "home"))
        db = open_database(f"sqlite:///{path}")
        import_paths(db, [test_set.root])
        with db.transaction() as session:
            reviewer_pk = create_reviewer(session, "Coach Carter", "coach", "CC").id
            studies = {
                s.procedure_date: s.id
                for s in session.scalars(select(Study).where(Study.kind == "mammo"))
            }
        assert set(studies) == {SUN, SAT}
        _audit(db, studies[SUN], reviewer_pk)
        _audit(db, studies[SAT], reviewer_pk, fail="RMLO:imf_open")
        db.dispose()
    return path


@pytest.fixture
def audited(tmp_path: Path, audited_template: Path):
    """Both test-set mammograms audited: #1 (Sunday) meets criteria, #2 (Saturday) fails
    RMLO:imf_open. Yields (db, url, {procedure date: study pk})."""
    path = tmp_path / "export.sqlite"
    shutil.copyfile(audited_template, path)
    url = f"sqlite:///{path}"
    db = open_database(url)
    with db.session() as session:
        studies = {
            s.procedure_date: s.id
            for s in session.scalars(select(Study).where(Study.kind == "mammo"))
        }
    yield db, url, studies
    db.dispose()


def _parts(path: Path) -> dict[str, bytes]:
    """The bytes to scan: every XML part of an XLSX, or the whole file."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    return {path.name: path.read_bytes()}


def _assert_no_phi(path: Path, phi: frozenset[str]) -> None:
    parts = _parts(path)
    assert parts
    for name, data in parts.items():
        for value in phi:
            assert value.encode() not in data, f"{value!r} found in {path.name}:{name}"


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as fp:
        return list(csv.reader(fp))


def test_phi_scan_would_catch_a_leak(tmp_path: Path, test_set, phi_values) -> None:
    phi = phi_values
    study = test_set.studies[0]
    assert {study.study_uid, study.patient_id, study.accession_number, study.patient_name} <= phi
    assert any(len(v) == 8 and v.isdigit() for v in phi)  # birth dates, DICOM form
    leak = tmp_path / "leak.csv"
    leak.write_text(f"key,value\nx,{study.files[0].sop_uid}\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="found in"):
        _assert_no_phi(leak, phi)


# --------------------------------------------------------------------------------------------
# safe_cell
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=cmd", "+1", "-2", "@x", "\tTAB", "\rCR"])
def test_safe_cell_quotes_formula_starts(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Smith, Jane", "", "a=b", 3, -2, 0.5, None, SUN, True])
def test_safe_cell_leaves_other_values(value: object) -> None:
    assert safe_cell(value) == value


# --------------------------------------------------------------------------------------------
# weekly submission
# --------------------------------------------------------------------------------------------


def test_weekly_rows_count_by_sunday_week(audited) -> None:
    db, _url, _studies = audited
    with db.transaction() as session:
        site.save_site(
            session,
            site.SiteSettings(site_name="Riverside", site_id="RBC01", collaborative="ACR LN"),
        )
    with db.session() as session:
        rows = weekly_rows(session)
    assert rows == [
        {
            "site_id": "RBC01",
            "site": "Riverside",
            "collaborative": "ACR LN",
            "week_start": "2026-03-01",
            "numerator": 1,
            "denominator": 2,
            "rate": 0.5,
            "not_evaluable": 0,
            "not_evaluable_reasons": "",
            "demo": "",
            "special_causes": "",
            "partial_week": "",
        }
    ]
    assert tuple(rows[0]) == WEEKLY_COLUMNS


def test_week_selection_sunday_to_saturday(audited) -> None:
    db, _url, studies = audited
    with db.session() as session:
        # Saturday and Sunday both belong to the week of Sunday 2026-03-01.
        for day in (SUN, SAT, dt.date(2026, 3, 4)):
            start = day - dt.timedelta(days=(day.weekday() + 1) % 7)
            rows = weekly_rows(session, start=start, end=start + dt.timedelta(days=6))
            assert [(r["week_start"], r["denominator"]) for r in rows] == [("2026-03-01", 2)]
        assert weekly_rows(session, start=dt.date(2026, 3, 8), end=dt.date(2026, 3, 14)) == []
    with db.transaction() as session:  # move the failing exam into the next week
        session.get(Study, studies[SAT]).procedure_date = dt.date(2026, 3, 8)
    with db.session() as session:
        rows = weekly_rows(session)
        assert [(r["week_start"], r["numerator"], r["denominator"]) for r in rows] == [
            ("2026-03-01", 1, 1),
            ("2026-03-08", 0, 1),
        ]
        assert [r["rate"] for r in rows] == [1.0, 0.0]
        # --from/--to that cut a week are snapped to the whole weeks they touch (Monday 2 to
        # Sunday 8 March: the weeks of 1 and 8 March), never cut
        rows = weekly_rows(session, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 8))
        assert [(r["week_start"], r["denominator"]) for r in rows] == [
            ("2026-03-01", 1),
            ("2026-03-08", 1),
        ]
        rows = weekly_rows(session, start=SUN, end=SUN)
        assert [r["week_start"] for r in rows] == ["2026-03-01"]


def test_breakdowns_are_aggregate_failure_counts(audited) -> None:
    db, _url, _studies = audited
    with db.session() as session:
        (row,) = weekly_rows(session, breakdowns=True)
    assert row["failed:imf_open"] == 1
    assert row["failed:nipple_profile"] == 0
    checklist = find_checklist(CHECKLIST)
    pass_fail = {
        item.id for s in checklist.sections for item in s.items if item.type == "pass_fail"
    }
    failed_columns = {k.removeprefix("failed:") for k in row if k.startswith("failed:")}
    assert failed_columns <= pass_fail and "imf_open" in failed_columns
    assert all(isinstance(v, (int, float, str)) for v in row.values())


@pytest.mark.parametrize("demo", [False, True])
def test_weekly_files_in_three_formats(
    audited, tmp_path: Path, test_set, demo: bool, phi_values
) -> None:
    db, _url, _studies = audited
    with db.transaction() as session:
        site.save_site(
            session, site.SiteSettings(site_name="Riverside", site_id="RBC01", is_demo=demo)
        )
    out = {fmt: tmp_path / f"weekly.{fmt}" for fmt in ("csv", "xlsx", "json")}
    with db.session() as session:
        for fmt, path in out.items():
            assert write_weekly(session, path, fmt, breakdowns=True) == 1

    rows = _csv_rows(out["csv"])
    assert rows[0][: len(WEEKLY_COLUMNS)] == list(WEEKLY_COLUMNS)
    record = dict(zip(rows[0], rows[1], strict=True))
    assert (record["week_start"], record["numerator"], record["denominator"]) == (
        "2026-03-01",
        "1",
        "2",
    )
    assert record["rate"] == "0.5"
    assert record["demo"] == ("DEMO" if demo else "")

    ws = load_workbook(out["xlsx"])["Weekly submission"]
    first = 2 if demo else 1
    if demo:
        assert ws.cell(1, 1).value == DEMO_BANNER
    else:
        assert ws.cell(1, 1).value == "site_id"
    assert [c.value for c in ws[first]][: len(WEEKLY_COLUMNS)] == list(WEEKLY_COLUMNS)
    assert ws.cell(first, 1).font.b
    week_cell = ws.cell(first + 1, WEEKLY_COLUMNS.index("week_start") + 1)
    assert week_cell.value == "2026-03-01" and week_cell.data_type == "s"
    assert ws.cell(first + 1, WEEKLY_COLUMNS.index("numerator") + 1).value == 1

    data = json.loads(out["json"].read_text(encoding="utf-8"))
    assert data["site"] == "Riverside" and data["demo"] is demo
    assert data["generated_at"]
    assert data["weeks"][0]["week_start"] == "2026-03-01"
    assert (data["weeks"][0]["numerator"], data["weeks"][0]["denominator"]) == (1, 2)
    assert data["weeks"][0]["failed:imf_open"] == 1

    phi = phi_values
    for path in out.values():
        _assert_no_phi(path, phi)


def test_unknown_format_is_refused(audited, tmp_path: Path) -> None:
    db, _url, _studies = audited
    with db.session() as session, pytest.raises(ValueError, match="format"):
        write_weekly(session, tmp_path / "x.ods", "ods")
    assert not (tmp_path / "x.ods").exists()


# --------------------------------------------------------------------------------------------
# formula injection
# --------------------------------------------------------------------------------------------


def test_formula_like_names_are_written_as_text(
    audited, tmp_path: Path, test_set, phi_values
) -> None:
    db, _url, studies = audited
    with db.transaction() as session:
        # An unmapped raw Operators' Name comes through as itself ...
        session.get(Study, studies[SUN]).procedure_date = SUN
        session.get(Study, studies[SUN]).technologist = "=cmd|' /C calc'!A0"
        # ... a mapped one as the canonical name, with the technologist's location.
        tech = site.add_technologist(session, "@x SUM(1)", "X", location="-2 West")
        site.add_alias(session, tech.id, session.get(Study, studies[SAT]).technologist)
        site.save_site(session, site.SiteSettings(site_name="+1 Clinic", site_id="-RBC"))

    csv_path, xlsx_path = tmp_path / "weekly.csv", tmp_path / "weekly.xlsx"
    exams_path = tmp_path / "exams.xlsx"
    with db.transaction() as session:
        write_weekly(session, csv_path, "csv", breakdowns=True)
        write_weekly(session, xlsx_path, "xlsx", breakdowns=True)
        write_exam_sheet(session, exams_path)

    cells = [cell for row in _csv_rows(csv_path) for cell in row]
    assert "'+1 Clinic" in cells and "'-RBC" in cells
    assert "location:-2 West:numerator" in cells  # header text starting with a letter
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)

    for path in (xlsx_path, exams_path):
        wb = load_workbook(path)
        texts = []
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        assert cell.data_type == "s", (cell.coordinate, cell.value)
                        assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
                        texts.append(cell.value)
        for part, data in _parts(path).items():
            assert b"<f>" not in data and b"<f " not in data, part
    exam_texts = [c.value for row in load_workbook(exams_path).active.iter_rows() for c in row]
    assert "'=cmd|' /C calc'!A0" in exam_texts
    assert "'@x SUM(1)" in exam_texts and "'-2 West" in exam_texts
    weekly_texts = [c.value for row in load_workbook(xlsx_path).active.iter_rows() for c in row]
    assert "'+1 Clinic" in weekly_texts and "'-RBC" in weekly_texts
    _assert_no_phi(exams_path, phi_values)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_export_weekly(
    audited, tmp_path: Path, capsys: pytest.CaptureFixture[str], test_set, phi_values
) -> None:
    _db, url, _studies = audited
    phi = phi_values
    for fmt in ("csv", "xlsx", "json"):
        path = tmp_path / f"w.{fmt}"
        code, out, err = run(capsys, "--db", url, "export", "weekly", "-o", str(path))
        assert code == 0, err
        assert "1 week" in out and path.exists()
        _assert_no_phi(path, phi)
    path = tmp_path / "weekly.txt"
    code, out, _ = run(
        capsys, "--db", url, "export", "weekly", "--format", "csv", "-o", str(path),
        "--week", "2026-03-04", "--breakdowns",
    )  # fmt: skip
    assert code == 0
    rows = _csv_rows(path)
    assert rows[1][rows[0].index("week_start")] == "2026-03-01"
    assert "failed:imf_open" in rows[0]


def test_cli_export_weekly_errors(
    audited, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _db, url, _studies = audited
    path = tmp_path / "w.csv"
    code, _, err = run(capsys, "--db", url, "export", "weekly", "-o", str(tmp_path / "w.ods"))
    assert code == 2 and "--format" in err
    code, _, err = run(
        capsys, "--db", url, "export", "weekly", "-o", str(path),
        "--week", "2026-03-04", "--from", "2026-03-01",
    )  # fmt: skip
    assert code == 2 and "either --week or --from/--to" in err
    code, _, err = run(
        capsys, "--db", url, "export", "weekly", "-o", str(path),
        "--from", "2026-03-08", "--to", "2026-03-01",
    )  # fmt: skip
    assert code == 2 and "after" in err
    assert not path.exists()
    with pytest.raises(SystemExit) as exc:
        main(["--db", url, "export", "weekly", "-o", str(path), "--week", "March"])
    assert exc.value.code == 2
    assert "not a date" in capsys.readouterr().err
    # An empty period: the file is written (header only) and the exit code says so.
    code, _, err = run(
        capsys, "--db", url, "export", "weekly", "-o", str(path), "--week", "2026-04-01"
    )
    assert code == 1 and "no complete audits" in err
    assert _csv_rows(path) == [list(WEEKLY_COLUMNS)]
    # A folder that cannot be written to
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "--db", url, "export", "weekly", "-o", str(blocker / "w.csv"))
    assert code == 2 and "cannot write" in err
