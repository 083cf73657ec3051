"""The rows of the checklist form: how an answer reads, the per-row view of the audit state,
and the row widget that redraws only what changed.

Separate from ``checklist_form`` because painting a row is its own job: the form decides what
is current and what is saved, a row only shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from auditdesk.checklists.schema import (
    NOT_DETERMINABLE,
    ChoiceItem,
    NumberItem,
    OrdinalItem,
    PassFailItem,
)
from auditdesk.checklists.validate import Instance

if TYPE_CHECKING:
    from auditdesk.ui.reading.checklist_form import ChecklistForm


PASS_FAIL_TEXT = {"pass": "Pass", "fail": "Fail", "na": "N/A", NOT_DETERMINABLE: "not determinable"}
CALIBRATION_TEXT = {
    "pixel_spacing": "Pixel Spacing",
    "imager_pixel_spacing": "Imager Pixel Spacing",
    "imager_pixel_spacing_ermf": "Imager Pixel Spacing ÷ magnification factor",
    "digitiser_spacing": "digitiser spacing (scanned film)",
    "reported": "reported", "none": "no calibration",
}  # fmt: skip


def number_text(value: float) -> str:
    return f"{round(float(value), 2):g}"


def pretty_ops(text: str) -> str:
    return text.replace("<=", "≤").replace(">=", "≥").replace("!=", "≠").replace(" - ", " − ")


def answer_text(item: Any, value: Any) -> str:
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
            return f"{number_text(value)} {item.unit}"
        except (TypeError, ValueError):
            return str(value)
    text = str(value).replace("\n", " ")
    return text if len(text) <= 140 else text[:139] + "…"


def options_hint(item: Any) -> str:
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
class RowView:
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


def restyle(widget: QWidget) -> None:
    """Re-apply the stylesheet after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


class FormRow(QFrame):
    """One answer key; lines below the label are created when first needed (fast opening)."""

    def __init__(self, form: ChecklistForm, inst: Instance) -> None:
        super().__init__()
        self.form = form
        self.inst = inst
        self.item = inst.item
        self.view: RowView | None = None
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
            restyle(self)

    def set_current(self, on: bool) -> None:
        self.current = on
        self.set_flag("current", on)
        self.set_line("options", options_hint(self.item) if on else "")

    def apply(self, view: RowView) -> None:
        """Redraw only what differs from the last view."""
        old = self.view
        if old == view:
            return
        self.view = view
        if old is None or old.value != view.value:
            self.value.setText(view.value)
        if old is None or old.value_kind != view.value_kind:
            self.value.setProperty("answer", view.value_kind)
            restyle(self.value)
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
                pretty_ops(f"Computed from {comp.source}: {what} {comp.op} {comp.threshold:g}")
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
