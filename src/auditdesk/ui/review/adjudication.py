"""Disagreements and consensus: where double reads differ, and the coach's decision.

Opened from Reports → Disagreements and consensus. The left list is
``adjudication.disagreements`` (one row per exam and item where complete review audits differ);
selecting a row shows that exam with every reader's answer side by side and a consensus
column: the items the readers agree on are carried over, each disagreeing item gets a choice
and a reason line (required), recorded with ``adjudication.decide`` in the coach's consensus
audit (``start_consensus``, purpose "consensus"). Completing the consensus makes it the audit
the weekly measure counts for the exam (``measures.counted_audit_rule``).

"Open images" asks the main window (signal ``open_exam_requested(study_pk, audit_pks)``) to
show the exam with each reader's measurements. Exams are named by procedure date, kind and
pseudonymous exam key only. Everything is keyboard operable: mnemonics on every control, Tab
through the decisions in table order.
"""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from auditdesk.checklists.effective import effective_answers
from auditdesk.checklists.rules import PASS_FAIL_VALUES, answer_keys, item_for_key
from auditdesk.checklists.schema import Checklist, ChoiceItem, OrdinalItem, PassFailItem
from auditdesk.qi import site
from auditdesk.reading.auditing import AuditingError, AuditSession, stored_checklist
from auditdesk.review import adjudication
from auditdesk.store import audits as store
from auditdesk.store.db import Database
from auditdesk.store.models import Audit, ChecklistVersion, Reviewer
from auditdesk.ui.common import table_item

MEETS = adjudication.MEETS_KEY
PASS_FAIL_TEXT = {"pass": "pass", "fail": "fail", "na": "not applicable"}
NO_DECISION = "— choose —"
FROM_ANSWERS = "(follows the answers)"


def answer_text(value: object) -> str:
    """An answer as the table shows it ("–" when there is none)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "meets" if value else "does not meet"
    return PASS_FAIL_TEXT.get(str(value), str(value))


def _effective(state: store.AuditState) -> dict[str, Any]:
    """A read's effective answers (computed values filled in, not applicable left out)."""
    result = state.score.result if state.score is not None else {}
    skipped = set(result.get("not_applicable") or ())
    answers = {k: v for k, v in effective_answers(result).items() if v is not None}
    for k, v in state.answers.items():  # explicit answers win (e.g. before the first score)
        if k not in skipped and v is not None:
            answers.setdefault(k, v)
    return answers


def _reasons(comment: str | None) -> dict[str, str]:
    """Reasons recorded by ``adjudication.decide`` ("KEY = VALUE: reason" lines), newest wins."""
    out: dict[str, str] = {}
    for line in (comment or "").splitlines():
        key, sep, rest = line.partition(" = ")
        if sep and ": " in rest:
            out[key.strip()] = rest.split(": ", 1)[1].strip()
    return out


def _options(checklist: Checklist, key: str) -> list[tuple[str, object]]:
    """(text, value) choices for a consensus answer."""
    if key == MEETS:
        return [("meets", True), ("does not meet", False)]
    item = item_for_key(checklist, key)
    if isinstance(item, PassFailItem):
        return [(PASS_FAIL_TEXT[v], v) for v in PASS_FAIL_VALUES]
    if isinstance(item, (ChoiceItem, OrdinalItem)):
        return [(f"{o.label} ({o.value})", o.value) for o in item.options]
    return []


