"""Checking answers against a checklist before anything is stored.

Scoring (``rules.score``) skips an unknown key or an invalid value so that a half-typed form
still scores; but a stored answer the checklist cannot read is a silent hole in a number a site
signs. So every write path (CLI, Python API, store, CSV import, reviewer packages, the form)
runs the answers through :func:`check_answers` first and writes nothing when one is refused.
The refusal is one line naming the key, the value and what would be valid, so the user can fix
it without opening the checklist file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Protocol

from auditdesk.checklists.loader import parse_checklist_text
from auditdesk.checklists.rules import answer_keys, item_for_key, normalise_answer
from auditdesk.checklists.schema import (
    PASS_FAIL_VALUES,
    Checklist,
    ChoiceItem,
    NumberItem,
    OrdinalItem,
    PassFailItem,
    TextItem,
)
from auditdesk.checklists.validate import parse_key

__all__ = [
    "InvalidAnswerError",
    "StoredVersion",
    "check_answer",
    "check_answers",
    "check_measurements",
    "check_stored_answer",
    "map_answers",
    "nearest_keys",
    "stored_version_checklist",
    "valid_values",
]


class InvalidAnswerError(ValueError):
    """Answers a checklist cannot take; ``str(err)`` is one line, ``problems`` one per answer."""

    def __init__(self, problems: list[str], prefix: str = "") -> None:
        self.problems = list(problems)
        super().__init__(prefix + "; ".join(self.problems))


class StoredVersion(Protocol):
    """What the store keeps of a checklist version (``store.models.ChecklistVersion``)."""

    checklist_id: str
    version: str
    content_hash: str
    source_text: str


@lru_cache(maxsize=64)
def _parse(content_hash: str, text: str, origin: str) -> Checklist:
    return parse_checklist_text(text, origin=origin)


def stored_version_checklist(version: StoredVersion) -> Checklist:
    """The checklist exactly as a stored version's text says (parsed once per text)."""
    origin = f"{version.checklist_id} {version.version} (stored)"
    return _parse(version.content_hash, version.source_text, origin)


def _name(checklist: Checklist) -> str:
    return f"'{checklist.id}' {checklist.version}"


def _number(value: float) -> str:
    return f"{value:g}"


def valid_values(item: Any) -> str:
    """What an item accepts, in the user's words: "valid options: mp, bp" and the like."""
    if isinstance(item, PassFailItem):
        return "valid options: " + ", ".join(PASS_FAIL_VALUES)
    if isinstance(item, ChoiceItem | OrdinalItem):
        return "valid options: " + ", ".join(str(o.value) for o in item.options)
    if isinstance(item, NumberItem):
        if item.min is not None and item.max is not None:
            bounds = f"from {_number(item.min)} to {_number(item.max)}"
        elif item.min is not None:
            bounds = f"of at least {_number(item.min)}"
        elif item.max is not None:
            bounds = f"of at most {_number(item.max)}"
        else:
            bounds = "(any)"
        return f"valid: a number {bounds} {item.unit}".replace("  ", " ")
    if isinstance(item, TextItem) and item.max_length is not None:
        return f"valid: text of up to {item.max_length} characters"
    return "valid: any text"


def nearest_keys(checklist: Checklist, key: str, n: int = 3) -> list[str]:
    """Answer keys a mistyped key most likely meant (same item under another member first)."""
    keys = answer_keys(checklist)
    member, _, item_id = key.partition(":")
    same_item = [k for k in keys if k.partition(":")[2] == item_id]
    if same_item:
        return same_item[:n]
    same_member = [k for k in keys if k.partition(":")[0] == member]
    by_item = difflib.get_close_matches(
        item_id, [k.partition(":")[2] for k in same_member], n=n, cutoff=0.5
    )
    if by_item:
        return [f"{member}:{i}" for i in by_item]
    return difflib.get_close_matches(key, keys, n=n, cutoff=0.4)


