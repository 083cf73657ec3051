"""Scoring: answers + measurements + DICOM facts -> rule values, grade and "meets criteria".

Pure, deterministic and cheap: the form calls :func:`score` on every keystroke. Nothing here
evaluates text from a file as code; every rule kind is a small Python function. Unknown results
propagate as ``None`` (three-valued logic), so a half-filled form shows what is already decided.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditdesk.checklists.evaluability import not_evaluable_reasons
from auditdesk.checklists.schema import (
    NOT_DETERMINABLE,
    PASS_FAIL_VALUES,
    AllPassRule,
    AllRule,
    AnyRule,
    Checklist,
    ChoiceItem,
    Computed,
    CountRule,
    GradeTableRule,
    NotRule,
    NumberItem,
    OrdinalItem,
    PassFailItem,
    TextItem,
    ThresholdRule,
    WorstRule,
)
from auditdesk.checklists.validate import ChecklistIndex, index_of, members, parse_key

__all__ = ["ScoreResult", "answer_keys", "normalise_answer", "parse_key", "score"]

_DECIMALS = (
    6  # computed numbers are rounded before comparing (60.3 - 50.3 is 10, not 10.000000000000007)
)


@dataclass(frozen=True)
class ScoreResult:
    """Everything derived from one audit's answers; ``to_dict()`` is JSON-safe for the store."""

    checklist_id: str
    checklist_version: str
    content_hash: str
    rule_values: dict[str, Any]
    computed: dict[str, dict[str, Any]]
    effective_answers: dict[str, Any]
    overrides: dict[str, dict[str, Any]]
    missing_required: list[str]
    invalid_answers: dict[str, str]
    not_applicable: list[str]
    complete: bool
    meets_criteria: bool | None
    grade: str | None
    explanation: list[str] = field(default_factory=list)
    # The checklist's N/A rule (auditdesk.checklists.evaluability): one reason per view,
    # sequence or exam that was not assessed. A not-evaluable exam never "meets criteria".
    not_evaluable: list[str] = field(default_factory=list)

    @property
    def evaluable(self) -> bool:
        """False when a view, sequence or the exam was not assessed (see ``not_evaluable``)."""
        return not self.not_evaluable

    def to_dict(self) -> dict[str, Any]:
        return {
            "checklist_id": self.checklist_id,
            "checklist_version": self.checklist_version,
            "content_hash": self.content_hash,
            "rule_values": dict(self.rule_values),
            "computed": {k: dict(v) for k, v in self.computed.items()},
            "effective_answers": dict(self.effective_answers),
            "overrides": {k: dict(v) for k, v in self.overrides.items()},
            "missing_required": list(self.missing_required),
            "invalid_answers": dict(self.invalid_answers),
            "not_applicable": list(self.not_applicable),
            "complete": self.complete,
            "meets_criteria": self.meets_criteria,
            "grade": self.grade,
            "explanation": list(self.explanation),
            "evaluable": self.evaluable,
            "not_evaluable": list(self.not_evaluable),
        }


def _index(checklist: Checklist) -> ChecklistIndex:
    return index_of(checklist)


def answer_keys(checklist: Checklist) -> list[str]:
    """Every answer key of the checklist in form order, e.g. ``"RMLO:pectoral_to_pnl"``."""
    return [inst.key for inst in _index(checklist).instances]


def item_for_key(checklist: Checklist, key: str) -> Any:
    """The item definition behind an answer key (KeyError if the checklist does not ask it)."""
    return _index(checklist).by_key[key].item


