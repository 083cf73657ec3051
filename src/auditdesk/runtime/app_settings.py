"""Machine-wide AuditDesk settings that must be readable before any database is open.

Why a file and not the database: the number of backups to keep is needed to back up (or
restore) a database that may be damaged or not open yet. The file is ``settings.json`` in the
data folder (``paths.data_dir()``); unknown keys are kept, a broken file falls back to defaults.
"""

from __future__ import annotations

import json
import os
from typing import Any

from auditdesk.paths import data_dir

SETTINGS_FILENAME = "settings.json"
DEFAULTS: dict[str, Any] = {"backup_keep": 10}


def _path() -> os.PathLike[str]:
    return data_dir() / SETTINGS_FILENAME


def load() -> dict[str, Any]:
    """All settings (defaults filled in); an unreadable file counts as empty."""
    values = dict(DEFAULTS)
    try:
        with open(_path(), encoding="utf-8") as fh:
            stored = json.load(fh)
        if isinstance(stored, dict):
            values.update(stored)
    except (OSError, ValueError):
        pass
    return values


def save(**changes: Any) -> None:
    """Merge ``changes`` into the file (written to a temporary file, then renamed)."""
    values = load()
    values.update(changes)
    path = _path()
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(values, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def backup_keep() -> int:
    """How many automatic and manual backups to keep per database (at least 1)."""
    try:
        return max(1, int(load().get("backup_keep", DEFAULTS["backup_keep"])))
    except (TypeError, ValueError):
        return int(DEFAULTS["backup_keep"])


def set_backup_keep(count: int) -> None:
    if int(count) < 1:
        raise ValueError(f"The number of backups to keep must be 1 or more, not {count}.")
    save(backup_keep=int(count))
