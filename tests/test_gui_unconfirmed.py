"""The checklist form shows which parts of PI-QUAL v1 are unconfirmed (domain notes 3.1)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.store.audits import create_reviewer
from auditdesk.store.models import Study

pytestmark = pytest.mark.gui


def test_pi_qual_v1_unconfirmed_items_and_grade_are_marked(qtbot, db) -> None:
    from auditdesk.ui.reading.checklist_form import ChecklistForm

    with db.transaction() as session:
        study = Study(study_uid="1.2.826.0.1.3680043.99.7", kind="mr")
        session.add(study)
        session.flush()
        reviewer = create_reviewer(session, "MR Reader", "coach", "MR")
        study_pk, reviewer_pk = study.id, reviewer.id
    checklist = find_checklist("pi-qual-v1")
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    form = ChecklistForm()
    qtbot.addWidget(form)
    form.show()
    form.open_audit(audit, checklist, title="MR exam")

    def tagged(key: str) -> bool:
        return form._rows[key].findChild(QLabel, "form_unconfirmed") is not None

    # The per-sequence ratings rest on score meanings 2 and 4 [P] and a sheet not found [NF].
    for key in ("T2W:quality", "DWI:quality", "DCE:quality", "T2W:structures"):
        assert tagged(key), key
    # PI-RADS v2.1 technical limits are confirmed [C]: no tag.
    assert not tagged("T2W:slice_thickness")
    assert not tagged("T2W:inplane_phase")
    # The 1-5 grade table is unconfirmed: the score strip says so, with the file's note.
    assert "unconfirmed rule" in form.score_text()
    assert "partly confirmed" in form._grade.toolTip()
