"""The audit record store: every change persisted with history, one audit per study + reviewer +
checklist, scores kept per checklist version, overrides with reasons, and nothing lost when the
process is killed between two answers."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from auditdesk.store import audits
from auditdesk.store.audits import AuditError, AuditRecorder
from auditdesk.store.db import Database, WriteConflictError
from auditdesk.store.models import (
    Audit,
    AuditAnswer,
    AuditEvent,
    AuditOverride,
    AuditScore,
    ChecklistVersion,
    Study,
)

BOTH_BACKENDS = True  # tests using the db fixture also run on PostgreSQL (conftest.py)

REPO_ROOT = Path(__file__).resolve().parents[1]

# The store checks every answer against the audit's own checklist version, so the versions here
# are the shipped ACR file and a copy of it (1.1, PNL rule 10 -> 15 mm).
_ACR = (REPO_ROOT / "checklists" / "acr-mammo-positioning.toml").read_text()
CHECKLIST_V1 = re.sub(r'(?m)^version = "[^"]*"', 'version = "1.0"', _ACR, count=1)
CHECKLIST_V2 = re.sub(r'(?m)^version = "[^"]*"', 'version = "1.1"', _ACR, count=1)
assert CHECKLIST_V2 != CHECKLIST_V1


@dataclass
class Setup:
    study: int
    study2: int
    alice: int  # technologist
    bob: int  # team leader
    v1: int  # checklist version pks
    v2: int


@pytest.fixture
def setup(db: Database) -> Setup:
    with db.transaction() as s:
        studies = [Study(study_uid=f"1.2.826.0.1.3680043.10.999.{i}", kind="mammo") for i in (1, 2)]
        s.add_all(studies)
        s.flush()
        alice = audits.create_reviewer(s, "Alice Tech", "technologist", "AT")
        bob = audits.create_reviewer(s, "Bob Lead", "team_leader", "BL")
        v1 = audits.register_checklist_version(
            s,
            "acr-mammo-positioning",
            "1.0",
            audits.sha256_text(CHECKLIST_V1),
            CHECKLIST_V1,
            "ACR positioning",
        )
        v2 = audits.register_checklist_version(
            s,
            "acr-mammo-positioning",
            "1.1",
            audits.sha256_text(CHECKLIST_V2),
            CHECKLIST_V2,
            "ACR positioning",
        )
        return Setup(studies[0].id, studies[1].id, alice.id, bob.id, v1.id, v2.id)


def _recorder(db: Database, setup: Setup, reviewer: int | None = None) -> AuditRecorder:
    return AuditRecorder.open(db, setup.study, reviewer or setup.alice, setup.v1)


# --- reviewers and checklist versions ---------------------------------------------------------


def test_reviewers_are_unique_by_name_and_validated(db: Database, setup: Setup) -> None:
    with db.transaction() as s:
        assert [r.name for r in audits.list_reviewers(s)] == ["Alice Tech", "Bob Lead"]
        assert audits.get_reviewer_by_name(s, " Bob Lead ").role == "team_leader"
        with pytest.raises(AuditError, match="already exists"):
            audits.create_reviewer(s, "Alice Tech", "coach", "AT2")
        with pytest.raises(AuditError, match="role"):
            audits.create_reviewer(s, "Carol", "radiologist", "CR")
        with pytest.raises(AuditError, match="name"):
            audits.create_reviewer(s, "  ", "coach", "X")
        audits.set_reviewer_active(s, setup.bob, False)
        assert [r.name for r in audits.list_reviewers(s)] == ["Alice Tech"]
        assert len(audits.list_reviewers(s, include_inactive=True)) == 2


def test_checklist_version_registration_is_idempotent_by_content_hash(
    db: Database, setup: Setup
) -> None:
    with db.transaction() as s:
        again = audits.register_checklist_version(
            s,
            "acr-mammo-positioning",
            "1.0",
            audits.sha256_text(CHECKLIST_V1).upper(),
            CHECKLIST_V1,
            "ACR positioning",
        )
        assert again.id == setup.v1
        # An edit without a version bump is still a new version (new hash, new row).
        edited = CHECKLIST_V1 + "# typo fixed\n"
        row = audits.register_checklist_version(
            s, "acr-mammo-positioning", "1.0", audits.sha256_text(edited), edited, "ACR"
        )
        assert row.id not in (setup.v1, setup.v2)
        assert [v.id for v in audits.checklist_versions(s, "acr-mammo-positioning")] == [
            setup.v1,
            setup.v2,
            row.id,
        ]
        assert s.get(ChecklistVersion, setup.v1).source_text == CHECKLIST_V1
        with pytest.raises(AuditError, match="already stored"):
            audits.register_checklist_version(
                s, "pgmi", "1", audits.sha256_text(CHECKLIST_V1), CHECKLIST_V1, "PGMI"
            )
        with pytest.raises(AuditError, match="SHA-256"):
            audits.register_checklist_version(s, "pgmi", "1", "abc", "x", "PGMI")


# --- opening audits ---------------------------------------------------------------------------


def test_same_study_reviewer_and_checklist_open_the_same_audit(db: Database, setup: Setup) -> None:
    first = _recorder(db, setup)
    again = _recorder(db, setup)
    assert again.audit_pk == first.audit_pk
    # Even after the checklist file changed: the audit keeps the version it was started with.
    later = AuditRecorder.open(db, setup.study, setup.alice, setup.v2)
    assert later.audit_pk == first.audit_pk
    assert later.state().checklist_version_pk == setup.v1
    # A second reviewer gets an audit of their own (double read); another study another one.
    second_read = AuditRecorder.open(db, setup.study, setup.bob, setup.v1, blinded=True)
    other_study = AuditRecorder.open(db, setup.study2, setup.alice, setup.v1)
    assert len({first.audit_pk, second_read.audit_pk, other_study.audit_pk}) == 3
    assert second_read.state().blinded and not first.state().blinded
    with db.session() as s:
        assert [a.id for a in audits.list_audits(s, study_pk=setup.study)] == [
            first.audit_pk,
            second_read.audit_pk,
        ]
        assert len(audits.list_audits(s, reviewer_pk=setup.alice)) == 2


def test_database_itself_refuses_a_duplicate_audit(db: Database, setup: Setup) -> None:
    rec = _recorder(db, setup)
    # A server reports it as a WriteConflictError (one sentence) caused by the IntegrityError.
    with pytest.raises((IntegrityError, WriteConflictError)), db.transaction() as s:
        dup = s.get(Audit, rec.audit_pk)
        s.add(
            Audit(
                study_pk=dup.study_pk,
                reviewer_pk=dup.reviewer_pk,
                checklist_version_pk=setup.v2,
                checklist_id=dup.checklist_id,
            )
        )


def test_open_audit_names_what_is_missing(db: Database, setup: Setup) -> None:
    with db.transaction() as s:
        with pytest.raises(AuditError, match="no study with id 999"):
            audits.open_audit(s, 999, setup.alice, setup.v1)
        with pytest.raises(AuditError, match="no reviewer"):
            audits.open_audit(s, setup.study, 999, setup.v1)
        with pytest.raises(AuditError, match="no checklist version"):
            audits.open_audit(s, setup.study, setup.alice, 999)


# --- every change persisted, with history ------------------------------------------------------


def test_every_kind_of_change_is_persisted_with_old_and_new_value(
    db: Database, setup: Setup
) -> None:
    rec = _recorder(db, setup)
    rec.answer("RMLO:pectoral_to_pnl", "pass")
    rec.answer("RMLO:pectoral_to_pnl", "fail", reason_code="short_pectoral")
    rec.answer("RCC:nipple_profile", "PASS ", source="computed")  # kept as checked: "pass"
    rec.answer("EXAM:comment", "views RCC, LCC")
    rec.answer("EXAM:comment", None)  # cleared
    rec.measure(
        "RMLO:pnl_mm",
        value_px=812.5,
        value_mm=81.25,
        calibration_source="imager_pixel_spacing",
        sop_uid="1.2.3.4",
        geometry={"points": [[10, 20], [30, 812]]},
    )
    rec.measure("RMLO:pnl_mm", value_px=820.0, value_mm=82.0, calibration_source="pixel_spacing",
                sop_uid="1.2.3.4")  # fmt: skip
    rec.measure("LMLO:pnl_mm", value_px=700.0, value_mm=None, calibration_source="none",
                sop_uid="1.2.3.5")  # fmt: skip
    rec.clear_measurement("LMLO:pnl_mm")
    rec.comment("Skin fold at the IMF.")
    rec.learning_opportunity(True)
    rec.override("meets_criteria", False, "Motion blur on RMLO not covered by the checklist.")
    rec.status("complete")
    rec.save_score(setup.v1, {"items": {"RMLO:pectoral_to_pnl": "fail"}}, False, None, True)

    # A fresh Database object: what is on disk, not what a session remembers.
    fresh = Database(db.url)
    try:
        with fresh.session() as s:
            state = audits.audit_state(s, rec.audit_pk)
    finally:
        fresh.dispose()

    assert state.answers == {"RCC:nipple_profile": "pass", "RMLO:pectoral_to_pnl": "fail"}
    assert state.reason_codes == {"RMLO:pectoral_to_pnl": "short_pectoral"}
    assert state.answer_sources["RCC:nipple_profile"] == "computed"
    assert list(state.measurements) == ["RMLO:pnl_mm"]
    pnl = state.measurements["RMLO:pnl_mm"]
    assert (pnl.value_mm, pnl.value_px, pnl.calibration_source) == (82.0, 820.0, "pixel_spacing")
    assert state.comment == "Skin fold at the IMF."
    assert state.learning_opportunity is True
    assert state.status == "complete" and state.completed_at is not None
    assert state.meets_criteria is False and state.overridden == ["meets_criteria"]
    assert state.updated_at >= state.started_at

    events = [(e.kind, e.key, e.old_value, e.new_value, e.reviewer_name) for e in state.history]
    who = "Alice Tech"
    assert events == [
        ("status", None, None, "in_progress", who),  # opened
        (
            "answer",
            "RMLO:pectoral_to_pnl",
            None,
            {"value": "pass", "reason_code": None, "source": "reviewer"},
            who,
        ),
        (
            "answer",
            "RMLO:pectoral_to_pnl",
            {"value": "pass", "reason_code": None, "source": "reviewer"},
            {"value": "fail", "reason_code": "short_pectoral", "source": "reviewer"},
            who,
        ),
        (
            "answer",
            "RCC:nipple_profile",
            None,
            {"value": "pass", "reason_code": None, "source": "computed"},
            who,
        ),
        (
            "answer",
            "EXAM:comment",
            None,
            {"value": "views RCC, LCC", "reason_code": None, "source": "reviewer"},
            who,
        ),
        (
            "answer",
            "EXAM:comment",
            {"value": "views RCC, LCC", "reason_code": None, "source": "reviewer"},
            None,
            who,
        ),
        (
            "measurement",
            "RMLO:pnl_mm",
            None,
            {
                "value_mm": 81.25,
                "value_px": 812.5,
                "calibration_source": "imager_pixel_spacing",
                "sop_uid": "1.2.3.4",
                "geometry": {"points": [[10, 20], [30, 812]]},
            },
            who,
        ),
        (
            "measurement",
            "RMLO:pnl_mm",
            {
                "value_mm": 81.25,
                "value_px": 812.5,
                "calibration_source": "imager_pixel_spacing",
                "sop_uid": "1.2.3.4",
                "geometry": {"points": [[10, 20], [30, 812]]},
            },
            {
                "value_mm": 82.0,
                "value_px": 820.0,
                "calibration_source": "pixel_spacing",
                "sop_uid": "1.2.3.4",
                "geometry": None,
            },
            who,
        ),
        (
            "measurement",
            "LMLO:pnl_mm",
            None,
            {
                "value_mm": None,
                "value_px": 700.0,
                "calibration_source": "none",
                "sop_uid": "1.2.3.5",
                "geometry": None,
            },
            who,
        ),
        (
            "measurement",
            "LMLO:pnl_mm",
            {
                "value_mm": None,
                "value_px": 700.0,
                "calibration_source": "none",
                "sop_uid": "1.2.3.5",
                "geometry": None,
            },
            None,
            who,
        ),
        ("comment", None, None, "Skin fold at the IMF.", who),
        ("learning_flag", None, False, True, who),
        (
            "override",
            "meets_criteria",
            None,
            {"value": False, "reason": "Motion blur on RMLO not covered by the checklist."},
            who,
        ),
        ("status", None, "in_progress", "complete", who),
        (
            "rescore",
            "acr-mammo-positioning@1.0",
            None,
            {"checklist_version_pk": setup.v1, "meets_criteria": False, "grade": None,
             "complete": True},
            who,
        ),
    ]  # fmt: skip
    assert all(isinstance(e.at, dt.datetime) for e in state.history)


def test_unchanged_values_write_no_history_and_answers_are_kept_in_checked_form(
    db: Database, setup: Setup
) -> None:
    rec = _recorder(db, setup)
    assert rec.answer("RCC:pnl_mm", 1) is not None
    assert rec.answer("RCC:pnl_mm", 1) is None  # same click twice
    assert rec.answer("RCC:pnl_mm", "1.0") is None  # the same number of mm, typed otherwise
    assert rec.answer("RCC:pnl_mm", 1.5) is not None
    assert rec.comment("") is None  # blank = no comment, as before
    assert rec.learning_opportunity(False) is None
    assert rec.status("in_progress") is None
    assert rec.answer("RCC:never", None) is None  # clearing nothing
    assert rec.clear_measurement("RCC:never") is None
    assert [e.kind for e in rec.history()] == ["status", "answer", "answer"]
    assert rec.state().answers == {"RCC:pnl_mm": 1.5}


def test_answers_are_attributed_to_who_gave_them(db: Database, setup: Setup) -> None:
    rec = _recorder(db, setup)
    rec.answer("RCC:medial_tissue", "pass")
    # A team leader correcting the technologist's audit: attributed to the team leader.
    AuditRecorder(db, rec.audit_pk, setup.bob).answer("RCC:medial_tissue", "fail", reason_code="x")
    with db.session() as s:
        row = s.scalars(select(AuditAnswer).where(AuditAnswer.audit_pk == rec.audit_pk)).one()
        assert row.answered_by == setup.bob
    assert [e.reviewer_name for e in rec.history()] == ["Alice Tech", "Alice Tech", "Bob Lead"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.answer("", "pass"), "non-empty key"),
        (lambda r: r.answer("RCC:medial_tissue", "pass", source="guess"), "answer source"),
        (lambda r: r.answer("RCC:pnl_mm", float("nan")), "finite"),
        (lambda r: r.answer("RCC:pnl_mm", object()), "must be text"),
        (
            lambda r: r.answer("RCC:medial_tissue", None, reason_code="fold"),
            "reason code needs an answer",
        ),
        (
            lambda r: r.measure(
                "RCC:pnl_mm", value_px=10, value_mm=1.0, calibration_source="none", sop_uid="1"
            ),
            "no calibration",
        ),
        (
            lambda r: r.measure(
                "RCC:pnl_mm",
                value_px=10,
                value_mm=None,
                calibration_source="pixel_spacing",
                sop_uid="1",
            ),
            "needs value_mm",
        ),
        (
            lambda r: r.measure(
                "RCC:pnl_mm", value_px=-1, value_mm=None, calibration_source="none", sop_uid="1"
            ),
            "invalid value_px",
        ),
        (
            lambda r: r.measure(
                "RCC:pnl_mm", value_px=1, value_mm=None, calibration_source="ruler", sop_uid="1"
            ),
            "calibration source",
        ),
        (lambda r: r.status("done"), "audit status"),
        (lambda r: r.override("score", 3, "because"), "can be overridden"),
        (lambda r: r.override("meets_criteria", "yes", "because"), "yes \\(True\\)"),
        (lambda r: r.override("grade", 3, "because"), "grade"),
    ],
)
def test_bad_changes_are_refused_and_nothing_is_written(
    db: Database, setup: Setup, call, message: str
) -> None:
    rec = _recorder(db, setup)
    with pytest.raises(AuditError, match=message):
        call(rec)
    state = rec.state()
    assert state.answers == {} and state.measurements == {} and state.status == "in_progress"
    assert [e.kind for e in state.history] == ["status"]


# --- overrides ---------------------------------------------------------------------------------


def test_override_needs_a_reason_newest_wins_and_history_is_kept(
    db: Database, setup: Setup
) -> None:
    rec = _recorder(db, setup)
    rec.save_score(setup.v1, {"passed": 7, "of": 8}, True, "G", True)
    for reason in ("", "   ", None):
        with pytest.raises(ValueError, match="An override needs a reason"):
            rec.override("meets_criteria", False, reason)  # type: ignore[arg-type]
    assert rec.state().overrides == []

    rec.override("meets_criteria", False, "Nipple not in profile on both CC views.")
    # A different reviewer changes it back later.
    AuditRecorder(db, rec.audit_pk, setup.bob).override(
        "meets_criteria", True, "Second look: nipple is in profile on LCC."
    )
    rec.override("grade", "M", "PNL short by 12 mm.")

    state = rec.state()
    assert state.meets_criteria is True  # newest wins
    assert state.grade == "M"
    assert state.overridden == ["meets_criteria", "grade"]
    assert [(o.field, o.value, o.reviewer_name) for o in state.overrides] == [
        ("meets_criteria", False, "Alice Tech"),
        ("meets_criteria", True, "Bob Lead"),
        ("grade", "M", "Alice Tech"),
    ]
    assert state.score.meets_criteria is True and state.score.grade == "G"  # computed untouched
    override_events = [e for e in state.history if e.kind == "override"]
    assert [(e.old_value, e.new_value["value"]) for e in override_events] == [
        (None, False),
        ({"value": False, "reason": "Nipple not in profile on both CC views."}, True),
        (None, "M"),
    ]

    # Withdrawing (value None) goes back to the computed result; the rows stay.
    rec.override("grade", None, "PNL re-measured; the computed grade is right.")
    state = rec.state()
    assert state.grade == "G" and state.overridden == ["meets_criteria"]
    with db.session() as s:
        n = s.scalar(select(func.count()).select_from(AuditOverride))
        assert n == 4


# --- scores and checklist versions ------------------------------------------------------------


def test_rescore_under_a_new_version_keeps_the_original(db: Database, setup: Setup) -> None:
    rec = _recorder(db, setup)
    rec.answer("RMLO:pnl_mm", 12.0)
    # Version 1.0: CC and MLO PNL within 10 mm -> fails.
    rec.save_score(setup.v1, {"pnl_rule": "fail"}, False, "M", True)
    # The same score again (recomputed after an unrelated change) is not stored twice.
    rec.save_score(setup.v1, {"pnl_rule": "fail"}, False, "M", True)
    # The checklist changes (1.1: within 15 mm); the audit is re-scored on request.
    rec.save_score(setup.v2, {"pnl_rule": "pass"}, True, "G", True)

    state = rec.state()
    assert state.reported_version_pk == setup.v1
    assert (state.score.version, state.meets_criteria, state.grade) == ("1.0", False, "M")
    assert set(state.scores) == {setup.v1, setup.v2}
    under_b = rec.state(setup.v2)
    assert (under_b.score.version, under_b.meets_criteria, under_b.grade) == ("1.1", True, "G")
    assert under_b.score.result == {"pnl_rule": "pass"}

    # Re-scoring under B again replaces only B's current row; A's row is untouched.
    rec.save_score(setup.v2, {"pnl_rule": "pass", "note": "engine 2"}, True, "G", True)
    with db.session() as s:
        rows = s.scalars(
            select(AuditScore).where(AuditScore.audit_pk == rec.audit_pk).order_by(AuditScore.id)
        ).all()
    assert [(r.checklist_version_pk, r.is_current) for r in rows] == [
        (setup.v1, True),
        (setup.v2, False),
        (setup.v2, True),
    ]
    assert rec.state().score.result == {"pnl_rule": "fail"}
    rescores = [e for e in rec.history() if e.kind == "rescore"]
    assert [e.key for e in rescores] == [
        "acr-mammo-positioning@1.0",
        "acr-mammo-positioning@1.1",
        "acr-mammo-positioning@1.1",
    ]


def test_overrides_apply_to_the_audits_own_version_only(db: Database, setup: Setup) -> None:
    rec = _recorder(db, setup)
    rec.save_score(setup.v1, {}, False, None, True)
    rec.save_score(setup.v2, {}, False, None, True)
    rec.override("meets_criteria", True, "Rule too strict for implant displaced views.")
    own, other = rec.state(), rec.state(setup.v2)
    assert own.meets_criteria is True and own.overrides_applied
    assert other.meets_criteria is False and not other.overrides_applied


def test_score_must_come_from_the_same_checklist(db: Database, setup: Setup) -> None:
    rec = _recorder(db, setup)
    with db.transaction() as s:
        pgmi = audits.register_checklist_version(
            s, "pgmi", "1", audits.sha256_text("pgmi"), "pgmi", "PGMI"
        ).id
    with pytest.raises(AuditError, match="cannot be scored with checklist 'pgmi'"):
        rec.save_score(pgmi, {}, None, "P", True)
    with pytest.raises(AuditError, match="finite"):
        rec.save_score(setup.v1, {"x": float("inf")}, None, None, False)
    assert rec.state(pgmi).score is None


def test_status_complete_stamps_and_reopen_clears_completed_at(db: Database, setup: Setup) -> None:
    rec = _recorder(db, setup)
    rec.status("complete")
    assert rec.state().completed_at is not None
    rec.status("in_progress")
    assert rec.state().completed_at is None


# --- killed process ----------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    from auditdesk.store.audits import AuditRecorder
    from auditdesk.store.db import open_database

    url, audit_pk, reviewer_pk, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    keys = sys.argv[5].split(",")
    rec = AuditRecorder(open_database(url), audit_pk, reviewer_pk)
    i = 0
    while True:
        # Each write changes an answer: the keys in turn, pass on the 1st round, fail on the 2nd...
        rec.answer(keys[i % len(keys)], "pass" if (i // len(keys)) % 2 == 0 else "fail")
        print(f"saved {i}", flush=True)  # only after the commit returned
        i += 1
        if mode == "step":
            sys.stdin.readline()  # wait for the parent: killed here, between two answers
    """
)


