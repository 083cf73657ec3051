"""The keyboard of the checklist form: the key table for help, which keys the form claims
before window shortcuts, and what each key does (moving, answering, editing, undo).

Separate from ``checklist_form`` because the keys are the form's whole interaction design and
change on their own.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit

from auditdesk.checklists.rules import normalise_answer
from auditdesk.checklists.schema import ChoiceItem, NumberItem, OrdinalItem, PassFailItem, TextItem
from auditdesk.ui.reading.form_rows import FormRow, number_text

_KEY_HELP: list[tuple[str, str]] = [
    ("Up / Down", "previous / next item"),
    ("Enter / Shift+Enter", "next / previous item (on a text item Enter edits it)"),
    ("Home / End", "first / last item"),
    ("PgUp / PgDn", "five items up / down"),
    ("1 / 2 / 3", "pass / fail / n/a (pass-fail items)"),
    ("1 … 9", "the n-th option (choice and ordinal items)"),
    ("0, Delete, Backspace", "clear the answer"),
    ("Alt+1 … Alt+9", "reason code of a failed item (listed on its row)"),
    ('digits, "." or "-"', "start typing a number (number items); Enter saves, Esc cancels"),
    ("Enter or F2", "edit a text item (Enter saves, Esc cancels); F2 also edits a number"),
    ("a letter", "jump to the item with that key in the current view or series"),
    ("F1 or ?", "show / hide the help text of the current item"),
    ("Ctrl+Z", "undo (answers, reason codes, comment, learning flag)"),
    ("Ctrl+Shift+Z, Ctrl+Y", "redo"),
    ("Ctrl+L", "learning opportunity on / off"),
    ("Ctrl+M", "write the comment (Esc returns to the items)"),
    ("Ctrl+G", "jump to the first required item still missing"),
    ("Ctrl+Return", "mark the audit complete"),
]

DIGITS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(10)}
ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
#: Keys without modifiers that the form claims before window shortcuts (plus digits, letters).
PLAIN_KEYS = frozenset(
    {
        *ENTER,
        Qt.Key.Key_Up,
        Qt.Key.Key_Down,
        Qt.Key.Key_PageUp,
        Qt.Key.Key_PageDown,
        Qt.Key.Key_Home,
        Qt.Key.Key_End,
        Qt.Key.Key_Delete,
        Qt.Key.Key_Backspace,
        Qt.Key.Key_Escape,
        Qt.Key.Key_F1,
        Qt.Key.Key_F2,
        Qt.Key.Key_Question,
        Qt.Key.Key_Period,
        Qt.Key.Key_Comma,
        Qt.Key.Key_Minus,
    }
)


def key_help() -> list[tuple[str, str]]:
    """The form's keys as (keys, what they do), for a help dialog or a cheat sheet."""
    return list(_KEY_HELP)


