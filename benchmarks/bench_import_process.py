"""`auditdesk import` as whole processes (start-up included) against a naive pydicom loop.

    .venv/bin/python benchmarks/bench_import_process.py [--files 6000] [--mammograms 40] [--quick]

Two corpora: ``--files`` small generated MR/MG files (generate_index_corpus) and ``--mammograms``
full-size uncompressed mammograms (4096 x 3328, 16 bit, ~27 MB each, written here), timed once
in the page cache and once evicted from it before every process (as from an archive). For each,
a fresh Python process is timed for:

* naive loop: ``pydicom.dcmread(path)`` on every file (what a simple script does; the baseline;
  the files are in the page cache, so it reads 27 MB per mammogram from memory);
* stat loop: ``os.stat`` on every file (the floor for a re-import);
* ``auditdesk import DIR`` into a fresh database (default workers, and ``--workers 1``);
* ``auditdesk import DIR`` again (every file unchanged);
* ``import_paths()`` called from a bare script (the index without the CLI's start-up).

Prints median wall seconds, CPU seconds (user + system, children included), files/s and the
ratios against the naive loop and the stat loop; then each process's start-up (the same process
on an empty folder) and its cost per file above that start-up, against the naive loop's.
No assertions: speed is measured, not asserted. The machine's other load shows in wall time
first; CPU seconds are steadier.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

NAIVE = """
import os, sys, pydicom
for root, _dirs, files in os.walk(sys.argv[1]):
    for name in files:
        pydicom.dcmread(os.path.join(root, name))
"""
DIRECT = """
import sys
from auditdesk.dicom.index import import_paths
from auditdesk.store.db import open_database
import_paths(open_database(f"sqlite:///{sys.argv[2]}"), [sys.argv[1]])
"""
STAT = """
import os, sys
for root, _dirs, files in os.walk(sys.argv[1]):
    for name in files:
        os.stat(os.path.join(root, name))