def normalise_answer(item: Any, value: object) -> Any:
    """The stored form of an answer, or ValueError with a reason (None/"" mean unanswered)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(item, PassFailItem):
        text = str(value).strip().lower()
        if text not in PASS_FAIL_VALUES:
            raise ValueError(f"{value!r} is not one of pass, fail, na")
        return text
    if isinstance(item, ChoiceItem):
        allowed = [o.value for o in item.options]
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {allowed}")
        return value
    if isinstance(item, OrdinalItem):
        for option in item.options:
            if not isinstance(value, bool) and str(value).strip() == str(option.value):
                return option.value
        raise ValueError(f"{value!r} is not one of {[o.value for o in item.options]}")
    if isinstance(item, NumberItem):
        number = _number(value)
        if number is None:
            raise ValueError(f"{value!r} is not a number")
        if item.min is not None and number < item.min:
            raise ValueError(f"{number} is below the minimum {item.min}")
        if item.max is not None and number > item.max:
            raise ValueError(f"{number} is above the maximum {item.max}")
        return number
    if isinstance(item, TextItem):
        text = str(value)
        if item.max_length is not None and len(text) > item.max_length:
            raise ValueError(f"text is longer than {item.max_length} characters")
        return text
    raise ValueError(f"unsupported item type {type(item).__name__}")  # pragma: no cover


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _compare(left: Any, op: str, right: Any) -> bool | None:
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
        if op == "==":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == "in":
            return left in right
        if op == "not_in":
            return left not in right
    except TypeError:
        return None
    return None  # pragma: no cover


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


# ---------------------------------------------------------------------------------------------
# computed items
# ---------------------------------------------------------------------------------------------


def _reduce(value: Any, how: str) -> float | None:
    if isinstance(value, list | tuple):
        numbers = [_number(v) for v in value]
        if any(n is None for n in numbers):
            return None
        clean = [n for n in numbers if n is not None]
        if how == "count":
            return float(len(clean))
        if not clean:
            return None
        if how == "min":
            return min(clean)
        return max(clean)  # "max", and "value" of a list means its highest value
    if how == "count":
        return None
    return _number(value)


def _evaluate_computed(
    comp: Computed,
    inputs: dict[str, Any],
    unit: str,
) -> dict[str, dict[str, Any]] | None:
    """Result record per target of one computed rule, or None while measurements are missing.

    With ``fails = "lower"`` (or ``"higher"``) a failed comparison fails only the target paired
    with the lower (higher) input and passes the others, and every record names the failed
    target: e.g. a CC-vs-MLO PNL mismatch fails the view with the shorter PNL, which is the one
    that missed posterior tissue (domain notes 1.5). Equal inputs cannot be told apart, so a
    failed test with equal inputs fails every target.
    """
    record = _evaluate_one(comp, inputs, unit)
    if record is None:
        return None
    keys = comp.target_keys
    blamed = _blamed_position(comp, inputs) if record["value"] == "fail" else None
    if blamed is None:
        return {key: dict(record) for key in keys}
    out: dict[str, dict[str, Any]] = {}
    which = "lower" if comp.fails == "lower" else "higher"
    note = f"; {comp.inputs[blamed]} is the {which}, so {keys[blamed]} fails"
    for pos, key in enumerate(keys):
        own = dict(record, failed_target=keys[blamed], detail=record["detail"] + note)
        own["value"] = "fail" if pos == blamed else "pass"
        out[key] = own
    return out


def _blamed_position(comp: Computed, inputs: dict[str, Any]) -> int | None:
    """Index of the input whose target alone fails (None: every target fails)."""
    if comp.fails == "all":
        return None
    numbers = [_number(inputs.get(key)) for key in comp.inputs]
    clean = [n for n in numbers if n is not None]
    if len(clean) != len(numbers) or len(set(clean)) != len(clean):
        return None
    pick = min if comp.fails == "lower" else max
    return clean.index(pick(clean))


def _evaluate_one(
    comp: Computed,
    inputs: dict[str, Any],
    unit: str,
) -> dict[str, Any] | None:
    """Result record of the rule's test, or None when measurements are not all there yet."""
    from_facts = comp.source == "facts"
    present = {k: v for k, v in inputs.items() if v is not None}
    record: dict[str, Any] = {
        "source": comp.source,
        "kind": comp.kind,
        "inputs": dict(inputs),
        "op": comp.op,
        "threshold": comp.threshold,
        "unit": unit.strip(),
    }
    if comp.kind == "compare":
        results: list[bool | None] = []
        shown: list[str] = []
        for key in comp.inputs:
            raw = inputs.get(key)
            if isinstance(raw, list | tuple) and not raw and comp.reduce != "count":
                results.append(False)  # an empty list means "none", e.g. no calculated high b
                shown.append(f"{key} = none")
                continue
            number = _reduce(raw, comp.reduce) if key in present else None
            if number is not None:
                number = round(number, _DECIMALS)
                results.append(_compare(number, comp.op, comp.threshold))
                label = key if comp.reduce == "value" else f"{comp.reduce}({key})"
                shown.append(f"{label} = {_fmt(number)}{unit}")
            else:
                results.append(None)
        if any(r is True for r in results):
            value = "pass"
        elif results and all(r is False for r in results):
            value = "fail"
        else:
            value = None
        detail = "; ".join(shown)
    else:
        a = _number(present.get(comp.inputs[0])) if comp.inputs[0] in present else None
        b = _number(present.get(comp.inputs[1])) if comp.inputs[1] in present else None
        if a is None or b is None or (comp.kind == "ratio" and b == 0):
            value, detail = None, ""
        else:
            if comp.kind == "difference":
                number = abs(a - b) if comp.absolute else a - b
                expr = (
                    f"|{comp.inputs[0]} - {comp.inputs[1]}|"
                    if comp.absolute
                    else f"{comp.inputs[0]} - {comp.inputs[1]}"
                )
            else:
                number = a / b
                expr = f"{comp.inputs[0]} / {comp.inputs[1]}"
            number = round(number, _DECIMALS)
            record["value_computed_from_inputs"] = number
            ok = _compare(number, comp.op, comp.threshold)
            value = "pass" if ok else "fail"
            detail = f"{expr} = {_fmt(number)}{unit}"
    if value is None:
        if not from_facts:
            return None  # measurement rules wait until every number exists
        value = NOT_DETERMINABLE
        missing = [k for k in comp.inputs if k not in present]
        detail = (
            "missing " + ", ".join(missing) if missing else "facts could not be read as numbers"
        )
    record["value"] = value
    record["detail"] = detail
    record["requirement"] = f"{comp.op} {_fmt(comp.threshold)}{unit}"
    return record


