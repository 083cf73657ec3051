"""Where the Alembic migrations live: needed by the database (to migrate) and by the file check
(to know the newest revision) without either importing the other (no db <-> db_check circle)."""

from __future__ import annotations

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

__all__ = ["MIGRATIONS_DIR"]
