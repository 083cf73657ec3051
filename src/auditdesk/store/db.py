"""Engine and session setup, and bringing a database to the current schema with Alembic.

SQLite is the default (embedded, one file, no server). WAL journaling lets the GUI read while an
import writes, and ``synchronous=FULL`` makes every committed answer survive a power cut or a
killed process. PostgreSQL URLs work too (departments that share one database).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class DatabaseError(RuntimeError):
    """The database cannot be opened or upgraded; the message says which file and why."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite files make sure the parent folder exists."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


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


class Database:
    """An upgraded database: engine plus a session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str | None = None, *, migrate: bool = True) -> Database:
    """Open (and by default upgrade) the database at ``url`` or the default SQLite file."""
    from auditdesk.paths import default_db_url

    db = Database(url or default_db_url())
    if migrate:
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

    with db.transaction() as session:
        if session.scalar(select(SiteSecret.id).limit(1)) is None:
            session.add(SiteSecret(secret=secrets.token_bytes(32)))
