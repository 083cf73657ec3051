"""The dashboard p-chart marks the special causes (one hollow shape per rule, named in the
legend and the tooltip) and labels partial weeks; the Site setup tab edits the rule switches.

Checked on the plotted items (positions, names, tooltips), not on pixels. The series: n = 100
every week, p̄ = 0.80, σ = 0.04, limits 0.68 … 0.92 (worked out in test_spc_rules.py); weeks
8 (0.93) and 9 (0.67) are outside the limits; nothing else fires.
"""

from __future__ import annotations

import datetime as dt

import pytest

from auditdesk.qi import measures, site
from auditdesk.qi.measures import WeekRow
from auditdesk.qi.spc_rules import RULE_NAMES
from auditdesk.ui.qi.chart_drawing import week_x

pytestmark = pytest.mark.gui

FIRST = dt.date(2026, 1, 4)


def _rows(xs: list[int], n: int = 100) -> list[WeekRow]:
    return [
        WeekRow(FIRST + dt.timedelta(weeks=i), measures.make_rate(x, n)) for i, x in enumerate(xs)
    ]


def _spots(scatter) -> list[tuple[float, float]]:
    return [(round(s.pos().x(), 6), round(s.pos().y(), 6)) for s in scatter.points()]


def _legend_names(widget) -> list[str]:
    return [label.text for _sample, label in widget.plot.legend.items]


def test_chart_marks_each_flagged_week_with_its_rule(qtbot) -> None:
    from auditdesk.ui.qi.measure_chart import MeasureChartWidget

    rows = _rows([80] * 8 + [93, 67])
    widget = MeasureChartWidget()
    qtbot.addWidget(widget)
    widget.set_weeks(rows, title="Test", today=dt.date(2026, 12, 1))
    marks = widget.marks
    assert marks is not None and set(marks.scatters) == {"outside"}
    scatter = marks.scatters["outside"]
    assert _spots(scatter) == [
        (round(week_x(rows[8].week_start), 6), 93.0),
        (round(week_x(rows[9].week_start), 6), 67.0),
    ]
    assert scatter.name() == RULE_NAMES["outside"]
    assert RULE_NAMES["outside"] in _legend_names(widget)
    tips = [s.data() for s in scatter.points()]
    assert "above the upper limit" in tips[0] and "below the lower limit" in tips[1]
    assert widget.marked_weeks() == {
        rows[8].week_start: ("outside",),
        rows[9].week_start: ("outside",),
    }
    assert widget.partial_weeks() == []

    # The rule switched off: no mark, no legend entry.
    widget.set_weeks(rows, rules=frozenset({"shift", "trend"}), today=dt.date(2026, 12, 1))
    assert widget.marks.scatters == {} and widget.marked_weeks() == {}
    assert RULE_NAMES["outside"] not in _legend_names(widget)


def test_chart_marks_runs_and_trends_with_their_own_shapes(qtbot) -> None:
    from auditdesk.ui.qi.measure_chart import RULE_SYMBOLS, MeasureChartWidget

    widget = MeasureChartWidget()
    qtbot.addWidget(widget)
    # 8 weeks at 0.84 then 8 at 0.76 (p̄ 0.80): every week is in a run of 8.
    widget.set_weeks(_rows([84] * 8 + [76] * 8), today=dt.date(2026, 12, 1))
    scatter = widget.marks.scatters["shift"]
    assert len(scatter.points()) == 16
    assert {s.symbol() for s in scatter.points()} == {RULE_SYMBOLS["shift"][0]}
    assert RULE_NAMES["shift"] in _legend_names(widget)
    # 6 rising (77 … 83): the trend mark on weeks 1-6 only.
    rows = _rows([80, 77, 78, 79, 81, 82, 83, 80])
    widget.set_weeks(rows, today=dt.date(2026, 12, 1))
    assert set(widget.marks.scatters) == {"trend"}
    assert [y for _x, y in _spots(widget.marks.scatters["trend"])] == [77, 78, 79, 81, 82, 83]
    assert "6 points rising" in widget.marks.scatters["trend"].points()[0].data()


