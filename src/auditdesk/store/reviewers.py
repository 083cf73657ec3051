"""Reviewer profiles: create, list, find by name and (de)activate. Separate because reviewers
are looked up by the GUI's start screen and by imports, independently of any one audit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.store.audit_rows import (
    ROLES,
    AuditError,
    _reviewer,
)
from auditdesk.store.models import (
    Reviewer,
    utcnow,
)

# --- reviewers -------------------------------------------------------------------------------


def create_reviewer(session: Session, name: str, role: str, initials: str) -> Reviewer:
    """Add a reviewer profile. Names are unique because the reviewer is chosen by name at start
    and appears by name in exports and history."""
    name = (name or "").strip()
    initials = (initials or "").strip()
    if not name:
        raise AuditError("A reviewer needs a name.")
    if len(name) > 128:
        raise AuditError("A reviewer's name can be at most 128 characters long.")
    if role not in ROLES:
        raise AuditError(f"Unknown reviewer role {role!r}; choose one of {', '.join(ROLES)}.")
    if not initials or len(initials) > 8:
        raise AuditError("A reviewer needs initials of 1 to 8 characters.")
    if get_reviewer_by_name(session, name) is not None:
        raise AuditError(f"A reviewer named {name!r} already exists.")
    reviewer = Reviewer(name=name, role=role, initials=initials, active=True, created_at=utcnow())
    session.add(reviewer)
    session.flush()
    return reviewer


def list_reviewers(session: Session, *, include_inactive: bool = False) -> list[Reviewer]:
    """Reviewers by name; inactive ones only on request (they are kept for old audits)."""
    query = select(Reviewer).order_by(Reviewer.name)
    if not include_inactive:
        query = query.where(Reviewer.active.is_(True))
    return list(session.scalars(query))


def get_reviewer_by_name(session: Session, name: str) -> Reviewer | None:
    return session.scalars(select(Reviewer).where(Reviewer.name == name.strip())).first()


def set_reviewer_active(session: Session, reviewer_pk: int, active: bool) -> Reviewer:
    """Hide or show a reviewer at start. Profiles are never deleted: audits point at them."""
    reviewer = _reviewer(session, reviewer_pk)
    reviewer.active = bool(active)
    session.flush()
    return reviewer
