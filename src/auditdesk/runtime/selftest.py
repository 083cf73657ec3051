"""``auditdesk --selftest``: prove an installation works before a site relies on it.

A site's IT installs the bundle on a workstation without Python; this is how they (and CI) see
that everything the app loads at run time came along: the codec plug-ins (found by pydicom
through entry points, so easy to lose in a freezer), the Alembic migrations, the shipped
checklists, Qt's platform plug-ins and fonts, and a writable data folder.

Each check prints one line and never stops the others. The images are the tiny synthetic files
in ``auditdesk.resources/selftest`` (made by ``installer/make_selftest_files.py``): a 4-view
mammogram and a 3-slice MR series in each transfer syntax. The uncompressed copy is the oracle:
every codec is lossless, so its pixels must match exactly.

This module is core (no Qt at import time); the Qt and PDF checks are passed in by the CLI.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

CODECS: dict[str, str] = {
    "raw": "uncompressed (Explicit VR Little Endian)",
    "j2k": "JPEG 2000 lossless",
    "jpegll": "JPEG lossless (process 14 SV1)",
    "jpegls": "JPEG-LS lossless",
    "rle": "RLE lossless",
}
MAMMO_VIEWS = ("RCC", "LCC", "RMLO", "LMLO")
MR_SLICES = 3


@dataclass(frozen=True)
class Check:
    """One line of the self-test: ``run`` returns what it found, or raises to fail."""

    name: str
    run: Callable[[], str]


def selftest_files_dir() -> Path:
    """The folder of built-in self-test images (package data)."""
    return Path(str(resources.files("auditdesk.resources").joinpath("selftest")))


def selftest_files(codec: str) -> list[Path]:
    """The 4 mammogram views then the MR slices written with ``codec``."""
    folder = selftest_files_dir()
    names = [f"{codec}_MG_{v}.dcm" for v in MAMMO_VIEWS]
    names += [f"{codec}_MR_T2W_{i}.dcm" for i in range(1, MR_SLICES + 1)]
    return [folder / n for n in names]


def use_offscreen_without_display() -> None:
    """With no screen (a server, CI, ``env -i``) Qt must use its offscreen plug-in; with one,
    the real platform plug-in (xcb) is tested instead. Only sets the variable, imports no Qt."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def check_data_folder() -> str:
    """The data folder exists and a file can be written, read back and removed."""
    from auditdesk.paths import data_dir

    folder = data_dir()
    probe = folder / f".selftest-{uuid.uuid4().hex}"
    probe.write_text("ok", encoding="utf-8")
    try:
        if probe.read_text(encoding="utf-8") != "ok":
            raise OSError(f"a file written to {folder} read back differently")
    finally:
        probe.unlink()
    return str(folder)


def decode_codec(codec: str) -> str:
    """Decode the 4-view mammogram and MR series in ``codec`` through the display pipeline and
    compare the stored pixels with the uncompressed copies."""
    import numpy as np
    from pydicom.pixels.decoders.base import get_decoder

    from auditdesk.dicom.display import to_display
    from auditdesk.dicom.pixels import read_dataset, transfer_syntax

    plugins: set[str] = set()
    for path, oracle in zip(selftest_files(codec), selftest_files("raw"), strict=True):
        ds = read_dataset(path)
        ts = transfer_syntax(ds)
        if ts is not None and ts.is_compressed:
            available = get_decoder(ts).available_plugins
            if "pylibjpeg" not in available:  # the plug-in AuditDesk ships for every codec
                raise ModuleNotFoundError(
                    f"{path.name}: pydicom finds no pylibjpeg decoder for {ts.name} "
                    f"(available: {', '.join(available) or 'none'})"
                )
            plugins.update(available)
        image = to_display(ds)
        expected = read_dataset(oracle).pixel_array
        if image.stored is None or not np.array_equal(image.stored, expected):
            raise ValueError(f"{path.name}: decoded pixels differ from the uncompressed copy")
        shown = image.array
        if shown.dtype != np.uint8 or shown.shape != expected.shape or shown.min() == shown.max():
            raise ValueError(f"{path.name}: the display pipeline gave a blank or wrong image")
    used = ", ".join(sorted(plugins)) if plugins else "no plug-in needed"
    return f"4-view mammogram + {MR_SLICES}-slice MR decoded and displayed ({used})"


