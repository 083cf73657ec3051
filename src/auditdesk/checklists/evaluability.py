"""Is an exam evaluable at all? The checklist's N/A rule, in one place.

An audit whose every answer is "na" used to "meet criteria", since N/A answers are left out of
pass tests: an exam nobody could judge went into the numerator a site signs. The rule now (the
checklist's ``[evaluability]`` table, :class:`~auditdesk.checklists.schema.Evaluability`): each
assessed member (a view, a sequence, the exam) needs at least one required item answered with
something other than "na"; otherwise the exam is **not evaluable**, with one reason per member.

Scoring calls :func:`not_evaluable_reasons` for every audit, and the measure calls it again for
scores stored before the rule existed, so both always agree.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from auditdesk.checklists.schema import NOT_DETERMINABLE, Checklist
from auditdesk.checklists.validate import index_of, members

__all__ = ["assessed_members", "not_evaluable_reasons"]

#: The wording of the reasons, also used to recognise them in reports.
NOT_ACQUIRED = "not acquired (not in the exam)"
ALL_NA = "every required item answered N/A"
NOT_ASSESSED = "not assessed (no required item answered)"
ONLY_NA = "not assessed (only N/A answers, the rest unanswered)"


def assessed_members(checklist: Checklist) -> list[str]:
    """Members that must be assessed, in form order (the checklist's list, or every member
    with a required item)."""
    index = index_of(checklist)
    with_required: list[str] = []
    for inst in index.instances:
        if inst.item.required and inst.member not in with_required:
            with_required.append(inst.member)
    scopes = checklist.evaluability.assessed
    if scopes is None:
        return with_required
    wanted: list[str] = []
    for scope in scopes:
        for member in members(checklist, scope):
            if member not in wanted:
                wanted.append(member)
    return [m for m in with_required if m in wanted]


def not_evaluable_reasons(
    checklist: Checklist,
    effective: Mapping[str, Any],
    not_applicable: Collection[str] = (),
    facts: Mapping[str, object] | None = None,
) -> list[str]:
    """One reason per assessed member that was not assessed; empty when the exam is evaluable.

    ``effective`` are the effective answers (explicit, else computed from measurements or the
    header); ``not_applicable`` the answer keys of sections switched off by their gate;
    ``facts`` may say ``"<member>:acquired": False`` (no such view or series in the exam), which
    only changes the wording.
    """
    index = index_of(checklist)
    skipped = set(not_applicable)
    facts = facts or {}
    reasons: list[str] = []
    for member in assessed_members(checklist):
        values = [
            effective.get(inst.key)
            for inst in index.instances
            if inst.member == member and inst.item.required and inst.key not in skipped
        ]
        if not values:  # the whole section is switched off (e.g. DCE on a bpMRI): not required
            continue
        answered = [v for v in values if v is not None and v != NOT_DETERMINABLE]
        if any(v != "na" for v in answered):
            continue
        if facts.get(f"{member}:acquired") is False:
            why = NOT_ACQUIRED
        elif len(answered) == len(values):
            why = ALL_NA
        elif not answered:
            why = NOT_ASSESSED
        else:
            why = ONLY_NA
        reasons.append(f"{member}: {why}")
    return reasons