class FormKeysMixin:
    """Every key of ``ChecklistForm`` (a mixin: it uses the form's rows and state)."""

    # =========================================================================================
    # keyboard
    # =========================================================================================

    def _move(self, step: int) -> None:
        if not self._instances:
            return
        pos = self._pos.get(self._current or "", 0) + step
        pos = max(0, min(len(self._instances) - 1, pos))
        self.set_current(self._instances[pos].key)

    def _jump_to_letter(self, letter: str) -> bool:
        """The item with this key in the current member, else the next member that has it."""
        letter = letter.lower()
        matches = [i for i in self._instances if i.item.key and i.item.key.lower() == letter]
        if not matches:
            return False
        here = self._pos.get(self._current or "", 0)
        same = [i for i in matches if i.member == self._member]
        pool = same or matches
        after = [i for i in pool if self._pos[i.key] > here]
        target = after[0] if after else pool[0]
        if same and target.key == self._current and len(same) == 1:
            return True
        self.set_current(target.key)
        return True

    def _start_editing(self, initial: str | None = None) -> None:
        if self._current is None or self._state is None:
            return
        row = self._rows[self._current]
        if not isinstance(row.item, NumberItem | TextItem):
            return
        if row.editor is None:
            editor = QLineEdit()
            editor.setObjectName("form_editor")
            if isinstance(row.item, TextItem) and row.item.max_length:
                editor.setMaxLength(row.item.max_length)
            editor.installEventFilter(self)
            row._lines.insertWidget(1, editor)
            row.editor = editor
        editor = row.editor
        if initial is None:
            stored = self._state.answers.get(row.inst.key)
            if stored is None:
                initial = ""
            elif isinstance(row.item, NumberItem):
                initial = number_text(stored)
            else:
                initial = str(stored)
        editor.setText(initial)
        editor.show()
        editor.setFocus(Qt.FocusReason.OtherFocusReason)
        editor.end(False)

    def _close_editor(self, row: FormRow) -> None:
        if row.editor is not None and not row.editor.isHidden():
            row.editor.hide()
            row.set_line("error", "")

    def _commit_editor(self, row: FormRow) -> bool:
        """Save the typed value; an invalid one stays in the editor with the reason."""
        assert row.editor is not None
        text = row.editor.text()
        try:
            normalise_answer(row.item, text)
        except ValueError as exc:
            row.set_line("error", f"Not saved: {exc}.")
            return False
        self._close_editor(row)
        self.setFocus(Qt.FocusReason.OtherFocusReason)
        self.answer_current(text)
        return True

    def _editing_row(self, watched: QObject) -> FormRow | None:
        if self._current is None:
            return None
        row = self._rows.get(self._current)
        return row if row is not None and row.editor is watched else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter / Esc in the number editor and the comment box, and the form's Ctrl keys."""
        etype = event.type()
        if etype not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride, QEvent.Type.FocusOut):
            return super().eventFilter(watched, event)
        if watched is self._comment:
            if etype == QEvent.Type.FocusOut:
                self._flush_comment()
                return False
            assert isinstance(event, QKeyEvent)
            ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
            key = event.key()
            ours = key == Qt.Key.Key_Escape or (
                ctrl and key in (*ENTER, Qt.Key.Key_L, Qt.Key.Key_G)
            )
            if not ours:
                return False
            if etype == QEvent.Type.ShortcutOverride:
                event.accept()
                return True
            self._flush_comment()
            if key == Qt.Key.Key_Escape:
                self.setFocus(Qt.FocusReason.OtherFocusReason)
            else:
                self.keyPressEvent(event)
            return True
        row = self._editing_row(watched)
        if row is None or etype == QEvent.Type.FocusOut:
            return False
        assert isinstance(event, QKeyEvent)
        key = event.key()
        if key not in (*ENTER, Qt.Key.Key_Escape):
            return False
        if etype == QEvent.Type.ShortcutOverride:
            event.accept()
            return True
        if key == Qt.Key.Key_Escape:
            self._close_editor(row)
            self.setFocus(Qt.FocusReason.OtherFocusReason)
        elif self._commit_editor(row) and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.complete()  # Ctrl+Return while typing: save the value, then complete
        return True

    def event(self, event: QEvent) -> bool:
        """Claim our keys before window shortcuts (the viewer also uses 1, F, I, R ...)."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and self.session is not None
            and isinstance(event, QKeyEvent)
            and self._is_form_key(event)
        ):
            event.accept()
            return True
        return super().event(event)

    def _is_form_key(self, event: QKeyEvent) -> bool:
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        key = event.key()
        if mods & Qt.KeyboardModifier.ControlModifier:
            return key in (
                *ENTER,
                Qt.Key.Key_Z,
                Qt.Key.Key_Y,
                Qt.Key.Key_L,
                Qt.Key.Key_M,
                Qt.Key.Key_G,
            )
        if mods & Qt.KeyboardModifier.AltModifier:
            return key in DIGITS
        text = event.text()
        return key in PLAIN_KEYS or key in DIGITS or (len(text) == 1 and text.isalpha())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Every key of the form; see the module docstring and :func:`key_help`."""
        if self.session is None or self._current is None:
            super().keyPressEvent(event)
            return
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        alt = bool(mods & Qt.KeyboardModifier.AltModifier)
        key = event.key()
        row = self._rows[self._current]
        item = row.item
        event.accept()
        if ctrl:
            if key in ENTER:
                self.complete()
            elif (key == Qt.Key.Key_Z and shift) or key == Qt.Key.Key_Y:
                self.undo_stack.redo()
            elif key == Qt.Key.Key_Z:
                self.undo_stack.undo()
            elif key == Qt.Key.Key_L:
                self.toggle_learning()
            elif key == Qt.Key.Key_M:
                self._comment.setFocus(Qt.FocusReason.ShortcutFocusReason)
            elif key == Qt.Key.Key_G:
                self.jump_to_missing()
            else:
                event.ignore()
            return
        if alt:
            if key in DIGITS and DIGITS[key] > 0:
                self._pick_reason(DIGITS[key])
            else:
                event.ignore()
            return
        if key == Qt.Key.Key_Up:
            self._move(-1)
        elif key == Qt.Key.Key_Down:
            self._move(1)
        elif key == Qt.Key.Key_PageUp:
            self._move(-5)
        elif key == Qt.Key.Key_PageDown:
            self._move(5)
        elif key == Qt.Key.Key_Home:
            self._move(-len(self._instances))
        elif key == Qt.Key.Key_End:
            self._move(len(self._instances))
        elif key in ENTER:
            if shift:
                self._move(-1)
            elif isinstance(item, TextItem):
                self._start_editing()
            else:
                self._move(1)
        elif key == Qt.Key.Key_F2:
            self._start_editing()
        elif key == Qt.Key.Key_F1 or event.text() == "?":
            row.set_line("help", "" if row.line_text("help") else row.help_text())
            self._scroll.ensureWidgetVisible(row, 0, 24)
        elif key == Qt.Key.Key_Escape:
            self._set_message("")
            row.set_line("error", "")
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.answer_current(None)
        elif isinstance(item, NumberItem) and (key in DIGITS or event.text() in (".", "-", ",")):
            self._start_editing("." if event.text() == "," else event.text())
        elif key in DIGITS:
            self._answer_digit(item, DIGITS[key])
        elif event.text().isalpha() and len(event.text()) == 1:
            if not self._jump_to_letter(event.text()):
                self._set_message(f"No item has the key '{event.text()}'.")
        else:
            event.ignore()
            super().keyPressEvent(event)

    def _answer_digit(self, item: Any, digit: int) -> None:
        if digit == 0:
            self.answer_current(None)
            return
        if isinstance(item, PassFailItem):
            if digit <= 3:
                value = ("pass", "fail", "na")[digit - 1]
                if self._state is not None and self._state.answers.get(self._current) == value:
                    return  # pressing fail again keeps its reason code
                self.answer_current(value)
        elif isinstance(item, ChoiceItem | OrdinalItem) and digit <= len(item.options):
            self.answer_current(item.options[digit - 1].value)

    def _pick_reason(self, n: int) -> None:
        if self._current is None or self._state is None:
            return
        row = self._rows[self._current]
        codes = getattr(row.item, "reason_codes", [])
        if self._state.answers.get(self._current) != "fail" or n > len(codes):
            row.set_line("error", "Reason codes are for a failed item: press 2 (fail) first.")
            return
        code = codes[n - 1].code
        current = self._state.reason_codes.get(self._current)
        self.answer_current("fail", None if current == code else code)
