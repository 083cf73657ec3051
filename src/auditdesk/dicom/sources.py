"""Where DICOM files come from: a folder tree, a zip file, or a DICOMDIR (CD/DVD/USB media).

A ``Location`` names one file: a path, or a zip file plus a member. Everything downstream (index,
viewer, render) opens files through ``open_location`` so zipped studies work everywhere.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pydicom import dcmread
from pydicom.fileset import FileSet

# Files that are obviously not DICOM are not worth a line in the import summary each: viewer
# programs, autorun files and documents on patient CDs, and our own demo manifest.
IGNORED_SUFFIXES = frozenset(
    {
        ".json", ".txt", ".md", ".pdf", ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".xml",
        ".html", ".htm", ".css", ".js", ".exe", ".dll", ".ini", ".inf", ".csv", ".xlsx",
        ".doc", ".docx", ".ico", ".bat", ".sh", ".py", ".db", ".sqlite", ".log", ".cfg",
    }
)  # fmt: skip
IGNORED_NAMES = frozenset({"dicomdir", "thumbs.db", "desktop.ini", "autorun.inf", "lockfile"})


@dataclass(frozen=True, order=True)
class Location:
    """One file: ``path`` on disk, or ``member`` inside the zip file at ``path``."""

    path: str
    member: str | None = None

    def display(self) -> str:
        return f"{self.path}!{self.member}" if self.member else self.path


@dataclass
class Enumeration:
    """The files found under the user's paths, plus notes about the sources themselves."""

    locations: list[Location]
    ignored: int = 0  # files skipped silently as obviously not DICOM (by name)
    notes: list[tuple[str, str]] | None = None  # (source, message), e.g. a broken DICOMDIR


def _ignored(name: str) -> bool:
    base = os.path.basename(name)
    lower = base.lower()
    return (
        base.startswith(".")
        or lower in IGNORED_NAMES
        or os.path.splitext(lower)[1] in IGNORED_SUFFIXES
    )


def _walk(root: Path, out: Enumeration) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        # The folder is resolved once (resolving every file walks every path component again,
        # which dominated a re-import); a file that is itself a symlink is resolved on its own.
        real_dir = os.path.realpath(dirpath)
        for name in sorted(filenames):
            if _ignored(name):
                out.ignored += 1
                continue
            path = os.path.join(real_dir, name)
            if os.path.islink(path):
                path = str(Path(path).resolve())
            out.locations.append(Location(path))


def _from_dicomdir(dicomdir: Path) -> list[Location]:
    """Files referenced by a DICOMDIR; raises if it is unreadable or references nothing."""
    fileset = FileSet(dcmread(dicomdir))
    paths = []
    for instance in fileset:
        path = Path(instance.path)
        if path.is_file():
            paths.append(Location(str(path.resolve())))
    if not paths:
        raise ValueError("it references no existing files")
    return paths


# A zip is read member by member (never extracted, so no path can escape); these limits keep a
# "zip bomb" from exhausting memory: a member is inflated into memory when it is read.
MAX_ZIP_MEMBERS = 200_000
MAX_ZIP_MEMBER_BYTES = 2 * 1024**3
MAX_ZIP_RATIO = 1000  # real DICOM rarely compresses better than 50:1


def _zip_members(path: Path, out: Enumeration) -> None:
    assert out.notes is not None
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            out.notes.append((str(path), f"Zip file refused: more than {MAX_ZIP_MEMBERS:,} files."))
            return
        for info in infos:
            if info.is_dir():
                continue
            if _ignored(info.filename):
                out.ignored += 1
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MAX_ZIP_MEMBER_BYTES or (
                ratio > MAX_ZIP_RATIO and info.file_size > 64 * 1024**2
            ):
                out.notes.append(
                    (f"{path}!{info.filename}", "Skipped: it would inflate to an implausible size.")
                )
                continue
            out.locations.append(Location(str(path.resolve()), info.filename))


def find_dicomdir(folder: Path) -> Path | None:
    for name in ("DICOMDIR", "dicomdir"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def enumerate_sources(paths: list[str | Path]) -> Enumeration:
    """Expand the user's paths into file locations.

    A folder with a DICOMDIR is read through it (fast on optical media); if the DICOMDIR is
    broken or references nothing, the folder is scanned recursively instead and a note says so.
    """
    out = Enumeration(locations=[], notes=[])
    assert out.notes is not None
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            out.notes.append((str(path), "Path does not exist."))
            continue
        dicomdir = path if path.is_file() and path.name.upper() == "DICOMDIR" else None
        if path.is_dir():
            dicomdir = find_dicomdir(path)
        if dicomdir is not None:
            try:
                out.locations.extend(_from_dicomdir(dicomdir))
                continue
            except Exception as exc:  # a broken DICOMDIR must not stop the import
                out.notes.append(
                    (str(dicomdir), f"DICOMDIR could not be used ({exc}); scanned the folder.")
                )
                _walk(dicomdir.parent, out)
                continue
        if path.is_dir():
            _walk(path, out)
        elif zipfile.is_zipfile(path):
            try:
                _zip_members(path, out)
            except (zipfile.BadZipFile, OSError) as exc:
                out.notes.append((str(path), f"Zip file cannot be read ({exc})."))
        else:
            out.locations.append(Location(str(path.resolve())))
    # The same file reached through two paths counts once.
    out.locations = sorted(set(out.locations))
    return out


def stat_location(loc: Location) -> tuple[int, int]:
    """(size, change stamp) of the file: its mtime in ns, or for a zip member its CRC-32.

    Zip members carry only a 2-second DOS timestamp, so the CRC is the better "has it changed"
    stamp there; it is stored in the same column.
    """
    if loc.member is None:
        st = os.stat(loc.path)
        return st.st_size, st.st_mtime_ns
    with zipfile.ZipFile(loc.path) as zf:
        info = zf.getinfo(loc.member)
        return info.file_size, info.CRC


def open_location(loc: Location) -> BinaryIO:
    """A seekable binary file object for the location (zip members are read into memory)."""
    if loc.member is None:
        return open(loc.path, "rb")
    with zipfile.ZipFile(loc.path) as zf:
        return io.BytesIO(zf.read(loc.member))


def read_location_bytes(loc: Location) -> bytes:
    with open_location(loc) as fp:
        return fp.read()
