"""The keyboard-first checklist form: one row per answer key, saved as it is typed.

Reviewers score dozens of exams in a sitting, so every answer is one key press and the mouse is
never needed. Each change goes straight to the database through :class:`AuditSession` (which
commits and re-scores in the same transaction); the form then re-reads the stored state and
redraws only the rows whose text changed, so what is on screen is always what is on disk. There
is no save button.

Keys (focus in the form; the same list is returned by :func:`key_help` for a help dialog):

======================  ===========================================================
Up / Down               previous / next item
Enter / Shift+Enter     next / previous item (on a text item Enter edits it)
Home / End              first / last item
PgUp / PgDn             five items up / down
1 / 2 / 3               pass / fail / n/a (pass-fail items)
1 … 9                   the n-th option (choice and ordinal items)
0, Delete, Backspace    clear the answer
Alt+1 … Alt+9           reason code of a failed item (listed on its row)
digits, "." or "-"      start typing a number (number items); Enter saves, Esc cancels
Enter or F2             edit a text item (Enter saves, Esc cancels); F2 edits a number
a letter                jump to the item with that key in the current view / series
F1 or ?                 show / hide the help text of the current item
Ctrl+Z                  undo (answers, reason codes, comment, learning flag)
Ctrl+Shift+Z, Ctrl+Y    redo
Ctrl+L                  learning opportunity on / off
Ctrl+M                  write the comment (Esc returns to the items)
Ctrl+G                  jump to the first required item still missing
Ctrl+Return             mark the audit complete
======================  ===========================================================
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.exc import SQLAlchemyError

from auditdesk.checklists.rules import normalise_answer
from auditdesk.checklists.schema import Checklist
from auditdesk.checklists.validate import Instance, build_index
from auditdesk.reading.auditing import AuditSession
from auditdesk.store.audits import AuditState, audit_state
from auditdesk.ui.reading.form_display import FormDisplayMixin
from auditdesk.ui.reading.form_keys import FormKeysMixin
from auditdesk.ui.reading.form_rows import FormRow
from auditdesk.ui.reading.form_undo import FormChange, FormSavingMixin

__all__ = ["ChecklistForm"]

COMMENT_SAVE_MS = 800


class ChecklistForm(FormKeysMixin, FormDisplayMixin, FormSavingMixin, QWidget):
    """Renders any checklist and records the reviewer's answers as they are typed."""

    member_changed = Signal(str)
    state_changed = Signal(object)
    completed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("checklist_form")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.session: AuditSession | None = None
        self.checklist: Checklist | None = None
        self.undo_stack = QUndoStack(self)
        self._state: AuditState | None = None
        self._instances: list[Instance] = []
        self._pos: dict[str, int] = {}
        self._rows: dict[str, FormRow] = {}
        self._computed: dict[str, Any] = {}
        self._current: str | None = None
        self._member: str | None = None
        self._alert = False
        self._rows_hash: str | None = None
        self._saved_comment: str | None = None

        self._comment_timer = QTimer(self)
        self._comment_timer.setSingleShot(True)
        self._comment_timer.setInterval(COMMENT_SAVE_MS)
        self._comment_timer.timeout.connect(self._save_comment)

        self._stack = QStackedWidget(self)
        self._stack.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)

        self._empty = QLabel("No exam open")
        self._empty.setObjectName("form_empty")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._stack.addWidget(self._empty)

        page = QWidget()
        self._stack.addWidget(page)
        body = QVBoxLayout(page)
        body.setContentsMargins(6, 6, 6, 6)
        body.setSpacing(4)

        self._title = QLabel()
        self._title.setObjectName("form_title")
        self._title.setWordWrap(True)
        body.addWidget(self._title)
        self._exam = QLabel()
        self._exam.setObjectName("form_exam")
        self._exam.setWordWrap(True)
        body.addWidget(self._exam)

        strip = QFrame()
        strip.setObjectName("score_strip")
        strip_layout = QHBoxLayout(strip)
        strip_layout.setContentsMargins(8, 4, 8, 4)
        strip_layout.setSpacing(14)
        self._meets = QLabel()
        self._meets.setObjectName("score_meets")
        self._grade = QLabel()
        self._grade.setObjectName("score_grade")
        self._missing = QPushButton()
        self._missing.setObjectName("score_missing")
        self._missing.setFlat(True)
        self._missing.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._missing.setCursor(Qt.CursorShape.PointingHandCursor)
        self._missing.setToolTip("Jump to the first required item still missing (Ctrl+G)")
        self._missing.clicked.connect(self.jump_to_missing)
        self._status = QLabel()
        self._status.setObjectName("score_status")
        for widget in (self._meets, self._grade, self._missing):
            strip_layout.addWidget(widget)
        strip_layout.addStretch(1)
        strip_layout.addWidget(self._status)
        body.addWidget(strip)

        self._message = QLabel()
        self._message.setObjectName("form_message")
        self._message.setWordWrap(True)
        self._message.setProperty("kind", "info")
        self._message.hide()
        body.addWidget(self._message)

        self._scroll = QScrollArea()
        self._scroll.setObjectName("form_scroll")
        self._scroll.setWidgetResizable(True)
        self._scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body.addWidget(self._scroll, 1)
        self._container: QWidget | None = None

        self._learning = QLabel()
        self._learning.setObjectName("form_learning")
        self._learning.setProperty("on", False)
        body.addWidget(self._learning)
        self._comment = QPlainTextEdit()
        self._comment.setObjectName("form_comment")
        self._comment.setPlaceholderText("Comment (Ctrl+M to write; Esc returns to the checklist)")
        self._comment.setTabChangesFocus(True)
        self._comment.setFixedHeight(64)
        self._comment.textChanged.connect(self._comment_edited)
        self._comment.installEventFilter(self)
        body.addWidget(self._comment)

        hint = QLabel(
            "↑↓ move · 1 pass · 2 fail · 3 n/a · 0 clear · Alt+1… reason · F1 help · "
            "Ctrl+Z undo · Ctrl+L learning · Ctrl+M comment · Ctrl+Return complete"
        )
        hint.setObjectName("form_keys")
        hint.setWordWrap(True)
        body.addWidget(hint)

    # =========================================================================================
    # public API
    # =========================================================================================

    @property
    def current_key(self) -> str | None:
        return self._current

    def open_audit(self, session: AuditSession, checklist: Checklist, *, title: str = "") -> None:
        """Show ``checklist`` for the audit; rows are rebuilt only when the checklist differs."""
        self._flush_comment()
        self.undo_stack.clear()
        self.session = session
        self.checklist = checklist
        self._alert = False
        self._set_message("")
        if self._rows_hash != (checklist.content_hash or str(id(checklist))) or not self._rows:
            self._build_rows(checklist)
        else:
            for row in self._rows.values():
                self._close_editor(row)
                row.set_line("help", "")
                row.set_line("error", "")
                if row.current:
                    row.set_current(False)
        self._title.setText(f"{checklist.title} · {checklist.id} v{checklist.version}")
        self._exam.setText(title)
        self._exam.setVisible(bool(title))
        self._stack.setCurrentIndex(1)
        self._member = None
        self._current = None
        state = self._read_state()
        self._comment.blockSignals(True)
        self._comment.setPlainText(state.comment or "")
        self._comment.blockSignals(False)
        self._saved_comment = state.comment
        self._show_state(state)
        if self._instances:
            self.set_current(self._instances[0].key)

    def close_audit(self, message: str = "No exam open") -> None:
        """Save a pending comment and show ``message`` instead of the form."""
        self._flush_comment()
        self.undo_stack.clear()
        self.session = None
        self.checklist = None
        self._state = None
        self._empty.setText(message)
        self._stack.setCurrentIndex(0)

    def refresh_from_db(self) -> None:
        """Re-read the audit (e.g. after the viewer saved a measurement) and redraw."""
        if self.session is not None:
            self._show_state(self._read_state())

    def set_current(self, key: str) -> None:
        """Make ``key`` the current item, scroll it into view, announce a change of member."""
        if key not in self._rows:
            raise KeyError(f"the open checklist has no answer key {key!r}")
        if key != self._current:
            old = self._rows.get(self._current) if self._current else None
            if old is not None:
                self._close_editor(old)
                old.set_current(False)
            self._current = key
            self._rows[key].set_current(True)
        row = self._rows[key]
        self._scroll.ensureWidgetVisible(row, 0, 24)
        member = row.inst.member
        if member != self._member:
            self._member = member
            self.member_changed.emit(member)

    def answer_current(self, value: object, reason_code: str | None = None) -> None:
        """Save ``value`` (and a fail's reason code) for the current item, undoably."""
        if self.session is None or self._current is None or self._state is None:
            return
        row = self._rows[self._current]
        key = self._current
        try:
            new_value = normalise_answer(row.item, value)
        except ValueError as exc:
            row.set_line("error", f"Not saved: {exc}.")
            return
        if reason_code is not None:
            codes = [rc.code for rc in getattr(row.item, "reason_codes", [])]
            if new_value != "fail" or reason_code not in codes:
                row.set_line(
                    "error", f"Not saved: {reason_code!r} is not a reason for a fail here."
                )
                return
        row.set_line("error", "")
        old = (self._state.answers.get(key), self._state.reason_codes.get(key))
        new = (new_value, reason_code if new_value is not None else None)
        if old == new:
            return
        if self._save("answer", key, new):
            self.undo_stack.push(FormChange(self, "answer", key, old, new))
            self.refresh_from_db()

    def complete(self) -> bool:
        """Mark the audit complete; while required answers are missing, say so and show them."""
        if self.session is None:
            return False
        self._flush_comment()
        try:
            self.session.complete()
        except (ValueError, SQLAlchemyError) as exc:
            self._alert = True
            self._set_message(str(exc), "error")
            self.refresh_from_db()
            self.jump_to_missing()
            return False
        self._alert = False
        self._set_message("Audit complete. Corrections are still saved (and kept in history).")
        self.refresh_from_db()
        self.completed.emit()
        return True

    def jump_to_missing(self) -> None:
        """Move to the first required item that has no answer yet."""
        missing = self._missing_keys()
        if missing:
            self.set_current(missing[0])
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def toggle_learning(self) -> None:
        """Flag / unflag the exam as a learning opportunity (undoable)."""
        if self._state is None:
            return
        old = self._state.learning_opportunity
        if self._save("learning", None, not old):
            self.undo_stack.push(FormChange(self, "learning", None, old, not old))
            self.refresh_from_db()

    def computed_rule(self, key: str) -> Any:
        """The checklist's computed rule that fills ``key`` (None when there is none)."""
        return self._computed.get(key)

    def row_text(self, key: str) -> dict[str, str]:
        """What a row shows (value, required marker, computed, aux, reasons, help, error)."""
        row = self._rows[key]
        return {
            "value": row.value.text(),
            "required": "required" if not row.required.isHidden() else "",
            **{
                name: row.line_text(name)
                for name in ("options", "computed", "aux", "reasons", "help", "error")
            },
        }

    def score_text(self) -> str:
        """The score strip as one line (for the status bar and for tests)."""
        parts = [self._meets.text()]
        if not self._grade.isHidden():
            parts.append(self._grade.text())
        parts += [self._missing.text(), self._status.text()]
        return " · ".join(parts)

    def message_text(self) -> str:
        return "" if self._message.isHidden() else self._message.text()

    # =========================================================================================
    # building and drawing
    # =========================================================================================

    def _build_rows(self, checklist: Checklist) -> None:
        index, _problems = build_index(checklist)
        self._instances = list(index.instances)
        self._pos = {inst.key: n for n, inst in enumerate(self._instances)}
        self._computed = dict(index.computed)
        self._rows = {}
        container = QWidget()
        container.setObjectName("form_items")
        container.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(container)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        group: tuple[int, str] | None = None
        for inst in self._instances:
            if (inst.section_index, inst.member) != group:
                group = (inst.section_index, inst.member)
                title = checklist.sections[inst.section_index].title
                header = QLabel(f"{inst.member} — {title}")
                header.setObjectName("form_group")
                layout.addWidget(header)
            row = FormRow(self, inst)
            self._rows[inst.key] = row
            layout.addWidget(row)
        layout.addStretch(1)
        old = self._scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        self._scroll.setWidget(container)
        self._container = container
        self._rows_hash = checklist.content_hash or str(id(checklist))

    def _read_state(self) -> AuditState:
        assert self.session is not None
        with self.session.db.session() as s:
            # No history: it grows with every change and the form redraws on every key.
            return audit_state(s, self.session.audit_pk, include_history=False)

    def _result(self) -> dict[str, Any]:
        state = self._state
        return state.score.result if state is not None and state.score is not None else {}

    def _missing_keys(self) -> list[str]:
        missing = set(self._result().get("missing_required", []))
        return [inst.key for inst in self._instances if inst.key in missing]