def _unknown_key(checklist: Checklist, key: str, value: object) -> str:
    try:
        parse_key(key)
    except ValueError:
        what = "not an answer key of the form <member>:<item>"
    else:
        what = f"no such answer key in checklist {_name(checklist)}"
    near = nearest_keys(checklist, key)
    if near:
        hint = "nearest valid keys: " + ", ".join(near)
    else:
        members = dict.fromkeys(k.partition(":")[0] for k in answer_keys(checklist))
        hint = "valid keys are <member>:<item> with member " + ", ".join(members)
    shown = key if key.isprintable() else repr(key)  # the refusal stays one line
    return (
        f"{shown}: {what} (value {value!r}); {hint} "
        f"(every key: 'auditdesk checklist show {checklist.id}')"
    )


def check_answer(checklist: Checklist, key: str, value: object) -> Any:
    """The stored form of one answer (None: unanswered), or InvalidAnswerError in one line."""
    try:
        item = item_for_key(checklist, key)
    except KeyError:
        raise InvalidAnswerError([_unknown_key(checklist, key, value)]) from None
    try:
        return normalise_answer(item, value)
    except ValueError as exc:
        if isinstance(item, PassFailItem | ChoiceItem | OrdinalItem):
            reason = f"{value!r} is not an option of this item"
        else:
            reason = str(exc)
        raise InvalidAnswerError([f"{key}: {reason}; {valid_values(item)}"]) from None


def check_answers(
    checklist: Checklist,
    answers: Mapping[str, object] | Iterable[tuple[str, object]],
    prefix: str = "",
) -> dict[str, Any]:
    """Every answer in its stored form, or one InvalidAnswerError listing every refused answer.

    All or nothing: callers write the result only when no answer was refused, so a command with
    one bad answer among five stores none. A later answer to the same key wins, as it would if
    the answers were given one by one.
    """
    pairs = answers.items() if isinstance(answers, Mapping) else answers
    checked: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in pairs:
        try:
            checked[key] = check_answer(checklist, key, value)
        except InvalidAnswerError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidAnswerError(problems, prefix)
    return checked


def check_measurements(
    checklist: Checklist, measurements: Iterable[tuple[str, float]]
) -> dict[str, float]:
    """Measurements (mm) keyed like answers; a key must name a number item of the checklist."""
    checked: dict[str, float] = {}
    problems: list[str] = []
    numbers = [
        k for k in answer_keys(checklist) if isinstance(item_for_key(checklist, k), NumberItem)
    ]
    for key, mm in measurements:
        if key not in numbers:
            near = [k for k in nearest_keys(checklist, key) if k in numbers] or numbers[:4]
            valid = f"valid keys: {', '.join(near)}" if near else "it has no number items"
            problems.append(
                f"{key}: no number item of checklist {_name(checklist)} to measure "
                f"(value {mm!r}); {valid}"
            )
            continue
        try:
            checked[key] = float(check_answer(checklist, key, mm))
        except InvalidAnswerError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidAnswerError(problems)
    return checked


def map_answers(
    old_label: str,
    new: Checklist,
    answers: Mapping[str, object] | Iterable[tuple[str, object]],
) -> dict[str, Any]:
    """Answers made with another version of a checklist (``old_label``), carried over to ``new``.

    An answer maps when its key and its value still exist in ``new``; otherwise nothing is
    mapped and the error lists every answer that cannot be, so a file is never stored half.
    """
    try:
        return check_answers(new, answers)
    except InvalidAnswerError as exc:
        why = f" (made with {old_label}; cannot be mapped to {_name(new)})"
        raise InvalidAnswerError([p + why for p in exc.problems]) from None


def check_stored_answer(version: StoredVersion, key: str, value: object) -> Any:
    """One answer checked against a stored checklist version (the store's last guard).

    Clearing (``None``) is always allowed, so an answer stored before this check existed can
    still be removed.
    """
    if value is None:
        return None
    checked = check_answer(stored_version_checklist(version), key, value)
    if isinstance(checked, float) and checked.is_integer():
        # SQLite gives a whole number stored as JSON 1.0 back as 1: store it as 1 from the start,
        # so the same answer given again compares equal and writes no history.
        return int(checked)
    return checked
