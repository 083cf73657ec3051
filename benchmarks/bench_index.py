"""Index throughput on a generated folder, against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_index.py [--files 2000] [--quick]

Baselines: reading the same bytes raw (open().read()), and a naive loop of full pydicom.dcmread
calls (what a simple script would do). Ours: header-only import into a fresh SQLite database with
one process and with a process pool, and a re-import of the unchanged folder.
Prints figures; no assertions (speed is measured, not asserted).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pydicom

from auditdesk.demo.generator import generate_index_corpus
from auditdesk.dicom.index import import_paths
from auditdesk.store.db import open_database


def timed(fn: Callable[[], object], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="400 files, 1 repeat")
    args = parser.parse_args()
    n_files, repeats = (400, 1) if args.quick else (args.files, args.repeats)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        start = time.perf_counter()
        files = generate_index_corpus(root, n_files)
        print(f"generated {len(files)} files ({sum(f.stat().st_size for f in files) / 1e6:.1f} MB)"
              f" in {time.perf_counter() - start:.1f} s; cpu count {os.cpu_count()}")  # fmt: skip

        def raw() -> None:
            for f in files:
                with open(f, "rb") as fp:
                    fp.read()

        def naive() -> None:
            for f in files:
                pydicom.dcmread(f)

        counter = iter(range(1_000_000))

        def ours(workers: int) -> Callable[[], None]:
            def run() -> None:
                db = open_database(f"sqlite:///{Path(tmp) / f'db{next(counter)}.sqlite'}")
                summary = import_paths(db, [root], workers=workers)
                assert summary.added == len(files), summary.to_dict()
                db.dispose()

            return run

        reimport_db = open_database(f"sqlite:///{Path(tmp) / 'reimport.sqlite'}")
        import_paths(reimport_db, [root])

        def reimport() -> None:
            summary = import_paths(reimport_db, [root])
            assert summary.unchanged == len(files)

        raw()  # warm the page cache so every variant reads from memory
        rows = [
            ("raw bytes: open().read() (baseline)", timed(raw, repeats)),
            ("naive loop: full pydicom.dcmread", timed(naive, repeats)),
            ("auditdesk import, 1 process", timed(ours(1), repeats)),
            ("auditdesk import, 2 processes", timed(ours(2), repeats)),
            ("auditdesk re-import (unchanged)", timed(reimport, repeats)),
        ]
        reimport_db.dispose()

    base = rows[0][1]
    print(f"\n{'variant':<40} {'seconds':>8} {'files/s':>9} {'x raw time':>11}")
    for name, seconds in rows:
        print(f"{name:<40} {seconds:>8.3f} {len(files) / seconds:>9.0f} {seconds / base:>11.1f}")
    naive_s = rows[1][1]
    print(f"\nimport (1 process) vs naive dcmread loop: {rows[2][1] / naive_s:.2f}x the time"
          f" (it also classifies, checks pixel data structure and writes SQLite)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