def test_partial_week_is_labelled_with_an_injected_today(qtbot) -> None:
    from auditdesk.ui.qi.measure_chart import MeasureChartWidget

    rows = _rows([80, 82, 78])  # weeks of 4, 11 and 18 January 2026
    widget = MeasureChartWidget()
    qtbot.addWidget(widget)
    widget.set_weeks(rows, today=dt.date(2026, 1, 20))  # Tuesday of the last week
    assert widget.partial_weeks() == [rows[2].week_start]
    (label,) = widget.marks.partial_labels
    assert label.toPlainText() == "partial"
    assert label.pos().x() == pytest.approx(week_x(rows[2].week_start))
    widget.set_weeks(rows, today=dt.date(2026, 1, 24))  # its Saturday: complete
    assert widget.partial_weeks() == [] and widget.marks.partial_labels == []
    # The marks survive the paper redraw of an export.
    widget.set_weeks(rows, today=dt.date(2026, 1, 20))
    assert widget.png_bytes(800).startswith(b"\x89PNG")
    assert widget.partial_weeks() == [rows[2].week_start]


def test_site_dialog_switches_rules_and_small_n(qtbot, db) -> None:
    from auditdesk.ui.qi.site_dialog import SiteDialog

    dialog = SiteDialog(db)
    qtbot.addWidget(dialog)
    tab = dialog.chart_tab
    assert all(box.isChecked() for box in tab.rule_boxes.values())
    assert tab.small_np.value() == 5.0
    tab.rule_boxes["trend"].setChecked(False)
    tab.small_np.setValue(6.0)
    tab.week_policy.setCurrentIndex(tab.week_policy.findData("refuse"))
    assert dialog.save()
    with db.session() as session:
        settings = site.get_site(session)
    assert settings.spc_rules == "outside,shift,two-of-three"
    assert (settings.spc_small_np, settings.week_policy) == (6.0, "refuse")
    # Reopened, the dialog shows what was saved.
    again = SiteDialog(db)
    qtbot.addWidget(again)
    assert not again.chart_tab.rule_boxes["trend"].isChecked()
    assert again.chart_tab.small_np.value() == 6.0


def test_dashboard_table_and_export_say_what_was_snapped(qtbot, db, tmp_path) -> None:
    from auditdesk.ui.qi.qi_window import QIWindow
    from test_reports import build_qi_db

    build_qi_db(db)
    win = QIWindow(db)
    qtbot.addWidget(win)
    win.today = dt.date.today()
    # The default period runs from a Sunday to today: the week in progress is partial (unless
    # today is a Saturday), and the export snaps the end to that Saturday and says so.
    win.set_range(win.start, win.start + dt.timedelta(weeks=11, days=3))  # ends on a Wednesday
    # The dashboard itself shows whole weeks and says it widened the period.
    assert "Snapped to whole Sunday–Saturday weeks" in win.summary_label.text()
    assert win.export_weekly(tmp_path / "w.csv", "csv") == 12
    assert win.last_export_note.startswith("Snapped to whole Sunday–Saturday weeks")
    saturday = win.start + dt.timedelta(weeks=11, days=6)
    assert f"to {saturday.isoformat()}" in win.last_export_note
    column = win.weekly_table.columnCount() - 1
    assert win.weekly_table.horizontalHeaderItem(column).text() == "Special causes"
    last = win.weekly_table.item(win.weekly_table.rowCount() - 1, column).text()
    assert ("partial" in last) == (saturday > win.today)
    with db.transaction() as session:
        settings = site.get_site(session)
        settings.week_policy = "refuse"
        site.save_site(session, settings)
    with pytest.raises(ValueError, match="inside the week ending Saturday"):
        win.export_weekly(tmp_path / "w2.csv", "csv")
    assert not (tmp_path / "w2.csv").exists()
