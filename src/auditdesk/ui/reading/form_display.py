"""Drawing the audit state in the checklist form: the rows' views, the score strip, the
learning flag and the message line.

Separate from ``checklist_form`` because turning a stored audit state into what each line says is
its own job, and the longest one.
"""

from __future__ import annotations

from typing import Any

from auditdesk.checklists.effective import effective_answers
from auditdesk.checklists.schema import NOT_DETERMINABLE, NumberItem, PassFailItem, TextItem
from auditdesk.checklists.validate import Instance
from auditdesk.store.audits import AuditState
from auditdesk.ui.reading.form_rows import (
    CALIBRATION_TEXT,
    RowView,
    answer_text,
    number_text,
    pretty_ops,
    restyle,
)


class FormDisplayMixin:
    """How ``ChecklistForm`` shows the audit state (a mixin: it uses the form's widgets)."""

    def _show_state(self, state: AuditState) -> None:
        self._state = state
        result = self._result()
        missing = set(result.get("missing_required", []))
        not_applicable = set(result.get("not_applicable", []))
        effective = effective_answers(result, keep_not_applicable=True)
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
            restyle(self._learning)
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
            restyle(self._meets)
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
            restyle(self._missing)
        status = "complete" if state.status == "complete" else "in progress"
        self._status.setText(status)
        if self._status.property("status") != state.status:
            self._status.setProperty("status", state.status)
            restyle(self._status)

    def _row_view(
        self,
        inst: Instance,
        state: AuditState,
        effective: dict[str, Any],
        computed: dict[str, Any],
        invalid: dict[str, str],
        missing: set[str],
        not_applicable: set[str],
    ) -> RowView:
        key, item = inst.key, inst.item
        explicit = state.answers.get(key)
        reason = state.reason_codes.get(key)
        tooltip = ""
        aux = ""
        if key in invalid:
            value, kind = f"{explicit!r}", "invalid"
            aux = f"stored answer is not valid here: {invalid[key]}"
        elif explicit is not None:
            value = answer_text(item, explicit)
            kind = str(explicit) if isinstance(item, PassFailItem) else "set"
            if reason:
                label = next((r.label for r in item.reason_codes if r.code == reason), reason)
                value = f"{value} — {label}"
            if isinstance(item, TextItem):
                tooltip = str(explicit)
        elif key in effective and effective[key] is not None:
            value, kind = answer_text(item, effective[key]), "computed"
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
                measured = f"{number_text(measurement.value_mm)} {item.unit}, measured ({how})"
            if explicit is None and key not in invalid:
                if measurement.value_mm is not None:
                    value, kind = f"{number_text(measurement.value_mm)} {item.unit}", "measured"
                    aux = f"measured ({how})"
                else:
                    aux = measured
            elif explicit is not None:
                aux = f"typed value used; {measured}"
        comp_text = ""
        record = computed.get(key)
        if record is not None:
            shown = answer_text(item, record.get("value"))
            detail = record.get("detail") or ""
            requirement = record.get("requirement") or ""
            why = (
                f"{detail} {requirement}".strip()
                if record.get("value") != NOT_DETERMINABLE
                else detail
            )
            comp_text = f"computed: {shown.lower()}" + (f" ({pretty_ops(why)})" if why else "")
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
        return RowView(
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
            restyle(self._message)
