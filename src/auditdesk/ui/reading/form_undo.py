"""Undo and redo of the checklist form: the undo command and the saving it goes through.

Separate from ``checklist_form`` so every write (answers, reason codes, comment, learning flag,
and their undo) sits in one place, all through the audit session so the database follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from auditdesk.ui.reading.checklist_form import ChecklistForm


class FormChange(QUndoCommand):
    """One saved change; redo/undo write through the audit session so the DB follows."""

    def __init__(self, form: ChecklistForm, kind: str, key: str | None, old: Any, new: Any) -> None:
        super().__init__(f"{kind} {key or ''}".strip())
        self.form = form
        self.kind = kind
        self.key = key
        self.old = old
        self.new = new
        self._done = True  # the change was already saved when the command was pushed

    def id(self) -> int:
        return 1 if self.kind == "comment" else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Consecutive comment saves (every pause while typing) undo as one."""
        if isinstance(other, FormChange) and other.kind == "comment" == self.kind:
            self.new = other.new
            return True
        return False

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self.form._apply_change(self.kind, self.key, self.new)

    def undo(self) -> None:
        self.form._apply_change(self.kind, self.key, self.old)


class FormSavingMixin:
    """Saving and undo of ``ChecklistForm`` (a mixin: it uses the form's state)."""

    # =========================================================================================
    # saving (every path goes through the audit session, so the DB matches the screen)
    # =========================================================================================

    def _save(self, kind: str, key: str | None, value: Any) -> bool:
        session = self.session
        if session is None:
            return False
        try:
            if kind == "answer":
                assert key is not None
                answer, reason = value
                session.answer(key, answer, reason)
            elif kind == "comment":
                session.comment(value)
                self._saved_comment = value
            elif kind == "learning":
                session.learning_opportunity(bool(value))
            else:  # pragma: no cover - programming error
                raise ValueError(f"unknown change {kind!r}")
        except (ValueError, SQLAlchemyError) as exc:
            self._set_message(f"Not saved: {exc}", "error")
            return False
        if self._message.property("kind") == "error":
            self._set_message("")
        return True

    def _apply_change(self, kind: str, key: str | None, value: Any) -> None:
        """Undo / redo: write the value back through the session and show it."""
        if self.session is None:
            return
        if kind == "comment":
            self._comment_timer.stop()
            self._comment.blockSignals(True)
            self._comment.setPlainText(value or "")
            self._comment.blockSignals(False)
        if self._save(kind, key, value):
            self.refresh_from_db()
        if key is not None and key in self._rows:
            self.set_current(key)

    def _comment_edited(self) -> None:
        self._comment_timer.start()

    def _flush_comment(self) -> None:
        if self._comment_timer.isActive():
            self._comment_timer.stop()
            self._save_comment()

    def _save_comment(self) -> None:
        if self.session is None:
            return
        text = self._comment.toPlainText()
        new = text if text.strip() else None
        old = self._saved_comment
        if new == old:
            return
        if self._save("comment", None, new):
            self.undo_stack.push(FormChange(self, "comment", None, old, new))
            if not self._comment.hasFocus():
                self.refresh_from_db()
            elif self._state is not None:
                self._state.comment = new
