""" "Next exam" latency with and without prefetch, and memory over a run of mammography audits.

Run:  .venv/bin/python benchmarks/bench_workstation.py [--exams 50] [--size 2048x1664]
      [--timed 8] [--cache-mb N] [--audit-s 3] [--quick]

Generates ``--exams`` synthetic 4-view screening mammograms (uncompressed, ``--size`` rows x
columns) into a temporary folder, indexes them, and opens the real main window offscreen with
one reviewer. Then, in one run:

1. **Next exam, with prefetch** (``--timed`` exams): the reviewer spends ``--audit-s`` seconds on
   an exam (long enough for the background decode of the next one, as a real audit is), then
   presses "next exam"; timed from the call until all four views are drawn.
2. **Next exam, without prefetch**: the same with prefetch off and the decode cache emptied
   before each step, so every view is decoded after the key press.
3. **Memory**: all ``--exams`` exams opened one after the other (with prefetch); the resident
   memory of the window process is printed after the first exam (the baseline) and every 10
   exams, with its growth over the baseline, the decode processes' memory and the decode
   cache's own count. The cache is bounded (``--cache-mb``, default: the application's
   ``decode_cache_bytes`` setting), so memory must level off (issue 15: under 1.0 GB).

``--quick``: 12 exams of 1024x832, 2 timed, 1 s per audit (a smoke run, not a figure).

Figures only, no assertions; ratios are against the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # runnable from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children_rss_mb() -> float:
    """Resident memory of this process's children (the spawned decode processes)."""
    total = 0.0
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:  # ppid
            total += rss_mb(proc.name)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=50)
    parser.add_argument("--size", default="2048x1664", help="rows x columns of each view")
    parser.add_argument("--timed", type=int, default=8, help="exams timed per variant")
    parser.add_argument(
        "--cache-mb", type=int, default=None, help="decode cache budget (default: the setting)"
    )
    parser.add_argument("--audit-s", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="12 small exams (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.exams, args.size, args.timed, args.audit_s = 12, "1024x832", 2, 1.0
    rows, cols = (int(v) for v in args.size.lower().split("x"))

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = tempfile.mkdtemp(prefix="auditdesk-bench-")
    os.environ["AUDITDESK_HOME"] = home

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from auditdesk.demo.generator import generate_mammo_study
    from auditdesk.dicom.index import import_paths
    from auditdesk.dicom.loader import DisplayLoader
    from auditdesk.paths import data_dir
    from auditdesk.runtime.app_settings import DEFAULT_DECODE_CACHE_BYTES
    from auditdesk.store import audits as store
    from auditdesk.store.db import open_database
    from auditdesk.ui.common.theme import apply_theme
    from auditdesk.ui.main_window import MainWindow

    data = Path(home) / "studies"
    print(f"Generating {args.exams} 4-view studies of {rows}x{cols} ...", flush=True)
    start = time.perf_counter()
    first_day = date(2026, 1, 4)
    for i in range(args.exams):
        generate_mammo_study(
            data,
            seed=1000 + i,
            index=i + 1,
            procedure_date=first_day + timedelta(days=i),
            technologist="BENCH",
            size=(rows, cols),
        )
    print(f"  {time.perf_counter() - start:.1f} s", flush=True)
    db = open_database(f"sqlite:///{Path(home) / 'bench.sqlite'}")
    import_paths(db, [data])
    with db.transaction() as session:
        reviewer_pk = store.create_reviewer(session, "Bench Reviewer", "technologist", "BR").id
    ini = QSettings(str(data_dir() / "auditdesk.ini"), QSettings.Format.IniFormat)
    ini.setValue("reviewer_id", reviewer_pk)
    ini.sync()

    if args.cache_mb is None:
        args.cache_mb = DEFAULT_DECODE_CACHE_BYTES // 2**20
    app = QApplication.instance() or QApplication([])
    apply_theme("dark")
    loader = DisplayLoader(workers=2, cache_bytes=args.cache_mb * 1024 * 1024)
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    win.resize(1600, 1000)
    win.show()

    def pump_until(done, timeout: float) -> bool:
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            app.processEvents()
            if done():
                return True
            time.sleep(0.002)
        return False

    def audit_time(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.01)

    def timed_next() -> float:
        started = time.perf_counter()
        win.next_exam()
        if not pump_until(win.exam_loaded, 120):
            raise RuntimeError("exam did not load in 120 s")
        return time.perf_counter() - started

    order = win.worklist._visible_order()
    win.open_exam(order[0])
    pump_until(win.exam_loaded, 120)

    with_prefetch = []
    win.prefetch_enabled = True
    for _ in range(args.timed):
        audit_time(args.audit_s)
        with_prefetch.append(timed_next())
    without = []
    win.prefetch_enabled = False
    for _ in range(args.timed):
        audit_time(args.audit_s)
        loader.clear_cache()
        without.append(timed_next())
    win.prefetch_enabled = True

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:8.0f} ms"

    base = statistics.median(without)
    print(f"\nNext exam -> four {rows}x{cols} views drawn (median of {args.timed}):")
    print(f"  without prefetch   {ms(without)}   x1.00")
    print(
        f"  with prefetch      {ms(with_prefetch)}   "
        f"x{statistics.median(with_prefetch) / base:.2f} (of the time without)"
    )

    print(f"\nMemory while opening {args.exams} exams in a row (cache {args.cache_mb} MB):")
    print("  exams   window MB   x first   decoders MB   cache MB   cached images")
    win.open_exam(order[0])
    pump_until(win.exam_loaded, 120)
    audit_time(0.3)
    first = rss_mb()
    stats = loader.stats
    print(
        f"  {1:5d}   {first:9.0f}   {1:7.2f}   {children_rss_mb():11.0f}   "
        f"{stats.bytes / 2**20:8.0f}   {stats.entries:13d}   (baseline: first exam on screen)"
    )
    peak = first
    for n in range(1, args.exams + 1):
        audit_time(0.3)
        pk = win.next_exam()
        if pk is None:  # wrapped: start again from the top
            win.open_exam(order[0])
        pump_until(win.exam_loaded, 120)
        peak = max(peak, rss_mb())
        if n % 10 == 0 or n == args.exams:
            stats, now = loader.stats, rss_mb()
            print(
                f"  {n:5d}   {now:9.0f}   {now / first:7.2f}   {children_rss_mb():11.0f}   "
                f"{stats.bytes / 2**20:8.0f}   {stats.entries:13d}"
            )
    print(
        f"  peak window process: {peak:.0f} MB (x{peak / first:.2f} of the first exam); "
        f"cache peak {loader.stats.peak_bytes / 2**20:.0f} MB of {args.cache_mb} MB"
    )
    win.close()
    loader.shutdown()
    db.dispose()
    shutil.rmtree(home, ignore_errors=True)  # full-size studies take ~5 GB


if __name__ == "__main__":
    main()
