"""The ``auditdesk`` command: the GUI by default, and sub-commands for everything a team leader
may want to script (import, listing, rendering, demo data, classification overrides).

Listing commands take ``--json``; the fields are documented in README.md. Patient ID, accession
number and UIDs are printed only with ``--phi`` (an explicit request for internal use).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from auditdesk import __version__
from auditdesk.cli.common import print_import_summary
from auditdesk.cli.selftest import SelftestAction
from auditdesk.paths import HOME_ENV, demo_dir

if TYPE_CHECKING:
    from auditdesk.store.catalog import SeriesSummary
    from auditdesk.store.db import Database


def _db(args: argparse.Namespace) -> Database:
    """Open the database for a command (see :class:`auditdesk.cli.context.CliContext`)."""
    from auditdesk.cli.context import open_db

    return open_db(args)


# --------------------------------------------------------------------------------------------
# import
# --------------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from auditdesk.dicom.index import import_paths

    db = _db(args)

    def progress(done: int, total: int, _current: str) -> None:
        if args.progress and total:
            print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)

    try:
        summary = import_paths(
            db, args.paths, progress=progress, workers=args.workers, verify=args.verify
        )
    except KeyboardInterrupt:
        print("\nInterrupted; what was read so far is saved.", file=sys.stderr)
        return 130
    if args.progress:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print_import_summary(summary)
    return 0 if summary.usable_images else 1


# --------------------------------------------------------------------------------------------
# studies
# --------------------------------------------------------------------------------------------


def _series_label(series: SeriesSummary) -> str:
    if series.role:
        return series.role_text
    labels = sorted({img.label for img in series.images})
    return ",".join(labels)


def cmd_studies(args: argparse.Namespace) -> int:
    from auditdesk.store.catalog import list_studies
    from auditdesk.store.view_confirm import evidence_text

    db = _db(args)
    with db.session() as session:
        studies = list_studies(session, kind=args.kind)
    if args.json:
        print(json.dumps([s.to_dict(include_phi=args.phi) for s in studies], indent=2))
        return 0
    if not studies:
        print("No studies indexed yet. Try: auditdesk import FOLDER  (or auditdesk demo)")
        return 0
    from auditdesk.cli.studies import suggestion_marks

    marks = suggestion_marks(studies)
    for study in studies:
        date = study.procedure_date.isoformat() if study.procedure_date else "????-??-??"
        who = f" [{study.patient_id}]" if args.phi else ""
        views = " ".join(study.views) + (f"  ({marks[study.id]})" if study.id in marks else "")
        print(
            f"#{study.id:<5} {date} {study.kind:<5} {study.modalities or '':<6}"
            f" tech={study.technologist or '-'}{who}  {views}"
        )
        for series in study.series:
            intent = f" {series.presentation_intent}" if series.presentation_intent else ""
            print(
                f"    series {series.id:<5} #{series.series_number or '-':<4} "
                f"{(series.description or '')[:32]:<32} {len(series.images):>4} img  "
                f"{_series_label(series)}{intent}"
            )
            if args.images:
                for img in series.images:
                    flags = []
                    if img.is_screening_view is False and img.exclusion_reason:
                        flags.append(f"excluded: {img.exclusion_reason}")
                    if img.overridden:
                        flags.append("override: " + ",".join(img.overridden))
                    if img.view_conflict:
                        flags.append(f"sources disagree: {img.view_conflict}")
                    where = evidence_text(img)
                    print(f"        image {img.id:<6} {img.label:<8} {where} {'; '.join(flags)}")
    return 0


# --------------------------------------------------------------------------------------------
# render
# --------------------------------------------------------------------------------------------


def cmd_render(args: argparse.Namespace) -> int:
    from auditdesk.dicom.pixels import PixelDataError
    from auditdesk.dicom.reduced import render_png_fitted

    try:
        # JPEG 2000 with --max-size: only the resolution level that covers the size is decoded.
        result = render_png_fitted(
            args.file, args.output, frame=args.frame, voi=args.window, max_size=args.max_size
        )
    except PixelDataError as exc:
        print(f"auditdesk render: {args.file}: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"auditdesk render: {args.file}: {exc}", file=sys.stderr)
        return 2
    level = f" (JPEG 2000 resolution level {result.level})" if result.level else ""
    print(f"Wrote {result.path}{level}")
    return 0


# --------------------------------------------------------------------------------------------
# override
# --------------------------------------------------------------------------------------------


def cmd_override(args: argparse.Namespace) -> int:
    from auditdesk.store.catalog import OverrideError, set_override

    changes = {
        k: v
        for k, v in {
            "view": getattr(args, "view", None),
            "laterality": getattr(args, "laterality", None),
            "screening": getattr(args, "screening", None),
            "role": getattr(args, "role", None),
        }.items()
        if v is not None
    }
    if not changes:
        print("auditdesk override: nothing to change; give e.g. --view CC", file=sys.stderr)
        return 2
    db = _db(args)
    try:
        with db.transaction() as session:
            for field_name, value in changes.items():
                set_override(
                    session,
                    target=args.target,
                    target_id=args.id,
                    field_name=field_name,
                    value=None if value.lower() == "auto" else value,
                    reviewer=args.reviewer,
                    reason=args.reason,
                )
    except OverrideError as exc:
        print(f"auditdesk override: {exc}", file=sys.stderr)
        return 2
    print(f"Saved {len(changes)} override(s) for {args.target} {args.id}.")
    return 0


# --------------------------------------------------------------------------------------------
# demo and gui
# --------------------------------------------------------------------------------------------


def prepare_demo(db_url: str | None, *, force: bool = False, quiet: bool = False) -> Path:
    """Generate the demo studies (once) and index them; returns the demo folder."""
    from auditdesk.demo.generator import generate_demo
    from auditdesk.dicom.index import import_paths
    from auditdesk.store.db import open_database

    folder = demo_dir()
    manifest = folder / "manifest.json"
    if force or not manifest.exists():
        if not quiet:
            print(f"Generating synthetic demo studies in {folder} ...", flush=True)
        if folder.exists():
            # Our own folder: a forced run or an interrupted earlier generation (no manifest
            # yet) must not leave stale files mixed with the new ones.
            import shutil

            shutil.rmtree(folder)
        today = dt.date.today()
        last_saturday = today - dt.timedelta(days=(today.weekday() + 2) % 7)
        generate_demo(folder, end_date=last_saturday, workers=2)
    db = open_database(db_url)
    summary = import_paths(db, [folder])
    if not quiet:
        print_import_summary(summary)
    from auditdesk.demo.audits import DemoAuditError, fill_demo_audits

    try:
        filled = fill_demo_audits(db, manifest=folder)
    except DemoAuditError as exc:
        print(f"Note: no demo audits: {exc}", file=sys.stderr)
    else:
        if not quiet:
            print(
                f"Demo audits: {filled['audits']} complete audits of {filled['exams_audited']} "
                f"exams over {filled['weeks_audited']} weeks ({filled['audits_created']} new).",
                flush=True,
            )
    db.dispose()
    return folder


def cmd_demo(args: argparse.Namespace) -> int:
    prepare_demo(args.db, force=args.force)
    if args.no_gui:
        return 0
    return _run_gui(args.db)


def _run_gui(db_url: str | None, read_only: bool = False) -> int:
    from auditdesk.ui.app import run

    return run(db_url, read_only=read_only)


def cmd_gui(args: argparse.Namespace) -> int:
    return _run_gui(args.db, read_only=bool(getattr(args, "read_only", False)))


# --------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditdesk",
        description="AuditDesk: offline image-quality audits (mammography positioning, "
        "prostate MR). With no command, opens the workstation window.",
        epilog=f"Data lives in the platform's user data folder; set {HOME_ENV} to move it.",
    )
    parser.add_argument("--version", action="version", version=f"auditdesk {__version__}")
    parser.add_argument("--selftest", action=SelftestAction)
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="open the database read-only (browse, report, export; nothing is saved)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $AUDITDESK_DB, else the Database settings, else the SQLite "
        "file in the data folder), e.g. sqlite:///audits.sqlite or "
        "postgresql+psycopg://user@host/auditdesk",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("gui", help="open the workstation window (the default)")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("demo", help="generate synthetic demo studies, index them, open the GUI")
    p.add_argument("--no-gui", action="store_true", help="only generate and index")
    p.add_argument("--force", action="store_true", help="regenerate even if demo data exists")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", help="index DICOM folders, zip files or DICOMDIRs")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--workers", type=int, default=None, help="header-reading processes")
    p.add_argument("--progress", action="store_true", help="show progress on stderr")
    p.add_argument(
        "--verify",
        action="store_true",
        help="also decode every new image to catch corrupt pixel data now (slow for JPEG 2000)",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("studies", help="list indexed studies with their classification")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--kind", choices=["mammo", "mr", "other"], help="only this kind of study")
    p.add_argument("--images", action="store_true", help="also list every image")
    p.add_argument(
        "--phi", action="store_true", help="include patient ID, accession and UIDs (internal use)"
    )
    p.set_defaults(func=cmd_studies)
    from auditdesk.cli.studies import add_commands as add_studies_commands
    from auditdesk.cli.views import add_commands as add_view_commands

    actions = p.add_subparsers(dest="studies_action", metavar="ACTION")
    add_view_commands(actions)  # studies confirm-view
    add_studies_commands(actions)  # studies merge / split / unmerge / unsplit / suggest / history

    p = sub.add_parser("render", help="render one DICOM image to PNG through the display pipeline")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="PNG")
    p.add_argument("--frame", type=int, default=0, help="frame index for multi-frame images")
    p.add_argument("--window", help="VOI preset name from the file (default: the file's first)")
    p.add_argument("--max-size", type=int, default=None, help="longest side in pixels")
    p.set_defaults(func=cmd_render)

    from auditdesk.cli.audit import add_commands

    add_commands(sub)

    from auditdesk.cli.site import add_commands as add_site_commands

    add_site_commands(sub)

    from auditdesk.cli.export import add_commands as add_export_commands

    add_export_commands(sub)

    from auditdesk.cli.agreement import add_commands as add_agreement_commands

    add_agreement_commands(sub)

    from auditdesk.cli.package import add_commands as add_package_commands

    add_package_commands(sub)

    from auditdesk.cli.adjudication import add_commands as add_adjudication_commands

    add_adjudication_commands(sub)

    from auditdesk.cli.db import add_commands as add_db_commands

    add_db_commands(sub)

    from auditdesk.cli.pacs import add_commands as add_pacs_commands

    add_pacs_commands(sub)

    p = sub.add_parser("override", help="correct an automatic classification (reviewer wins)")
    osub = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    for target in ("image", "series"):
        q = osub.add_parser(target, help=f"override a {target} (id from 'studies --images')")
        q.add_argument("id", type=int)
        if target == "image":
            q.add_argument("--view", help="CC, MLO, ML, LM, XCCL, ... or 'auto'")
            q.add_argument("--laterality", help="R, L, B, U or 'auto'")
            q.add_argument("--screening", help="yes/no: count in screening audits, or 'auto'")
        else:
            q.add_argument("--role", help="T2W, DWI, ADC, DCE, LOCALIZER, OTHER or 'auto'")
        q.add_argument("--reviewer", required=True, help="who makes the correction")
        q.add_argument("--reason", help="why")
        q.set_defaults(func=cmd_override)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit codes are listed in README "When something goes wrong"."""
    from auditdesk.cli.errors import run_guarded

    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None) or cmd_gui
    return run_guarded(func, args)


def gui_main() -> int:
    """Entry point of the windowed launcher (no console on Windows)."""
    return main(["gui", *sys.argv[1:]])
