"""Issue 13 in the window: a digitised film whose view and side were guessed shows its source
and confidence in the tree and the hanging, "please confirm" in the worklist and the form
header, and the tree's "Confirm view and side" removes the mark (checked in the database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel, QMenu
from sqlalchemy import select

from auditdesk.demo.film import write_film_exam
from auditdesk.dicom.index import import_paths
from auditdesk.paths import data_dir
from auditdesk.store import audits as store
from auditdesk.store.models import ClassificationOverride
from auditdesk.ui.reading import view_marks
from auditdesk.ui.reading.worklist import COL_VIEWS

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, db, loader, tmp_path: Path):
    from auditdesk.ui.main_window import MainWindow

    write_film_exam(tmp_path / "films")
    import_paths(db, [tmp_path / "films"], workers=1)
    with db.transaction() as session:
        reviewer_pk = store.create_reviewer(session, "Carol Coach", "coach", "CC").id
    ini = QSettings(str(data_dir() / "auditdesk.ini"), QSettings.Format.IniFormat)
    ini.setValue("reviewer_id", reviewer_pk)
    ini.sync()
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()
    return win


def _image_rows(win) -> dict[str, tuple[int, str, str]]:
    """label -> (image id, note column text, tooltip) from the study tree."""
    found = {}
    model = win.model
    for r in range(model.rowCount()):
        series_item = model.item(r).child(0)
        for i in range(series_item.rowCount()):
            item = series_item.child(i)
            note = series_item.child(i, 1)
            found[item.text()] = (item.data(view_marks_role()), note.text(), item.toolTip())
    return found


def view_marks_role() -> int:
    from auditdesk.ui.main_window import ROLE_ID

    return ROLE_ID


def _worklist_views(win) -> list[str]:
    model = win.worklist.model
    return sorted(model.index(r, COL_VIEWS).data() or "" for r in range(model.rowCount()))


def test_tree_worklist_and_form_mark_guessed_views_until_confirmed(qtbot, db, window) -> None:
    rows = _image_rows(window)
    assert sorted(rows) == ["LCC", "LMLO", "RCC", "RMLO"]
    image_id, note, tip = rows["LCC"]
    assert note == "PatientOrientation / identifier text · low · please confirm"
    assert "Confirm view and side" in tip
    # One film exam sent as four studies: each is also suggested for merging.
    assert _worklist_views(window) == [
        "LCC · please confirm LCC · merge suggested",
        "LMLO · please confirm LMLO · merge suggested",
        "RCC · please confirm RCC · merge suggested",
        "RMLO · please confirm RMLO · merge suggested",
    ]

    # The tree's context menu offers the confirmation for a mammogram.
    menu = QMenu(window)
    view_marks.add_confirm_action(menu, window, "image", image_id)
    assert [a.text() for a in menu.actions()] == ["Confirm view and side (LCC)"]

    study = next(s for s in window._studies.values() if s.series[0].images[0].id == image_id)
    window.open_exam(study.id)
    exam_line = window.audit_panel.form.findChild(QLabel, "form_exam")
    assert "please confirm LCC (view from text)" in exam_line.text()

    menu.actions()[0].trigger()

    with db.session() as session:
        row = session.scalars(select(ClassificationOverride)).one()
        assert (row.field, row.value, row.reviewer) == ("view_confirmed", "LCC", "Carol Coach")
    assert _image_rows(window)["LCC"][1] == "PatientOrientation / identifier text · low · confirmed"
    assert "please confirm" not in exam_line.text()
    assert _worklist_views(window)[0] == "LCC · merge suggested"  # confirmed; still four studies


def test_hanging_overlay_names_the_view_source(qtbot, window) -> None:
    study = next(iter(window._studies.values()))
    window.open_exam(study.id)
    qtbot.waitUntil(window.exam_loaded, timeout=60000)
    hanging = window.hanging_view
    infos = [vp._detail for vp in hanging.viewports.values()]
    assert any("view: PatientOrientation / identifier text · low" in t for t in infos), infos
