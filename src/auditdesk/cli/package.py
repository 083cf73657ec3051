"""``auditdesk package`` sub-commands: reviewer packages and the shared site key.

``export`` writes this workstation's audits to a signed ``.adpkg`` file, ``import`` merges one
(idempotent; conflicts are listed and the local answer kept), ``export-key`` / ``import-key``
share the site secret between the workstations of one site so their exam keys match. See
:mod:`auditdesk.exchange.package` for the format and the merge rules.

Exit codes: 0 done; 1 done with something to look at (an empty package; an import with
conflicts or exams not indexed here); 2 nothing done (bad option, unreadable, damaged, changed or
foreign package, refused key).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from auditdesk.cli.common import iso_date


def _fail(message: str) -> int:
    print(f"auditdesk package: {message}", file=sys.stderr)
    return 2


def cmd_export(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.exchange.package import PACKAGE_SUFFIX, PackageError, export_package
    from auditdesk.store.audits import get_reviewer_by_name

    path = Path(args.output)
    if path.suffix.lower() != PACKAGE_SUFFIX:
        return _fail(f"{path.name!r}: a reviewer package is written as {PACKAGE_SUFFIX}.")
    if args.date_from and args.date_to and args.date_from > args.date_to:
        return _fail(f"--from {args.date_from} is after --to {args.date_to}.")
    db = open_db(args)
    try:
        with db.transaction() as session:  # the site secret is created on first use
            reviewer_pks = None
            if args.reviewer:
                reviewer_pks = []
                for name in args.reviewer:
                    row = get_reviewer_by_name(session, name)
                    if row is None:
                        return _fail(f"there is no reviewer named {name!r}.")
                    reviewer_pks.append(row.id)
            n = export_package(
                session, path, reviewer_pks=reviewer_pks, start=args.date_from, end=args.date_to
            )
    except PackageError as exc:
        return _fail(str(exc))
    finally:
        db.dispose()
    if n == 0:
        print(f"auditdesk package: no audits to export; wrote an empty {path}.", file=sys.stderr)
        return 1
    print(f"Wrote {n} audit(s) to {path}.")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.exchange.package import PackageError, import_package

    db = open_db(args)
    try:
        with db.transaction() as session:
            report = import_package(session, args.file)
    except PackageError as exc:
        return _fail(str(exc))
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(
            f"Imported {args.file}: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged."
        )
        if report.reviewers_created:
            print("New reviewers: " + ", ".join(report.reviewers_created) + ".")
        if report.missing_exams:
            print(
                f"{len(report.missing_exams)} exam(s) are not indexed on this workstation and "
                "were skipped (import their images, then the package again): "
                + ", ".join(report.missing_exams)
            )
        for line in report.conflicts:
            print(f"Conflict: {line}")
        for line in report.notes:
            print(f"Note: {line}")
    return 1 if report.conflicts or report.missing_exams else 0


def cmd_export_key(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.exchange.package import PackageError, export_site_key, fingerprint
    from auditdesk.qi.site import site_secret

    db = open_db(args)
    try:
        with db.transaction() as session:
            export_site_key(session, args.output)
            mark = fingerprint(site_secret(session))
    except PackageError as exc:
        return _fail(str(exc))
    finally:
        db.dispose()
    print(
        f"Wrote the site key (fingerprint {mark}) to {args.output}; keep it like a password and "
        "import it on the other workstations of this site."
    )
    return 0


def cmd_import_key(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.exchange.package import PackageError, fingerprint, import_site_key
    from auditdesk.qi.site import SiteError, site_secret

    db = open_db(args)
    try:
        with db.transaction() as session:
            import_site_key(session, args.file, force=args.force)
            mark = fingerprint(site_secret(session))
    except (PackageError, SiteError) as exc:
        return _fail(str(exc))
    finally:
        db.dispose()
    print(f"This workstation now uses the site key with fingerprint {mark}.")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``auditdesk package export|import|export-key|import-key``."""
    p = sub.add_parser(
        "package", help="reviewer packages: carry audits between workstations of one site"
    )
    psub = p.add_subparsers(dest="package_command", metavar="WHAT", required=True)

    q = psub.add_parser("export", help="write audits to a signed .adpkg file (no patient data)")
    q.add_argument("-o", "--output", required=True, metavar="FILE.adpkg")
    q.add_argument(
        "--reviewer", action="append", metavar="NAME", help="only this reviewer's audits (repeat)"
    )
    q.add_argument(
        "--from", dest="date_from", type=iso_date, metavar="YYYY-MM-DD", help="first procedure date"
    )
    q.add_argument(
        "--to", dest="date_to", type=iso_date, metavar="YYYY-MM-DD", help="last procedure date"
    )
    q.set_defaults(func=cmd_export)

    q = psub.add_parser("import", help="merge a package (twice = once; conflicts are listed)")
    q.add_argument("file", metavar="FILE.adpkg")
    q.add_argument("--json", action="store_true", help="print the import report as JSON")
    q.set_defaults(func=cmd_import)

    q = psub.add_parser("export-key", help="write the site key for the site's other workstations")
    q.add_argument("-o", "--output", required=True, metavar="FILE")
    q.set_defaults(func=cmd_export_key)

    q = psub.add_parser("import-key", help="use the site key exported by another workstation")
    q.add_argument("file", metavar="FILE")
    q.add_argument(
        "--force",
        action="store_true",
        help="replace a different key even though audits here already used it",
    )
    q.set_defaults(func=cmd_import_key)
