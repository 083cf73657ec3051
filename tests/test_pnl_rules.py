"""The CC-vs-MLO PNL rule fails the view with the shorter PNL, in both published forms.

Two-sided U.S./ACR teaching form: |PNL-CC - PNL-MLO| <= 10 mm. One-sided IARC form: "PNL-MLO no
more than 1 cm longer than PNL-CC", i.e. PNL-MLO - PNL-CC <= 10 mm. In both, the view whose PNL is
shorter is the one that missed posterior tissue (domain notes 1.5), so only that view fails.
Expected values below are worked out by hand from those two sentences.
"""

from __future__ import annotations

import re

import pytest

from auditdesk.checklists import (
    Checklist,
    ChecklistValidationError,
    answer_keys,
    item_for_key,
    load_all,
    parse_checklist_text,
    score,
)


@pytest.fixture(scope="module")
def acr() -> Checklist:
    result = load_all(include_site=False)
    assert not result.errors
    found = result.get("acr-mammo-positioning")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def acr_one_sided(acr: Checklist) -> Checklist:
    """The shipped file switched to the IARC form as its comment tells a site to do it."""
    text = acr.source_text.replace(f'version = "{acr.version}"', 'version = "9.0"', 1)
    for side in ("R", "L"):
        old = (
            f'targets = ["{side}CC:pnl_match", "{side}MLO:pnl_match"]',
            f'inputs = ["{side}CC:pnl_mm", "{side}MLO:pnl_mm"]',
        )
        new = (
            f'targets = ["{side}MLO:pnl_match", "{side}CC:pnl_match"]',
            f'inputs = ["{side}MLO:pnl_mm", "{side}CC:pnl_mm"]',
        )
        for o, n in zip(old, new, strict=True):
            assert text.count(o) == 1
            text = text.replace(o, n)
    block = re.compile(r'(inputs = \["[RL]MLO:pnl_mm", "[RL]CC:pnl_mm"\]\n)absolute = true')
    text, n = block.subn(r"\1absolute = false", text)
    assert n == 2
    return parse_checklist_text(text, origin="one-sided.toml")


def _pnl(checklist: Checklist, cc: float, mlo: float) -> dict[str, str]:
    result = score(checklist, {}, measurements={"RCC:pnl_mm": cc, "RMLO:pnl_mm": mlo})
    return {k: result.effective_answers[k] for k in ("RCC:pnl_match", "RMLO:pnl_match")}


@pytest.mark.parametrize(
    ("cc", "mlo", "rcc", "rmlo"),
    [
        (80.0, 95.0, "fail", "pass"),  # MLO 15 mm longer: the CC is short
        (95.0, 80.0, "pass", "fail"),  # CC 15 mm longer: the MLO is short
        (90.0, 100.0, "pass", "pass"),  # exactly 10 mm
        (100.0, 90.0, "pass", "pass"),
        (100.0, 100.0, "pass", "pass"),
    ],
)
def test_two_sided_form_fails_the_shorter_view(
    acr: Checklist, cc: float, mlo: float, rcc: str, rmlo: str
) -> None:
    assert _pnl(acr, cc, mlo) == {"RCC:pnl_match": rcc, "RMLO:pnl_match": rmlo}


@pytest.mark.parametrize(
    ("cc", "mlo", "rcc", "rmlo"),
    [
        (80.0, 95.0, "fail", "pass"),  # 95 - 80 = 15 > 10: the CC failed
        (95.0, 80.0, "pass", "pass"),  # 80 - 95 = -15 <= 10: a longer CC never fails
        (90.0, 100.0, "pass", "pass"),  # 100 - 90 = 10 <= 10
        (89.9, 100.0, "fail", "pass"),  # 10.1 mm
    ],
)
def test_one_sided_iarc_form(
    acr_one_sided: Checklist, cc: float, mlo: float, rcc: str, rmlo: str
) -> None:
    assert _pnl(acr_one_sided, cc, mlo) == {"RCC:pnl_match": rcc, "RMLO:pnl_match": rmlo}


def test_the_record_and_explanation_name_the_failed_view(acr: Checklist) -> None:
    result = score(acr, {}, measurements={"LCC:pnl_mm": 95.0, "LMLO:pnl_mm": 80.0})
    for key in ("LCC:pnl_match", "LMLO:pnl_match"):
        assert result.computed[key]["failed_target"] == "LMLO:pnl_match"
        assert result.computed[key]["value_computed_from_inputs"] == 15.0
    text = " ".join(result.explanation)
    assert "LMLO:pnl_match computed as fail" in text
    assert "LCC:pnl_match computed as pass" in text
    assert "LMLO:pnl_mm is the lower" in text


