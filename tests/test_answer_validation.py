"""Invalid answers are refused at every entry point, with one line naming the key, the value and
what is valid, and nothing of the refused command is written (issue 12, point 2).

Expected option lists come from the checklist files themselves (pi-qual-v2: EXAM:dce_performed
is "mp" or "bp"; ACR: pass/fail items take pass, fail, na; PNL lengths 0-400 mm), not from the
code under test. Package and GUI entry points are tested in test_package.py / test_gui_form.py.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auditdesk.checklists.answers import (
    InvalidAnswerError,
    check_answer,
    check_answers,
    map_answers,
)
from auditdesk.checklists.loader import load_all, parse_checklist_text, site_dir
from auditdesk.cli import main
from auditdesk.exchange.audit_csv import import_audits_csv
from auditdesk.reading.auditing import AuditSession, find_checklist, record_audit
from auditdesk.store import audits as store
from auditdesk.store import models as m
from auditdesk.store.db import Database, open_database

WRITTEN = (m.Audit, m.AuditAnswer, m.AuditEvent, m.AuditMeasurement, m.ChecklistVersion)
ACR = "acr-mammo-positioning"
PIQUAL2 = "pi-qual-v2"


def _counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {t.__tablename__: session.scalar(select(func.count(t.id))) for t in WRITTEN}


def _one_line(message: str) -> None:
    assert "\n" not in message and message.strip() == message


@pytest.fixture
def studies(db: Database) -> tuple[Database, int, int, int]:
    """A database with one mammography and one prostate MR study and a reviewer (no pixels
    needed: answers are checked against the checklist, not the images)."""
    with db.transaction() as session:
        mammo = m.Study(study_uid="1.2.826.0.1.3680043.10.999.1", kind="mammo")
        mr = m.Study(study_uid="1.2.826.0.1.3680043.10.999.2", kind="mr")
        session.add_all([mammo, mr])
        session.flush()
        reviewer = store.create_reviewer(session, "Ann Lee", "technologist", "AL")
        return db, mammo.id, mr.id, reviewer.id


# --- the one check --------------------------------------------------------------------------


def test_an_invalid_option_names_key_value_and_the_valid_options() -> None:
    checklist = find_checklist(PIQUAL2)
    with pytest.raises(InvalidAnswerError) as caught:
        check_answer(checklist, "EXAM:dce_performed", "no")
    message = str(caught.value)
    _one_line(message)
    assert message.startswith("EXAM:dce_performed: 'no' is not an option")
    assert message.endswith("valid options: mp, bp")
    assert check_answer(checklist, "EXAM:dce_performed", "bp") == "bp"


def test_an_unknown_key_names_the_member_item_form_or_the_nearest_keys() -> None:
    checklist = find_checklist(PIQUAL2)
    with pytest.raises(InvalidAnswerError) as caught:
        check_answer(checklist, "BOGUS:no_such_item", "maybe")
    message = str(caught.value)
    _one_line(message)
    assert "BOGUS:no_such_item" in message and "'maybe'" in message
    assert "<member>:<item> with member EXAM, T2W, DWI, ADC, DCE" in message
    acr = find_checklist(ACR)
    with pytest.raises(InvalidAnswerError, match="nearest valid keys: RCC:medial_tissue"):
        check_answer(acr, "RCC:medial_tisue", "pass")
    # imf_open is asked on the MLO views only
    with pytest.raises(
        InvalidAnswerError, match="nearest valid keys: RMLO:imf_open, LMLO:imf_open"
    ):
        check_answer(acr, "RCC:imf_open", "pass")


def test_a_number_outside_its_range_names_the_range_and_unit() -> None:
    acr = find_checklist(ACR)
    with pytest.raises(InvalidAnswerError) as caught:
        check_answer(acr, "RMLO:pnl_mm", "401")
    assert str(caught.value) == (
        "RMLO:pnl_mm: 401.0 is above the maximum 400.0; valid: a number from 0 to 400 mm"
    )
    with pytest.raises(InvalidAnswerError, match="not a number; valid: a number from 0 to 400 mm"):
        check_answer(acr, "RMLO:pnl_mm", "long")
    assert check_answer(acr, "RMLO:pnl_mm", "400") == 400.0


def test_one_bad_answer_among_five_refuses_all_and_lists_each_bad_one() -> None:
    acr = find_checklist(ACR)
    answers = [
        ("RCC:medial_tissue", "pass"),
        ("RCC:lateral_tissue", "fail"),
        ("LCC:medial_tissue", "maybe"),
        ("LCC:lateral_tissue", "na"),
        ("XCC:lateral_tissue", "pass"),
    ]
    with pytest.raises(InvalidAnswerError) as caught:
        check_answers(acr, answers)
    assert [p.split(":")[0] + ":" + p.split(":")[1] for p in caught.value.problems] == [
        "LCC:medial_tissue",
        "XCC:lateral_tissue",
    ]
    _one_line(str(caught.value))
    assert "valid options: pass, fail, na" in str(caught.value)


def _renamed(text: str, version: str, old: str, new: str) -> str:
    """A checklist text of another version with one item id renamed."""
    edited = re.sub(r'(?m)^version = "[^"]*"', f'version = "{version}"', text, count=1)
    assert f'version = "{version}"' in edited
    edited = edited.replace(f'id = "{old}"', f'id = "{new}"', 1)
    assert edited.count(f'"{new}"') == 1
    return edited


def test_answers_from_another_version_map_only_when_every_key_and_value_exists() -> None:
    mqsa = find_checklist("mqsa-attributes")
    newer = parse_checklist_text(_renamed(mqsa.source_text, "9.1", "noise", "image_noise"))
    kept = [("EXAM:positioning", "pass"), ("EXAM:contrast", "fail")]
    assert map_answers("'mqsa-attributes' 1.0", newer, kept) == dict(kept)
    with pytest.raises(InvalidAnswerError) as caught:
        map_answers("'mqsa-attributes' 1.0", newer, [*kept, ("EXAM:noise", "pass")])
    assert len(caught.value.problems) == 1  # only the answer that cannot be mapped
    assert caught.value.problems[0].startswith("EXAM:noise: no such answer key")
    assert "nearest valid keys: EXAM:image_noise" in caught.value.problems[0]
    assert (
        "made with 'mqsa-attributes' 1.0; cannot be mapped to 'mqsa-attributes' 9.1"
        in (caught.value.problems[0])
    )


# --- the store and the Python API -----------------------------------------------------------


def test_the_store_refuses_an_invalid_answer_and_writes_nothing(studies) -> None:
    db, _mammo, mr, reviewer = studies
    session_api = AuditSession.start(
        db, study_pk=mr, reviewer_pk=reviewer, checklist=find_checklist(PIQUAL2)
    )
    session_api.answer("EXAM:dce_performed", "mp")
    before = _counts(db)
    with db.transaction() as s, pytest.raises(InvalidAnswerError, match="valid options: mp, bp"):
        store.set_answer(s, session_api.audit_pk, "EXAM:dce_performed", "no", reviewer)
    with pytest.raises(InvalidAnswerError, match="BOGUS:no_such_item"):
        session_api.answer("BOGUS:no_such_item", "maybe")
    with pytest.raises(InvalidAnswerError, match="valid options: mp, bp"):
        session_api.answer("EXAM:dce_performed", "no")
    assert _counts(db) == before
    assert session_api.state().answers == {"EXAM:dce_performed": "mp"}


def test_answer_all_writes_all_or_none(studies) -> None:
    db, mammo, _mr, reviewer = studies
    audit = AuditSession.start(
        db, study_pk=mammo, reviewer_pk=reviewer, checklist=find_checklist(ACR)
    )
    five = [
        ("RCC:medial_tissue", "pass"),
        ("RCC:lateral_tissue", "fail"),
        ("LCC:medial_tissue", "maybe"),
        ("LCC:lateral_tissue", "na"),
        ("RMLO:pnl_mm", "120"),
    ]
    before = _counts(db)
    with pytest.raises(InvalidAnswerError, match="LCC:medial_tissue: 'maybe'"):
        audit.answer_all(five)
    assert _counts(db) == before and audit.state().answers == {}
    fixed = [(k, "pass" if v == "maybe" else v) for k, v in five]
    assert audit.answer_all(fixed) == 5
    assert audit.state().answers["RMLO:pnl_mm"] == 120  # stored as checked: a number


def test_an_audit_started_with_an_old_version_checks_answers_against_that_text(studies) -> None:
    """The site renames an item in a new version 9.1: the audit made with the shipped version
    keeps taking its keys (its stored text), a new audit takes 9.1's, and neither the other's."""
    db, mammo, _mr, reviewer = studies
    v10 = find_checklist("mqsa-attributes")
    old = AuditSession.start(db, study_pk=mammo, reviewer_pk=reviewer, checklist=v10)
    site_dir().mkdir(parents=True, exist_ok=True)
    (site_dir() / "mqsa-9.1.toml").write_text(
        _renamed(v10.source_text, "9.1", "noise", "image_noise")
    )
    v11 = find_checklist("mqsa-attributes")
    assert v11.version == "9.1"
    # Opening the reviewer's audit again with 9.1 returns the same audit, on its own version.
    again = AuditSession.start(db, study_pk=mammo, reviewer_pk=reviewer, checklist=v11)
    assert again.audit_pk == old.audit_pk
    again.answer("EXAM:noise", "pass")
    with pytest.raises(InvalidAnswerError, match="nearest valid keys: EXAM:noise"):
        again.answer("EXAM:image_noise", "pass")
    with db.transaction() as s:
        other = store.create_reviewer(s, "Bo Kim", "technologist", "BK").id
    new = AuditSession.start(db, study_pk=mammo, reviewer_pk=other, checklist=v11)
    new.answer("EXAM:image_noise", "pass")
    with pytest.raises(InvalidAnswerError, match="nearest valid keys: EXAM:image_noise"):
        new.answer("EXAM:noise", "pass")


def test_record_audit_is_one_transaction(studies) -> None:
    db, mammo, _mr, reviewer = studies
    before = _counts(db)
    with pytest.raises(InvalidAnswerError, match="RCC:medial_tissue"):
        record_audit(
            db,
            study_pk=mammo,
            reviewer_pk=reviewer,
            checklist=find_checklist(ACR),
            answers=[("RCC:lateral_tissue", "pass"), ("RCC:medial_tissue", "meh")],
            comment="never saved",
        )
    with pytest.raises(InvalidAnswerError, match="RCC:medial_tissue: no number item"):
        record_audit(
            db,
            study_pk=mammo,
            reviewer_pk=reviewer,
            checklist=find_checklist(ACR),
            measurements=[("RCC:medial_tissue", 12.0)],
        )
    assert _counts(db) == before


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path) -> tuple[str, int, int]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    db = open_database(url)
    with db.transaction() as session:
        mammo = m.Study(study_uid="1.2.826.0.1.3680043.10.999.3", kind="mammo")
        mr = m.Study(study_uid="1.2.826.0.1.3680043.10.999.4", kind="mr")
        session.add_all([mammo, mr])
        session.flush()
        store.create_reviewer(session, "Ann Lee", "technologist", "AL")
        ids = (mammo.id, mr.id)
    db.dispose()
    return url, *ids


def _cli_counts(url: str) -> dict[str, int]:
    db = open_database(url)
    try:
        return _counts(db)
    finally:
        db.dispose()


def _record(capsys, url: str, study: int, checklist: str, *answers: str) -> tuple[int, str]:
    argv = ["--db", url, "audit", "record", "--study", str(study), "--reviewer", "Ann Lee",
            "--checklist", checklist]  # fmt: skip
    for answer in answers:
        argv += ["--answer", answer]
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("EXAM:dce_performed=no", ["EXAM:dce_performed: 'no' is not an option", "mp, bp"]),
        (
            "BOGUS:no_such_item=maybe",
            ["BOGUS:no_such_item", "'maybe'", "<member>:<item> with member EXAM, T2W"],
        ),
    ],
)
def test_cli_record_refuses_the_issue_examples_and_writes_nothing(
    capsys, cli_db, answer: str, expected: list[str]
) -> None:
    url, _mammo, mr = cli_db
    before = _cli_counts(url)
    code, err = _record(capsys, url, mr, PIQUAL2, "EXAM:comment=ok", answer)
    assert code == 2
    assert err.count("\n") == 1 and err.endswith("Nothing was recorded.\n")
    for text in expected:
        assert text in err
    assert _cli_counts(url) == before  # not even the audit or the checklist version


def test_cli_record_one_bad_answer_among_five_writes_none(capsys, cli_db) -> None:
    url, mammo, _mr = cli_db
    good = ["RCC:medial_tissue=pass", "RCC:lateral_tissue=pass", "LCC:medial_tissue=fail",
            "LCC:lateral_tissue=na"]  # fmt: skip
    code, _err = _record(capsys, url, mammo, ACR, *good)
    assert code == 0
    after_first = _cli_counts(url)
    assert after_first["audit_answers"] == 4
    # The same audit again, with one bad answer among five: nothing changes, not even the four.
    changed = ["RCC:medial_tissue=fail", "RCC:lateral_tissue=fail", "LCC:medial_tissue=pass",
               "LCC:lateral_tissue=pass", "RMLO:imf_open=sometimes"]  # fmt: skip
    code, err = _record(capsys, url, mammo, ACR, *changed)
    assert code == 2 and "RMLO:imf_open: 'sometimes'" in err and "pass, fail, na" in err
    assert _cli_counts(url) == after_first
    code, out = main(["--db", url, "audit", "show", "1", "--json"]), capsys.readouterr().out
    assert '"RCC:medial_tissue": "pass"' in out


def test_cli_record_checks_against_the_version_the_audit_was_started_with(capsys, cli_db):
    """An audit recorded with the shipped MQSA; the site then adds a 9.1 that renames "noise".
    Recording again (the newest version by default) adds to the same audit, so the shipped
    version's keys are valid and 9.1's are not; a new reviewer's audit takes 9.1's."""
    url, mammo, _mr = cli_db
    assert _record(capsys, url, mammo, "mqsa-attributes", "EXAM:noise=pass")[0] == 0
    v10 = find_checklist("mqsa-attributes")
    site_dir().mkdir(parents=True, exist_ok=True)
    (site_dir() / "mqsa-9.1.toml").write_text(
        _renamed(v10.source_text, "9.1", "noise", "image_noise")
    )
    assert _record(capsys, url, mammo, "mqsa-attributes", "EXAM:noise=fail")[0] == 0
    before = _cli_counts(url)
    code, err = _record(capsys, url, mammo, "mqsa-attributes", "EXAM:image_noise=pass")
    assert code == 2 and f"'mqsa-attributes' {v10.version}" in err
    assert "nearest valid keys: EXAM:noise" in err
    assert _cli_counts(url) == before
    main(["--db", url, "reviewer", "add", "Bo Kim", "--role", "technologist", "--initials", "BK"])
    argv = ["--db", url, "audit", "record", "--study", str(mammo), "--reviewer", "Bo Kim",
            "--checklist", "mqsa-attributes", "--answer", "EXAM:image_noise=pass"]  # fmt: skip
    assert main(argv) == 0


def test_cli_calibration_reference_refuses_before_opening_the_audit(capsys, cli_db) -> None:
    url, mammo, _mr = cli_db
    db = open_database(url)
    with db.transaction() as session:
        store.create_reviewer(session, "Coach Q", "coach", "CQ")
    db.dispose()
    assert main(["--db", url, "calibration", "create", "Set 1", "--checklist", ACR,
                 "--study", str(mammo), "--by", "Coach Q"]) == 0  # fmt: skip
    capsys.readouterr()
    before = _cli_counts(url)
    code = main(["--db", url, "calibration", "reference", "1", "--study", str(mammo), "--by",
                 "Coach Q", "--answer", "RCC:medial_tissue=pass",
                 "--answer", "RCC:medial_tissue_x=pass"])  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and "RCC:medial_tissue_x" in err and "nearest valid keys" in err
    assert _cli_counts(url) == before


# --- CSV answers from an older checklist version --------------------------------------------


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fp:
        writer = csv.DictWriter(fp, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_from_an_unknown_older_version_is_mapped_or_refused_whole(studies, tmp_path) -> None:
    db, _mammo, _mr, _reviewer = studies
    shipped = find_checklist("mqsa-attributes").version
    row = {"study_uid": "1.2.826.0.1.3680043.10.999.1", "reviewer": "Ann Lee",
           "checklist": "mqsa-attributes", "checklist_version": "0.9",
           "EXAM:positioning": "pass", "EXAM:contrast": "fail", "complete": "no"}  # fmt: skip
    result = import_audits_csv(db, _csv(tmp_path / "old.csv", [row]))
    assert result.imported == 1 and result.skipped == []
    assert result.notes == [
        "line 2: 'mqsa-attributes' 0.9 is not known here; its answers were mapped to "
        f"'mqsa-attributes' {shipped} (every key and value exists there)."
    ]
    before = _counts(db)
    bad = {**row, "study_uid": "1.2.826.0.1.3680043.10.999.2", "EXAM:old_item": "pass"}
    with pytest.raises(InvalidAnswerError) as caught:
        import_audits_csv(db, _csv(tmp_path / "old2.csv", [row, bad]))
    message = str(caught.value)
    _one_line(message)
    assert message.startswith("The CSV file old2.csv was not imported, nothing was written: ")
    assert "line 3: EXAM:old_item: no such answer key" in message
    assert f"cannot be mapped to 'mqsa-attributes' {shipped}" in message
    assert _counts(db) == before
    newer = {**row, "checklist_version": "7.0"}
    result = import_audits_csv(db, _csv(tmp_path / "new.csv", [newer]))
    assert result.skipped and f"newer than this workstation's ({shipped})" in result.skipped[0][1]


def test_loaded_checklists_still_hold_the_options_these_tests_expect() -> None:
    """Guards the expected values above: they are read off the shipped files."""
    result = load_all()
    dce = next(
        item
        for section in result.get(PIQUAL2).sections
        for item in section.items
        if item.id == "dce_performed"
    )
    assert [o.value for o in dce.options] == ["mp", "bp"]


def test_csv_naming_a_version_only_stored_here_is_checked_against_that_text(
    studies, tmp_path
) -> None:
    """Version 0.5 (with "noise" called "old_noise") is no file any more, but audits used it,
    so its text is stored: a CSV row naming 0.5 is checked against that text."""
    db, mammo, mr, reviewer = studies
    v10 = find_checklist("mqsa-attributes")
    old = parse_checklist_text(_renamed(v10.source_text, "0.5", "noise", "old_noise"))
    AuditSession.start(db, study_pk=mr, reviewer_pk=reviewer, checklist=old)
    row = {"study_uid": "1.2.826.0.1.3680043.10.999.1", "reviewer": "Ann Lee",
           "checklist": "mqsa-attributes", "checklist_version": "0.5",
           "EXAM:old_noise": "pass", "complete": "no"}  # fmt: skip
    result = import_audits_csv(db, _csv(tmp_path / "stored.csv", [row]))
    assert (result.imported, result.skipped, result.notes) == (1, [], [])
    with db.session() as session:
        audit = session.scalar(select(m.Audit).where(m.Audit.study_pk == mammo))
        assert store.audit_state(session, audit.id).answers == {"EXAM:old_noise": "pass"}
    with pytest.raises(InvalidAnswerError, match="nearest valid keys: EXAM:old_noise"):
        import_audits_csv(db, _csv(tmp_path / "s2.csv", [{**row, "EXAM:noise": "pass"}]))