# ---------------------------------------------------------------------------------------------
# rule evaluation
# ---------------------------------------------------------------------------------------------


class _Evaluator:
    def __init__(
        self, checklist: Checklist, index: ChecklistIndex, effective: Mapping[str, Any]
    ) -> None:
        self.checklist = checklist
        self.index = index
        self.effective = effective
        self.values: dict[str, Any] = {}
        self.notes: dict[str, str] = {}

    # -- helpers ------------------------------------------------------------------------
    def applicable(self, key: str) -> bool:
        """False only when the item's section is switched off by a rule that is false."""
        inst = self.index.by_key[key]
        gate = self.checklist.sections[inst.section_index].applies_if
        return gate is None or self.rule(gate) is not False

    def answer(self, key: str) -> Any:
        value = self.effective.get(key)
        return None if value == NOT_DETERMINABLE else value

    def ref(self, ref: str) -> Any:
        return self.answer(ref) if ":" in ref else self.rule(ref)

    def scoped(self, rule: AllPassRule | CountRule) -> list[str]:
        wanted: set[str] = set()
        for scope in rule.scopes:
            wanted.update(members(self.checklist, scope))
        ids = set(rule.items) if rule.items is not None else None
        return [
            inst.key
            for inst in self.index.instances
            if inst.member in wanted and (ids is None or inst.item.id in ids)
        ]

    # -- rules ---------------------------------------------------------------------------
    def rule(self, rule_id: str) -> Any:
        if rule_id not in self.values:
            rule = self.index.rules[rule_id]
            self.values[rule_id] = getattr(self, "_" + rule.kind)(rule)
        return self.values[rule_id]

    def _all_pass(self, rule: AllPassRule) -> bool | None:
        failed: list[str] = []
        unknown: list[str] = []
        for key in self.scoped(rule):
            inst = self.index.by_key[key]
            if not isinstance(inst.item, PassFailItem) or not self.applicable(key):
                continue
            if rule.required_only and not inst.item.required:
                continue
            value = self.answer(key)
            if value == "fail" or (value == "na" and rule.na == "fail"):
                failed.append(key)
            elif value is None and inst.item.required:
                unknown.append(key)
        if failed:
            self.notes[rule.id] = "failed: " + ", ".join(failed)
            return False
        if unknown:
            self.notes[rule.id] = f"{len(unknown)} item(s) not answered yet"
            return None
        return True

    def _matches(self, rule: CountRule, value: Any) -> bool:
        if rule.equals is not None:
            return value == rule.equals
        if rule.one_of is not None:
            return value in rule.one_of
        number = _number(value) if not isinstance(value, str) else None
        if number is None:
            return False
        if rule.at_least is not None:
            return number >= rule.at_least
        return rule.at_most is not None and number <= rule.at_most

    def _count(self, rule: CountRule) -> int | bool | None:
        total = 0
        for key in self.scoped(rule):
            inst = self.index.by_key[key]
            if not self.applicable(key):
                continue
            value = self.answer(key)
            if value is None:
                if inst.item.required:
                    self.notes[rule.id] = f"{key} not answered yet"
                    return None
                continue
            total += self._matches(rule, value)
        if rule.op is None:
            self.notes[rule.id] = f"count = {total}"
            return total
        self.notes[rule.id] = f"count {total} {rule.op} {_fmt(rule.threshold)}"
        return _compare(total, rule.op, rule.threshold)

    def _threshold(self, rule: ThresholdRule) -> bool | None:
        value = self.ref(rule.input)
        if value is None:
            return None
        result = _compare(value, rule.op, rule.value)
        self.notes[rule.id] = f"{rule.input} = {_fmt(value)} {rule.op} {_fmt(rule.value)}"
        return result

    def _any(self, rule: AnyRule) -> bool | None:
        values = [self.rule(r) for r in rule.of]
        if any(v is True for v in values):
            return True
        return False if all(v is False for v in values) else None

    def _all(self, rule: AllRule) -> bool | None:
        values = [self.rule(r) for r in rule.of]
        if any(v is False for v in values):
            return False
        return True if all(v is True for v in values) else None

    def _not(self, rule: NotRule) -> bool | None:
        value = self.rule(rule.of)
        return None if value is None else not value

    def _grade_table(self, rule: GradeTableRule) -> str | None:
        for n, row in enumerate(rule.grades, start=1):
            values = [self.rule(c) for c in row.conditions]
            if any(v is False for v in values):
                continue
            if all(v is True for v in values):
                why = row.label or (" and ".join(row.conditions) if row.conditions else "otherwise")
                self.notes[rule.id] = f"row {n}: {why}"
                return row.grade
            self.notes[rule.id] = f"row {n} cannot be decided yet"
            return None
        self.notes[rule.id] = "no grade row matched"
        return None

    def _worst(self, rule: WorstRule) -> str | None:
        positions: list[int] = []
        for ref in rule.of:
            value = self.ref(ref)
            if value is None or str(value) not in rule.order:
                return None
            positions.append(rule.order.index(str(value)))
        return rule.order[max(positions)]


