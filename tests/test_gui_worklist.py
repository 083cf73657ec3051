"""The worklist panel driven as a reviewer would: filters, sorting, keyboard, blinding."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QPoint, Qt
from sqlalchemy import select

from auditdesk.dicom.index import import_paths
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.store import audits as store
from auditdesk.store.models import Study

pytestmark = pytest.mark.gui

ROLES = (
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.StatusTipRole,
    Qt.ItemDataRole.WhatsThisRole,
    Qt.ItemDataRole.UserRole,
    Qt.ItemDataRole.UserRole + 1,
    Qt.ItemDataRole.UserRole + 2,
)


@pytest.fixture
def data(db, test_set):
    """The generator's 4 studies (week of Sun 2026-03-01) plus an undated and an older study;
    'me' completed mammo #1 and started mammo #2, 'other' completed mammo #2."""
    manifest = test_set  # generate_test_set(), made once per session
    import_paths(db, [manifest.root])
    with db.transaction() as s:
        me = store.create_reviewer(s, "Me Reviewer", "technologist", "ME").id
        other = store.create_reviewer(s, "Other Reviewer", "coach", "OR").id
        older = Study(
            study_uid="1.2.3.999.1",
            procedure_date=dt.date(2026, 2, 25),
            kind="mammo",
            technologist="ROE^SAM",
        )
        undated = Study(study_uid="1.2.3.999.2", kind="mr", technologist="ROE^SAM")
        s.add_all([older, undated])
        s.flush()
        by_uid = dict(s.execute(select(Study.study_uid, Study.id)).all())
    pks = {f"{st.kind}{st.index}": by_uid[st.study_uid] for st in manifest.studies}
    pks.update(older=by_uid["1.2.3.999.1"], undated=by_uid["1.2.3.999.2"], me=me, other=other)
    checklist = find_checklist("acr-mammo-positioning")
    done = AuditSession.start(db, study_pk=pks["mammo1"], reviewer_pk=me, checklist=checklist)
    AuditSession.start(db, study_pk=pks["mammo2"], reviewer_pk=me, checklist=checklist)
    theirs = AuditSession.start(db, study_pk=pks["mammo2"], reviewer_pk=other, checklist=checklist)
    with db.transaction() as s:
        store.set_status(s, done.audit_pk, "complete", me)
        store.set_status(s, theirs.audit_pk, "complete", other)
    return db, pks, manifest


def _panel(qtbot, db, reviewer_pk=None):
    from auditdesk.ui.reading.worklist import WorklistPanel

    panel = WorklistPanel(db)
    qtbot.addWidget(panel)
    panel.set_reviewer(reviewer_pk)
    panel.resize(1000, 400)
    panel.show()
    return panel


def _shown(panel) -> list[int]:
    return [
        panel.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole)
        for r in range(panel.proxy.rowCount())
    ]


def _choose(combo, value) -> None:
    index = combo.findData(value)
    assert index >= 0, f"{value!r} not offered"
    combo.setCurrentIndex(index)


def test_filters_change_the_rows(qtbot, data) -> None:
    db, pks, _ = data
    panel = _panel(qtbot, db, pks["me"])
    # Default: what I still have to do (to do + in progress), newest first.
    assert panel.filter.status == "todo"
    assert set(_shown(panel)) == {pks[k] for k in ("mammo2", "mr3", "mr4", "older", "undated")}
    _choose(panel.status_combo, "all")
    assert len(_shown(panel)) == 6
    _choose(panel.status_combo, "done")
    assert _shown(panel) == [pks["mammo1"]]
    _choose(panel.status_combo, "in_progress")
    assert _shown(panel) == [pks["mammo2"]]
    _choose(panel.status_combo, "all")
    panel.mine_check.setChecked(True)
    assert set(_shown(panel)) == {pks["mammo1"], pks["mammo2"]}
    panel.mine_check.setChecked(False)
    _choose(panel.kind_combo, "mr")
    assert set(_shown(panel)) == {pks["mr3"], pks["mr4"], pks["undated"]}
    _choose(panel.kind_combo, "")
    _choose(panel.checklist_combo, "pi-qual-v2")  # an MR checklist lists MR studies only
    assert set(_shown(panel)) == {pks["mr3"], pks["mr4"], pks["undated"]}
    _choose(panel.checklist_combo, "")
    _choose(panel.technologist_combo, "ROE^SAM")
    assert set(_shown(panel)) == {pks["older"], pks["undated"]}
    _choose(panel.technologist_combo, "")
    # Weeks newest first, with my progress in each.
    labels = [panel.week_combo.itemText(i) for i in range(panel.week_combo.count())]
    assert labels == [
        "All weeks",
        "Week of Sun 2026-03-01  (1/4 done)",
        "Week of Sun 2026-02-22  (0/1 done)",
    ]
    _choose(panel.week_combo, "2026-03-01")
    assert set(_shown(panel)) == {pks[k] for k in ("mammo1", "mammo2", "mr3", "mr4")}
    assert panel.progress_label.text() == "Week of Sun 2026-03-01: 1 of 4 audited by you"
    assert (panel.progress_bar.value(), panel.progress_bar.maximum()) == (1, 4)


