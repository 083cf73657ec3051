"""The team leader's entry points in the main window: site setup, sampling, dashboard."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, db, loader):
    from auditdesk.ui.main_window import MainWindow

    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()
    return win


def test_menus_open_site_setup_sampling_and_the_dashboard(qtbot, window):
    from auditdesk.ui.qi.qi_window import QIWindow
    from auditdesk.ui.qi.sampling_dialog import SamplingDialog
    from auditdesk.ui.qi.site_dialog import SiteDialog

    window.site_setup_action.trigger()
    site = window.findChild(SiteDialog)
    assert site is not None and site.isVisible()
    site.reject()
    window.sampling_action.trigger()
    sampling = window.findChild(SamplingDialog)
    assert sampling is not None and sampling.isVisible()
    sampling.reject()
    window.qi_action.trigger()
    assert isinstance(window.qi_window, QIWindow) and window.qi_window.isVisible()
    first = window.qi_window
    window.qi_action.trigger()  # one dashboard, raised again
    assert window.qi_window is first


def test_coach_menus_open_agreement_and_adjudication(qtbot, window):
    from auditdesk.ui.review.adjudication import AdjudicationWindow
    from auditdesk.ui.review.agreement_window import AgreementWindow

    window.agreement_action.trigger()
    assert isinstance(window.agreement_window, AgreementWindow)
    window.adjudication_action.trigger()
    assert isinstance(window.adjudication_window, AdjudicationWindow)
    assert window.adjudication_window.isVisible()


def test_comparing_reads_draws_each_readers_measurement_read_only(qtbot, db, loader, test_set):
    """Two readers' PNLs on the same RCC are both drawn when the coach opens the images."""
    from sqlalchemy import select

    from auditdesk.dicom.index import import_paths
    from auditdesk.reading.auditing import AuditSession, find_checklist
    from auditdesk.reading.measure import pnl_cc
    from auditdesk.store import audits as store
    from auditdesk.store.models import Study
    from auditdesk.ui.main_window import MainWindow

    import_paths(db, [test_set.root])
    truth = next(s for s in test_set.studies if s.kind == "mammo")
    rcc = truth.truth["views"]["RCC"]
    with db.session() as session:
        study_pk = session.scalar(select(Study.id).where(Study.study_uid == truth.study_uid))
    audit_pks = []
    for i, name in enumerate(("Ann Reader", "Bob Reader")):
        with db.transaction() as session:
            reviewer_pk = store.create_reviewer(session, name, "technologist", name[:2]).id
        audit = AuditSession.start(
            db, study_pk=study_pk, reviewer_pk=reviewer_pk,
            checklist=find_checklist("acr-mammo-positioning"),
        )  # fmt: skip
        nipple = (rcc["nipple_rc"][1] + 3 * i, rcc["nipple_rc"][0])
        m = pnl_cc(nipple, (rcc["pnl_end_rc"][1], rcc["pnl_end_rc"][0]), None)
        audit.measure(
            "RCC:pnl_mm", value_px=m.value_px, value_mm=None, calibration_source="none",
            sop_uid=rcc["sop_uid"], geometry=m.to_geometry(),
        )  # fmt: skip
        audit_pks.append(audit.audit_pk)
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()
    win.show_exam_reads(study_pk, audit_pks)
    viewport = win.hanging_view.viewports["RCC"]
    qtbot.waitUntil(lambda: len(viewport.measurements) == 2, timeout=60000)
    assert win.audit_panel.session is None  # nothing is recorded while comparing


def test_coach_creates_a_calibration_set_and_records_reference_answers_by_keys(
    qtbot, db, loader, test_set
):
    from PySide6.QtCore import QSettings, Qt
    from sqlalchemy import select

    from auditdesk.checklists.rules import answer_keys, item_for_key
    from auditdesk.dicom.index import import_paths
    from auditdesk.paths import data_dir
    from auditdesk.store import audits as store
    from auditdesk.store.models import Audit, Study
    from auditdesk.ui.main_window import MainWindow
    from auditdesk.ui.review.calibration_dialog import CalibrationDialog

    import_paths(db, [test_set.root])
    with db.transaction() as session:
        coach_pk = store.create_reviewer(session, "Casey Coach", "coach", "CC").id
    ini = QSettings(str(data_dir() / "auditdesk.ini"), QSettings.Format.IniFormat)
    ini.setValue("reviewer_id", coach_pk)
    ini.sync()
    mammo = [s.study_uid for s in test_set.studies if s.kind == "mammo"]
    with db.session() as session:
        pks = list(session.scalars(select(Study.id).where(Study.study_uid.in_(mammo))))
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()

    dialog = win.show_calibration()
    assert isinstance(dialog, CalibrationDialog)
    dialog.checklist_combo.setCurrentIndex(dialog.checklist_combo.findData("acr-mammo-positioning"))
    dialog.name_edit.setText("November positioning")
    dialog.tick(pks)
    set_id = dialog.create()
    assert set_id is not None
    dialog.reference_button.click()
    form = win.audit_panel.form
    assert win.exam is not None and win.exam.id in pks
    assert "REFERENCE" in form._exam.text()
    for _ in pks:  # answer each exam of the set by keys; Ctrl+Return goes to the next one
        keys = answer_keys(form.checklist)
        qtbot.keyClick(form, Qt.Key.Key_Home)
        for index, key in enumerate(keys):
            if item_for_key(form.checklist, key).type in ("pass_fail", "choice", "ordinal"):
                qtbot.keyClick(form, Qt.Key.Key_1)
            if index < len(keys) - 1:
                qtbot.keyClick(form, Qt.Key.Key_Down)
        qtbot.keyClick(form, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    with db.session() as session:
        audits = list(session.scalars(select(Audit).where(Audit.reviewer_pk == coach_pk)))
    assert sorted(a.study_pk for a in audits) == sorted(pks)
    assert {(a.purpose, a.status) for a in audits} == {("reference", "complete")}
