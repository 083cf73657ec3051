"""Checklist engine: file format, validation, scoring rules (core, no Qt).

Clinical content lives in TOML files (``checklists/`` at the repository root, installed as
``auditdesk.checklist_files``, plus a site folder); this package only knows the format.
"""

from auditdesk.checklists.loader import (
    ChecklistError,
    ChecklistValidationError,
    LoadResult,
    content_hash,
    load_all,
    load_checklist_file,
    parse_checklist_text,
    shipped_dir,
    site_dir,
)
from auditdesk.checklists.rules import (
    ScoreResult,
    answer_keys,
    item_for_key,
    normalise_answer,
    score,
)
from auditdesk.checklists.schema import NOT_DETERMINABLE, SCOPES, Checklist
from auditdesk.checklists.validate import parse_key

__all__ = [
    "NOT_DETERMINABLE",
    "SCOPES",
    "Checklist",
    "ChecklistError",
    "ChecklistValidationError",
    "LoadResult",
    "ScoreResult",
    "answer_keys",
    "content_hash",
    "item_for_key",
    "load_all",
    "load_checklist_file",
    "normalise_answer",
    "parse_checklist_text",
    "parse_key",
    "score",
    "shipped_dir",
    "site_dir",
]
