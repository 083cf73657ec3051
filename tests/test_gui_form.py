"""The keyboard checklist form, driven with keys only; every check reads the database back,
because the form promises that what is on screen is what is saved."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from auditdesk.checklists.loader import ChecklistValidationError, load_all, parse_checklist_text
from auditdesk.checklists.rules import answer_keys
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.store.audits import audit_state, create_reviewer
from auditdesk.store.models import Study

pytestmark = pytest.mark.gui

NO = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier

# Order on the form: RCC (nipple, pnl_mm, folds, pnl_ok), LCC (same), RMLO (pnl_mm, nipple),
# LMLO (pnl_mm, nipple), EXAM (note). Eight answers are required.
FORM_TEST = """\
id = "form-test"
version = "1.0"
title = "Form test"
modality = "MG"
meets_criteria = "all_ok"
grade = "grade"

[[sources]]
text = "Test source"
confidence = "C"

[[sections]]
title = "CC view"
scope = "CC"

[[sections.items]]
id = "nipple"
type = "pass_fail"
label = "Nipple in profile"
help = "Look for the nipple outline."
key = "n"
reason_codes = [
  { code = "rotated", label = "Nipple rotated" },
  { code = "under", label = "Nipple under the breast" },
]

[[sections.items]]
id = "pnl_mm"
type = "number"
label = "PNL length"
unit = "mm"
min = 0
max = 400
key = "p"

[[sections.items]]
id = "folds"
type = "choice"
label = "Skin folds"
key = "f"
unconfirmed = true
note = "Grading of folds is a site default."
options = [
  { value = "none", label = "None" },
  { value = "minor", label = "Minor" },
  { value = "obscuring", label = "Obscuring" },
]

[[sections.items]]
id = "pnl_ok"
type = "pass_fail"
label = "PNL within 10 mm of the MLO"
key = "k"

[[sections]]
title = "MLO view"
scope = "MLO"

[[sections.items]]
id = "pnl_mm"
type = "number"
label = "PNL length"
unit = "mm"
key = "p"

[[sections.items]]
id = "nipple"
type = "pass_fail"
label = "Nipple in profile"
key = "n"

[[sections]]
title = "Exam"
scope = "EXAM"

[[sections.items]]
id = "note"
type = "text"
label = "Note"
key = "t"

[[computed]]
target = "RCC:pnl_ok"
kind = "difference"
source = "measurements"
inputs = ["RCC:pnl_mm", "RMLO:pnl_mm"]
op = "<="
threshold = 10.0

[[rules]]
id = "all_ok"
kind = "all_pass"
scopes = ["CC", "MLO"]

