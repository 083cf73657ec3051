"""Read the text a person (or a program) would get out of an output file, and look for patient
identifiers in it.

Raw bytes are not enough: Qt compresses PDF content streams and subsets fonts, so a patient ID
printed in a report never appears as those bytes in the file. PDFs are therefore read with
pypdf (a test dependency); SVG, CSV, JSON, HTML and logs are read as text with XML/HTML
entities decoded; XLSX is every XML part of the archive. A value is also looked for with all
whitespace removed, so a long UID that a table cell wrapped over two lines is still found.
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from pypdf import PdfReader

TEXT_SUFFIXES = {".csv", ".json", ".svg", ".html", ".htm", ".txt", ".log", ".md", ".xml", ".tsv"}
_SPACE = re.compile(r"\s+")
_BLANKS = re.compile(r"[ \t]+")


def pdf_text(path: Path) -> str:
    """All text of every page, as pypdf extracts it (what a reader could copy out), plus the
    document information; runs of blanks (Qt's word gaps come out as tabs) become one space."""
    reader = PdfReader(str(path))
    pages = [page.extract_text() or "" for page in reader.pages]
    meta = reader.metadata or {}
    return _BLANKS.sub(" ", "\n".join([*pages, *(str(v) for v in meta.values())]))


def texts_of(path: Path) -> dict[str, str]:
    """The readable text of ``path`` by part name (an XLSX has several parts)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return {path.name: pdf_text(path)}
    if suffix in {".xlsx", ".zip", ".adpkg"}:
        with zipfile.ZipFile(path) as zf:
            return {
                f"{path.name}:{name}": html.unescape(zf.read(name).decode("utf-8", "replace"))
                for name in zf.namelist()
            }
    data = path.read_bytes()
    if suffix in TEXT_SUFFIXES:
        return {path.name: html.unescape(data.decode("utf-8-sig", "replace"))}
    # Binary (PNG…): any printable run, e.g. a text chunk in the image's metadata.
    return {path.name: data.decode("latin-1")}


def find_phi(path: Path, phi: Iterable[str]) -> list[str]:
    """Every ``value (where)`` of ``phi`` found in the readable text of ``path``."""
    found = []
    values = sorted(set(phi))
    binary = path.suffix.lower() not in {*TEXT_SUFFIXES, ".pdf", ".xlsx", ".zip", ".adpkg"}
    for part, text in texts_of(path).items():
        squeezed = "" if binary else _SPACE.sub("", text)  # no line wraps inside image bytes
        for value in values:
            if value in text or (len(value) >= 8 and _SPACE.sub("", value) in squeezed):
                found.append(f"{value!r} in {part}")
    return found


def assert_no_phi(paths: Iterable[Path], phi: Iterable[str]) -> None:
    """Fail with every identifier found, in every file (not just the first)."""
    values = frozenset(phi)
    assert values, "no identifiers to look for: the scan would pass vacuously"
    leaks = [hit for path in paths for hit in find_phi(path, values)]
    assert not leaks, "patient identifiers in outputs: " + "; ".join(leaks)
