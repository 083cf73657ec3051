"""``auditdesk studies confirm-view``: a reviewer confirms a guessed mammography view.

A view or side read from free text or an identifier is marked "please confirm" (see
:mod:`auditdesk.store.view_confirm`); this records the confirmation with who and why, the same
way ``auditdesk override image`` records a correction.
"""

from __future__ import annotations

import argparse
import sys


def cmd_confirm_view(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.store.view_confirm import ConfirmError, confirm_view

    db = open_db(args)
    try:
        with db.transaction() as session:
            row = confirm_view(session, args.image_id, args.reviewer, args.reason)
            label = row.value
    except ConfirmError as exc:
        print(f"auditdesk studies confirm-view: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    print(f"Confirmed image {args.image_id} as {label} ({args.reviewer.strip()}).")
    return 0


def add_commands(actions: argparse._SubParsersAction) -> None:
    """Add ``confirm-view`` to the actions of ``auditdesk studies``."""
    q = actions.add_parser(
        "confirm-view",
        help="confirm a view and side guessed from free text (id from 'studies --images')",
    )
    q.add_argument("image_id", type=int, metavar="IMAGE_ID")
    q.add_argument("--reviewer", required=True, help="who checked the image")
    q.add_argument("--reason", help="why (optional)")
    q.set_defaults(func=cmd_confirm_view)
