"""Importing past audits from a spreadsheet export (CSV)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auditdesk.checklists.answers import InvalidAnswerError
from auditdesk.cli import main
from auditdesk.dicom.index import import_paths
from auditdesk.exchange.audit_csv import import_audits_csv
from auditdesk.store.models import Audit, AuditAnswer, AuditMeasurement, Reviewer, Study


@pytest.fixture
def indexed(db, test_set):
    import_paths(db, [test_set.root])
    with db.session() as session:
        accessions = list(
            session.scalars(select(Study.accession_number).where(Study.kind == "mammo"))
        )
    return db, accessions


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    with open(path, "w", newline="", encoding="utf-8") as fp:
        writer = csv.DictWriter(fp, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _mqsa_keys() -> list[str]:
    from auditdesk.checklists.loader import load_all
    from auditdesk.checklists.rules import answer_keys, item_for_key

    checklist = load_all().get("mqsa-attributes")
    return [k for k in answer_keys(checklist) if item_for_key(checklist, k).type == "pass_fail"]


def test_import_creates_audits_reports_bad_rows_and_is_idempotent(indexed, tmp_path) -> None:
    db, accessions = indexed
    keys = _mqsa_keys()
    good = {"accession_number": accessions[0], "reviewer": "Ann Lee", "reviewer_role":
            "technologist", "checklist": "mqsa-attributes", "comment": "from 2025 sheet",
            **dict.fromkeys(keys, "pass")}  # fmt: skip
    failing = {**good, "accession_number": accessions[1], keys[0]: "fail"}
    unknown_study = {**good, "accession_number": "NOPE-1"}
    bad_value = {**good, "accession_number": accessions[1], keys[1]: "maybe"}

    # One answer the checklist cannot take refuses the whole file: nothing is written.
    refused = _write(tmp_path / "refused.csv", [good, failing, unknown_study, bad_value])
    with pytest.raises(InvalidAnswerError) as caught:
        import_audits_csv(db, refused)
    assert f"line 5: {keys[1]}: 'maybe' is not an option" in str(caught.value)
    assert "valid options: pass, fail, na" in str(caught.value)
    assert "\n" not in str(caught.value)
    with db.session() as session:
        for table in (AuditAnswer, Audit, Reviewer):
            assert session.scalar(select(func.count()).select_from(table)) == 0

    path = _write(tmp_path / "past.csv", [good, failing, unknown_study])
    result = import_audits_csv(db, path)
    assert result.imported == 2 and result.unchanged == 0
    skipped = dict(result.skipped)
    assert set(skipped) == {4}
    assert "No indexed study" in skipped[4]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditAnswer)) == 2 * len(keys)
        assert session.scalar(select(Reviewer.role).where(Reviewer.name == "Ann Lee")) == (
            "technologist"
        )
    from auditdesk.store.audits import audit_state

    with db.session() as session:
        states = [audit_state(session, pk) for pk in result.audit_ids]
    assert [s.meets_criteria for s in states] == [True, False]
    assert all(s.status == "complete" and s.comment == "from 2025 sheet" for s in states)

    again = import_audits_csv(db, path)
    assert again.imported == 0 and again.unchanged == 2 and len(again.skipped) == 1


def test_measurements_and_unknown_columns(indexed, tmp_path) -> None:
    db, accessions = indexed
    row = {"accession_number": accessions[0], "reviewer": "Bo", "reviewer_role": "coach",
           "checklist": "acr-mammo-positioning", "measure:RCC:pnl_mm": "101.5",
           "RCC:medial_tissue": "pass", "complete": "no"}  # fmt: skip
    typo = {**row, "RCC:medial_tisue": "pass"}
    result = import_audits_csv(db, _write(tmp_path / "m.csv", [row]))
    assert result.imported == 1, result.skipped
    with db.session() as session:
        m = session.scalar(select(AuditMeasurement))
    assert (m.value_mm, m.calibration_source, m.sop_uid) == (101.5, "reported", None)
    with pytest.raises(InvalidAnswerError) as caught:
        import_audits_csv(db, _write(tmp_path / "t.csv", [typo]))
    assert "line 2: RCC:medial_tisue: no such answer key" in str(caught.value)
    assert "nearest valid keys: RCC:medial_tissue" in str(caught.value)


def test_cli_import_csv(capsys, indexed, tmp_path) -> None:
    db, accessions = indexed
    row = {"accession_number": accessions[0], "reviewer": "Cy", "reviewer_role": "coach",
           "checklist": "mqsa-attributes", **dict.fromkeys(_mqsa_keys(), "pass")}  # fmt: skip
    path = _write(tmp_path / "c.csv", [row])
    code = main(["--db", db.url, "audit", "import-csv", str(path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["imported"] == 1 and out["skipped"] == []
    (tmp_path / "empty.csv").write_text("accession_number,reviewer,checklist\nX,Y,nope\n")
    code = main(["--db", db.url, "audit", "import-csv", str(tmp_path / "empty.csv")])
    text = capsys.readouterr().out
    assert code == 1 and "line 2:" in text
