"""Cross-reference checks on a parsed checklist, and the index the scoring engine uses.

Each problem is returned as (key path, sentence) so that the loader can turn the key path into
a line number of the site's file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditdesk.checklists.schema import (
    ID_PATTERN,
    NUMERIC_OPS,
    SCOPES,
    AllPassRule,
    AllRule,
    AnyRule,
    Checklist,
    Computed,
    CountRule,
    GradeTableRule,
    NotRule,
    NumberItem,
    PassFailItem,
    Section,
    ThresholdRule,
    WorstRule,
    is_boolean_rule,
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Instance:
    """One item as it appears for one scope member, e.g. ``RMLO:imf_open``."""

    key: str
    member: str
    item: Any
    section_index: int
    item_index: int


@dataclass
class ChecklistIndex:
    """Lookup tables built once per checklist (scoring runs on every keystroke)."""

    instances: list[Instance] = field(default_factory=list)
    by_key: dict[str, Instance] = field(default_factory=dict)
    items_by_id: dict[str, tuple[int, int]] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    computed: dict[str, Computed] = field(default_factory=dict)
    #: rule id -> the rule ids it needs first (direct references and section gates).
    depends: dict[str, list[str]] = field(default_factory=dict)
    #: rule id -> answer keys it reads (for explanations and gating)
    reads: dict[str, list[str]] = field(default_factory=dict)


def parse_key(key: str) -> tuple[str, str]:
    """Split an answer key ``"RMLO:pectoral_to_pnl"`` into (scope member, item id)."""
    member, sep, item_id = key.partition(":")
    if not sep or not member or not item_id or ":" in item_id:
        raise ValueError(f"'{key}' is not an answer key of the form '<scope member>:<item id>'")
    return member, item_id


def members(checklist: Checklist, scope: str) -> tuple[str, ...]:
    """Scope members a scope name stands for ((), when the name is unknown for the modality)."""
    return SCOPES[checklist.modality].get(scope, ())


def index_of(checklist: Checklist) -> ChecklistIndex:
    """The checklist's index, built once per checklist object (scoring runs on every key)."""
    if checklist._index is None:
        checklist._index = build_index(checklist)[0]
    return checklist._index