def check_worker_process() -> str:
    """The viewer decodes in ``spawn`` worker processes: in a bundle each is the executable
    started again, which only works when its entry point calls ``freeze_support``."""
    import numpy as np

    from auditdesk.dicom.loader import DisplayLoader
    from auditdesk.dicom.pixels import read_dataset
    from auditdesk.dicom.sources import Location

    path = selftest_files("j2k")[0]
    loader = DisplayLoader(workers=1)
    try:
        loaded = loader.submit(Location(str(path))).result(timeout=120)
    finally:
        loader.shutdown()
    expected = read_dataset(selftest_files("raw")[0]).pixel_array
    if loaded.display.stored is None or not np.array_equal(loaded.display.stored, expected):
        raise ValueError(f"{path.name}: the worker process decoded different pixels")
    return f"{path.name} decoded in a worker process"


def check_migrations(folder: Path) -> str:
    """A fresh SQLite database migrates to the newest schema revision."""
    from auditdesk.store.db import current_revision, head_revision, open_database

    db = open_database(f"sqlite:///{folder / 'selftest.sqlite'}")
    try:
        now, head = current_revision(db.engine), head_revision()
    finally:
        db.dispose()
    if now != head:
        raise RuntimeError(f"the database stopped at revision {now}, head is {head}")
    return f"fresh database at head revision {head}"


def check_checklists() -> str:
    """Every shipped checklist file is there and loads without an error."""
    from auditdesk.checklists.loader import load_all, shipped_dir

    files = sorted(shipped_dir().glob("*.toml"))
    if not files:
        raise FileNotFoundError(f"no checklist files in {shipped_dir()}")
    result = load_all(include_site=False)
    if result.errors:
        raise ValueError("; ".join(str(e) for e in result.errors))
    if len(result.checklists) != len(files):
        raise ValueError(f"{len(files)} files but {len(result.checklists)} checklists loaded")
    return f"{len(files)} checklists: " + ", ".join(c.id for c in result.checklists)


def core_checks(folder: Path) -> list[Check]:
    """Checks that need no Qt; ``folder`` is a scratch folder for the test database."""
    checks = [Check("data folder writable", check_data_folder)]
    checks += [
        Check(f"decode {label}", functools.partial(decode_codec, codec))
        for codec, label in CODECS.items()
    ]
    checks.append(Check("decode in a worker process", check_worker_process))
    checks.append(Check("database migrates", lambda: check_migrations(folder)))
    checks.append(Check("checklists load", check_checklists))
    return checks


def run_checks(checks: Sequence[Check], out: TextIO | None = None) -> int:
    """Run every check, print ``PASS``/``FAIL name: detail`` per line; 0 only if all pass."""
    out = out or sys.stdout
    failed = 0
    for check in checks:
        try:
            detail = check.run()
        except Exception as exc:  # any failure is a line of the report, not a crash
            failed += 1
            print(f"FAIL  {check.name}: {type(exc).__name__}: {exc}", file=out, flush=True)
        else:
            print(f"PASS  {check.name}: {detail}", file=out, flush=True)
    verdict = "all checks passed" if not failed else f"{failed} of {len(checks)} checks failed"
    print(f"selftest: {verdict}", file=out, flush=True)
    return 0 if not failed else 1


def scratch_folder() -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for the self-test database and PDF (removed afterwards)."""
    return tempfile.TemporaryDirectory(prefix="auditdesk-selftest-")