[[rules]]
id = "grade"
kind = "grade_table"
grades = [
  { grade = "P", when = "all_ok" },
  { grade = "I" },
]
"""


@pytest.fixture
def audit_env(db):
    """A study and a reviewer (the form needs no pixels: a bare study row is enough)."""
    with db.transaction() as session:
        study = Study(study_uid="1.2.826.0.1.3680043.99.1", kind="mammo")
        session.add(study)
        session.flush()
        reviewer = create_reviewer(session, "Form Tech", "technologist", "FT")
        return db, study.id, reviewer.id


def _form(qtbot, audit_env, checklist, title="Exam A"):
    from auditdesk.ui.reading.checklist_form import ChecklistForm

    db, study_pk, reviewer_pk = audit_env
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    form = ChecklistForm()
    qtbot.addWidget(form)
    form.resize(700, 800)
    form.show()
    qtbot.waitExposed(form)
    form.open_audit(audit, checklist, title=title)
    form.setFocus()
    return form, audit


def _key(qtbot, form, key, modifier=NO):
    """Press a key where the keyboard focus is (the form, its number editor or the comment)."""
    qtbot.keyClick(form.focusWidget() or form, key, modifier)


def _type(qtbot, form, text: str) -> None:
    for char in text:
        _key(qtbot, form, char)


def _db_state(audit):
    """Read the audit through a fresh database session, not through the form."""
    with audit.db.session() as session:
        return audit_state(session, audit.audit_pk, include_history=False)


@pytest.fixture
def custom():
    return parse_checklist_text(FORM_TEST, origin="form-test.toml")


def test_pass_fail_reason_code_and_score_strip_are_saved(qtbot, audit_env, custom) -> None:
    form, audit = _form(qtbot, audit_env, custom)
    assert form.current_key == "RCC:nipple"
    assert "8 required missing" in form.score_text()
    assert form.row_text("RCC:nipple")["required"] == "required"

    _key(qtbot, form, Qt.Key.Key_2)  # fail
    state = _db_state(audit)
    assert state.answers["RCC:nipple"] == "fail"
    assert "RCC:nipple" not in state.reason_codes
    row = form.row_text("RCC:nipple")
    assert row["required"] == ""  # the required marker went away
    assert "Alt+1 Nipple rotated" in row["reasons"]
    assert "Alt+2 Nipple under the breast" in row["reasons"]
    assert "7 required missing" in form.score_text()

    _key(qtbot, form, Qt.Key.Key_2, ALT)
    assert _db_state(audit).reason_codes["RCC:nipple"] == "under"
    assert form.row_text("RCC:nipple")["value"] == "Fail — Nipple under the breast"
    _key(qtbot, form, Qt.Key.Key_2)  # fail again keeps the reason
    assert _db_state(audit).reason_codes["RCC:nipple"] == "under"

    _key(qtbot, form, Qt.Key.Key_1)  # pass drops the reason
    state = _db_state(audit)
    assert (state.answers["RCC:nipple"], state.reason_codes.get("RCC:nipple")) == ("pass", None)
    assert form.row_text("RCC:nipple")["reasons"] == ""

    _key(qtbot, form, Qt.Key.Key_Delete)
    assert "RCC:nipple" not in _db_state(audit).answers
    assert form.row_text("RCC:nipple")["required"] == "required"

    # choice item: 2 = the second option; unconfirmed items are tagged
    _key(qtbot, form, "f")
    assert form.current_key == "RCC:folds"
    _key(qtbot, form, Qt.Key.Key_2)
    assert _db_state(audit).answers["RCC:folds"] == "minor"
    assert form.row_text("RCC:folds")["value"] == "Minor"
    _key(qtbot, form, Qt.Key.Key_0)
    assert "RCC:folds" not in _db_state(audit).answers


def test_completion_is_refused_while_required_answers_are_missing(qtbot, audit_env, custom):
    form, audit = _form(qtbot, audit_env, custom)
    done = []
    form.completed.connect(lambda: done.append(True))
    keys = answer_keys(custom)

    _key(qtbot, form, Qt.Key.Key_Return, CTRL)
    assert done == []
    assert _db_state(audit).status == "in_progress"
    assert "cannot be completed" in form.message_text()
    assert form.current_key == "RCC:nipple"  # the first missing item

    # Answer every required item with keys only: pass for pass/fail, "None" for folds.
    for _ in keys:
        item_key = form.current_key
        if item_key.endswith((":nipple", ":pnl_ok", ":folds")):
            _key(qtbot, form, Qt.Key.Key_1)  # pass, or the first option (folds: None)
        _key(qtbot, form, Qt.Key.Key_Return)  # next item
    state = _db_state(audit)
    assert state.score.result["missing_required"] == []
    assert "all required answered" in form.score_text()
    assert "Meets criteria: YES" in form.score_text()
    assert "Grade: P" in form.score_text()

    _key(qtbot, form, Qt.Key.Key_Return, CTRL)
    assert done == [True]
    state = _db_state(audit)
    assert state.status == "complete"
    assert (state.meets_criteria, state.grade) == (True, "P")
    assert form.score_text().endswith("complete")

    # a correction after completion is still saved and rescored
    form.set_current("LMLO:nipple")
    _key(qtbot, form, Qt.Key.Key_2)
    state = _db_state(audit)
    assert (state.answers["LMLO:nipple"], state.meets_criteria, state.grade) == ("fail", False, "I")
    assert "Meets criteria: NO" in form.score_text()


def test_undo_and_redo_write_the_database(qtbot, audit_env, custom) -> None:
    form, audit = _form(qtbot, audit_env, custom)
    _key(qtbot, form, Qt.Key.Key_1)  # pass
    _key(qtbot, form, Qt.Key.Key_2)  # fail
    _key(qtbot, form, Qt.Key.Key_1, ALT)  # reason: rotated
    _key(qtbot, form, Qt.Key.Key_L, CTRL)  # learning opportunity
    assert _db_state(audit).learning_opportunity is True

    _key(qtbot, form, Qt.Key.Key_M, CTRL)  # comment box
    _type(qtbot, form, "Rotated")
    _key(qtbot, form, Qt.Key.Key_Escape)  # saves and returns to the items
    assert _db_state(audit).comment == "Rotated"
    assert form.focusWidget() is form

    _key(qtbot, form, Qt.Key.Key_Z, CTRL)
    assert _db_state(audit).comment is None
    _key(qtbot, form, Qt.Key.Key_Z, CTRL)
    assert _db_state(audit).learning_opportunity is False
    _key(qtbot, form, Qt.Key.Key_Z, CTRL)
    state = _db_state(audit)
    assert (state.answers["RCC:nipple"], state.reason_codes.get("RCC:nipple")) == ("fail", None)
    _key(qtbot, form, Qt.Key.Key_Z, CTRL)
    assert _db_state(audit).answers["RCC:nipple"] == "pass"
    _key(qtbot, form, Qt.Key.Key_Z, CTRL)
    assert "RCC:nipple" not in _db_state(audit).answers
    assert form.row_text("RCC:nipple")["value"] == "—"

    _key(qtbot, form, Qt.Key.Key_Z, CTRL | SHIFT)
    assert _db_state(audit).answers["RCC:nipple"] == "pass"
    _key(qtbot, form, Qt.Key.Key_Y, CTRL)
    _key(qtbot, form, Qt.Key.Key_Y, CTRL)
    state = _db_state(audit)
    assert (state.answers["RCC:nipple"], state.reason_codes["RCC:nipple"]) == ("fail", "rotated")
    assert form.row_text("RCC:nipple")["value"] == "Fail — Nipple rotated"
    _key(qtbot, form, Qt.Key.Key_Y, CTRL)
    _key(qtbot, form, Qt.Key.Key_Y, CTRL)
    state = _db_state(audit)
    assert (state.learning_opportunity, state.comment) == (True, "Rotated")


def test_comment_is_saved_after_a_pause_in_typing(qtbot, audit_env, custom) -> None:
    form, audit = _form(qtbot, audit_env, custom)
    _key(qtbot, form, Qt.Key.Key_M, CTRL)
    _type(qtbot, form, "IMF closed")
    assert _db_state(audit).comment is None  # not yet: waits for a pause
    qtbot.waitUntil(lambda: _db_state(audit).comment == "IMF closed", timeout=3000)


def test_number_entry_validates_and_measurements_are_shown(qtbot, audit_env, custom) -> None:
    form, audit = _form(qtbot, audit_env, custom)
    _key(qtbot, form, "p")
    assert form.current_key == "RCC:pnl_mm"

    _type(qtbot, form, "500")
    _key(qtbot, form, Qt.Key.Key_Return)
    assert "above the maximum 400" in form.row_text("RCC:pnl_mm")["error"]
    assert "RCC:pnl_mm" not in _db_state(audit).answers
    _key(qtbot, form, Qt.Key.Key_Escape)  # cancel
    assert form.focusWidget() is form
    assert form.row_text("RCC:pnl_mm")["error"] == ""
    assert "RCC:pnl_mm" not in _db_state(audit).answers

    # the viewer saves measurements; the form shows them after refresh_from_db
    for key, mm in (("RCC:pnl_mm", 93.4), ("RMLO:pnl_mm", 97.4)):
        audit.measure(
            key,
            value_px=934.0,
            value_mm=mm,
            calibration_source="imager_pixel_spacing",
            sop_uid=None,
        )
    states = []
    form.state_changed.connect(states.append)
    form.refresh_from_db()
    assert states and states[-1].measurements["RCC:pnl_mm"].value_mm == 93.4
    measured = form.row_text("RCC:pnl_mm")
    assert (measured["value"], measured["aux"]) == ("93.4 mm", "measured (Imager Pixel Spacing)")
    computed = form.row_text("RCC:pnl_ok")["computed"]
    assert computed.startswith("computed: pass (") and "= 4 mm ≤ 10 mm" in computed

    # a typed number wins over the measurement, as in the scoring rules
    _type(qtbot, form, "80")
    _key(qtbot, form, Qt.Key.Key_Return)
    state = _db_state(audit)
    assert state.answers["RCC:pnl_mm"] == 80.0
    assert state.score.result["computed"]["RCC:pnl_ok"]["value"] == "fail"
    row = form.row_text("RCC:pnl_mm")
    assert row["value"] == "80 mm"
    assert "typed value used; 93.4 mm, measured" in row["aux"]
    assert "computed: fail" in form.row_text("RCC:pnl_ok")["computed"]

    _type(qtbot, form, "bc")  # letters are jump keys on a number item, not input
    assert form.current_key == "RCC:pnl_mm"
    assert form.message_text() == "No item has the key 'c'."
    assert _db_state(audit).answers["RCC:pnl_mm"] == 80.0


def test_letter_keys_jump_within_the_view_and_member_changes_are_announced(
    qtbot, audit_env, custom
) -> None:
    form, audit = _form(qtbot, audit_env, custom)
    members = []
    form.member_changed.connect(members.append)

    _key(qtbot, form, "k")
    assert form.current_key == "RCC:pnl_ok"
    _key(qtbot, form, "n")  # stays in RCC
    assert form.current_key == "RCC:nipple"
    assert members == []

    _key(qtbot, form, Qt.Key.Key_End)
    assert form.current_key == "EXAM:note"
    assert members == ["EXAM"]
    _key(qtbot, form, "n")  # EXAM has no "n": the next view that has it
    assert form.current_key == "RCC:nipple"
    assert members == ["EXAM", "RCC"]

    form.set_current("RMLO:pnl_mm")
    _key(qtbot, form, "n")
    assert form.current_key == "RMLO:nipple"
    _key(qtbot, form, Qt.Key.Key_Down)
    _key(qtbot, form, Qt.Key.Key_Return, SHIFT)
    assert form.current_key == "RMLO:nipple"
    assert members == ["EXAM", "RCC", "RMLO", "LMLO", "RMLO"]
    _key(qtbot, form, Qt.Key.Key_Home)
    assert form.current_key == "RCC:nipple"

    # text item: Enter edits, Enter saves
    _key(qtbot, form, "t")
    assert form.current_key == "EXAM:note"
    _key(qtbot, form, Qt.Key.Key_Return)
    _type(qtbot, form, "Good")
    _key(qtbot, form, Qt.Key.Key_Return)
    assert _db_state(audit).answers["EXAM:note"] == "Good"
    assert form.focusWidget() is form

    # F1 shows the help of the current item
    form.set_current("RCC:nipple")
    _key(qtbot, form, Qt.Key.Key_F1)
    assert "Look for the nipple outline." in form.row_text("RCC:nipple")["help"]
    _key(qtbot, form, Qt.Key.Key_F1)
    assert form.row_text("RCC:nipple")["help"] == ""


def test_acr_positioning_checklist_answers_and_jumps_to_missing(qtbot, audit_env) -> None:
    acr = find_checklist("acr-mammo-positioning")
    form, audit = _form(qtbot, audit_env, acr, title="Mammo 1")
    keys = answer_keys(acr)
    assert len(form._rows) == len(keys)
    first_missing = _db_state(audit).score.result["missing_required"][0]
    form.set_current(keys[-1])
    _key(qtbot, form, Qt.Key.Key_G, CTRL)
    assert form.current_key == first_missing

    pass_fail = [k for k in keys if form._rows[k].item.type == "pass_fail"]
    for key in pass_fail[:10]:
        form.set_current(key)
        _key(qtbot, form, Qt.Key.Key_1)
    answers = _db_state(audit).answers
    assert all(answers[k] == "pass" for k in pass_fail[:10])

    form.close_audit("Pick an exam")
    assert form.session is None
    assert form.undo_stack.count() == 0
    assert form._empty.text() == "Pick an exam" and form._empty.isVisible()

    # re-opening the same checklist reuses the rows: one current row, answers from the DB
    form.open_audit(audit, acr, title="Mammo 1")
    assert [k for k, row in form._rows.items() if row.current] == [keys[0]]
    assert form.row_text(pass_fail[0])["value"] == "Pass"


def test_key_help_lists_the_keys() -> None:
    from auditdesk.ui.reading.form_keys import key_help

    keys = dict(key_help())
    assert "Ctrl+Return" in keys and "Alt+1 … Alt+9" in keys
    assert "undo" in keys["Ctrl+Z"]


def test_schema_rejects_a_digit_item_key() -> None:
    text = FORM_TEST.replace('key = "k"', 'key = "1"')
    with pytest.raises(ChecklistValidationError) as err:
        parse_checklist_text(text, origin="bad.toml")
    assert "must be a single letter" in str(err.value)
    assert "digits are answer keys" in str(err.value)


def test_shipped_checklists_use_letter_keys_only() -> None:
    result = load_all()
    assert not result.errors, result.errors
    pgmi = result.get("pgmi")
    assert pgmi is not None
    for checklist in result.checklists:
        for section in checklist.sections:
            for item in section.items:
                assert item.key is None or item.key.isalpha(), (checklist.id, item.id)


def test_all_na_by_keys_completes_as_not_evaluable(qtbot, audit_env) -> None:
    """Issue 12: N/A on every item used to show and store "meets criteria: YES"."""
    acr = find_checklist("acr-mammo-positioning")
    form, audit = _form(qtbot, audit_env, acr)
    done = []
    form.completed.connect(lambda: done.append(True))
    for key in answer_keys(acr):
        if form._rows[key].item.type == "pass_fail":
            form.set_current(key)
            _key(qtbot, form, Qt.Key.Key_3)  # n/a
    assert "Meets criteria: NOT EVALUABLE" in form.score_text()
    _key(qtbot, form, Qt.Key.Key_Return, CTRL)
    assert done == [True]
    state = _db_state(audit)
    assert (state.status, state.meets_criteria) == ("complete", None)
    assert state.score.result["evaluable"] is False
    assert "RCC: every required item answered N/A" in state.score.result["not_evaluable"]
