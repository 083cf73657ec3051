"""A whole audit as a technologist does it: worklist → hanging → PNL with the mouse → every
checklist item by key → Ctrl+Return → the next exam; and the same for a prostate MR. Everything
is checked in the database, not on the screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from sqlalchemy import select

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.dicom.index import import_paths
from auditdesk.paths import data_dir
from auditdesk.store import audits as store
from auditdesk.store.models import Audit, Study

pytestmark = pytest.mark.gui

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def window(qtbot, db, loader, test_set):
    from auditdesk.ui.main_window import MainWindow

    import_paths(db, [test_set.root])
    with db.transaction() as session:
        reviewer = store.create_reviewer(session, "Tess Tech", "technologist", "TT")
        reviewer_pk = reviewer.id
    # Remembered from "last time", so the window starts with this reviewer.
    ini = QSettings(str(data_dir() / "auditdesk.ini"), QSettings.Format.IniFormat)
    ini.setValue("reviewer_id", reviewer_pk)
    ini.sync()
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.resize(1600, 1000)
    win.show()
    qtbot.waitExposed(win)
    assert win.reviewer is not None and win.reviewer.id == reviewer_pk
    win.reviewer_pk = reviewer_pk  # for the assertions below
    return win


def _study_pk(db, study_uid: str) -> int:
    with db.session() as session:
        return session.scalar(select(Study.id).where(Study.study_uid == study_uid))


def _open_from_worklist_with_keys(qtbot, win, study_pk: int) -> None:
    """Arrow keys in the worklist until the study is current, then Enter."""
    view = win.worklist.view
    view.setFocus()
    order = win.worklist._visible_order()
    assert study_pk in order
    qtbot.keyClick(view, Qt.Key.Key_Home)
    for _ in range(order.index(study_pk)):
        qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert win.exam is not None and win.exam.id == study_pk
    qtbot.waitUntil(win.exam_loaded, timeout=60000)


def _widget_pos(vp, stored_xy: tuple[float, float]) -> QPoint:
    x, y = vp._to_view(stored_xy)
    widget = vp.graphics.mapFromScene(vp.view.mapViewToScene(QPointF(x, y)))
    return QPoint(round(widget.x()), round(widget.y()))


def _settled(qtbot, vp) -> None:
    """Wait until the viewport stops re-fitting (docks and the layout settle after showing)."""
    last = None
    for _ in range(50):
        now = (vp.view.viewRange(), vp.graphics.size().toTuple())
        if now == last:
            return
        last = now
        qtbot.wait(60)


def _click(qtbot, vp, stored_xy: tuple[float, float]) -> None:
    target = vp.graphics.viewport()
    _settled(qtbot, vp)
    pos = _widget_pos(vp, stored_xy)
    qtbot.mouseMove(target, pos)
    qtbot.wait(20)
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.wait(20)


def _xy(rc: list[float]) -> tuple[float, float]:
    """Ground truth is (row, col); the tools work in (x = col, y = row), inside the image."""
    return float(rc[1]), float(rc[0])


def _inside(point: tuple[float, float], shape: tuple[int, int]) -> tuple[float, float]:
    rows, cols = shape
    return min(max(point[0], 1.0), cols - 1.0), min(max(point[1], 1.0), rows - 1.0)


def _answer_everything_by_keys(qtbot, form) -> None:
    """Walk the form top to bottom with Down, answering each required item with its first
    choice (1 = pass / first option); measured numbers stay as measured."""
    keys = answer_keys(form.checklist)
    qtbot.keyClick(form, Qt.Key.Key_Home)
    for index, key in enumerate(keys):
        assert form.current_key == key
        item = item_for_key(form.checklist, key)
        if item.type in ("pass_fail", "choice", "ordinal"):
            qtbot.keyClick(form, Qt.Key.Key_1)
        if index < len(keys) - 1:
            qtbot.keyClick(form, Qt.Key.Key_Down)


def _audit(db, study_pk: int, reviewer_pk: int):
    with db.session() as session:
        audit = session.scalars(
            select(Audit).where(Audit.study_pk == study_pk, Audit.reviewer_pk == reviewer_pk)
        ).one()
        return store.audit_state(session, audit.id, include_history=False)


def test_keys_only_mammo_audit_with_mouse_placed_pnl(qtbot, db, window, test_set):
    truth_study = next(s for s in test_set.studies if s.kind == "mammo")
    study_pk = _study_pk(db, truth_study.study_uid)
    _open_from_worklist_with_keys(qtbot, window, study_pk)
    assert window.central.currentWidget() is window.hanging_view
    form = window.audit_panel.form
    assert form.checklist.id == "acr-mammo-positioning"
    assert form.hasFocus()  # keys go to the checklist as soon as the exam opens

    # PNL on the right MLO: nipple, then two points along the pectoral edge (mouse).
    views = truth_study.truth["views"]
    rmlo = window.hanging_view.viewports["RMLO"]
    shape = rmlo.stored_shape
    qtbot.mouseClick(rmlo.graphics.viewport(), Qt.MouseButton.MiddleButton)  # focus, no tool
    qtbot.keyClick(rmlo, Qt.Key.Key_N)
    assert rmlo.tool == "pnl"
    (top, bottom) = (_xy(p) for p in views["RMLO"]["pectoral_edge_rc"])
    upper = (top[0] + 0.1 * (bottom[0] - top[0]), top[1] + 0.1 * (bottom[1] - top[1]))
    for point in (_xy(views["RMLO"]["nipple_rc"]), upper, bottom):
        _click(qtbot, rmlo, _inside(point, shape))
    # ... and on the right CC: nipple, then the chest-wall edge.
    rcc = window.hanging_view.viewports["RCC"]
    qtbot.mouseClick(rcc.graphics.viewport(), Qt.MouseButton.MiddleButton)
    qtbot.keyClick(rcc, Qt.Key.Key_N)
    for point in (_xy(views["RCC"]["nipple_rc"]), _xy(views["RCC"]["pnl_end_rc"])):
        _click(qtbot, rcc, _inside(point, rcc.stored_shape))

    state = _audit(db, study_pk, window.reviewer_pk)
    rmlo_pnl = state.measurements["RMLO:pnl_mm"]
    assert rmlo_pnl.value_mm == pytest.approx(views["RMLO"]["pnl_mm"], abs=4.0)
    assert rmlo_pnl.sop_uid == views["RMLO"]["sop_uid"]
    assert rmlo_pnl.calibration_source != "none"
    assert rmlo_pnl.geometry["kind"] == "pnl_mlo"
    # The muscle reaches past the PNL here, so the gap is 0 and the rule computes "pass".
    assert state.measurements["RMLO:pectoral_to_pnl_mm"].value_mm == pytest.approx(0.0, abs=0.5)
    assert state.score.result["computed"]["RMLO:pectoral_to_pnl"]["value"] == "pass"
    assert state.measurements["RCC:pnl_mm"].value_mm == pytest.approx(
        views["RCC"]["pnl_mm"], abs=4.0
    )
    # The measurement gave the keyboard back to the form.
    assert form.hasFocus()

    # Every item by keys only, then Ctrl+Return completes and opens the next exam.
    _answer_everything_by_keys(qtbot, form)
    before = _audit(db, study_pk, window.reviewer_pk)
    assert before.score.result["missing_required"] == []
    qtbot.keyClick(form, Qt.Key.Key_Return, CTRL)

    state = _audit(db, study_pk, window.reviewer_pk)
    assert state.status == "complete"
    assert state.score.complete and state.score.meets_criteria in (True, False)
    required = [k for k in answer_keys(form.checklist) if item_for_key(form.checklist, k).required]
    assert set(required) <= set(state.answers) | set(state.score.result["computed"])
    assert state.meets_criteria is state.score.meets_criteria
    assert window.exam is not None and window.exam.id != study_pk  # moved on
    assert window.worklist.status_of(study_pk) in (None, "complete")


def test_saved_measurements_are_redrawn_when_the_exam_is_opened_again(qtbot, db, window, test_set):
    truth_study = next(s for s in test_set.studies if s.kind == "mammo")
    study_pk = _study_pk(db, truth_study.study_uid)
    window.open_exam(study_pk)
    qtbot.waitUntil(window.exam_loaded, timeout=60000)
    rcc = window.hanging_view.viewports["RCC"]
    window.set_tool("pnl")
    views = truth_study.truth["views"]
    for point in (_xy(views["RCC"]["nipple_rc"]), _xy(views["RCC"]["pnl_end_rc"])):
        _click(qtbot, rcc, _inside(point, rcc.stored_shape))
    saved = _audit(db, study_pk, window.reviewer_pk).measurements["RCC:pnl_mm"].value_mm
    other = next(s for s in test_set.studies if s.kind == "mr")
    window.open_exam(_study_pk(db, other.study_uid))
    qtbot.waitUntil(window.exam_loaded, timeout=60000)
    window.open_exam(study_pk)
    qtbot.waitUntil(window.exam_loaded, timeout=60000)
    qtbot.waitUntil(lambda: len(rcc.measurements) == 1, timeout=10000)
    assert rcc.measurements[0].value_mm == pytest.approx(saved)


def test_keys_only_prostate_mr_audit(qtbot, db, window, test_set):
    truth_study = next(s for s in test_set.studies if s.kind == "mr")
    study_pk = _study_pk(db, truth_study.study_uid)
    _open_from_worklist_with_keys(qtbot, window, study_pk)
    assert window.central.currentWidget() is window.mr_view
    form = window.audit_panel.form
    assert form.checklist.id == "pi-qual-v2"
    roles_seen: list[str] = []
    form.member_changed.connect(roles_seen.append)
    _answer_everything_by_keys(qtbot, form)
    assert {"T2W", "DWI"} <= set(roles_seen)
    # An item about a sequence brings that sequence's stack forward in the MR layout.
    for role in ("ADC", "DWI", "T2W"):
        key = next((k for k in answer_keys(form.checklist) if k.startswith(f"{role}:")), None)
        if key is None:
            continue
        qtbot.keyClick(form, Qt.Key.Key_Home)
        form.set_current(key)
        active = window.mr_view.stack_in(window.mr_view.active)
        assert active is not None and active.role == role
    qtbot.keyClick(form, Qt.Key.Key_Return, CTRL)
    state = _audit(db, study_pk, window.reviewer_pk)
    assert state.status == "complete"
    assert state.score.complete
    # Header facts fed the technical items (b-values etc.) in the same score.
    assert state.score.result["computed"]
    assert state.grade is not None or state.meets_criteria is not None
