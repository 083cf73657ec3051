"""``auditdesk export`` sub-commands: the weekly submission and the per-exam sheet.

Exit codes: 0 written; 1 written but empty (no complete audit of the measure checklist in the
chosen weeks); 2 nothing written (bad dates, a range that cuts a week with ``--weeks refuse``,
unknown format, the file cannot be written). A range that cuts a Sunday–Saturday week is snapped
to whole weeks by default, and the command says what it snapped to.
Neither file carries patient identifiers or UIDs; exams are named by pseudonymous keys.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from auditdesk.cli.common import iso_date
from auditdesk.exchange.formats import EXAM_SHEET_FORMATS, WEEKLY_FORMATS
from auditdesk.qi.week_range import WEEK_POLICIES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class _UsageError(ValueError):
    """The command line asks for something impossible; the message says what."""


def _fail(message: str) -> int:
    print(f"auditdesk export: {message}", file=sys.stderr)
    return 2


def _period(args: argparse.Namespace) -> tuple[dt.date | None, dt.date | None]:
    """(start, end) by procedure date, both inclusive; ``--week`` is the Sunday–Saturday week."""
    from auditdesk.reading.weeks import week_start

    if args.week is not None:
        if args.date_from is not None or args.date_to is not None:
            raise _UsageError("give either --week or --from/--to, not both.")
        start = week_start(args.week)
        return start, start + dt.timedelta(days=6)
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise _UsageError(f"--from {args.date_from} is after --to {args.date_to}.")
    return args.date_from, args.date_to


def _describe(start: dt.date | None, end: dt.date | None) -> str:
    if start is None and end is None:
        return "all weeks"
    return f"{start.isoformat() if start else 'the first'} to {end.isoformat() if end else 'now'}"


def _whole_weeks(
    session: Session, args: argparse.Namespace, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """The range as whole weeks (``--weeks``, else the site's setting); says when it snapped,
    raises :class:`_UsageError` when it cuts a week and the policy is to refuse."""
    from auditdesk.qi.site import get_site
    from auditdesk.qi.week_range import WeekRangeError, whole_weeks

    policy = args.weeks or get_site(session).week_policy
    try:
        span = whole_weeks(start, end, policy)
    except WeekRangeError as exc:
        raise _UsageError(f"{exc} (--weeks snap)") from None
    if span.snapped:
        print(span.message())
    return span.start, span.end


def cmd_export_weekly(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.exchange.weekly import write_weekly

    path = Path(args.output)
    fmt = args.format or path.suffix.lstrip(".").lower()
    if fmt not in WEEKLY_FORMATS:
        return _fail(
            f"cannot tell the format from {path.name!r}; give --format "
            + "|".join(WEEKLY_FORMATS)
            + "."
        )
    try:
        start, end = _period(args)
        db = open_db(args)
        try:
            with db.session() as session:
                start, end = _whole_weeks(session, args, start, end)
                n = write_weekly(
                    session,
                    path,
                    fmt,
                    start=start,
                    end=end,
                    breakdowns=args.breakdowns,
                    today=args.today,
                    week_policy="snap",  # already whole weeks
                )
        finally:
            db.dispose()
    except _UsageError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}")
    if n == 0:
        print(
            f"auditdesk export: no complete audits in {_describe(start, end)}; "
            f"wrote {path} with no weeks.",
            file=sys.stderr,
        )
        return 1
    print(f"Wrote {n} week(s) ({_describe(start, end)}) to {path}.")
    return 0


def cmd_export_exams(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.exchange.exam_sheet import exam_sheet_format, write_exam_sheet

    path = Path(args.output)
    try:
        fmt = exam_sheet_format(path, args.format)
    except ValueError:
        return _fail(
            f"cannot tell the format from {path.name!r}; give --format "
            + "|".join(EXAM_SHEET_FORMATS)
            + "."
        )
    try:
        start, end = _period(args)
        db = open_db(args)
        try:
            with db.session() as session:
                n = write_exam_sheet(session, path, fmt, start=start, end=end)
        finally:
            db.dispose()
    except _UsageError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}")
    if n == 0:
        print(
            f"auditdesk export: no complete audits in {_describe(start, end)}; "
            f"wrote {path} with the header only.",
            file=sys.stderr,
        )
        return 1
    print(f"Wrote {n} exam(s) ({_describe(start, end)}) to {path}.")
    return 0


def _period_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--week",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="only the Sunday–Saturday week containing this date",
    )
    p.add_argument(
        "--from", dest="date_from", type=iso_date, metavar="YYYY-MM-DD", help="first procedure date"
    )
    p.add_argument(
        "--to", dest="date_to", type=iso_date, metavar="YYYY-MM-DD", help="last procedure date"
    )


def _week_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--weeks",
        choices=WEEK_POLICIES,
        help="a --from/--to range that cuts a Sunday–Saturday week: snap it to whole weeks "
        "(and say so) or refuse it (default: the site setting, normally snap)",
    )
    p.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the date that decides which weeks are still in progress ('partial'); "
        "default: the computer's date (for reproducing an export)",
    )


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``auditdesk export weekly`` and ``auditdesk export exams``."""
    p = sub.add_parser("export", help="weekly submission and per-exam sheet (no patient data)")
    esub = p.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    q = esub.add_parser(
        "weekly", help="weekly counts for the collaborative (numerator, denominator, rate)"
    )
    q.add_argument("-o", "--output", required=True, metavar="FILE")
    q.add_argument(
        "--format", choices=WEEKLY_FORMATS, help="csv, xlsx or json (default: from FILE's suffix)"
    )
    _period_options(q)
    _week_options(q)
    q.add_argument(
        "--breakdowns",
        action="store_true",
        help="add failure counts per criterion and counts per location (aggregate only)",
    )
    q.set_defaults(func=cmd_export_weekly)
    q = esub.add_parser(
        "exams",
        help="one row per audited exam (pseudonymous keys): failed items, PNL, checklist version",
    )
    q.add_argument("-o", "--output", required=True, metavar="FILE")
    q.add_argument(
        "--format", choices=EXAM_SHEET_FORMATS, help="xlsx or csv (default: from FILE's suffix)"
    )
    _period_options(q)
    q.set_defaults(func=cmd_export_exams)
