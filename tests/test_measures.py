"""The collaborative measure: which exams count, in which week, and the Wilson interval."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.qi import measures
from auditdesk.qi.measures import (
    by_criterion,
    by_evaluator,
    by_location,
    by_technologist,
    counted_audit_rule,
    exam_results,
    weekly,
    wilson,
)
from auditdesk.reading.auditing import (
    AuditSession,
    find_checklist,
    save_computed_score,
    snapshot_checklist,
)
from auditdesk.store import audits as store
from auditdesk.store.models import Audit, AuditScore, Study

BOTH_BACKENDS = True  # tests using the db fixture also run on PostgreSQL (conftest.py)

CHECKLIST = "acr-mammo-positioning"
SAT = dt.date(2025, 1, 11)  # Saturday: last day of the week of Sun 2025-01-05
SUN = dt.date(2025, 1, 12)  # Sunday: first day of the next week


@pytest.fixture
def checklist():
    return find_checklist(CHECKLIST)


def _reviewers(db, *names: str) -> list[int]:
    with db.transaction() as s:
        return [store.create_reviewer(s, n, "team_leader", n[:2].upper()).id for n in names]


def _study(db, uid: str, day: dt.date | None, tech: str | None = "SMITH^JANE") -> int:
    with db.transaction() as s:
        study = Study(study_uid=uid, procedure_date=day, kind="mammo", technologist=tech)
        s.add(study)
        s.flush()
        return study.id


def _audit(
    db,
    checklist,
    study_pk: int,
    reviewer_pk: int,
    *,
    fails: tuple[str, ...] = (),
    nas: tuple[str, ...] = (),
    complete: bool = True,
    completed_at: dt.datetime | None = None,
    learning: bool = False,
    purpose: str = "review",
) -> int:
    """An audit answered in one transaction: every pass/fail key "pass" unless listed."""
    with db.transaction() as s:
        version = snapshot_checklist(s, checklist)
        audit = store.open_audit(s, study_pk, reviewer_pk, version.id, purpose=purpose)
        for key in answer_keys(checklist):
            if item_for_key(checklist, key).type != "pass_fail":
                continue
            value = "fail" if key in fails else "na" if key in nas else "pass"
            store.set_answer(s, audit.id, key, value, reviewer_pk)
        if learning:
            store.set_learning_opportunity(s, audit.id, True, reviewer_pk)
        save_computed_score(s, audit.id, reviewer_pk=reviewer_pk)
        if complete:
            store.set_status(s, audit.id, "complete", reviewer_pk)
            if completed_at is not None:
                s.get(Audit, audit.id).completed_at = completed_at
        return audit.id


def _results(db, **kwargs) -> list[measures.ExamResult]:
    with db.session() as s:
        return exam_results(s, CHECKLIST, **kwargs)


# --- Wilson ----------------------------------------------------------------------------------


def test_wilson_matches_known_values() -> None:
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=5e-5)
    assert high == pytest.approx(0.9433, abs=5e-5)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-5)
    low, high = wilson(10, 10)
    assert low == pytest.approx(0.7225, abs=5e-5) and high == 1.0
    low, high = wilson(81, 263)  # Newcombe 1998, example (a)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=5e-5)


def test_rate_of_nothing_has_no_rate_or_interval() -> None:
    rate = measures.make_rate(0, 0)
    assert (rate.numerator, rate.denominator, rate.rate, rate.ci_low, rate.ci_high) == (
        0,
        0,
        None,
        None,
        None,
    )
    with pytest.raises(ValueError):
        wilson(0, 0)


# --- which exams count -----------------------------------------------------------------------


def test_week_follows_procedure_date_not_audit_date(db, checklist) -> None:
    (rv,) = _reviewers(db, "Ann Lead")
    sat = _study(db, "1.1", SAT)
    sun = _study(db, "1.2", SUN)
    # Audited weeks later: the exams stay in the weeks they were performed.
    late = dt.datetime(2025, 3, 1, 10, 0)
    _audit(db, checklist, sat, rv, completed_at=late)
    _audit(db, checklist, sun, rv, completed_at=late, fails=("RCC:no_motion",))
    results = _results(db)
    weeks = {r.study_pk: r.week_start for r in results}
    assert weeks == {sat: dt.date(2025, 1, 5), sun: dt.date(2025, 1, 12)}
    rows = weekly(results)
    assert [(w.week_start, w.rate.numerator, w.rate.denominator) for w in rows] == [
        (dt.date(2025, 1, 5), 1, 1),
        (dt.date(2025, 1, 12), 0, 1),
    ]
    # start / end select by procedure date, inclusive.
    assert [r.study_pk for r in _results(db, start=SUN)] == [sun]
    assert [r.study_pk for r in _results(db, end=SAT)] == [sat]
    assert _results(db, start=SUN, end=SUN)[0].procedure_date == SUN


def test_saturday_late_evening_and_sunday_midnight_split_by_date(db, checklist) -> None:
    """Weeks are cut on the procedure *date*: 23:59 Saturday and 00:00 Sunday differ."""
    (rv,) = _reviewers(db, "Ann Lead")
    a = _study(db, "2.1", SAT)
    b = _study(db, "2.2", SUN)
    with db.transaction() as s:
        s.get(Study, a).procedure_datetime = dt.datetime(2025, 1, 11, 23, 59)
        s.get(Study, b).procedure_datetime = dt.datetime(2025, 1, 12, 0, 0)
    _audit(db, checklist, a, rv)
    _audit(db, checklist, b, rv)
    assert [w.week_start for w in weekly(_results(db))] == [
        dt.date(2025, 1, 5),
        dt.date(2025, 1, 12),
    ]


def test_numerator_denominator_and_exclusions(db, checklist) -> None:
    rv, other = _reviewers(db, "Ann Lead", "Bo Coach")
    day = dt.date(2025, 2, 4)
    ok = [_study(db, f"3.{i}", day) for i in range(3)]
    bad = _study(db, "3.9", day)
    open_ = _study(db, "3.10", day)
    undated = _study(db, "3.11", None)
    other_list = _study(db, "3.12", day)
    for pk in ok:
        _audit(db, checklist, pk, rv)
    _audit(db, checklist, bad, rv, fails=("LMLO:imf_open",))
    _audit(db, checklist, open_, rv, complete=False)  # in progress: not counted
    _audit(db, checklist, undated, rv)  # no procedure date: no week, not counted
    pgmi = find_checklist("pgmi")
    with db.transaction() as s:  # another checklist's audit is not this measure
        version = snapshot_checklist(s, pgmi)
        store.open_audit(s, other_list, other, version.id)
    results = _results(db)
    assert sorted(r.study_pk for r in results) == sorted([*ok, bad])
    (row,) = weekly(results)
    assert (row.rate.numerator, row.rate.denominator) == (3, 4)
    assert row.rate.rate == 0.75
    assert (row.rate.ci_low, row.rate.ci_high) == pytest.approx(wilson(3, 4))
    assert all(not r.double_read for r in results)
    assert all(r.checklist_id == CHECKLIST for r in results)


def test_double_read_counts_once_by_the_documented_rule(db, checklist) -> None:
    first, second, primary = _reviewers(db, "Ann Lead", "Bo Coach", "Cy Tech")
    day = dt.date(2025, 2, 4)
    a = _study(db, "4.1", day)
    b = _study(db, "4.2", day)
    c = _study(db, "4.3", day)
    t0 = dt.datetime(2025, 2, 10, 9, 0)
    # a: earliest completed wins (no primary named) -> "Ann Lead" (fails).
    _audit(db, checklist, a, second, completed_at=t0 + dt.timedelta(hours=2))
    _audit(db, checklist, a, first, completed_at=t0, fails=("RCC:exposure",))
    # b: the primary reviewer's complete audit wins even though it was completed later.
    _audit(db, checklist, b, first, completed_at=t0)
    _audit(
        db, checklist, b, primary, completed_at=t0 + dt.timedelta(days=1), fails=("LCC:labelling",)
    )
    # c: the primary reviewer has not completed: earliest completed wins.
    _audit(db, checklist, c, second, completed_at=t0 + dt.timedelta(hours=1))
    _audit(
        db, checklist, c, first, completed_at=t0 + dt.timedelta(hours=3), fails=("RCC:exposure",)
    )
    _audit(db, checklist, c, primary, complete=False, fails=("RCC:exposure",))

    results = {r.study_pk: r for r in _results(db, primary_of=lambda pk: primary)}
    assert len(results) == 3
    assert (results[a].evaluator, results[a].meets) == ("Ann Lead", False)
    assert (results[b].evaluator, results[b].meets) == ("Cy Tech", False)
    assert (results[c].evaluator, results[c].meets) == ("Bo Coach", True)
    assert all(r.double_read for r in results.values())
    (row,) = weekly(list(results.values()))
    assert (row.rate.numerator, row.rate.denominator) == (1, 3)
    # Without a primary reviewer, b falls back to the earliest completed audit.
    b_default = next(r for r in _results(db) if r.study_pk == b)
    assert (b_default.evaluator, b_default.meets) == ("Ann Lead", True)
    assert "primary reviewer" in counted_audit_rule() and "earliest" in counted_audit_rule()


def test_same_completion_time_falls_back_to_lowest_audit_id(db, checklist) -> None:
    one, two = _reviewers(db, "Ann Lead", "Bo Coach")
    pk = _study(db, "5.1", dt.date(2025, 2, 4))
    t = dt.datetime(2025, 2, 5, 8, 0)
    first_id = _audit(db, checklist, pk, two, completed_at=t)
    _audit(db, checklist, pk, one, completed_at=t, fails=("RCC:exposure",))
    (result,) = _results(db)
    assert result.audit_pk == first_id and result.evaluator == "Bo Coach"


def test_override_of_meets_criteria_is_respected(db, checklist) -> None:
    (rv,) = _reviewers(db, "Ann Lead")
    day = dt.date(2025, 2, 4)
    failed = _study(db, "6.1", day)
    passed = _study(db, "6.2", day)
    withdrawn = _study(db, "6.3", day)
    a = _audit(db, checklist, failed, rv, fails=("RMLO:no_motion",))
    b = _audit(db, checklist, passed, rv)
    c = _audit(db, checklist, withdrawn, rv)
    with db.transaction() as s:
        store.set_override(s, a, "meets_criteria", True, rv, "Motion was on a repeat image")
        store.set_override(s, b, "meets_criteria", False, rv, "Wrong patient positioning aid")
        store.set_override(s, c, "meets_criteria", False, rv, "first thought")
        store.set_override(s, c, "meets_criteria", None, rv, "withdrawn: computed is right")
    results = {r.study_pk: r.meets for r in _results(db)}
    assert results == {failed: True, passed: False, withdrawn: True}
    # The same answer audit_state gives.
    with db.session() as s:
        for pk in (a, b, c):
            state = store.audit_state(s, pk, include_history=False)
            assert results[state.study_pk] is state.meets_criteria


def test_an_audit_without_a_decided_result_counts_nowhere(db, checklist) -> None:
    one, two = _reviewers(db, "Ann Lead", "Bo Coach")
    day = dt.date(2025, 2, 4)
    pk = _study(db, "7.1", day)
    lone = _study(db, "7.2", day)
    t = dt.datetime(2025, 2, 5, 8, 0)
    undecided = _audit(db, checklist, pk, one, completed_at=t)
    _audit(db, checklist, pk, two, completed_at=t + dt.timedelta(hours=1), fails=("RCC:exposure",))
    lone_audit = _audit(db, checklist, lone, one, completed_at=t)
    with db.transaction() as s:  # e.g. a score that could not decide (data from elsewhere)
        for audit_pk in (undecided, lone_audit):
            for row in s.scalars(select(AuditScore).where(AuditScore.audit_pk == audit_pk)):
                row.meets_criteria = None
    (result,) = _results(db)
    assert (result.study_pk, result.evaluator, result.meets) == (pk, "Bo Coach", False)
    assert not result.double_read


def test_criteria_across_views_and_breakdowns(db, checklist) -> None:
    one, two = _reviewers(db, "Ann Lead", "Bo Coach")
    day = dt.date(2025, 2, 4)
    a = _study(db, "8.1", day, tech="SMITH^JANE")
    b = _study(db, "8.2", day, tech="DOE^JO")
    c = _study(db, "8.3", day, tech=None)
    # imf_open fails on one MLO and passes on the other -> fail for the exam.
    _audit(db, checklist, a, one, fails=("LMLO:imf_open",), learning=True)
    # nipple_profile n/a on every view -> na; no_motion n/a on one view only -> pass.
    nipple = tuple(f"{v}:nipple_profile" for v in ("RCC", "LCC", "RMLO", "LMLO"))
    _audit(db, checklist, b, two, nas=(*nipple, "RCC:no_motion"))
    _audit(db, checklist, c, two, fails=("RCC:no_motion", "LCC:no_motion"))
    techs = {"SMITH^JANE": "Jane Smith", "DOE^JO": "Jo Doe"}
    results = _results(
        db,
        technologist_of=lambda raw: techs.get(raw, raw),
        location_of=lambda tech: {"Jane Smith": "Main"}.get(tech),
    )
    by_pk = {r.study_pk: r for r in results}
    assert by_pk[a].criteria["imf_open"] == "fail"
    assert by_pk[a].learning_opportunity and not by_pk[b].learning_opportunity
    assert by_pk[b].criteria["nipple_profile"] == "na"
    assert by_pk[b].criteria["no_motion"] == "pass"
    assert by_pk[c].criteria["no_motion"] == "fail"
    assert set(by_pk[a].criteria) == set(measures.pass_fail_items(checklist))
    assert all(v in ("pass", "fail", "na") for r in results for v in r.criteria.values())
    assert "pnl_mm" not in by_pk[a].criteria  # numbers are not criteria

    rows = by_criterion(results, checklist)
    assert [r.criterion for r in rows] == list(measures.pass_fail_items(checklist))
    imf = next(r for r in rows if r.criterion == "imf_open")
    assert (imf.passed, imf.failed, imf.not_applicable) == (2, 1, 0)
    assert imf.label == "Inframammary fold open and shown"
    assert imf.rate.rate == pytest.approx(2 / 3)
    nip = next(r for r in rows if r.criterion == "nipple_profile")
    assert (nip.passed, nip.failed, nip.not_applicable) == (2, 0, 1)

    tech = by_technologist(results)
    assert set(tech) == {"Jane Smith", "Jo Doe"}  # no technologist: left out of the breakdown
    assert (tech["Jane Smith"].numerator, tech["Jane Smith"].denominator) == (0, 1)
    assert (tech["Jo Doe"].numerator, tech["Jo Doe"].denominator) == (1, 1)
    ev = by_evaluator(results)
    assert (ev["Bo Coach"].numerator, ev["Bo Coach"].denominator) == (1, 2)
    assert set(by_location(results)) == {"Main"}


def test_audit_session_end_to_end(db, checklist) -> None:
    """The real recorder path: answers, complete, override by the reviewer."""
    (rv,) = _reviewers(db, "Ann Lead")
    pk = _study(db, "9.1", dt.date(2025, 1, 10))  # Friday -> week of Sun 2025-01-05
    audit = AuditSession.start(db, study_pk=pk, reviewer_pk=rv, checklist=checklist)
    for key in answer_keys(checklist):
        if item_for_key(checklist, key).type == "pass_fail":
            audit.answer(key, "fail" if key == "RCC:compression" else "pass")
    assert _results(db) == []  # not complete yet
    audit.complete()
    (result,) = _results(db)
    assert result.week_start == dt.date(2025, 1, 5)
    assert result.meets is False and result.criteria["compression"] == "fail"
    audit.override("meets_criteria", True, "Compression judged adequate at consensus")
    (result,) = _results(db)
    assert result.meets is True


def test_many_audits_use_a_fixed_number_of_queries(db, checklist) -> None:
    from sqlalchemy import event

    (rv,) = _reviewers(db, "Ann Lead")
    for i in range(12):
        _audit(db, checklist, _study(db, f"10.{i}", dt.date(2025, 3, 1 + i)), rv)
    statements: list[str] = []

    def count(*args, **kwargs) -> None:
        statements.append(args[2])

    with db.session() as s:
        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            results = exam_results(s, CHECKLIST)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(results) == 12
    assert len(statements) <= 5


def test_consensus_counts_first_and_reference_audits_never(db, checklist) -> None:
    """Issue 6: a complete consensus audit settles the exam whatever the primary or the earliest
    read says; an unfinished one does not; "reference" audits (calibration answers) never
    count, not even as the only audit of an exam."""
    ann, bo, coach = _reviewers(db, "Ann Lead", "Bo Tech", "Cy Coach")
    day = dt.date(2025, 2, 4)
    a = _study(db, "7.1", day)
    b = _study(db, "7.2", day)
    c = _study(db, "7.3", day)
    t0 = dt.datetime(2025, 2, 10, 9, 0)
    _audit(db, checklist, a, ann, completed_at=t0, fails=("RCC:exposure",))
    _audit(db, checklist, a, bo, completed_at=t0 + dt.timedelta(hours=1))
    asked: list[int] = []

    def primary_of(study_pk: int) -> int | None:
        asked.append(study_pk)
        return bo

    before = {r.study_pk: r for r in _results(db, primary_of=primary_of)}
    assert before[a].evaluator == "Bo Tech" and before[a].meets is True
    assert not before[a].consensus
    # The coach's consensus (completed last, and the coach also reviewed b) wins.
    consensus = _audit(
        db,
        checklist,
        a,
        coach,
        completed_at=t0 + dt.timedelta(days=3),
        purpose="consensus",
        fails=("RCC:exposure",),
    )
    _audit(db, checklist, b, coach, completed_at=t0)
    _audit(db, checklist, b, coach, purpose="consensus", complete=False)  # unfinished
    _audit(db, checklist, b, ann, completed_at=t0 - dt.timedelta(days=1), purpose="reference")
    _audit(db, checklist, c, coach, completed_at=t0, purpose="reference")
    asked.clear()
    after = {r.study_pk: r for r in _results(db, primary_of=primary_of)}
    assert set(after) == {a, b}
    assert after[a].audit_pk == consensus and after[a].consensus
    assert after[a].evaluator == "Cy Coach" and after[a].meets is False
    assert after[a].double_read
    assert after[b].evaluator == "Cy Coach" and not after[b].consensus
    assert not after[b].double_read  # the reference audit is no read
    assert asked == []  # a consensus needs no primary; b has one read only
    (row,) = weekly(list(after.values()))
    assert (row.rate.numerator, row.rate.denominator) == (1, 2)
    rule = counted_audit_rule()
    assert "consensus" in rule and "reference" in rule
