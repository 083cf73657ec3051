"""PostgreSQL specifics: serialised writers, conflict messages, server check and ``pg_dump``.

A department shares one server database. AuditDesk's writes are small "look up, else insert"
transactions; on SQLite ``BEGIN IMMEDIATE`` queues them. Here every write transaction takes one
transaction-scoped advisory lock first, so writers queue the same way (bounded wait) and the two
backends behave alike. The unique constraints (one audit per study + reviewer + checklist +
purpose, one answer per audit + key) are still the database's guarantee; a violation that
slips through (another program, a manual edit) reaches the user as one sentence.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

#: The advisory lock key every AuditDesk writer takes ("AUDITDSK" as a 64-bit number).
WRITE_LOCK_KEY = 0x4155444954445348 & 0x7FFFFFFFFFFFFFFF
#: SQLSTATEs that mean "another writer got there first": unique violation, serialization
#: failure, deadlock, lock wait timed out.
CONFLICT_STATES = {"23505": "unique", "40001": "serialization", "40P01": "deadlock"}
LOCK_TIMEOUT_STATE = "55P03"


def is_postgresql(url_or_engine: str | Engine) -> bool:
    """True for a PostgreSQL URL or engine (any driver)."""
    if isinstance(url_or_engine, Engine):
        return url_or_engine.dialect.name == "postgresql"
    return url_or_engine.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def begin_write(session: Session, wait_seconds: float) -> None:
    """Queue behind other AuditDesk writers on this server (released at commit/rollback)."""
    conn = session.connection()
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(wait_seconds * 1000)}ms'")
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})


def sqlstate(exc: BaseException) -> str | None:
    """The server's SQLSTATE code behind a SQLAlchemy/psycopg error, if any."""
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def conflict_kind(exc: BaseException) -> str | None:
    """'unique', 'serialization', 'deadlock' or 'timeout' when ``exc`` is a write conflict."""
    state = sqlstate(exc)
    if state == LOCK_TIMEOUT_STATE:
        return "timeout"
    return CONFLICT_STATES.get(state or "")


def conflict_message(where: str, kind: str) -> str:
    """One sentence for the user: what happened, that nothing is half-saved, what to do."""
    if kind == "timeout":
        return (
            f"The database {where} stayed busy with another reviewer's change for too long; "
            "this change was not saved; try again in a moment."
        )
    if kind == "unique":
        return (
            f"Another workstation saved the same record on {where} at the same moment; this "
            "change was not saved (the other one was); reopen the exam and try again."
        )
    return (
        f"This change collided with another workstation's change on {where} ({kind}) and was "
        "not saved; try again."
    )


def display_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as the user typed it, minus nothing secret
        return url.split("@", 1)[-1]


@dataclass
class ServerState:
    """What ``db check`` and Test connection report about a server database."""

    url: str
    server_version: str
    revision: str | None
    head: str
    pending: list[str] = field(default_factory=list)
    foreign_tables: int = 0  # tables present without AuditDesk's schema version

    @property
    def healthy(self) -> bool:
        """Usable by this AuditDesk: empty, at head, or only behind (migrations pending)."""
        if self.revision is None:
            return self.foreign_tables == 0
        return self.revision == self.head or bool(self.pending)

    def describe(self) -> str:
        """The schema state in words."""
        if self.revision is None and self.foreign_tables:
            schema = (
                f"it holds {self.foreign_tables} table(s) but no AuditDesk schema: not an "
                "AuditDesk database; use a new, empty database"
            )
        elif self.revision is None:
            schema = "empty: AuditDesk creates its tables on first use (or 'auditdesk db migrate')"
        elif self.revision == self.head:
            schema = f"up to date (schema {self.head})"
        elif self.pending:
            schema = (
                f"schema {self.revision}, {len(self.pending)} migration(s) pending "
                f"({', '.join(self.pending)}); run 'auditdesk db migrate'"
            )
        else:
            schema = (
                f"schema {self.revision} is newer than this AuditDesk knows ({self.head}); "
                "update AuditDesk on this workstation"
            )
        return f"Connected to PostgreSQL {self.server_version} at {self.url}; {schema}."


