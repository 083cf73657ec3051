"""Machine-wide AuditDesk settings that must be readable before any database is open.

Why a file and not the database: the number of backups to keep is needed to back up (or
restore) a database that may be damaged or not open yet; the decode cache budget is a property
of this machine's memory, not of the audits. The file is ``settings.json`` in the
data folder (``paths.data_dir()``); unknown keys are kept, a broken file falls back to defaults.
"""

from __future__ import annotations

import json
import os
from typing import Any

from auditdesk.paths import data_dir

SETTINGS_FILENAME = "settings.json"
#: Decoded images kept in memory for "next exam" and going back (bytes). 384 MiB holds about
#: two 4-view 4096x3328 mammography exams (4 x 41 MB each: 27 MB stored values + 14 MB
#: rendered) besides the one on screen, and keeps the window process under 1 GB (issue 15).
DEFAULT_DECODE_CACHE_BYTES = 384 * 1024 * 1024
#: Below this the cache cannot hold one exam, so prefetching the next one would be wasted.
MIN_DECODE_CACHE_BYTES = 64 * 1024 * 1024
DEFAULTS: dict[str, Any] = {"backup_keep": 10, "decode_cache_bytes": DEFAULT_DECODE_CACHE_BYTES}


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


def decode_cache_bytes() -> int:
    """The decode cache budget in bytes (default on a missing or unreadable value)."""
    try:
        value = int(load().get("decode_cache_bytes", DEFAULT_DECODE_CACHE_BYTES))
    except (TypeError, ValueError):
        return DEFAULT_DECODE_CACHE_BYTES
    return value if value >= MIN_DECODE_CACHE_BYTES else DEFAULT_DECODE_CACHE_BYTES


def set_decode_cache_bytes(value: int) -> None:
    """Store the decode cache budget (bytes); refuses less than one exam's worth."""
    if int(value) < MIN_DECODE_CACHE_BYTES:
        raise ValueError(
            f"The image memory budget must be at least {MIN_DECODE_CACHE_BYTES // 2**20} MiB "
            f"({MIN_DECODE_CACHE_BYTES} bytes), not {int(value)} bytes."
        )
    save(decode_cache_bytes=int(value))
