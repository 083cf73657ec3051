"""The rule vocabulary on small hand-written checklists, and the validator's cross-checks."""

from __future__ import annotations

import pytest

from auditdesk.checklists import ChecklistValidationError, parse_checklist_text, score

HEAD = """\
id = "mr-mini"
version = "1.0"
title = "MR mini"
modality = "MR"
meets_criteria = "ok"

[[sources]]
text = "test"
confidence = "P"

[[sections]]
title = "Exam"
scope = "EXAM"

[[sections.items]]
id = "protocol"
type = "choice"
label = "Protocol"
options = [
  { value = "mp", label = "mp" },
  { value = "bp", label = "bp" },
]

[[sections.items]]
id = "level"
type = "ordinal"
label = "Level"
required = false
options = [
  { value = 1, label = "one" },
  { value = 2, label = "two" },
  { value = 3, label = "three" },
]

[[sections]]
title = "T2W"
scope = "T2W"

[[sections.items]]
id = "a"
type = "pass_fail"
label = "A"

[[sections.items]]
id = "b"
type = "pass_fail"
label = "B"

[[sections]]
title = "DCE"
scope = "DCE"
applies_if = "is_mp"

[[sections.items]]
id = "a"
type = "pass_fail"
label = "A"

[[rules]]
id = "is_mp"
kind = "threshold"
input = "EXAM:protocol"
op = "=="
value = "mp"

[[rules]]
id = "passes"
kind = "count"
scopes = ["T2W", "DCE"]
equals = "pass"

[[rules]]
id = "t2w_ok"
kind = "all_pass"
scopes = ["T2W"]

[[rules]]
id = "dce_ok"
kind = "all_pass"
scopes = ["DCE"]
na = "fail"

[[rules]]
id = "ok"
kind = "all"
of = ["t2w_ok", "dce_ok"]

[[rules]]
id = "either"
kind = "any"
of = ["t2w_ok", "dce_ok"]

[[rules]]
id = "not_ok"
kind = "not"
of = "ok"

[[rules]]
id = "grade"
kind = "grade_table"
grades = [
  { grade = "good", when = "ok" },
  { grade = "half", when = ["either"] },
  { grade = "bad" },
]

[[rules]]
id = "high_level"
kind = "threshold"
input = "EXAM:level"
op = ">="
value = 2
"""


@pytest.fixture(scope="module")
def mini():
    return parse_checklist_text(HEAD, origin="mini.toml")


def test_three_valued_logic_while_answering(mini) -> None:
    values = score(mini, {"EXAM:protocol": "mp", "T2W:a": "fail"}).rule_values
    assert values["t2w_ok"] is False
    assert values["dce_ok"] is None
    assert values["ok"] is False  # decided by one false input
    assert values["either"] is None
    assert values["not_ok"] is True
    assert values["grade"] is None  # row 2 undecided: the table stops there
    assert values["passes"] is None


def test_gated_section_is_skipped(mini) -> None:
    result = score(mini, {"EXAM:protocol": "bp", "T2W:a": "pass", "T2W:b": "pass"})
    assert result.not_applicable == ["DCE:a"]
    assert result.complete
    assert result.rule_values["dce_ok"] is True
    assert result.rule_values["passes"] == 2  # count without op is a number
    assert result.rule_values["grade"] == "good"
    assert result.grade is None  # this checklist names no grade rule
    assert result.meets_criteria is True


def test_na_policy_and_grade_rows(mini) -> None:
    answers = {"EXAM:protocol": "mp", "T2W:a": "pass", "T2W:b": "na", "DCE:a": "na"}
    values = score(mini, answers).rule_values
    assert values["t2w_ok"] is True  # na ignored
    assert values["dce_ok"] is False  # na = "fail"
    assert values["grade"] == "half"
    assert score(mini, answers | {"T2W:a": "fail"}).rule_values["grade"] == "bad"


def test_ordinal_threshold_and_optional_item(mini) -> None:
    base = {"EXAM:protocol": "bp", "T2W:a": "pass", "T2W:b": "pass"}
    assert score(mini, base).rule_values["high_level"] is None
    assert score(mini, base | {"EXAM:level": 2}).rule_values["high_level"] is True
    assert score(mini, base | {"EXAM:level": "1"}).rule_values["high_level"] is False
    assert "EXAM:level" in score(mini, base | {"EXAM:level": 7}).invalid_answers


# ---------------------------------------------------------------------------------------------
# validator cross-checks
# ---------------------------------------------------------------------------------------------


