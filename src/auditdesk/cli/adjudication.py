"""``auditdesk disagreements``, ``auditdesk consensus`` and ``auditdesk calibration``.

Exit codes: 0 done; 1 done but something is left (``consensus``: decisions still open, the
consensus audit is not complete yet); 2 nothing done (unknown reviewer, checklist, study, set,
a malformed decision). Exams are printed as procedure date, kind and pseudonymous exam key with
the local study id (``auditdesk studies``) to pass to ``consensus``: no patient data.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from auditdesk.cli.common import iso_date
from auditdesk.reading.errors import AuditingError


def _fail(message: str) -> int:
    print(f"auditdesk: {message}", file=sys.stderr)
    return 2


def _emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _reviewer_pk(session: Any, name: str) -> int:
    from auditdesk.store.audits import get_reviewer_by_name

    reviewer = get_reviewer_by_name(session, name)
    if reviewer is None:
        raise AuditingError(f"No reviewer named {name!r}; add one with 'auditdesk reviewer add'.")
    return reviewer.id


def _checklist_id(session: Any, given: str | None) -> str:
    from auditdesk.qi.site import get_site

    return given or get_site(session).checklist_id


def _show(value: object) -> str:
    if value is None:
        return "-"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


# --- disagreements ---------------------------------------------------------------------------


def cmd_disagreements(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.review.adjudication import disagreements

    if args.date_from and args.date_to and args.date_from > args.date_to:
        return _fail(f"--from {args.date_from} is after --to {args.date_to}.")
    db = open_db(args)
    try:
        with db.transaction() as session:  # commits the site secret if it is new
            checklist_id = _checklist_id(session, args.checklist)
            reviewer_pks = tuple(
                _reviewer_pk(session, n.strip()) for n in (args.reviewers or "").split(",") if n
            )
            found = disagreements(
                session,
                checklist_id,
                start=args.date_from,
                end=args.date_to,
                reviewer_pks=reviewer_pks,
            )
    except AuditingError as exc:
        return _fail(str(exc))
    if args.json:
        _emit_json(
            [
                {
                    "study_id": d.study_pk,
                    "exam": d.exam_label,
                    "procedure_date": d.procedure_date,
                    "key": d.key,
                    "label": d.label,
                    "answers": d.answers,
                    "adjudicated": d.adjudicated,
                }
                for d in found
            ]
        )
        return 0
    if not found:
        print(f"No disagreements between complete reads with checklist '{checklist_id}'.")
        return 0
    exams: dict[int, list[Any]] = {}
    for d in found:
        exams.setdefault(d.study_pk, []).append(d)
    print(f"{len(found)} disagreement(s) in {len(exams)} exam(s), checklist '{checklist_id}':")
    for study_pk, rows in exams.items():
        flag = "  [adjudicated]" if rows[0].adjudicated else ""
        print(f"#{study_pk:<5} {rows[0].exam_label}{flag}")
        for d in rows:
            answers = ", ".join(f"{name}={_show(v)}" for name, v in d.answers.items())
            print(f"    {d.key:<28} {answers}   ({d.label})")
    return 0


# --- consensus -------------------------------------------------------------------------------


def _decision(raw: str) -> tuple[str, str, str]:
    """'RMLO:imf_open=pass:fold visible on the second read' -> (key, value, reason)."""
    key, sep, rest = raw.partition("=")
    value, sep2, reason = rest.partition(":")
    if not sep or not key.strip() or not sep2 or not value.strip():
        raise AuditingError(
            f"Decision {raw!r} is not KEY=VALUE:reason (e.g. RMLO:imf_open=pass:fold open)."
        )
    if not reason.strip():
        raise AuditingError(f"Decision {raw!r} has no reason after the ':'.")
    return key.strip(), value.strip(), reason.strip()


def cmd_consensus(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.reading.auditing import find_checklist
    from auditdesk.review.adjudication import decide, open_keys, start_consensus
    from auditdesk.store.audits import AuditError

    coach, *after_coach = args.coach
    raw_decisions = [*args.decision, *after_coach]
    db = open_db(args)
    try:
        decisions = [_decision(raw) for raw in raw_decisions]
        with db.session() as session:
            coach_pk = _reviewer_pk(session, coach)
            checklist_id = _checklist_id(session, args.checklist)
        checklist = find_checklist(checklist_id)
        audit = start_consensus(db, args.study, coach_pk, checklist)
        for key, value, reason in decisions:
            decide(audit, key, value, reason)
        state = audit.state()
        result = (state.score.result or {}) if state.score else {}
        missing = list(result.get("missing_required") or [])
        undecided = [k for k in open_keys(db, args.study, checklist) if k not in state.answers]
        completed = False
        if not missing and state.status != "complete":
            audit.complete()
            completed = True
        state = audit.state()
    except (AuditingError, AuditError, ValueError) as exc:
        return _fail(str(exc))
    data = {
        "audit_id": state.audit_pk,
        "status": state.status,
        "meets_criteria": state.meets_criteria,
        "decided": [k for k, _v, _r in decisions],
        "undecided": undecided,
        "missing_required": missing,
    }
    if args.json:
        _emit_json(data)
    else:
        verdict = {True: "meets criteria", False: "does not meet criteria", None: "undecided"}
        if state.status == "complete":
            done = "completed now" if completed else "complete"
            print(
                f"Consensus audit {state.audit_pk} {done}: {verdict[state.meets_criteria]}; "
                "it now counts for this exam in the measure."
            )
        else:
            print(
                f"Consensus audit {state.audit_pk} in progress: {len(missing)} required "
                f"answer(s) missing. Still to decide: {', '.join(undecided) or 'none'}."
            )
    return 0 if state.status == "complete" else 1


# --- calibration -------------------------------------------------------------------------------


def cmd_calibration_create(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.review.adjudication import create_calibration_set

    db = open_db(args)
    try:
        with db.transaction() as session:
            by = _reviewer_pk(session, args.by)
            set_id = create_calibration_set(
                session, args.name, _checklist_id(session, args.checklist), args.study, by
            )
    except AuditingError as exc:
        return _fail(str(exc))
    print(f"Calibration set {set_id} '{args.name}' with {len(set(args.study))} exam(s).")
    return 0


def cmd_calibration_list(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.review.adjudication import calibration_sets

    db = open_db(args)
    with db.session() as session:
        sets = calibration_sets(session)
    if args.json:
        _emit_json(
            [
                {
                    "id": s.id,
                    "name": s.name,
                    "checklist_id": s.checklist_id,
                    "created_by": s.created_by_name,
                    "created_at": s.created_at,
                    "study_ids": list(s.study_pks),
                    "references": s.n_references,
                }
                for s in sets
            ]
        )
        return 0
    if not sets:
        print("No calibration sets yet. Try: auditdesk calibration create NAME --study ID ...")
        return 0
    for s in sets:
        print(
            f"{s.id:<4} {s.name}  ({s.checklist_id}, {len(s.study_pks)} exams, "
            f"{s.n_references} with reference answers, by {s.created_by_name})"
        )
    return 0


def cmd_calibration_reference(args: argparse.Namespace) -> int:
    from auditdesk.checklists.answers import check_answers
    from auditdesk.cli.context import open_db
    from auditdesk.reading.auditing import answering_checklist, find_checklist
    from auditdesk.review.adjudication import calibration_set, start_reference
    from auditdesk.store.audits import AuditError

    db = open_db(args)
    try:
        with db.session() as session:
            info = calibration_set(session, args.set)
            coach_pk = _reviewer_pk(session, args.by)
        pairs = []
        for raw in args.answer or []:
            key, sep, value = raw.partition("=")
            if not sep or not key.strip():
                raise AuditingError(f"--answer {raw!r} is not KEY=VALUE (e.g. RMLO:imf_open=pass).")
            pairs.append((key.strip(), value.strip()))
        checklist = find_checklist(info.checklist_id)
        # All checked (against the version an existing reference audit keeps) before it opens.
        check_answers(answering_checklist(db, args.study, coach_pk, checklist, "reference"), pairs)
        audit = start_reference(db, info.id, args.study, coach_pk, checklist)
        audit.answer_all(pairs)  # one commit: all of them or none
        if args.complete:
            audit.complete()
        state = audit.state()
    except (AuditingError, AuditError, ValueError) as exc:
        return _fail(str(exc))
    print(f"Reference audit {state.audit_pk} ({state.status}) for study #{args.study}.")
    return 0


def cmd_calibration_result(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.review.adjudication import calibration_result, calibration_set

    db = open_db(args)
    try:
        with db.transaction() as session:  # commits the site secret if it is new
            info = calibration_set(session, args.set)
            result = calibration_result(session, info.id, _reviewer_pk(session, args.reviewer))
    except AuditingError as exc:
        return _fail(str(exc))
    if args.json:
        _emit_json(
            {
                "set": result.set_name,
                "reviewer": result.reviewer_name,
                "compared": result.n_compared,
                "agree": result.n_agree,
                "percent": result.percent,
                "kappa": result.kappa,
                "meets_compared": result.meets_compared,
                "meets_agree": result.meets_agree,
                "exams_not_read": result.exams_not_read,
                "exams_without_reference": result.exams_without_reference,
                "rows": [
                    {
                        "study_id": r.study_pk,
                        "exam": r.exam_label,
                        "key": r.key,
                        "label": r.label,
                        "reviewer": r.reviewer_answer,
                        "reference": r.reference_answer,
                        "agrees": r.agrees,
                    }
                    for r in result.rows
                ],
            }
        )
        return 0
    pct = "n/a" if result.percent is None else f"{result.percent:.1f} %"
    kappa = "n/a" if result.kappa is None else f"{result.kappa:.3f}"
    print(
        f"{result.reviewer_name} vs reference, set '{result.set_name}': {result.n_agree} of "
        f"{result.n_compared} answers agree ({pct}), Cohen's kappa {kappa}; meets criteria "
        f"agrees on {result.meets_agree} of {result.meets_compared} exams."
    )
    for r in result.rows:
        if r.agrees is False:
            print(
                f"  differs: {r.exam_label}  {r.key}: {_show(r.reviewer_answer)} "
                f"(reference {_show(r.reference_answer)})"
            )
    if result.exams_not_read:
        print(f"  not read yet: study ids {', '.join(map(str, result.exams_not_read))}")
    if result.exams_without_reference:
        ids = ", ".join(map(str, result.exams_without_reference))
        print(f"  no reference answers yet: study ids {ids}")
    return 0


# --- registration ------------------------------------------------------------------------------


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the disagreements, consensus and calibration commands."""
    p = sub.add_parser("disagreements", help="where complete double reads of an exam differ")
    p.add_argument("--checklist", help="checklist id (default: the site's measure checklist)")
    p.add_argument("--from", dest="date_from", type=iso_date, metavar="DATE", help="procedure date")
    p.add_argument("--to", dest="date_to", type=iso_date, metavar="DATE", help="procedure date")
    p.add_argument("--reviewers", metavar="NAME,NAME", help="only reads by these reviewers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_disagreements)

    p = sub.add_parser(
        "consensus",
        help="a coach's consensus audit of an exam (agreed answers prefilled); "
        "exit 1 while decisions are open",
    )
    p.add_argument("study", type=int, metavar="STUDY_ID", help="study id from 'disagreements'")
    p.add_argument(
        "decision",
        nargs="*",
        metavar="KEY=VALUE:reason",
        help="a decision, e.g. 'RMLO:imf_open=pass:fold open on the CC'; "
        "meets_criteria=yes:... overrides the result",
    )
    # Decisions may also follow the coach's name ('--coach NAME KEY=VALUE:reason ...'):
    # argparse does not resume a positional list after an option, so --coach collects them.
    p.add_argument(
        "--coach",
        required=True,
        nargs="+",
        metavar="NAME",
        help="reviewer name of the coach, optionally followed by decisions",
    )
    p.add_argument("--checklist", help="checklist id (default: the site's measure checklist)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_consensus)

    p = sub.add_parser("calibration", help="calibration sets with a coach's reference answers")
    csub = p.add_subparsers(dest="calibration_command", metavar="ACTION", required=True)
    q = csub.add_parser("create", help="a new set of exams")
    q.add_argument("name")
    q.add_argument("--checklist", help="checklist id (default: the site's measure checklist)")
    q.add_argument("--study", type=int, action="append", required=True, metavar="ID")
    q.add_argument("--by", required=True, help="reviewer name of the coach")
    q.set_defaults(func=cmd_calibration_create)
    q = csub.add_parser("list", help="calibration sets")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_calibration_list)
    q = csub.add_parser("reference", help="record the coach's reference answers for one exam")
    q.add_argument("set", metavar="SET", help="set id or name")
    q.add_argument("--study", type=int, required=True, metavar="ID")
    q.add_argument("--by", required=True, help="reviewer name of the coach")
    q.add_argument("--answer", action="append", metavar="KEY=VALUE")
    q.add_argument("--complete", action="store_true", help="mark complete (all required answered)")
    q.set_defaults(func=cmd_calibration_reference)
    q = csub.add_parser("result", help="a reviewer's reads against the reference answers")
    q.add_argument("set", metavar="SET", help="set id or name")
    q.add_argument("--reviewer", required=True)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_calibration_result)