def build_index(checklist: Checklist) -> tuple[ChecklistIndex, list[tuple[Loc, str]]]:
    """Index the checklist and list every cross-reference problem found."""
    index = ChecklistIndex()
    problems: list[tuple[Loc, str]] = []
    scope_names = ", ".join(SCOPES[checklist.modality])

    # --- sections and items -------------------------------------------------------------
    for s_i, section in enumerate(checklist.sections):
        section_members = members(checklist, section.scope)
        if not section_members:
            problems.append(
                (
                    ("sections", s_i, "scope"),
                    f"scope '{section.scope}' does not exist for modality {checklist.modality}; "
                    f"use one of: {scope_names}",
                )
            )
        keys_seen: dict[str, str] = {}
        for i_i, item in enumerate(section.items):
            loc = ("sections", s_i, "items", i_i, "id")
            clash = [m for m in section_members if f"{m}:{item.id}" in index.by_key]
            if clash:
                first = index.by_key[f"{clash[0]}:{item.id}"]
                where = (
                    "earlier in this section"
                    if first.section_index == s_i
                    else f"in section {first.section_index + 1} "
                    f"('{checklist.sections[first.section_index].title}')"
                )
                problems.append(
                    (
                        loc,
                        f"duplicate item id '{item.id}': it is already asked for "
                        f"{', '.join(clash)} {where}; give each item its own id",
                    )
                )
                continue
            index.items_by_id.setdefault(item.id, (s_i, i_i))
            if item.key is not None:
                if item.key.lower() in keys_seen:
                    problems.append(
                        (
                            ("sections", s_i, "items", i_i, "key"),
                            f"keyboard key '{item.key}' is already used by item "
                            f"'{keys_seen[item.key.lower()]}' in the same section",
                        )
                    )
                keys_seen[item.key.lower()] = item.id
            for member in section_members:
                inst = Instance(f"{member}:{item.id}", member, item, s_i, i_i)
                index.instances.append(inst)
                index.by_key[inst.key] = inst
    # Answer keys in document order, grouped per member within a section.
    index.instances.sort(key=lambda inst: (inst.section_index, _member_pos(checklist, inst)))

    # --- rules (ids first, so references can be checked in any order) ---------------------
    for r_i, rule in enumerate(checklist.rules):
        if rule.id in index.rules:
            problems.append(
                (
                    ("rules", r_i, "id"),
                    f"duplicate rule id '{rule.id}'; every rule id must be unique",
                )
            )
            continue
        index.rules[rule.id] = rule

    for r_i, rule in enumerate(checklist.rules):
        if index.rules.get(rule.id) is not rule:
            continue
        _check_rule(checklist, index, r_i, rule, problems)

    # --- sections gated by a rule --------------------------------------------------------
    for s_i, section in enumerate(checklist.sections):
        if section.applies_if is not None:
            _need_bool(index, section.applies_if, ("sections", s_i, "applies_if"), problems)

    # --- computed items ------------------------------------------------------------------
    for c_i, comp in enumerate(checklist.computed):
        _check_computed(checklist, index, c_i, comp, problems)

    # --- exam-level references -----------------------------------------------------------
    for a_i, scope in enumerate(checklist.evaluability.assessed or ()):
        if not members(checklist, scope):
            problems.append(
                (
                    ("evaluability", "assessed", a_i),
                    f"scope '{scope}' does not exist for modality {checklist.modality}; "
                    f"use one of: {scope_names}",
                )
            )
    _need_bool(index, checklist.meets_criteria, ("meets_criteria",), problems)
    if checklist.grade is not None:
        rule = index.rules.get(checklist.grade)
        if rule is None:
            problems.append(
                (("grade",), f"grade refers to a rule '{checklist.grade}' that does not exist")
            )
        elif not isinstance(rule, GradeTableRule | WorstRule):
            problems.append(
                (
                    ("grade",),
                    f"grade must name a grade_table or worst rule; '{rule.id}' is {rule.kind}",
                )
            )

    # --- dependencies and cycles ---------------------------------------------------------
    gates = _section_gates(checklist)
    for rule_id in index.rules:
        deps = list(index.depends.get(rule_id, []))
        for key in index.reads.get(rule_id, []):
            inst = index.by_key.get(key)
            if inst is not None:
                gate = gates.get(inst.section_index)
                if gate is not None and gate not in deps:
                    deps.append(gate)
        index.depends[rule_id] = deps
    cycle = _find_cycle(index.depends)
    if cycle:
        r_i = next(i for i, r in enumerate(checklist.rules) if r.id == cycle[0])
        problems.append(
            (
                ("rules", r_i, "id"),
                "rules refer to each other in a circle: "
                + " -> ".join(cycle)
                + "; break the circle so each rule can be worked out from answers",
            )
        )
    return index, problems


def _member_pos(checklist: Checklist, inst: Instance) -> int:
    order = SCOPES[checklist.modality][checklist.sections[inst.section_index].scope]
    return order.index(inst.member) * 10_000 + inst.item_index


def _section_gates(checklist: Checklist) -> dict[int, str]:
    return {i: s.applies_if for i, s in enumerate(checklist.sections) if s.applies_if is not None}


def _need_bool(index: ChecklistIndex, ref: str, loc: Loc, problems: list[tuple[Loc, str]]) -> None:
    rule = index.rules.get(ref)
    if rule is None:
        problems.append((loc, f"refers to a rule '{ref}' that does not exist"))
    elif not is_boolean_rule(rule):
        problems.append(
            (loc, f"needs a yes/no rule, but '{ref}' ({rule.kind}) gives a number or a grade")
        )


def _scope_items(
    checklist: Checklist, index: ChecklistIndex, scopes: list[str]
) -> tuple[list[str], list[int]]:
    """Answer keys covered by the scopes, and positions of scope names that are unknown."""
    wanted: set[str] = set()
    bad: list[int] = []
    for pos, scope in enumerate(scopes):
        m = members(checklist, scope)
        if not m:
            bad.append(pos)
        wanted.update(m)
    keys = [inst.key for inst in index.instances if inst.member in wanted]
    return keys, bad