def test_a_short_mlo_fails_the_exam_and_the_mlo_view(acr: Checklist) -> None:
    answers = {
        k: "pass"
        for k in answer_keys(acr)
        if item_for_key(acr, k).type == "pass_fail" and not k.endswith("pnl_match")
    }
    measured = {"RCC:pnl_mm": 100.0, "RMLO:pnl_mm": 102.0, "LCC:pnl_mm": 110.0}
    result = score(acr, answers, measurements={**measured, "LMLO:pnl_mm": 95.0})
    assert result.complete
    assert result.meets_criteria is False
    assert result.rule_values["lmlo_pass"] is False
    assert result.rule_values["lcc_pass"] is True
    assert result.rule_values["failed_items"] == 1


def test_reviewer_answer_wins_over_the_computed_view_and_is_reported(acr: Checklist) -> None:
    result = score(
        acr,
        {"RMLO:pnl_match": "pass"},
        measurements={"RCC:pnl_mm": 95.0, "RMLO:pnl_mm": 80.0},
    )
    assert result.effective_answers["RMLO:pnl_match"] == "pass"
    assert result.overrides == {"RMLO:pnl_match": {"computed": "fail", "answer": "pass"}}


def test_new_items_and_unique_letter_keys_per_view(acr: Checklist) -> None:
    keys = set(answer_keys(acr))
    assert {"RCC:nipple_midline", "LCC:nipple_midline", "RMLO:pnl_match"} <= keys
    assert {f"{v}:symmetry" for v in ("RCC", "LCC", "RMLO", "LMLO")} <= keys
    assert "RMLO:nipple_midline" not in keys
    assert item_for_key(acr, "RCC:symmetry").unconfirmed
    for view in ("RCC", "LCC", "RMLO", "LMLO"):
        letters = [item_for_key(acr, k).key for k in answer_keys(acr) if k.startswith(view + ":")]
        letters = [x for x in letters if x]
        assert all(x.isalpha() and len(x) == 1 for x in letters)
        assert len(letters) == len(set(letters)), (view, letters)


HEAD = """\
id = "mg-mini"
version = "1.0"
title = "MG mini"
modality = "MG"
meets_criteria = "ok"

[[sources]]
text = "test"
confidence = "P"

[[sections]]
title = "CC"
scope = "CC"

[[sections.items]]
id = "len"
type = "number"
label = "Length"
unit = "mm"

[[sections.items]]
id = "match"
type = "pass_fail"
label = "Match"

[[sections]]
title = "MLO"
scope = "MLO"

[[sections.items]]
id = "len"
type = "number"
label = "Length"
unit = "mm"

[[sections.items]]
id = "match"
type = "pass_fail"
label = "Match"

[[rules]]
id = "ok"
kind = "all_pass"
scopes = ["EACH_VIEW"]

[[computed]]
kind = "difference"
source = "measurements"
inputs = ["RCC:len", "RMLO:len"]
op = "<="
threshold = 10.0
"""


def _mini(extra: str) -> Checklist:
    return parse_checklist_text(HEAD + extra, origin="mini.toml")


def test_fails_higher_is_the_mirror_image() -> None:
    mini = _mini('targets = ["RCC:match", "RMLO:match"]\nfails = "higher"\n')
    result = score(mini, {}, measurements={"RCC:len": 80.0, "RMLO:len": 95.0})
    assert result.effective_answers["RCC:match"] == "pass"
    assert result.effective_answers["RMLO:match"] == "fail"


def test_fails_all_gives_every_target_the_result() -> None:
    mini = _mini('targets = ["RCC:match", "RMLO:match"]\n')
    result = score(mini, {}, measurements={"RCC:len": 80.0, "RMLO:len": 95.0})
    assert result.effective_answers["RCC:match"] == "fail"
    assert result.effective_answers["RMLO:match"] == "fail"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('target = "RCC:match"\ntargets = ["RCC:match", "RMLO:match"]\n', "exactly one of"),
        ("", "exactly one of"),
        ('targets = ["RCC:match"]\n', "one answer key per input"),
        ('target = "RCC:match"\nfails = "lower"\n', "needs kind"),
        ('targets = ["RCC:match", "RCC:len"]\nfails = "lower"\n', "must be a pass_fail item"),
        ('targets = ["RCC:match", "LMLO:nothing"]\n', "is not an answer"),
    ],
)
def test_bad_targets_are_refused_with_a_reason(extra: str, message: str) -> None:
    with pytest.raises(ChecklistValidationError) as err:
        _mini(extra)
    assert message in str(err.value)
