"""Persistence: SQLAlchemy 2 models, engine/session setup and Alembic migrations (no Qt)."""

from auditdesk.store.db import Database, open_database

__all__ = ["Database", "open_database"]
