"""Speed of the everyday steps whose timings used to be asserted inside tests.

    .venv/bin/python benchmarks/bench_workflow.py [--quick]

Each step is measured beside a baseline of the plainest work that touches the same data, in
the same run on the same machine, and printed with the ratio (ours / baseline):

- scoring one ACR audit (runs on every keystroke in the form; budget 10 ms)
  vs. one dict pass over the same answers;
- the worklist of 2,000 studies with audits (opening the workstation)
  vs. one plain SELECT of the same studies;
- generating the small test set (2 mammograms, 2 prostate MR)
  vs. copying the generated files (the bytes alone);
- filling 10 weeks of demo audits (2 mammograms a week)
  vs. indexing the same demo folder.

Prints figures; no assertions (speed is measured, not asserted).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from auditdesk.checklists.loader import load_all
from auditdesk.checklists.rules import answer_keys, item_for_key, score
from auditdesk.demo.audits import fill_demo_audits
from auditdesk.demo.generator import generate_demo, generate_test_set
from auditdesk.dicom.index import import_paths
from auditdesk.reading.worklist import WorklistFilter, list_worklist
from auditdesk.store import audits as store
from auditdesk.store.db import open_database
from auditdesk.store.models import Image, Patient, Series, Study

MODALITIES = {"acr-mammo-positioning": "MG", "pi-qual-v2": "MR"}
VIEWS = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))


def timed(fn: Callable[[], object], repeats: int, setup: Callable[[], None] | None = None) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs (``setup`` runs untimed before each)."""
    runs = []
    for _ in range(repeats):
        if setup:
            setup()
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def bench_scoring(calls: int, repeats: int) -> tuple[float, float]:
    acr = next(
        c for c in load_all(include_site=False).checklists if c.id == "acr-mammo-positioning"
    )
    answers = {
        k: "pass" for k in answer_keys(acr) if item_for_key(acr, k).type == "pass_fail"
    }  # fmt: skip
    measurements = {"RCC:pnl_mm": 100.0, "RMLO:pnl_mm": 104.0}

    def ours() -> None:
        for _ in range(calls):
            score(acr, answers, measurements)

    def baseline() -> None:
        for _ in range(calls):
            all(value == "pass" for value in dict(answers).values())

    return timed(ours, repeats) / calls, timed(baseline, repeats) / calls


def _fill_worklist_db(db, n_studies: int) -> int:
    """``n_studies`` studies (1 in 5 MR), a third of the mammograms audited: reviewer pk."""
    with db.transaction() as s:
        me = store.create_reviewer(s, "Busy Reviewer", "technologist", "BR")
        text = "id = 'acr-mammo-positioning'"
        version = store.register_checklist_version(
            s, "acr-mammo-positioning", "1.0", store.sha256_text(text), text, "acr"
        )
        day0 = dt.date(2026, 1, 4)
        for n in range(n_studies):
            kind = "mr" if n % 5 == 0 else "mammo"
            uid = f"1.2.826.0.1.3680043.99.{n}"
            day = day0 + dt.timedelta(days=n % 300)
            study = Study(
                study_uid=uid,
                patient=Patient(patient_id=f"PID{n:06d}"),
                procedure_date=day,
                procedure_datetime=dt.datetime.combine(day, dt.time(10)),
                kind=kind,
                modalities="MG" if kind == "mammo" else "MR",
                technologist=f"TECH^{n % 7}",
            )
            series = Series(series_uid=f"{uid}.1", modality=study.modalities)
            study.series.append(series)
            if kind == "mammo":
                for i, (lat, view) in enumerate(VIEWS):
                    series.images.append(
                        Image(sop_uid=f"{uid}.1.{i}", path=f"/data/{n}/{i}.dcm", file_size=1,
                              file_mtime_ns=1, view=view, laterality=lat, is_screening_view=True)
                    )  # fmt: skip
            s.add(study)
            s.flush()
            if kind == "mammo" and n % 3 == 0:
                audit = store.open_audit(s, study.id, me.id, version.id)
                if n % 2:
                    audit.status = "complete"
        return me.id


def bench_worklist(tmp: Path, n_studies: int, repeats: int) -> tuple[float, float]:
    db = open_database(f"sqlite:///{tmp / 'worklist.sqlite'}")
    me = _fill_worklist_db(db, n_studies)

    def ours() -> None:
        with db.session() as s:
            rows = list_worklist(s, me, WorklistFilter(), checklist_modalities=MODALITIES)
        assert len(rows) == n_studies

    def baseline() -> None:
        with db.session() as s:
            rows = s.execute(select(Study.id, Study.study_uid, Study.procedure_date)).all()
        assert len(rows) == n_studies

    result = timed(ours, repeats), timed(baseline, repeats)
    db.dispose()
    return result


def bench_test_set(tmp: Path, repeats: int) -> tuple[float, float]:
    counter = iter(range(1_000_000))

    def ours() -> None:
        generate_test_set(tmp / f"testset{next(counter)}")

    ours()
    source = tmp / "testset0"

    def baseline() -> None:
        shutil.copytree(source, tmp / f"copy{next(counter)}")

    return timed(ours, repeats), timed(baseline, repeats)


def bench_demo_audits(tmp: Path, weeks: int, repeats: int) -> tuple[float, float]:
    manifest = generate_demo(
        tmp / "demo", weeks=weeks, mammo_per_week=2, mr_exams=0, size=(320, 260)
    )
    counter = iter(range(1_000_000))
    current: dict[str, object] = {}

    def fresh_indexed_db() -> None:
        db = open_database(f"sqlite:///{tmp / f'demo{next(counter)}.sqlite'}")
        import_paths(db, [manifest.root])
        current["db"] = db

    def ours() -> None:
        counts = fill_demo_audits(current["db"], manifest=manifest.root)
        assert counts["weeks_audited"] == weeks, counts

    def baseline() -> None:
        db = open_database(f"sqlite:///{tmp / f'index{next(counter)}.sqlite'}")
        import_paths(db, [manifest.root])
        db.dispose()

    return timed(ours, repeats, setup=fresh_indexed_db), timed(baseline, repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--studies", type=int, default=2000, help="worklist size")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 500 studies")
    args = parser.parse_args()
    repeats, n_studies = (1, 500) if args.quick else (args.repeats, args.studies)

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        os.environ["AUDITDESK_HOME"] = str(tmp / "home")  # never the user's real data folder
        scoring = bench_scoring(200, repeats)
        rows = [
            ("score one ACR audit", "dict pass over the answers", *scoring),
            (f"worklist of {n_studies} studies", "plain SELECT of the studies",
             *bench_worklist(tmp, n_studies, repeats)),
            ("generate the test set", "copy its files", *bench_test_set(tmp, repeats)),
            ("10 weeks of demo audits", "index the demo folder",
             *bench_demo_audits(tmp, 10, repeats)),
        ]  # fmt: skip

    print(f"\n{'step':<30} {'seconds':>10} {'baseline':<28} {'seconds':>10} {'ratio':>8}")
    for name, base_name, ours, base in rows:
        print(f"{name:<30} {ours:>10.4f} {base_name:<28} {base:>10.4f} {ours / base:>7.1f}x")
    print(f"\nscoring: {scoring[0] * 1000:.2f} ms per call (keystroke budget: 10 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
