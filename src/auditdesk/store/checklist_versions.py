"""Stored snapshots of checklist files, keyed by content hash, so an audit is re-scored years
later with the rules it used. Separate because versions are registered by the checklist loader
and imports, not only when an audit is written.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.store.audit_rows import (
    _SHA256_HEX,
    AuditError,
)
from auditdesk.store.models import (
    ChecklistVersion,
    utcnow,
)

# --- checklist versions ----------------------------------------------------------------------


def sha256_text(source_text: str) -> str:
    """The content hash of a checklist file's text (UTF-8), as ``register_checklist_version``
    expects it. Callers may hash the raw file bytes instead, as long as they always do."""
    return hashlib.sha256(source_text.encode("utf-8")).hexdigest()


def register_checklist_version(
    session: Session,
    checklist_id: str,
    version: str,
    content_hash: str,
    source_text: str,
    title: str,
) -> ChecklistVersion:
    """Return the stored snapshot of a checklist file, adding it the first time it is used.

    Idempotent by content hash: the same file always maps to the same row, and an edited file
    (new hash) becomes a new row even if its version string was not bumped, so audits made
    with the old text keep pointing at the old text.
    """
    content_hash = (content_hash or "").strip().lower()
    if not _SHA256_HEX.match(content_hash):
        raise AuditError(f"{content_hash!r} is not a SHA-256 hash (64 hexadecimal digits).")
    existing = session.scalars(
        select(ChecklistVersion).where(ChecklistVersion.content_hash == content_hash)
    ).first()
    if existing is not None:
        if existing.checklist_id != checklist_id or existing.version != version:
            raise AuditError(
                f"Content hash {content_hash[:12]}... is already stored for checklist "
                f"{existing.checklist_id!r} version {existing.version!r}, not {checklist_id!r} "
                f"version {version!r}; the hash must be computed from the file's own text."
            )
        return existing
    if not checklist_id or len(checklist_id) > 64:
        raise AuditError("A checklist id must have 1 to 64 characters.")
    if not version or len(version) > 32:
        raise AuditError("A checklist version must have 1 to 32 characters.")
    row = ChecklistVersion(
        checklist_id=checklist_id,
        version=version,
        content_hash=content_hash,
        source_text=source_text,
        title=(title or checklist_id)[:256],
        first_used_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def checklist_versions(session: Session, checklist_id: str) -> list[ChecklistVersion]:
    """All stored versions of one checklist, oldest first."""
    return list(
        session.scalars(
            select(ChecklistVersion)
            .where(ChecklistVersion.checklist_id == checklist_id)
            .order_by(ChecklistVersion.first_used_at, ChecklistVersion.id)
        )
    )
