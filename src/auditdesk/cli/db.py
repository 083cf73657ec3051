"""``auditdesk db check|backup|backups|restore``: look after the database file itself."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from auditdesk.store.errors import DatabaseError


def _db_path(args: argparse.Namespace) -> Path:
    from auditdesk.runtime.db_settings import database_url
    from auditdesk.store.db_check import sqlite_path_of

    url = args.db or database_url()
    path = sqlite_path_of(url)
    if path is None:
        raise DatabaseError(
            f"'auditdesk db {args.db_command}' works on SQLite files only, not "
            f"{url.split('://', 1)[0]} databases; use 'db backup -o FILE' (pg_dump) or the "
            "server's own tools."
        )
    return path


def cmd_db_check(args: argparse.Namespace) -> int:
    """Exit 0 with a summary when the file is a healthy AuditDesk database, 3 (one line) if not."""
    from auditdesk.cli.db_server import cmd_check_server, is_server
    from auditdesk.store.db import head_revision
    from auditdesk.store.db_check import inspect_file

    if is_server(args):
        return cmd_check_server(args)
    path = _db_path(args)
    state = inspect_file(path)  # raises DatabaseRefusedError (exit 3) with the sentence
    if not state.exists:
        print(f"There is no database at {path} yet; AuditDesk creates it on first use.")
        return 0
    schema = state.revision or "none (blank file)"
    upgrade = "" if state.revision in (None, head_revision()) else " (upgraded on next open)"
    access = "writable" if state.writable else "read-only"
    print(f"OK: {path} is an AuditDesk database, schema {schema}{upgrade}, {access}.")
    return 0


def cmd_db_backup(args: argparse.Namespace) -> int:
    from auditdesk.runtime import app_settings
    from auditdesk.store.backup import make_backup
    from auditdesk.store.db_check import inspect_file

    if getattr(args, "output", None):
        from auditdesk.cli.db_server import cmd_backup_to

        return cmd_backup_to(args)
    if args.keep is not None:
        try:
            app_settings.set_backup_keep(args.keep)
        except ValueError as exc:
            print(f"auditdesk db backup: {exc}", file=sys.stderr)
            return 2
    path = _db_path(args)
    inspect_file(path)  # a damaged file is refused, not backed up as if it were fine
    target = make_backup(path, "manual")
    print(f"Backed up {path} to {target} (keeping the newest {app_settings.backup_keep()}).")
    return 0


def cmd_db_backups(args: argparse.Namespace) -> int:
    from auditdesk.store.backup import backup_folder, list_backups

    path = _db_path(args)
    backups = list_backups(path)
    if not backups:
        print(f"No backups of {path} in {backup_folder(path)} yet.")
        return 0
    for info in backups:
        print(
            f"{info.created:%Y-%m-%d %H:%M:%S}  {info.reason:<15} {info.size:>12,} B  {info.path}"
        )
    return 0


def cmd_db_restore(args: argparse.Namespace) -> int:
    from auditdesk.store.backup import list_backups, restore_backup

    path = _db_path(args)
    if args.backup == "latest":
        backups = list_backups(path)
        if not backups:
            print(f"auditdesk db restore: there are no backups of {path}.", file=sys.stderr)
            return 2
        source = backups[0].path
    else:
        source = Path(args.backup).expanduser()
    kept = restore_backup(source, path)
    note = f"; the previous file was kept as {kept}" if kept else ""
    print(f"Restored {path} from {source}{note}.")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="check, back up or restore the database file")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    q = dsub.add_parser("check", help="integrity and identity check (read-only)")
    q.set_defaults(func=cmd_db_check)
    q = dsub.add_parser("backup", help="back the database up now (SQLite online backup, pg_dump)")
    q.add_argument("-o", "--output", metavar="FILE", help="to this file (server: needs pg_dump)")
    q.add_argument("--keep", type=int, help="from now on keep this many backups (setting)")
    q.set_defaults(func=cmd_db_backup)
    q = dsub.add_parser("backups", help="list the backups of the database, newest first")
    q.set_defaults(func=cmd_db_backups)
    q = dsub.add_parser("restore", help="replace the database with a checked backup")
    q.add_argument("backup", metavar="FILE|latest", help="a backup file, or 'latest'")
    q.set_defaults(func=cmd_db_restore)
    from auditdesk.cli.db_server import add_commands as add_server_commands

    add_server_commands(dsub)
