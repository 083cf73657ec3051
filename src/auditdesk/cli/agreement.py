"""``auditdesk agreement``: reviewer agreement per criterion as CSV (or PDF via the report UI).

Exit codes: 0 written; 1 not enough double reads (nothing written); 2 nothing written (bad
dates, unknown reviewer or format, the file cannot be written). The CSV names targets and
labels only: no exam, patient or reviewer identifiers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("csv", "pdf")


def _fail(message: str, code: int = 2) -> int:
    print(f"auditdesk agreement: {message}", file=sys.stderr)
    return code


def cmd_agreement(args: argparse.Namespace) -> int:
    """Write the agreement report for the chosen checklist, period and reviewers."""
    from auditdesk.cli.context import open_db
    from auditdesk.qi.site import get_site
    from auditdesk.review.agreement import AgreementFilter, agreement_report, write_agreement_csv
    from auditdesk.store.audits import get_reviewer_by_name

    path = Path(args.output)
    fmt = args.format or path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        return _fail(f"cannot tell the format from {path.name!r}; give --format csv|pdf.")
    if args.date_from and args.date_to and args.date_from > args.date_to:
        return _fail(f"--from {args.date_from} is after --to {args.date_to}.")
    db = open_db(args)
    with db.session() as session:
        checklist_id = args.checklist or get_site(session).checklist_id
        pks: list[int] = []
        for name in [n.strip() for n in (args.reviewers or "").split(",") if n.strip()]:
            reviewer = get_reviewer_by_name(session, name)
            if reviewer is None:
                return _fail(f"no reviewer named {name!r}.")
            pks.append(reviewer.id)
        flt = AgreementFilter(
            checklist_id, start=args.date_from, end=args.date_to, reviewer_pks=tuple(pks)
        )
        rows = agreement_report(session, flt) if fmt == "csv" else None
    if rows is not None and not rows:
        return _fail(
            f"not enough double reads: no exam has two complete audits of '{checklist_id}' "
            "by different reviewers in the chosen period.",
            1,
        )
    try:
        if fmt == "csv":
            assert rows is not None
            write_agreement_csv(rows, path)
            print(f"Wrote agreement for {len(rows)} target(s) ({checklist_id}) to {path}.")
            return 0
        try:
            from auditdesk.ui.review.agreement_report import write_agreement_pdf
        except ImportError:
            return _fail("the PDF report is not available in this installation; use --format csv.")
        with db.session() as session:
            if not agreement_report(session, flt, bootstrap=0):
                return _fail(
                    f"not enough double reads: no exam has two complete audits of "
                    f"'{checklist_id}' by different reviewers in the chosen period.",
                    1,
                )
        write_agreement_pdf(db, path, flt)
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}")
    print(f"Wrote the agreement report ({checklist_id}) to {path}.")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``auditdesk agreement``."""
    from auditdesk.cli.common import iso_date

    p = sub.add_parser(
        "agreement",
        help="reviewer agreement per criterion (kappa, AC1, alpha, ICC) from double reads",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument("--format", choices=FORMATS, help="csv or pdf (default: from FILE's suffix)")
    p.add_argument("--checklist", metavar="ID", help="checklist id (default: the site's measure)")
    p.add_argument(
        "--from", dest="date_from", type=iso_date, metavar="YYYY-MM-DD", help="first procedure date"
    )
    p.add_argument(
        "--to", dest="date_to", type=iso_date, metavar="YYYY-MM-DD", help="last procedure date"
    )
    p.add_argument(
        "--reviewers", metavar="NAMES", help='only these reviewers, e.g. "Ann Lead,Bo Coach"'
    )
    p.set_defaults(func=cmd_agreement)
