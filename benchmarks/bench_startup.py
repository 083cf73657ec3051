"""Whole-process start-up: `auditdesk --version`, `--help`, a command's `--help`, the window shown,
and `auditdesk demo --no-gui` from an empty data folder.

Run:  .venv/bin/python benchmarks/bench_startup.py [--runs N] [--quick] [--no-demo]

Every figure is the median wall time of a fresh process (interpreter start included), as a user
launching the command gets it. Baselines measured in the same run:

* ``python -c pass``: the interpreter alone (the floor of any command);
* ``python -c "import pydicom, numpy, sqlalchemy"``: what a command that imports the heavy
  libraries pays before doing anything (the old `--version`).

"window shown" launches ``python -m auditdesk gui`` offscreen with ``AUDITDESK_STARTUP_PROBE=1``
(the window prints a line at its first paint and quits), on an empty database and, after the demo
step, on the demo database (40 studies, 44 audits). The demo step removes the data folder first,
so it is generation + import + demo audits from scratch. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SHOWN_LINE = "auditdesk: window shown"  # auditdesk.ui.startup_probe.SHOWN_LINE


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["AUDITDESK_HOME"] = str(home)
    env.pop("AUDITDESK_DB", None)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def _wall(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to exit of one process (its output discarded; failure raises)."""
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _shown(env: dict[str, str]) -> float:
    """Seconds from spawn to the window's first paint (the probe's line on stdout)."""
    t0 = time.perf_counter()
    with subprocess.Popen(
        [PY, "-m", "auditdesk", "gui"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == SHOWN_LINE:
                seconds = time.perf_counter() - t0
                break
        else:
            raise RuntimeError("the window never reported being shown")
        proc.wait(timeout=120)
    return seconds


def _median(fn: Callable[[], float], runs: int) -> float:
    fn()  # warm the file cache once; not counted
    return statistics.median(fn() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="3 runs, demo once")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo generation")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs

    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = _env(home)
        t_pass = _median(lambda: _wall([PY, "-c", "pass"], env), runs)
        t_heavy = _median(lambda: _wall([PY, "-c", "import pydicom, numpy, sqlalchemy"], env), runs)
        rows.append(("python -c pass (baseline)", t_pass, "pass"))
        rows.append(("python -c 'import pydicom, numpy, sqlalchemy' (baseline)", t_heavy, "heavy"))
        for label, argv in (
            ("auditdesk --version", ["--version"]),
            ("auditdesk --help", ["--help"]),
            ("auditdesk export weekly --help", ["export", "weekly", "--help"]),
        ):
            t = _median(lambda a=argv: _wall([PY, "-m", "auditdesk", *a], env), runs)
            rows.append((label, t, ""))
        probe = _env(home, AUDITDESK_STARTUP_PROBE="1")
        rows.append(("window shown, empty database", _median(lambda: _shown(probe), runs), ""))
        if not args.no_demo:
            demo_runs = 1 if args.quick else max(1, runs // 3)

            def demo() -> float:
                shutil.rmtree(home / "demo", ignore_errors=True)
                for db_file in home.glob("auditdesk.sqlite*"):
                    db_file.unlink()
                return _wall([PY, "-m", "auditdesk", "demo", "--no-gui"], env)

            times = [demo() for _ in range(demo_runs)]
            rows.append(("auditdesk demo --no-gui, from scratch", statistics.median(times), ""))
            rows.append(("window shown, demo database", _median(lambda: _shown(probe), runs), ""))

    print(f"median of {runs} runs (demo: fewer), {os.cpu_count()} CPUs\n")
    print(f"{'what':<58} {'seconds':>8} {'x pass':>7} {'x heavy':>8}")
    for label, seconds, _kind in rows:
        print(f"{label:<58} {seconds:>8.3f} {seconds / t_pass:>7.1f} {seconds / t_heavy:>8.2f}")


if __name__ == "__main__":
    main()