def _check_rule(
    checklist: Checklist,
    index: ChecklistIndex,
    r_i: int,
    rule: Any,
    problems: list[tuple[Loc, str]],
) -> None:
    deps: list[str] = []
    reads: list[str] = []
    scope_names = ", ".join(SCOPES[checklist.modality])

    if isinstance(rule, CountRule):
        _check_count_shape(r_i, rule, problems)
    if isinstance(rule, ThresholdRule):
        _check_threshold_shape(r_i, rule, problems)

    if isinstance(rule, AllPassRule | CountRule):
        keys, bad = _scope_items(checklist, index, rule.scopes)
        for pos in bad:
            problems.append(
                (
                    ("rules", r_i, "scopes", pos),
                    f"scope '{rule.scopes[pos]}' does not exist for modality "
                    f"{checklist.modality}; use one of: {scope_names}",
                )
            )
        if rule.items is not None:
            present = {index.by_key[k].item.id for k in keys}
            for pos, item_id in enumerate(rule.items):
                if item_id not in index.items_by_id:
                    problems.append(
                        (
                            ("rules", r_i, "items", pos),
                            f"refers to an item '{item_id}' that does not exist",
                        )
                    )
                elif item_id not in present and not bad:
                    problems.append(
                        (
                            ("rules", r_i, "items", pos),
                            f"item '{item_id}' is not asked in scopes {rule.scopes}",
                        )
                    )
                elif isinstance(rule, AllPassRule):
                    kinds = {
                        index.by_key[k].item.type
                        for k in keys
                        if index.by_key[k].item.id == item_id
                    }
                    if kinds != {"pass_fail"}:
                        problems.append(
                            (
                                ("rules", r_i, "items", pos),
                                f"all_pass can only check pass_fail items; '{item_id}' is "
                                + " / ".join(sorted(kinds)),
                            )
                        )
            keys = [k for k in keys if index.by_key[k].item.id in set(rule.items)]
        reads.extend(keys)
    elif isinstance(rule, ThresholdRule):
        _ref(index, rule.input, ("rules", r_i, "input"), deps, reads, problems)
        if rule.input in index.rules and ":" not in rule.input and rule.op in NUMERIC_OPS:
            target = index.rules[rule.input]
            if is_boolean_rule(target) or isinstance(target, GradeTableRule | WorstRule):
                problems.append(
                    (
                        ("rules", r_i, "op"),
                        f"op '{rule.op}' compares numbers, but rule '{target.id}' gives a "
                        "yes/no or a grade; use == / != / in",
                    )
                )
    elif isinstance(rule, AnyRule | AllRule):
        for pos, ref in enumerate(rule.of):
            _need_bool(index, ref, ("rules", r_i, "of", pos), problems)
            deps.append(ref)
    elif isinstance(rule, NotRule):
        _need_bool(index, rule.of, ("rules", r_i, "of"), problems)
        deps.append(rule.of)
    elif isinstance(rule, GradeTableRule):
        catch_all = None
        for g_i, row in enumerate(rule.grades):
            if catch_all is not None:
                problems.append(
                    (
                        ("rules", r_i, "grades", g_i),
                        f"grade row {g_i + 1} can never be reached: row {catch_all + 1} has no "
                        "'when' and already matches everything",
                    )
                )
            if row.when is None:
                catch_all = g_i
            for c_i, ref in enumerate(row.conditions):
                loc: Loc = ("rules", r_i, "grades", g_i, "when")
                if isinstance(row.when, list):
                    loc = (*loc, c_i)
                _need_bool(index, ref, loc, problems)
                deps.append(ref)
    elif isinstance(rule, WorstRule):
        for pos, ref in enumerate(rule.of):
            _ref(index, ref, ("rules", r_i, "of", pos), deps, reads, problems)
        if len(set(rule.order)) != len(rule.order):
            problems.append((("rules", r_i, "order"), "grades in 'order' must be unique"))
    index.depends[rule.id] = [d for d in deps if d in index.rules]
    index.reads[rule.id] = reads


def _check_count_shape(r_i: int, rule: CountRule, problems: list[tuple[Loc, str]]) -> None:
    matchers = [
        name
        for name in ("equals", "one_of", "at_least", "at_most")
        if getattr(rule, name) is not None
    ]
    if len(matchers) != 1:
        problems.append(
            (
                ("rules", r_i, matchers[1] if len(matchers) > 1 else "kind"),
                "a count rule needs exactly one of equals, one_of, at_least, at_most "
                "(what to count)",
            )
        )
    if (rule.op is None) != (rule.threshold is None):
        missing = "threshold" if rule.threshold is None else "op"
        present = "op" if missing == "threshold" else "threshold"
        problems.append(
            (
                ("rules", r_i, present),
                f"give both op and threshold, or neither (then the count is a number); "
                f"'{missing}' is missing",
            )
        )
    if rule.op in ("in", "not_in"):
        problems.append(
            (
                ("rules", r_i, "op"),
                f"op '{rule.op}' cannot compare a count; use <, <=, >, >=, ==, !=",
            )
        )


