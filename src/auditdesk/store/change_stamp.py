"""A cheap "has anybody changed the audits?" stamp, for workstations sharing one database.

Why polling and not LISTEN/NOTIFY: it works the same on a shared SQLite file and on a server, and
needs no extra connection per window. The stamp is a few aggregates read in one query; when it
differs from the last one the worklist re-reads its rows (others' progress, new studies).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditdesk.store.models import Audit, AuditAnswer, Study

Stamp = tuple[object, ...]


def change_stamp(session: Session) -> Stamp:
    """Counts and newest change times of studies, audits and answers (one round trip)."""
    row = session.execute(
        select(
            select(func.count(Study.id)).scalar_subquery(),
            select(func.max(Study.id)).scalar_subquery(),
            select(func.count(Audit.id)).scalar_subquery(),
            select(func.max(Audit.updated_at)).scalar_subquery(),
            select(func.count(AuditAnswer.id)).scalar_subquery(),
            select(func.max(AuditAnswer.id)).scalar_subquery(),
        )
    ).one()
    return tuple(row)
