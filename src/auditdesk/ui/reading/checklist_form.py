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

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.exc import SQLAlchemyError

from auditdesk.checklists.rules import normalise_answer
from auditdesk.checklists.schema import (
    NOT_DETERMINABLE,
    Checklist,
    ChoiceItem,
    NumberItem,
    OrdinalItem,
    PassFailItem,
    TextItem,
)
from auditdesk.checklists.validate import Instance, build_index
from auditdesk.reading.auditing import AuditSession
from auditdesk.store.audits import AuditState, audit_state

__all__ = ["ChecklistForm", "key_help"]

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

PASS_FAIL_TEXT = {"pass": "Pass", "fail": "Fail", "na": "N/A", NOT_DETERMINABLE: "not determinable"}
CALIBRATION_TEXT = {
    "pixel_spacing": "Pixel Spacing",
    "imager_pixel_spacing": "Imager Pixel Spacing",
    "imager_pixel_spacing_ermf": "Imager Pixel Spacing ÷ magnification factor",
    "digitiser_spacing": "digitiser spacing (scanned film)",
    "reported": "reported", "none": "no calibration",
}  # fmt: skip
COMMENT_SAVE_MS = 800
_DIGITS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(10)}
_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
#: Keys without modifiers that the form claims before window shortcuts (plus digits, letters).
_PLAIN_KEYS = frozenset(
    {
        *_ENTER,
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


def _number_text(value: float) -> str:
    return f"{round(float(value), 2):g}"


def _pretty_ops(text: str) -> str:
    return text.replace("<=", "≤").replace(">=", "≥").replace("!=", "≠").replace(" - ", " − ")


def _answer_text(item: Any, value: Any) -> str:
    """How an answer reads on the row (option labels, not stored codes)."""
    if value is None:
        return "—"
    if value == NOT_DETERMINABLE:
        return "not determinable"
    if isinstance(item, PassFailItem):
        return PASS_FAIL_TEXT.get(str(value), str(value))
    if isinstance(item, ChoiceItem):
        return next((o.label for o in item.options if o.value == value), str(value))
    if isinstance(item, OrdinalItem):
        label = next((o.label for o in item.options if o.value == value), "")
        return f"{value} — {label}" if label else str(value)
    if isinstance(item, NumberItem):
        try:
            return f"{_number_text(value)} {item.unit}"
        except (TypeError, ValueError):
            return str(value)
    text = str(value).replace("\n", " ")
    return text if len(text) <= 140 else text[:139] + "…"


def _options_hint(item: Any) -> str:
    """The keys that answer this item, shown on the current row only."""
    if isinstance(item, PassFailItem):
        return "1 pass   2 fail   3 n/a   0 clear"
    if isinstance(item, ChoiceItem | OrdinalItem):
        shown = []
        for n, option in enumerate(item.options[:9], start=1):
            label = option.label
            if isinstance(item, OrdinalItem):
                label = f"{option.value} {label}"
            shown.append(f"{n} {label}")
        return "   ".join([*shown, "0 clear"])
    if isinstance(item, NumberItem):
        return f"type a number in {item.unit}, Enter saves, Esc cancels   0/Delete clear"
    return "Enter or F2 to write, Enter saves, Esc cancels   Delete clears"


@dataclass(frozen=True)
class _RowView:
    """Everything a row shows that depends on the audit state; compared to skip redraws."""

    value: str
    value_kind: str
    missing: bool
    alert: bool
    not_applicable: bool
    computed: str
    aux: str
    reasons: str
    tooltip: str


def _restyle(widget: QWidget) -> None:
    """Re-apply the stylesheet after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


class _Row(QFrame):
    """One answer key; lines below the label are created when first needed (fast opening)."""

    def __init__(self, form: ChecklistForm, inst: Instance) -> None:
        super().__init__()
        self.form = form
        self.inst = inst
        self.item = inst.item
        self.view: _RowView | None = None
        self.current = False
        self.setObjectName("form_row")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setProperty("current", False)
        self.setProperty("missing", False)
        self.setProperty("alert", False)
        self.setProperty("na", False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 3, 6, 3)
        outer.setSpacing(1)
        self._lines = outer
        top = QHBoxLayout()
        top.setSpacing(6)
        outer.addLayout(top)
        key = QLabel(self.item.key or "")
        key.setObjectName("form_key")
        key.setFixedWidth(14)
        top.addWidget(key)
        label = QLabel(self.item.label)
        label.setObjectName("form_label")
        label.setWordWrap(True)
        label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        top.addWidget(label, 1)
        if self.item.unconfirmed:
            tag = QLabel("unconfirmed")
            tag.setObjectName("form_unconfirmed")
            tag.setToolTip(self.item.note)
            tag.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            top.addWidget(tag)
        self.required = QLabel("required")
        self.required.setObjectName("form_required")
        self.required.hide()
        top.addWidget(self.required)
        self.value = QLabel("—")
        self.value.setObjectName("form_value")
        self.value.setProperty("answer", "none")
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.value.setMinimumWidth(90)
        self.value.setMaximumWidth(340)
        self.value.setWordWrap(True)
        top.addWidget(self.value)
        self._extra: dict[str, QLabel] = {}
        self.editor: QLineEdit | None = None

    # -- lazily created lines ---------------------------------------------------------------
    def _line(self, name: str) -> QLabel:
        label = self._extra.get(name)
        if label is None:
            label = QLabel()
            label.setObjectName(f"form_{name}")
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setContentsMargins(20, 0, 0, 0)
            self._lines.addWidget(label)
            self._extra[name] = label
        return label

    def set_line(self, name: str, text: str) -> None:
        """Show ``text`` on the named line, or hide the line when text is empty."""
        if not text:
            label = self._extra.get(name)
            if label is not None and not label.isHidden():
                label.hide()
            return
        label = self._line(name)
        if label.text() != text:
            label.setText(text)
        if label.isHidden():
            label.show()

    def line_text(self, name: str) -> str:
        """The text of a visible line ("" when hidden or never shown); used by tests and help."""
        label = self._extra.get(name)
        return label.text() if label is not None and not label.isHidden() else ""

    # -- state -------------------------------------------------------------------------------
    def set_flag(self, name: str, on: bool) -> None:
        if bool(self.property(name)) != on:
            self.setProperty(name, on)
            _restyle(self)

    def set_current(self, on: bool) -> None:
        self.current = on
        self.set_flag("current", on)
        self.set_line("options", _options_hint(self.item) if on else "")

    def apply(self, view: _RowView) -> None:
        """Redraw only what differs from the last view."""
        old = self.view
        if old == view:
            return
        self.view = view
        if old is None or old.value != view.value:
            self.value.setText(view.value)
        if old is None or old.value_kind != view.value_kind:
            self.value.setProperty("answer", view.value_kind)
            _restyle(self.value)
        if old is None or old.tooltip != view.tooltip:
            self.value.setToolTip(view.tooltip)
        if self.required.isHidden() == view.missing:
            self.required.setVisible(view.missing)
        self.set_flag("missing", view.missing)
        self.set_flag("alert", view.alert)
        self.set_flag("na", view.not_applicable)
        self.set_line("computed", view.computed)
        self.set_line("aux", view.aux)
        self.set_line("reasons", view.reasons)

    def help_text(self) -> str:
        parts = [self.item.help.strip() or "No help text for this item."]
        if self.item.note:
            parts.append(f"Note: {self.item.note}")
        comp = self.form.computed_rule(self.inst.key)
        if comp is not None:
            what = comp.label or f"{comp.kind} of {', '.join(comp.inputs)}"
            parts.append(
                _pretty_ops(f"Computed from {comp.source}: {what} {comp.op} {comp.threshold:g}")
            )
            if comp.note:
                parts.append(f"Note: {comp.note}")
        if self.form.checklist is not None:
            sources = "; ".join(s.text for s in self.form.checklist.sources[:3])
            parts.append(f"Sources: {sources}")
        return "\n".join(parts)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """A click selects the row and gives the keyboard back to the form."""
        self.form.set_current(self.inst.key)
        self.form.setFocus(Qt.FocusReason.MouseFocusReason)
        event.accept()


class _Change(QUndoCommand):
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
        if isinstance(other, _Change) and other.kind == "comment" == self.kind:
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


class ChecklistForm(QWidget):
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
        self._rows: dict[str, _Row] = {}
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
            self.undo_stack.push(_Change(self, "answer", key, old, new))
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
            self.undo_stack.push(_Change(self, "learning", None, old, not old))
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
            row = _Row(self, inst)
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

    def _show_state(self, state: AuditState) -> None:
        self._state = state
        result = self._result()
        missing = set(result.get("missing_required", []))
        not_applicable = set(result.get("not_applicable", []))
        effective = result.get("effective_answers", {})
        computed = result.get("computed", {})
        invalid = result.get("invalid_answers", {})
        for inst in self._instances:
            self._rows[inst.key].apply(
                self._row_view(inst, state, effective, computed, invalid, missing, not_applicable)
            )
        self._show_strip(state, result, len(missing))
        on = state.learning_opportunity
        self._learning.setText(
            ("■ Learning opportunity" if on else "□ Learning opportunity") + "  (Ctrl+L)"
        )
        if bool(self._learning.property("on")) != on:
            self._learning.setProperty("on", on)
            _restyle(self._learning)
        if not self._comment.hasFocus() and (state.comment or "") != self._comment.toPlainText():
            self._comment.blockSignals(True)
            self._comment.setPlainText(state.comment or "")
            self._comment.blockSignals(False)
            self._saved_comment = state.comment
        self.state_changed.emit(state)

    def _show_strip(self, state: AuditState, result: dict[str, Any], n_missing: int) -> None:
        if not result.get("complete", False):
            verdict, text = "incomplete", "incomplete"
        elif state.meets_criteria is True:
            verdict, text = "yes", "YES"
        elif state.meets_criteria is False:
            verdict, text = "no", "NO"
        elif result.get("not_evaluable"):  # out of the measure; the reasons are the tooltip
            verdict, text = "incomplete", "NOT EVALUABLE"
        else:
            verdict, text = "incomplete", "undecided"
        self._meets.setToolTip("\n".join(result.get("not_evaluable") or ()))
        if "meets_criteria" in state.overridden:
            text += " (overridden)"
        self._meets.setText(f"Meets criteria: {text}")
        if self._meets.property("verdict") != verdict:
            self._meets.setProperty("verdict", verdict)
            _restyle(self._meets)
        grade_rule = self.checklist.grade if self.checklist is not None else None
        self._grade.setVisible(grade_rule is not None)
        if self.checklist is not None and grade_rule is not None:
            grade = (state.grade or "—") + (" (overridden)" if "grade" in state.overridden else "")
            note = self.checklist.unconfirmed_note(grade_rule)  # e.g. PI-QUAL v1 scores 2 and 4
            self._grade.setText(f"Grade: {grade}" + (" · unconfirmed rule" if note else ""))
            self._grade.setToolTip(f"Unconfirmed: {note}" if note else "")
        self._missing.setText(
            f"{n_missing} required missing" if n_missing else "all required answered"
        )
        if bool(self._missing.property("missing")) != bool(n_missing):
            self._missing.setProperty("missing", bool(n_missing))
            _restyle(self._missing)
        status = "complete" if state.status == "complete" else "in progress"
        self._status.setText(status)
        if self._status.property("status") != state.status:
            self._status.setProperty("status", state.status)
            _restyle(self._status)

    def _row_view(
        self,
        inst: Instance,
        state: AuditState,
        effective: dict[str, Any],
        computed: dict[str, Any],
        invalid: dict[str, str],
        missing: set[str],
        not_applicable: set[str],
    ) -> _RowView:
        key, item = inst.key, inst.item
        explicit = state.answers.get(key)
        reason = state.reason_codes.get(key)
        tooltip = ""
        aux = ""
        if key in invalid:
            value, kind = f"{explicit!r}", "invalid"
            aux = f"stored answer is not valid here: {invalid[key]}"
        elif explicit is not None:
            value = _answer_text(item, explicit)
            kind = str(explicit) if isinstance(item, PassFailItem) else "set"
            if reason:
                label = next((r.label for r in item.reason_codes if r.code == reason), reason)
                value = f"{value} — {label}"
            if isinstance(item, TextItem):
                tooltip = str(explicit)
        elif key in effective and effective[key] is not None:
            value, kind = _answer_text(item, effective[key]), "computed"
            if key in computed:
                value += " (computed)"
        else:
            value, kind = "—", "none"
        measurement = state.measurements.get(key) if isinstance(item, NumberItem) else None
        if measurement is not None:
            how = CALIBRATION_TEXT.get(
                measurement.calibration_source, measurement.calibration_source
            )
            if measurement.value_mm is None:
                measured = (
                    f"{measurement.value_px:.0f} px measured without calibration; "
                    f"type the length in {item.unit}"
                )
            else:
                measured = f"{_number_text(measurement.value_mm)} {item.unit}, measured ({how})"
            if explicit is None and key not in invalid:
                if measurement.value_mm is not None:
                    value, kind = f"{_number_text(measurement.value_mm)} {item.unit}", "measured"
                    aux = f"measured ({how})"
                else:
                    aux = measured
            elif explicit is not None:
                aux = f"typed value used; {measured}"
        comp_text = ""
        record = computed.get(key)
        if record is not None:
            shown = _answer_text(item, record.get("value"))
            detail = record.get("detail") or ""
            requirement = record.get("requirement") or ""
            why = (
                f"{detail} {requirement}".strip()
                if record.get("value") != NOT_DETERMINABLE
                else detail
            )
            comp_text = f"computed: {shown.lower()}" + (f" ({_pretty_ops(why)})" if why else "")
            if explicit is not None and record.get("value") != explicit:
                comp_text += " — your answer is used"
        reasons = ""
        codes = getattr(item, "reason_codes", [])
        if codes and explicit == "fail":
            reasons = "   ".join(
                f"{'●' if rc.code == reason else '○'} Alt+{n} {rc.label}"
                for n, rc in enumerate(codes[:9], start=1)
            )
        is_missing = key in missing
        return _RowView(
            value=value,
            value_kind=kind,
            missing=is_missing,
            alert=is_missing and self._alert,
            not_applicable=key in not_applicable,
            computed=comp_text,
            aux=aux,
            reasons=reasons,
            tooltip=tooltip,
        )

    def _set_message(self, text: str, kind: str = "info") -> None:
        self._message.setText(text)
        self._message.setVisible(bool(text))
        if self._message.property("kind") != kind:
            self._message.setProperty("kind", kind)
            _restyle(self._message)

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
            self.undo_stack.push(_Change(self, "comment", None, old, new))
            if not self._comment.hasFocus():
                self.refresh_from_db()
            elif self._state is not None:
                self._state.comment = new

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
                initial = _number_text(stored)
            else:
                initial = str(stored)
        editor.setText(initial)
        editor.show()
        editor.setFocus(Qt.FocusReason.OtherFocusReason)
        editor.end(False)

    def _close_editor(self, row: _Row) -> None:
        if row.editor is not None and not row.editor.isHidden():
            row.editor.hide()
            row.set_line("error", "")

    def _commit_editor(self, row: _Row) -> bool:
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

    def _editing_row(self, watched: QObject) -> _Row | None:
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
                ctrl and key in (*_ENTER, Qt.Key.Key_L, Qt.Key.Key_G)
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
        if key not in (*_ENTER, Qt.Key.Key_Escape):
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
                *_ENTER,
                Qt.Key.Key_Z,
                Qt.Key.Key_Y,
                Qt.Key.Key_L,
                Qt.Key.Key_M,
                Qt.Key.Key_G,
            )
        if mods & Qt.KeyboardModifier.AltModifier:
            return key in _DIGITS
        text = event.text()
        return key in _PLAIN_KEYS or key in _DIGITS or (len(text) == 1 and text.isalpha())

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
            if key in _ENTER:
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
            if key in _DIGITS and _DIGITS[key] > 0:
                self._pick_reason(_DIGITS[key])
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
        elif key in _ENTER:
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
        elif isinstance(item, NumberItem) and (key in _DIGITS or event.text() in (".", "-", ",")):
            self._start_editing("." if event.text() == "," else event.text())
        elif key in _DIGITS:
            self._answer_digit(item, _DIGITS[key])
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
