"""Scoring rules give the published (or documented site-default) result on worked examples."""

from __future__ import annotations

import json

import pytest

from auditdesk.checklists import (
    NOT_DETERMINABLE,
    Checklist,
    answer_keys,
    item_for_key,
    load_all,
    parse_checklist_text,
    score,
)

VIEWS = ("RCC", "LCC", "RMLO", "LMLO")


@pytest.fixture(scope="module")
def shipped() -> dict[str, Checklist]:
    result = load_all(include_site=False)
    assert not result.errors
    return {c.id: c for c in result.checklists}


def all_pass(checklist: Checklist) -> dict[str, object]:
    """Every pass/fail item answered pass (computed items included)."""
    return {
        k: "pass" for k in answer_keys(checklist) if item_for_key(checklist, k).type == "pass_fail"
    }


# ---------------------------------------------------------------------------------------------
# ACR positioning: measurement rules and the exam-level rule
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cc", "mlo", "expected_cc", "expected_mlo"),
    [
        (100.0, 109.9, "pass", "pass"),  # 9.9 mm
        (100.0, 110.1, "fail", "pass"),  # 10.1 mm, the CC is the short view
        (109.9, 100.0, "pass", "pass"),  # the rule is two-sided
        (110.1, 100.0, "pass", "fail"),  # 10.1 mm, the MLO is the short view
        (60.3, 50.3, "pass", "pass"),  # exactly 10 mm despite floating-point noise
    ],
)
def test_pnl_difference_rule(
    shipped: dict[str, Checklist], cc: float, mlo: float, expected_cc: str, expected_mlo: str
) -> None:
    acr = shipped["acr-mammo-positioning"]
    result = score(acr, {}, measurements={"RCC:pnl_mm": cc, "RMLO:pnl_mm": mlo})
    record = result.computed["RCC:pnl_match"]
    assert record["value"] == expected_cc
    assert record["inputs"] == {"RCC:pnl_mm": cc, "RMLO:pnl_mm": mlo}
    assert result.effective_answers["RCC:pnl_match"] == expected_cc
    assert result.effective_answers["RMLO:pnl_match"] == expected_mlo
    assert "LCC:pnl_match" not in result.computed  # left breast not measured yet


@pytest.mark.parametrize(
    ("distance", "expected"), [(0.0, "pass"), (9.9, "pass"), (10.0, "pass"), (10.1, "fail")]
)
def test_pectoral_to_pnl_rule(
    shipped: dict[str, Checklist], distance: float, expected: str
) -> None:
    acr = shipped["acr-mammo-positioning"]
    result = score(acr, {}, measurements={"LMLO:pectoral_to_pnl_mm": distance})
    assert result.computed["LMLO:pectoral_to_pnl"]["value"] == expected


def test_measurement_rule_waits_for_both_numbers(shipped: dict[str, Checklist]) -> None:
    acr = shipped["acr-mammo-positioning"]
    result = score(acr, {}, measurements={"RCC:pnl_mm": 100.0})
    assert "RCC:pnl_match" not in result.computed
    assert "RCC:pnl_match" in result.missing_required


def test_reviewer_override_wins_and_both_are_reported(shipped: dict[str, Checklist]) -> None:
    acr = shipped["acr-mammo-positioning"]
    answers = all_pass(acr)  # includes RCC:pnl_match = pass
    result = score(acr, answers, measurements={"RCC:pnl_mm": 100.0, "RMLO:pnl_mm": 115.0})
    assert result.computed["RCC:pnl_match"]["value"] == "fail"
    assert result.effective_answers["RCC:pnl_match"] == "pass"
    assert result.overrides["RCC:pnl_match"] == {"computed": "fail", "answer": "pass"}
    assert result.meets_criteria is True
    assert any("over the computed fail" in line for line in result.explanation)


def test_typed_number_is_used_as_a_measurement(shipped: dict[str, Checklist]) -> None:
    acr = shipped["acr-mammo-positioning"]
    result = score(
        acr, {"RCC:pnl_mm": "100", "RMLO:pnl_mm": 120}, measurements={"RMLO:pnl_mm": 105}
    )
    # the typed 120 wins over the measured 105: |100 - 120| = 20 mm
    assert result.computed["RCC:pnl_match"]["value"] == "fail"


