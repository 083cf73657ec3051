"""The coach's agreement dashboard: do reviewers apply the criteria the same way?

Opened from Reports → Reviewer agreement. Every number is computed by ``auditdesk.review.agreement``
through ``agreement_report.load_agreement_data`` (the same call the PDF makes), so the screen,
the CSV and the PDF agree. Tabs:

* Items: one row per answer key, item, derived score and measurement with percent agreement,
  κ (weighted for ordinal items), Gwet's AC1/AC2, Krippendorff's α and the ICC, each with its
  95 % interval; selecting a row shows its confusion matrix and how often each answer was given
  (a high agreement with a low κ is then explained by one dominant answer).
* Reviewer matrix: Cohen's κ for every pair of reviewers, coloured.
* Trend: agreement over time (is calibration improving?).
* Calibration: calibration sets and, in learning mode, one reviewer's answers against the
  coach's reference, item by item; shown to that reviewer only (and to coaches).

Reviewer packages from other workstations are imported here (and one's own exported). File
dialogs only pick a path: every action also exists as a method taking the path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from auditdesk.qi import site
from auditdesk.review import agreement
from auditdesk.store.db import Database
from auditdesk.store.models import ChecklistVersion, Reviewer
from auditdesk.ui.common import make_table, pydate, qdate, table_item
from auditdesk.ui.review import agreement_report as fmt
from auditdesk.ui.review.agreement_calibration import CalibrationTab
from auditdesk.ui.review.agreement_charts import AgreementTrendChart, PrevalenceChart, kappa_colour

ITEM_HEADERS = [
    "Item",
    "Kind",
    "Exams",
    "Reviewers",
    "% agreement (95 % CI)",
    "κ (95 % CI)",
    "κ described as",
    "Gwet AC1/AC2 (95 % CI)",
    "Krippendorff α (95 % CI)",
    "ICC (95 % CI)",
    "Prevalence of answers",
]
COL_KAPPA = ITEM_HEADERS.index("κ (95 % CI)")
COL_PERCENT = ITEM_HEADERS.index("% agreement (95 % CI)")


# --------------------------------------------------------------------------------------------
# The window
# --------------------------------------------------------------------------------------------


class AgreementWindow(CalibrationTab, QMainWindow):
    """Agreement between reviewers over one database (Reports → Reviewer agreement)."""

    def __init__(
        self, db: Database, parent: QWidget | None = None, reviewer_pk: int | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.reviewer_pk = reviewer_pk
        self.data: fmt.AgreementData | None = None
        self.rows: list[agreement.ItemAgreement] = []
        self.last_import: Any = None
        self.setObjectName("agreement_window")
        self.setWindowTitle("Reviewer agreement — AuditDesk")
        self.resize(1400, 900)

        with db.session() as session:
            settings = site.get_site(session)
            self._reviewers = {
                r.id: (r.name, r.role)
                for r in session.scalars(select(Reviewer).order_by(Reviewer.name))
            }
            checklist_ids = sorted(
                set(session.scalars(select(ChecklistVersion.checklist_id).distinct()))
                | {settings.checklist_id}
            )
            technologists = [t.name for t in site.list_technologists(session)]
        self.settings = settings

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 8)

        top = QHBoxLayout()
        self.site_label = QLabel()
        self.site_label.setObjectName("agreement_site")
        self.demo_label = QLabel("DEMO DATA")
        self.demo_label.setObjectName("agreement_demo")
        self.demo_label.hide()
        top.addWidget(self.site_label)
        top.addWidget(self.demo_label)
        top.addStretch(1)
        outer.addLayout(top)

        filters = QGridLayout()
        self.all_dates = QCheckBox("&All dates")
        self.all_dates.setChecked(True)
        today = dt.date.today()
        self.from_edit = QDateEdit(qdate(today - dt.timedelta(weeks=12)))
        self.to_edit = QDateEdit(qdate(today))
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.all_dates.toggled.connect(self._dates_toggled)
        self._dates_toggled(True)
        from_label = QLabel("&From")
        from_label.setBuddy(self.from_edit)
        to_label = QLabel("&To")
        to_label.setBuddy(self.to_edit)
        self.checklist_combo = QComboBox()
        for cid in checklist_ids:
            self.checklist_combo.addItem(cid, cid)
        self.checklist_combo.setCurrentIndex(max(0, checklist_ids.index(settings.checklist_id)))
        checklist_label = QLabel("Chec&klist")
        checklist_label.setBuddy(self.checklist_combo)
        self.technologist_combo = QComboBox()
        self.technologist_combo.addItem("All technologists", None)
        for name in technologists:
            self.technologist_combo.addItem(name, name)
        tech_label = QLabel("Tec&hnologist")
        tech_label.setBuddy(self.technologist_combo)
        self.reviewer_list = QListWidget()
        self.reviewer_list.setObjectName("agreement_reviewers")
        self.reviewer_list.setMaximumHeight(84)
        self.reviewer_list.setToolTip("Tick reviewers to compare only them; none ticked: everyone")
        for pk, (name, role) in sorted(self._reviewers.items(), key=lambda kv: kv[1][0]):
            item = QListWidgetItem(f"{name} ({role.replace('_', ' ')})")
            item.setData(Qt.ItemDataRole.UserRole, pk)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.reviewer_list.addItem(item)
        reviewers_label = QLabel("Re&viewers")
        reviewers_label.setBuddy(self.reviewer_list)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        filters.addWidget(self.all_dates, 0, 0)
        filters.addWidget(from_label, 0, 1)
        filters.addWidget(self.from_edit, 0, 2)
        filters.addWidget(to_label, 0, 3)
        filters.addWidget(self.to_edit, 0, 4)
        filters.addWidget(checklist_label, 1, 1)
        filters.addWidget(self.checklist_combo, 1, 2)
        filters.addWidget(tech_label, 1, 3)
        filters.addWidget(self.technologist_combo, 1, 4)
        filters.addWidget(reviewers_label, 0, 5, Qt.AlignmentFlag.AlignTop)
        filters.addWidget(self.reviewer_list, 0, 6, 2, 1)
        filters.addWidget(self.refresh_button, 1, 7)
        filters.setColumnStretch(6, 1)
        outer.addLayout(filters)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("agreement_summary")
        self.summary_label.setWordWrap(True)
        outer.addWidget(self.summary_label)

        self.tabs = QTabWidget()
        outer.addWidget(self.tabs, 1)
        self._build_items_tab()
        self._build_matrix_tab()
        self._build_trend_tab()
        self._build_calibration_tab()
        for i in range(self.tabs.count()):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self)
            shortcut.activated.connect(lambda i=i: self.tabs.setCurrentIndex(i))
            self.tabs.setTabToolTip(i, f"Ctrl+{i + 1}")

        buttons = QHBoxLayout()
        self.csv_button = QPushButton("Export &CSV…")
        self.csv_button.clicked.connect(self._ask_csv)
        self.pdf_button = QPushButton("&PDF report…")
        self.pdf_button.clicked.connect(self._ask_pdf)
        self.import_button = QPushButton("&Import reviewer package…")
        self.import_button.clicked.connect(self._ask_import)
        self.export_package_button = QPushButton("Export &my package…")
        self.export_package_button.clicked.connect(self._ask_export_package)
        self.export_package_button.setEnabled(reviewer_pk is not None)
        if reviewer_pk is None:
            self.export_package_button.setToolTip("Choose your reviewer profile first")
        for b in (self.csv_button, self.pdf_button, self.import_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.export_package_button)
        outer.addLayout(buttons)
        self.setCentralWidget(central)
        self._build_menu()
        self.refresh()

    # ---------------------------------------------------------------------------------------
    # Layout
    # ---------------------------------------------------------------------------------------

    def _build_items_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.items_table = make_table(ITEM_HEADERS, "agreement_items")
        self.items_table.itemSelectionChanged.connect(self._item_selected)
        header = self.items_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.items_table.setColumnWidth(0, 300)
        self.items_table.setWordWrap(False)
        split.addWidget(self.items_table)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        self.detail_label = QLabel("Select an item to see how the reviewers' answers compare.")
        self.detail_label.setObjectName("agreement_detail")
        self.detail_label.setWordWrap(True)
        side_layout.addWidget(self.detail_label)
        self.confusion_table = make_table([], "agreement_confusion")
        self.confusion_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.confusion_table.verticalHeader().setVisible(True)
        self.confusion_table.setMaximumHeight(180)
        side_layout.addWidget(self.confusion_table)
        self.paradox_label = QLabel()
        self.paradox_label.setObjectName("agreement_paradox")
        self.paradox_label.setWordWrap(True)
        side_layout.addWidget(self.paradox_label)
        self.prevalence_chart = PrevalenceChart()
        side_layout.addWidget(self.prevalence_chart, 1)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([1000, 380])
        layout.addWidget(split)
        self.tabs.addTab(page, "Items")

    def _build_matrix_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        self.matrix_combo = QComboBox()
        self.matrix_combo.currentIndexChanged.connect(lambda _i: self._fill_matrix())
        label = QLabel("Ite&m")
        label.setBuddy(self.matrix_combo)
        row.addWidget(label)
        row.addWidget(self.matrix_combo)
        row.addStretch(1)
        layout.addLayout(row)
        self.matrix_table = make_table([], "agreement_matrix")
        self.matrix_table.verticalHeader().setVisible(True)
        self.matrix_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.matrix_table.horizontalHeader().setStretchLastSection(False)
        self.matrix_table.horizontalHeader().setMinimumSectionSize(120)
        layout.addWidget(self.matrix_table, 1)
        note = QLabel(
            "Cohen's κ between each pair of reviewers on the exams both read (n), with its 95 % "
            "interval in the tooltip. Colours follow the Landis–Koch bands, as a description only."
        )
        note.setObjectName("agreement_note")
        note.setWordWrap(True)
        layout.addWidget(note)
        self.matrix: dict[tuple[int, int], agreement.Estimate] = {}
        self.tabs.addTab(page, "Reviewer matrix")

    def _build_trend_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        self.trend_combo = QComboBox()
        label = QLabel("It&em")
        label.setBuddy(self.trend_combo)
        self.trend_weeks = QSpinBox()
        self.trend_weeks.setRange(1, 26)
        self.trend_weeks.setValue(4)
        self.trend_weeks.setSuffix(" weeks")
        weeks_label = QLabel("&Weeks per point")
        weeks_label.setBuddy(self.trend_weeks)
        self.trend_combo.currentIndexChanged.connect(lambda _i: self._fill_trend())
        self.trend_weeks.valueChanged.connect(lambda _v: self._fill_trend())
        for w in (label, self.trend_combo, weeks_label, self.trend_weeks):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        self.trend_chart = AgreementTrendChart()
        layout.addWidget(self.trend_chart, 1)
        self.trend: list[tuple[dt.date, agreement.Estimate]] = []
        self.tabs.addTab(page, "Trend")

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, slot in (
            ("Export agreement &CSV…", self._ask_csv),
            ("Agreement &PDF report…", self._ask_pdf),
            ("&Import reviewer package…", self._ask_import),
            ("Export &my package…", self._ask_export_package),
        ):
            action = QAction(text, self)
            action.triggered.connect(slot)
            menu.addAction(action)
        menu.addSeparator()
        close = QAction("&Close", self)
        close.setShortcut(QKeySequence.StandardKey.Close)
        close.triggered.connect(self.close)
        menu.addAction(close)
        view = self.menuBar().addMenu("&View")
        refresh = QAction("&Refresh", self)
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.refresh)
        view.addAction(refresh)

    # ---------------------------------------------------------------------------------------
    # Filter
    # ---------------------------------------------------------------------------------------

    def _dates_toggled(self, all_dates: bool) -> None:
        self.from_edit.setEnabled(not all_dates)
        self.to_edit.setEnabled(not all_dates)

    def selected_reviewers(self) -> tuple[int, ...]:
        out = []
        for i in range(self.reviewer_list.count()):
            item = self.reviewer_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return tuple(out)

    def current_filter(self) -> agreement.AgreementFilter:
        """The filter the widgets describe."""
        start = end = None
        if not self.all_dates.isChecked():
            start, end = pydate(self.from_edit.date()), pydate(self.to_edit.date())
        return agreement.AgreementFilter(
            checklist_id=self.checklist_combo.currentData() or self.settings.checklist_id,
            start=start,
            end=end,
            reviewer_pks=self.selected_reviewers(),
            technologist=self.technologist_combo.currentData(),
        )

    def set_filter(
        self,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        reviewer_pks: Sequence[int] = (),
        technologist: str | None = None,
        checklist_id: str | None = None,
    ) -> None:
        """Show another selection (and reload); no dates: all dates."""
        self.all_dates.setChecked(start is None and end is None)
        if start is not None:
            self.from_edit.setDate(qdate(start))
        if end is not None:
            self.to_edit.setDate(qdate(end))
        wanted = set(reviewer_pks)
        for i in range(self.reviewer_list.count()):
            item = self.reviewer_list.item(i)
            on = int(item.data(Qt.ItemDataRole.UserRole)) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        index = self.technologist_combo.findData(technologist)
        self.technologist_combo.setCurrentIndex(max(0, index))
        if checklist_id is not None:
            index = self.checklist_combo.findData(checklist_id)
            if index < 0:
                self.checklist_combo.addItem(checklist_id, checklist_id)
                index = self.checklist_combo.count() - 1
            self.checklist_combo.setCurrentIndex(index)
        self.refresh()

    # ---------------------------------------------------------------------------------------
    # Data
    # ---------------------------------------------------------------------------------------

    def _dark(self) -> bool:
        return self.palette().window().color().lightness() < 128

    def refresh(self) -> None:
        """Reload everything for the current filter."""
        flt = self.current_filter()
        with self.db.session() as session:
            self.data = fmt.load_agreement_data(session, flt)
            self.settings = self.data.settings
        self.rows = self.data.rows
        s = self.settings
        name = s.site_name or "Site not set up yet (File → Site setup in the main window)"
        self.site_label.setText(f"<b>{name}</b>")
        self.demo_label.setVisible(s.is_demo)
        theme = "dark" if self._dark() else "light"
        for chart in (self.prevalence_chart, self.trend_chart):
            chart.set_theme(theme, redraw=False)
        self._fill_summary()
        self._fill_items()
        self._fill_target_combos()
        self._fill_matrix()
        self._fill_trend()
        self._fill_calibration_sets()

    def row_for(self, target: str) -> agreement.ItemAgreement | None:
        return next((r for r in self.rows if r.target == target), None)

    def _fill_summary(self) -> None:
        assert self.data is not None
        flt = self.data.flt
        headline = self.row_for(fmt.MATRIX_TARGET)
        parts = [
            f"Checklist {flt.checklist_id}"
            + (f" ({self.data.checklist_title})" if self.data.checklist_title else ""),
            fmt.period_text(flt),
        ]
        if headline is not None and headline.n_subjects:
            name, kappa = fmt.main_kappa(headline)
            parts.append(
                f"meets all criteria: {fmt.share(headline.percent.value)} agreement on "
                f"{headline.n_subjects} exams read by two or more reviewers, {name} "
                f"{fmt.with_ci(kappa)}"
            )
        elif not any(r.n_subjects for r in self.rows):
            parts.append("no exam was read by two or more reviewers with complete audits")
        self.summary_label.setText(" · ".join(parts))

    def _fill_items(self) -> None:
        table = self.items_table
        table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            _name, kappa = fmt.main_kappa(row)
            measured = fmt.is_measurement(row)
            cells: list[tuple[object, bool]] = [
                (fmt.target_title(row), False),
                (row.kind, False),
                (row.n_subjects, True),
                (row.n_raters, True),
                ("–" if measured else fmt.with_ci(row.percent, percent=True), True),
                (fmt.with_ci(kappa), True),
                (fmt.lk_label(kappa), False),
                ("–" if measured else fmt.with_ci(row.ac1), True),
                (fmt.with_ci(row.alpha), True),
                (fmt.with_ci(row.icc), True),
                ("–" if measured else fmt.prevalence_text(row.prevalence), False),
            ]
            for c, (value, number) in enumerate(cells):
                item = table_item(value, number=number, data=row.target)
                if c == 0:
                    item.setToolTip(row.target)
                if c == COL_KAPPA and kappa is not None and kappa.value is not None:
                    item.setToolTip(f"{_name}, SE {fmt.num(kappa.se, 3)}")
                table.setItem(r, c, item)
        self._item_selected()

    def kappa_text(self, target: str) -> str:
        """The κ cell of a target's row, as shown."""
        for r in range(self.items_table.rowCount()):
            if self.items_table.item(r, 0).data(Qt.ItemDataRole.UserRole) == target:
                return self.items_table.item(r, COL_KAPPA).text()
        raise KeyError(target)

    def select_target(self, target: str) -> None:
        for r in range(self.items_table.rowCount()):
            if self.items_table.item(r, 0).data(Qt.ItemDataRole.UserRole) == target:
                self.items_table.selectRow(r)
                return
        raise KeyError(target)

    def selected_target(self) -> str | None:
        row = self.items_table.currentRow()
        rows = self.items_table.selectionModel().selectedRows() if self.items_table.model() else []
        if rows:
            row = rows[0].row()
        item = self.items_table.item(row, 0) if row >= 0 else None
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _item_selected(self) -> None:
        target = self.selected_target()
        row = self.row_for(target) if target else None
        self.confusion_table.clear()
        self.confusion_table.setRowCount(0)
        self.confusion_table.setColumnCount(0)
        if row is None:
            self.detail_label.setText("Select an item to see how the reviewers' answers compare.")
            self.paradox_label.clear()
            self.prevalence_chart.clear()
            return
        title = fmt.target_title(row)
        self.detail_label.setText(
            f"<b>{title}</b> — {row.n_subjects} exams, {row.n_raters} reviewers"
        )
        self.paradox_label.setText(fmt.paradox_sentence(row))
        if not fmt.is_measurement(row):
            self.prevalence_chart.set_prevalence(title, row.prevalence)
        else:
            self.prevalence_chart.clear()
        if row.confusion:
            categories, counts = row.confusion
            names = self._pair_names(row.target)
            labels = [fmt.answer_text(c) for c in categories]
            self.confusion_table.setRowCount(len(labels))
            self.confusion_table.setColumnCount(len(labels))
            self.confusion_table.setHorizontalHeaderLabels([f"{names[1]}: {t}" for t in labels])
            self.confusion_table.setVerticalHeaderLabels([f"{names[0]}: {t}" for t in labels])
            for i, line in enumerate(counts):
                for j, n in enumerate(line):
                    item = table_item(n, number=True)
                    if i == j:
                        font = item.font()
                        font.setBold(True)
                        item.setFont(font)
                    self.confusion_table.setItem(i, j, item)

    def _pair_names(self, target: str) -> tuple[str, str]:
        """The two reviewers of a confusion matrix (generic names when unknown)."""
        try:
            with self.db.session() as session:
                _studies, reviewers, _m = agreement.rating_table(
                    session, self.current_filter(), target
                )
        except Exception:  # a label only: never fail the selection over it
            reviewers = []
        if len(reviewers) == 2:
            return tuple(self._reviewers.get(pk, (f"Reviewer {pk}", ""))[0] for pk in reviewers)  # type: ignore[return-value]
        return ("Reviewer A", "Reviewer B")

    def _fill_target_combos(self) -> None:
        for combo in (self.matrix_combo, self.trend_combo):
            wanted = combo.currentData() or fmt.MATRIX_TARGET
            combo.blockSignals(True)
            combo.clear()
            for row in self.rows:
                if not fmt.is_measurement(row) and row.target != "overall":
                    combo.addItem(fmt.target_title(row), row.target)
            if combo.findData(fmt.MATRIX_TARGET) < 0:
                combo.insertItem(0, "Meets all criteria", fmt.MATRIX_TARGET)
            combo.setCurrentIndex(max(0, combo.findData(wanted)))
            combo.blockSignals(False)

    def _fill_matrix(self) -> None:
        target = self.matrix_combo.currentData() or fmt.MATRIX_TARGET
        if self.data is not None and target == fmt.MATRIX_TARGET:
            self.matrix = dict(self.data.matrix)
        else:
            with self.db.session() as session:
                self.matrix = dict(
                    agreement.pairwise_matrix(session, self.current_filter(), target)
                )
        pks = fmt.reviewer_pks_in(self.matrix)
        names = [self._reviewers.get(pk, (f"Reviewer {pk}", ""))[0] for pk in pks]
        table = self.matrix_table
        table.clear()
        table.setRowCount(len(pks))
        table.setColumnCount(len(pks))
        table.setHorizontalHeaderLabels(names)
        table.setVerticalHeaderLabels(names)
        for i, a in enumerate(pks):
            for j, b in enumerate(pks):
                if a == b:
                    table.setItem(i, j, table_item("—"))
                    continue
                est = fmt.matrix_estimate(self.matrix, a, b)
                value = None if est is None else est.value
                text = "–" if est is None else f"{fmt.num(value)}  (n {est.n_subjects})"
                item = table_item(text, number=True, data=value)
                if est is not None:
                    item.setToolTip(
                        f"{names[i]} vs {names[j]}: κ {fmt.with_ci(est)} on {est.n_subjects} "
                        f"exams" + (f" — {fmt.lk_label(est)}" if fmt.lk_label(est) else "")
                    )
                colour = kappa_colour(value)
                if colour:
                    item.setBackground(QBrush(QColor(colour)))
                    item.setForeground(QBrush(QColor("#1a1a1a")))
                table.setItem(i, j, item)

    def matrix_value(self, a: int, b: int) -> float | None:
        est = fmt.matrix_estimate(self.matrix, a, b)
        return None if est is None else est.value

    def _fill_trend(self) -> None:
        target = self.trend_combo.currentData() or fmt.MATRIX_TARGET
        with self.db.session() as session:
            self.trend = list(
                agreement.agreement_trend(
                    session,
                    self.current_filter(),
                    target,
                    weeks_per_point=self.trend_weeks.value(),
                )
            )
        self.trend_chart.set_trend(
            f"Agreement over time — {self.trend_combo.currentText() or 'meets all criteria'}",
            self.trend,
        )

    # ---------------------------------------------------------------------------------------
    # Exports and packages (path-taking methods; the _ask_* slots add the file dialog)
    # ---------------------------------------------------------------------------------------

    def export_csv(self, path: str | Path) -> int:
        """Write the agreement rows shown as CSV; rows written."""
        count = agreement.write_agreement_csv(self.rows, path)
        self._status(f"Saved {count} row(s) to {path}")
        return count

    def save_pdf(self, path: str | Path) -> None:
        """Write the agreement PDF report for the current filter."""
        fmt.write_agreement_pdf(self.db, path, self.current_filter())
        self._status(f"Saved the agreement report to {path}")

    def import_package_file(self, path: str | Path) -> Any:
        """Import a reviewer package (idempotent) and reload; returns the ImportReport."""
        from auditdesk.exchange import package

        with self.db.transaction() as session:
            report = package.import_package(session, path)
        self.last_import = report
        self._reload_reviewers()
        self.refresh()
        return report

    def export_my_package(self, path: str | Path) -> int:
        """Export this reviewer's audits as a package for the coach; audits written."""
        from auditdesk.exchange import package

        if self.reviewer_pk is None:
            raise ValueError("Choose your reviewer profile first: a package holds one reviewer.")
        with self.db.transaction() as session:  # may create the site secret: keep it
            count = package.export_package(session, path, reviewer_pks=[self.reviewer_pk])
        self._status(f"Saved {count} audit(s) to {path}")
        return count

    @staticmethod
    def import_report_text(report: Any) -> str:
        """The ImportReport in sentences, for the message box."""
        lines = [
            f"Audits added: {report.added}",
            f"Already here, unchanged: {report.unchanged}",
            f"Updated: {report.updated}",
        ]
        created = list(getattr(report, "reviewers_created", []) or [])
        if created:
            lines.append("New reviewer profiles: " + ", ".join(created))
        conflicts = list(report.conflicts or [])
        if conflicts:
            lines.append(f"\n{len(conflicts)} conflict(s): the local answer was kept in each case:")
            lines += [f"  • {c}" for c in conflicts[:20]]
            if len(conflicts) > 20:
                lines.append(f"  … and {len(conflicts) - 20} more")
        missing = list(report.missing_exams or [])
        if missing:
            lines.append(
                f"\n{len(missing)} exam(s) are not on this computer yet (import their images, "
                "then import the package again):"
            )
            lines += [f"  • {m}" for m in missing[:20]]
            if len(missing) > 20:
                lines.append(f"  … and {len(missing) - 20} more")
        return "\n".join(lines)

    def _reload_reviewers(self) -> None:
        with self.db.session() as session:
            reviewers = {
                r.id: (r.name, r.role)
                for r in session.scalars(select(Reviewer).order_by(Reviewer.name))
            }
        for pk, (name, role) in sorted(reviewers.items(), key=lambda kv: kv[1][0]):
            if pk in self._reviewers:
                continue
            item = QListWidgetItem(f"{name} ({role.replace('_', ' ')})")
            item.setData(Qt.ItemDataRole.UserRole, pk)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.reviewer_list.addItem(item)
        self._reviewers = reviewers

    # --- dialogs ---------------------------------------------------------------------------

    def ask_save_path(self, title: str, suggested: str, filters: str) -> str | None:
        """A save-file dialog (tests replace this method)."""
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, filters)
        return path or None

    def ask_open_path(self, title: str, filters: str) -> str | None:
        """An open-file dialog (tests replace this method)."""
        path, _ = QFileDialog.getOpenFileName(self, title, "", filters)
        return path or None

    def inform(self, title: str, text: str) -> None:
        """A message box (tests replace this method)."""
        QMessageBox.information(self, title, text)

    def warn(self, text: str) -> None:
        """A warning box (tests replace this method)."""
        QMessageBox.warning(self, "AuditDesk", text)

    def _stamp(self) -> str:
        flt = self.current_filter()
        if flt.start and flt.end:
            return f"{flt.start:%Y%m%d}-{flt.end:%Y%m%d}"
        return f"{dt.date.today():%Y%m%d}"

    def _ask_csv(self) -> None:
        path = self.ask_save_path(
            "Export agreement CSV", f"agreement-{self._stamp()}.csv", "CSV (*.csv)"
        )
        if path:
            self._guard(lambda: self.export_csv(path))

    def _ask_pdf(self) -> None:
        path = self.ask_save_path(
            "Agreement PDF report", f"agreement-{self._stamp()}.pdf", "PDF (*.pdf)"
        )
        if path:
            self._guard(lambda: self.save_pdf(path))

    def _package_filter(self) -> str:
        from auditdesk.exchange.package import PACKAGE_SUFFIX

        return f"AuditDesk reviewer package (*{PACKAGE_SUFFIX});;All files (*)"

    def _ask_import(self) -> None:
        path = self.ask_open_path("Import reviewer package", self._package_filter())
        if not path:
            return
        try:
            report = self.import_package_file(path)
        except (OSError, ValueError) as exc:  # PackageError is a ValueError
            self.warn(f"The package was not imported: {exc}")
            return
        self.inform("Reviewer package imported", self.import_report_text(report))

    def _ask_export_package(self) -> None:
        from auditdesk.exchange.package import PACKAGE_SUFFIX

        if self.reviewer_pk is None:
            self.warn("Choose your reviewer profile first: a package holds one reviewer's audits.")
            return
        name = self._reviewers.get(self.reviewer_pk, ("reviewer", ""))[0]
        safe = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-") or "reviewer"
        path = self.ask_save_path(
            "Export my reviewer package",
            f"audits-{safe}-{dt.date.today():%Y%m%d}{PACKAGE_SUFFIX}",
            self._package_filter(),
        )
        if path:
            self._guard(lambda: self.export_my_package(path))

    def _guard(self, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except (OSError, ValueError) as exc:
            self.warn(f"That did not work: {exc}")

    def _status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)


__all__ = ["AgreementWindow"]