def pending_revisions(current: str | None) -> list[str]:
    """Revisions between ``current`` and head, oldest first ([] when unknown or at head)."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from auditdesk.store.migrations_dir import alembic_config

    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        return []
    revs = list(script.iterate_revisions("head", current))
    return [rev.revision for rev in reversed(revs)]


def check_server(url: str, connect_timeout: int = 10) -> ServerState:
    """Connect, read the server version and the schema revision; nothing is written.

    Raises ``DatabaseError`` with one sentence when the server cannot be reached.
    """
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import SQLAlchemyError

    from auditdesk.store.errors import DatabaseError
    from auditdesk.store.migrations_dir import head_revision

    shown = display_url(url)
    try:
        engine = create_engine(url, connect_args={"connect_timeout": connect_timeout})
    except Exception as exc:  # bad URL or missing driver: one sentence
        raise DatabaseError(f"The database URL {shown} is not usable: {exc}") from exc
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar() or "?"
            revision = MigrationContext.configure(conn).get_current_revision()
            tables = len(inspect(conn).get_table_names()) if revision is None else 0
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise DatabaseError(f"Could not connect to the database server {shown}: {reason}") from exc
    finally:
        engine.dispose()
    head = head_revision()
    pending = pending_revisions(revision)
    return ServerState(shown, str(version).split()[0], revision, head, pending, tables)


def libpq_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Command-line options and environment for libpq tools (password via PGPASSWORD only)."""
    u = make_url(url)
    args: list[str] = []
    env: dict[str, str] = {}
    host = u.host or u.query.get("host")
    if isinstance(host, tuple):
        host = host[0]
    if host:
        args += ["-h", str(host)]
    if u.port:
        args += ["-p", str(u.port)]
    if u.username:
        args += ["-U", u.username]
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    args += ["-d", u.database or "postgres"]
    return args, env


def find_pg_dump() -> str | None:
    """``pg_dump`` on PATH or in Debian's server folder (the newest)."""
    import glob

    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), reverse=True)
    return candidates[0] if candidates else None


def dump(url: str, target: Path, pg_dump: str | None = None) -> Path:
    """Back a server database up with ``pg_dump`` (custom format, restorable with pg_restore)."""
    import os

    from auditdesk.store.errors import DatabaseError

    tool = pg_dump or find_pg_dump()
    if tool is None:
        raise DatabaseError(
            "Backing up a PostgreSQL database needs pg_dump, which is not installed here; "
            "install the 'postgresql-client' package or back up on the server itself."
        )
    args, env = libpq_args(url)
    tmp = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    cmd = [tool, "--format=custom", "--no-owner", "-f", str(tmp), *args]
    result: Any = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=3600
    )
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        reason = (result.stderr or "").strip().splitlines()[-1:] or ["no message"]
        raise DatabaseError(f"pg_dump could not back up {display_url(url)}: {reason[0]}")
    os.replace(tmp, target)
    return target


def refuse_foreign(engine: Engine, where: str) -> None:
    """Before migrating a server database: refuse one holding others' tables or a newer schema.

    Mirrors the SQLite file check (``db_check.inspect_file``): nothing is changed when refused.
    """
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from auditdesk.store.db_check import known_revisions
    from auditdesk.store.errors import DatabaseRefusedError
    from auditdesk.store.migrations_dir import head_revision

    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        tables = inspect(conn).get_table_names() if revision is None else []
    if revision is None and tables:
        raise DatabaseRefusedError(
            f"The database {where} holds {len(tables)} table(s) that are not AuditDesk's; "
            "point AuditDesk at a new, empty database.",
            "foreign",
        )
    if revision is not None and revision != head_revision() and revision not in known_revisions():
        raise DatabaseRefusedError(
            f"The database {where} was made by a newer AuditDesk (schema {revision}); update "
            "AuditDesk on this workstation.",
            "newer",
        )