def test_exam_meets_criteria_when_all_four_views_pass(shipped: dict[str, Checklist]) -> None:
    acr = shipped["acr-mammo-positioning"]
    answers = all_pass(acr)
    result = score(acr, answers)
    assert result.complete and result.missing_required == []
    assert result.meets_criteria is True
    assert result.rule_values["failed_items"] == 0

    answers["LMLO:imf_open"] = "fail"
    result = score(acr, answers)
    assert result.meets_criteria is False
    assert result.rule_values["lmlo_pass"] is False
    assert result.rule_values["rcc_pass"] is True
    assert result.rule_values["failed_items"] == 1
    assert "LMLO:imf_open" in result.explanation[-1]


def test_na_does_not_count_against_the_exam(shipped: dict[str, Checklist]) -> None:
    acr = shipped["acr-mammo-positioning"]
    answers = all_pass(acr) | {"RMLO:pectoral_shape": "na"}
    assert score(acr, answers).meets_criteria is True


def test_incomplete_exam_has_no_verdict_yet(shipped: dict[str, Checklist]) -> None:
    acr = shipped["acr-mammo-positioning"]
    answers = all_pass(acr)
    del answers["RCC:nipple_profile"]
    result = score(acr, answers)
    assert not result.complete
    assert result.missing_required == ["RCC:nipple_profile"]
    assert result.meets_criteria is None
    assert result.rule_values["all_views_pass"] is None  # undecided, not "fail"
    answers["LCC:compression"] = "fail"
    result = score(acr, answers)
    assert result.rule_values["all_views_pass"] is False  # already decided, still incomplete
    assert result.meets_criteria is None


def test_invalid_and_unknown_answers_are_reported_not_used(shipped: dict[str, Checklist]) -> None:
    acr = shipped["acr-mammo-positioning"]
    answers = all_pass(acr) | {"RCC:nipple_profile": "maybe", "RCC:bogus": "pass", "RCC:pnl_mm": -5}
    result = score(acr, answers)
    assert "RCC:nipple_profile" in result.invalid_answers
    assert "RCC:pnl_mm" in result.invalid_answers  # below min = 0
    assert result.missing_required == ["RCC:nipple_profile"]
    assert any("RCC:bogus" in line for line in result.explanation)


def test_score_result_is_json_safe_and_deterministic(shipped: dict[str, Checklist]) -> None:
    acr = shipped["acr-mammo-positioning"]
    answers = all_pass(acr) | {"EXAM:comment": "fine"}
    measurements = {"RCC:pnl_mm": 101.0, "RMLO:pnl_mm": 104.0}
    one = score(acr, answers, measurements).to_dict()
    two = score(acr, dict(reversed(list(answers.items()))), measurements).to_dict()
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert json.loads(json.dumps(one)) == one


# ---------------------------------------------------------------------------------------------
# PGMI
# ---------------------------------------------------------------------------------------------


def pgmi_perfect(pgmi: Checklist) -> dict[str, object]:
    answers = all_pass(pgmi)
    for view in VIEWS:
        for item in ("c7_artefacts", "c8_skin_folds", "c9_symmetry"):
            answers[f"{view}:{item}"] = "none"
    return answers


def test_pgmi_perfect(shipped: dict[str, Checklist]) -> None:
    pgmi = shipped["pgmi"]
    result = score(pgmi, pgmi_perfect(pgmi))
    assert result.complete
    assert [result.rule_values[f"{v.lower()}_grade"] for v in VIEWS] == ["P"] * 4
    assert result.grade == "P"
    assert result.meets_criteria is True


@pytest.mark.parametrize(
    ("change", "view_grade"),
    [
        ({"RMLO:c8_skin_folds": "minor"}, "G"),  # minor deviation on 7-9 -> G, not P
        ({"RMLO:c9_symmetry": "minor"}, "G"),
        ({"RMLO:mlo_pectoral_to_nipple": "fail"}, "G"),  # view-specific criterion missed
        ({"RMLO:c9_symmetry": "major"}, "M"),  # more than minor, nothing obscured
        ({"RMLO:c8_skin_folds": "obscuring"}, "I"),
        ({"RMLO:c3_exposure": "fail"}, "I"),
        ({"RMLO:c1_tissue": "fail"}, "I"),
    ],
)
def test_pgmi_grade_per_image(shipped: dict[str, Checklist], change: dict, view_grade: str) -> None:
    pgmi = shipped["pgmi"]
    result = score(pgmi, pgmi_perfect(pgmi) | change)
    assert result.rule_values["rmlo_grade"] == view_grade
    assert result.rule_values["rcc_grade"] == "P"
    assert result.grade == view_grade  # exam grade is the worst image
    assert result.meets_criteria is (view_grade in ("P", "G"))


