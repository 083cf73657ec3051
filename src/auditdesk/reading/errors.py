"""The reading layer's user-facing error, in a module of its own so the command line can catch it
without importing the database, DICOM and checklist machinery just to build its parser."""

from __future__ import annotations

__all__ = ["AuditingError"]


class AuditingError(ValueError):
    """A request that cannot be carried out; ``str(err)`` is one sentence for the user."""