def _check_threshold_shape(r_i: int, rule: ThresholdRule, problems: list[tuple[Loc, str]]) -> None:
    loc: Loc = ("rules", r_i, "value")
    if rule.op in ("in", "not_in"):
        if not isinstance(rule.value, list):
            problems.append(
                (loc, f'op \'{rule.op}\' needs a list as value, e.g. value = ["P", "G"]')
            )
    elif isinstance(rule.value, list):
        problems.append((loc, f"op '{rule.op}' needs a single value, not a list"))
    elif rule.op in NUMERIC_OPS and (
        isinstance(rule.value, bool) or not isinstance(rule.value, int | float)
    ):
        problems.append((loc, f"op '{rule.op}' needs a number as value, got {rule.value!r}"))


def _ref(
    index: ChecklistIndex,
    ref: str,
    loc: Loc,
    deps: list[str],
    reads: list[str],
    problems: list[tuple[Loc, str]],
) -> None:
    """A reference is an answer key when it contains ':', otherwise a rule id."""
    if ":" in ref:
        if ref not in index.by_key:
            problems.append((loc, f"refers to an answer '{ref}' that no section asks for"))
        else:
            reads.append(ref)
    elif ref not in index.rules:
        problems.append((loc, f"refers to a rule '{ref}' that does not exist"))
    else:
        deps.append(ref)


def _check_computed(
    checklist: Checklist,
    index: ChecklistIndex,
    c_i: int,
    comp: Computed,
    problems: list[tuple[Loc, str]],
) -> None:
    loc: Loc = ("computed", c_i)
    for pos, key in enumerate(comp.target_keys):
        where: Loc = (*loc, "targets", pos) if comp.targets else (*loc, "target")
        inst = index.by_key.get(key)
        if inst is None:
            problems.append((where, f"target '{key}' is not an answer any section asks for"))
        elif not isinstance(inst.item, PassFailItem):
            problems.append(
                (where, f"target '{key}' must be a pass_fail item, not {inst.item.type}")
            )
        elif key in index.computed:
            problems.append((where, f"'{key}' is already computed by another rule"))
        else:
            index.computed[key] = comp
    arity = {"difference": 2, "ratio": 2}.get(comp.kind)
    if arity is not None and len(comp.inputs) != arity:
        problems.append(((*loc, "inputs"), f"a {comp.kind} needs exactly {arity} inputs"))
    if comp.op not in NUMERIC_OPS:
        problems.append(
            ((*loc, "op"), f"op '{comp.op}' is not a numeric comparison; use <, <=, > or >=")
        )
    if comp.threshold < 0 and (
        comp.kind == "ratio" or (comp.kind == "difference" and comp.absolute)
    ):
        problems.append(
            ((*loc, "threshold"), f"threshold {comp.threshold} cannot be negative here")
        )
    valid_members = {m for scope in SCOPES[checklist.modality].values() for m in scope}
    for pos, ref in enumerate(comp.inputs):
        where = (*loc, "inputs", pos)
        if comp.source == "measurements":
            target = index.by_key.get(ref)
            if target is None:
                problems.append(
                    (where, f"measurement '{ref}' is not a number item any section asks for")
                )
            elif not isinstance(target.item, NumberItem):
                problems.append(
                    (where, f"measurement '{ref}' must be a number item, not {target.item.type}")
                )
        else:
            try:
                member, name = parse_key(ref)
            except ValueError as exc:
                problems.append((where, str(exc)))
                continue
            if member not in valid_members or not ID_PATTERN.match(name):
                problems.append(
                    (
                        where,
                        f"fact '{ref}' must look like '<series role>:<name>', "
                        "e.g. 'T2W:slice_thickness_mm'",
                    )
                )


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """First cycle found by depth-first search, as a closed path (a -> b -> a)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def section_of(checklist: Checklist, inst: Instance) -> Section:
    return checklist.sections[inst.section_index]