def test_pgmi_cc_must_show_medial_tissue_for_good(shipped: dict[str, Checklist]) -> None:
    pgmi = shipped["pgmi"]
    answers = pgmi_perfect(pgmi)
    assert score(pgmi, answers | {"LCC:cc_nipple_midline": "fail"}).rule_values["lcc_grade"] == "G"
    assert score(pgmi, answers | {"LCC:cc_medial_border": "fail"}).rule_values["lcc_grade"] == "M"


def test_pgmi_pnl_measurement_feeds_both_views(shipped: dict[str, Checklist]) -> None:
    pgmi = shipped["pgmi"]
    answers = pgmi_perfect(pgmi)
    for key in ("RCC:cc_pnl", "RMLO:mlo_pnl"):
        del answers[key]
    result = score(pgmi, answers, {"RCC:pnl_mm": 90.0, "RMLO:pnl_mm": 100.1})
    assert result.effective_answers["RCC:cc_pnl"] == "fail"
    assert result.effective_answers["RMLO:mlo_pnl"] == "fail"
    assert result.rule_values["rcc_grade"] == "G"


# ---------------------------------------------------------------------------------------------
# EAR and MQSA
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grades", "exam", "meets"),
    [
        (("E", "E", "E", "E"), "E", True),
        (("E", "A", "E", "E"), "A", True),
        (("E", "A", "R", "E"), "R", False),
    ],
)
def test_ear_worst_image(
    shipped: dict[str, Checklist], grades: tuple, exam: str, meets: bool
) -> None:
    ear = shipped["ear"]
    answers = {f"{v}:ear_grade": g for v, g in zip(VIEWS, grades, strict=True)}
    result = score(ear, answers)
    assert result.grade == exam
    assert result.meets_criteria is meets
    assert result.rule_values["repeats"] == grades.count("R")


def test_mqsa_all_eight_attributes(shipped: dict[str, Checklist]) -> None:
    mqsa = shipped["mqsa-attributes"]
    answers = all_pass(mqsa)
    assert len(answers) == 8
    assert score(mqsa, answers).meets_criteria is True
    result = score(mqsa, answers | {"EXAM:noise": "fail", "EXAM:contrast": "fail"})
    assert result.meets_criteria is False
    assert result.rule_values["failed_attributes"] == 2


# ---------------------------------------------------------------------------------------------
# PI-QUAL v1
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t2w", "dwi", "dce", "expected"),
    [
        (3, 3, 3, "5"),  # all three optimal
        (3, 3, 2, "4"),
        (2, 2, 0, "4"),  # two independently diagnostic
        (2, 1, 0, "3"),  # two diagnostic taken together
        (1, 1, 0, "3"),
        (2, 0, 0, "2"),  # only one acceptable
        (0, 0, 1, "2"),
        (0, 0, 0, "1"),  # all below minimum standard
    ],
)
def test_pi_qual_v1(
    shipped: dict[str, Checklist], t2w: int, dwi: int, dce: int, expected: str
) -> None:
    v1 = shipped["pi-qual-v1"]
    result = score(v1, {"T2W:quality": t2w, "DWI:quality": dwi, "DCE:quality": str(dce)})
    assert result.complete  # technical items are optional: missing DICOM never blocks the score
    assert result.grade == expected
    assert result.meets_criteria is (int(expected) >= 3)


def test_pi_qual_v1_in_plane_resolution_from_acquisition_matrix(
    shipped: dict[str, Checklist],
) -> None:
    v1 = shipped["pi-qual-v1"]
    facts = {
        "T2W:fov_phase_mm": 180.0,
        "T2W:acquisition_matrix_phase": 256,  # 0.703 mm > 0.7
        "T2W:fov_freq_mm": 180.0,
        "T2W:acquisition_matrix_freq": 450,  # 0.4 mm
    }
    result = score(v1, {}, facts=facts)
    assert result.computed["T2W:inplane_phase"]["value"] == "fail"
    assert result.computed["T2W:inplane_freq"]["value"] == "pass"
    assert result.computed["T2W:slice_thickness"]["value"] == NOT_DETERMINABLE


# ---------------------------------------------------------------------------------------------
# PI-QUAL v2: prerequisites, subscores and the DCE adjustment, at every boundary
# ---------------------------------------------------------------------------------------------

