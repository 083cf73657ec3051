"""Backups of the SQLite database with SQLite's online backup API, and restoring them.

Why the backup API and not a file copy: it copies a consistent snapshot even while another
AuditDesk window writes (WAL), and it never reads half a transaction. Backups live in a
``backups`` folder beside the database file, named ``STEM-YYYYmmdd-HHMMSS-REASON.sqlite``; the
newest ``app_settings.backup_keep()`` are kept. Made automatically before every migration and
once a day on the first write; by hand with ``auditdesk db backup`` or File > Database backups.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from auditdesk.runtime import app_settings
from auditdesk.store.db_check import inspect_file, readonly_uri
from auditdesk.store.errors import DatabaseError, DatabaseRefusedError

BACKUP_DIRNAME = "backups"


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created: dt.datetime  # local time, from the file name
    reason: str
    size: int


def backup_folder(db_path: Path) -> Path:
    return db_path.parent / BACKUP_DIRNAME


def list_backups(db_path: Path) -> list[BackupInfo]:
    """This database's backups, newest first."""
    folder = backup_folder(db_path)
    found: list[BackupInfo] = []
    if not folder.is_dir():
        return found
    prefix = f"{db_path.stem}-"
    for path in folder.glob(f"{db_path.stem}-*.sqlite"):
        parts = path.stem[len(prefix) :].split("-", 3)
        if len(parts) < 4:
            continue
        try:
            created = dt.datetime.strptime(f"{parts[0]}-{parts[1]}-{parts[2]}", "%Y%m%d-%H%M%S-%f")
        except ValueError:
            continue
        found.append(BackupInfo(path, created, parts[3], path.stat().st_size))
    found.sort(key=lambda b: b.created, reverse=True)
    return found


def _copy_sqlite(source_uri: str, target: Path) -> None:
    src = sqlite3.connect(source_uri, uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def copy_to(db_path: Path, target: Path) -> Path:
    """Back ``db_path`` up to a file of the user's choice (online backup API, no pruning)."""
    tmp = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_sqlite(readonly_uri(db_path), tmp)
        os.replace(tmp, target)
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise DatabaseError(
            f"Could not back up the database {db_path} to {target}: {exc}."
        ) from exc
    return target


def make_backup(
    db_path: Path, reason: str = "manual", keep: int | None = None, protect: Path | None = None
) -> Path:
    """Back up ``db_path`` now; returns the new file. Old backups beyond ``keep`` are removed
    (never ``protect``: the backup being restored)."""
    if not db_path.exists():
        raise DatabaseError(f"There is no database file {db_path} to back up.")
    folder = backup_folder(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = folder / f"{db_path.stem}-{stamp}-{reason}.sqlite"
    tmp = target.with_suffix(".partial")
    try:
        _copy_sqlite(readonly_uri(db_path), tmp)
        os.replace(tmp, target)
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise DatabaseError(
            f"Could not back up the database {db_path} into {folder}: {exc}."
        ) from exc
    prune(db_path, app_settings.backup_keep() if keep is None else keep, protect)
    return target


def prune(db_path: Path, keep: int, protect: Path | None = None) -> list[Path]:
    """Delete all but the newest ``keep`` backups of this database; returns what was removed."""
    removed = []
    for info in list_backups(db_path)[max(1, keep) :]:
        if protect is not None and info.path.resolve() == protect.resolve():
            continue
        info.path.unlink(missing_ok=True)
        removed.append(info.path)
    return removed


def daily_backup_due(db_path: Path, today: dt.date | None = None) -> bool:
    """True when the database exists and has no backup made today (local date)."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        return False
    today = today or dt.date.today()
    return not any(b.created.date() == today for b in list_backups(db_path))


def check_backup(path: Path) -> str:
    """Refuse (``DatabaseRefusedError``) a damaged, foreign, empty or newer backup; returns its
    schema revision."""
    if not path.is_file():
        raise DatabaseRefusedError(f"There is no backup file {path}.", "unreadable")
    state = inspect_file(path)
    if state.is_blank or state.revision is None:
        raise DatabaseRefusedError(
            f"The file {path} holds no AuditDesk tables, so it is not an AuditDesk backup.",
            "foreign",
        )
    return state.revision


def restore_backup(backup: Path, db_path: Path) -> Path | None:
    """Replace the database with ``backup`` after checking the backup.

    The current file is kept first (a normal backup named ``before-restore``, or a raw copy
    named ``damaged`` when it cannot be read as a database), so a restore loses nothing.
    Returns that safety copy. Close other AuditDesk windows on this database first.
    """
    check_backup(backup)
    kept: Path | None = None
    healthy = False
    if db_path.exists() and db_path.stat().st_size:
        try:
            inspect_file(db_path)
            healthy = True
        except DatabaseRefusedError:
            healthy = False
        if healthy:
            kept = make_backup(db_path, "before-restore", protect=backup)
        else:
            folder = backup_folder(db_path)
            folder.mkdir(parents=True, exist_ok=True)
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            kept = folder / f"{db_path.stem}-{stamp}-damaged.sqlite"
            shutil.copyfile(db_path, kept)
    source = f"{backup.resolve().as_uri()}?mode=ro"  # as_uri escapes ?, # and spaces
    try:
        if healthy:
            # Into the live file: SQLite locks it properly against other connections.
            _copy_sqlite(source, db_path)
        else:
            tmp = db_path.with_name(db_path.name + ".restoring")
            tmp.unlink(missing_ok=True)
            _copy_sqlite(source, tmp)
            for extra in (Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
                extra.unlink(missing_ok=True)
            os.replace(tmp, db_path)
    except (sqlite3.Error, OSError) as exc:
        raise DatabaseError(f"Could not restore {backup} into {db_path}: {exc}.") from exc
    return kept
