"""Move a site's data into a new database (SQLite file → department server) without loss.

Both ends are brought to the current schema with the normal migrations; the target must hold no
AuditDesk data yet (its only row, a freshly made site secret, is replaced by the source's so the
pseudonymous exam keys stay the same). Rows are copied table by table in dependency order with
their primary keys, sequences are moved past the copied keys, and every table's row count is
compared at the end: any difference rolls the whole copy back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Integer, delete, func, select, text
from sqlalchemy.orm import Session

from auditdesk.store.db import Database, open_database
from auditdesk.store.errors import DatabaseError
from auditdesk.store.models import Base, SiteSecret

CHUNK = 2000


@dataclass
class CopyResult:
    """Rows copied per table (tables with no rows left out)."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _target_is_empty(target: Database) -> str | None:
    """The first table that already holds data in the target, or None."""
    with target.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name == SiteSecret.__tablename__:
                continue
            if session.scalar(select(func.count()).select_from(table)):
                return table.name
    return None


def copy_database(
    source_url: str, target_url: str, progress: Callable[[str, int], None] | None = None
) -> CopyResult:
    """Copy every AuditDesk table from ``source_url`` into the empty ``target_url``."""
    if source_url == target_url:
        raise DatabaseError("The source and the target of a copy are the same database.")
    source = open_database(source_url)
    try:
        target = open_database(target_url)
        try:
            return _copy(source, target, progress)
        finally:
            target.dispose()
    finally:
        source.dispose()


def _copy(
    source: Database, target: Database, progress: Callable[[str, int], None] | None
) -> CopyResult:
    busy = _target_is_empty(target)
    if busy is not None:
        raise DatabaseError(
            f"The target database {target.where} already holds AuditDesk data (table {busy}); "
            "copy into a new, empty database so nothing is mixed or overwritten."
        )
    rows: dict[str, int] = {}
    with source.session() as src, target.transaction() as dst:
        dst.execute(delete(SiteSecret))  # the target's own new secret: the source's replaces it
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            result = src.execute(select(table).order_by(*order)).mappings()
            n = 0
            while batch := result.fetchmany(CHUNK):
                dst.execute(table.insert(), [dict(row) for row in batch])
                n += len(batch)
            if n:
                rows[table.name] = n
                if progress is not None:
                    progress(table.name, n)
        dst.flush()
        for table in Base.metadata.sorted_tables:
            expected = rows.get(table.name, 0)
            got = dst.scalar(select(func.count()).select_from(table)) or 0
            if got != expected:
                raise DatabaseError(
                    f"The copy of table {table.name} has {got} rows, not {expected}; "
                    "nothing was copied."
                )
        if target.engine.dialect.name == "postgresql":
            _move_sequences(dst)
    return CopyResult(rows)


def _move_sequences(session: Session) -> None:
    """Rows were inserted with their keys: the next generated key must come after them."""
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer):
            continue
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:t, :c), "
                f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"
            ),
            {"t": table.name, "c": pk[0].name},
        )
