"""Adjudication (issue 6): disagreements between complete reads, the coach's consensus audit and
how it counts in the measure, and calibration sets against reference answers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.cli import main
from auditdesk.dicom.index import import_paths
from auditdesk.qi import measures, site
from auditdesk.reading.auditing import AuditingError, AuditSession, find_checklist
from auditdesk.review import adjudication as adj
from auditdesk.store import audits as store
from auditdesk.store.models import Audit, AuditAnswer, Study

CHECKLIST = "acr-mammo-positioning"
DAY_A = dt.date(2025, 1, 7)
DAY_B = dt.date(2025, 1, 8)
DAY_C = dt.date(2025, 1, 9)


@pytest.fixture
def checklist():
    return find_checklist(CHECKLIST)


@pytest.fixture
def world(db, test_set):
    """The synthetic set's two mammograms (A, B) plus a third exam (C) without images, dated
    for control; reviewers Alice, Bob, Carol and the coach."""
    import_paths(db, [test_set.root])
    with db.transaction() as s:
        mammo = list(s.scalars(select(Study).where(Study.kind == "mammo").order_by(Study.id)))
        assert len(mammo) >= 2
        mammo[0].procedure_date, mammo[1].procedure_date = DAY_A, DAY_B
        extra = Study(study_uid="2.25.999000111", procedure_date=DAY_C, kind="mammo")
        s.add(extra)
        s.flush()
        names = ("Alice", "Bob", "Carol", "Coach")
        pks = {
            n: store.create_reviewer(s, n, "coach" if n == "Coach" else "technologist", n[:2]).id
            for n in names
        }
        studies = {"A": mammo[0].id, "B": mammo[1].id, "C": extra.id}
    return db, studies, pks


def _pass_fail_keys(checklist) -> list[str]:
    return [k for k in answer_keys(checklist) if item_for_key(checklist, k).type == "pass_fail"]


def _read(
    db,
    checklist,
    study_pk: int,
    reviewer_pk: int,
    *,
    fails: tuple[str, ...] = (),
    purpose: str = "review",
    complete: bool = True,
) -> AuditSession:
    """Every pass/fail key answered "pass" unless listed in ``fails``, in one transaction."""
    audit = AuditSession.start(
        db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist, purpose=purpose
    )
    with audit._tx() as s:
        for key in _pass_fail_keys(checklist):
            store.set_answer(
                s, audit.audit_pk, key, "fail" if key in fails else "pass", reviewer_pk
            )
    if complete:
        audit.complete()
    return audit


def _results(db) -> dict[int, measures.ExamResult]:
    with db.session() as s:
        return {r.study_pk: r for r in measures.exam_results(s, CHECKLIST)}


# --- schema ------------------------------------------------------------------------------------


def test_purpose_defaults_to_review_and_a_coach_may_hold_both_kinds(world, checklist) -> None:
    db, st, who = world
    review = _read(db, checklist, st["A"], who["Coach"])
    consensus = AuditSession.start(
        db, study_pk=st["A"], reviewer_pk=who["Coach"], checklist=checklist, purpose="consensus"
    )
    assert review.audit_pk != consensus.audit_pk
    assert review.state().purpose == "review"
    assert consensus.state().purpose == "consensus"
    # Opening again returns the same audit of each purpose.
    again = AuditSession.start(db, study_pk=st["A"], reviewer_pk=who["Coach"], checklist=checklist)
    assert again.audit_pk == review.audit_pk
    with db.session() as s:
        assert [a.id for a in store.list_audits(s, study_pk=st["A"], purpose="consensus")] == [
            consensus.audit_pk
        ]
        assert len(store.list_audits(s, study_pk=st["A"])) == 2
    with pytest.raises(store.AuditError, match="purpose"), db.transaction() as s:
        store.open_audit(
            s, st["A"], who["Coach"], review.state().checklist_version_pk, purpose="second_opinion"
        )
    # The database itself refuses a second review audit of the same exam by the same reviewer.
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(
            Audit(
                study_pk=st["A"],
                reviewer_pk=who["Coach"],
                checklist_version_pk=review.state().checklist_version_pk,
                checklist_id=CHECKLIST,
            )
        )


# --- disagreements ----------------------------------------------------------------------------


def test_disagreements_are_found_exactly(world, checklist) -> None:
    db, st, who = world
    # A: Alice fails the RMLO fold, Bob passes everything -> the key and the result differ.
    _read(db, checklist, st["A"], who["Alice"], fails=("RMLO:imf_open",))
    _read(db, checklist, st["A"], who["Bob"])
    # Carol's unfinished read and the coach's reference answers are no reads to compare.
    _read(db, checklist, st["A"], who["Carol"], fails=("LCC:no_motion",), complete=False)
    _read(db, checklist, st["A"], who["Coach"], fails=("RCC:exposure",), purpose="reference")
    # B: both fail different keys -> two keys differ, the result (fail) does not.
    _read(db, checklist, st["B"], who["Alice"], fails=("LCC:compression",))
    _read(db, checklist, st["B"], who["Bob"], fails=("RCC:labelling",))
    # C: one read only.
    _read(db, checklist, st["C"], who["Alice"], fails=("RCC:labelling",))

    with db.transaction() as s:
        found = adj.disagreements(s, CHECKLIST)
        secret = site.site_secret(s)
        uid_a = s.get(Study, st["A"]).study_uid
    got = [(d.study_pk, d.key, d.answers) for d in found]
    assert got == [
        (st["A"], "RMLO:imf_open", {"Alice": "fail", "Bob": "pass"}),
        (st["A"], "meets_criteria", {"Alice": False, "Bob": True}),
        (st["B"], "RCC:labelling", {"Alice": "pass", "Bob": "fail"}),
        (st["B"], "LCC:compression", {"Alice": "fail", "Bob": "pass"}),
    ]
    first = found[0]
    assert first.exam_label == f"{DAY_A.isoformat()} mammo {site.exam_key(secret, uid_a)}"
    assert uid_a not in first.exam_label
    assert first.label.startswith("RMLO: ") and "fold" in first.label.lower()
    assert first.procedure_date == DAY_A
    assert not any(d.adjudicated for d in found)

    with db.session() as s:
        assert {d.study_pk for d in adj.disagreements(s, CHECKLIST, start=DAY_B)} == {st["B"]}
        assert {d.study_pk for d in adj.disagreements(s, CHECKLIST, end=DAY_A)} == {st["A"]}
        only_alice = adj.disagreements(s, CHECKLIST, reviewer_pks=(who["Alice"],))
        assert only_alice == []
        assert adj.disagreements(s, "pi-qual-v2") == []
        reads = adj.exam_reads(s, st["A"], CHECKLIST)
        assert [r.reviewer_pk for r in reads] == [who["Alice"], who["Bob"]]


def test_an_override_of_the_result_counts_as_the_effective_answer(world, checklist) -> None:
    db, st, who = world
    _read(db, checklist, st["A"], who["Alice"])
    bob = _read(db, checklist, st["A"], who["Bob"])
    with db.session() as s:
        assert adj.disagreements(s, CHECKLIST) == []
    bob.override("meets_criteria", False, "motion on the MLO, not in the list")
    with db.session() as s:
        found = adj.disagreements(s, CHECKLIST)
    assert [(d.key, d.answers) for d in found] == [
        ("meets_criteria", {"Alice": True, "Bob": False})
    ]


# --- consensus --------------------------------------------------------------------------------


def test_consensus_prefills_agreements_and_needs_a_reason_for_each_decision(
    world, checklist
) -> None:
    db, st, who = world
    _read(db, checklist, st["A"], who["Alice"], fails=("RMLO:imf_open", "RCC:exposure"))
    _read(db, checklist, st["A"], who["Bob"], fails=("RCC:exposure",))
    with pytest.raises(AuditingError, match="at least two"):
        adj.start_consensus(db, st["B"], who["Coach"], checklist)

    session = adj.start_consensus(db, st["A"], who["Coach"], checklist)
    state = session.state()
    assert state.purpose == "consensus"
    keys = _pass_fail_keys(checklist)
    assert set(state.answers) == set(keys) - {"RMLO:imf_open"}
    assert state.answers["RCC:exposure"] == "fail"  # agreed fail carried over
    assert set(state.answer_sources.values()) == {"consensus"}
    with db.session() as s:
        answered_by = set(
            s.scalars(
                select(AuditAnswer.answered_by).where(AuditAnswer.audit_pk == session.audit_pk)
            )
        )
    assert answered_by == {who["Coach"]}
    assert adj.open_keys(db, st["A"], checklist) == ["RMLO:imf_open"]
    with pytest.raises(AuditingError, match="required answers are missing"):
        session.complete()

    with pytest.raises(AuditingError, match="reason"):
        adj.decide(session, "RMLO:imf_open", "pass", "  ")
    with pytest.raises(AuditingError, match="RMLO:imf_open"):
        adj.decide(session, "RMLO:imf_open", "maybe", "looked twice")
    with pytest.raises(AuditingError, match="no answer key"):
        adj.decide(session, "RMLO:nope", "pass", "looked twice")
    adj.decide(session, "RMLO:imf_open", "pass", "fold open on the second look")
    state = session.state()
    assert state.answers["RMLO:imf_open"] == "pass"
    assert state.reason_codes["RMLO:imf_open"] == "consensus"
    assert state.answer_sources["RMLO:imf_open"] == "reviewer"
    assert state.comment == "RMLO:imf_open = pass: fold open on the second look"
    comments = [e for e in state.history if e.kind == "comment"]
    assert comments[-1].reviewer_pk == who["Coach"]
    assert comments[-1].new_value == state.comment
    session.complete()
    # Resuming keeps the decision (prefill never overwrites).
    again = adj.start_consensus(db, st["A"], who["Coach"], checklist)
    assert again.audit_pk == session.audit_pk
    assert again.state().answers["RMLO:imf_open"] == "pass"

    with db.session() as s:
        found = adj.disagreements(s, CHECKLIST)
        reads = adj.exam_reads(s, st["A"], CHECKLIST)
    assert found and all(d.adjudicated for d in found)
    assert [r.purpose for r in reads] == ["review", "review", "consensus"]
    # A consensus audit is no read: it never shows up as a disagreement party.
    assert all("Coach" not in d.answers for d in found)


def test_consensus_counts_in_the_measure_instead_of_the_reads(world, checklist) -> None:
    db, st, who = world
    # Both reads fail the exam; the coach decides the disputed fold passes, the rest agree.
    _read(db, checklist, st["A"], who["Alice"], fails=("RMLO:imf_open",))
    _read(db, checklist, st["A"], who["Bob"], fails=("RMLO:imf_open", "LMLO:imf_open"))
    _read(db, checklist, st["B"], who["Alice"])
    before = _results(db)
    assert before[st["A"]].meets is False and not before[st["A"]].consensus
    assert before[st["A"]].evaluator == "Alice"
    assert sum(r.meets for r in before.values()) == 1

    session = adj.start_consensus(db, st["A"], who["Coach"], checklist)
    adj.decide(session, "RMLO:imf_open", "pass", "fold visible")
    adj.decide(session, "LMLO:imf_open", "pass", "fold visible")
    # An unfinished consensus does not count yet.
    assert _results(db)[st["A"]].evaluator == "Alice"
    session.complete()

    after = _results(db)
    assert after[st["A"]].meets is True
    assert after[st["A"]].consensus and after[st["A"]].evaluator == "Coach"
    assert after[st["A"]].audit_pk == session.audit_pk
    assert after[st["A"]].double_read
    assert sum(r.meets for r in after.values()) == 2 and len(after) == 2
    assert "consensus" in measures.counted_audit_rule()

    # The coach's decision on the result itself (an override with the reason) counts too.
    adj.decide(session, "meets_criteria", "no", "compression poor overall")
    assert _results(db)[st["A"]].meets is False
    assert session.state().comment.splitlines()[-1] == (
        "meets_criteria = False: compression poor overall"
    )


def test_reference_audits_never_count(world, checklist) -> None:
    db, st, who = world
    _read(db, checklist, st["C"], who["Coach"], purpose="reference")
    assert _results(db) == {}
    # Even completed first, the reference never wins over a review.
    _read(db, checklist, st["C"], who["Alice"], fails=("RCC:labelling",))
    results = _results(db)
    assert results[st["C"]].evaluator == "Alice" and results[st["C"]].meets is False
    assert not results[st["C"]].double_read


def test_consensus_audit_does_not_complete_the_coachs_own_worklist_row(world, checklist) -> None:
    from auditdesk.reading.worklist import (
        STATUS_COMPLETE,
        STATUS_TODO,
        WorklistFilter,
        list_worklist,
    )

    db, st, who = world
    _read(db, checklist, st["A"], who["Alice"], fails=("RMLO:imf_open",))
    _read(db, checklist, st["A"], who["Bob"])
    session = adj.start_consensus(db, st["A"], who["Coach"], checklist)
    adj.decide(session, "RMLO:imf_open", "pass", "fold visible")
    session.complete()
    with db.session() as s:
        rows = {r.study_pk: r for r in list_worklist(s, who["Coach"], WorklistFilter())}
        alice = {r.study_pk: r for r in list_worklist(s, who["Alice"], WorklistFilter())}
    assert rows[st["A"]].my_status == STATUS_TODO
    assert rows[st["A"]].n_reviews == 2
    assert alice[st["A"]].my_status == STATUS_COMPLETE


# --- calibration -------------------------------------------------------------------------------


def test_calibration_result_against_reference(world, checklist) -> None:
    db, st, who = world
    with db.transaction() as s:
        set_id = adj.create_calibration_set(
            s, "Fold week", CHECKLIST, [st["A"], st["B"], st["A"], st["C"]], who["Coach"]
        )
        with pytest.raises(AuditingError, match="already exists"):
            adj.create_calibration_set(s, "Fold week", CHECKLIST, [st["A"]], who["Coach"])
        with pytest.raises(AuditingError, match="no study"):
            adj.create_calibration_set(s, "Other", CHECKLIST, [99999], who["Coach"])
    with pytest.raises(AuditingError, match="not in calibration set"):
        adj.start_reference(db, set_id, 424242, who["Coach"], checklist)

    for study, fails in ((st["A"], ("RMLO:imf_open", "RCC:no_motion")), (st["B"], ())):
        ref = adj.start_reference(db, set_id, study, who["Coach"], checklist)
        with ref._tx() as s:
            for key in _pass_fail_keys(checklist):
                value = "fail" if key in fails else "pass"
                store.set_answer(s, ref.audit_pk, key, value, who["Coach"])
        ref.complete()
        assert ref.state().purpose == "reference"
    _read(db, checklist, st["A"], who["Alice"], fails=("RMLO:imf_open",))
    _read(db, checklist, st["B"], who["Alice"])

    with db.transaction() as s:
        sets = adj.calibration_sets(s)
        result = adj.calibration_result(s, set_id, who["Alice"])
    assert [(x.name, x.study_pks, x.n_references) for x in sets] == [
        ("Fold week", (st["A"], st["B"], st["C"]), 2)
    ]
    n = 2 * len(_pass_fail_keys(checklist))
    assert result.n_compared == n and result.n_agree == n - 1
    assert result.percent == pytest.approx(100 * (n - 1) / n)
    # Alice: 1 fail, n-1 pass; reference: 2 fails, n-2 pass; they share the one fail.
    po = (n - 1) / n
    pe = (1 / n) * (2 / n) + ((n - 1) / n) * ((n - 2) / n)
    assert result.kappa == pytest.approx((po - pe) / (1 - pe))
    assert result.kappa == pytest.approx(
        adj.cohen_kappa_value(["fail"] + ["pass"] * (n - 1), ["fail", "fail"] + ["pass"] * (n - 2))
    )
    differing = [r for r in result.rows if r.agrees is False]
    assert [(r.study_pk, r.key, r.reviewer_answer, r.reference_answer) for r in differing] == [
        (st["A"], "RCC:no_motion", "pass", "fail"),
    ]
    assert (result.meets_compared, result.meets_agree) == (2, 2)  # both fail A, pass B
    assert result.exams_not_read == [st["C"]]
    assert result.exams_without_reference == [st["C"]]
    # Reference audits are neither counted nor compared between reviewers.
    assert set(_results(db)) == {st["A"], st["B"]}
    assert _results(db)[st["A"]].evaluator == "Alice"
    with db.session() as s:
        assert adj.disagreements(s, CHECKLIST) == []


def test_kappa_fallback_matches_textbook_values() -> None:
    # Cohen (1960)-style 2x2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa 0.4.
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert adj.cohen_kappa_value(a, b) == pytest.approx(0.4)
    assert adj.cohen_kappa_value([], []) is None
    assert adj.cohen_kappa_value(["pass"] * 3, ["pass"] * 3) is None


# --- CLI ---------------------------------------------------------------------------------------


def _cli(capsys, db, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", db.url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_disagreements_consensus_and_calibration(world, checklist, capsys) -> None:
    db, st, who = world
    _read(db, checklist, st["A"], who["Alice"], fails=("RMLO:imf_open",))
    _read(db, checklist, st["A"], who["Bob"])
    with db.session() as s:
        uid = s.get(Study, st["A"]).study_uid

    code, out, _ = _cli(capsys, db, "disagreements", "--checklist", CHECKLIST, "--json")
    assert code == 0
    data = json.loads(out)
    assert [(d["study_id"], d["key"], d["answers"]) for d in data] == [
        (st["A"], "RMLO:imf_open", {"Alice": "fail", "Bob": "pass"}),
        (st["A"], "meets_criteria", {"Alice": False, "Bob": True}),
    ]
    assert uid not in out
    code, out, _ = _cli(capsys, db, "disagreements", "--checklist", CHECKLIST)
    assert code == 0 and "RMLO:imf_open" in out and "Alice=fail" in out and uid not in out
    assert data[0]["exam"] in out

    code, out, _ = _cli(
        capsys, db, "consensus", str(st["A"]), "--coach", "Coach", "--checklist", CHECKLIST
    )
    assert code == 1 and "RMLO:imf_open" in out
    code, _, err = _cli(
        capsys,
        db,
        "consensus",
        "--checklist",
        CHECKLIST,
        str(st["A"]),
        "RMLO:imf_open=pass",
        "--coach",
        "Coach",
    )
    assert code == 2 and "reason" in err
    code, out, _ = _cli(
        capsys,
        db,
        "consensus",
        str(st["A"]),
        "--coach",
        "Coach",
        "RMLO:imf_open=pass:fold open",
        "--checklist",
        CHECKLIST,
    )
    assert code == 0 and "completed" in out
    assert _results(db)[st["A"]].consensus
    code, out, _ = _cli(capsys, db, "disagreements", "--checklist", CHECKLIST)
    assert "[adjudicated]" in out

    code, out, _ = _cli(
        capsys,
        db,
        "calibration",
        "create",
        "Set 1",
        "--checklist",
        CHECKLIST,
        "--study",
        str(st["A"]),
        "--by",
        "Coach",
    )
    assert code == 0
    answers = [f"--answer={k}=pass" for k in _pass_fail_keys(checklist)]
    code, out, err = _cli(
        capsys,
        db,
        "calibration",
        "reference",
        "Set 1",
        "--study",
        str(st["A"]),
        "--by",
        "Coach",
        *answers,
        "--complete",
    )
    assert code == 0, err
    code, out, _ = _cli(capsys, db, "calibration", "list", "--json")
    assert json.loads(out)[0]["references"] == 1
    code, out, _ = _cli(
        capsys, db, "calibration", "result", "Set 1", "--reviewer", "Alice", "--json"
    )
    data = json.loads(out)
    n = len(_pass_fail_keys(checklist))
    assert (data["compared"], data["agree"]) == (n, n - 1)
    code, out, _ = _cli(capsys, db, "calibration", "result", "1", "--reviewer", "Alice")
    assert code == 0 and "RMLO:imf_open" in out and uid not in out
    code, _, err = _cli(capsys, db, "calibration", "result", "nope", "--reviewer", "Alice")
    assert code == 2 and "no calibration set" in err.lower()
