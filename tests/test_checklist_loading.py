"""Checklist files: the shipped ones load; bad ones are refused with file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditdesk.checklists import (
    Checklist,
    ChecklistValidationError,
    answer_keys,
    content_hash,
    load_all,
    load_checklist_file,
    parse_checklist_text,
    parse_key,
    shipped_dir,
    site_dir,
)

SHIPPED = {
    "acr-mammo-positioning",
    "pgmi",
    "ear",
    "mqsa-attributes",
    "pi-qual-v1",
    "pi-qual-v2",
}

# A small valid checklist; the bad-file tests change one line of it. Line numbers matter.
MINIMAL = """\
id = "mini"
version = "1.0"
title = "Minimal"
modality = "MG"
meets_criteria = "all_ok"

[[sources]]
text = "Test source"
confidence = "C"

[[sections]]
title = "Views"
scope = "EACH_VIEW"

[[sections.items]]
id = "nipple"
type = "pass_fail"
label = "Nipple in profile"

[[sections.items]]
id = "folds"
type = "pass_fail"
label = "No skin folds"

[[rules]]
id = "all_ok"
kind = "all_pass"
scopes = ["EACH_VIEW"]

[[rules]]
id = "either"
kind = "any"
of = ["all_ok"]
"""


def _line(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing needle (to keep the tests readable)."""
    hits = [n for n, line in enumerate(text.split("\n"), start=1) if needle in line]
    return hits[nth - 1]


def _errors(text: str, origin: str = "site-mini.toml") -> list:
    with pytest.raises(ChecklistValidationError) as info:
        parse_checklist_text(text, origin=origin)
    return info.value.errors


# ---------------------------------------------------------------------------------------------
# shipped files
# ---------------------------------------------------------------------------------------------


def test_every_shipped_checklist_loads_and_validates() -> None:
    result = load_all(include_site=False)
    assert result.errors == []
    assert {c.id for c in result.checklists} == SHIPPED
    for checklist in result.checklists:
        assert checklist.sources, checklist.id
        assert checklist.unconfirmed, f"{checklist.id} must flag its unconfirmed parts"
        assert len(checklist.content_hash) == 64
        keys = answer_keys(checklist)
        assert len(keys) == len(set(keys))
        for key in keys:
            member, item_id = parse_key(key)
            assert f"{member}:{item_id}" == key


def test_shipped_files_cite_sources_with_confidence_tags() -> None:
    for checklist in load_all(include_site=False).checklists:
        tags = {s.confidence for s in checklist.sources}
        assert tags <= {"C", "P", "3P", "NF"}
        # each file carries at least one tag other than C: every shipped rubric has open parts
        assert tags - {"C"}, checklist.id


def test_acr_answer_keys_match_the_store_convention() -> None:
    checklist = load_all(include_site=False).get("acr-mammo-positioning")
    keys = answer_keys(checklist)
    for key in ("RMLO:pectoral_to_pnl", "LCC:pnl_match", "RCC:nipple_profile", "EXAM:comment"):
        assert key in keys
    assert "RCC:pectoral_to_pnl" not in keys  # MLO items are asked only on MLO views


def test_parse_key_rejects_malformed_keys() -> None:
    assert parse_key("T2W:artefacts") == ("T2W", "artefacts")
    for bad in ("noseparator", ":x", "RCC:", "a:b:c"):
        with pytest.raises(ValueError):
            parse_key(bad)


def test_source_text_round_trips_to_an_equal_checklist_with_the_same_hash() -> None:
    for checklist in load_all(include_site=False).checklists:
        again = parse_checklist_text(checklist.source_text, origin="snapshot in audit 42")
        assert again == checklist
        assert again.content_hash == checklist.content_hash
        assert again.origin != checklist.origin


def test_hash_ignores_line_endings() -> None:
    assert content_hash(MINIMAL) == content_hash(MINIMAL.replace("\n", "\r\n"))
    crlf = parse_checklist_text(MINIMAL.replace("\n", "\r\n"))
    assert crlf == parse_checklist_text(MINIMAL)


def test_a_changed_file_is_a_different_checklist() -> None:
    one = parse_checklist_text(MINIMAL)
    two = parse_checklist_text(MINIMAL.replace("No skin folds", "No skin folds at all"))
    assert one != two
    assert one.content_hash != two.content_hash


# ---------------------------------------------------------------------------------------------
# bad files
# ---------------------------------------------------------------------------------------------


