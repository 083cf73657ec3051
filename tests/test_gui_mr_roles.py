"""MR roles in the GUI: a localizer is listed in the tree with its reason (tooltip) but never
offered in the MR layout's stack pickers; a reviewer can set LOCALIZER from the tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditdesk.dicom.index import import_paths
from auditdesk.store.catalog import OVERRIDABLE, list_studies
from mr_writer import write_prostate_with_localizer

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot: Any, db: Any, loader: Any, tmp_path: Path) -> Any:
    from auditdesk.ui.main_window import MainWindow

    write_prostate_with_localizer(tmp_path / "study")
    import_paths(db, [tmp_path / "study"])
    win = MainWindow(db, loader=loader)
    qtbot.addWidget(win)
    win.show()
    win.refresh()
    return win


def _series_rows(window: Any) -> dict[str, tuple[str, str]]:
    """Series label -> (role text, tooltip) as the tree shows them."""
    study = window.model.item(0)
    rows = {}
    for r in range(study.rowCount()):
        role_item = study.child(r, 1)
        rows[study.child(r, 0).text()] = (role_item.text(), role_item.toolTip())
    return rows


def test_tree_lists_the_localizer_with_its_reason(qtbot: Any, window: Any) -> None:
    rows = _series_rows(window)
    assert rows["3-pl loc"][0] == "LOCALIZER  (3 img)"
    assert 'SeriesDescription "3-pl loc" names a localizer' in rows["3-pl loc"][1]
    flair = rows["Series 3"]
    assert flair[0] == "OTHER  (4 img)"
    assert flair[1].startswith("inversion recovery")
    assert "Inversion Time 2500 ms" in flair[1]


def test_pickers_never_offer_the_localizer(qtbot: Any, window: Any, db: Any) -> None:
    with db.session() as session:
        (study,) = list_studies(session)
    with qtbot.waitSignal(window.mr_view.all_visible_loaded, timeout=60000):
        window.show_mr(study)
    offered = [
        [panel.picker.itemText(i) for i in range(panel.picker.count())]
        for panel in window.mr_view.panels
    ]
    assert offered and all(items == ["T2W", "OTHER"] for items in offered if items)
    assert any(offered)
    assert [s.role for s in window.mr_view.stacks] == ["T2W", "OTHER"]


def test_reviewer_sets_and_clears_localizer_from_the_tree(qtbot: Any, window: Any, db: Any) -> None:
    assert "LOCALIZER" in OVERRIDABLE["series"]["role"]  # offered by "Correct role…"
    with db.session() as session:
        (study,) = list_studies(session)
    t2 = next(s for s in study.series if s.role == "T2W")
    window.apply_override("series", t2.id, "role", "LOCALIZER", "Coach", "planning scan")
    assert _series_rows(window)["t2_tse_tra"][0] == "LOCALIZER  (4 img)"
    assert _series_rows(window)["t2_tse_tra"][1].startswith("Set by reviewer.")
    window.apply_override("series", t2.id, "role", "auto", "Coach")
    assert _series_rows(window)["t2_tse_tra"][0] == "T2W  (4 img)"