def test_filters_are_remembered(qtbot, data) -> None:
    db, pks, _ = data
    panel = _panel(qtbot, db, pks["me"])
    _choose(panel.status_combo, "all")
    _choose(panel.kind_combo, "mammo")
    panel.mine_check.setChecked(True)
    again = _panel(qtbot, db, pks["me"])
    assert again.filter.status == "all"
    assert again.filter.kind == "mammo"
    assert again.filter.mine_only
    assert again.status_combo.currentData() == "all"
    assert set(_shown(again)) == {pks["mammo1"], pks["mammo2"]}


def test_sort_by_date_uses_dates_not_text(qtbot, data) -> None:
    from auditdesk.ui.reading.worklist import COL_DATE

    db, pks, _ = data
    panel = _panel(qtbot, db, pks["me"])
    _choose(panel.status_combo, "all")
    newest_first = [pks[k] for k in ("mammo2", "mr4", "mr3", "mammo1", "older", "undated")]
    assert _shown(panel) == newest_first
    header = panel.view.horizontalHeader()
    x = header.sectionViewportPosition(COL_DATE) + header.sectionSize(COL_DATE) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    # "no date" sorts as the oldest, not after the digits as text would.
    assert _shown(panel) == [pks["undated"], *reversed(newest_first[:-1])]


def test_keyboard_enter_and_arrows_activate_studies(qtbot, data) -> None:
    db, pks, _ = data
    panel = _panel(qtbot, db, pks["me"])
    _choose(panel.status_combo, "all")
    panel.view.setFocus()
    with qtbot.assertNotEmitted(panel.study_activated):
        panel.select_study(pks["mr4"])
    assert panel.current_study_pk == pks["mr4"]
    with qtbot.waitSignal(panel.study_activated, timeout=2000) as blocker:
        qtbot.keyClick(panel.view, Qt.Key.Key_Return)
    assert blocker.args == [pks["mr4"]]
    with qtbot.waitSignal(panel.study_activated, timeout=2000) as blocker:
        qtbot.keyClick(panel.view, Qt.Key.Key_Down)
    assert blocker.args == [pks["mr3"]]
    assert panel.current_study_pk == pks["mr3"]


def test_refresh_keeps_the_selection(qtbot, data) -> None:
    db, pks, _ = data
    panel = _panel(qtbot, db, pks["me"])
    panel.select_study(pks["mr3"])
    with qtbot.assertNotEmitted(panel.study_activated):
        panel.refresh()
    assert panel.current_study_pk == pks["mr3"]


def test_next_study_skips_complete_ones(qtbot, data) -> None:
    db, pks, _ = data
    panel = _panel(qtbot, db, pks["me"])
    _choose(panel.status_combo, "all")
    # Order: mammo2 (in progress), mr4, mr3, mammo1 (complete), older, undated.
    assert panel.next_study(pks["mr3"]) == pks["older"]
    assert panel.next_study(pks["undated"]) is None
    panel.select_study(pks["mr4"])
    assert panel.next_study() == pks["mr3"]
    assert panel.upcoming(pks["mammo2"], 3) == [pks["mr4"], pks["mr3"], pks["older"]]
    assert panel.upcoming(pks["older"], 5) == [pks["undated"]]


