"""One rule for the effective result of an audit (issue 14 point 4).

The form (``store.audit_state``), the measure, the exam sheet, agreement and adjudication must
agree on which answers and which verdict count, for audits with a consensus and overrides.
Expected values are written out by hand from the answers the test gives; none is read back from
the code under test.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from auditdesk.checklists.effective import apply_overrides, effective_answers, newest_overrides
from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.dicom.index import import_paths
from auditdesk.exchange.exam_sheet import exam_details
from auditdesk.qi import measures
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.review import adjudication as adj
from auditdesk.review.agreement import MEETS, AgreementFilter, rating_table
from auditdesk.store import audits as store
from auditdesk.store.models import Study

CHECKLIST = "acr-mammo-positioning"


def test_the_rule_itself() -> None:
    result = {
        "effective_answers": {"RCC:a": "pass", "RCC:b": "fail", "RMLO:c": None},
        "not_applicable": ["RCC:b"],
    }
    assert effective_answers(result) == {"RCC:a": "pass", "RMLO:c": None}
    assert effective_answers(result, keep_not_applicable=True) == result["effective_answers"]
    assert effective_answers(None) == {}
    # Oldest first: the newest per field wins, a withdrawal (None) cancels the older one.
    newest = newest_overrides(
        [
            (1, "meets_criteria", True),
            (1, "grade", "P"),
            (1, "meets_criteria", None),
            (2, "grade", "I"),
        ]
    )
    assert newest == {1: {"meets_criteria": None, "grade": "P"}, 2: {"grade": "I"}}
    v = apply_overrides(False, "G", newest[1])
    assert (v.meets_criteria, v.grade, v.overridden) == (False, "P", ("grade",))
    v = apply_overrides(None, None, {"meets_criteria": False})
    assert (v.meets_criteria, v.grade, v.overridden) == (False, None, ("meets_criteria",))


@pytest.fixture
def world(db, test_set):
    import_paths(db, [test_set.root])
    with db.transaction() as s:
        study = s.scalars(select(Study).where(Study.kind == "mammo").order_by(Study.id)).first()
        assert study is not None
        study.procedure_date = dt.date(2025, 1, 7)
        pks = {
            n: store.create_reviewer(s, n, "coach" if n == "Coach" else "technologist", n[:2]).id
            for n in ("Alice", "Bob", "Coach")
        }
        study_pk = study.id
    return db, study_pk, pks


def _read(db, checklist, study_pk: int, reviewer_pk: int, fails: tuple[str, ...]) -> AuditSession:
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    with audit._tx() as s:
        for key in answer_keys(checklist):
            if item_for_key(checklist, key).type == "pass_fail":
                store.set_answer(
                    s, audit.audit_pk, key, "fail" if key in fails else "pass", reviewer_pk
                )
    audit.complete()
    return audit


def test_form_measure_exam_sheet_agreement_and_adjudication_agree(world) -> None:
    db, study_pk, who = world
    checklist = find_checklist(CHECKLIST)
    alice = _read(db, checklist, study_pk, who["Alice"], ("RMLO:imf_open",))
    bob = _read(db, checklist, study_pk, who["Bob"], ("RCC:exposure",))
    # Bob's read is overridden to "meets" (his computed result had a fail).
    bob.override("meets_criteria", True, "exposure acceptable on review")
    # The coach's consensus: the fold fails, the exposure passes, everything else agreed (pass);
    # then the coach overrides the consensus result to "met" (the computed result is "not met").
    consensus = adj.start_consensus(db, study_pk, who["Coach"], checklist)
    adj.decide(consensus, "RMLO:imf_open", "fail", "fold closed")
    adj.decide(consensus, "RCC:exposure", "pass", "exposure fine")
    consensus.complete()
    adj.decide(consensus, "meets_criteria", "yes", "fold acceptable for this patient")

    # By hand: the consensus fails exactly RMLO imf_open; its result is the override, True.
    with db.session() as s:
        form = store.audit_state(s, consensus.audit_pk)
        form_bob = store.audit_state(s, bob.audit_pk)
        (exam,) = measures.exam_results(s, CHECKLIST)
        details = exam_details(s, [exam])
        _studies, reviewers, meets_rows = rating_table(s, AgreementFilter(CHECKLIST), MEETS)
        _studies, _r, fold_rows = rating_table(s, AgreementFilter(CHECKLIST), "RMLO:imf_open")
        reads = {r.audit_pk: r for r in adj.exam_reads(s, study_pk, CHECKLIST)}

    assert form.score is not None and form.score.meets_criteria is False  # one item failed
    assert form.meets_criteria is True and form.overridden == ["meets_criteria"]
    assert [k for k, v in form.answers.items() if v == "fail"] == ["RMLO:imf_open"]
    assert exam.audit_pk == consensus.audit_pk and exam.consensus
    assert exam.meets is True  # the measure counts the override, like the form
    assert exam.criteria["imf_open"] == "fail" and exam.criteria["exposure"] == "pass"
    failed = [(f.member, f.item_id) for f in details[consensus.audit_pk].failed]
    assert failed == [("RMLO", "imf_open")]  # the exam sheet fails what the form fails

    # Bob's override is the effective verdict everywhere: form, agreement and adjudication.
    assert form_bob.score is not None and form_bob.score.meets_criteria is False
    assert form_bob.meets_criteria is True
    col = {pk: j for j, pk in enumerate(reviewers)}
    assert meets_rows[0][col[who["Bob"]]] is True
    assert reads[bob.audit_pk].meets_criteria is True
    assert reads[consensus.audit_pk].meets_criteria is True
    # Agreement rates the reads' own effective answers (the consensus is no read).
    assert fold_rows[0][col[who["Alice"]]] == "fail"
    assert fold_rows[0][col[who["Bob"]]] == "pass"
    with db.session() as s:
        assert store.audit_state(s, alice.audit_pk).answers["RMLO:imf_open"] == "fail"