GOOD_FACTS = {
    "T2W:slice_thickness_mm": 3.0,
    "DWI:slice_thickness_mm": 4.0,
    "DWI:b_values": [50, 800, 1400],
    "ADC:b_values": [50, 800],
    "DCE:slice_thickness_mm": 3.0,
    "DCE:temporal_resolution_s": 7.0,
}
T2W_ITEMS = ("snr", "structures", "item_3", "item_4")


def v2_answers(t2w: int, dwi: int, dce: int | None) -> dict[str, object]:
    """T2W and DWI subscores out of 4, DCE out of 2 (None = bpMRI)."""
    answers: dict[str, object] = {"EXAM:dce_performed": "bp" if dce is None else "mp"}
    for n, item in enumerate(T2W_ITEMS):
        answers[f"T2W:{item}"] = "pass" if n < t2w else "fail"
    for n in range(4):
        answers[f"DWI:item_{n + 1}"] = "pass" if n < dwi else "fail"
    if dce is not None:
        answers["DCE:prereq_fat_suppression"] = "pass"
        for n in range(2):
            answers[f"DCE:item_{n + 1}"] = "pass" if n < dce else "fail"
    return answers


@pytest.mark.parametrize(
    ("t2w", "dwi", "dce", "expected"),
    [
        # bpMRI
        (4, 4, None, "3"),
        (3, 4, None, "2"),
        (4, 3, None, "2"),
        (3, 3, None, "2"),
        (2, 4, None, "1"),
        (4, 2, None, "1"),
        (2, 2, None, "1"),
        (0, 0, None, "1"),
        # mpMRI: DCE 2/2 keeps an optimal exam optimal; DCE < 2/2 drops it to 2
        (4, 4, 2, "3"),
        (4, 4, 1, "2"),
        (4, 4, 0, "2"),
        (3, 3, 2, "2"),  # DCE never raises 2 to 3
        (3, 3, 0, "2"),
        # mpMRI rescue: 1 -> 2 when DCE 2/2 and T2W or DWI 4/4
        (4, 2, 2, "2"),
        (2, 4, 2, "2"),
        (4, 2, 1, "1"),
        (3, 2, 2, "1"),  # no sequence at 4/4
        (2, 3, 2, "1"),
    ],
)
def test_pi_qual_v2_grades(
    shipped: dict[str, Checklist], t2w: int, dwi: int, dce: int | None, expected: str
) -> None:
    v2 = shipped["pi-qual-v2"]
    result = score(v2, v2_answers(t2w, dwi, dce), facts=GOOD_FACTS)
    assert result.complete, result.missing_required
    assert result.rule_values["prerequisites_met"] is True
    assert result.rule_values["t2w_subscore"] == t2w
    assert result.rule_values["dwi_subscore"] == dwi
    assert result.grade == expected
    assert result.meets_criteria is (expected != "1")


def test_pi_qual_v2_bpmri_does_not_ask_for_dce(shipped: dict[str, Checklist]) -> None:
    v2 = shipped["pi-qual-v2"]
    result = score(
        v2, v2_answers(4, 4, None), facts={k: v for k, v in GOOD_FACTS.items() if "DCE" not in k}
    )
    assert result.complete
    assert "DCE:item_1" in result.not_applicable
    assert not any("DCE:" in line for line in result.explanation)


def test_pi_qual_v2_mpmri_needs_dce_answers(shipped: dict[str, Checklist]) -> None:
    v2 = shipped["pi-qual-v2"]
    answers = v2_answers(4, 4, 2)
    del answers["DCE:item_2"]
    result = score(v2, answers, facts=GOOD_FACTS)
    assert result.missing_required == ["DCE:item_2"]
    assert result.grade is None


@pytest.mark.parametrize(
    ("fact", "value", "failed_rule"),
    [
        ("T2W:slice_thickness_mm", 3.5, "t2w_prereq"),
        ("DWI:slice_thickness_mm", 5.0, "dwi_prereq"),
        ("DWI:b_values", [50, 800, 1000], "dwi_prereq"),
        ("ADC:b_values", [50, 800, 1400], "dwi_prereq"),  # ADC fit must stop at <= 1000
        ("ADC:b_values", [800], "dwi_prereq"),  # ADC needs >= 2 b-values
    ],
)
def test_pi_qual_v2_failed_prerequisite_counts_as_zero(
    shipped: dict[str, Checklist], fact: str, value: object, failed_rule: str
) -> None:
    v2 = shipped["pi-qual-v2"]
    facts = GOOD_FACTS | {fact: value}
    if fact == "DWI:b_values":
        facts["DWI:calculated_b_values"] = []  # no calculated high-b series either
    result = score(v2, v2_answers(4, 4, None), facts=facts)
    assert result.rule_values[failed_rule] is False
    assert result.rule_values["prerequisites_met"] is False
    assert result.grade == "1"  # 4/4 items, but the failed sequence counts as 0/4


