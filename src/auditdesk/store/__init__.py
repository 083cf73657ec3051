"""Persistence: SQLAlchemy 2 models, engine/session setup and Alembic migrations (no Qt).

``Database`` and ``open_database`` are loaded on first use, so that importing a light submodule
(``auditdesk.store.errors``) does not pull in SQLAlchemy and Alembic: the command line builds its
parser from such modules and must start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditdesk.store.db import Database, open_database

__all__ = ["Database", "open_database"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from auditdesk.store import db

        return getattr(db, name)
    raise AttributeError(f"module 'auditdesk.store' has no attribute {name!r}")