"""


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # check=False: an import of an empty folder (the start-up measurement) exits with 1.
    subprocess.run(cmd, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def drop_from_page_cache(folder: Path) -> None:
    """Evict the corpus's own pages (posix_fadvise DONTNEED; no root, nothing else is touched),
    so every process reads from disk as from an archive nobody opened today."""
    for path in folder.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


COLD: Path | None = None  # set: evict this folder from the page cache before every process


def median_run(cmd: list[str], env: dict[str, str], repeats: int, fresh_home: bool):
    walls, cpus = [], []
    for _ in range(repeats):
        if COLD is not None:
            drop_from_page_cache(COLD)
        if fresh_home:
            shutil.rmtree(env["AUDITDESK_HOME"], ignore_errors=True)
            os.makedirs(env["AUDITDESK_HOME"])
        wall, cpu = run(cmd, env)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def write_mammograms(out: Path, n: int) -> int:
    """``n`` full-size uncompressed mammograms: a generated header with 4096 x 3328 pixels."""
    import numpy as np
    import pydicom
    from pydicom.uid import generate_uid

    from auditdesk.demo.mammo import generate_mammo_study

    study = generate_mammo_study(
        out / "template", seed=1, index=1, procedure_date=date(2026, 1, 5), technologist=None,
        size=(128, 104),
    )  # fmt: skip
    pixels = (np.arange(4096 * 3328, dtype=np.uint32) % 4096).astype(np.uint16)
    pixels = pixels.reshape(4096, 3328).tobytes()
    out.mkdir(parents=True, exist_ok=True)
    study_uid = generate_uid()
    for i in range(n):
        ds = pydicom.dcmread(study.files[i % len(study.files)].path)
        ds.StudyInstanceUID = study_uid if i < 4 else generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 4096, 3328, 16, 12, 11
        ds.PixelData = pixels
        ds.save_as(out / f"mg_{i:03d}.dcm", enforce_file_format=True)
    shutil.rmtree(out / "template")
    return sum(f.stat().st_size for f in out.iterdir())


def bench(name: str, folder: Path, n_files: int, repeats: int, home: Path) -> None:
    env = {**os.environ, "AUDITDESK_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    py = sys.executable
    empty = home.parent / "empty"
    empty.mkdir(exist_ok=True)

    def commands(where: Path) -> list[tuple[str, list[str], bool]]:
        cli = [py, "-m", "auditdesk", "import", str(where)]
        direct = [py, "-c", DIRECT, str(where), str(home / "direct.sqlite")]
        return [
            ("naive loop: pydicom.dcmread (baseline)", [py, "-c", NAIVE, str(where)], False),
            ("stat loop: os.stat", [py, "-c", STAT, str(where)], False),
            ("auditdesk import (default workers)", cli, True),
            ("auditdesk import --workers 1", [*cli, "--workers", "1"], True),
            ("import_paths() alone (no CLI start-up)", direct, True),
        ]

    subprocess.run([py, "-c", STAT, str(folder)], check=True)  # warm the page cache
    subprocess.run([py, "-c", NAIVE, str(folder)], check=True)
    rows = []
    for (label, cmd, fresh), (_, start_cmd, _) in zip(
        commands(folder), commands(empty), strict=True
    ):
        start_up = median_run(start_cmd, env, repeats, fresh)[0]
        rows.append((label, *median_run(cmd, env, repeats, fresh), start_up))
    shutil.rmtree(home, ignore_errors=True)
    run(commands(folder)[2][1], env)
    label = "auditdesk re-import (all unchanged)"
    rows.append((label, *median_run(commands(folder)[2][1], env, repeats, False), rows[2][3]))
    naive, stat = rows[0][1], rows[1][1]
    naive_per_file = (rows[0][1] - rows[0][3]) / n_files
    print(f"\n{name}: {n_files} files, whole processes, median of {repeats}")
    print(f"{'process':<40} {'wall s':>6} {'cpu s':>6} {'files/s':>7} {'x naive':>7} {'x stat':>6}"
          f" {'start s':>7} {'ms/file':>7} {'x naive':>7}")  # fmt: skip
    for label, wall, cpu, start_up in rows:
        per_file = (wall - start_up) / n_files
        print(f"{label:<40} {wall:>6.2f} {cpu:>6.2f} {n_files / wall:>7.0f} {wall / naive:>7.2f} "
              f"{wall / stat:>6.1f} {start_up:>7.2f} {per_file * 1e3:>7.3f} "
              f"{per_file / naive_per_file:>7.2f}")  # fmt: skip
    print("start s: the same process on an empty folder; ms/file: (wall - start) / files.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6000, help="0: skip the small files")
    parser.add_argument("--mammograms", type=int, default=40, help="0: skip the mammograms")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="600 files, 2 mammograms, 1 repeat")
    args = parser.parse_args()
    n_files, n_mammo, repeats = (
        (600, 2, 1) if args.quick else (args.files, args.mammograms, args.repeats)
    )

    from auditdesk.demo.generator import generate_index_corpus

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"cpu count {os.cpu_count()}")
        if n_files:
            start = time.perf_counter()
            files = generate_index_corpus(root / "small", n_files)
            size = sum(f.stat().st_size for f in files) / 1e6
            print(f"generated {len(files)} small files ({size:.1f} MB) in "
                  f"{time.perf_counter() - start:.1f} s")  # fmt: skip
            bench("small files", root / "small", len(files), repeats, root / "home")
            shutil.rmtree(root / "small")
        if n_mammo:
            start = time.perf_counter()
            mg_bytes = write_mammograms(root / "mammo", n_mammo)
            print(f"wrote {n_mammo} mammograms 4096x3328 ({mg_bytes / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - start:.1f} s")  # fmt: skip
            bench("full-size mammograms, in the page cache", root / "mammo", n_mammo, repeats,
                  root / "home")  # fmt: skip
            global COLD
            COLD = root / "mammo"
            bench("full-size mammograms, read from disk", root / "mammo", n_mammo, repeats,
                  root / "home")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