# ---------------------------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------------------------


def score(
    checklist: Checklist,
    answers: Mapping[str, object],
    measurements: Mapping[str, float] | None = None,
    facts: Mapping[str, object] | None = None,
) -> ScoreResult:
    """Score one audit. Explicit answers win over computed suggestions; both are reported.

    ``measurements`` are keyed like answers (``"RCC:pnl_mm"``); a number typed as an answer wins
    over a measurement of the same key. ``facts`` are DICOM header facts (``"DWI:b_values"``).
    """
    index = _index(checklist)
    measurements = measurements or {}
    facts = facts or {}
    explanation: list[str] = []

    explicit: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    unknown_keys: list[str] = []
    for key, raw in answers.items():
        inst = index.by_key.get(key)
        if inst is None:
            unknown_keys.append(key)
            continue
        try:
            value = normalise_answer(inst.item, raw)
        except ValueError as exc:
            invalid[key] = str(exc)
            continue
        if value is not None:
            explicit[key] = value

    computed: dict[str, dict[str, Any]] = {}
    for comp in checklist.computed:
        if comp.source == "measurements":
            inputs = {}
            for ref in comp.inputs:
                # A number the reviewer typed wins over the measurement tool, like any answer.
                number = explicit.get(ref)
                inputs[ref] = number if number is not None else _number(measurements.get(ref))
            unit = getattr(index.by_key[comp.inputs[0]].item, "unit", "")
            unit = f" {unit}" if unit else ""
        else:
            inputs = {ref: facts.get(ref) for ref in comp.inputs}
            unit = f" {comp.unit}" if comp.unit else ""
        computed.update(_evaluate_computed(comp, inputs, unit) or {})

    effective: dict[str, Any] = {}
    overrides: dict[str, dict[str, Any]] = {}
    for inst in index.instances:
        key = inst.key
        if key in explicit:
            effective[key] = explicit[key]
            if key in computed and computed[key]["value"] != explicit[key]:
                overrides[key] = {"computed": computed[key]["value"], "answer": explicit[key]}
        elif key in computed:
            effective[key] = computed[key]["value"]
        elif key in measurements and isinstance(inst.item, NumberItem):
            number = _number(measurements[key])
            if number is not None:
                effective[key] = number

    evaluator = _Evaluator(checklist, index, effective)
    rule_values = {rule_id: evaluator.rule(rule_id) for rule_id in index.rules}

    missing: list[str] = []
    not_applicable: list[str] = []
    for inst in index.instances:
        if not evaluator.applicable(inst.key):
            not_applicable.append(inst.key)
        elif (
            inst.item.required
            and evaluator.answer(inst.key) is None
            # A view or sequence the header says is not in the exam cannot be answered; the
            # exam is then not evaluable (below) and the audit may still be completed.
            and facts.get(f"{inst.member}:acquired") is not False
        ):
            missing.append(inst.key)
    complete = not missing
    not_evaluable = not_evaluable_reasons(checklist, effective, not_applicable, facts)
    decided = complete and not not_evaluable

    meets_value = rule_values.get(checklist.meets_criteria)
    meets = meets_value if decided and isinstance(meets_value, bool) else None
    grade_value = rule_values.get(checklist.grade) if checklist.grade else None
    grade = str(grade_value) if decided and grade_value is not None else None

    # -- explanation: short sentences, most useful first ---------------------------------------
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        explanation.append(f"{len(missing)} required answer(s) missing: {shown}.")
    skipped = set(not_applicable)
    for key, record in computed.items():
        if key in skipped:
            continue
        if record["value"] == NOT_DETERMINABLE:
            explanation.append(
                f"{key} is not determinable from the DICOM header: {record['detail']}; "
                "please check it yourself."
            )
        else:
            explanation.append(
                f"{key} computed as {record['value']}: {record['detail']} "
                f"(needs {record['requirement']})."
            )
    for key, pair in overrides.items():
        explanation.append(
            f"{key}: reviewer answered {pair['answer']} over the computed {pair['computed']}."
        )
    for key, reason in invalid.items():
        explanation.append(f"{key}: answer ignored, {reason}.")
    if unknown_keys:
        explanation.append(
            f"Ignored {len(unknown_keys)} answer(s) this checklist does not ask: "
            + ", ".join(sorted(unknown_keys)[:5])
            + "."
        )
    if checklist.grade:
        note = evaluator.notes.get(checklist.grade, "")
        explanation.append(
            f"Grade ({checklist.grade}): "
            + (_fmt(grade_value) if grade_value is not None else "undecided")
            + (f", {note}." if note else ".")
        )
    if not_evaluable:
        explanation.append(
            "Not evaluable (left out of the measure): " + "; ".join(not_evaluable) + "."
        )
    note = evaluator.notes.get(checklist.meets_criteria, "")
    verdict = {True: "met", False: "not met", None: "undecided"}[meets_value]
    explanation.append(
        f"Criteria ({checklist.meets_criteria}): {verdict}" + (f", {note}." if note else ".")
    )

    return ScoreResult(
        checklist_id=checklist.id,
        checklist_version=checklist.version,
        content_hash=checklist.content_hash,
        rule_values=rule_values,
        computed=computed,
        effective_answers=effective,
        overrides=overrides,
        missing_required=missing,
        invalid_answers=invalid,
        not_applicable=not_applicable,
        complete=complete,
        meets_criteria=meets,
        grade=grade,
        explanation=explanation,
        not_evaluable=not_evaluable,
    )
