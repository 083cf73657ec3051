"""The worklist shows colleagues' progress made on other workstations (shared database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditdesk.store import audits
from auditdesk.store.db import open_database
from auditdesk.store.models import Study

pytestmark = pytest.mark.gui
BOTH_BACKENDS = True

ACR = (
    Path(__file__).resolve().parents[1] / "checklists" / "acr-mammo-positioning.toml"
).read_text()


def test_others_progress_appears_after_a_poll(qtbot, db) -> None:
    from auditdesk.ui.reading.worklist import WorklistPanel

    with db.transaction() as s:
        study = Study(study_uid="1.2.826.0.1.3680043.10.999.88", kind="mammo")
        s.add(study)
        s.flush()
        me = audits.create_reviewer(s, "Me Tech", "technologist", "MT").id
        other = audits.create_reviewer(s, "Other Lead", "team_leader", "OL").id
        version = audits.register_checklist_version(
            s, "acr-mammo-positioning", "1.0", audits.sha256_text(ACR), ACR, "ACR"
        ).id
        study_pk = study.id
    panel = WorklistPanel(db)
    qtbot.addWidget(panel)
    panel.set_reviewer(me)
    assert panel.poller is not None and panel.poller.timer.isActive()
    row = next(r for r in panel.model.rows() if r.study_pk == study_pk)
    assert not row.has_audit_by_others
    assert panel.poller.poll() is False  # nothing changed: no re-read

    # Another workstation: its own connection to the same database.
    elsewhere = open_database(db.url, migrate=False)
    try:
        rec = audits.AuditRecorder.open(elsewhere, study_pk, other, version)
        rec.answer("RCC:medial_tissue", "pass")
    finally:
        elsewhere.dispose()
    assert panel.poller.poll() is True
    row = next(r for r in panel.model.rows() if r.study_pk == study_pk)
    assert row.has_audit_by_others  # in progress elsewhere: shown without a restart
    assert panel.poller.poll() is False