def test_malformed_toml_names_file_and_line() -> None:
    text = MINIMAL.replace('label = "No skin folds"', 'label = "No skin folds')
    (err,) = _errors(text)
    assert err.file == "site-mini.toml"
    assert err.line == _line(text, 'label = "No skin folds')
    assert "not valid TOML" in err.message
    assert str(err).startswith(f"site-mini.toml:{err.line}:")


def test_unknown_item_type_is_rejected_at_its_line() -> None:
    text = MINIMAL.replace(
        'type = "pass_fail"\nlabel = "No skin folds"', 'type = "yes_no"\nlabel = "No skin folds"'
    )
    (err,) = _errors(text)
    assert err.line == _line(text, 'type = "yes_no"')
    assert err.key_path == "sections[0].items[1].type"
    assert "unknown item type 'yes_no'" in err.message
    assert "pass_fail" in err.message


def test_rule_referring_to_a_missing_item_is_rejected() -> None:
    text = MINIMAL.replace(
        'scopes = ["EACH_VIEW"]\n', 'scopes = ["EACH_VIEW"]\nitems = ["nipple", "imf_open"]\n'
    )
    (err,) = _errors(text)
    assert err.line == _line(text, 'items = ["nipple", "imf_open"]')
    assert "imf_open" in err.message and "does not exist" in err.message
    assert err.key_path == "rules[0].items[1]"


def test_rule_referring_to_a_missing_rule_is_rejected() -> None:
    text = MINIMAL.replace('of = ["all_ok"]', 'of = ["all_ok", "nope"]')
    (err,) = _errors(text)
    assert err.line == _line(text, 'of = ["all_ok", "nope"]')
    assert "'nope'" in err.message


def test_duplicate_item_id_is_rejected_at_the_second_one() -> None:
    text = MINIMAL.replace('id = "folds"', 'id = "nipple"')
    (err,) = _errors(text)
    assert err.line == _line(text, 'id = "nipple"', nth=2)
    assert "duplicate item id 'nipple'" in err.message


def test_duplicate_rule_id_is_rejected() -> None:
    text = MINIMAL.replace('id = "either"', 'id = "all_ok"').replace(
        'of = ["all_ok"]', 'of = ["all_ok"]'
    )
    errors = _errors(text)
    assert any(
        "duplicate rule id 'all_ok'" in e.message and e.line == _line(text, 'id = "all_ok"', nth=2)
        for e in errors
    )


def test_cycle_between_rules_is_rejected() -> None:
    text = MINIMAL + '\n[[rules]]\nid = "loop_a"\nkind = "not"\nof = "loop_b"\n'
    text += '\n[[rules]]\nid = "loop_b"\nkind = "all"\nof = ["loop_a", "all_ok"]\n'
    errors = _errors(text)
    (err,) = [e for e in errors if "circle" in e.message]
    assert "loop_a -> loop_b -> loop_a" in err.message
    assert err.line == _line(text, 'id = "loop_a"')


def test_cycle_through_a_section_gate_is_rejected() -> None:
    text = MINIMAL.replace(
        'scope = "EACH_VIEW"\n', 'scope = "EACH_VIEW"\napplies_if = "all_ok"\n', 1
    )
    errors = _errors(text)
    assert any("circle" in e.message and "all_ok -> all_ok" in e.message for e in errors)


def test_bad_scope_is_rejected_with_the_allowed_ones() -> None:
    text = MINIMAL.replace('scope = "EACH_VIEW"', 'scope = "T2W"')
    (err,) = _errors(text)
    assert err.line == _line(text, 'scope = "T2W"')
    assert "scope 'T2W' does not exist for modality MG" in err.message
    assert "RMLO" in err.message


def test_bad_scope_in_a_rule_is_rejected() -> None:
    text = MINIMAL.replace('scopes = ["EACH_VIEW"]', 'scopes = ["CC", "BOTH"]')
    (err,) = _errors(text)
    assert err.key_path == "rules[0].scopes[1]"
    assert err.line == _line(text, 'scopes = ["CC", "BOTH"]')


def test_bad_threshold_is_rejected() -> None:
    rule = 'id = "t"\nkind = "threshold"\ninput = "RCC:nipple"\nop = ">="\nvalue = "pass"\n'
    text = MINIMAL + "\n[[rules]]\n" + rule
    (err,) = _errors(text)
    assert err.line == _line(text, 'value = "pass"')
    assert err.key_path == "rules[2].value"
    assert "needs a number" in err.message


