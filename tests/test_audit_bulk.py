"""``set_answers`` (many answers in one INSERT) writes exactly the rows ``set_answer`` writes when
the same answers are given one after another, and refuses a bad answer before writing any.

The oracle is the one-by-one path of the store itself (``set_answer``), run on a second audit of
the same kind: both audits must end with the same answers and the same history, row for row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from auditdesk.checklists.answers import InvalidAnswerError
from auditdesk.store import audits
from auditdesk.store.audit_bulk import set_answers
from auditdesk.store.audits import AuditError
from auditdesk.store.db import Database
from auditdesk.store.models import AuditAnswer, AuditEvent, Study

ACR = (
    Path(__file__).resolve().parents[1] / "checklists" / "acr-mammo-positioning.toml"
).read_text()

ANSWERS = [
    ("RMLO:imf_open", "fail", "sagging"),
    ("RMLO:pectoral_to_pnl", "pass", None),
    ("RMLO:pnl_mm", 112.5, None),
    ("LMLO:pectoral_to_pnl_mm", 3.0, None),  # stored as 3 (whole number), as set_answer does
    ("LMLO:posterior_tissue", "pass", None),
    ("LMLO:pnl_match", None, None),  # no value for a new key: nothing written
]


def _two_audits(db: Database) -> tuple[int, int, int]:
    with db.transaction() as s:
        studies = [Study(study_uid=f"1.2.826.0.1.3680043.10.998.{i}", kind="mammo") for i in (1, 2)]
        s.add_all(studies)
        s.flush()
        reviewer = audits.create_reviewer(s, "Alice Tech", "technologist", "AT")
        version = audits.register_checklist_version(
            s, "acr-mammo-positioning", "1.0", audits.sha256_text(ACR), ACR, "ACR positioning"
        )
        one = audits.open_audit(s, studies[0].id, reviewer.id, version.id)
        two = audits.open_audit(s, studies[1].id, reviewer.id, version.id)
        return one.id, two.id, reviewer.id


def _rows(db: Database, audit_pk: int) -> tuple[list[tuple], list[tuple]]:
    with db.session() as s:
        answers = [
            (a.key, a.value, a.reason_code, a.source, a.answered_by)
            for a in s.scalars(
                select(AuditAnswer).where(AuditAnswer.audit_pk == audit_pk).order_by(AuditAnswer.id)
            )
        ]
        events = [
            (e.kind, e.key, e.reviewer_pk, e.old_value, e.new_value)
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.audit_pk == audit_pk).order_by(AuditEvent.id)
            )
            if e.kind == "answer"
        ]
    return answers, events


def test_bulk_answers_are_the_rows_of_one_by_one_answers(db: Database) -> None:
    bulk, single, reviewer = _two_audits(db)
    when = dt.datetime(2026, 3, 2, 10, 0)
    with db.transaction() as s:
        assert set_answers(s, bulk, ANSWERS, reviewer, now=when) == 5
    with db.transaction() as s:
        for key, value, reason in ANSWERS:
            audits.set_answer(s, single, key, value, reviewer, reason)
    bulk_rows, single_rows = _rows(db, bulk), _rows(db, single)
    assert bulk_rows == single_rows
    answers, events = bulk_rows
    assert [a[0] for a in answers] == [k for k, v, _r in ANSWERS if v is not None]
    assert ("LMLO:pectoral_to_pnl_mm", 3, None, "reviewer", reviewer) in answers
    assert events[0] == (
        "answer",
        "RMLO:imf_open",
        reviewer,
        None,
        {"value": "fail", "reason_code": "sagging", "source": "reviewer"},
    )
    with db.session() as s:
        times = set(s.scalars(select(AuditAnswer.answered_at).where(AuditAnswer.audit_pk == bulk)))
    assert times == {when}


def test_bulk_changes_existing_answers_with_history(db: Database) -> None:
    bulk, _single, reviewer = _two_audits(db)
    with db.transaction() as s:
        audits.set_answer(s, bulk, "RMLO:imf_open", "pass", reviewer)
    with db.transaction() as s:
        changed = set_answers(
            s, bulk, [("RMLO:imf_open", "fail", "not_shown"), ("LCC:pnl_mm", 90, None)], reviewer
        )
    assert changed == 2
    answers, events = _rows(db, bulk)
    assert ("RMLO:imf_open", "fail", "not_shown", "reviewer", reviewer) in answers
    imf = [e for e in events if e[1] == "RMLO:imf_open"]
    assert [e[3] for e in imf] == [
        None,
        {"value": "pass", "reason_code": None, "source": "reviewer"},
    ]


@pytest.mark.parametrize(
    ("answers", "error"),
    [
        ([("RMLO:imf_open", "maybe", None)], InvalidAnswerError),
        ([("RMLO:imf_open", "pass", None), ("RMLO:imf_open", "fail", None)], AuditError),
        ([("", "pass", None)], AuditError),
        ([("RMLO:imf_open", None, "sagging")], AuditError),
    ],
)
def test_a_refused_answer_writes_nothing(
    db: Database, answers: list[tuple], error: type[Exception]
) -> None:
    bulk, _single, reviewer = _two_audits(db)
    good = [("LMLO:posterior_tissue", "pass", None)]
    with pytest.raises(error), db.transaction() as s:
        set_answers(s, bulk, good + answers, reviewer)
    assert _rows(db, bulk) == ([], [])
