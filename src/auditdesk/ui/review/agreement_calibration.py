"""The Calibration (learning mode) tab of the agreement dashboard.

A reviewer's answers against the coach's reference, shown only to that reviewer and to coaches.
Its own module (a mixin of ``AgreementWindow``) because the visibility rules and the table are
a responsibility apart from the agreement statistics the other tabs show.
"""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from auditdesk.ui.common import make_table, table_item
from auditdesk.ui.review import agreement_report as fmt


class CalibrationTab:
    """Builds and fills the Calibration tab; mixed into ``AgreementWindow`` (uses its db,
    reviewer and tab attributes)."""

    def _build_calibration_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        self.calibration_combo = QComboBox()
        set_label = QLabel("Calibration &set")
        set_label.setBuddy(self.calibration_combo)
        self.calibration_reviewer = QComboBox()
        who_label = QLabel("Reviewe&r")
        who_label.setBuddy(self.calibration_reviewer)
        self.calibration_combo.currentIndexChanged.connect(lambda _i: self._fill_calibration())
        self.calibration_reviewer.currentIndexChanged.connect(lambda _i: self._fill_calibration())
        for w in (set_label, self.calibration_combo, who_label, self.calibration_reviewer):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        self.calibration_label = QLabel()
        self.calibration_label.setObjectName("agreement_calibration")
        self.calibration_label.setWordWrap(True)
        layout.addWidget(self.calibration_label)
        self.calibration_table = make_table(
            ["Item", "Exam", "Your answer", "Reference", "Same?"], "agreement_calibration_items"
        )
        layout.addWidget(self.calibration_table, 1)
        self.tabs.addTab(page, "Calibration (learning mode)")

    # ---------------------------------------------------------------------------------------
    # Calibration (learning mode)
    # ---------------------------------------------------------------------------------------

    def is_coach(self) -> bool:
        info = self._reviewers.get(self.reviewer_pk) if self.reviewer_pk is not None else None
        return info is not None and info[1] == "coach"

    def _fill_calibration_sets(self) -> None:
        from auditdesk.review import adjudication

        wanted = self.calibration_combo.currentData()
        with self.db.session() as session:
            sets = list(adjudication.calibration_sets(session))
        self.calibration_combo.blockSignals(True)
        self.calibration_combo.clear()
        for cal in sets:
            self.calibration_combo.addItem(f"{cal.name} ({len(cal.study_pks)} exams)", cal.id)
        if wanted is not None and self.calibration_combo.findData(wanted) >= 0:
            self.calibration_combo.setCurrentIndex(self.calibration_combo.findData(wanted))
        self.calibration_combo.blockSignals(False)

        self.calibration_reviewer.blockSignals(True)
        who = self.calibration_reviewer.currentData()
        self.calibration_reviewer.clear()
        if self.is_coach():
            for pk, (name, _role) in sorted(self._reviewers.items(), key=lambda kv: kv[1][0]):
                self.calibration_reviewer.addItem(name, pk)
        elif self.reviewer_pk is not None:
            name = self._reviewers.get(self.reviewer_pk, ("You", ""))[0]
            self.calibration_reviewer.addItem(name, self.reviewer_pk)
        if who is not None and self.calibration_reviewer.findData(who) >= 0:
            self.calibration_reviewer.setCurrentIndex(self.calibration_reviewer.findData(who))
        elif self.reviewer_pk is not None:
            self.calibration_reviewer.setCurrentIndex(
                max(0, self.calibration_reviewer.findData(self.reviewer_pk))
            )
        self.calibration_reviewer.setEnabled(self.is_coach())
        self.calibration_reviewer.blockSignals(False)
        self._fill_calibration()

    def _fill_calibration(self) -> None:
        from auditdesk.review import adjudication

        table = self.calibration_table
        table.setRowCount(0)
        set_id = self.calibration_combo.currentData()
        who = self.calibration_reviewer.currentData()
        if self.reviewer_pk is None:
            self.calibration_label.setText(
                "Calibration results are shown to each reviewer for their own learning: open "
                "this window with your reviewer profile chosen to see yours."
            )
            return
        if set_id is None:
            self.calibration_label.setText(
                "No calibration set yet. A coach marks a set of exams as a calibration exercise "
                "and records reference answers; each reviewer then sees their own result here."
            )
            return
        if who is None or (who != self.reviewer_pk and not self.is_coach()):
            self.calibration_label.setText("Only your own calibration result is shown.")
            return
        try:
            with self.db.session() as session:
                result = adjudication.calibration_result(session, int(set_id), int(who))
        except ValueError as exc:
            self.calibration_label.setText(str(exc))
            return
        self.calibration = result
        own = who == self.reviewer_pk
        summary = []
        if result.percent is not None:
            summary.append(
                f"agreement with the reference {result.percent:.1f} % "
                f"({result.n_agree} of {result.n_compared} answers)"
            )
        if result.kappa is not None:
            summary.append(f"κ {fmt.num(result.kappa)}")
        if result.meets_compared:
            summary.append(
                f"meets criteria: {result.meets_agree} of {result.meets_compared} exams agree"
            )
        whose = "Your" if own else f"{self._reviewers.get(who, ('', ''))[0]}'s"
        self.calibration_label.setText(
            f"{whose} answers against the coach's reference (learning mode: shown only to "
            f"{'you' if own else 'them'} and to coaches)"
            + (": " + ", ".join(summary) if summary else "")
            + "."
        )
        table.setHorizontalHeaderLabels(
            ["Item", "Exam", "Your answer" if own else "Their answer", "Reference", "Same?"]
        )
        table.setRowCount(len(result.rows))
        for r, row in enumerate(result.rows):
            same = {True: "yes", False: "no", None: "–"}[row.agrees]
            cells = [
                row.label or row.key,
                row.exam_label,
                fmt.answer_text(row.reviewer_answer),
                fmt.answer_text(row.reference_answer),
                same,
            ]
            for c, value in enumerate(cells):
                item = table_item(value)
                if c == 4 and row.agrees is False:
                    item.setForeground(QBrush(QColor("#d35400")))
                table.setItem(r, c, item)


__all__ = ["CalibrationTab"]
