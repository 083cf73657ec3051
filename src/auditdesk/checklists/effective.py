"""The effective result of an audit, one rule for every reader (issue 14 point 4).

An audit's answers are stored as the reviewer (or the consensus prefill, or the header/computed
value) gave them; the scoring engine (``rules.score``) turns them into *effective answers* — the
typed answer, else the computed one, else a measured number — and stores those with the score.
A coach may then override the derived ``meets_criteria`` or ``grade``; the newest override of a
field wins and a withdrawn one (value None) means "back to the computed result".

The form (``store.audit_state``), the measure (``qi.measures``), the exam sheet
(``exchange.exam_sheet``), agreement (``review.agreement``), adjudication and the worklist all
read the effective result through these functions, so they cannot disagree on which answers and
which verdict count. Separate and dependency-free so that the store can use it as well as the
readers above it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def effective_answers(
    result: Mapping[str, Any] | None, *, keep_not_applicable: bool = False
) -> dict[str, Any]:
    """The answers that count, from a stored score result (``ScoreResult.as_dict``).

    Keys the checklist made not applicable for this exam are left out unless
    ``keep_not_applicable`` (for code that applies the not-applicable rule itself)."""
    result = result or {}
    answers = dict(result.get("effective_answers") or {})
    if keep_not_applicable:
        return answers
    skipped = set(result.get("not_applicable") or ())
    return {k: v for k, v in answers.items() if k not in skipped}


def newest_overrides(rows: Iterable[Sequence[Any]]) -> dict[int, dict[str, Any]]:
    """Newest override value per audit and field from ``(audit_pk, field, value)`` rows given
    oldest first (ordered by ``AuditOverride.id``); a None value is a withdrawal and is kept,
    because it cancels older overrides of that field."""
    newest: dict[int, dict[str, Any]] = {}
    for audit_pk, field, value in rows:
        newest.setdefault(audit_pk, {})[field] = value
    return newest


@dataclass(frozen=True)
class Verdict:
    """The effective meets-criteria and grade of an audit, and which of them an override set."""

    meets_criteria: bool | None
    grade: str | None
    overridden: tuple[str, ...]


def apply_overrides(
    meets_criteria: bool | None, grade: str | None, overrides: Mapping[str, Any]
) -> Verdict:
    """The computed verdict with the newest override of each field applied (``overrides``:
    field -> newest value, see :func:`newest_overrides`; None = withdrawn, computed stays)."""
    overridden: list[str] = []
    if overrides.get("meets_criteria") is not None:
        meets_criteria = overrides["meets_criteria"]
        overridden.append("meets_criteria")
    if overrides.get("grade") is not None:
        grade = overrides["grade"]
        overridden.append("grade")
    return Verdict(meets_criteria, grade, tuple(overridden))


__all__ = ["Verdict", "apply_overrides", "effective_answers", "newest_overrides"]
