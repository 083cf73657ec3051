"""``auditdesk site``, ``technologist``, ``location``, ``sample`` and ``annotate`` sub-commands.

Site set-up, the mapping of raw operator names to technologists, weekly samples and chart
annotations from a script. Output carries no patient data: a sample lists study ids, procedure
dates, technologists and reviewer names, never patient IDs, accession numbers or UIDs. Bad input
gives one sentence on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class _BadInputError(Exception):
    """Bad command-line input; the message is shown as is."""


def _emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _fail(message: str) -> int:
    print(f"auditdesk: {message}", file=sys.stderr)
    return 1


def _date(text: str, what: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise _BadInputError(f"The {what} {text!r} is not a date like 2026-03-01.") from None


def _run(args: argparse.Namespace, body: Any, *, write: bool) -> int:
    """Open the database, run ``body(session)`` in a transaction (or a read-only session) and
    turn the domain errors into one-sentence messages with exit code 1."""
    from auditdesk.cli.context import open_db
    from auditdesk.qi.sampling import SamplingError
    from auditdesk.qi.site import SiteError

    db = open_db(args)
    try:
        if write:
            with db.transaction() as session:
                return int(body(session) or 0)
        with db.session() as session:
            return int(body(session) or 0)
    except (_BadInputError, SiteError, SamplingError) as exc:
        return _fail(str(exc))
    finally:
        db.dispose()


# --------------------------------------------------------------------------------------------
# site
# --------------------------------------------------------------------------------------------


def _print_site(settings: Any) -> None:
    goal = "-" if settings.goal_pct is None else f"{settings.goal_pct:g} %"
    rows = [
        ("Site name", settings.site_name or "-"),
        ("Site id", settings.site_id or "-"),
        ("Organisation", settings.organisation or "-"),
        ("Collaborative", settings.collaborative or "-"),
        ("Goal", goal),
        ("Measure checklist", settings.checklist_id),
        ("Default location", settings.default_location or "-"),
        ("Demo data", "yes" if settings.is_demo else "no"),
        ("Special causes", settings.spc_rules or "none (all rules off)"),
        ("Small-n flag", _small_np_text(settings.spc_small_np)),
        ("Cut weeks", settings.week_policy),
        ("View spellings", "; ".join(settings.view_spellings.splitlines()) or "-"),
    ]
    for label, value in rows:
        print(f"{label + ':':<19} {value}")


def _small_np_text(value: float) -> str:
    return "off" if not value else f"n·p̄ or n·(1−p̄) below {value:g}"


def _spc_changes(args: argparse.Namespace, settings: Any) -> bool:
    """Apply --spc-rules, --rule-on/--rule-off, --small-np, --week-policy; True if any given."""
    from auditdesk.qi.spc_rules import format_rules, parse_rules

    given = False
    try:
        rules = set(parse_rules(settings.spc_rules))
        if args.spc_rules is not None:
            rules, given = set(parse_rules(args.spc_rules)), True
        for name in args.rule_on or ():
            rules |= parse_rules(name)
            given = True
        for name in args.rule_off or ():
            rules -= parse_rules(name)
            given = True
    except ValueError as exc:
        raise _BadInputError(str(exc)) from None
    settings.spc_rules = format_rules(rules)
    if args.small_np is not None:
        text = args.small_np.strip().lower()
        try:
            settings.spc_small_np = 0.0 if text in {"off", "none"} else float(text)
        except ValueError:
            raise _BadInputError(
                f"The small-n limit {args.small_np!r} is not a number like 5 (or 'off')."
            ) from None
        given = True
    if args.week_policy is not None:
        settings.week_policy, given = args.week_policy, True
    return given


def cmd_site_show(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import get_site

    def body(session: Session) -> int:
        settings = get_site(session)
        if args.json:
            _emit_json(asdict(settings))
        else:
            _print_site(settings)
        return 0

    return _run(args, body, write=False)


def cmd_site_set(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import get_site, save_site

    def body(session: Session) -> int:
        settings = get_site(session)
        changes = {
            "site_name": args.name,
            "site_id": args.site_id,
            "organisation": args.organisation,
            "collaborative": args.collaborative,
            "checklist_id": args.checklist,
            "default_location": args.default_location,
            "view_spellings": args.view_spellings,
        }
        nothing = all(v is None for v in changes.values())
        spc = _spc_changes(args, settings)
        if nothing and args.goal is None and args.demo is None and not spc:
            raise _BadInputError("Nothing to change; give at least one option (see --help).")
        for name, value in changes.items():
            if value is not None:
                setattr(settings, name, value)
        if args.goal is not None:
            if args.goal.strip().lower() in {"", "none", "-"}:
                settings.goal_pct = None
            else:
                try:
                    settings.goal_pct = float(args.goal.strip().rstrip("%"))
                except ValueError:
                    raise _BadInputError(
                        f"The goal {args.goal!r} is not a percentage like 85."
                    ) from None
        if args.demo is not None:
            settings.is_demo = args.demo
        save_site(session, settings)
        _print_site(settings)
        return 0

    return _run(args, body, write=True)


# --------------------------------------------------------------------------------------------
# technologist, location
# --------------------------------------------------------------------------------------------


def cmd_technologist_list(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import list_technologists

    def body(session: Session) -> int:
        techs = list_technologists(session, include_inactive=args.all)
        if args.json:
            _emit_json([asdict(t) for t in techs])
            return 0
        if not techs:
            print("No technologists yet. Try: auditdesk technologist add NAME")
        for t in techs:
            state = "" if t.active else " (inactive)"
            aliases = ", ".join(t.aliases) or "-"
            print(
                f"{t.id:<4} {t.name:<28} {t.initials:<6} {t.location or '-':<18} "
                f"aliases: {aliases}{state}"
            )
        return 0

    return _run(args, body, write=False)


def cmd_technologist_add(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import add_technologist

    def body(session: Session) -> int:
        tech = add_technologist(session, args.name, args.initials or "", args.location)
        print(f"Added technologist {tech.id}: {tech.name}")
        return 0

    return _run(args, body, write=True)


def cmd_technologist_alias(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import add_alias, find_technologist, normalise_operator

    def body(session: Session) -> int:
        tech = find_technologist(session, args.name)
        if tech is None:
            raise _BadInputError(
                f"No technologist named {args.name!r}; add one with 'auditdesk technologist add'."
            )
        add_alias(session, tech.id, args.raw)
        print(f"Operator name {normalise_operator(args.raw)!r} now means {tech.name}.")
        return 0

    return _run(args, body, write=True)


def cmd_technologist_unmapped(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import unmapped_operator_names

    def body(session: Session) -> int:
        rows = unmapped_operator_names(session)
        if args.json:
            _emit_json([{"name": name, "studies": count} for name, count in rows])
            return 0
        if not rows:
            print("Every operator name maps to a technologist.")
        for name, count in rows:
            print(f"{count:>6}  {name}")
        return 0

    return _run(args, body, write=False)


def cmd_location_add(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import add_location

    def body(session: Session) -> int:
        add_location(session, args.name)
        print(f"Location {' '.join(args.name.split())!r} is available.")
        return 0

    return _run(args, body, write=True)


def cmd_location_list(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import list_locations

    def body(session: Session) -> int:
        for name in list_locations(session):
            print(name)
        return 0

    return _run(args, body, write=False)


# --------------------------------------------------------------------------------------------
# sample
# --------------------------------------------------------------------------------------------


def _reviewer_pk(session: Session, name: str) -> int:
    from auditdesk.store.audits import get_reviewer_by_name

    reviewer = get_reviewer_by_name(session, name)
    if reviewer is None:
        raise _BadInputError(f"No reviewer named {name!r}; add one with 'auditdesk reviewer add'.")
    return reviewer.id


def _reviewer_names(session: Session) -> dict[int, str]:
    from sqlalchemy import select

    from auditdesk.store.models import Reviewer

    return {pk: name for pk, name in session.execute(select(Reviewer.id, Reviewer.name))}


def cmd_sample_draw(args: argparse.Namespace) -> int:
    from auditdesk.qi.sampling import SamplePlan, draw_sample

    def body(session: Session) -> int:
        week = _date(args.week, "week")
        if args.overall is not None:
            mode, n = "overall", args.overall
        else:
            mode, n = "per_technologist", args.per_technologist or 5
        plan = SamplePlan(
            week_start=week,
            mode=mode,
            n=n,
            seed=args.seed,
            second_share=args.second_share,
            screening_only=not args.all_exams,
            reviewer_pks=[_reviewer_pk(session, name) for name in args.reviewer or []],
        )
        created_by = _reviewer_pk(session, args.by) if args.by else None
        seed, items = draw_sample(session, plan, created_by=created_by)
        seconds = sum(1 for i in items if i.second_reviewer_pk is not None)
        print(
            f"Sampled {len(items)} exams for the week of {items[0].week_start if items else week}"
            f" (seed {seed}; {seconds} with a second reviewer)."
        )
        if not items:
            print("No eligible exams that week (use --all-exams to include non-screening exams).")
        return 0

    return _run(args, body, write=True)


def cmd_sample_show(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from auditdesk.qi.sampling import sample_plan, sample_weeks, week_sample
    from auditdesk.store.models import Study

    def body(session: Session) -> int:
        if args.week:
            week = _date(args.week, "week")
        else:
            weeks = sample_weeks(session)
            if not weeks:
                print("No samples drawn yet. Try: auditdesk sample draw --week YYYY-MM-DD")
                return 0
            week = weeks[0]
        plan = sample_plan(session, week)
        if plan is None:
            raise _BadInputError(f"No sample has been drawn for the week of {week.isoformat()}.")
        items = week_sample(session, week)
        names = _reviewer_names(session)
        dates = dict(
            session.execute(
                select(Study.id, Study.procedure_date).where(
                    Study.id.in_([i.study_pk for i in items])
                )
            ).all()
        )
        rows = [
            {
                "study": i.study_pk,
                "procedure_date": dates.get(i.study_pk),
                "technologist": i.technologist,
                "reviewer": names.get(i.primary_reviewer_pk) if i.primary_reviewer_pk else None,
                "second_reviewer": (
                    names.get(i.second_reviewer_pk) if i.second_reviewer_pk else None
                ),
            }
            for i in items
        ]
        head = {
            "week_start": plan.week_start,
            "mode": plan.mode,
            "n": plan.n,
            "seed": plan.seed,
            "second_share": plan.second_share,
            "screening_only": plan.screening_only,
            "reviewers": [names.get(pk, str(pk)) for pk in plan.reviewer_pks],
            "created_by": names.get(plan.created_by) if plan.created_by else None,
            "created_at": plan.created_at,
        }
        if args.json:
            _emit_json({"plan": head, "items": rows})
            return 0
        per = "per technologist" if plan.mode == "per_technologist" else "overall"
        print(
            f"Week of {plan.week_start.isoformat()}: {plan.n} exams {per}, seed {plan.seed}, "
            f"second-reviewer share {plan.second_share:g}, "
            + ("screening 4-view exams only" if plan.screening_only else "all mammograms")
        )
        created = plan.created_at.strftime("%Y-%m-%d %H:%M") if plan.created_at else "?"
        print(f"Drawn {created} UTC" + (f" by {head['created_by']}" if head["created_by"] else ""))
        for r in rows:
            date = r["procedure_date"].isoformat() if r["procedure_date"] else "????-??-??"
            second = f"  second: {r['second_reviewer']}" if r["second_reviewer"] else ""
            print(
                f"#{r['study']:<5} {date}  {r['technologist'] or '-':<24} "
                f"reviewer: {r['reviewer'] or '-'}{second}"
            )
        return 0

    return _run(args, body, write=False)


# --------------------------------------------------------------------------------------------
# annotate
# --------------------------------------------------------------------------------------------


def cmd_annotate_add(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import add_annotation

    def body(session: Session) -> int:
        note = add_annotation(
            session,
            _date(args.date),
            args.label,
            description=args.description or "",
            pdsa_cycle=args.pdsa or "",
            starts_phase=args.new_phase,
        )
        print(f"Added annotation {note.id}: {note.date.isoformat()} {note.label}")
        return 0

    return _run(args, body, write=True)


def cmd_annotate_list(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import list_annotations

    def body(session: Session) -> int:
        notes = list_annotations(session)
        if args.json:
            _emit_json([asdict(n) for n in notes])
            return 0
        for n in notes:
            extra = f" [PDSA {n.pdsa_cycle}]" if n.pdsa_cycle else ""
            phase = " (new phase)" if n.starts_phase else ""
            print(f"{n.id:<4} {n.date.isoformat()}  {n.label}{extra}{phase}")
            if n.description:
                print(f"       {n.description}")
        return 0

    return _run(args, body, write=False)


def cmd_annotate_delete(args: argparse.Namespace) -> int:
    from auditdesk.qi.site import delete_annotation

    def body(session: Session) -> int:
        delete_annotation(session, args.id)
        print(f"Deleted annotation {args.id}.")
        return 0

    return _run(args, body, write=True)


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1, e.g. 0.15")
    return value


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the site, technologist, location, sample and annotate commands."""
    p = sub.add_parser("site", help="site name, ids, goal and measure checklist")
    ssub = p.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    q = ssub.add_parser("show", help="show the site settings")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_site_show)
    q = ssub.add_parser("set", help="change site settings (only the options given)")
    q.add_argument("--name", help="site name, e.g. 'Riverside Breast Center'")
    q.add_argument("--site-id", help="short facility id for exports, e.g. RBC01")
    q.add_argument("--organisation")
    q.add_argument("--collaborative", help="e.g. 'ACR Learning Network'")
    q.add_argument("--goal", help="target %% of exams meeting criteria, e.g. 85 ('none' clears)")
    q.add_argument("--checklist", help="checklist whose 'meets criteria' is the measure")
    q.add_argument("--default-location", help="location of technologists without one ('' clears)")
    q.add_argument(
        "--view-spellings",
        metavar="TEXT",
        help="local words for views and sides, e.g. 'OBL = MLO; DROIT = R' ('' clears)",
    )
    demo = q.add_mutually_exclusive_group()
    demo.add_argument("--demo", dest="demo", action="store_true", default=None)
    demo.add_argument("--no-demo", dest="demo", action="store_false")
    q.add_argument(
        "--spc-rules",
        metavar="LIST",
        help="p-chart special-cause rules to test: all, none or a comma-separated list of "
        "outside, shift, trend, two-of-three",
    )
    q.add_argument("--rule-on", action="append", metavar="RULE", help="switch one rule on")
    q.add_argument("--rule-off", action="append", metavar="RULE", help="switch one rule off")
    q.add_argument(
        "--small-np",
        metavar="N",
        help="flag a week's limits as approximate when n·p̄ or n·(1−p̄) is below N "
        "(default 5; 'off' or 0 switches the flag off)",
    )
    q.add_argument(
        "--week-policy",
        choices=("snap", "refuse"),
        help="exports for a range that cuts a Sunday–Saturday week: snap to whole weeks or refuse",
    )
    q.set_defaults(func=cmd_site_set)

    p = sub.add_parser("technologist", help="technologists and their operator-name aliases")
    tsub = p.add_subparsers(dest="technologist_command", metavar="ACTION", required=True)
    q = tsub.add_parser("list", help="technologists with aliases")
    q.add_argument("--all", action="store_true", help="include inactive ones")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_technologist_list)
    q = tsub.add_parser("add", help="add a technologist")
    q.add_argument("name")
    q.add_argument("--initials")
    q.add_argument("--location")
    q.set_defaults(func=cmd_technologist_add)
    q = tsub.add_parser("alias", help="map a raw Operators' Name to a technologist")
    q.add_argument("name", help="the technologist (name or existing alias)")
    q.add_argument("raw", help="operator name as in the images, e.g. 'SMITH^JANE'")
    q.set_defaults(func=cmd_technologist_alias)
    q = tsub.add_parser("unmapped", help="operator names in studies not yet mapped")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_technologist_unmapped)

    p = sub.add_parser("location", help="locations for per-location breakdowns")
    lsub = p.add_subparsers(dest="location_command", metavar="ACTION", required=True)
    q = lsub.add_parser("add", help="add a location")
    q.add_argument("name")
    q.set_defaults(func=cmd_location_add)
    q = lsub.add_parser("list", help="list locations")
    q.set_defaults(func=cmd_location_list)

    p = sub.add_parser("sample", help="draw and show reproducible weekly audit samples")
    psub = p.add_subparsers(dest="sample_command", metavar="ACTION", required=True)
    q = psub.add_parser("draw", help="draw (or redraw, before auditing starts) a week's sample")
    q.add_argument("--week", required=True, help="any date in the Sunday-Saturday week")
    size = q.add_mutually_exclusive_group()
    size.add_argument("--per-technologist", type=_positive_int, metavar="N", help="default 5")
    size.add_argument("--overall", type=_positive_int, metavar="N", help="N exams in all")
    q.add_argument("--seed", type=int, help="reuse a recorded seed to reproduce a sample")
    q.add_argument("--second-share", type=_share, default=0.15, metavar="F")
    q.add_argument(
        "--reviewer", action="extend", nargs="+", metavar="NAME", help="primary reviewers"
    )
    q.add_argument("--by", metavar="NAME", help="reviewer drawing the sample (recorded)")
    q.add_argument("--all-exams", action="store_true", help="not only 4-view screening exams")
    q.set_defaults(func=cmd_sample_draw)
    q = psub.add_parser("show", help="a week's sample (default: the newest)")
    q.add_argument("--week")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_sample_show)

    p = sub.add_parser("annotate", help="dated chart annotations (changes, PDSA cycles)")
    nsub = p.add_subparsers(dest="annotate_command", metavar="ACTION", required=True)
    q = nsub.add_parser("add", help="add an annotation")
    q.add_argument("date", help="YYYY-MM-DD")
    q.add_argument("label")
    q.add_argument("--description")
    q.add_argument("--pdsa", help="PDSA cycle name")
    q.add_argument("--new-phase", action="store_true", help="start new control limits here")
    q.set_defaults(func=cmd_annotate_add)
    q = nsub.add_parser("list", help="list annotations, oldest first")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_annotate_list)
    q = nsub.add_parser("delete", help="delete an annotation")
    q.add_argument("id", type=int)
    q.set_defaults(func=cmd_annotate_delete)
