"""The ``auditdesk`` command's top-level handler: no traceback ever reaches the user.

Every command runs through ``run_guarded``: a known problem becomes one line on stderr (what
failed, where, what to do) and its exit code; anything unexpected is written with its
traceback to the log file (``app_log``, de-identified) and reported in one line that names
that file. A closed pipe (``auditdesk studies | head -1``) ends quietly with exit code 0.

Exit codes (README, "When something goes wrong"):
0 done; 1 partly done (some items skipped or incomplete); 2 refused input (bad arguments or
files; nothing was written); 3 database problem (damaged, foreign, empty, newer, read-only,
locked); 4 unexpected error (details in the log); 130 interrupted (Ctrl+C).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_REFUSED = 2
EXIT_DATABASE = 3
EXIT_UNEXPECTED = 4
EXIT_INTERRUPTED = 130


def _quiet_stdout() -> None:
    """After a closed pipe, point stdout at devnull so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def run_guarded(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run ``func(args)``; turn every failure into one line and a documented exit code."""
    import logging

    from sqlalchemy.exc import SQLAlchemyError

    from auditdesk.runtime import app_log
    from auditdesk.store.errors import DatabaseError

    app_log.setup()
    log = logging.getLogger("auditdesk.cli")
    command = getattr(args, "command", None) or "gui"
    log.info("%s started", command)
    try:
        code = int(func(args) or 0)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        print("\nInterrupted; what was saved so far stays saved.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except DatabaseError as exc:
        log.warning("%s refused: %s", command, exc)
        print(f"auditdesk {command}: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except SQLAlchemyError as exc:
        app_log.log_exception(f"{command}: database error", exc)
        print(
            f"auditdesk {command}: the database reported an error "
            f"({str(getattr(exc, 'orig', exc))[:160]}); nothing more was saved; check it with "
            f"'auditdesk db check' (details in {app_log.log_path()}).",
            file=sys.stderr,
        )
        return EXIT_DATABASE
    except MemoryError as exc:
        app_log.log_exception(f"{command}: out of memory", exc)
        print(f"auditdesk {command}: ran out of memory; nothing more was saved.", file=sys.stderr)
        return EXIT_UNEXPECTED
    except Exception as exc:  # the last net: one line for the user, the details in the log
        app_log.log_exception(f"{command}: unexpected error", exc)
        print(
            f"auditdesk {command}: unexpected error ({type(exc).__name__}: {str(exc)[:160]}); "
            f"what was saved before stays saved; details are in {app_log.log_path()}; "
            "please report them.",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED
    log.info("%s ended with exit code %d", command, code)
    return code
