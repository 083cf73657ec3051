"""Reports → Calibration sets…: a coach picks exams for a calibration exercise and records the
reference answers; each reviewer then audits the exams as usual and sees their own result
against the reference (Reviewer agreement → Calibration, learning mode).

Reference answers are recorded in the main window's checklist form, on the real images, as an
audit with purpose "reference" (never counted in the weekly measure or in agreement).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from auditdesk.checklists.loader import load_all
from auditdesk.reading.auditing import AuditingError
from auditdesk.reading.workstation import KIND_MODALITY
from auditdesk.review.adjudication import calibration_sets, create_calibration_set
from auditdesk.store.catalog import list_studies
from auditdesk.store.db import Database

__all__ = ["CalibrationDialog"]

MODALITY_ROLE = Qt.ItemDataRole.UserRole + 1


class CalibrationDialog(QDialog):
    """List, create, and start recording the reference answers of calibration sets."""

    #: Record reference answers for this set in the main window.
    reference_requested = Signal(int)

    def __init__(
        self,
        db: Database,
        parent: QWidget | None = None,
        *,
        coach_pk: int | None = None,
        blinded: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Calibration sets")
        self.db = db
        self.coach_pk = coach_pk
        self.blinded = blinded
        self.resize(900, 640)

        self.sets = QTableWidget(0, 4)
        self.sets.setHorizontalHeaderLabels(["Set", "Checklist", "Exams", "Reference answers"])
        self.sets.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.sets.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.sets.horizontalHeader().setStretchLastSection(True)
        self.reference_button = QPushButton("&Record reference answers…")
        self.reference_button.setToolTip(
            "Open the set's exams one by one in the main window and answer them as the reference"
        )
        self.reference_button.clicked.connect(self._request_reference)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Positioning calibration, November")
        self.checklist_combo = QComboBox()
        for checklist in load_all().latest():
            self.checklist_combo.addItem(f"{checklist.title} ({checklist.id})", checklist.id)
            index = self.checklist_combo.count() - 1
            self.checklist_combo.setItemData(index, checklist.modality, MODALITY_ROLE)
        self.checklist_combo.currentIndexChanged.connect(self._fill_exams)
        self.exams = QListWidget()
        self.create_button = QPushButton("&Create set")
        self.create_button.clicked.connect(self.create)
        self.message = QLabel()
        self.message.setObjectName("form_message")
        self.message.setWordWrap(True)

        form = QFormLayout()
        form.addRow("&Name", self.name_edit)
        form.addRow("C&hecklist", self.checklist_combo)
        form.addRow("E&xams (tick the ones to include)", self.exams)
        new_box = QGroupBox("New calibration set")
        new_layout = QVBoxLayout(new_box)
        new_layout.addLayout(form)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.create_button)
        new_layout.addLayout(row)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Calibration sets"))
        layout.addWidget(self.sets, 1)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.reference_button)
        layout.addLayout(top)
        layout.addWidget(new_box, 2)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        if coach_pk is None:
            self.message.setText("Choose who is reviewing (Ctrl+R) to create sets or answer them.")
            self.create_button.setEnabled(False)
            self.reference_button.setEnabled(False)
        self.refresh()
        self._fill_exams()

    # ------------------------------------------------------------------ lists
    def refresh(self) -> None:
        with self.db.session() as session:
            self._sets = calibration_sets(session)
        self.sets.setRowCount(len(self._sets))
        for row, info in enumerate(self._sets):
            values = [
                info.name,
                info.checklist_id,
                str(len(info.study_pks)),
                f"{info.n_references} of {len(info.study_pks)}",
            ]
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, info.id)
                self.sets.setItem(row, col, item)
        if self._sets and self.sets.currentRow() < 0:
            self.sets.selectRow(0)

    def _fill_exams(self) -> None:
        """Exams of the chosen checklist's modality, newest first (no patient data)."""
        modality = self.checklist_combo.currentData(MODALITY_ROLE)
        self.exams.clear()
        with self.db.session() as session:
            studies = list_studies(session)
        for study in studies:
            if KIND_MODALITY.get(study.kind) != modality:
                continue
            date = study.procedure_date.isoformat() if study.procedure_date else "no date"
            parts = [date, " ".join(study.views) or (study.description or study.kind)]
            if not self.blinded and study.technologist:
                parts.append(f"tech {study.technologist}")
            item = QListWidgetItem("  ·  ".join(parts))
            item.setData(Qt.ItemDataRole.UserRole, study.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.exams.addItem(item)

    def ticked(self) -> list[int]:
        return [
            self.exams.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.exams.count())
            if self.exams.item(i).checkState() == Qt.CheckState.Checked
        ]

    def tick(self, study_pks: list[int]) -> None:
        wanted = set(study_pks)
        for i in range(self.exams.count()):
            item = self.exams.item(i)
            if item.data(Qt.ItemDataRole.UserRole) in wanted:
                item.setCheckState(Qt.CheckState.Checked)

    # ------------------------------------------------------------------ actions
    def create(self) -> int | None:
        """Create the set from the form; a sentence (and nothing saved) on bad input."""
        if self.coach_pk is None:
            return None
        try:
            with self.db.transaction() as session:
                set_id = create_calibration_set(
                    session,
                    self.name_edit.text(),
                    self.checklist_combo.currentData() or "",
                    self.ticked(),
                    self.coach_pk,
                )
        except AuditingError as exc:
            self.message.setText(str(exc))
            return None
        self.message.setText(f"Created “{self.name_edit.text().strip()}”.")
        self.name_edit.clear()
        self.refresh()
        for row, info in enumerate(self._sets):
            if info.id == set_id:
                self.sets.selectRow(row)
        return set_id

    def selected_set(self) -> int | None:
        row = self.sets.currentRow()
        item = self.sets.item(row, 0) if row >= 0 else None
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _request_reference(self) -> None:
        set_id = self.selected_set()
        if set_id is None:
            self.message.setText("Choose a calibration set first.")
            return
        self.reference_requested.emit(set_id)
        self.accept()