def _start_child(db: Database, rec: AuditRecorder, mode: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"))
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            db.url,
            str(rec.audit_pk),
            str(rec.reviewer_pk),
            mode,
            ",".join(KILL_KEYS),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


# Pass/fail items of the ACR checklist, written in turn by the child process.
KILL_KEYS = ["RCC:medial_tissue", "RCC:lateral_tissue", "LCC:medial_tissue", "LCC:lateral_tissue"]


def _expected_answers(n: int) -> dict[str, str]:
    """The answers after the first ``n`` writes of the child (the last write per key wins)."""
    answers: dict[str, str] = {}
    for i in range(n):
        answers[KILL_KEYS[i % len(KILL_KEYS)]] = (
            "pass" if (i // len(KILL_KEYS)) % 2 == 0 else "fail"
        )
    return answers


def _check_after_kill(db: Database, rec: AuditRecorder, saved: int, exact: bool) -> None:
    path = db.url.removeprefix("sqlite:///")
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        raw.close()
    fresh = Database(db.url)
    try:
        with fresh.session() as s:
            state = audits.audit_state(s, rec.audit_pk)
            n_events = s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.audit_pk == rec.audit_pk, AuditEvent.kind == "answer")
            )
    finally:
        fresh.dispose()
    n = n_events  # every write changed an answer, so it left exactly one history row
    if exact:
        assert n == saved
    else:  # killed mid-flight: the answer being written may or may not have made it
        assert saved <= n <= saved + 1
    # Each answer came with its history row, in the same commit: the answers are exactly those
    # of the first n writes.
    assert state.answers == _expected_answers(n)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.sqlite_only
