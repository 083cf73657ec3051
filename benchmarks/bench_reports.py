"""The reports over 100,000 answers: weekly export (CSV, XLSX, JSON), the per-exam sheet and the
agreement report, each through the `auditdesk` command as a user runs it.

Run:  .venv/bin/python benchmarks/bench_reports.py [--answers N] [--runs N] [--quick]

Builds a SQLite database through the store API in bulk: mammograms with four screening views,
each double-read by two reviewers with the shipped ACR positioning checklist (every pass/fail and
number item answered; the second reader disagrees on about one answer in eight), scored and
completed, until the answers total ``--answers`` (default 100,000). Then times, median of
``--runs``, each command in this process (``auditdesk.cli.main``: database open included):

* ``export weekly`` to .csv, .xlsx and .json; ``export exams`` to .xlsx and .csv;
* ``agreement -o FILE.csv`` (kappa, AC1, alpha, ICC per criterion with bootstrap intervals).

Baseline, same run, same database: one plain ``SELECT audit_pk, key, value FROM audit_answers``
read into Python (the least any report over these answers must do). Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # runnable from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import func, insert, select  # noqa: E402

from auditdesk.checklists.rules import answer_keys, item_for_key  # noqa: E402
from auditdesk.checklists.schema import NumberItem, PassFailItem  # noqa: E402
from auditdesk.cli import main as cli  # noqa: E402
from auditdesk.reading.auditing import (  # noqa: E402
    find_checklist,
    save_computed_score,
    snapshot_checklist,
)
from auditdesk.store import audits as store  # noqa: E402
from auditdesk.store.audit_bulk import set_answers  # noqa: E402
from auditdesk.store.db import Database, open_database  # noqa: E402
from auditdesk.store.models import AuditAnswer, Image, Patient, Series, Study  # noqa: E402

CHECKLIST = "acr-mammo-positioning"
VIEWS = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))


def _answers(keys: list[str], items: dict[str, object], rng: random.Random) -> dict[str, tuple]:
    """One reader's answers: most items pass, a few fail with the item's first reason."""
    out: dict[str, tuple] = {}
    for key in keys:
        item = items[key]
        if isinstance(item, PassFailItem):
            if rng.random() < 0.15:
                reason = item.reason_codes[0].code if item.reason_codes else None
                out[key] = ("fail", reason)
            else:
                out[key] = ("pass", None)
        elif isinstance(item, NumberItem):
            out[key] = (round(rng.uniform(60.0, 140.0), 1), None)
    return out


def _second_read(first: dict[str, tuple], rng: random.Random) -> dict[str, tuple]:
    """The other reviewer: the same answers with about one in eight pass/fail flipped."""
    out = {}
    for key, (value, reason) in first.items():
        if value in ("pass", "fail") and rng.random() < 0.125:
            out[key] = ("fail", None) if value == "pass" else ("pass", None)
        elif isinstance(value, float):
            out[key] = (round(value + rng.uniform(-4.0, 4.0), 1), None)
        else:
            out[key] = (value, reason)
    return out


def build(db: Database, target_answers: int, seed: int = 15) -> tuple[int, int, float]:
    """Fill ``db``; returns (exams, answers, seconds)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    checklist = find_checklist(CHECKLIST)
    keys = [k for k in answer_keys(checklist) if k.split(":")[0] in {"RCC", "LCC", "RMLO", "LMLO"}]
    items = {k: item_for_key(checklist, k) for k in keys}
    keys = [k for k in keys if isinstance(items[k], PassFailItem | NumberItem)]
    n_exams = -(-target_answers // (2 * len(keys)))
    day0 = dt.date(2025, 1, 5)
    with db.transaction() as s:
        ann = store.create_reviewer(s, "Ann Lead", "team_leader", "AL")
        bo = store.create_reviewer(s, "Bo Tech", "technologist", "BT")
        version_pk = snapshot_checklist(s, checklist).id
        # Studies, series and images in multi-row INSERTs (the indexer's part, not measured).
        s.execute(insert(Patient), [{"patient_id": f"PID{n:06d}"} for n in range(n_exams)])
        patients = dict(s.execute(select(Patient.patient_id, Patient.id)).all())
        study_rows = []
        for n in range(n_exams):
            day = day0 + dt.timedelta(days=(n * 7 * 52) // n_exams)  # one year of weeks
            study_rows.append(
                {
                    "study_uid": f"1.2.826.0.1.3680043.10.1515.{n}",
                    "patient_pk": patients[f"PID{n:06d}"],
                    "procedure_date": day,
                    "procedure_datetime": dt.datetime.combine(day, dt.time(9 + n % 8)),
                    "kind": "mammo",
                    "modalities": "MG",
                    "technologist": f"TECH^{n % 9}",
                }
            )
        s.execute(insert(Study), study_rows)
        studies = dict(s.execute(select(Study.study_uid, Study.id)).all())
        s.execute(
            insert(Series),
            [
                {"series_uid": f"{uid}.1", "study_pk": pk, "modality": "MG"}
                for uid, pk in studies.items()
            ],
        )
        series = dict(s.execute(select(Series.series_uid, Series.id)).all())
        image_rows = []
        for uid in studies:
            for i, (lat, view) in enumerate(VIEWS):
                image_rows.append(
                    {"sop_uid": f"{uid}.1.{i}", "series_pk": series[f"{uid}.1"],
                     "path": f"/data/{uid}/{i}.dcm", "file_size": 1, "file_mtime_ns": 1,
                     "view": view, "laterality": lat, "is_screening_view": True}
                )  # fmt: skip
        s.execute(insert(Image), image_rows)
        # The audits, through the store API: bulk answers, the computed score, completion.
        for n, study_pk in enumerate(studies.values()):
            first = _answers(keys, items, rng)
            for reviewer, answers in ((ann, first), (bo, _second_read(first, rng))):
                audit = store.open_audit(s, study_pk, reviewer.id, version_pk)
                given = [(k, v, r) for k, (v, r) in answers.items()]
                set_answers(s, audit.id, given, reviewer.id)
                save_computed_score(s, audit.id)
                store.set_status(s, audit.id, "complete", reviewer.id)
            if n % 200 == 199:
                s.expunge_all()  # keep the identity map small
        total = s.scalar(select(func.count()).select_from(AuditAnswer))
    return n_exams, int(total or 0), time.perf_counter() - t0


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median wall seconds of ``fn`` over ``runs`` runs."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_cli(*argv: str) -> None:
    """One `auditdesk` command in this process, its output swallowed; a failure raises."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli(list(argv))
    if code != 0:
        raise RuntimeError(f"auditdesk {' '.join(argv)} exited {code}: {out.getvalue()[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=100_000, help="answers in the database")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="20,000 answers, one run each")
    args = parser.parse_args()
    answers, runs = (20_000, 1) if args.quick else (args.answers, args.runs)

    with tempfile.TemporaryDirectory(prefix="bench_reports_") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'reports.sqlite'}"
        db = open_database(url)
        exams, total, build_s = build(db, answers)
        print(
            f"built {exams} exams, {2 * exams} complete audits, {total} answers in {build_s:.1f} s"
        )

        def baseline() -> None:
            with db.session() as s:
                rows = s.execute(
                    select(AuditAnswer.audit_pk, AuditAnswer.key, AuditAnswer.value)
                ).all()
            assert len(rows) == total

        t_base = timed(baseline, max(runs, 3))
        rows = [("SELECT all answers into Python (baseline)", t_base)]
        for label, argv in (
            ("export weekly .csv", ("export", "weekly", "-o", str(folder / "w.csv"))),
            ("export weekly .xlsx", ("export", "weekly", "-o", str(folder / "w.xlsx"))),
            ("export weekly .json", ("export", "weekly", "-o", str(folder / "w.json"))),
            (
                "export exams .xlsx (per-exam sheet)",
                ("export", "exams", "-o", str(folder / "e.xlsx")),
            ),
            ("export exams .csv", ("export", "exams", "-o", str(folder / "e.csv"))),
            ("agreement -o .csv", ("agreement", "-o", str(folder / "a.csv"))),
        ):
            rows.append((label, timed(lambda a=argv: run_cli("--db", url, *a), runs)))
        db.dispose()

    print(f"\n{total} answers, {2 * exams} audits, median of {runs} run(s)\n")
    print(f"{'step':<44} {'seconds':>8} {'x baseline':>11}")
    for label, seconds in rows:
        print(f"{label:<44} {seconds:>8.3f} {seconds / t_base:>11.1f}")


if __name__ == "__main__":
    main()
