"""QI charts and the team leader dashboard, offscreen: the drawn values are spc's values, exports
are real PNG/SVG files, and the dashboard fills its tabs, re-baselines and exports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from auditdesk.qi import measures, site, spc
from auditdesk.qi.measures import WeekRow
from phi_scan import assert_no_phi
from test_reports import SITE_NAME, TECHS, build_qi_db

pytestmark = pytest.mark.gui

PNG = b"\x89PNG\r\n\x1a\n"


def _rows(pairs: list[tuple[int, int]], first: dt.date = dt.date(2026, 9, 6)) -> list[WeekRow]:
    return [
        WeekRow(first + dt.timedelta(weeks=i), measures.make_rate(x, n))
        for i, (x, n) in enumerate(pairs)
    ]


PAIRS = [(7, 10), (5, 10), (0, 12), (6, 9), (8, 10), (9, 10), (2, 3), (10, 11), (9, 10), (10, 10)]


def test_p_chart_draws_spc_values(qtbot) -> None:
    from auditdesk.ui.qi.charts import PChartWidget

    rows = _rows(PAIRS)
    note = site.Annotation(1, rows[5].week_start, "Coaching", "", "PDSA 1", True)
    other = site.Annotation(2, rows[7].week_start + dt.timedelta(days=3), "Poster", "", "", False)
    widget = PChartWidget()
    qtbot.addWidget(widget)
    widget.set_weeks(rows, title="Test", goal_pct=85, annotations=[note, other])
    expected = spc.p_chart(
        [x for x, _ in PAIRS],
        [n for _, n in PAIRS],
        [r.week_start for r in rows],
        phase_starts=[note.date],
    )
    assert widget.point_count() == len(PAIRS)
    drawn = widget.plotted_limits()
    assert len(drawn) == len(PAIRS)
    for (lcl, cl, ucl), point in zip(drawn, expected.points, strict=True):
        assert lcl == pytest.approx(point.lcl)
        assert cl == pytest.approx(point.cl)
        assert ucl == pytest.approx(point.ucl)
    assert widget.phase_count() == 2
    assert len(widget.drawing.annotations) == 2
    assert widget.drawing.goal is not None and widget.drawing.goal.value() == 85
    # the 0/12 week is outside the limits; the 2/3 week has few exams (hollow symbol)
    spots = widget.drawing.points.points()
    assert expected.points[2].outside and spots[2].size() > spots[0].size()
    assert expected.points[6].small_np and "approximate" in spots[6].data()


def test_exports_are_real_files(qtbot, tmp_path: Path) -> None:
    from auditdesk.ui.qi.charts import PChartWidget, RunChartWidget, SmallMultiples

    rows = _rows(PAIRS)
    p = PChartWidget()
    r = RunChartWidget()
    m = SmallMultiples()
    for w in (p, r, m):
        qtbot.addWidget(w)
    p.set_weeks(rows, title="p")
    r.set_weeks(rows, rules="both", title="run")
    m.set_groups({"A": rows[:6], "B": rows[3:]})
    for name, widget in (("p", p), ("r", r), ("m", m)):
        png, svg = tmp_path / f"{name}.png", tmp_path / f"{name}.svg"
        assert widget.export_png(png, width=1600)
        assert widget.export_svg(svg)
        assert png.read_bytes().startswith(PNG)
        assert b"<svg" in svg.read_bytes()[:2000]
    from PySide6.QtGui import QImage

    image = QImage(str(tmp_path / "p.png"))
    assert image.width() == 1600
    assert image.pixelColor(5, 5).name() == "#ffffff"  # white background for paper
    assert m.names() == ["A", "B"]


def test_run_chart_names_its_signals(qtbot) -> None:
    from auditdesk.ui.qi.charts import RunChartWidget

    values = [40, 42, 41, 43, 44, 45, 60, 70, 72, 75, 74, 78, 80, 82]
    labels = [dt.date(2026, 9, 6) + dt.timedelta(weeks=i) for i in range(len(values))]
    widget = RunChartWidget()
    qtbot.addWidget(widget)
    run = widget.set_values(labels, values, rules="both")
    assert widget.point_count() == len(values)
    assert run == spc.run_chart([float(v) for v in values], rules="both")
    names = widget.signal_names()
    assert any(n.startswith("Shift (") for n in names)
    assert all("(Anhøj" in n or "(IHI" in n or "Anhøj" in n for n in names)
    widget.set_rules("ihi")
    assert all("IHI" in n for n in widget.signal_names())
    widget.set_rules("anhoej")
    assert all("Anhøj" in n for n in widget.signal_names())


@pytest.fixture
def dashboard(qtbot, db):
    from auditdesk.ui.qi.qi_window import QIWindow

    fx = build_qi_db(db)
    win = QIWindow(db)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    return win, fx


def test_dashboard_tabs_and_rebaseline(dashboard, tmp_path: Path) -> None:
    win, _fx = dashboard
    weeks = win.data.weeks
    assert win.weekly_table.rowCount() == len(weeks) == 12
    assert win.pchart.point_count() == 12
    assert win.pchart.phase_count() == 1
    assert win.run_chart.point_count() == 12
    assert win.group_tables["technologist"].rowCount() == len(TECHS)
    assert win.group_tables["evaluator"].rowCount() >= 1
    assert win.criterion_table.rowCount() > 5
    assert sorted(win.multiples.names()) == sorted(TECHS.values())
    assert SITE_NAME in win.site_label.text()
    from PySide6.QtWidgets import QPushButton

    buttons = win.findChildren(QPushButton)
    assert buttons and all("&" in b.text() for b in buttons)  # every action has a mnemonic
    mnemonics = [b.text().split("&")[1][0].lower() for b in buttons if b.isVisibleTo(win)]
    assert len(mnemonics) == len(set(mnemonics)), mnemonics
    assert win.demo_label.isVisibleTo(win)

    win.weekly_table.selectRow(6)
    chosen = win.selected_week()
    note = win.rebaseline(chosen)
    assert note.starts_phase and note.date == chosen
    assert win.pchart.phase_count() == 2
    assert win.annotation_table.rowCount() == 1
    win.grab().save(str(tmp_path / "dashboard.png"))

    added = win.add_annotation(chosen + dt.timedelta(weeks=2, days=2), "Poster", pdsa_cycle="2")
    assert win.annotation_table.rowCount() == 2
    assert len(win.pchart.drawing.annotations) == 2
    win.delete_annotation(added.id)
    win.delete_annotation(note.id)
    assert win.annotation_table.rowCount() == 0
    assert win.pchart.phase_count() == 1


def test_dashboard_exports(dashboard, tmp_path: Path) -> None:
    win, fx = dashboard
    assert win.export_weekly(tmp_path / "w.csv", "csv") == 12
    assert win.export_weekly(tmp_path / "w.json", "json") == 12
    assert win.export_weekly(tmp_path / "w.xlsx", "xlsx") == 12
    text = (tmp_path / "w.csv").read_text(encoding="utf-8-sig")
    assert "RBC01" in text
    json.loads((tmp_path / "w.json").read_text())
    assert win.export_exams(tmp_path / "e.xlsx") == 144
    win.save_weekly_report(tmp_path / "r.pdf")
    win.save_feedback(tmp_path / "f.pdf", win.technologists()[0])
    for name in ("r.pdf", "f.pdf"):
        assert (tmp_path / name).read_bytes().startswith(b"%PDF")
    win.tabs.setCurrentIndex(1)
    assert win.save_chart(tmp_path / "run.svg")
    assert b"<svg" in (tmp_path / "run.svg").read_bytes()[:2000]
    win.tabs.setCurrentIndex(0)
    assert win.save_chart(tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes().startswith(PNG)
    # Every output read as text (PDFs through pypdf): no PHI value anywhere.
    # The exports themselves (not the database, nor the backups folder kept beside it).
    outputs = [p for p in sorted(tmp_path.iterdir()) if p.is_file() and ".sqlite" not in p.name]
    assert len(outputs) == 8
    assert_no_phi(outputs, fx.phi)


def test_dashboard_file_dialogs_are_injectable(dashboard, tmp_path: Path, monkeypatch) -> None:
    win, _fx = dashboard
    target = tmp_path / "via-dialog.csv"
    monkeypatch.setattr(win, "ask_save_path", lambda *a: str(target))
    win.csv_button.click()
    assert target.is_file()
    sheet = tmp_path / "via-dialog-exams.csv"  # the per-exam button writes CSV by the suffix
    monkeypatch.setattr(win, "ask_save_path", lambda *a: str(sheet))
    win.exams_button.click()
    header = sheet.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("Exam key,") and "Failed items" in header
    assert len(sheet.read_text(encoding="utf-8-sig").splitlines()) == 145  # header + 144 exams
    monkeypatch.setattr(win, "ask_save_path", lambda *a: None)  # cancelled: nothing happens
    win.pdf_button.click()


def test_a_week_of_only_not_evaluable_exams_is_not_plotted(qtbot) -> None:
    """Such a week has n = 0 (no proportion): it stays in the tables, not on the p-chart."""
    from auditdesk.ui.qi.charts import PChartWidget, SmallMultiples

    rows = _rows([(3, 4), (2, 3), (4, 5)])
    empty = measures.WeekRow(rows[1].week_start, measures.make_rate(0, 0, 2), {"RCC: x": 2})
    weeks = [rows[0], empty, rows[2]]
    widget = PChartWidget()
    qtbot.addWidget(widget)
    widget.set_weeks(weeks, title="Test")
    assert widget.point_count() == 2
    multiples = SmallMultiples()
    qtbot.addWidget(multiples)
    multiples.set_groups({"Only N/A": [empty], "Some": weeks}, kind="p")