def test_next_study_after_the_completed_study_left_the_todo_list(qtbot, data) -> None:
    db, pks, _ = data
    panel = _panel(qtbot, db, pks["me"])  # "to do": mammo2, mr4, mr3, older, undated
    panel.select_study(pks["mammo2"])
    with db.transaction() as s:
        audit = store.list_audits(s, study_pk=pks["mammo2"], reviewer_pk=pks["me"])[0]
        store.set_status(s, audit.id, "complete", pks["me"])
    panel.refresh()
    assert pks["mammo2"] not in _shown(panel)
    assert panel.next_study(pks["mammo2"]) == pks["mr4"]


def test_blinded_hides_technologists_everywhere(qtbot, data) -> None:
    from auditdesk.ui.reading.worklist import COL_TECH

    db, pks, _ = data
    panel = _panel(qtbot, db, pks["me"])
    _choose(panel.status_combo, "all")
    with db.session() as s:
        names = {t for t in s.scalars(select(Study.technologist)) if t}
        mammo1_tech = s.get(Study, pks["mammo1"]).technologist
    assert len(names) == 4  # e.g. "SMITH, JANE" as read from Operators' Name
    _choose(panel.technologist_combo, mammo1_tech)
    assert _shown(panel) == [pks["mammo1"]]

    def texts() -> list[str]:
        model = panel.model
        found = []
        for r in range(model.rowCount()):
            for c in range(model.columnCount()):
                for role in ROLES:
                    found.append(str(model.index(r, c).data(role)))
        return found

    assert any(n in t for t in texts() for n in names)
    panel.set_blinded(True)
    assert panel.view.isColumnHidden(COL_TECH)
    assert len(_shown(panel)) == 6  # the technologist filter no longer applies
    assert not any(n in t for t in texts() for n in names)
    combo = [panel.technologist_combo.itemText(i) for i in range(panel.technologist_combo.count())]
    assert not any(n in t for t in combo for n in names)
    panel.refresh()
    assert not any(n in t for t in texts() for n in names)
    panel.set_blinded(False)
    assert not panel.view.isColumnHidden(COL_TECH)
    assert _shown(panel) == [pks["mammo1"]]  # the choice comes back


def test_status_column_is_coloured(qtbot, data) -> None:
    from auditdesk.ui.reading.worklist import COL_STATUS, STATUS_COLORS

    db, pks, _ = data
    panel = _panel(qtbot, db, pks["me"])
    _choose(panel.status_combo, "all")
    model = panel.model
    for r in range(model.rowCount()):
        index = model.index(r, COL_STATUS)
        brush = index.data(Qt.ItemDataRole.ForegroundRole)
        assert brush.color().name() == STATUS_COLORS[index.data()]


def test_sample_only_filter_and_sample_progress(qtbot, data) -> None:
    from auditdesk.qi import sampling
    from auditdesk.ui.reading.worklist import COL_EXAM

    db, pks, _ = data
    with db.transaction() as s:
        plan = sampling.SamplePlan(
            week_start=dt.date(2026, 3, 1),
            mode="overall",
            n=5,
            seed=11,
            second_share=0.0,
            reviewer_pks=[pks["me"]],
        )
        sampling.draw_sample(s, plan)
    panel = _panel(qtbot, db, pks["me"])
    _choose(panel.status_combo, "all")
    # No week chosen: the progress follows the newest sampled week.
    assert panel.progress_label.text() == "Sample, Week of Sun 2026-03-01: 1 of 2 audited by you"
    assert (panel.progress_bar.value(), panel.progress_bar.maximum()) == (1, 2)
    panel.sample_check.setChecked(True)
    assert set(_shown(panel)) == {pks["mammo1"], pks["mammo2"]}
    row = panel.model.row_of(pks["mammo1"])
    tip = panel.model.index(row, COL_EXAM).data(Qt.ItemDataRole.ToolTipRole)
    assert "sample" in tip
    again = _panel(qtbot, db, pks["me"])  # remembered
    assert again.sample_check.isChecked()
    assert set(_shown(again)) == {pks["mammo1"], pks["mammo2"]}
    panel.sample_check.setChecked(False)
    assert len(_shown(panel)) == 6
