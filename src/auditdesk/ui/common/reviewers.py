"""Choosing who is reviewing: the "Who is reviewing?" dialog and the reviewer management dialog.

The profiles live in the audit store (``auditdesk.store.audits``); these widgets only show them
and call the store's functions, so the rules (unique names, roles, initials) stay in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
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

from auditdesk.store.audits import (
    ROLES,
    AuditError,
    create_reviewer,
    list_reviewers,
    set_reviewer_active,
)
from auditdesk.store.db import Database
from auditdesk.store.models import Reviewer

ROLE_LABELS = {"technologist": "technologist", "team_leader": "team leader", "coach": "coach"}


def role_label(role: str) -> str:
    """The role as people say it ("team leader", not "team_leader")."""
    return ROLE_LABELS.get(role, role.replace("_", " "))


@dataclass(frozen=True)
class CurrentReviewer:
    """The reviewer every answer and correction made in this window is attributed to."""

    id: int
    name: str
    role: str
    initials: str

    @property
    def display(self) -> str:
        return f"{self.name} ({role_label(self.role)})"

    @classmethod
    def from_row(cls, row: Reviewer) -> CurrentReviewer:
        return cls(id=row.id, name=row.name, role=row.role, initials=row.initials)


def active_reviewer(db: Database, reviewer_id: object) -> CurrentReviewer | None:
    """The reviewer with this id if it exists and is active (remembered ids may be stale)."""
    try:
        pk = int(str(reviewer_id))
    except (TypeError, ValueError):
        return None
    with db.session() as session:
        row = session.get(Reviewer, pk)
        if row is None or not row.active:
            return None
        return CurrentReviewer.from_row(row)


def suggest_initials(name: str) -> str:
    """First letter of each word of the name, upper case, at most 8 ("Jane Smith" -> "JS")."""
    return "".join(word[0] for word in name.split() if word[:1].isalpha()).upper()[:8]


class ReviewerDialog(QDialog):
    """Pick an active reviewer from the list or add a new one; Enter accepts, Escape cancels.

    Open it with ``open()`` (non-blocking) or ``exec()``; after ``accepted`` the chosen (or newly
    created) reviewer is in :attr:`chosen`.
    """

    def __init__(
        self,
        db: Database,
        parent: QWidget | None = None,
        *,
        current_id: int | None = None,
        at_start: bool = False,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.chosen: CurrentReviewer | None = None
        self._initials_edited = False
        self.setObjectName("reviewer_dialog")
        self.setWindowTitle("Who is reviewing?")
        self.setModal(True)
        self.setMinimumWidth(460)

        intro = QLabel(
            "Choose your name from the list, or add yourself below. "
            "Every answer and correction you record is saved under this name."
        )
        intro.setWordWrap(True)

        self.list = QListWidget()
        self.list.setObjectName("reviewer_list")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.list.setAccessibleName("Reviewers")
        self.empty_label = QLabel("No reviewers yet: add yourself below.")
        self.empty_label.setObjectName("hint")

        group = QGroupBox("Add a new reviewer")
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("reviewer_name")
        self.name_edit.setPlaceholderText("e.g. Jane Smith")
        self.name_edit.setMaxLength(128)
        self.name_edit.textEdited.connect(self._on_name_edited)
        self.role_combo = QComboBox()
        self.role_combo.setObjectName("reviewer_role")
        for role in ROLES:
            self.role_combo.addItem(role_label(role).capitalize(), role)
        self.initials_edit = QLineEdit()
        self.initials_edit.setObjectName("reviewer_initials")
        self.initials_edit.setMaxLength(8)
        self.initials_edit.setPlaceholderText("e.g. JS")
        self.initials_edit.textEdited.connect(self._on_initials_edited)
        form = QFormLayout(group)
        form.addRow("&Name:", self.name_edit)
        form.addRow("&Role:", self.role_combo)
        form.addRow("&Initials:", self.initials_edit)

        self.error_label = QLabel()
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        buttons = QDialogButtonBox()
        self.ok_button = buttons.addButton(
            "Use this reviewer", QDialogButtonBox.ButtonRole.AcceptRole
        )
        cancel_text = "Continue without a reviewer" if at_start else "Cancel"
        buttons.addButton(cancel_text, QDialogButtonBox.ButtonRole.RejectRole)
        self.ok_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list)
        layout.addWidget(self.empty_label)
        layout.addWidget(group)
        if at_start:
            note = QLabel(
                "Without a reviewer you can look at studies, but nothing can be recorded until "
                "you choose one (Reviewer → Switch reviewer…, Ctrl+R)."
            )
            note.setObjectName("hint")
            note.setWordWrap(True)
            layout.addWidget(note)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        QWidget.setTabOrder(self.list, self.name_edit)
        QWidget.setTabOrder(self.name_edit, self.role_combo)
        QWidget.setTabOrder(self.role_combo, self.initials_edit)

        self._fill(current_id)

    def _fill(self, current_id: int | None) -> None:
        with self.db.session() as session:
            rows = [CurrentReviewer.from_row(r) for r in list_reviewers(session)]
        self.list.clear()
        for reviewer in rows:
            item = QListWidgetItem(
                f"{reviewer.name}  ·  {role_label(reviewer.role)}  ·  {reviewer.initials}"
            )
            item.setData(Qt.ItemDataRole.UserRole, reviewer)
            self.list.addItem(item)
            if reviewer.id == current_id:
                self.list.setCurrentItem(item)
        if rows and self.list.currentItem() is None:
            self.list.setCurrentRow(0)
        self.list.setVisible(bool(rows))
        self.empty_label.setVisible(not rows)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # An empty list means a first start: go straight to the name field.
        (self.list if self.list.count() else self.name_edit).setFocus()

    def _on_name_edited(self, text: str) -> None:
        if not self._initials_edited:
            self.initials_edit.setText(suggest_initials(text))
        self.error_label.hide()

    def _on_initials_edited(self, text: str) -> None:
        self._initials_edited = bool(text)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def accept(self) -> None:
        """A typed name adds a new reviewer; otherwise the selected reviewer is used."""
        name = self.name_edit.text().strip()
        if name:
            try:
                with self.db.transaction() as session:
                    row = create_reviewer(
                        session,
                        name,
                        str(self.role_combo.currentData()),
                        self.initials_edit.text(),
                    )
                    self.chosen = CurrentReviewer.from_row(row)
            except AuditError as exc:
                self.show_error(str(exc))
                self.name_edit.setFocus()
                return
        else:
            item = self.list.currentItem() if self.list.count() else None
            if item is None:
                self.show_error("Choose a reviewer from the list, or type a name to add one.")
                return
            self.chosen = item.data(Qt.ItemDataRole.UserRole)
        super().accept()


class ManageReviewersDialog(QDialog):
    """All reviewer profiles; a profile is deactivated (hidden at start), never deleted."""

    COLUMNS = ("Name", "Role", "Initials", "Status")

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.setObjectName("manage_reviewers_dialog")
        self.setWindowTitle("Manage reviewers")
        self.setMinimumSize(560, 360)

        intro = QLabel(
            "Deactivated reviewers are not offered at start. Their audits and corrections are "
            "kept and still show their names."
        )
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("reviewer_table")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.currentCellChanged.connect(lambda *_: self._update_button())

        self.toggle_button = QPushButton("Deactivate")
        self.toggle_button.setObjectName("toggle_active")
        self.toggle_button.clicked.connect(self.toggle_selected)
        self.error_label = QLabel()
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.toggle_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self, select_id: int | None = None) -> None:
        with self.db.session() as session:
            rows = [
                (CurrentReviewer.from_row(r), r.active)
                for r in list_reviewers(session, include_inactive=True)
            ]
        self.table.setRowCount(len(rows))
        for n, (reviewer, active) in enumerate(rows):
            cells = (
                reviewer.name,
                role_label(reviewer.role),
                reviewer.initials,
                "active" if active else "deactivated",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, (reviewer.id, active))
                self.table.setItem(n, col, item)
            if reviewer.id == select_id:
                self.table.selectRow(n)
        if rows and self.table.currentRow() < 0:
            self.table.selectRow(0)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._update_button()

    def _selected(self) -> tuple[int, bool] | None:
        item = self.table.item(self.table.currentRow(), 0)
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _update_button(self) -> None:
        selected = self._selected()
        self.toggle_button.setEnabled(selected is not None)
        self.toggle_button.setText("Reactivate" if selected and not selected[1] else "Deactivate")

    def toggle_selected(self) -> None:
        """Deactivate the selected reviewer, or reactivate a deactivated one."""
        selected = self._selected()
        if selected is None:
            return
        reviewer_id, active = selected
        try:
            with self.db.transaction() as session:
                set_reviewer_active(session, reviewer_id, not active)
        except AuditError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return
        self.error_label.hide()
        self.refresh(select_id=reviewer_id)


__all__ = [
    "CurrentReviewer",
    "ManageReviewersDialog",
    "ReviewerDialog",
    "active_reviewer",
    "role_label",
    "suggest_initials",
]
