"""Engine and session setup, and bringing a database to the current schema with Alembic.

SQLite is the default (embedded, one file, no server). WAL journaling lets the GUI read while an
import writes, and ``synchronous=FULL`` makes every committed answer survive a power cut or a
killed process. PostgreSQL URLs work too (departments that share one database).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from auditdesk.store.errors import (
    DatabaseBusyError,
    DatabaseError,
    DatabaseRefusedError,
    ReadOnlyDatabaseError,
    WriteConflictError,
)
from auditdesk.store.migrations_dir import alembic_config, head_revision

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10000
#: How long a writer waits in total for another process's write to finish before giving up.
WRITE_WAIT_SECONDS = 60.0

__all__ = [
    "Database",
    "DatabaseBusyError",
    "DatabaseError",
    "DatabaseRefusedError",
    "ReadOnlyDatabaseError",
    "WriteConflictError",
    "alembic_config",
    "head_revision",
    "open_database",
]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_readonly_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """Create an engine; for SQLite files make sure the parent folder exists.

    ``read_only`` opens a SQLite file through a ``mode=ro`` URI (and ``query_only``), so not
    even the journal mode is written: the file stays byte-for-byte as it was.
    """
    from auditdesk.store.db_check import readonly_uri, sqlite_path_of

    path = sqlite_path_of(url)
    if path is not None and read_only:
        uri = readonly_uri(path)
        import sqlite3

        # A creator, not a URL: SQLAlchemy would decode the URI's %-escapes (spaces, #, ?).
        engine = create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
            poolclass=QueuePool,  # as for a file URL ("sqlite://" alone means one per thread)
            future=True,
        )
        event.listen(engine, "connect", _sqlite_readonly_pragmas)
        return engine
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run migrations up to ``revision``; a no-op when the database is already there."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except Exception as exc:  # alembic/sqlalchemy raise many types; the user needs one sentence
        raise DatabaseError(
            f"Could not bring the database {engine.url.render_as_string(hide_password=True)} "
            f"to the current schema: {exc}"
        ) from exc


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


def _is_damaged(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "malformed" in text or "file is not a database" in text


def _is_readonly(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "readonly database" in text or "read-only" in text or "query_only" in text


class Database:
    """An upgraded database: engine plus a session factory.

    ``read_only``: browsing, reports and exports work; every write raises
    ``ReadOnlyDatabaseError`` with one sentence. On SQLite every ``transaction()`` takes the
    write lock at its start (``BEGIN IMMEDIATE``), so "look up, else insert" inside it cannot
    race with another process: writers queue (bounded wait) instead of colliding.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        from auditdesk.store.db_check import sqlite_path_of

        self.url = url
        self.read_only = read_only
        self.path = sqlite_path_of(url)
        self.engine = make_engine(url, read_only=read_only)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._daily_backup_checked = False
        if read_only:
            event.listen(self._sessions, "before_flush", self._refuse_flush)

    @property
    def where(self) -> str:
        return str(self.path) if self.path else self.engine.url.render_as_string(True)

    def read_only_message(self) -> str:
        return (
            f"The database {self.where} is open read-only (a read-only file, folder or medium), "
            "so nothing can be saved; browsing, reports and exports still work. Copy it to a "
            "writable folder and open the copy to make changes."
        )

    def _refuse_flush(self, session: Session, *_args: Any) -> None:
        if session.new or session.dirty or session.deleted:
            raise ReadOnlyDatabaseError(self.read_only_message())

    def session(self) -> Session:
        return self._sessions()

    def _begin_immediate(self, session: Session) -> None:
        """Take SQLite's write lock now, waiting (bounded) while another process writes."""
        deadline = time.monotonic() + WRITE_WAIT_SECONDS
        while True:
            try:
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() >= deadline:
                    if _is_locked(exc):
                        raise DatabaseBusyError(
                            f"The database {self.where} stayed locked by another program for "
                            f"over {WRITE_WAIT_SECONDS:.0f} s; nothing was saved; try again "
                            "when the other import or window is done."
                        ) from exc
                    raise
                time.sleep(0.05)  # the failed BEGIN left no transaction open; try again

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        if not self.read_only and not self._daily_backup_checked:
            self._daily_backup_checked = True
            self._daily_backup()
        try:
            with self._sessions() as session, session.begin():
                if not self.read_only and self.engine.dialect.name == "sqlite":
                    self._begin_immediate(session)
                elif not self.read_only and self.engine.dialect.name == "postgresql":
                    from auditdesk.store.pg import begin_write

                    begin_write(session, WRITE_WAIT_SECONDS)
                yield session
        except SQLAlchemyDatabaseError as exc:
            self._raise_conflict(exc)
            translated = self._translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    def retrying(self, work: Callable[[], T], attempts: int = 3) -> T:
        """Run ``work`` (which opens its own transactions) again after a write conflict with
        another workstation; the last conflict's sentence reaches the user."""
        for attempt in range(1, attempts + 1):
            try:
                return work()
            except WriteConflictError:
                if attempt == attempts:
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def _raise_conflict(self, exc: SQLAlchemyDatabaseError) -> None:
        """On a server: a unique/serialization/lock-timeout conflict becomes one sentence."""
        if self.engine.dialect.name != "postgresql":
            return
        from auditdesk.store.pg import conflict_kind, conflict_message

        kind = conflict_kind(exc)
        if kind is not None:
            raise WriteConflictError(conflict_message(self.where, kind), kind) from exc

    def _translate(self, exc: SQLAlchemyDatabaseError) -> BaseException:
        """The one-sentence error for a failed write, or ``exc`` itself when none fits."""
        if isinstance(exc, OperationalError):
            if _is_readonly(exc):
                return ReadOnlyDatabaseError(self.read_only_message())
            if _is_locked(exc):
                return DatabaseBusyError(
                    f"The database {self.where} is locked by another program; nothing was "
                    "saved; try again in a moment."
                )
        if _is_damaged(exc):
            return DatabaseError(self.damaged_message())
        return exc

    def damaged_message(self) -> str:
        return (
            f"The database {self.where} was found damaged while in use; this change was not "
            "saved; close AuditDesk and run 'auditdesk db check', then restore a backup."
        )

    def _daily_backup(self) -> None:
        """Once a day, before the first write, back the file up (never fails the write)."""
        if self.path is None:
            return
        from auditdesk.store.backup import daily_backup_due, make_backup

        try:
            if daily_backup_due(self.path):
                make_backup(self.path, "daily")
        except DatabaseError as exc:
            import logging

            logging.getLogger(__name__).warning("daily backup skipped: %s", exc)

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(
    url: str | None = None, *, migrate: bool = True, read_only: bool | None = None
) -> Database:
    """Open (and by default upgrade) the database at ``url`` or the default SQLite file.

    A SQLite file is first checked read-only (``db_check.inspect_file``): a damaged, foreign,
    empty or newer file raises ``DatabaseRefusedError`` and is not touched. ``read_only`` None means
    "read-only when this process cannot write the file or its folder". An existing database
    is backed up before a migration changes it.
    """
    from auditdesk.runtime.db_settings import database_url
    from auditdesk.store.db_check import inspect_file, sqlite_path_of

    url = url or database_url()
    path = sqlite_path_of(url)
    if path is None:
        db = Database(url, read_only=bool(read_only))
        if migrate and not db.read_only:
            if db.engine.dialect.name == "postgresql":
                from auditdesk.store.pg import refuse_foreign

                refuse_foreign(db.engine, db.where)
            upgrade(db.engine)
            ensure_site_secret(db)
        return db
    state = inspect_file(path)
    if read_only is None:
        read_only = state.exists and not state.writable
    if read_only:
        if not state.exists or state.is_blank:
            raise DatabaseRefusedError(
                f"There is no AuditDesk database at {path} to open read-only; "
                "point AuditDesk at an existing database (--db sqlite:///PATH).",
                "unreadable",
            )
        if state.revision != head_revision():
            raise DatabaseRefusedError(
                f"The database {path} is read-only and was made by an older AuditDesk, so it "
                "cannot be brought up to date; copy it to a writable folder and open the copy.",
                "older",
            )
        return Database(url, read_only=True)
    db = Database(url)
    if migrate:
        if state.exists and not state.is_blank and state.revision != head_revision():
            from auditdesk.store.backup import make_backup

            make_backup(path, "before-upgrade")
        upgrade(db.engine)
        ensure_site_secret(db)
    return db


def ensure_site_secret(db: Database) -> None:
    """Create the site's pseudonym secret when the database has none, once, at open.

    Exam keys are derived from it; creating it lazily inside a read-only session would roll it
    back and give different keys on the next call, so every database gets it up front.
    """
    import secrets

    from auditdesk.store.models import SiteSecret

    with db.session() as session:
        if session.scalar(select(SiteSecret.id).limit(1)) is not None:
            return
    with db.transaction() as session:
        if session.scalar(select(SiteSecret.id).limit(1)) is None:
            session.add(SiteSecret(secret=secrets.token_bytes(32)))
