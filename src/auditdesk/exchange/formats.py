"""The output formats of the exports, in a module of its own (no SQLAlchemy) so the command
line can offer them as choices without importing the exporters just to build its parser."""

from __future__ import annotations

__all__ = ["EXAM_SHEET_FORMATS", "WEEKLY_FORMATS"]

#: Output formats of :func:`auditdesk.exchange.weekly.write_weekly`.
WEEKLY_FORMATS = ("csv", "xlsx", "json")
#: Output formats of :func:`auditdesk.exchange.exam_sheet.write_exam_sheet` (same columns in both).
EXAM_SHEET_FORMATS = ("xlsx", "csv")
