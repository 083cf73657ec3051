"""N/A semantics: an exam nobody could judge is "not evaluable", never "meets criteria".

Issue 12: an ACR audit with every item answered N/A used to be stored as meets_criteria: true and
went into the numerator a site signs. Expected values here are written out by hand from the rule
in each checklist's ``[evaluability]`` table.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from auditdesk.checklists.evaluability import ALL_NA, NOT_ACQUIRED, NOT_ASSESSED
from auditdesk.checklists.loader import load_all, parse_checklist_text
from auditdesk.checklists.rules import answer_keys, item_for_key, score
from auditdesk.checklists.schema import ChoiceItem, OrdinalItem, PassFailItem
from auditdesk.exchange.weekly import write_weekly
from auditdesk.qi import measures, site
from auditdesk.reading.auditing import find_checklist, save_computed_score, snapshot_checklist
from auditdesk.store import audits as store
from auditdesk.store.models import Audit, AuditOverride, AuditScore, Study

ACR = "acr-mammo-positioning"
VIEWS = ("RCC", "LCC", "RMLO", "LMLO")


@pytest.fixture(scope="module")
def shipped():
    result = load_all(include_site=False)
    assert not result.errors
    return {c.id: c for c in result.checklists}


def answered(checklist, value: str = "pass") -> dict[str, object]:
    """Every required item answered: pass/fail items ``value``, choices the first option,
    ordinals the best option."""
    answers: dict[str, object] = {}
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if isinstance(item, PassFailItem):
            answers[key] = value
        elif isinstance(item, ChoiceItem):
            answers[key] = item.options[0].value
        elif isinstance(item, OrdinalItem):
            answers[key] = item.options[-1].value
    return answers


def with_view(answers: dict[str, object], view: str, value: str | None) -> dict[str, object]:
    """The same answers with every pass/fail item of one view set to ``value`` (None: removed)."""
    out = {k: v for k, v in answers.items() if not (k.startswith(view + ":") and v == "pass")}
    if value is not None:
        out.update(
            {k: value for k, v in answers.items() if k.startswith(view + ":") and v == "pass"}
        )
    return out


# --- the rule on its own ------------------------------------------------------------------------


def test_all_na_acr_audit_is_complete_but_not_evaluable(shipped) -> None:
    acr = shipped[ACR]
    result = score(acr, answered(acr, "na"))
    assert result.complete  # N/A is an answer: nothing is missing
    assert result.meets_criteria is None  # was True before issue 12
    assert not result.evaluable
    assert sorted(result.not_evaluable) == sorted(f"{v}: {ALL_NA}" for v in VIEWS)
    assert result.to_dict()["evaluable"] is False
    assert any("Not evaluable" in line for line in result.explanation)


def test_partly_na_is_judged_on_the_answered_items(shipped) -> None:
    acr = shipped[ACR]
    answers = answered(acr)
    answers["RCC:medial_tissue"] = "na"  # left out of that item's pass test
    answers["LMLO:imf_open"] = "na"
    result = score(acr, answers)
    assert (result.complete, result.evaluable, result.meets_criteria) == (True, True, True)
    answers["RMLO:no_motion"] = "fail"
    assert score(acr, answers).meets_criteria is False


def test_one_view_all_na_makes_the_exam_not_evaluable_even_with_a_fail(shipped) -> None:
    acr = shipped[ACR]
    answers = with_view(answered(acr), "RCC", "na")
    result = score(acr, answers)
    assert result.complete
    assert result.not_evaluable == [f"RCC: {ALL_NA}"]
    assert result.meets_criteria is None
    answers["LMLO:no_motion"] = "fail"
    failing = score(acr, answers)
    assert failing.meets_criteria is None  # not evaluable wins: the exam leaves the measure
    assert failing.rule_values["all_views_pass"] is False  # the failure itself is still recorded


def test_missing_view_not_in_the_exam_can_be_completed_as_not_evaluable(shipped) -> None:
    acr = shipped[ACR]
    answers = with_view(answered(acr), "LCC", None)  # LCC left blank
    blank = score(acr, answers)
    assert not blank.complete  # the reviewer has not got to it yet
    assert blank.not_evaluable == [f"LCC: {NOT_ASSESSED}"]
    facts = {f"{v}:acquired": v != "LCC" for v in VIEWS}  # the exam has no LCC image
    absent = score(acr, answers, facts=facts)
    assert absent.complete
    assert absent.not_evaluable == [f"LCC: {NOT_ACQUIRED}"]
    assert absent.meets_criteria is None


def test_pi_qual_v2_bpmri_is_evaluable_without_dce_but_not_without_t2w(shipped) -> None:
    v2 = shipped["pi-qual-v2"]
    facts = {
        "T2W:slice_thickness_mm": 3.0,
        "DWI:slice_thickness_mm": 4.0,
        "DWI:b_values": [50, 800, 1400],
        "ADC:b_values": [50, 800],
    }
    answers = answered(v2)
    answers["EXAM:dce_performed"] = "bp"  # DCE section switched off: not required
    for key in [k for k in answers if k.startswith("DCE:")]:
        del answers[key]
    ok = score(v2, answers, facts=facts)
    assert (ok.complete, ok.evaluable) == (True, True)
    assert ok.grade is not None
    t2w_na = {k: ("na" if k.startswith("T2W:") else v) for k, v in answers.items()}
    result = score(v2, t2w_na, facts={**facts, "T2W:slice_thickness_mm": None})
    assert result.not_evaluable == [f"T2W: {ALL_NA}"]
    assert (result.meets_criteria, result.grade) == (None, None)


def test_pi_qual_v1_without_dce_series_is_not_acquired_not_unassessed(shipped) -> None:
    v1 = shipped["pi-qual-v1"]
    answers = {k: v for k, v in answered(v1).items() if not k.startswith("DCE:")}
    facts = {"T2W:acquired": True, "DWI:acquired": True, "ADC:acquired": True}
    assert score(v1, answers, facts={**facts, "DCE:acquired": True}).complete is False
    result = score(v1, answers, facts={**facts, "DCE:acquired": False})
    assert result.complete
    assert result.not_evaluable == [f"DCE: {NOT_ACQUIRED}"]
    assert result.grade is None


def test_every_shipped_checklist_names_its_assessed_members(shipped) -> None:
    for checklist in shipped.values():
        assert checklist.evaluability.assessed, checklist.id
        assert checklist.evaluability.note, checklist.id


def test_an_unknown_assessed_scope_is_a_file_error(shipped) -> None:
    from auditdesk.checklists.loader import ChecklistValidationError

    text = shipped["ear"].source_text.replace(
        'assessed = ["EACH_VIEW"]', 'assessed = ["EACH_VIEW", "T2W"]'
    )
    with pytest.raises(
        ChecklistValidationError, match="scope 'T2W' does not exist for modality MG"
    ):
        parse_checklist_text(text, origin="ear-site.toml")


# --- the measure and the weekly submission ------------------------------------------------------


def _reviewer(db) -> int:
    with db.transaction() as s:
        return store.create_reviewer(s, "Ann Lead", "team_leader", "AL").id


def _audit(db, checklist, uid: str, day: dt.date, reviewer_pk: int, answers: dict) -> int:
    with db.transaction() as s:
        study = Study(study_uid=uid, procedure_date=day, kind="mammo", technologist="SMITH^JANE")
        s.add(study)
        s.flush()
        version = snapshot_checklist(s, checklist)
        audit = store.open_audit(s, study.id, reviewer_pk, version.id)
        for key, value in answers.items():
            store.set_answer(s, audit.id, key, value, reviewer_pk)
        save_computed_score(s, audit.id, reviewer_pk=reviewer_pk)
        store.set_status(s, audit.id, "complete", reviewer_pk)
        return audit.id


@pytest.fixture
def week_of_four(db):
    """Week of Sunday 2025-03-02: one exam meets, one fails, one all-N/A, one with RCC all N/A."""
    acr = find_checklist(ACR)
    reviewer = _reviewer(db)
    day = dt.date(2025, 3, 5)  # a Wednesday
    good = answered(acr)
    failed = {**good, "RMLO:imf_open": "fail"}
    pks = [
        _audit(db, acr, "1.1", day, reviewer, good),
        _audit(db, acr, "1.2", day, reviewer, failed),
        _audit(db, acr, "1.3", day, reviewer, answered(acr, "na")),
        _audit(db, acr, "1.4", day, reviewer, with_view(good, "RCC", "na")),
    ]
    return db, pks


def test_not_evaluable_exams_leave_both_numbers_and_are_counted_apart(week_of_four) -> None:
    db, _pks = week_of_four
    with db.session() as s:
        results = measures.exam_results(s, ACR)
    assert [r.meets for r in results] == [True, False, None, None]
    assert [r.evaluable for r in results] == [True, True, False, False]
    assert results[3].not_evaluable_reasons == (f"RCC: {ALL_NA}",)
    (week,) = measures.weekly(results)
    # Hand count: 1 meets of 2 evaluable; 2 not evaluable (RCC N/A in both, the others in one).
    assert (week.rate.numerator, week.rate.denominator, week.rate.not_evaluable) == (1, 2, 2)
    assert week.rate.rate == 0.5
    assert week.not_evaluable_reasons == {
        f"LCC: {ALL_NA}": 1,
        f"LMLO: {ALL_NA}": 1,
        f"RCC: {ALL_NA}": 2,
        f"RMLO: {ALL_NA}": 1,
    }
    (tech,) = measures.by_technologist(results).values()
    assert (tech.numerator, tech.denominator, tech.not_evaluable) == (1, 2, 2)
    imf = next(
        r for r in measures.by_criterion(results, find_checklist(ACR)) if r.criterion == "imf_open"
    )
    assert (imf.passed, imf.failed) == (1, 1)  # only the two evaluable exams


def test_weekly_csv_counts_not_evaluable_in_its_own_columns(week_of_four, tmp_path: Path) -> None:
    db, _pks = week_of_four
    with db.transaction() as s:
        site.save_site(s, site.SiteSettings(site_name="Riverside", site_id="RBC01"))
    out = tmp_path / "weekly.csv"
    with db.session() as s:
        write_weekly(s, out, "csv")
    with open(out, newline="", encoding="utf-8-sig") as fp:
        (row,) = list(csv.DictReader(fp))
    assert (row["numerator"], row["denominator"], row["rate"]) == ("1", "2", "0.5")
    assert row["not_evaluable"] == "2"
    assert f"RCC: {ALL_NA} (2)" in row["not_evaluable_reasons"]
    out_json = tmp_path / "weekly.json"
    with db.session() as s:
        write_weekly(s, out_json, "json")
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data["weeks"][0]["not_evaluable"] == 2


def test_scores_stored_before_the_rule_are_judged_by_it(week_of_four) -> None:
    db, pks = week_of_four
    with db.transaction() as s:  # what an all-N/A audit looked like in the database before
        for row in s.scalars(select(AuditScore).where(AuditScore.audit_pk == pks[2])):
            result = dict(row.result)
            result.pop("evaluable")
            result.pop("not_evaluable")
            row.result = result
            row.meets_criteria = True
    with db.session() as s:
        results = measures.exam_results(s, ACR)
    assert results[2].meets is None
    assert len(results[2].not_evaluable_reasons) == 4


def test_a_meets_criteria_override_puts_the_exam_back(week_of_four) -> None:
    db, pks = week_of_four
    with db.transaction() as s:
        audit = s.get(Audit, pks[3])
        s.add(
            AuditOverride(
                audit_pk=audit.id,
                field="meets_criteria",
                value=True,
                reason="RCC image was retaken and audited on paper",
                reviewer_pk=audit.reviewer_pk,
            )
        )
    with db.session() as s:
        results = measures.exam_results(s, ACR)
    assert [r.meets for r in results] == [True, False, None, True]
    assert measures.overall(results) == measures.make_rate(2, 3, 1)


# --- end to end on indexed images ---------------------------------------------------------------


def test_three_view_exam_completes_as_not_evaluable(db, test_set) -> None:
    from auditdesk.dicom.index import import_paths
    from auditdesk.reading.auditing import AuditSession
    from auditdesk.store.models import Image, Series

    import_paths(db, [test_set.root])
    truth = next(st for st in test_set.studies if st.kind == "mammo")
    lcc_uid = truth.truth["views"]["LCC"]["sop_uid"]
    with db.transaction() as s:  # the exam arrived without its LCC image
        image = s.scalar(select(Image).where(Image.sop_uid == lcc_uid))
        study_pk = s.get(Series, image.series_pk).study_pk
        s.delete(image)
        reviewer = store.create_reviewer(s, "Ann Lead", "team_leader", "AL").id
    acr = find_checklist(ACR)
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer, checklist=acr)
    for key, value in with_view(answered(acr), "LCC", None).items():
        audit.answer(key, value)
    result = audit.complete()  # LCC left blank: allowed, since the exam has no LCC
    assert result.not_evaluable == [f"LCC: {NOT_ACQUIRED}"]
    state = audit.state()
    assert (state.status, state.meets_criteria) == ("complete", None)
    with db.session() as s:
        (exam,) = measures.exam_results(s, ACR)
    assert (exam.meets, exam.not_evaluable_reasons) == (None, (f"LCC: {NOT_ACQUIRED}",))


def test_per_exam_sheet_says_not_evaluable_with_the_reasons(week_of_four, tmp_path: Path) -> None:
    from auditdesk.exchange.exam_sheet import write_exam_sheet

    db, _pks = week_of_four
    out = tmp_path / "exams.csv"
    with db.session() as s:
        write_exam_sheet(s, out, "csv")
    with open(out, newline="", encoding="utf-8-sig") as fp:
        rows = list(csv.DictReader(fp))
    assert [r["Result"] for r in rows] == [
        "Meets criteria",
        "Does not meet criteria",
        "Not evaluable",
        "Not evaluable",
    ]
    assert rows[3]["Not evaluable reasons"] == f"RCC: {ALL_NA}"
    assert rows[1]["Failed items"] == "RMLO: imf_open"
