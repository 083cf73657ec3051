"""AuditDesk on a real PostgreSQL server (throw-away cluster from tests/pg_server.py)."""

from __future__ import annotations

from auditdesk.store.db import current_revision, head_revision, open_database


def test_migrations_first_to_head_on_postgresql(pg_url):
    """Every revision from 0001 to head runs on PostgreSQL, then the schema matches the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from auditdesk.store.models import Base

    db = open_database(pg_url)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        db.dispose()