def _error(text: str) -> str:
    with pytest.raises(ChecklistValidationError) as info:
        parse_checklist_text(text, origin="mini.toml")
    return str(info.value)


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), start=1) if needle in line)


def _at(text: str, needle: str) -> str:
    return f"mini.toml:{_line(text, needle)}:"


def test_unknown_rule_kind() -> None:
    text = HEAD.replace('kind = "not"', 'kind = "xor"')
    message = _error(text)
    assert _at(text, 'kind = "xor"') in message
    assert "unknown rule kind 'xor'" in message


def test_grade_table_condition_must_be_yes_no() -> None:
    text = HEAD.replace(
        '{ grade = "half", when = ["either"] }', '{ grade = "half", when = ["passes"] }'
    )
    message = _error(text)
    assert _at(text, 'when = ["passes"]') in message
    assert "needs a yes/no rule" in message


def test_unreachable_grade_row() -> None:
    text = HEAD.replace(
        '  { grade = "bad" },\n', '  { grade = "bad" },\n  { grade = "worse", when = "ok" },\n'
    )
    message = _error(text)
    assert _at(text, "worse") in message
    assert "can never be reached" in message


def test_all_pass_only_checks_pass_fail_items() -> None:
    text = HEAD.replace('scopes = ["T2W"]\n', 'scopes = ["T2W"]\n', 1).replace(
        'id = "dce_ok"\nkind = "all_pass"\nscopes = ["DCE"]',
        'id = "dce_ok"\nkind = "all_pass"\nscopes = ["EXAM"]\nitems = ["protocol"]',
    )
    assert "all_pass can only check pass_fail items" in _error(text)


def test_item_outside_the_rule_scopes() -> None:
    text = HEAD.replace(
        'scopes = ["T2W", "DCE"]\nequals', 'scopes = ["DCE"]\nitems = ["b"]\nequals'
    )
    assert "item 'b' is not asked in scopes ['DCE']" in _error(text)


def test_scope_of_other_modality_in_section() -> None:
    text = HEAD.replace('scope = "T2W"', 'scope = "RMLO"')
    message = _error(text)
    assert _at(text, 'scope = "RMLO"') in message
    assert "T2W, DWI, ADC, DCE, EXAM" in message


def test_computed_item_checks() -> None:
    computed = (
        '\n[[computed]]\ntarget = "EXAM:protocol"\nkind = "compare"\nsource = "facts"\n'
        'inputs = ["T2W slice"]\nop = "in"\nthreshold = 3\n'
    )
    message = _error(HEAD + computed)
    assert "must be a pass_fail item" in message
    assert "not a numeric comparison" in message
    assert "'<series role>:<name>'" in message or "answer key" in message


def test_measurement_input_must_be_a_number_item() -> None:
    computed = (
        '\n[[computed]]\ntarget = "T2W:a"\nkind = "difference"\nsource = "measurements"\n'
        'inputs = ["T2W:b", "T2W:missing_mm"]\nop = "<="\nthreshold = 10\n'
    )
    message = _error(HEAD + computed)
    assert "measurement 'T2W:b' must be a number item" in message
    assert "measurement 'T2W:missing_mm' is not a number item" in message


def test_duplicate_keyboard_key_in_a_section() -> None:
    text = HEAD.replace(
        'id = "a"\ntype = "pass_fail"\nlabel = "A"\n',
        'id = "a"\ntype = "pass_fail"\nlabel = "A"\nkey = "x"\n',
        1,
    )
    text = text.replace(
        'id = "b"\ntype = "pass_fail"\nlabel = "B"\n',
        'id = "b"\ntype = "pass_fail"\nlabel = "B"\nkey = "X"\n',
    )
    message = _error(text)
    assert "keyboard key 'X' is already used by item 'a'" in message


def test_count_rule_shape() -> None:
    text = HEAD.replace('equals = "pass"', 'equals = "pass"\none_of = ["fail"]\nop = ">="')
    message = _error(text)
    assert "exactly one of equals, one_of, at_least, at_most" in message
    assert "'threshold' is missing" in message


def test_unconfirmed_item_needs_a_note() -> None:
    text = HEAD.replace('label = "B"\n', 'label = "B"\nunconfirmed = true\n')
    message = _error(text)
    header = _line(text, 'id = "b"') - 1  # the item's [[sections.items]] line
    assert f"mini.toml:{header}:" in message
    assert "needs a note" in message
