"""``auditdesk pacs``: configure PACS nodes, test them, query and retrieve (issue 19).

Study listings name studies by the site's pseudonymous exam key; UIDs, patient ID, name and
accession number appear only with ``--phi``. ``--study`` accepts either a key or a UID.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from auditdesk.cli.common import iso_date

if TYPE_CHECKING:
    from auditdesk.exchange.pacs.nodes import NodeConfig
    from auditdesk.exchange.pacs.query import StudyMatch, StudyQuery
    from auditdesk.store.db import Database


def _db(args: argparse.Namespace) -> Database:
    """The same database opening (and refusal messages) as every other command."""
    from auditdesk.cli.context import open_db

    return open_db(args)


def _fail(message: str, code: int = 2) -> int:
    print(f"auditdesk pacs: {message}", file=sys.stderr)
    return code


def _node(db: Database, name: str) -> NodeConfig:
    from auditdesk.exchange.pacs.nodes import get_node

    with db.session() as session:
        return get_node(session, name)


def _env_secret(var: str | None, what: str) -> str | None:
    if not var:
        return None
    value = os.environ.get(var)
    if value is None:
        from auditdesk.exchange.pacs.nodes import PacsError

        raise PacsError(f"The environment variable {var} (the {what}) is not set.")
    return value


def cmd_add(args: argparse.Namespace) -> int:
    from auditdesk.exchange.pacs.nodes import DEFAULT_OUR_AET, NodeConfig, PacsError, save_node

    try:
        if args.dicomweb:
            auth = "basic" if args.user else ("bearer" if args.token_env else "none")
            secret = (
                _env_secret(args.password_env, "password")
                if args.user
                else _env_secret(args.token_env, "token")
            )
            node = NodeConfig(
                name=args.name,
                protocol="dicomweb",
                url=args.dicomweb.rstrip("/"),
                auth=auth,
                username=args.user,
                secret=secret,
                timeout_s=args.timeout,
            )
        else:
            node = NodeConfig(
                name=args.name,
                protocol="dimse",
                aet=args.aet,
                host=args.host,
                port=args.port,
                our_aet=args.our_aet or DEFAULT_OUR_AET,
                our_port=args.our_port,
                retrieve_method="move" if args.move else "get",
                timeout_s=args.timeout,
            )
        db = _db(args)
        with db.transaction() as session:
            node = save_node(session, node, replace=args.replace)
    except PacsError as exc:
        return _fail(str(exc))
    print(f"Saved PACS node {node.describe()}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from auditdesk.exchange.pacs.nodes import list_nodes

    db = _db(args)
    with db.session() as session:
        nodes = list_nodes(session)
    if args.json:
        fields = ("name", "protocol", "aet", "host", "port", "our_aet", "our_port", "url")
        rows = [
            {f: getattr(n, f) for f in fields}
            | {"auth": n.auth, "retrieve": n.retrieve_method, "timeout_s": n.timeout_s}
            for n in nodes
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not nodes:
        print("No PACS nodes yet. Try: auditdesk pacs add NAME --aet AET --host HOST --port PORT")
    for node in nodes:
        print(node.describe())
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from auditdesk.exchange.pacs.nodes import PacsError, remove_node

    db = _db(args)
    try:
        with db.transaction() as session:
            remove_node(session, args.name)
    except PacsError as exc:
        return _fail(str(exc))
    print(f"Removed PACS node {args.name}.")
    return 0


def cmd_echo(args: argparse.Namespace) -> int:
    from auditdesk.exchange.pacs.nodes import PacsError
    from auditdesk.exchange.pacs.query import echo

    db = _db(args)
    try:
        node = _node(db, args.name)
        seconds = echo(node)
    except PacsError as exc:
        return _fail(str(exc), 1)
    print(f"{node.name} ({node.address}) answered in {seconds * 1000:.0f} ms.")
    return 0


def _query_from_args(args: argparse.Namespace) -> StudyQuery:
    from auditdesk.exchange.pacs.query import StudyQuery

    return StudyQuery(
        modality=args.modality,
        date_from=args.date_from,
        date_to=args.date_to,
        patient_id=args.patient_id,
        accession=args.accession,
    )


def _with_keys(db: Database, matches: list[StudyMatch]) -> list[StudyMatch]:
    from auditdesk.qi.site import exam_key, site_secret

    with db.transaction() as session:
        secret = site_secret(session)
    for m in matches:
        m.key = exam_key(secret, m.study_uid)
    return matches


def cmd_query(args: argparse.Namespace) -> int:
    from auditdesk.exchange.pacs.nodes import PacsError
    from auditdesk.exchange.pacs.query import query_studies

    db = _db(args)
    try:
        node = _node(db, args.name)
        matches = _with_keys(db, query_studies(node, _query_from_args(args)))
    except PacsError as exc:
        return _fail(str(exc), 1)
    if args.json:
        print(json.dumps([m.to_dict(include_phi=args.phi) for m in matches], indent=2))
        return 0
    if not matches:
        print("No matching studies.")
    for m in matches:
        date = m.date.isoformat() if m.date else "????-??-??"
        who = f" [{m.patient_id} {m.accession} {m.study_uid}]" if args.phi else ""
        images = m.n_images if m.n_images is not None else "?"
        print(
            f"{m.key} {date} {','.join(m.modalities) or '-':<6} {images:>4} img  "
            f"{m.description[:40]}{who}"
        )
    return 0


def _select_studies(db: Database, node: NodeConfig, args: argparse.Namespace) -> list[StudyMatch]:
    from auditdesk.exchange.pacs.nodes import PacsError
    from auditdesk.exchange.pacs.query import StudyMatch, query_studies

    if not args.study:
        return _with_keys(db, query_studies(node, _query_from_args(args)))
    uids = [s for s in args.study if not s.startswith("EX-")]
    keys = [s for s in args.study if s.startswith("EX-")]
    chosen = [StudyMatch(study_uid=u) for u in uids]
    if keys:
        listed = {m.key: m for m in _with_keys(db, query_studies(node, _query_from_args(args)))}
        unknown = [k for k in keys if k not in listed]
        if unknown:
            raise PacsError(
                f"{', '.join(unknown)} not found on {node.name} with these filters "
                "(keys come from 'auditdesk pacs query')."
            )
        chosen += [listed[k] for k in keys]
    return chosen


def cmd_retrieve(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from auditdesk.exchange.pacs.nodes import PacsError
    from auditdesk.exchange.pacs.retrieve import retrieve_studies

    db = _db(args)
    try:
        node = _node(db, args.name)
        if args.method:
            node = replace(node, retrieve_method=args.method)
        studies = _select_studies(db, node, args)
    except PacsError as exc:
        return _fail(str(exc), 1)
    if not studies:
        print("No matching studies; nothing to retrieve.")
        return 0
    if args.sample:
        from auditdesk.exchange.pacs.sample import draw_from_matches

        mode = "overall" if args.overall else "per_technologist"
        try:
            seed, studies = draw_from_matches(studies, n=args.sample, mode=mode, seed=args.seed)
        except PacsError as exc:
            return _fail(str(exc))
        print(
            f"Sampled {len(studies)} studies ({mode.replace('_', ' ')}, seed {seed}).",
            file=sys.stderr if args.json else sys.stdout,
        )

    def progress(done: int, total: int, _key: str) -> None:
        if args.progress and total:
            print(f"\r{done}/{total} images", end="", file=sys.stderr, flush=True)

    try:
        result = retrieve_studies(db, node, studies, progress=progress)
    except KeyboardInterrupt:
        print(
            "\nInterrupted; nothing of the unfinished study is indexed. "
            "Run the same command again to fetch only what is missing.",
            file=sys.stderr,
        )
        return 130
    except PacsError as exc:
        return _fail(str(exc), 1)
    if args.progress:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        for s in result.studies:
            if s.error:
                print(f"{s.key}: FAILED: {s.error}")
            else:
                print(
                    f"{s.key}: {s.total} images ({s.received} fetched, {s.already} already here)"
                    + (", indexed" if s.indexed else "")
                )
        if result.imported is not None:
            from auditdesk.cli.common import print_import_summary

            print_import_summary(result.imported)
    return 1 if result.failed else 0


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--modality", choices=["MG", "MR"], help="only studies with this modality")
    p.add_argument("--from", dest="date_from", type=iso_date, metavar="DATE", help="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=iso_date, metavar="DATE", help="YYYY-MM-DD")
    p.add_argument("--patient-id", help="only this Patient ID")
    p.add_argument("--accession", help="only this accession number")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``auditdesk pacs ...``."""
    p = sub.add_parser("pacs", help="PACS nodes: add, list, remove, echo, query, retrieve")
    ps = p.add_subparsers(dest="pacs_action", metavar="ACTION", required=True)

    q = ps.add_parser("add", help="add a DIMSE (--aet/--host/--port) or DICOMweb node")
    q.add_argument("name")
    q.add_argument("--aet", help="the PACS's AE title (DIMSE)")
    q.add_argument("--host", help="the PACS's host name or address (DIMSE)")
    q.add_argument("--port", type=int, help="the PACS's DICOM port (DIMSE)")
    q.add_argument("--our-aet", help="our AE title, as the PACS knows us (default AUDITDESK)")
    q.add_argument("--our-port", type=int, help="our storage port, needed for --move")
    q.add_argument("--move", action="store_true", help="retrieve by C-MOVE instead of C-GET")
    q.add_argument("--dicomweb", metavar="URL", help="DICOMweb base URL (QIDO-RS/WADO-RS)")
    q.add_argument("--user", help="basic authentication user (DICOMweb)")
    q.add_argument("--password-env", metavar="VAR", help="environment variable with the password")
    q.add_argument("--token-env", metavar="VAR", help="environment variable with a bearer token")
    q.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    q.add_argument("--replace", action="store_true", help="change an existing node of that name")
    q.set_defaults(func=cmd_add)

    q = ps.add_parser("list", help="list the configured nodes")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)

    q = ps.add_parser("remove", help="remove a node (retrieved studies stay)")
    q.add_argument("name")
    q.set_defaults(func=cmd_remove)

    q = ps.add_parser("echo", help="test a node (C-ECHO or a one-study QIDO query)")
    q.add_argument("name")
    q.set_defaults(func=cmd_echo)

    q = ps.add_parser("query", help="list matching studies on a node")
    q.add_argument("name")
    _add_filters(q)
    q.add_argument("--json", action="store_true", help="one object per study")
    q.add_argument("--phi", action="store_true", help="include UIDs, patient ID, name, accession")
    q.set_defaults(func=cmd_query)

    q = ps.add_parser("retrieve", help="fetch matching studies into the data folder and index")
    q.add_argument("name")
    _add_filters(q)
    q.add_argument("--study", nargs="+", metavar="KEY_OR_UID", help="only these studies")
    q.add_argument(
        "--sample", type=int, metavar="N", help="retrieve only a seeded random sample: N per "
        "technologist (Operators' Name as the PACS lists it), or N overall with --overall"
    )  # fmt: skip
    q.add_argument("--overall", action="store_true", help="with --sample: N in total")
    q.add_argument("--seed", type=int, help="with --sample: reproduce an earlier draw")
    q.add_argument("--method", choices=["get", "move"], help="override the node's DIMSE method")
    q.add_argument("--progress", action="store_true", help="show progress on stderr")
    q.add_argument("--json", action="store_true", help="print the outcome as JSON")
    q.set_defaults(func=cmd_retrieve)


__all__ = ["add_commands"]
