"""Database errors that reach the user as one sentence (what, which file, what to do).

Kept apart from ``db.py`` so the file checks (``db_check``) and backups can raise them without
an import circle. The CLI maps every ``DatabaseError`` to exit code 3.
"""

from __future__ import annotations


class DatabaseError(RuntimeError):
    """The database cannot be opened, upgraded or written; ``str()`` says which file and why."""


class DatabaseRefusedError(DatabaseError):
    """The file is not one AuditDesk may open (damaged, foreign, empty, newer); left unchanged."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # damaged | foreign | empty | newer | unreadable


class ReadOnlyDatabaseError(DatabaseError):
    """A write was attempted on a database opened read-only."""


class DatabaseBusyError(DatabaseError):
    """Another program kept the database locked for longer than AuditDesk waits."""


class WriteConflictError(DatabaseBusyError):
    """Another workstation changed the same record at the same moment on a shared server; this
    change was rolled back and may simply be tried again (``kind``: unique, serialization,
    deadlock, timeout)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind
