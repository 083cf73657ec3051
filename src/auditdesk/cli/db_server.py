"""``auditdesk db check|migrate|backup|copy`` for every backend (PostgreSQL included).

The SQLite-file commands (integrity check, online backups into the backup folder, restore) stay
in ``cli_db``; this module answers for server databases and adds ``migrate`` and ``copy``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from auditdesk.store.errors import DatabaseError


def database_url(args: argparse.Namespace) -> str:
    """``--db``, else ``AUDITDESK_DB``/settings, else the SQLite file."""
    from auditdesk.runtime.db_settings import database_url as configured

    return args.db or configured()


def is_server(args: argparse.Namespace) -> bool:
    """True when the command works on a PostgreSQL server database."""
    from auditdesk.store.pg import is_postgresql

    return is_postgresql(database_url(args))


def cmd_check_server(args: argparse.Namespace) -> int:
    """Connectivity, server version, schema revision and pending migrations (read-only)."""
    from auditdesk.store.pg import check_server

    state = check_server(database_url(args))
    print(state.describe())
    return 0 if state.healthy else 3


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the database to the current schema (SQLite: after a backup, as on every open)."""
    from auditdesk.store.db import current_revision, open_database

    db = open_database(database_url(args))
    try:
        revision = current_revision(db.engine)
    finally:
        db.dispose()
    print(f"The database {db.where} is at the current schema ({revision}).")
    return 0


def cmd_backup_to(args: argparse.Namespace) -> int:
    """``db backup -o FILE``: SQLite online backup API, or ``pg_dump`` for a server."""
    from auditdesk.store.pg import dump, is_postgresql

    url = database_url(args)
    target = Path(args.output).expanduser()
    if target.exists():
        print(f"auditdesk db backup: {target} exists already; choose a new file.", file=sys.stderr)
        return 2
    if is_postgresql(url):
        dump(url, target)
        print(f"Backed up the server database to {target} (pg_dump custom format; restore "
              "with pg_restore).")  # fmt: skip
        return 0
    from auditdesk.store.backup import copy_to
    from auditdesk.store.db_check import inspect_file, sqlite_path_of

    path = sqlite_path_of(url)
    assert path is not None
    inspect_file(path)  # a damaged file is refused, not backed up as if it were fine
    copy_to(path, target)
    print(f"Backed up {path} to {target}.")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    """Copy all of a site's data into a new, empty database (e.g. SQLite → server)."""
    from auditdesk.exchange.db_copy import copy_database
    from auditdesk.store.pg import display_url

    def progress(table: str, n: int) -> None:
        print(f"  {table}: {n} row(s)")

    result = copy_database(args.source, args.target, progress)
    print(
        f"Copied {result.total} row(s) in {len(result.rows)} table(s) from "
        f"{display_url(args.source)} to {display_url(args.target)}; row counts checked."
    )
    return 0


def add_commands(dsub: argparse._SubParsersAction) -> None:
    """Register ``db migrate`` and ``db copy`` (``check``/``backup`` are in ``cli_db``)."""
    q = dsub.add_parser("migrate", help="bring the database to the current schema")
    q.set_defaults(func=cmd_migrate)
    q = dsub.add_parser(
        "copy", help="copy a site's data into a new, empty database (e.g. SQLite file → server)"
    )
    q.add_argument("--from", dest="source", required=True, metavar="URL")
    q.add_argument("--to", dest="target", required=True, metavar="URL")
    q.set_defaults(func=cmd_copy)


__all__ = ["DatabaseError", "add_commands", "cmd_backup_to", "cmd_check_server", "is_server"]