def test_killing_the_process_between_two_answers_loses_nothing(db: Database, setup: Setup) -> None:
    rec = _recorder(db, setup)
    child = _start_child(db, rec, "step")
    saved = 0
    try:
        for _ in range(5):
            line = child.stdout.readline()
            assert line.startswith("saved "), line + child.stderr.read()
            saved += 1
            if saved < 5:
                child.stdin.write("\n")
                child.stdin.flush()
        # The child now waits on stdin between answer 5 and answer 6.
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    _check_after_kill(db, rec, saved, exact=True)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.sqlite_only
def test_killing_the_process_while_it_writes_loses_no_committed_answer(
    db: Database, setup: Setup
) -> None:
    rec = _recorder(db, setup)
    child = _start_child(db, rec, "flat_out")
    saved = 0
    try:
        deadline = time.monotonic() + 0.5
        while saved < 20 or time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line.startswith("saved "), line + child.stderr.read()
            saved += 1
        os.kill(child.pid, signal.SIGKILL)  # most likely in the middle of the next commit
    finally:
        child.kill()
        child.wait(timeout=10)
    # Lines still in the pipe were printed after their commit: they count as saved too.
    saved += sum(1 for line in child.stdout.read().splitlines() if line.startswith("saved "))
    _check_after_kill(db, rec, saved, exact=False)