def test_negative_measurement_threshold_is_rejected() -> None:
    text = MINIMAL.replace(
        '[[rules]]\nid = "all_ok"',
        '[[sections.items]]\nid = "pnl_mm"\ntype = "number"\nlabel = "PNL"\nunit = "mm"\n\n'
        '[[computed]]\ntarget = "RCC:nipple"\nkind = "difference"\nsource = "measurements"\n'
        'inputs = ["RCC:pnl_mm", "RMLO:pnl_mm"]\nop = "<="\nthreshold = -10\n\n'
        '[[rules]]\nid = "all_ok"',
    )
    (err,) = _errors(text)
    assert err.line == _line(text, "threshold = -10")
    assert "cannot be negative" in err.message


def test_unknown_key_and_missing_key_are_named() -> None:
    text = MINIMAL.replace('label = "Nipple in profile"', 'lable = "Nipple in profile"')
    errors = _errors(text)
    messages = {e.message for e in errors}
    assert "unknown key 'lable' (check the spelling; see checklists/README.md)" in messages
    assert "required key 'label' is missing" in messages
    assert {e.line for e in errors} >= {_line(text, "lable =")}


def test_unquoted_version_gets_a_helpful_message() -> None:
    text = MINIMAL.replace('version = "1.0"', "version = 1.0")
    (err,) = _errors(text)
    assert err.line == 2
    assert 'version = "1.0"' in err.message


def test_meets_criteria_must_be_a_yes_no_rule() -> None:
    text = MINIMAL.replace('meets_criteria = "all_ok"', 'meets_criteria = "missing_rule"')
    (err,) = _errors(text)
    assert err.line == 5
    assert "missing_rule" in err.message


def test_reserved_keys_cannot_be_set_by_a_file() -> None:
    (err,) = _errors('content_hash = "x"\n' + MINIMAL)
    assert err.line == 1


# ---------------------------------------------------------------------------------------------
# load_all with a site folder
# ---------------------------------------------------------------------------------------------


def test_bad_site_file_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "a-good.toml").write_text(MINIMAL, encoding="utf-8")
    (tmp_path / "b-broken.toml").write_text(
        MINIMAL.replace("[[rules]]", "[[rules]", 1), encoding="utf-8"
    )
    (tmp_path / "c-bad-type.toml").write_text(
        MINIMAL.replace('id = "mini"', 'id = "mini-two"').replace('"pass_fail"', '"boolean"', 1),
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    result = load_all(site=tmp_path)
    ids = {c.id for c in result.checklists}
    assert ids == SHIPPED | {"mini"}
    files = sorted(Path(e.file).name for e in result.errors)
    assert files == ["b-broken.toml", "c-bad-type.toml"]
    for err in result.errors:
        assert err.line is not None


def test_site_folder_defaults_to_the_data_dir(tmp_path: Path) -> None:
    folder = site_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mini.toml").write_text(MINIMAL, encoding="utf-8")
    assert load_all().get("mini") is not None
    assert load_all(include_site=False).get("mini") is None


def test_site_version_is_an_additional_version(tmp_path: Path) -> None:
    shipped = load_checklist_file(shipped_dir() / "ear.toml")
    old, new = shipped.version, shipped.version + ".1"  # e.g. 1.1 -> 1.1.1
    edited = shipped.source_text.replace(f'version = "{old}"', f'version = "{new}"').replace(
        'order = ["E", "A", "R"]', 'order = ["E", "A", "R"]  # site edit'
    )
    (tmp_path / "ear-site.toml").write_text(edited, encoding="utf-8")
    result = load_all(site=tmp_path)
    assert [c.version for c in result.checklists if c.id == "ear"] == [old, new]
    assert result.get("ear").version == new
    assert result.get("ear", old) == shipped
    assert [c.version for c in result.latest() if c.id == "ear"] == [new]


def test_same_version_with_different_content_is_refused(tmp_path: Path) -> None:
    shipped = load_checklist_file(shipped_dir() / "ear.toml")
    (tmp_path / "ear-copy.toml").write_text(shipped.source_text, encoding="utf-8")
    (tmp_path / "ear-edit.toml").write_text(
        shipped.source_text.replace("EAR grade", "EAR grade (edited)"), encoding="utf-8"
    )
    result = load_all(site=tmp_path)
    assert [c.version for c in result.checklists if c.id == "ear"] == [shipped.version]
    (err,) = result.errors
    assert Path(err.file).name == "ear-edit.toml"
    head, last = shipped.version.rsplit(".", 1)
    assert f'version = "{head}.{int(last) + 1}"' in err.message  # the next version is suggested
    assert err.line == _line(shipped.source_text, f'version = "{shipped.version}"')


def test_checklist_is_hashable_and_usable_as_a_key() -> None:
    checklist = parse_checklist_text(MINIMAL)
    assert {checklist: 1}[parse_checklist_text(MINIMAL, origin="other")] == 1
    assert isinstance(checklist, Checklist)
