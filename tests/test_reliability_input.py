"""Hostile input: a package bomb, zip bombs, mangled DICOM files, a huge declared length.

Each case must end in one clear sentence (or a "skipped" line in the import summary), never a
traceback, with bounded memory. ``AUDITDESK_LONG_TESTS=1`` mangles many more files.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from auditdesk.dicom import sources
from auditdesk.dicom.index import import_paths

LONG = bool(os.environ.get("AUDITDESK_LONG_TESTS"))


def _run(args: list[str], home: Path, **kw) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUDITDESK_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "auditdesk", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        **kw,
    )


def _bomb(path: Path, inflated: int = 1024**3) -> None:
    """A single-member gzip stream of ``inflated`` bytes (JSON-looking start, then blanks)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1024 * 1024)
    with path.open("wb") as fh:
        fh.write(comp.compress(b'{"payload": {"kind": "auditdesk-reviewer-package", "x": "'))
        for _ in range(inflated // len(block)):
            fh.write(comp.compress(block))
        fh.write(comp.compress(b'"}}'))
        fh.write(comp.flush())


def test_package_bomb_is_refused_early_with_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.adpkg"
    _bomb(bomb)
    assert bomb.stat().st_size < 1.2 * 1024 * 1024  # about 1 MB on disk, 1 GiB inflated
    probe = (
        "import sys\n"
        "from auditdesk.exchange.package import PackageError, read_package\n"
        "try:\n"
        "    read_package(sys.argv[1], b'k' * 32)\n"
        "    print('ACCEPTED')\n"
        "except PackageError as exc:\n"
        "    print('REFUSED', exc)\n"
        # VmHWM is this process's own peak: ru_maxrss would include the parent's (pytest's) RSS,
        # which Linux carries across exec into the child.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print('MAXRSS_KB', hwm)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(bomb)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("REFUSED bomb.adpkg inflates to more than"), lines
    maxrss_mb = int(lines[-1].split()[1]) / 1024  # Linux reports kilobytes
    assert maxrss_mb < 600, f"peak memory {maxrss_mb:.0f} MB"
    # The command: one line, exit code 2 (refused input), no traceback.
    cli = _run(["package", "import", str(bomb)], tmp_path / "home")
    assert cli.returncode == 2, cli.stderr
    assert "Traceback" not in cli.stderr
    assert "inflates to more than" in cli.stderr


def test_zip_member_of_implausible_size_is_skipped_and_traversal_names_stay_inside(
    tmp_path: Path, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_ZIP_MEMBER_BYTES", 1024 * 1024)
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.dcm", b"\0" * (2 * 1024 * 1024))
        zf.writestr("../../escape.dcm", b"not dicom")
    summary = import_paths(db, [archive], workers=1)
    assert any("implausible size" in message for _, message in summary.notes)
    assert not (tmp_path.parent / "escape.dcm").exists()  # members are read, never extracted
    assert summary.usable_images == 0


def _mangle(data: bytes, rng: random.Random, how: str) -> bytes:
    if how == "truncate":
        return data[: rng.randrange(0, len(data))]
    if how == "bitflip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        return bytes(out)
    if how == "length":  # an absurd 32-bit length somewhere in the header
        out = bytearray(data)
        i = rng.randrange(132, min(len(out), 2048) - 4)
        out[i : i + 4] = rng.choice([b"\xf0\xff\xff\xff", b"\x00\x00\x00\x80", b"\xff\xff\xff\x7f"])
        return bytes(out)
    if how == "preamble":
        out = bytearray(data)
        choice = rng.randrange(3)
        if choice == 0:
            out[128:132] = b"DICX"
        elif choice == 1:
            out[:128] = bytes(rng.randrange(256) for _ in range(128))
        else:
            return data[132:]  # no preamble at all
        return bytes(out)
    raise AssertionError(how)


def test_mangled_dicom_files_import_without_a_crash(tmp_path: Path, db, shared_data: Path) -> None:
    originals = sorted(p for p in (shared_data / "mr").rglob("*") if p.is_file())[:6]
    originals += sorted((shared_data / "mg").glob("*.dcm"))[:2]
    rng = random.Random(16)
    folder = tmp_path / "mangled"
    folder.mkdir()
    per_kind = 12 if LONG else 2
    n = 0
    for src in originals:
        data = src.read_bytes()[: 4 * 1024 * 1024]
        for how in ("truncate", "bitflip", "length", "preamble"):
            for _ in range(per_kind):
                (folder / f"m{n:04d}.dcm").write_bytes(_mangle(data, rng, how))
                n += 1
    summary = import_paths(db, [folder], workers=1)
    # Every file is accounted for: indexed, or skipped with a reason.
    assert summary.files_seen == n
    assert summary.usable_images + len(summary.skipped) == n
    assert all(item.reason for item in summary.skipped)
    # The same through the command: no traceback, a documented exit code.
    cli = _run(["import", str(folder)], tmp_path / "home")
    assert cli.returncode in (0, 1), cli.stderr
    assert "Traceback" not in cli.stderr + cli.stdout


def test_huge_declared_length_is_refused_without_reading_it(
    tmp_path: Path, db, shared_data: Path
) -> None:
    big = shared_data / "edge" / "3gb-bulk-data-truncated_MR.dcm"
    summary = import_paths(db, [big], workers=1)
    assert summary.usable_images == 0
    assert "declares 3,221,225,472 bytes" in summary.skipped[0].reason
    cli = _run(["render", str(big), "-o", str(tmp_path / "x.png")], tmp_path / "home")
    assert cli.returncode == 2
    assert "Traceback" not in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1


def test_deflated_dicom_bomb_is_refused_before_inflating(
    tmp_path: Path, db, monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    from auditdesk.dicom import headers

    src = sorted(p for p in (shared_data / "mr").rglob("*") if p.is_file())[0]
    ds = pydicom.dcmread(src)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.add_new(0x00091010, "OB", b"\0" * (4 * 1024 * 1024))  # private bulk of zeros
    folder = tmp_path / "deflated"
    folder.mkdir()
    ds.save_as(folder / "bomb.dcm", enforce_file_format=True)
    assert (folder / "bomb.dcm").stat().st_size < 200 * 1024
    monkeypatch.setattr(headers, "MAX_INFLATED_BYTES", 1024 * 1024)  # the 1 GiB limit, scaled
    summary = import_paths(db, [folder], workers=1)
    assert summary.usable_images == 0
    assert "would inflate to more than" in summary.skipped[0].reason