def test_an_audit_opened_and_left_blank_is_discarded_but_any_action_keeps_it(db):
    """Looking at an exam must not mark it "in progress"; an undone answer still counts."""
    from datetime import date

    from auditdesk.store.models import Study

    with db.transaction() as s:
        reviewer = audits.create_reviewer(s, "Blank Tester", "technologist", "BT")
        version = audits.register_checklist_version(
            s, "acr-mammo-positioning", "1.0", audits.sha256_text(CHECKLIST_V1), CHECKLIST_V1, "ACR"
        )
        studies = [Study(study_uid=f"1.2.{i}", procedure_date=date(2026, 1, 1)) for i in (1, 2)]
        s.add_all(studies)
        s.flush()
        blank = audits.open_audit(s, studies[0].id, reviewer.id, version.id)
        touched = audits.open_audit(s, studies[1].id, reviewer.id, version.id)
        audits.set_answer(s, touched.id, "RCC:medial_tissue", "pass", reviewer.id)
        audits.set_answer(s, touched.id, "RCC:medial_tissue", None, reviewer.id)  # undone
        ids = (blank.id, touched.id)
    with db.transaction() as s:
        assert audits.discard_if_blank(s, ids[0]) is True
        assert audits.discard_if_blank(s, ids[1]) is False
    with db.session() as s:
        assert audits.list_audits(s, reviewer_pk=reviewer.id)[0].id == ids[1]
        assert len(audits.list_audits(s, reviewer_pk=reviewer.id)) == 1
