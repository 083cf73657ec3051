"""Site → Draw this week's sample…: choose the exams of a week to audit, and who reads them.

Why it is shaped like this:

* **The last complete week first.** Audits run a few days behind; the week offered first is
  the newest Sunday-Saturday week that has ended and has mammograms.
* **The seed is the record.** A blank seed draws a random one; the seed used is shown after
  drawing (and stored with the plan), so anyone can redraw the same week and get the same exams.
* **No patient data.** The result lists procedure date, technologist and reviewers only.
* The rules (reproducible draw, no redraw once auditing started) live in ``auditdesk.qi.sampling``;
  its refusals are shown as they are, one sentence.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from auditdesk.qi import sampling
from auditdesk.qi.site import technologist_resolver
from auditdesk.reading.weeks import week_label, week_start
from auditdesk.store.audits import list_reviewers
from auditdesk.store.db import Database
from auditdesk.store.models import Reviewer, Study

MODE_CHOICES = (("Per technologist", "per_technologist"), ("Overall", "overall"))
RESULT_COLUMNS = ("Procedure date", "Technologist", "Primary reviewer", "Second reviewer")


def mammo_weeks(db: Database) -> list[tuple[dt.date, int, int]]:
    """(week start, mammograms, eligible screening exams) per week with mammograms, newest
    first."""
    with db.session() as session:
        counts: dict[dt.date, int] = {}
        for d in session.scalars(
            select(Study.procedure_date).where(
                Study.kind == "mammo", Study.procedure_date.is_not(None)
            )
        ):
            counts[week_start(d)] = counts.get(week_start(d), 0) + 1
        return [
            (w, counts[w], len(sampling.eligible_studies(session, w, screening_only=True)))
            for w in sorted(counts, reverse=True)
        ]


def default_week(weeks: list[dt.date], today: dt.date | None = None) -> dt.date | None:
    """The newest week that has ended (Saturday before today) among ``weeks``; else the newest."""
    today = today or dt.date.today()
    ended = [w for w in weeks if w + dt.timedelta(days=6) < today]
    if ended:
        return max(ended)
    return max(weeks) if weeks else None


class SamplingDialog(QDialog):
    """Draw (or look at) the audit sample of a week."""

    def __init__(
        self, db: Database, parent: QWidget | None = None, reviewer_pk: int | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.reviewer_pk = reviewer_pk
        self.last_seed: int | None = None
        self.items: list[sampling.SampleItem] = []
        self.setWindowTitle("Draw the week's audit sample")
        self.setMinimumSize(640, 560)

        self.week_combo = QComboBox(self)
        self._weeks = mammo_weeks(db)
        for week, total, eligible in self._weeks:
            self.week_combo.addItem(
                f"{week_label(week)}  ({eligible} eligible of {total} mammograms)",
                week.isoformat(),
            )
        chosen = default_week([w for w, _t, _e in self._weeks])
        if chosen is not None:
            self.week_combo.setCurrentIndex(self.week_combo.findData(chosen.isoformat()))
        self.mode_combo = QComboBox(self)
        for text, value in MODE_CHOICES:
            self.mode_combo.addItem(text, value)
        self.n_spin = QSpinBox(self)
        self.n_spin.setRange(1, 500)
        self.n_spin.setValue(5)
        self.n_spin.setToolTip("Exams per technologist (or per week, overall)")
        self.seed_edit = QLineEdit(self)
        self.seed_edit.setPlaceholderText("blank = random (shown after drawing)")
        self.second_spin = QDoubleSpinBox(self)
        self.second_spin.setRange(0, 100)
        self.second_spin.setDecimals(0)
        self.second_spin.setSuffix(" %")
        self.second_spin.setValue(15)
        self.second_spin.setToolTip("Share of sampled exams also read by a second reviewer")
        self.screening_check = QCheckBox("Screening 4-view exams only", self)
        self.screening_check.setChecked(True)
        self.reviewer_list = QListWidget(self)
        self.reviewer_list.setMaximumHeight(120)
        with db.session() as session:
            reviewers = [(r.id, r.name) for r in list_reviewers(session)]
        for pk, name in reviewers:
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, pk)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.reviewer_list.addItem(item)

        form = QFormLayout()
        form.addRow("Week", self.week_combo)
        form.addRow("Sample", self.mode_combo)
        form.addRow("Exams (N)", self.n_spin)
        form.addRow("Seed", self.seed_edit)
        form.addRow("Second reviewer", self.second_spin)
        form.addRow("Reviewers to assign", self.reviewer_list)
        form.addRow("", self.screening_check)

        self.draw_button = QPushButton("Draw", self)
        self.draw_button.setDefault(True)
        self.draw_button.clicked.connect(self.draw)
        self.seed_label = QLabel(self)
        self.seed_label.setObjectName("hint")
        self.seed_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #ff8a80;")
        self.pacs_button = QPushButton("From PACS…", self)
        self.pacs_button.setToolTip(
            "Query a PACS for the week's mammograms, draw the sample there and retrieve only it"
        )
        self.pacs_button.clicked.connect(self.from_pacs)
        draw_row = QHBoxLayout()
        draw_row.addWidget(self.draw_button)
        draw_row.addWidget(self.pacs_button)
        draw_row.addWidget(self.seed_label, 1)

        self.table = QTableWidget(0, len(RESULT_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(RESULT_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(draw_row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.week_combo.currentIndexChanged.connect(self._show_stored)
        if not self._weeks:
            self.draw_button.setEnabled(False)
            self.error_label.setText("No mammograms are indexed yet; import studies first.")
        self._show_stored()

    # ------------------------------------------------------------------ values
    def week(self) -> dt.date | None:
        value = self.week_combo.currentData()
        return dt.date.fromisoformat(value) if value else None

    def set_week(self, week: dt.date) -> None:
        index = self.week_combo.findData(week_start(week).isoformat())
        if index >= 0:
            self.week_combo.setCurrentIndex(index)

    def chosen_reviewers(self) -> list[int]:
        out = []
        for row in range(self.reviewer_list.count()):
            item = self.reviewer_list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def plan(self) -> sampling.SamplePlan:
        """The plan as entered; ValueError with a sentence for a seed that is not a number."""
        week = self.week()
        if week is None:
            raise ValueError("Choose a week first.")
        text = self.seed_edit.text().strip()
        seed = None
        if text:
            try:
                seed = int(text)
            except ValueError:
                raise ValueError(
                    f"The seed must be a whole number (or blank for a random one), not '{text}'."
                ) from None
        return sampling.SamplePlan(
            week_start=week,
            mode=self.mode_combo.currentData(),
            n=self.n_spin.value(),
            seed=seed,
            second_share=self.second_spin.value() / 100.0,
            screening_only=self.screening_check.isChecked(),
            reviewer_pks=self.chosen_reviewers(),
        )

    # ------------------------------------------------------------------ actions
    def draw(self) -> bool:
        """Draw and store the sample; False (with the reason shown) when refused."""
        try:
            plan = self.plan()
            with self.db.transaction() as session:
                seed, items = sampling.draw_sample(session, plan, created_by=self.reviewer_pk)
        except (ValueError, sampling.SamplingError) as exc:
            self.error_label.setText(str(exc))
            return False
        self.error_label.setText("")
        self.last_seed = seed
        self._show(items, seed, drawn=True)
        return True

    def from_pacs(self) -> QDialog:
        """Import from PACS, preset to this week's mammograms and this dialog's sample settings;
        the week list is rebuilt once the sampled exams are indexed."""
        from auditdesk.ui.common.pacs_dialog import PacsImportDialog

        week = self.week() or week_start(dt.date.today() - dt.timedelta(days=7))
        dialog = PacsImportDialog(self.db, self)
        dialog.preset_sample(
            week, n=self.n_spin.value(), mode=self.mode_combo.currentData(),
            seed=self.seed_edit.text().strip(),
        )  # fmt: skip
        dialog.imported.connect(lambda _result: self._reload_weeks())
        dialog.open()
        return dialog

    def _reload_weeks(self) -> None:
        current = self.week_combo.currentData()
        self._weeks = mammo_weeks(self.db)
        self.week_combo.clear()
        for week, total, eligible in self._weeks:
            self.week_combo.addItem(
                f"{week_label(week)}  ({eligible} eligible of {total} mammograms)",
                week.isoformat(),
            )
        index = self.week_combo.findData(current)
        if index >= 0:
            self.week_combo.setCurrentIndex(index)
        if self._weeks:
            self.draw_button.setEnabled(True)
            self.error_label.setText("")

    def _show_stored(self, *_args: object) -> None:
        """Show the week's current sample, if one was drawn before."""
        week = self.week()
        if week is None:
            return
        with self.db.session() as session:
            plan = sampling.sample_plan(session, week)
            items = sampling.week_sample(session, week) if plan else []
        self.error_label.setText("")
        if plan is None:
            self.items = []
            self.table.setRowCount(0)
            self.seed_label.setText("No sample drawn for this week yet.")
            return
        self._show(items, plan.seed, drawn=False)

    def _show(self, items: list[sampling.SampleItem], seed: int | None, *, drawn: bool) -> None:
        self.items = list(items)
        with self.db.session() as session:
            names = {pk: name for pk, name in session.execute(select(Reviewer.id, Reviewer.name))}
            study_pks = [i.study_pk for i in items]
            rows = session.execute(
                select(Study.id, Study.procedure_date, Study.technologist).where(
                    Study.id.in_(study_pks)
                )
            )
            info = {pk: (date, raw) for pk, date, raw in rows}
            resolve = technologist_resolver(session)
        self.table.setRowCount(len(items))
        for row, item in enumerate(items):
            date, raw = info.get(item.study_pk, (None, None))
            cells = (
                date.isoformat() if date else "",
                item.technologist or resolve(raw) or "(blank)",
                names.get(item.primary_reviewer_pk, "") if item.primary_reviewer_pk else "",
                names.get(item.second_reviewer_pk, "") if item.second_reviewer_pk else "",
            )
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        verb = "Drew" if drawn else "Stored sample:"
        self.seed_label.setText(
            f"{verb} {len(items)} exam(s) with seed {seed}; the same seed on the same data "
            "draws the same sample."
        )


__all__ = ["SamplingDialog", "default_week", "mammo_weeks"]