class AdjudicationWindow(QMainWindow):
    """Disagreements between reviewers and the coach's consensus (Reports menu)."""

    #: (study pk, [audit pks of every read and the consensus]): show the exam's images
    open_exam_requested = Signal(int, list)

    def __init__(
        self, db: Database, parent: QWidget | None = None, coach_pk: int | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.coach_pk = coach_pk
        self.items: list[adjudication.Disagreement] = []
        self.study_pk: int | None = None
        self.reads: list[store.AuditState] = []
        self.consensus: store.AuditState | None = None
        self.checklist: Checklist | None = None
        self.editors: dict[str, tuple[QComboBox, QLineEdit]] = {}
        self.differing: list[str] = []
        self.setObjectName("adjudication_window")
        self.setWindowTitle("Disagreements and consensus — AuditDesk")
        self.resize(1400, 860)

        with db.session() as session:
            self.settings = site.get_site(session)
            self._names = {
                pk: name for pk, name in session.execute(select(Reviewer.id, Reviewer.name))
            }
            coach = session.get(Reviewer, coach_pk) if coach_pk is not None else None
            self._coach_role = coach.role if coach is not None else None

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 8)
        bar = QHBoxLayout()
        self.pending_only = QCheckBox("&Only exams not yet adjudicated")
        self.pending_only.setChecked(True)
        self.pending_only.toggled.connect(lambda _on: self._fill_list())
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.coach_label = QLabel()
        self.coach_label.setObjectName("adjudication_coach")
        bar.addWidget(self.pending_only)
        bar.addStretch(1)
        bar.addWidget(self.coach_label)
        bar.addWidget(self.refresh_button)
        outer.addLayout(bar)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        list_label = QLabel("&Disagreements")
        self.list_table = QTableWidget(0, 0)
        self.list_table.setObjectName("adjudication_list")
        self.list_table.verticalHeader().setVisible(False)
        self.list_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list_table.setAlternatingRowColors(True)
        self.list_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.list_table.horizontalHeader().setStretchLastSection(True)
        self.list_table.itemSelectionChanged.connect(self._row_selected)
        list_label.setBuddy(self.list_table)
        self.count_label = QLabel()
        self.count_label.setObjectName("adjudication_count")
        left_layout.addWidget(list_label)
        left_layout.addWidget(self.list_table, 1)
        left_layout.addWidget(self.count_label)
        split.addWidget(left)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.exam_label = QLabel("Select a disagreement to compare the reads of its exam.")
        self.exam_label.setObjectName("adjudication_exam")
        self.exam_label.setWordWrap(True)
        right_layout.addWidget(self.exam_label)
        row = QHBoxLayout()
        self.all_items = QCheckBox("Show &all items (not only the disagreeing ones)")
        self.all_items.toggled.connect(lambda _on: self._fill_exam())
        self.images_button = QPushButton("Open &images")
        self.images_button.setToolTip("Show the exam with each reader's measurements")
        self.images_button.clicked.connect(self.open_images)
        row.addWidget(self.all_items)
        row.addStretch(1)
        row.addWidget(self.images_button)
        right_layout.addLayout(row)
        decisions_label = QLabel("D&ecisions")
        self.exam_table = QTableWidget(0, 0)
        self.exam_table.setObjectName("adjudication_exam_table")
        self.exam_table.verticalHeader().setVisible(False)
        self.exam_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.exam_table.setTabKeyNavigation(False)  # Tab moves through the decisions
        self.exam_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.exam_table.horizontalHeader().setStretchLastSection(True)
        decisions_label.setBuddy(self.exam_table)
        self.decisions_label = decisions_label
        right_layout.addWidget(decisions_label)
        right_layout.addWidget(self.exam_table, 1)
        self.message = QLabel()
        self.message.setObjectName("adjudication_message")
        self.message.setWordWrap(True)
        self.message.setMinimumHeight(self.message.fontMetrics().lineSpacing() * 3)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        right_layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.record_button = QPushButton("Re&cord decisions")
        self.record_button.clicked.connect(self.record_decisions)
        self.complete_button = QPushButton("Com&plete consensus")
        self.complete_button.clicked.connect(self.complete_consensus)
        buttons.addStretch(1)
        buttons.addWidget(self.record_button)
        buttons.addWidget(self.complete_button)
        right_layout.addLayout(buttons)
        split.addWidget(right)
        split.setSizes([640, 760])
        outer.addWidget(split, 1)
        self.setCentralWidget(central)
        self._build_menu()
        self._show_coach()
        self.refresh()

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&Consensus")
        for text, slot, keys in (
            ("Open &images", self.open_images, "Ctrl+I"),
            ("Re&cord decisions", self.record_decisions, "Ctrl+S"),
            ("Com&plete consensus", self.complete_consensus, "Ctrl+Return"),
            ("&Refresh", self.refresh, QKeySequence.StandardKey.Refresh),
        ):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            menu.addAction(action)
        menu.addSeparator()
        close = QAction("C&lose", self)
        close.setShortcut(QKeySequence.StandardKey.Close)
        close.triggered.connect(self.close)
        menu.addAction(close)

    def _show_coach(self) -> None:
        if self.coach_pk is None:
            self.coach_label.setText("No reviewer profile chosen: you can look, not decide.")
        else:
            role = f" ({self._coach_role.replace('_', ' ')})" if self._coach_role else ""
            self.coach_label.setText(
                f"Deciding as <b>{self._names.get(self.coach_pk, '?')}</b>{role}"
            )
        can = self.coach_pk is not None
        self.record_button.setEnabled(can)
        self.complete_button.setEnabled(can)

    # ---------------------------------------------------------------------------------------
    # The list
    # ---------------------------------------------------------------------------------------

    @property
    def checklist_id(self) -> str:
        return self.settings.checklist_id

    def refresh(self) -> None:
        """Reload the disagreements (and the exam on show)."""
        with self.db.transaction() as session:  # the exam labels need the site secret: keep it
            self.settings = site.get_site(session)
            self._names = {
                pk: name for pk, name in session.execute(select(Reviewer.id, Reviewer.name))
            }
            self.items = list(adjudication.disagreements(session, self.checklist_id))
        self._fill_list()
        if self.study_pk is not None:
            self.show_exam(self.study_pk)

    def shown(self) -> list[adjudication.Disagreement]:
        """The disagreements the list shows (after the "not yet adjudicated" filter)."""
        if self.pending_only.isChecked():
            return [d for d in self.items if not d.adjudicated]
        return list(self.items)

    def _fill_list(self) -> None:
        rows = self.shown()
        readers = sorted({name for d in rows for name in d.answers})
        headers = ["Exam", "Date", "Item", *readers, "Adjudicated"]
        table = self.list_table
        table.blockSignals(True)
        table.clear()
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.setRowCount(len(rows))
        for r, d in enumerate(rows):
            date = f"{d.procedure_date:%Y-%m-%d}" if d.procedure_date else "undated"
            cells = [d.exam_label, date, d.label]
            cells += [
                answer_text(d.answers.get(name)) if name in d.answers else "" for name in readers
            ]
            cells.append("yes" if d.adjudicated else "no")
            for c, value in enumerate(cells):
                item = table_item(value, data=(d.study_pk, d.key))
                if c == 2:
                    item.setToolTip(d.key)
                table.setItem(r, c, item)
        table.blockSignals(False)
        exams = {d.study_pk for d in rows}
        self.count_label.setText(
            f"{len(rows)} disagreement(s) on {len(exams)} exam(s)"
            + (" not yet adjudicated" if self.pending_only.isChecked() else "")
            + "."
        )
        if self.study_pk is not None:
            for r in range(table.rowCount()):
                if table.item(r, 0).data(Qt.ItemDataRole.UserRole)[0] == self.study_pk:
                    table.blockSignals(True)
                    table.selectRow(r)
                    table.blockSignals(False)
                    break

    def select_row(self, row: int) -> None:
        self.list_table.selectRow(row)

    def _row_selected(self) -> None:
        selected = self.list_table.selectionModel().selectedRows()
        if not selected:
            return
        study_pk, _key = self.list_table.item(selected[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        if study_pk != self.study_pk:
            self.show_exam(int(study_pk))

    # ---------------------------------------------------------------------------------------
    # One exam
    # ---------------------------------------------------------------------------------------

    def show_exam(self, study_pk: int) -> None:
        """Show the exam's reads side by side, with the consensus column."""
        self.study_pk = study_pk
        with self.db.session() as session:
            states = adjudication.exam_reads(session, study_pk, self.checklist_id)
            self.reads = [s for s in states if s.purpose == "review"]
            self.consensus = next((s for s in states if s.purpose == "consensus"), None)
            newest = max((s.checklist_version_pk for s in self.reads), default=None)
            version = session.get(ChecklistVersion, newest) if newest is not None else None
            self.checklist = stored_checklist(version) if version is not None else None
        self.message.clear()
        self._fill_exam()

    def _label(self) -> str:
        found = next((d for d in self.items if d.study_pk == self.study_pk), None)
        return found.exam_label if found is not None else f"Exam {self.study_pk}"

    def _key_label(self, key: str) -> str:
        if key == MEETS:
            return "Meets criteria (exam)"
        assert self.checklist is not None
        item = item_for_key(self.checklist, key)
        member = key.partition(":")[0]
        return f"{member}: {item.label}" if ":" in key else item.label

    def _compared_keys(self) -> list[str]:
        assert self.checklist is not None
        keys = []
        for key in answer_keys(self.checklist):
            item = item_for_key(self.checklist, key)
            if isinstance(item, (PassFailItem, ChoiceItem, OrdinalItem)):
                keys.append(key)
        return keys

    def _fill_exam(self) -> None:
        table = self.exam_table
        table.clear()
        table.setRowCount(0)
        self.editors = {}
        self.differing = []
        if self.study_pk is None or self.checklist is None or len(self.reads) < 2:
            table.setColumnCount(0)
            if self.study_pk is not None:
                self.exam_label.setText("This exam no longer has two complete reads.")
            return
        answers = [_effective(s) for s in self.reads]
        consensus = _effective(self.consensus) if self.consensus is not None else {}
        reasons = _reasons(self.consensus.comment) if self.consensus is not None else {}
        keys = self._compared_keys()
        differing = [k for k in keys if len({repr(a.get(k)) for a in answers} - {"None"}) > 1]
        meets = [s.meets_criteria for s in self.reads]
        if len({m for m in meets if m is not None}) > 1:
            differing.append(MEETS)
        self.differing = differing
        shown = [*keys, MEETS] if self.all_items.isChecked() else differing
        names = [self._names.get(s.reviewer_pk, f"Reviewer {s.reviewer_pk}") for s in self.reads]
        headers = ["Item", *names, "Consensus", "Reason (required)"]
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.setRowCount(len(shown))
        col_consensus = len(headers) - 2
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        table.setColumnWidth(0, 230)
        header.setSectionResizeMode(col_consensus + 1, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(60)
        order: list[QWidget] = []
        for r, key in enumerate(shown):
            title = table_item(self._key_label(key), data=key)
            title.setToolTip(key)
            table.setItem(r, 0, title)
            values = meets if key == MEETS else [a.get(key) for a in answers]
            for c, value in enumerate(values, start=1):
                table.setItem(r, c, table_item(answer_text(value)))
            current = None
            if self.consensus is not None:
                current = self.consensus.meets_criteria if key == MEETS else consensus.get(key)
            if key in differing:
                for c in range(len(values) + 1):
                    table.item(r, c).setBackground(QBrush(QColor("#f5c98f")))
                    table.item(r, c).setForeground(QBrush(QColor("#1a1a1a")))
                combo = QComboBox()
                combo.setObjectName(f"decision:{key}")
                combo.setAccessibleName(f"Consensus answer for {self._key_label(key)}")
                combo.addItem(FROM_ANSWERS if key == MEETS else NO_DECISION, None)
                for text, value in _options(self.checklist, key):
                    combo.addItem(text, value)
                decided_meets = key == MEETS and MEETS in reasons
                if current is not None and (key != MEETS or decided_meets):
                    index = combo.findData(current)
                    combo.setCurrentIndex(max(0, index))
                reason = QLineEdit(reasons.get(key, ""))
                reason.setObjectName(f"reason:{key}")
                reason.setAccessibleName(f"Reason for the consensus on {self._key_label(key)}")
                reason.setPlaceholderText("why (required)")
                reason.setMaxLength(300)
                combo.activated.connect(lambda _i, edit=reason: edit.setFocus())
                reason.textEdited.connect(lambda _t: self._clear_error())
                table.setCellWidget(r, col_consensus, combo)
                table.setCellWidget(r, col_consensus + 1, reason)
                self.editors[key] = (combo, reason)
                order += [combo, reason]
            else:
                agreed = values[0] if values else None
                text = answer_text(current if current is not None else agreed)
                table.setItem(r, col_consensus, table_item(text))
                table.setItem(r, col_consensus + 1, table_item(reasons.get(key, "")))
        order += [self.record_button, self.complete_button]
        for a, b in itertools.pairwise(order):
            QWidget.setTabOrder(a, b)
        if order and order[0] is not self.record_button:
            self.decisions_label.setBuddy(order[0])
        status = "no consensus yet"
        if self.consensus is not None:
            status = (
                "consensus complete" if self.consensus.status == "complete" else "consensus started"
            )
        self.exam_label.setText(
            f"<b>{self._label()}</b> — {len(self.reads)} reads, {len(differing)} item(s) "
            f"differ · {status}"
        )

    def exam_cell(self, key: str, column: str) -> str:
        """Text of the exam table's cell for ``key`` under ``column`` (a header), for tests."""
        headers = [
            self.exam_table.horizontalHeaderItem(c).text()
            for c in range(self.exam_table.columnCount())
        ]
        c = headers.index(column)
        for r in range(self.exam_table.rowCount()):
            if self.exam_table.item(r, 0).data(Qt.ItemDataRole.UserRole) == key:
                widget = self.exam_table.cellWidget(r, c)
                if isinstance(widget, QComboBox):
                    return widget.currentText()
                if isinstance(widget, QLineEdit):
                    return widget.text()
                item = self.exam_table.item(r, c)
                return item.text() if item is not None else ""
        raise KeyError(key)

    def set_decision(self, key: str, value: object, reason: str) -> None:
        """Fill a row's consensus choice and reason (as typing would); not yet recorded."""
        combo, edit = self.editors[key]
        index = combo.findData(value)
        if index < 0:
            raise ValueError(f"{value!r} is not a choice for {key}")
        combo.setCurrentIndex(index)
        edit.setText(reason)

    # ---------------------------------------------------------------------------------------
    # Actions
    # ---------------------------------------------------------------------------------------

    def audit_pks(self) -> list[int]:
        pks = [s.audit_pk for s in self.reads]
        if self.consensus is not None:
            pks.append(self.consensus.audit_pk)
        return pks

    def open_images(self) -> None:
        """Ask the main window to show the exam with every reader's measurements."""
        if self.study_pk is None:
            self._say("Select a disagreement first.", "error")
            return
        self.open_exam_requested.emit(int(self.study_pk), self.audit_pks())

    def _pending(self) -> list[tuple[str, object, str]] | None:
        """Decisions to record (key, value, reason); None (and a message) when one is refused."""
        reasons = _reasons(self.consensus.comment) if self.consensus is not None else {}
        current = _effective(self.consensus) if self.consensus is not None else {}
        out = []
        for key, (combo, edit) in self.editors.items():
            value = combo.currentData()
            reason = edit.text().strip()
            if value is None:
                if reason and key != MEETS:
                    self._say(f"Choose the consensus answer for “{self._key_label(key)}”.", "error")
                    combo.setFocus()
                    return None
                continue
            if not reason:
                self._say(
                    f"Give a reason for the consensus on “{self._key_label(key)}”: every "
                    "decision is recorded with who made it and why.",
                    "error",
                )
                edit.setFocus()
                return None
            was = self.consensus.meets_criteria if key == MEETS and self.consensus else None
            if key != MEETS:
                was = current.get(key)
            if was == value and reasons.get(key) == reason:
                continue  # already recorded
            out.append((key, value, reason))
        return out

    def _session(self) -> AuditSession:
        assert self.study_pk is not None and self.checklist is not None
        if self.coach_pk is None:
            raise AuditingError("Choose your reviewer profile to record a consensus.")
        return adjudication.start_consensus(self.db, self.study_pk, self.coach_pk, self.checklist)

    def record_decisions(self) -> bool:
        """Store every chosen consensus answer with its reason; False when refused."""
        if self.study_pk is None or self.checklist is None:
            self._say("Select a disagreement first.", "error")
            return False
        pending = self._pending()
        if pending is None:
            return False
        try:
            session = self._session()
            for key, value, reason in pending:
                adjudication.decide(session, key, value, reason)
        except (AuditingError, store.AuditError, ValueError) as exc:
            self._say(str(exc), "error")
            self.show_exam(self.study_pk)
            return False
        study = self.study_pk
        self.show_exam(study)
        left = [k for k in self.differing if k != MEETS and self._undecided(k)]
        text = f"Recorded {len(pending)} decision(s)."
        if left:
            text += f" Still to decide: {len(left)} item(s)."
        self._say(text, "info")
        return True

    def _undecided(self, key: str) -> bool:
        if self.consensus is None:
            return True
        return _effective(self.consensus).get(key) is None

    def complete_consensus(self) -> bool:
        """Record pending decisions, then complete the consensus audit; False when refused."""
        if not self.record_decisions():
            return False
        assert self.study_pk is not None
        left = [k for k in self.differing if k != MEETS and self._undecided(k)]
        if left:
            names = ", ".join(f"“{self._key_label(k)}”" for k in left[:4])
            more = f" and {len(left) - 4} more" if len(left) > 4 else ""
            self._say(
                f"The consensus cannot be completed yet: decide {names}{more} first.", "error"
            )
            return False
        try:
            self._session().complete()
        except (AuditingError, store.AuditError) as exc:
            self._say(str(exc), "error")
            return False
        self.refresh()
        self._say(
            "Consensus complete: it is now the audit counted for this exam in the weekly measure.",
            "info",
        )
        return True

    def consensus_audit(self) -> Any:
        """The consensus audit row of the exam on show (None when there is none)."""
        if self.study_pk is None:
            return None
        with self.db.session() as session:
            return session.scalars(
                select(Audit).where(
                    Audit.study_pk == self.study_pk,
                    Audit.checklist_id == self.checklist_id,
                    Audit.purpose == "consensus",
                )
            ).first()

    def _clear_error(self) -> None:
        if self.message.property("kind") == "error":
            self.message.clear()

    def _say(self, text: str, kind: str = "info") -> None:
        self.message.setText(text)
        self.message.setProperty("kind", kind)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        if kind == "info":
            self.statusBar().showMessage(text, 8000)


__all__ = ["AdjudicationWindow", "answer_text"]
