"""How fast the MR study layout changes slices: decoding on demand against the slice cache with
prefetch.

Run:  QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_mr.py [--slices N] [--passes N]
      [--quick]

Writes one prostate MR with the demo generator into a temporary folder (T2W 512 x 512 with
``--slices`` slices, DWI/ADC/DCE 256 x 256), indexes it, and drives :class:`MRStudyView`
offscreen. A slice change counts as done when every visible viewport has drawn its slice:

* cold: cache off, no prefetch; every change waits for a decode in the process pool;
* prefetch: cache + prefetch of +-3 neighbours, cache empty at the start of the scroll
  (what a reader scrolling through the stack for the first time gets);
* warm: the same scroll again, every slice cached (draw only, no process hop).

Each mode scrolls forward through the stack ``--passes`` times in 1x1 (T2W) and in the 2x2 with
linked slices (T2W, DWI, ADC, DCE). Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # runnable from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from sqlalchemy import select  # noqa: E402

from auditdesk.demo.generator import generate_mr_study  # noqa: E402
from auditdesk.dicom.index import import_paths  # noqa: E402
from auditdesk.dicom.loader import DisplayLoader  # noqa: E402
from auditdesk.dicom.sources import Location  # noqa: E402
from auditdesk.store.db import open_database  # noqa: E402
from auditdesk.store.models import Study  # noqa: E402
from auditdesk.ui.reading.mr_view import MRStudyView  # noqa: E402


def wait_loaded(view: MRStudyView, timeout_s: float = 60.0) -> None:
    """Run the event loop until every visible viewport has drawn (no busy waiting)."""
    if view.all_loaded():
        return
    loop = QEventLoop()
    view.all_visible_loaded.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    view.all_visible_loaded.disconnect(loop.quit)
    if not view.all_loaded():
        raise RuntimeError("slices did not load in time")


def scroll(view: MRStudyView, passes: int) -> tuple[int, float]:
    """(slice changes, seconds) for ``passes`` forward scrolls through viewport 0's stack."""
    stack = view.stack_in(0)
    assert stack is not None
    changes = 0
    t0 = time.perf_counter()
    for _ in range(passes):
        for z in range(stack.n_slices):
            view.set_slice(0, z)
            wait_loaded(view)
            changes += 1
    return changes, time.perf_counter() - t0


def run_mode(
    loader: DisplayLoader, db_url: str, study_pk: int, layout: str, *, cached: bool, passes: int
) -> dict[str, tuple[int, float]]:
    db = open_database(db_url, migrate=False)
    view = MRStudyView(loader, cache_bytes=300 * 1024 * 1024 if cached else 0, prefetch=cached)
    view.resize(1200, 900)
    view.show()
    view.show_study(db, study_pk)
    view.set_layout(layout)
    wait_loaded(view)
    out: dict[str, tuple[int, float]] = {}
    if cached:
        view.cache.clear()
        view.set_slice(0, 0)
        wait_loaded(view)
        view.cache.clear()  # prefetch run starts from an empty cache (slice 0 excepted)
        out["prefetch"] = scroll(view, 1)
        for _ in range(3):  # let outstanding prefetches land, then fill any gap
            QApplication.processEvents()
            time.sleep(0.05)
        scroll(view, 1)
        out["warm"] = scroll(view, passes)
    else:
        out["cold"] = scroll(view, passes)
    view.close()
    view.deleteLater()
    db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=24, help="T2W/DWI slices (>= 24)")
    parser.add_argument("--passes", type=int, default=2, help="scrolls through the stack")
    parser.add_argument("--workers", type=int, default=2, help="decode processes")
    parser.add_argument("--quick", action="store_true", help="24 slices, one pass")
    args = parser.parse_args()
    if args.quick:
        args.slices, args.passes = 24, 1

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="bench_mr_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        study = generate_mr_study(
            folder / "data",
            seed=11,
            index=1,
            procedure_date=date(2026, 1, 5),
            size_scale=2.0,  # T2W 512 x 512, DWI/ADC/DCE 256 x 256
            slices=args.slices,
            dce_slices=8,
            dce_time_points=6,
        )
        print(f"generated {len(study.files)} files in {time.perf_counter() - t0:.1f} s")
        db_url = f"sqlite:///{folder / 'bench.sqlite'}"
        db = open_database(db_url)
        t0 = time.perf_counter()
        import_paths(db, [folder / "data"])
        print(f"indexed in {time.perf_counter() - t0:.1f} s")
        with db.session() as session:
            study_pk = session.scalar(select(Study.id).where(Study.study_uid == study.study_uid))
        db.dispose()
        assert study_pk is not None

        loader = DisplayLoader(workers=args.workers)
        try:
            # Spawned workers import numpy/pydicom on first use: warm every one up.
            first = Location(str(study.files[0].path))
            for future in [loader.submit(first) for _ in range(args.workers * 2)]:
                future.result()
            rows = []
            for layout in ("1x1", "2x2"):
                cold = run_mode(loader, db_url, study_pk, layout, cached=False, passes=args.passes)
                warm = run_mode(loader, db_url, study_pk, layout, cached=True, passes=args.passes)
                results = {**cold, **warm}
                base = results["cold"][0] / results["cold"][1]
                for mode in ("cold", "prefetch", "warm"):
                    n, secs = results[mode]
                    rate = n / secs
                    rows.append((layout, mode, n, rate, 1000.0 * secs / n, rate / base))
        finally:
            loader.shutdown()
    print()
    header = ("layout", "mode", "changes", "changes/s", "ms/change", "x cold")
    print("{:<7} {:<9} {:>7} {:>10} {:>10} {:>7}".format(*header))
    for layout, mode, n, rate, ms, ratio in rows:
        print(f"{layout:<7} {mode:<9} {n:>7} {rate:>10.1f} {ms:>10.2f} {ratio:>7.1f}")
    del app


if __name__ == "__main__":
    main()
