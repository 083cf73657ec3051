"""What every ``auditdesk`` subcommand needs from the command line, in one object.

Why: the subcommand modules used to import a private ``_db`` back from ``auditdesk.cli``, the
package that imports them to register them (an import circle). The context sits below both:
``cli/__init__.py`` and every ``cli/<role>.py`` import it, it imports neither.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditdesk.store.db import Database

__all__ = ["CliContext", "context", "open_db"]


@dataclass
class CliContext:
    """The parsed options of one ``auditdesk`` run and what they name (today: the database)."""

    args: argparse.Namespace

    def open_db(self) -> Database:
        """The database of ``--db`` (or the default one), newly opened: the command disposes it
        when done. A refused file raises ``DatabaseError`` (the top-level handler makes it one
        sentence, exit 3); ``--read-only`` opens it read-only, with a note on stderr."""
        from auditdesk.store.db import open_database

        args = self.args
        db = open_database(args.db, read_only=True if getattr(args, "read_only", False) else None)
        if db.read_only:
            print(
                f"Note: the database {db.where} is open read-only: browsing, reports and exports "
                "work; changes are refused.",
                file=sys.stderr,
            )
        return db


def context(args: argparse.Namespace) -> CliContext:
    """The context of this run, made on first use and kept on ``args`` (one per command line)."""
    ctx = getattr(args, "_cli_context", None)
    if not isinstance(ctx, CliContext):
        ctx = CliContext(args)
        args._cli_context = ctx
    return ctx


def open_db(args: argparse.Namespace) -> Database:
    """Shorthand for ``context(args).open_db()``: what the subcommands call."""
    return context(args).open_db()
