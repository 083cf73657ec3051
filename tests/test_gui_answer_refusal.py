"""The checklist form saves through the same answer check as every other entry point, and a
refused answer shows as a message on the form, not as a traceback (issue 12, point 2)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from auditdesk.checklists.loader import parse_checklist_text
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.store.audits import audit_state, create_reviewer
from auditdesk.store.models import AuditAnswer, AuditEvent, Study

pytestmark = pytest.mark.gui


def test_a_refused_answer_is_a_message_and_nothing_is_saved(qtbot, db) -> None:
    from auditdesk.ui.reading.checklist_form import ChecklistForm

    with db.transaction() as session:
        study = Study(study_uid="1.2.826.0.1.3680043.99.7", kind="mr")
        session.add(study)
        session.flush()
        reviewer = create_reviewer(session, "Form Tech", "technologist", "FT")
        study_pk, reviewer_pk = study.id, reviewer.id
    checklist = find_checklist("pi-qual-v2")
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    # The form only ever shows the audit's own version, so its widgets give valid answers. To
    # reach the check behind them, show a copy that offers a third protocol option, "no".
    offered = checklist.source_text.replace(
        '  { value = "bp", label = "bpMRI (no DCE)" },\n',
        '  { value = "bp", label = "bpMRI (no DCE)" },\n  { value = "no", label = "No" },\n',
        1,
    )
    assert offered != checklist.source_text
    form = ChecklistForm()
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    form.open_audit(audit, parse_checklist_text(offered), title="Exam")
    form.setFocus()
    form.set_current("EXAM:dce_performed")

    qtbot.keyClick(form, Qt.Key.Key_3)  # the third option: "no"
    assert form.message_text() == (
        "Not saved: EXAM:dce_performed: 'no' is not an option of this item; valid options: mp, bp"
    )
    with db.session() as session:
        assert audit_state(session, audit.audit_pk).answers == {}
        assert session.query(AuditAnswer).count() == 0
        assert session.query(AuditEvent).filter(AuditEvent.kind == "answer").count() == 0

    qtbot.keyClick(form, Qt.Key.Key_2)  # bp: a valid answer is saved and the message goes
    assert form.message_text() == ""
    with db.session() as session:
        assert audit_state(session, audit.audit_pk).answers == {"EXAM:dce_performed": "bp"}