def test_pi_qual_v2_dce_prerequisite_failure_drops_optimal(shipped: dict[str, Checklist]) -> None:
    v2 = shipped["pi-qual-v2"]
    result = score(v2, v2_answers(4, 4, 2), facts=GOOD_FACTS | {"DCE:temporal_resolution_s": 15.1})
    assert result.rule_values["dce_prereq"] is False
    assert result.grade == "2"
    result = score(v2, v2_answers(4, 4, 2), facts=GOOD_FACTS | {"DCE:temporal_resolution_s": 15.0})
    assert result.grade == "3"


# ---------------------------------------------------------------------------------------------
# Header rules: missing facts are "not determinable", never "pass"
# ---------------------------------------------------------------------------------------------


def test_missing_header_facts_are_not_determinable(shipped: dict[str, Checklist]) -> None:
    v2 = shipped["pi-qual-v2"]
    result = score(v2, v2_answers(4, 4, 2), facts={})
    for key in (
        "T2W:prereq_slice",
        "DWI:prereq_slice",
        "DWI:prereq_high_b",
        "ADC:prereq_b_count",
        "ADC:prereq_b_max",
        "DCE:prereq_slice",
        "DCE:prereq_temporal",
    ):
        assert result.computed[key]["value"] == NOT_DETERMINABLE
        assert result.effective_answers[key] == NOT_DETERMINABLE
        assert key in result.missing_required  # the reviewer must check it by hand
    assert result.rule_values["t2w_prereq"] is None
    assert result.grade is None and result.meets_criteria is None
    assert any("not determinable" in line for line in result.explanation)


def test_high_b_acquired_or_calculated(shipped: dict[str, Checklist]) -> None:
    v2 = shipped["pi-qual-v2"]

    def high_b(facts: dict[str, object]) -> str:
        return score(v2, {}, facts=facts).computed["DWI:prereq_high_b"]["value"]

    assert high_b({"DWI:b_values": [50, 800, 1400]}) == "pass"
    assert high_b({"DWI:b_values": [50, 800, 1000], "DWI:calculated_b_values": [1500]}) == "pass"
    assert high_b({"DWI:b_values": [50, 800, 1000], "DWI:calculated_b_values": []}) == "fail"
    # acquired b too low and nothing known about a calculated series: undecided, never "pass"
    assert high_b({"DWI:b_values": [50, 800, 1000]}) == NOT_DETERMINABLE
    assert high_b({"DWI:calculated_b_values": [1399.9]}) == NOT_DETERMINABLE
    assert high_b({}) == NOT_DETERMINABLE


def test_reviewer_can_answer_a_not_determinable_item(shipped: dict[str, Checklist]) -> None:
    v2 = shipped["pi-qual-v2"]
    facts = {k: v for k, v in GOOD_FACTS.items() if k != "DCE:temporal_resolution_s"}
    answers = v2_answers(4, 4, 2) | {"DCE:prereq_temporal": "pass"}
    result = score(v2, answers, facts=facts)
    assert result.complete
    assert result.grade == "3"
    assert result.overrides["DCE:prereq_temporal"] == {
        "computed": NOT_DETERMINABLE,
        "answer": "pass",
    }


# ---------------------------------------------------------------------------------------------
# Re-scoring with a stored snapshot
# ---------------------------------------------------------------------------------------------


def test_snapshot_rescoring_gives_the_same_result(shipped: dict[str, Checklist]) -> None:
    v2 = shipped["pi-qual-v2"]
    answers = v2_answers(4, 3, None)
    before = score(v2, answers, facts=GOOD_FACTS).to_dict()
    snapshot = parse_checklist_text(v2.source_text, origin="audit 7 snapshot")
    assert score(snapshot, answers, facts=GOOD_FACTS).to_dict() == before
    # a site edit (stricter DWI rule) is a different version and does not touch the old result
    edited = parse_checklist_text(
        v2.source_text.replace(f'version = "{v2.version}"', f'version = "{v2.version}.1"').replace(
            'when = ["t2w_3", "dwi_3"]', 'when = ["t2w_3", "dwi_4"]'
        )
    )
    assert score(edited, answers, facts=GOOD_FACTS).grade == "1"
    assert score(snapshot, answers, facts=GOOD_FACTS).grade == before["grade"] == "2"
