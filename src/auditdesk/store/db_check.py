"""Look at a SQLite file before AuditDesk opens it, without changing a byte of it.

Why: opening a file with SQLAlchemy and running the migrations *writes* to it. A damaged file
must not be "repaired" into a worse state, another program's SQLite file must not silently get
AuditDesk's tables, a zero-length file must not silently become a new empty database, and a
database made by a newer AuditDesk must not be downgraded by an older one. So every check here
reads the file through a read-only SQLite connection (``mode=ro`` URI) and the caller refuses the
file with one sentence when a check fails.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from auditdesk.store.errors import DatabaseRefusedError

SQLITE_MAGIC = b"SQLite format 3\x00"

#: Tables every AuditDesk database has had since the first migration; their presence (with an
#: ``alembic_version`` row we know) is what makes a file "ours".
CORE_TABLES = frozenset({"studies", "series", "images", "patients", "alembic_version"})

WHAT_TO_DO = (
    "restore a backup (auditdesk db restore, or File > Database backups in the window) "
    "or point AuditDesk at another file (--db sqlite:///PATH)"
)


@dataclass
class FileState:
    """What a look at the file found (``exists`` False: a new database will be created)."""

    path: Path
    exists: bool
    revision: str | None = None
    tables: set[str] = field(default_factory=set)
    writable: bool = True

    @property
    def is_blank(self) -> bool:
        """An existing SQLite file without any table: safe to turn into a new database."""
        return self.exists and not self.tables


def sqlite_path_of(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL, or None (memory databases, PostgreSQL)."""
    if not url.startswith("sqlite:///"):
        return None
    rest = url.removeprefix("sqlite:///")
    if not rest or rest.startswith(":memory:") or rest.startswith("file:"):
        return None
    return Path(rest.split("?", 1)[0]).expanduser()


def is_writable(path: Path) -> bool:
    """Can this process change the file (and its folder, where SQLite keeps the WAL)?"""
    folder = path.parent if path.parent != Path("") else Path(".")
    if path.exists() and not os.access(path, os.W_OK):
        return False
    return os.access(folder, os.W_OK)


def readonly_uri(path: Path, *, look_only: bool = False) -> str:
    """A ``file:`` URI that opens ``path`` read-only.

    In a folder we cannot write to, SQLite cannot create the WAL index file it needs to read a
    WAL database, so the file is opened ``immutable`` (nobody can change it from here anyway).
    ``look_only`` (the checks before opening) does the same whenever no WAL file exists, so
    looking at a file leaves no ``-wal``/``-shm`` files beside it.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro"  # as_uri escapes ?, # and spaces
    no_wal = not Path(f"{path}-wal").exists()
    if no_wal and (look_only or not os.access(path.parent, os.W_OK)):
        uri += "&immutable=1"
    return uri


def known_revisions() -> set[str]:
    """Every Alembic revision this AuditDesk ships (the file is "newer" when its one is not)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from auditdesk.store.migrations_dir import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def inspect_file(path: Path, *, quick_check: bool = True) -> FileState:
    """Check the file read-only; raise ``DatabaseRefusedError`` (one sentence) if it is unusable.

    Checks, in order: empty file, SQLite header, ``PRAGMA quick_check``, AuditDesk's tables and
    a known schema revision.
    """
    if not path.exists():
        return FileState(path=path, exists=False)
    where = str(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise DatabaseRefusedError(
            f"The database file {where} cannot be read ({exc.strerror or exc}); "
            f"check its permissions, or {WHAT_TO_DO}.",
            "unreadable",
        ) from exc
    if size == 0:
        raise DatabaseRefusedError(
            f"The database file {where} is empty (0 bytes), so it holds no AuditDesk data; "
            f"{WHAT_TO_DO}.",
            "empty",
        )
    if header != SQLITE_MAGIC:
        raise DatabaseRefusedError(
            f"The file {where} is not a SQLite database (damaged, or another kind of file); "
            f"{WHAT_TO_DO}.",
            "damaged",
        )
    state = FileState(path=path, exists=True, writable=is_writable(path))
    try:
        conn = sqlite3.connect(readonly_uri(path, look_only=True), uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise DatabaseRefusedError(
            f"The database file {where} cannot be opened ({exc}); {WHAT_TO_DO}.", "unreadable"
        ) from exc
    try:
        if quick_check:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            if rows != ["ok"]:
                lines = [ln.strip() for r in rows for ln in str(r).splitlines()]
                detail = next((ln for ln in lines if ln and not ln.startswith("***")), "?")
                raise DatabaseRefusedError(
                    f"The database file {where} is damaged (SQLite integrity check: "
                    f"{detail[:120]}); AuditDesk left it unchanged; {WHAT_TO_DO}.",
                    "damaged",
                )
        state.tables = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if "alembic_version" in state.tables:
            row = conn.execute("SELECT version_num FROM alembic_version LIMIT 1").fetchone()
            state.revision = row[0] if row else None
    except sqlite3.DatabaseError as exc:
        raise DatabaseRefusedError(
            f"The database file {where} is damaged ({exc}); AuditDesk left it unchanged; "
            f"{WHAT_TO_DO}.",
            "damaged",
        ) from exc
    finally:
        conn.close()
    if state.tables and not state.tables >= CORE_TABLES:
        raise DatabaseRefusedError(
            f"The file {where} is another program's SQLite database, not AuditDesk's "
            f"(no AuditDesk tables); AuditDesk left it unchanged; point AuditDesk at another "
            f"file (--db sqlite:///PATH).",
            "foreign",
        )
    if state.tables and state.revision not in known_revisions():
        raise DatabaseRefusedError(
            f"The database {where} has schema version {state.revision!r}, which this AuditDesk "
            f"does not know (it was made by a newer AuditDesk); install that version, or "
            f"{WHAT_TO_DO}.",
            "newer",
        )
    return state
