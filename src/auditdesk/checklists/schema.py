"""Checklist file format as pydantic models (the shape of one TOML file).

The models check each table on its own (types, allowed keys, option lists); cross-references
between tables (scopes, item ids used by rules, cycles) are checked in ``validate.py`` so that a
site gets every problem in one pass, each with its line number.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

FORMAT_VERSION = 1

#: Scope members per modality; an answer key is ``"<member>:<item id>"``.
MG_MEMBERS: tuple[str, ...] = ("RCC", "LCC", "RMLO", "LMLO", "EXAM")
MR_MEMBERS: tuple[str, ...] = ("T2W", "DWI", "ADC", "DCE", "EXAM")

#: Scope names a section or rule may use, and the members each one stands for.
SCOPES: dict[str, dict[str, tuple[str, ...]]] = {
    "MG": {
        "RCC": ("RCC",),
        "LCC": ("LCC",),
        "RMLO": ("RMLO",),
        "LMLO": ("LMLO",),
        "CC": ("RCC", "LCC"),
        "MLO": ("RMLO", "LMLO"),
        "EACH_VIEW": ("RCC", "LCC", "RMLO", "LMLO"),
        "EXAM": ("EXAM",),
    },
    "MR": {
        "T2W": ("T2W",),
        "DWI": ("DWI",),
        "ADC": ("ADC",),
        "DCE": ("DCE",),
        "EXAM": ("EXAM",),
    },
}

PASS_FAIL_VALUES: tuple[str, ...] = ("pass", "fail", "na")
#: Value a header rule gives when a DICOM fact it needs is missing; never counts as an answer.
NOT_DETERMINABLE = "not_determinable"

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
CHECKLIST_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
VERSION_PATTERN = re.compile(r"^\d+(\.\d+){0,3}$")

Op = Literal["<", "<=", ">", ">=", "==", "!=", "in", "not_in"]
NUMERIC_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">="})
Scalar = bool | int | float | str


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must not silently change an audit rubric."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise ValueError(
            f"'{value}' is not a valid id; use lower-case letters, digits and '_', "
            "starting with a letter"
        )
    return value


# ---------------------------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------------------------


class Source(_Strict):
    """A citation; ``confidence`` is the tag of the reference notes (C, P, 3P, NF)."""

    text: str = Field(min_length=1)
    url: str = ""
    confidence: Literal["C", "P", "3P", "NF"]


# ---------------------------------------------------------------------------------------------
# items
# ---------------------------------------------------------------------------------------------


class ReasonCode(_Strict):
    code: str = Field(min_length=1)
    label: str = Field(min_length=1)


class ChoiceOption(_Strict):
    value: str = Field(min_length=1)
    label: str = Field(min_length=1)


class OrdinalOption(_Strict):
    value: int
    label: str = Field(min_length=1)


class _ItemBase(_Strict):
    id: str
    label: str = Field(min_length=1)
    help: str = ""
    required: bool = True
    key: str | None = None
    unconfirmed: bool = False
    note: str = ""

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value)

    @field_validator("key")
    @classmethod
    def _one_key(cls, value: str | None) -> str | None:
        # Digits answer the current item in the form (1 = pass, 2 = fail ...), so an item's
        # jump key must be a letter or the two would collide.
        if value is not None and not re.fullmatch(r"[A-Za-z]", value):
            raise ValueError(
                f"keyboard key '{value}' must be a single letter (a-z); digits are answer keys "
                "in the checklist form (1 = pass, 2 = fail, 3 = n/a, or the n-th option)"
            )
        return value

    @model_validator(mode="after")
    def _note_when_unconfirmed(self) -> _ItemBase:
        if self.unconfirmed and not self.note.strip():
            raise ValueError("an item marked unconfirmed = true needs a note saying what is unsure")
        return self


class PassFailItem(_ItemBase):
    """Pass / fail / not applicable, with optional reason codes for a fail."""

    type: Literal["pass_fail"]
    reason_codes: list[ReasonCode] = []


class ChoiceItem(_ItemBase):
    type: Literal["choice"]
    options: list[ChoiceOption] = Field(min_length=2)

    @field_validator("options")
    @classmethod
    def _unique(cls, options: list[ChoiceOption]) -> list[ChoiceOption]:
        values = [o.value for o in options]
        if len(set(values)) != len(values):
            raise ValueError(f"option values must be unique, got {values}")
        return options


class OrdinalItem(_ItemBase):
    """Ordered integer scale; the order of ``options`` is the order of the scale."""

    type: Literal["ordinal"]
    options: list[OrdinalOption] = Field(min_length=2)

    @field_validator("options")
    @classmethod
    def _increasing(cls, options: list[OrdinalOption]) -> list[OrdinalOption]:
        values = [o.value for o in options]
        if any(b <= a for a, b in itertools.pairwise(values)):
            raise ValueError(f"ordinal option values must increase strictly, got {values}")
        return options


class NumberItem(_ItemBase):
    """A number with a unit, e.g. a PNL length in mm (measurements fill these)."""

    type: Literal["number"]
    required: bool = False
    unit: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _range(self) -> NumberItem:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class TextItem(_ItemBase):
    type: Literal["text"]
    required: bool = False
    max_length: int | None = Field(default=None, gt=0)


Item = Annotated[
    PassFailItem | ChoiceItem | OrdinalItem | NumberItem | TextItem,
    Field(discriminator="type"),
]
ITEM_TYPES: tuple[str, ...] = ("pass_fail", "choice", "ordinal", "number", "text")


class Section(_Strict):
    """Items repeated once per member of ``scope`` (e.g. scope CC: once for RCC, once for LCC).

    ``applies_if`` names a yes/no rule; when it is false the section does not apply (e.g. the DCE
    items of a biparametric exam) and its items are neither required nor scored.
    """

    title: str = Field(min_length=1)
    scope: str
    applies_if: str | None = None
    items: list[Item] = Field(min_length=1)


# ---------------------------------------------------------------------------------------------
# computed items (measurement rules and header rules)
# ---------------------------------------------------------------------------------------------


class Computed(_Strict):
    """Fills a pass/fail item from numbers: measurements (mm) or DICOM header facts.

    ``compare``: each input (reduced with ``reduce`` when it is a list) is compared with the
    threshold; the item passes if any input passes. ``difference``: input 1 minus input 2
    (absolute by default). ``ratio``: input 1 divided by input 2 (e.g. FOV / matrix).

    ``target`` names the one item filled. ``targets`` instead names one item per input (the item
    of that input's view), so a comparison of two views can say *which* view failed: with
    ``fails = "lower"`` a failed test fails only the target whose input is lower and passes the
    others (the shorter PNL is the view that missed posterior tissue); ``"higher"`` is the
    mirror image; ``"all"`` (default) gives every target the same result.
    """

    target: str | None = None
    targets: list[str] = []
    fails: Literal["all", "lower", "higher"] = "all"
    kind: Literal["compare", "difference", "ratio"]
    source: Literal["measurements", "facts"]
    inputs: list[str] = Field(min_length=1)
    op: Op
    threshold: float
    absolute: bool = True
    reduce: Literal["value", "max", "min", "count"] = "value"
    unit: str = ""
    label: str = ""
    unconfirmed: bool = False
    note: str = ""

    @model_validator(mode="after")
    def _targets(self) -> Computed:
        if (self.target is None) == (not self.targets):
            raise ValueError(
                'give exactly one of target = "<answer key>" or targets = [one key per input]'
            )
        if self.targets and len(self.targets) != len(self.inputs):
            raise ValueError(
                f"targets needs one answer key per input ({len(self.inputs)}), "
                f"got {len(self.targets)}"
            )
        if self.fails != "all" and (not self.targets or self.kind == "compare"):
            raise ValueError(
                f'fails = "{self.fails}" needs kind "difference" or "ratio" and targets = '
                '[one key per input]; use fails = "all" otherwise'
            )
        return self

    @property
    def target_keys(self) -> list[str]:
        """Every answer key this rule fills, in input order when ``targets`` is used."""
        return list(self.targets) if self.targets else [str(self.target)]


# ---------------------------------------------------------------------------------------------
# scoring rules
# ---------------------------------------------------------------------------------------------


class _RuleBase(_Strict):
    id: str
    label: str = ""
    description: str = ""
    unconfirmed: bool = False
    note: str = ""

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value)


class AllPassRule(_RuleBase):
    """True when every considered pass/fail item passes (``na`` = "ignore" skips n/a answers)."""

    kind: Literal["all_pass"]
    scopes: list[str] = Field(min_length=1)
    items: list[str] | None = None
    required_only: bool = True
    na: Literal["ignore", "fail"] = "ignore"


class CountRule(_RuleBase):
    """How many items match; a number, or yes/no when ``op`` and ``threshold`` are given."""

    kind: Literal["count"]
    scopes: list[str] = Field(min_length=1)
    items: list[str] | None = None
    equals: Scalar | None = None
    one_of: list[Scalar] | None = None
    at_least: float | None = None
    at_most: float | None = None
    op: Op | None = None
    threshold: float | None = None


class ThresholdRule(_RuleBase):
    """Compares one value (another rule's result or an answer key) with ``value``."""

    kind: Literal["threshold"]
    input: str
    op: Op
    value: Scalar | list[Scalar]


class GradeRow(_Strict):
    """One row of a grade table; ``when`` lists yes/no rules that must all be true."""

    grade: str = Field(min_length=1)
    when: str | list[str] | None = None
    label: str = ""

    @property
    def conditions(self) -> list[str]:
        if self.when is None:
            return []
        return [self.when] if isinstance(self.when, str) else list(self.when)


class GradeTableRule(_RuleBase):
    """Ordered grade rows, read top-down; the first row whose conditions hold gives the grade."""

    kind: Literal["grade_table"]
    grades: list[GradeRow] = Field(min_length=1)


class AnyRule(_RuleBase):
    kind: Literal["any"]
    of: list[str] = Field(min_length=1)


class AllRule(_RuleBase):
    kind: Literal["all"]
    of: list[str] = Field(min_length=1)


class NotRule(_RuleBase):
    kind: Literal["not"]
    of: str


class WorstRule(_RuleBase):
    """The worst of several grades (answer keys or rule ids), ``order`` listed best first."""

    kind: Literal["worst"]
    of: list[str] = Field(min_length=1)
    order: list[str] = Field(min_length=2)


Rule = Annotated[
    AllPassRule
    | CountRule
    | ThresholdRule
    | GradeTableRule
    | AnyRule
    | AllRule
    | NotRule
    | WorstRule,
    Field(discriminator="kind"),
]
RULE_KINDS: tuple[str, ...] = (
    "all_pass",
    "count",
    "threshold",
    "grade_table",
    "any",
    "all",
    "not",
    "worst",
)
BOOLEAN_RULES = (AllPassRule, ThresholdRule, AnyRule, AllRule, NotRule)


def is_boolean_rule(rule: Any) -> bool:
    """Rules whose result is yes/no (usable in ``when``, ``any``, ``meets_criteria`` ...)."""
    if isinstance(rule, CountRule):
        return rule.op is not None
    return isinstance(rule, BOOLEAN_RULES)


class Evaluability(_Strict):
    """When an exam can be judged at all: the N/A rule of the checklist.

    An item answered "na" is left out of that item's pass test. A member of the ``assessed``
    scopes (a view, a sequence, the exam) whose required items are all "na" or unanswered was not
    assessed: the exam is **not evaluable**. It never "meets criteria"; the weekly measure leaves
    it out of the numerator and the denominator and counts it apart, with the reason. A section
    switched off by its ``applies_if`` rule (e.g. DCE on a bpMRI) is not required, so it never
    makes an exam not evaluable. ``None`` (the default) means every member that has a required
    item.
    """

    assessed: list[str] | None = None
    note: str = ""


# ---------------------------------------------------------------------------------------------
# the checklist
# ---------------------------------------------------------------------------------------------


class Checklist(_Strict):
    """One validated checklist version, with the exact text it was read from.

    ``source_text`` and ``content_hash`` travel with every audit so that an audit can be re-scored
    years later with the version it used. Two checklists are equal when their content is equal,
    wherever they were read from (``origin`` is not compared).
    """

    format: int = FORMAT_VERSION
    id: str
    version: str
    title: str = Field(min_length=1)
    modality: Literal["MG", "MR"]
    description: str = ""
    sources: list[Source] = Field(min_length=1)
    unconfirmed: list[str] = []
    meets_criteria: str
    grade: str | None = None
    sections: list[Section] = Field(min_length=1)
    computed: list[Computed] = []
    rules: list[Rule] = Field(min_length=1)
    evaluability: Evaluability = Evaluability()
    content_hash: str = ""
    source_text: str = ""
    origin: str = ""

    _index: Any = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _checklist_id(cls, value: str) -> str:
        if not CHECKLIST_ID_PATTERN.match(value):
            raise ValueError(
                f"'{value}' is not a valid checklist id; use lower-case letters, digits and '-'"
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not VERSION_PATTERN.match(value):
            raise ValueError(f'\'{value}\' is not a version like "1.0" or "2.1.3"')
        return value

    @field_validator("format")
    @classmethod
    def _format(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"this AuditDesk reads checklist format {FORMAT_VERSION}, not {value}")
        return value

    @property
    def version_key(self) -> tuple[int, ...]:
        """Numeric sort key, so that "1.10" sorts after "1.9"."""
        return tuple(int(part) for part in self.version.split("."))

    def unconfirmed_note(self, rule_id: str) -> str:
        """Why a rule is unconfirmed ("" when it is confirmed or unknown), for on-screen tags."""
        rule = next((r for r in self.rules if r.id == rule_id), None)
        if rule is None or not rule.unconfirmed:
            return ""
        return rule.note.strip() or "marked unconfirmed in the checklist file"

    def _content(self) -> dict[str, Any]:
        return self.model_dump(exclude={"origin"})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Checklist):
            return NotImplemented
        return self._content() == other._content()

    def __hash__(self) -> int:
        return hash((self.id, self.version, self.content_hash))
