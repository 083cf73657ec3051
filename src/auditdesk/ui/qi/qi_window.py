"""The team leader dashboard: weekly numbers, charts, roll-ups, annotations, exports, reports.

Everything shown is computed by the core (``measures``, ``spc``, ``exchange.weekly``) through
``reports.load_qi_data``, the same call the PDF reports make, so the screen, the files and the
reports cannot disagree. File dialogs only pick a path: each action also exists as a method
taking the path (``export_weekly(path, fmt)``, ``save_weekly_report(path)``...), which is what
the tests and any future automation call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from auditdesk.qi import measures, site
from auditdesk.reading.weeks import week_start
from auditdesk.store.db import Database
from auditdesk.ui.common import make_table, pydate, qdate, table_item
from auditdesk.ui.qi import reports
from auditdesk.ui.qi.chart_drawing import RULE_SETS
from auditdesk.ui.qi.charts import PChartWidget, RunChartWidget, SmallMultiples
from auditdesk.ui.qi.measure_chart import MeasureChartWidget
from auditdesk.ui.qi.reports import QIData, criterion_cells

WEEKLY_FORMATS = {"csv": "CSV (*.csv)", "xlsx": "Excel workbook (*.xlsx)", "json": "JSON (*.json)"}


def _fill(table: QTableWidget, rows: Sequence[Sequence[object]], first_text: int = 1) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, table_item(value, number=c >= first_text))


class QIWindow(QMainWindow):
    """Team leader dashboard over one database (opened from Reports → Team leader dashboard)."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.data: QIData | None = None
        self.today: dt.date | None = None  # which weeks are partial; None: the computer's date
        self.last_export_note = ""  # what the last weekly export snapped the period to
        self.setObjectName("qi_window")
        self.setWindowTitle("Team leader dashboard — AuditDesk")
        self.resize(1400, 900)

        start, end = reports.default_range()
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 8)

        bar = QHBoxLayout()
        self.site_label = QLabel()
        self.site_label.setObjectName("qi_site")
        self.demo_label = QLabel("DEMO DATA")
        self.demo_label.setObjectName("qi_demo")
        self.demo_label.hide()
        self.from_edit = QDateEdit(qdate(start))
        self.to_edit = QDateEdit(qdate(end))
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        from_label = QLabel("&From")
        from_label.setBuddy(self.from_edit)
        to_label = QLabel("&To")
        to_label.setBuddy(self.to_edit)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.checklist_label = QLabel()
        self.checklist_label.setObjectName("qi_checklist")
        bar.addWidget(self.site_label)
        bar.addWidget(self.demo_label)
        bar.addStretch(1)
        for w in (from_label, self.from_edit, to_label, self.to_edit, self.refresh_button):
            bar.addWidget(w)
        outer.addLayout(bar)
        outer.addWidget(self.checklist_label)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("qi_summary")
        outer.addWidget(self.summary_label)

        self.tabs = QTabWidget()
        outer.addWidget(self.tabs, 1)
        self._build_weekly_tab()
        self._build_run_tab()
        self.criterion_table = make_table(
            ["Criterion", "Pass", "Fail", "N/A", "Pass rate", "95 % CI"], "qi_criteria"
        )
        self.tabs.addTab(self.criterion_table, "By criterion")
        self.group_tables: dict[str, QTableWidget] = {}
        for key, title in (
            ("technologist", "Technologist"),
            ("evaluator", "Evaluator"),
            ("location", "Location"),
        ):
            table = make_table([title, *reports.RATE_HEADERS], f"qi_{key}")
            self.group_tables[key] = table
            self.tabs.addTab(table, f"By {key}")
        self._build_multiples_tab()
        self._build_annotations_tab()
        for i in range(self.tabs.count()):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self)
            shortcut.activated.connect(lambda i=i: self.tabs.setCurrentIndex(i))
            self.tabs.setTabToolTip(i, f"Ctrl+{i + 1}")

        buttons = QHBoxLayout()
        self.pdf_button = QPushButton("Weekly &PDF report…")
        self.pdf_button.clicked.connect(self._ask_weekly_report)
        self.feedback_button = QPushButton("Technolo&gist feedback PDF…")
        self.feedback_button.clicked.connect(self._ask_feedback)
        self.csv_button = QPushButton("Export weekly &CSV…")
        self.csv_button.clicked.connect(lambda: self._ask_export("csv"))
        self.xlsx_button = QPushButton("Export weekly &XLSX…")
        self.xlsx_button.clicked.connect(lambda: self._ask_export("xlsx"))
        self.json_button = QPushButton("Export weekly &JSON…")
        self.json_button.clicked.connect(lambda: self._ask_export("json"))
        self.exams_button = QPushButton("Per-exa&m sheet XLSX/CSV…")
        self.exams_button.clicked.connect(self._ask_exams)
        self.chart_button = QPushButton("Save c&hart PNG/SVG…")
        self.chart_button.clicked.connect(self._ask_chart)
        for b in (
            self.csv_button,
            self.xlsx_button,
            self.json_button,
            self.exams_button,
            self.pdf_button,
            self.feedback_button,
            self.chart_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        self.setCentralWidget(central)
        self._build_menu()
        self.refresh()

    # ---------------------------------------------------------------------------------------
    # Layout
    # ---------------------------------------------------------------------------------------

    def _build_weekly_tab(self) -> None:
        page = QWidget()
        layout = QHBoxLayout(page)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.weekly_table = make_table(
            ["Week (Sunday)", *reports.RATE_HEADERS, "Special causes"],
            "qi_weekly",
        )
        left_layout.addWidget(self.weekly_table, 1)
        self.rebaseline_button = QPushButton("Re-&baseline from this week…")
        self.rebaseline_button.setToolTip(
            "Start a new phase (new centre line and limits) at the selected week; "
            "saved as an annotation"
        )
        self.rebaseline_button.clicked.connect(self._ask_rebaseline)
        left_layout.addWidget(self.rebaseline_button)
        self.pchart = MeasureChartWidget()
        split.addWidget(left)
        split.addWidget(self.pchart)
        split.setStretchFactor(1, 3)
        split.setSizes([660, 740])
        layout.addWidget(split)
        self.tabs.addTab(page, "Weekly")

    def _build_run_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        self.rules_combo = QComboBox()
        for key, label in RULE_SETS.items():
            self.rules_combo.addItem(label, key)
        rules_label = QLabel("R&ule set")
        rules_label.setBuddy(self.rules_combo)
        self.rules_combo.currentIndexChanged.connect(self._rules_changed)
        row.addWidget(rules_label)
        row.addWidget(self.rules_combo)
        row.addStretch(1)
        layout.addLayout(row)
        self.run_chart = RunChartWidget()
        layout.addWidget(self.run_chart, 1)
        self.tabs.addTab(page, "Run chart")

    def _build_multiples_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        self.multiples_combo = QComboBox()
        self.multiples_combo.addItem("p-charts", "p")
        self.multiples_combo.addItem("Run charts", "run")
        kind_label = QLabel("Chart &kind")
        kind_label.setBuddy(self.multiples_combo)
        self.multiples_combo.currentIndexChanged.connect(lambda _i: self._fill_multiples())
        row.addWidget(kind_label)
        row.addWidget(self.multiples_combo)
        row.addStretch(1)
        layout.addLayout(row)
        self.multiples = SmallMultiples()
        layout.addWidget(self.multiples, 1)
        self.tabs.addTab(page, "Technologists")

    def _build_annotations_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.annotation_table = make_table(
            ["Date", "Label", "PDSA cycle", "New phase", "Description"], "qi_annotations"
        )
        layout.addWidget(self.annotation_table, 1)
        form = QFormLayout()
        self.note_date = QDateEdit(qdate(dt.date.today()))
        self.note_date.setCalendarPopup(True)
        self.note_date.setDisplayFormat("yyyy-MM-dd")
        self.note_label = QLineEdit()
        self.note_label.setPlaceholderText("e.g. Pectoral muscle coaching")
        self.note_pdsa = QLineEdit()
        self.note_pdsa.setPlaceholderText("e.g. PDSA 2")
        self.note_description = QLineEdit()
        self.note_phase = QCheckBox("Starts a &new phase (new centre line and limits)")
        form.addRow("&Date", self.note_date)
        form.addRow("&Label", self.note_label)
        form.addRow("PDS&A cycle", self.note_pdsa)
        form.addRow("Descr&iption", self.note_description)
        form.addRow("", self.note_phase)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.add_note_button = QPushButton("Add ann&otation")
        self.add_note_button.clicked.connect(self._add_from_form)
        self.delete_note_button = QPushButton("Delete &selected annotation")
        self.delete_note_button.clicked.connect(self._delete_selected)
        row.addWidget(self.add_note_button)
        row.addWidget(self.delete_note_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.tabs.addTab(page, "Annotations")

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&Export")
        for text, slot in (
            ("Weekly submission as &CSV…", lambda: self._ask_export("csv")),
            ("Weekly submission as &XLSX…", lambda: self._ask_export("xlsx")),
            ("Weekly submission as &JSON…", lambda: self._ask_export("json")),
            ("Per-&exam sheet (XLSX or CSV)…", self._ask_exams),
            ("Weekly &PDF report…", self._ask_weekly_report),
            ("Technologist &feedback PDF…", self._ask_feedback),
            ("Save c&hart as PNG or SVG…", self._ask_chart),
        ):
            action = QAction(text, self)
            action.triggered.connect(slot)
            menu.addAction(action)
        view = self.menuBar().addMenu("&View")
        refresh = QAction("&Refresh", self)
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.refresh)
        view.addAction(refresh)
        close = QAction("&Close", self)
        close.setShortcut(QKeySequence.StandardKey.Close)
        close.triggered.connect(self.close)
        view.addAction(close)

    # ---------------------------------------------------------------------------------------
    # Data
    # ---------------------------------------------------------------------------------------

    @property
    def start(self) -> dt.date:
        return pydate(self.from_edit.date())

    @property
    def end(self) -> dt.date:
        return pydate(self.to_edit.date())

    def set_range(self, start: dt.date, end: dt.date) -> None:
        """Show another period (and reload)."""
        self.from_edit.setDate(qdate(start))
        self.to_edit.setDate(qdate(end))
        self.refresh()

    def _dark(self) -> bool:
        return self.palette().window().color().lightness() < 128

    def refresh(self) -> None:
        """Reload everything from the database for the chosen period, widened to whole weeks
        (a week cut by the period would show a wrong weekly number)."""
        from auditdesk.qi.week_range import whole_weeks

        span = whole_weeks(self.start, self.end, "snap") if self.start <= self.end else None
        with self.db.transaction() as session:  # may create the pseudonym secret: keep it
            self.data = reports.load_qi_data(
                session,
                start=span.start if span else self.start,
                end=span.end if span else self.end,
            )
        data = self.data
        s = data.settings
        name = s.site_name or "Site not set up yet (File → Site setup)"
        self.site_label.setText(
            f"<b>{name}</b>" + (f" · {s.collaborative}" if s.collaborative else "")
        )
        self.demo_label.setVisible(s.is_demo)
        title = getattr(data.checklist, "title", None) or "not installed on this computer"
        self.checklist_label.setText(
            f"Measure: exams meeting every criterion of checklist “{s.checklist_id}” ({title})"
            + (f" · goal {s.goal_pct:g} %" if s.goal_pct is not None else "")
        )
        total = measures.overall(data.results)
        self.summary_label.setText(
            f"{len(data.weeks)} week(s) with audits · period total {reports.rate_text(total)}"
            + (f" · {total.not_evaluable} not evaluable" if total.not_evaluable else "")
            + (f" · {span.message()}" if span and span.snapped else "")
        )
        theme = "dark" if self._dark() else "light"
        for chart in (self.pchart, self.run_chart, self.multiples):
            chart.set_theme(theme, redraw=False)  # the fills below draw
        self._fill_weekly()
        self._fill_run()
        self._fill_rollups()
        self._fill_multiples()
        self._fill_annotations()

    def _chart_title(self) -> str:
        assert self.data is not None
        name = self.data.settings.site_name or "Site"
        return f"{name} — % of exams meeting criteria"

    def _fill_weekly(self) -> None:
        assert self.data is not None
        weeks = self.data.weeks
        self.weekly_table.setRowCount(len(weeks))
        for r, w in enumerate(weeks):
            cells = reports.rate_cells(f"{w.week_start:%Y-%m-%d}", w.rate)
            for c, value in enumerate(cells):
                item = table_item(value, number=c > 0, data=w.week_start)
                self.weekly_table.setItem(r, c, item)
            # Why exams were not evaluable: on the count's cell (the exports have a column).
            item.setToolTip(reports.reasons_text(w.not_evaluable_reasons))
        settings = self.data.settings
        self.pchart.set_weeks(
            weeks,
            title=self._chart_title(),
            goal_pct=settings.goal_pct,
            annotations=self._annotations_in_range(),
            rules=site.enabled_rules(settings),
            small_np=settings.spc_small_np,
            today=self.today,
        )
        self._fill_special_causes(weeks)

    def _fill_special_causes(self, weeks: Sequence[measures.WeekRow]) -> None:
        """Last column of the weekly table: the rules that flag the week, and "partial"."""
        from auditdesk.qi.spc_rules import rule_text
        from auditdesk.qi.week_range import PARTIAL

        marked, partial = self.pchart.marked_weeks(), set(self.pchart.partial_weeks())
        column = self.weekly_table.columnCount() - 1
        for r, w in enumerate(weeks):
            words = [PARTIAL] if w.week_start in partial else []
            words += [rule_text(marked.get(w.week_start, ()))] if w.week_start in marked else []
            self.weekly_table.setItem(r, column, table_item("; ".join(words), data=w.week_start))

    def _annotations_in_range(self) -> list[site.Annotation]:
        assert self.data is not None
        return list(self.data.annotations)

    def _fill_run(self) -> None:
        assert self.data is not None
        self.run_chart.set_weeks(
            self.data.weeks,
            rules=self.rules_combo.currentData() or "anhoej",
            title="Run chart — % of exams meeting criteria",
            goal_pct=self.data.settings.goal_pct,
            annotations=self._annotations_in_range(),
        )

    def _rules_changed(self, _index: int) -> None:
        self.run_chart.set_rules(self.rules_combo.currentData() or "anhoej")

    def _fill_rollups(self) -> None:
        assert self.data is not None
        results = self.data.results
        rows: list[list[object]] = []
        if self.data.checklist is not None:
            rows = [criterion_cells(c) for c in measures.by_criterion(results, self.data.checklist)]
        _fill(self.criterion_table, rows)
        for key, groups in (
            ("technologist", measures.by_technologist(results)),
            ("evaluator", measures.by_evaluator(results)),
            ("location", measures.by_location(results)),
        ):
            _fill(self.group_tables[key], [reports.rate_cells(n, r) for n, r in groups.items()])

    def _fill_multiples(self) -> None:
        if self.data is None:
            return
        groups: dict[str, list[measures.ExamResult]] = {}
        for r in self.data.results:
            if r.technologist:
                groups.setdefault(r.technologist, []).append(r)
        self.multiples.set_groups(
            {name: measures.weekly(rs) for name, rs in groups.items()},
            kind=self.multiples_combo.currentData() or "p",
            goal_pct=self.data.settings.goal_pct,
            rules=self.rules_combo.currentData() or "anhoej",
        )

    def _fill_annotations(self) -> None:
        assert self.data is not None
        notes = self.data.annotations
        self.annotation_table.setRowCount(len(notes))
        for r, a in enumerate(notes):
            cells = [f"{a.date:%Y-%m-%d}", a.label, a.pdsa_cycle, "yes" if a.starts_phase else ""]
            cells.append(a.description)
            for c, value in enumerate(cells):
                self.annotation_table.setItem(r, c, table_item(value, data=a.id))

    # ---------------------------------------------------------------------------------------
    # Annotations and phases
    # ---------------------------------------------------------------------------------------

    def add_annotation(
        self,
        day: dt.date,
        label: str,
        description: str = "",
        pdsa_cycle: str = "",
        starts_phase: bool = False,
    ) -> site.Annotation:
        """Store an annotation (a PDSA change or event) and redraw."""
        with self.db.transaction() as session:
            note = site.add_annotation(
                session,
                day,
                label,
                description=description,
                pdsa_cycle=pdsa_cycle,
                starts_phase=starts_phase,
            )
        self.refresh()
        return note

    def delete_annotation(self, annotation_id: int) -> None:
        """Remove an annotation (and the phase it started) and redraw."""
        with self.db.transaction() as session:
            site.delete_annotation(session, annotation_id)
        self.refresh()

    def rebaseline(self, day: dt.date, label: str = "New baseline") -> site.Annotation:
        """Start a new phase at the week containing ``day`` (stored as an annotation)."""
        return self.add_annotation(week_start(day), label, starts_phase=True)

    def selected_week(self) -> dt.date | None:
        row = self.weekly_table.currentRow()
        item = self.weekly_table.item(row, 0) if row >= 0 else None
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _ask_rebaseline(self) -> None:
        day = self.selected_week()
        if day is None:
            self._status("Select the first week of the new phase in the table first.")
            return
        label, ok = QInputDialog.getText(
            self,
            "Re-baseline",
            f"A new phase (centre line and limits) starts in the week of {day:%Y-%m-%d}.\n"
            "Label (e.g. the change that was made):",
            text="New baseline",
        )
        if ok and label.strip():
            self.rebaseline(day, label.strip())

    def _add_from_form(self) -> None:
        label = self.note_label.text().strip()
        if not label:
            self._status("An annotation needs a label.")
            self.note_label.setFocus()
            return
        self.add_annotation(
            pydate(self.note_date.date()),
            label,
            self.note_description.text().strip(),
            self.note_pdsa.text().strip(),
            self.note_phase.isChecked(),
        )
        for edit in (self.note_label, self.note_pdsa, self.note_description):
            edit.clear()
        self.note_phase.setChecked(False)

    def _delete_selected(self) -> None:
        row = self.annotation_table.currentRow()
        item = self.annotation_table.item(row, 0) if row >= 0 else None
        if item is None:
            self._status("Select an annotation to delete.")
            return
        answer = QMessageBox.question(
            self,
            "Delete annotation",
            f"Delete the annotation “{self.annotation_table.item(row, 1).text()}”?",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_annotation(int(item.data(Qt.ItemDataRole.UserRole)))

    # ---------------------------------------------------------------------------------------
    # Exports and reports (path-taking methods; the _ask_* slots add the file dialog)
    # ---------------------------------------------------------------------------------------

    def export_weekly(self, path: str | Path, fmt: str, *, breakdowns: bool = False) -> int:
        """Write the weekly submission for the period (csv | xlsx | json); rows written.

        A period that cuts a week is snapped to whole weeks (the status line says to what) or,
        with the site's "refuse" setting, refused (WeekRangeError, shown by the dialog slot).
        """
        from auditdesk.exchange.weekly import write_weekly
        from auditdesk.qi.week_range import whole_weeks

        with self.db.session() as session:
            span = whole_weeks(self.start, self.end, site.get_site(session).week_policy)
            count = write_weekly(
                session,
                path,
                fmt,
                start=span.start,
                end=span.end,
                breakdowns=breakdowns,
                today=self.today,
            )
        self.last_export_note = span.message() if span.snapped else ""
        self._status(f"Saved {count} week(s) to {path}. {self.last_export_note}".strip())
        return count

    def export_exams(self, path: str | Path) -> int:
        """Write the per-exam sheet (XLSX or CSV by suffix, pseudonymous keys); rows written."""
        from auditdesk.exchange.exam_sheet import write_exam_sheet

        with self.db.session() as session:
            count = write_exam_sheet(session, path, start=self.start, end=self.end)
        self._status(f"Saved {count} exam(s) to {path}")
        return count

    def save_weekly_report(self, path: str | Path, week: dt.date | None = None) -> None:
        """Write the weekly PDF (the selected week, else the latest week with audits)."""
        week = week or self.selected_week()
        reports.write_weekly_report(self.db, path, week=week, start=self.start, end=self.end)
        self._status(f"Saved the weekly report to {path}")

    def save_feedback(self, path: str | Path, technologist: str) -> None:
        """Write one technologist's feedback PDF for the period."""
        reports.write_technologist_feedback(
            self.db, path, technologist, start=self.start, end=self.end
        )
        self._status(f"Saved feedback for {technologist} to {path}")

    def current_chart(self) -> PChartWidget | RunChartWidget | SmallMultiples:
        """The chart of the tab on show (the p-chart when the tab has none)."""
        page = self.tabs.currentWidget()
        for chart in (self.run_chart, self.multiples):
            if page is not None and page.isAncestorOf(chart):
                return chart
        return self.pchart

    def save_chart(self, path: str | Path) -> bool:
        """Save the current chart; SVG when the name ends in .svg, else PNG."""
        chart = self.current_chart()
        ok = (
            chart.export_svg(path) if str(path).lower().endswith(".svg") else chart.export_png(path)
        )
        self._status(f"Saved the chart to {path}" if ok else f"Could not save the chart to {path}")
        return ok

    def technologists(self) -> list[str]:
        """Technologists with counted exams in the period."""
        return [] if self.data is None else reports.technologists_in(self.data)

    # --- dialogs ---------------------------------------------------------------------------

    def ask_save_path(self, title: str, suggested: str, filters: str) -> str | None:
        """A save-file dialog (tests replace this method)."""
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, filters)
        return path or None

    def _stamp(self) -> str:
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    def _ask_export(self, fmt: str) -> None:
        path = self.ask_save_path(
            f"Export weekly submission ({fmt.upper()})",
            f"weekly-{self._stamp()}.{fmt}",
            WEEKLY_FORMATS[fmt],
        )
        if path:
            self._guard(lambda: self.export_weekly(path, fmt))

    def _ask_exams(self) -> None:
        path = self.ask_save_path(
            "Export per-exam sheet",
            f"exams-{self._stamp()}.xlsx",
            f"{WEEKLY_FORMATS['xlsx']};;{WEEKLY_FORMATS['csv']}",
        )
        if path:
            self._guard(lambda: self.export_exams(path))

    def _ask_weekly_report(self) -> None:
        path = self.ask_save_path(
            "Weekly PDF report", f"weekly-report-{self._stamp()}.pdf", "PDF (*.pdf)"
        )
        if path:
            self._guard(lambda: self.save_weekly_report(path))

    def _ask_feedback(self) -> None:
        names = self.technologists()
        if not names:
            self._status("No technologist has audited exams in this period.")
            return
        name, ok = QInputDialog.getItem(
            self, "Technologist feedback", "Feedback report for:", names, 0, False
        )
        if not ok or not name:
            return
        safe = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
        path = self.ask_save_path(
            "Technologist feedback PDF", f"feedback-{safe}.pdf", "PDF (*.pdf)"
        )
        if path:
            self._guard(lambda: self.save_feedback(path, name))

    def _ask_chart(self) -> None:
        path = self.ask_save_path(
            "Save chart", f"chart-{self._stamp()}.png", "PNG image (*.png);;SVG drawing (*.svg)"
        )
        if path:
            self._guard(lambda: self.save_chart(path))

    def _guard(self, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "AuditDesk", f"That did not work: {exc}")

    def _status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)
