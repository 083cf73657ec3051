"""``auditdesk checklist``, ``auditdesk reviewer`` and ``auditdesk audit`` sub-commands.

Enough to validate a site's checklist file, set up reviewers, and record, inspect, override and
re-score audits from a script. Every recorded change is committed at once, like in the GUI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditdesk.reading.errors import AuditingError

if TYPE_CHECKING:
    from auditdesk.store.audits import AuditState


def _emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _fail(message: str) -> int:
    print(f"auditdesk: {message}", file=sys.stderr)
    return 2


# --------------------------------------------------------------------------------------------
# checklist
# --------------------------------------------------------------------------------------------


def cmd_checklist_list(args: argparse.Namespace) -> int:
    from auditdesk.checklists.loader import load_all

    result = load_all()
    rows = [
        {
            "id": c.id,
            "version": c.version,
            "title": c.title,
            "modality": c.modality,
            "content_hash": c.content_hash,
            "origin": c.origin,
            "unconfirmed": list(c.unconfirmed),
        }
        for c in result.checklists
    ]
    if args.json:
        _emit_json({"checklists": rows, "errors": [str(e) for e in result.errors]})
    else:
        for row in rows:
            print(f"{row['id']:<26} {row['version']:<7} {row['modality']:<3} {row['title']}")
        for error in result.errors:
            print(f"error: {error}", file=sys.stderr)
    return 1 if result.errors else 0


def cmd_checklist_validate(args: argparse.Namespace) -> int:
    """The same checks as ``checklist list`` and the app (including version clashes)."""
    from auditdesk.checklists.loader import validate_files

    missing = [Path(n) for n in args.files if not Path(n).is_file()]
    for path in missing:
        print(f"{path}: no such file", file=sys.stderr)
    result = validate_files([Path(n) for n in args.files if Path(n).is_file()])
    for error in result.errors:
        print(str(error))
    for checklist in result.checklists:
        what = f"'{checklist.id}' version {checklist.version}: {checklist.title}"
        print(f"{checklist.origin}: OK — {what}")
    return 1 if missing or result.errors else 0


def cmd_checklist_show(args: argparse.Namespace) -> int:
    from auditdesk.checklists.rules import answer_keys
    from auditdesk.reading.auditing import find_checklist

    try:
        checklist = find_checklist(args.id, args.version)
    except AuditingError as exc:
        return _fail(str(exc))
    if args.json:
        data = checklist.model_dump(mode="json", exclude={"source_text"})
        data["answer_keys"] = answer_keys(checklist)
        _emit_json(data)
        return 0
    print(f"{checklist.title}  ({checklist.id} {checklist.version}, {checklist.modality})")
    for source in checklist.sources:
        print(f"  source: {source.model_dump(exclude_none=True)}")
    for note in checklist.unconfirmed:
        print(f"  unconfirmed: {note}")
    print(f"  meets criteria: rule '{checklist.meets_criteria}'")
    for key in answer_keys(checklist):
        print(f"  {key}")
    return 0


# --------------------------------------------------------------------------------------------
# reviewer
# --------------------------------------------------------------------------------------------


def cmd_reviewer_add(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.store.audits import AuditError, create_reviewer

    db = open_db(args)
    try:
        with db.transaction() as session:
            reviewer = create_reviewer(session, args.name, args.role, args.initials)
            print(f"Added reviewer {reviewer.id}: {reviewer.name} ({reviewer.role})")
    except AuditError as exc:
        return _fail(str(exc))
    return 0


def cmd_reviewer_list(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.store.audits import list_reviewers

    db = open_db(args)
    with db.session() as session:
        rows = [
            {"id": r.id, "name": r.name, "role": r.role, "initials": r.initials}
            for r in list_reviewers(session)
        ]
    if args.json:
        _emit_json(rows)
    else:
        for r in rows:
            print(f"{r['id']:<4} {r['name']:<30} {r['role']:<14} {r['initials']}")
    return 0


# --------------------------------------------------------------------------------------------
# audit
# --------------------------------------------------------------------------------------------


def _pairs(values: list[str] | None, what: str) -> list[tuple[str, str]]:
    out = []
    for raw in values or []:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise AuditingError(f"{what} {raw!r} is not KEY=VALUE (e.g. RMLO:imf_open=pass).")
        out.append((key.strip(), value.strip()))
    return out


def _state_dict(state: AuditState) -> dict[str, Any]:
    score = state.score
    return {
        "audit_id": state.audit_pk,
        "status": state.status,
        "answers": dict(state.answers),
        "measurements": {k: m.value_mm for k, m in state.measurements.items()},
        "comment": state.comment,
        "learning_opportunity": state.learning_opportunity,
        "meets_criteria": state.meets_criteria,
        "grade": state.grade,
        "complete": score.complete if score else False,
        "missing_required": (score.result or {}).get("missing_required", []) if score else [],
        "not_evaluable": (score.result or {}).get("not_evaluable", []) if score else [],
        "overridden": state.overridden,
    }


def cmd_audit_record(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.reading.auditing import find_checklist, record_audit
    from auditdesk.store.audits import AuditError, audit_state, get_reviewer_by_name

    db = open_db(args)
    try:
        answers = _pairs(args.answer, "--answer")
        measures = []
        for key, value in _pairs(args.measure, "--measure"):
            try:
                measures.append((key, float(value)))
            except ValueError:
                raise AuditingError(
                    f"--measure {key}={value!r}: the length is not a number of mm."
                ) from None
        with db.session() as session:
            checklist = find_checklist(args.checklist, args.version, session)
            reviewer = get_reviewer_by_name(session, args.reviewer)
            if reviewer is None:
                raise AuditingError(
                    f"No reviewer named {args.reviewer!r}; add one with 'auditdesk reviewer add'."
                )
            reviewer_pk = reviewer.id
        # One transaction: an invalid answer (or a refused --complete) writes nothing at all.
        audit_pk = record_audit(
            db,
            study_pk=args.study,
            reviewer_pk=reviewer_pk,
            checklist=checklist,
            answers=answers,
            measurements=measures,
            calibration_source=args.calibration,
            comment=args.comment,
            learning=args.learning,
            complete=args.complete,
            blinded=args.blinded,
        )
    except (AuditingError, AuditError, ValueError) as exc:
        return _fail(str(exc).rstrip(".") + ". Nothing was recorded.")
    with db.session() as session:
        state = audit_state(session, audit_pk, include_history=False)
    data = _state_dict(state)
    if args.json:
        _emit_json(data)
    else:
        meets = data["meets_criteria"]
        if meets is None and data["not_evaluable"] and data["complete"]:
            verdict = "not evaluable (left out of the measure): " + "; ".join(data["not_evaluable"])
        elif meets is None:
            verdict = "incomplete" if not data["complete"] else "undecided"
        else:
            verdict = "meets criteria" if meets else "does not meet criteria"
        print(
            f"Audit {audit_pk}: {len(data['answers'])} answers, {verdict}"
            + (f", grade {data['grade']}" if data["grade"] else "")
            + (
                f"; {len(data['missing_required'])} required answers missing"
                if not data["complete"]
                else ""
            )
        )
    return 0


def cmd_audit_show(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.store.audits import AuditError, audit_state

    db = open_db(args)
    try:
        with db.session() as session:
            state = audit_state(session, args.id, include_history=args.history)
    except AuditError as exc:
        return _fail(str(exc))
    data = _state_dict(state)
    if args.history:
        data["history"] = [
            {"at": h.at, "who": h.reviewer_name, "kind": h.kind, "key": h.key,
             "old": h.old_value, "new": h.new_value}
            for h in state.history
        ]  # fmt: skip
    if args.json:
        _emit_json(data)
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
    return 0


def cmd_audit_override(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.store.audits import AuditError, get_reviewer_by_name, set_override

    db = open_db(args)
    value: Any = args.value
    if args.field == "meets_criteria":
        value = {"yes": True, "no": False, "auto": None}.get(args.value.lower(), "invalid")
        if value == "invalid":
            return _fail("--value for meets_criteria is yes, no or auto.")
    try:
        with db.transaction() as session:
            reviewer = get_reviewer_by_name(session, args.reviewer)
            if reviewer is None:
                raise AuditingError(f"No reviewer named {args.reviewer!r}.")
            set_override(session, args.id, args.field, value, reviewer.id, args.reason)
    except (AuditError, AuditingError) as exc:
        return _fail(str(exc))
    print(f"Override saved for audit {args.id}.")
    return 0


def cmd_audit_rescore(args: argparse.Namespace) -> int:
    from auditdesk.cli.context import open_db
    from auditdesk.reading.auditing import find_checklist, rescore_with
    from auditdesk.store.audits import AuditError
    from auditdesk.store.models import Audit

    db = open_db(args)
    try:
        with db.transaction() as session:
            audit = session.get(Audit, args.id)
            if audit is None:
                raise AuditingError(f"No audit with id {args.id}.")
            checklist = find_checklist(audit.checklist_id, args.version)
            result = rescore_with(session, args.id, checklist)
    except (AuditError, AuditingError) as exc:
        return _fail(str(exc))
    print(
        f"Audit {args.id} re-scored under {checklist.id} {checklist.version}: "
        f"meets criteria = {result.meets_criteria}, grade = {result.grade}; "
        "the original score is kept."
    )
    return 0


def cmd_audit_import_csv(args: argparse.Namespace) -> int:
    from auditdesk.checklists.answers import InvalidAnswerError
    from auditdesk.cli.context import open_db
    from auditdesk.exchange.audit_csv import import_audits_csv

    db = open_db(args)
    try:
        result = import_audits_csv(db, args.file)
    except (AuditingError, InvalidAnswerError) as exc:
        return _fail(str(exc))
    if args.json:
        _emit_json(result.to_dict())
    else:
        print(
            f"Imported {result.imported} audits ({result.unchanged} already up to date); "
            f"skipped {len(result.skipped)} rows."
        )
        for line, reason in result.skipped:
            print(f"  line {line}: {reason}")
        for note in result.notes:
            print(f"  note: {note}")
    return 1 if result.skipped and not result.audit_ids else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the checklist, reviewer and audit commands on the main parser."""
    p = sub.add_parser("checklist", help="list, validate and show checklists")
    csub = p.add_subparsers(dest="checklist_command", metavar="ACTION", required=True)
    q = csub.add_parser("list", help="checklists available (shipped and site)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_checklist_list)
    q = csub.add_parser("validate", help="check checklist files; exit 1 if any is invalid")
    q.add_argument("files", nargs="+", metavar="FILE")
    q.set_defaults(func=cmd_checklist_validate)
    q = csub.add_parser("show", help="items, answer keys and rules of one checklist")
    q.add_argument("id")
    q.add_argument("--version")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_checklist_show)

    p = sub.add_parser("reviewer", help="reviewer profiles")
    rsub = p.add_subparsers(dest="reviewer_command", metavar="ACTION", required=True)
    q = rsub.add_parser("add", help="add a reviewer")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=["technologist", "team_leader", "coach"])
    q.add_argument("--initials", required=True)
    q.set_defaults(func=cmd_reviewer_add)
    q = rsub.add_parser("list", help="list reviewers")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_reviewer_list)

    p = sub.add_parser("audit", help="record, show, override and re-score audits")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    q = asub.add_parser(
        "record", help="record answers for a study (all checked first, saved in one transaction)"
    )
    q.add_argument("--study", type=int, required=True, help="study id from 'auditdesk studies'")
    q.add_argument("--reviewer", required=True, help="reviewer name")
    q.add_argument("--checklist", required=True, help="checklist id")
    q.add_argument("--version", help="checklist version (default: newest)")
    q.add_argument("--answer", action="append", metavar="KEY=VALUE", help="e.g. RMLO:imf=pass")
    q.add_argument("--measure", action="append", metavar="KEY=MM", help="e.g. RMLO:pnl_mm=112.5")
    q.add_argument(
        "--calibration",
        default="imager_pixel_spacing",
        choices=[
            "pixel_spacing",
            "imager_pixel_spacing",
            "imager_pixel_spacing_ermf",
            "digitiser_spacing",
        ],
        help="calibration source of the --measure values",
    )
    q.add_argument("--comment")
    q.add_argument("--learning", action="store_true", help="flag as a learning opportunity")
    q.add_argument("--blinded", action="store_true")
    q.add_argument("--complete", action="store_true", help="mark complete (all required answered)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_audit_record)
    q = asub.add_parser("show", help="answers, score and overrides of one audit")
    q.add_argument("id", type=int)
    q.add_argument("--history", action="store_true")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_audit_show)
    q = asub.add_parser("override", help="override the derived result, with a reason")
    q.add_argument("id", type=int)
    q.add_argument("--field", required=True, choices=["meets_criteria", "grade"])
    q.add_argument("--value", required=True)
    q.add_argument("--reviewer", required=True)
    q.add_argument("--reason", required=True)
    q.set_defaults(func=cmd_audit_override)
    q = asub.add_parser("import-csv", help="import past audits from a CSV file (README layout)")
    q.add_argument("file", metavar="CSV")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_audit_import_csv)
    q = asub.add_parser("rescore", help="re-score under another checklist version (both kept)")
    q.add_argument("id", type=int)
    q.add_argument("--version", help="checklist version (default: newest available)")
    q.set_defaults(func=cmd_audit_rescore)
