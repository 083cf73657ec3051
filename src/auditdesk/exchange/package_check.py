"""Checks of a reviewer package's content before any of it is merged (``exchange.package``).

The shape of the payload is checked once its signature is verified (:func:`validate_payload`),
then its answers (:func:`check_package_answers`). A package carries each audit's answers with
the exact checklist text they were made with: each answer must be one that text defines. An
audit merged into a local audit (same exam, reviewer, checklist and purpose) started with
another version must also fit that version (key and value still exist there), because the
merged answers are scored under it. One answer that fails refuses the whole package (the import
runs in one transaction), with every such answer named: nothing is half-imported.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.checklists.answers import (
    InvalidAnswerError,
    check_answers,
    map_answers,
    stored_version_checklist,
)
from auditdesk.checklists.loader import ChecklistValidationError
from auditdesk.checklists.schema import Checklist
from auditdesk.store import audits as store
from auditdesk.store.models import Audit, ChecklistVersion, Reviewer

__all__ = ["DEFAULT_PURPOSE", "PackageError", "check_package_answers", "expect", "validate_payload"]

DEFAULT_PURPOSE = "review"


class PackageError(ValueError):
    """A package or site-key file that cannot be written or read; one sentence for the user."""


def expect(condition: bool, what: str) -> None:
    """Raise a "the package is damaged" PackageError unless ``condition`` holds."""
    if not condition:
        raise PackageError(f"The package is damaged: {what}.")


def validate_payload(payload: dict[str, Any]) -> None:
    """Shape checks (the signature already vouches for the origin; this catches bugs)."""
    versions = payload.get("checklist_versions")
    expect(isinstance(versions, dict), "no checklist versions")
    for content_hash, v in versions.items():
        expect(
            isinstance(v, dict)
            and all(isinstance(v.get(k), str) for k in ("checklist_id", "version", "source_text")),
            f"checklist version {content_hash[:12]} is incomplete",
        )
    expect(isinstance(payload.get("reviewers"), dict), "no reviewer list")
    audits = payload.get("audits")
    expect(isinstance(audits, list), "no audit list")
    for entry in audits:
        expect(isinstance(entry, dict), "an audit is not an object")
        expect(isinstance(entry.get("exam_key"), str), "an audit has no exam key")
        reviewer = entry.get("reviewer")
        expect(isinstance(reviewer, dict) and isinstance(reviewer.get("name"), str), "reviewer")
        expect(entry.get("checklist") in versions, "an audit's checklist version is missing")
        expect(entry.get("status") in store.STATUSES, "an audit has an unknown status")
        expect(entry.get("purpose", DEFAULT_PURPOSE) in store.PURPOSES, "unknown audit purpose")
        for name in ("answers", "measurements", "overrides", "events"):
            items = entry.get(name, [])
            expect(isinstance(items, list) and all(isinstance(i, dict) for i in items), name)
        for a in entry.get("answers", []):
            expect(isinstance(a.get("key"), str) and a.get("value") is not None, "an answer")
            expect(a.get("source", "reviewer") in store.ANSWER_SOURCES, "an answer source")
        for mm in entry.get("measurements", []):
            expect(isinstance(mm.get("key"), str), "a measurement has no key")
            expect(
                mm.get("calibration_source") in store.CALIBRATION_SOURCES,
                "a measurement's calibration source",
            )
            expect(isinstance(mm.get("value_px"), int | float), "a measurement has no value")
        for o in entry.get("overrides", []):
            expect(o.get("field") in store.OVERRIDE_FIELDS, "an override field")
            expect(isinstance(o.get("reason"), str), "an override reason")
        for e in entry.get("events", []):
            expect(e.get("kind") in store.EVENT_KINDS, "a history entry")


def _local_version(
    session: Session, study_pk: int, reviewer: str, checklist_id: str, purpose: str
) -> ChecklistVersion | None:
    """The checklist version of the local audit this package audit would be merged into."""
    return session.scalar(
        select(ChecklistVersion)
        .join(Audit, Audit.checklist_version_pk == ChecklistVersion.id)
        .join(Reviewer, Reviewer.id == Audit.reviewer_pk)
        .where(
            Audit.study_pk == study_pk,
            Reviewer.name == reviewer,
            Audit.checklist_id == checklist_id,
            Audit.purpose == purpose,
        )
    )


def check_package_answers(
    session: Session, payload: dict[str, Any], studies: dict[str, int]
) -> None:
    """Raise :class:`PackageError` (one line) when any answer of the package cannot be stored;
    ``studies`` maps the package's exam keys to the studies indexed here."""
    parsed: dict[str, Checklist] = {}
    problems: list[str] = []
    for entry in payload["audits"]:
        content_hash = entry["checklist"]
        info = payload["checklist_versions"][content_hash]
        label = f"'{info['checklist_id']}' {info['version']}"
        purpose = entry.get("purpose") or DEFAULT_PURPOSE
        who = f"exam {entry['exam_key']}, {entry['reviewer']['name']}'s {purpose} audit ({label})"
        if content_hash not in parsed:
            version = SimpleNamespace(content_hash=content_hash, **info)
            try:
                parsed[content_hash] = stored_version_checklist(version)
            except ChecklistValidationError:
                problems.append(f"{who}: the checklist text in the package cannot be read")
                continue
        answers = [(a["key"], a["value"]) for a in entry.get("answers", [])]
        try:
            check_answers(parsed[content_hash], answers)
        except InvalidAnswerError as exc:
            problems.append(f"{who}: " + "; ".join(exc.problems))
            continue
        study_pk = studies.get(entry["exam_key"])
        if study_pk is None:
            continue  # not indexed here: skipped by the import
        local = _local_version(
            session, study_pk, entry["reviewer"]["name"], info["checklist_id"], purpose
        )
        if local is not None and local.content_hash != content_hash:
            try:
                map_answers(label, stored_version_checklist(local), answers)
            except InvalidAnswerError as exc:
                problems.append(f"{who}, to merge into the audit here: " + "; ".join(exc.problems))
    if problems:
        raise PackageError(
            "The package cannot be imported, nothing was written: answers in it are not valid: "
            + "; ".join(problems)
            + ". Correct them on the reviewer's workstation and export again."
        )
