"""Checklists, reviewers and audits from the command line, checked in the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from auditdesk.checklists.loader import load_all
from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.cli import main
from auditdesk.dicom.index import import_paths
from auditdesk.store.models import AuditAnswer, AuditMeasurement, AuditScore, Study


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def mammo_db(tmp_path: Path, test_set) -> tuple[str, int]:
    from auditdesk.store.db import open_database

    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    db = open_database(url)
    import_paths(db, [test_set.root])
    with db.session() as session:
        study_pk = session.scalar(select(Study.id).where(Study.kind == "mammo"))
    db.dispose()
    return url, study_pk


def _passing_answers() -> list[str]:
    """Every answerable ACR item as a passing answer (measurements and computed items aside)."""
    checklist = load_all().get("acr-mammo-positioning")
    assert checklist is not None
    answers = []
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if getattr(item, "type", None) == "pass_fail" and not key.endswith(
            ("pnl_match", "pectoral_to_pnl")
        ):
            answers += ["--answer", f"{key}=pass"]
    return answers


def test_checklist_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "checklist", "list", "--json")
    ids = {c["id"] for c in json.loads(out)["checklists"]}
    assert code == 0
    assert {"acr-mammo-positioning", "pgmi", "ear", "mqsa-attributes"} <= ids
    assert {"pi-qual-v1", "pi-qual-v2"} <= ids
    code, out, _ = run(capsys, "checklist", "show", "acr-mammo-positioning", "--json")
    assert code == 0 and "RCC:pnl_match" in json.loads(out)["answer_keys"]


def test_checklist_validate_points_at_the_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shipped = Path(load_all().get("pgmi").origin)
    good = tmp_path / "good.toml"
    good.write_text(shipped.read_text())
    code, out, _ = run(capsys, "checklist", "validate", str(good))
    assert code == 0 and "OK" in out
    lines = shipped.read_text().splitlines()
    bad_line = next(i for i, line in enumerate(lines) if line.strip().startswith("type ="))
    lines[bad_line] = 'type = "slider"'
    bad = tmp_path / "bad.toml"
    bad.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "checklist", "validate", str(bad))
    assert code == 1
    assert f"bad.toml:{bad_line + 1}:" in out


def test_record_an_audit_and_measurement_rule_at_the_10mm_edge(
    capsys: pytest.CaptureFixture[str], mammo_db: tuple[str, int]
) -> None:
    url, study = mammo_db
    assert run(capsys, "--db", url, "reviewer", "add", "Jane Tech", "--role", "technologist",
               "--initials", "JT")[0] == 0  # fmt: skip
    measures = []
    for view, mm in (("RCC", 100.0), ("RMLO", 109.9), ("LCC", 95.0), ("LMLO", 100.0)):
        measures += ["--measure", f"{view}:pnl_mm={mm}"]
    for view in ("RMLO", "LMLO"):
        measures += ["--measure", f"{view}:pectoral_to_pnl_mm=5"]
    code, out, err = run(
        capsys, "--db", url, "audit", "record", "--study", str(study), "--reviewer", "Jane Tech",
        "--checklist", "acr-mammo-positioning", *_passing_answers(), *measures,
        "--comment", "good exam", "--complete", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["complete"] is True and data["meets_criteria"] is True
    audit_id = data["audit_id"]

    # 10.1 mm apart: the CC-vs-MLO PNL rule fails and the exam no longer meets criteria.
    code, out, err = run(
        capsys, "--db", url, "audit", "record", "--study", str(study), "--reviewer", "Jane Tech",
        "--checklist", "acr-mammo-positioning", "--measure", "RMLO:pnl_mm=110.1", "--json",
    )  # fmt: skip
    assert code == 0, err
    again = json.loads(out)
    assert again["audit_id"] == audit_id  # same study, reviewer, checklist: same audit
    assert again["meets_criteria"] is False

    from auditdesk.store.db import open_database

    db = open_database(url)
    with db.session() as session:
        answers = session.scalars(select(AuditAnswer).where(AuditAnswer.audit_pk == audit_id))
        assert len(list(answers)) == len(_passing_answers()) // 2
        pnl = session.scalar(select(AuditMeasurement).where(AuditMeasurement.key == "RMLO:pnl_mm"))
        assert pnl.value_mm == pytest.approx(110.1)
    db.dispose()

    code, out, _ = run(capsys, "--db", url, "audit", "show", str(audit_id), "--history", "--json")
    shown = json.loads(out)
    assert shown["comment"] == "good exam"
    assert any(h["kind"] == "measurement" and h["key"] == "RMLO:pnl_mm" for h in shown["history"])


def test_override_needs_a_reason_and_wins(
    capsys: pytest.CaptureFixture[str], mammo_db: tuple[str, int]
) -> None:
    url, study = mammo_db
    run(capsys, "--db", url, "reviewer", "add", "Coach", "--role", "coach", "--initials", "QC")
    code, out, _ = run(
        capsys, "--db", url, "audit", "record", "--study", str(study), "--reviewer", "Coach",
        "--checklist", "acr-mammo-positioning", "--answer", "RCC:medial_tissue=fail", "--json",
    )  # fmt: skip
    audit_id = json.loads(out)["audit_id"]
    code, _out, err = run(
        capsys, "--db", url, "audit", "override", str(audit_id), "--field", "meets_criteria",
        "--value", "yes", "--reviewer", "Coach", "--reason", " ",
    )  # fmt: skip
    assert code == 2 and "reason" in err.lower()
    code, _out, err = run(
        capsys, "--db", url, "audit", "override", str(audit_id), "--field", "meets_criteria",
        "--value", "yes", "--reviewer", "Coach", "--reason", "consensus after review",
    )  # fmt: skip
    assert code == 0, err
    shown = json.loads(run(capsys, "--db", url, "audit", "show", str(audit_id), "--json")[1])
    assert shown["meets_criteria"] is True and shown["overridden"] == ["meets_criteria"]


def test_editing_a_checklist_does_not_change_old_scores(
    capsys: pytest.CaptureFixture[str], mammo_db: tuple[str, int]
) -> None:
    from auditdesk.checklists.loader import site_dir
    from auditdesk.store.db import open_database

    url, study = mammo_db
    run(capsys, "--db", url, "reviewer", "add", "R1", "--role", "technologist", "--initials", "R")
    args = ["--db", url, "audit", "record", "--study", str(study), "--reviewer", "R1",
            "--checklist", "acr-mammo-positioning", "--json", *_passing_answers()]  # fmt: skip
    for view, mm in (("RCC", 100.0), ("RMLO", 108.0), ("LCC", 100.0), ("LMLO", 100.0)):
        args += ["--measure", f"{view}:pnl_mm={mm}"]
    for view in ("RMLO", "LMLO"):
        args += ["--measure", f"{view}:pectoral_to_pnl_mm=5"]
    first = json.loads(run(capsys, *args)[1])
    assert first["meets_criteria"] is True

    # The site tightens the PNL tolerance to 5 mm in the next version of its own copy.
    shipped_checklist = load_all().get("acr-mammo-positioning")
    old_version = shipped_checklist.version
    new_version = f"{old_version}.1"
    shipped = Path(shipped_checklist.origin).read_text()
    edited = shipped.replace(f'version = "{old_version}"', f'version = "{new_version}"', 1)
    edited = edited.replace("10.0", "5.0")
    assert edited != shipped
    site_dir().mkdir(parents=True, exist_ok=True)
    (site_dir() / "acr-tight.toml").write_text(edited)

    shown = json.loads(run(capsys, "--db", url, "audit", "show", str(first["audit_id"]),
                           "--json")[1])  # fmt: skip
    assert shown["meets_criteria"] is True  # old audit keeps its own version's score

    code, out, err = run(capsys, "--db", url, "audit", "rescore", str(first["audit_id"]))
    assert code == 0, err
    assert new_version in out
    db = open_database(url)
    with db.session() as session:
        scores = list(session.scalars(select(AuditScore).where(AuditScore.is_current)))
    db.dispose()
    by_version = {s.result["checklist_version"]: s.meets_criteria for s in scores}
    assert by_version == {old_version: True, new_version: False}
    shown = json.loads(run(capsys, "--db", url, "audit", "show", str(first["audit_id"]),
                           "--json")[1])  # fmt: skip
    assert shown["meets_criteria"] is True  # reported under the version the audit used


def test_all_na_audit_records_as_not_evaluable(
    capsys: pytest.CaptureFixture[str], mammo_db: tuple[str, int]
) -> None:
    url, study = mammo_db
    assert run(capsys, "--db", url, "reviewer", "add", "Jane Tech", "--role", "technologist",
               "--initials", "JT")[0] == 0  # fmt: skip
    acr = load_all().get("acr-mammo-positioning")
    answers = []
    for key in answer_keys(acr):
        if item_for_key(acr, key).type == "pass_fail":
            answers += ["--answer", f"{key}=na"]
    base = ("--db", url, "audit", "record", "--study", str(study), "--reviewer", "Jane Tech",
            "--checklist", "acr-mammo-positioning")  # fmt: skip
    code, out, err = run(capsys, *base, *answers, "--complete")
    assert code == 0, err
    assert "answers, not evaluable (left out of the measure): " in out
    assert "RCC: every required item answered N/A" in out
    data = json.loads(run(capsys, *base, "--json")[1])
    assert (data["complete"], data["meets_criteria"]) == (True, None)
    assert len(data["not_evaluable"]) == 4
