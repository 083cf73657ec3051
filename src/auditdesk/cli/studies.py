"""``auditdesk studies merge|split|unmerge|unsplit|undo|suggest|history``: join exams that came
one study per image, split a study that holds two exams, and take either back (issue 13).

Output names study ids, dates and views only: patient IDs and accession numbers are compared in
the database to suggest groups but never printed. The reviewer defaults to the computer's login
name; the name and the reason are kept in the history.
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditdesk.store.catalog import StudySummary
    from auditdesk.store.db import Database
    from auditdesk.store.study_groups import GroupingResult


def _db(args: argparse.Namespace) -> Database:
    from auditdesk.store.db import DatabaseError, open_database

    try:
        return open_database(args.db)
    except DatabaseError as exc:
        raise SystemExit(f"auditdesk: {exc}") from exc


def _reviewer(args: argparse.Namespace) -> str:
    if args.reviewer:
        return str(args.reviewer)
    try:
        return getpass.getuser()
    except Exception:  # no login name on this machine: the user must say who
        raise SystemExit("auditdesk: say who makes the change with --reviewer NAME.") from None


def _describe(study: StudySummary | None, study_id: int) -> str:
    if study is None:
        return f"study {study_id}"
    date = study.procedure_date.isoformat() if study.procedure_date else "no date"
    views = " ".join(study.views)
    return f"study {study.id} ({date}, {study.n_images} images{', ' + views if views else ''})"


def _run(args: argparse.Namespace, action: str) -> int:
    from auditdesk.store import study_groups as sg
    from auditdesk.store.catalog import get_study

    db = _db(args)
    reviewer = _reviewer(args)
    try:
        with db.transaction() as session:
            result: GroupingResult
            if action == "merge":
                result = sg.merge_studies(
                    session, args.ids, reviewer=reviewer, reason=args.reason, force=args.force
                )
            elif action == "split":
                result = sg.split_study(
                    session, args.id, args.images, reviewer=reviewer, reason=args.reason
                )
            elif action in ("unmerge", "unsplit"):
                result = sg.undo_for_study(
                    session, args.id, action[2:], reviewer=reviewer, reason=args.reason
                )
            else:
                result = sg.undo_grouping(
                    session, args.grouping, reviewer=reviewer, reason=args.reason
                )
    except sg.GroupingError as exc:
        raise SystemExit(f"auditdesk: {exc}") from exc
    with db.session() as session:
        study = get_study(session, result.study_id)
    db.dispose()
    if getattr(args, "json", False):
        out = {"grouping": result.grouping_id, "study": result.study_id, "notes": result.notes}
        print(json.dumps(out, indent=2))
        return 0
    text = _describe(study, result.study_id)
    if action == "merge":
        ids = ", ".join(str(i) for i in dict.fromkeys(args.ids))
        print(
            f"Merged studies {ids} into {text}. Undo: auditdesk studies unmerge {result.study_id}"
        )
    elif action == "split":
        print(
            f"Split {len(set(args.images))} image(s) of study {args.id} off into {text}. "
            f"Undo: auditdesk studies unsplit {result.study_id}"
        )
    else:
        print(f"Undone (change {result.grouping_id} in 'studies history'); now {text}.")
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    return _run(args, "merge")


def cmd_split(args: argparse.Namespace) -> int:
    return _run(args, "split")


def cmd_unmerge(args: argparse.Namespace) -> int:
    return _run(args, "unmerge")


def cmd_unsplit(args: argparse.Namespace) -> int:
    return _run(args, "unsplit")


def cmd_undo(args: argparse.Namespace) -> int:
    return _run(args, "undo")


def cmd_suggest(args: argparse.Namespace) -> int:
    from auditdesk.store.catalog import list_studies
    from auditdesk.store.study_suggestions import suggest_groups

    db = _db(args)
    with db.session() as session:
        found = suggest_groups(list_studies(session, kind="mammo"))
    db.dispose()
    if args.json:
        rows = [
            {
                "study_ids": list(g.study_ids),
                "procedure_date": g.procedure_date.isoformat(),
                "matched_by": g.matched_by,
                "views": {str(k): list(v) for k, v in g.views.items()},
                "reason": g.reason,
            }
            for g in found
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not found:
        print("No studies look like one exam sent in pieces.")
        return 0
    for g in found:
        ids = " ".join(str(i) for i in g.study_ids)
        print(f"{g.procedure_date.isoformat()}  studies {ids}: {g.reason}")
        print(f"    merge: auditdesk studies merge {ids}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from auditdesk.store.study_groups import history

    db = _db(args)
    with db.session() as session:
        rows = history(session)
    db.dispose()
    if args.json:
        out = [
            {
                "id": r.id,
                "action": r.action,
                "reviewer": r.reviewer,
                "reason": r.reason,
                "at": r.created_at.isoformat(timespec="seconds"),
                "source_study_ids": r.source_study_ids,
                "result_study_id": r.result_study_id,
                "images": r.n_images,
                "undone_at": r.undone_at.isoformat(timespec="seconds") if r.undone_at else None,
                "undone_by": r.undone_by,
                "undo_reason": r.undo_reason,
            }
            for r in rows
        ]
        print(json.dumps(out, indent=2))
        return 0
    if not rows:
        print("No studies were merged or split.")
        return 0
    for r in rows:
        sources = ", ".join(str(i) for i in r.source_study_ids)
        what = (
            f"merged studies {sources} into study {r.result_study_id}"
            if r.action == "merge"
            else f"split {r.n_images} image(s) of study {sources} off into study "
            f"{r.result_study_id}"
        )
        why = f" ({r.reason})" if r.reason else ""
        print(f"#{r.id:<4} {r.created_at:%Y-%m-%d %H:%M}  {r.reviewer}: {what}{why}")
        if r.undone_at:
            why = f" ({r.undo_reason})" if r.undo_reason else ""
            print(f"      undone {r.undone_at:%Y-%m-%d %H:%M} by {r.undone_by}{why}")
    return 0


def suggestion_marks(studies: list[StudySummary]) -> dict[int, str]:
    """Study id -> 'merge suggested with #2 #3' for the plain ``studies`` listing."""
    from auditdesk.store.study_suggestions import suggest_groups

    marks = {}
    for g in suggest_groups(studies):
        for sid in g.study_ids:
            others = " ".join(f"#{i}" for i in g.study_ids if i != sid)
            marks[sid] = f"merge suggested with {others}"
    return marks


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the merge/split commands among the actions of ``auditdesk studies`` (the bare
    ``auditdesk studies`` still lists)."""

    def common(p: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
        p.add_argument("--reviewer", metavar="NAME", help="who (default: your login name)")
        p.add_argument("--reason", metavar="TEXT", help="why (kept in the history)")
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("merge", help="merge studies that are one exam into one study")
    p.add_argument("ids", nargs="+", type=int, metavar="ID", help="study ids (at least two)")
    p.add_argument(
        "--force",
        action="store_true",
        help="merge even if dates, patients or kinds differ (the earliest date is kept)",
    )
    common(p)
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("split", help="move some images of a study into a new study")
    p.add_argument("id", type=int, metavar="ID", help="the study that holds two exams")
    p.add_argument(
        "--images", nargs="+", type=int, required=True, metavar="ID", help="image ids to move"
    )
    common(p)
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("unmerge", help="restore the studies a merged study was made from")
    p.add_argument("id", type=int, metavar="ID", help="the merged study")
    common(p)
    p.set_defaults(func=cmd_unmerge)

    p = sub.add_parser("unsplit", help="put the images of a split-off study back")
    p.add_argument("id", type=int, metavar="ID", help="the study the split made")
    common(p)
    p.set_defaults(func=cmd_unsplit)

    p = sub.add_parser("undo", help="undo one merge or split by its number in 'studies history'")
    p.add_argument("grouping", type=int, metavar="N")
    common(p)
    p.set_defaults(func=cmd_undo)

    p = sub.add_parser("suggest", help="list studies that look like one exam sent in pieces")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_suggest)

    p = sub.add_parser("history", help="every merge and split: who, when, why, undone")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_history)


__all__ = ["add_commands", "suggestion_marks"]
