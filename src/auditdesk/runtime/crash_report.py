"""Crash reports for unhandled exceptions, with no patient data in them.

A crash report is written to ``<data folder>/crash/`` and logged through the ``auditdesk``
logger so a site can send it to us. It must never carry patient names, IDs, birth dates,
accession numbers or UIDs, so:

* the traceback lists each frame's file, line, function and source line, and the *names and
  types* of its local variables, never their values;
* exception messages (which may quote a header value or a study's file path) are scrubbed:
  every identifier of the study being worked on is removed (found in the crashing frames'
  datasets and records, and from any extra sources such as the database's patient IDs and
  accession numbers), then anything shaped like a UID, a long number, a date, a DICOM person
  name (``DOE^JANE``) or a file path.

Core module (no Qt): the GUI's dialog is in ``ui/crash_dialog.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from auditdesk import __version__

CRASH_SUBDIR = "crash"
LOGGER_NAME = "auditdesk"
REMOVED = "[removed]"
# Distributions whose versions help us reproduce a crash.
VERSIONED = ("PySide6-Essentials", "pyqtgraph", "pydicom", "numpy", "SQLAlchemy", "alembic")
# Header keywords that identify a patient or a study (PS3.15 E.1 basic profile, the ones we read).
PHI_KEYWORDS = (
    "PatientName",
    "PatientID",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientBirthDate",
    "AccessionNumber",
    "StudyID",
    "IssuerOfPatientID",
    "PatientAddress",
    "PatientTelephoneNumbers",
)
# Attributes of our own records (store.models, store.catalog summaries) that hold identifiers.
PHI_ATTRIBUTES = (
    "patient_id",
    "patient_name",
    "birth_date",
    "accession_number",
    "study_uid",
    "series_uid",
    "sop_uid",
    "frame_of_reference_uid",
)
_UID = re.compile(r"\d+(?:\.\d+){2,}")  # 1.2.840.10008.x.y, 2.25.<big number>
_PATTERNS = (
    (re.compile(r"\d{5,}"), "[number]"),  # IDs, accession numbers, YYYYMMDD dates
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "[date]"),
    (re.compile(r"[^\s'\"^=,:;()\[\]]*\^[^\s'\"=,:;()\[\]]*"), "[name]"),  # DOE^JANE^^^
)
# Anything with a slash or backslash in a message is taken for a file path (a "3/10" too): its
# folders may be named after the patient, so only the file's suffix (".dcm") is kept.
_PATH = re.compile(r"[^\s'\"(\[=]*[\\/][^\s'\"]*")


def _path_text(match: re.Match[str]) -> str:
    text = match.group(0)
    bare = text.rstrip(".,;:)]")
    suffix = Path(bare.replace("\\", "/")).suffix
    return "[path]" + (suffix if len(suffix) <= 6 else "") + text[len(bare) :]


IdentifierSource = Callable[[], Iterable[str]]


def crash_dir() -> Path:
    """``<data folder>/crash`` (created)."""
    from auditdesk.paths import data_dir

    path = data_dir() / CRASH_SUBDIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def _name_forms(text: str) -> set[str]:
    """A person name as DICOM stores it and as a message might print it."""
    forms = {text, text.replace("^", " "), text.replace("^", ", "), text.replace("^", " ").strip()}
    forms |= {part for part in text.split("^") if len(part) > 2}
    return forms


def dataset_identifiers(ds: Any) -> set[str]:
    """Every identifier in a pydicom dataset: the PHI keywords and every UID (any depth)."""
    found: set[str] = set()
    try:
        for keyword in PHI_KEYWORDS:
            value = ds.get(keyword)
            if value is None or value == "":
                continue
            values = value if isinstance(value, list | tuple) else [value]
            for item in values:
                text = str(item)
                found |= _name_forms(text) if "Name" in keyword else {text}
                if keyword == "PatientBirthDate" and len(text) == 8:
                    found.add(f"{text[:4]}-{text[4:6]}-{text[6:]}")

        def collect_uids(dataset: Any, elem: Any) -> None:
            if elem.VR == "UI" and elem.value:
                found.add(str(elem.value))

        ds.walk(collect_uids)
    except Exception:  # a half-read dataset may fail anywhere; take what we have
        pass
    return found


def _is_dataset(value: Any) -> bool:
    cls = type(value)
    return cls.__module__.startswith("pydicom") and hasattr(value, "walk")


def _record_identifiers(value: Any) -> set[str]:
    found: set[str] = set()
    for attribute in PHI_ATTRIBUTES:
        try:
            item = getattr(value, attribute, None)
        except Exception:  # a detached ORM record raises on lazy attributes
            continue
        if isinstance(item, str) and item:
            found |= _name_forms(item) if "name" in attribute else {item}
        elif isinstance(item, dt.date):
            found |= {item.isoformat(), item.strftime("%Y%m%d")}
    return found


def value_identifiers(value: Any, depth: int = 1) -> set[str]:
    """Identifiers held by one local variable: a dataset, one of our records, or (one level
    down) the attributes, items or values of a container or object holding those."""
    if _is_dataset(value):
        return dataset_identifiers(value)
    found = _record_identifiers(value)
    if depth <= 0:
        return found
    children: Iterable[Any] = ()
    if isinstance(value, dict):
        children = list(value.values())[:200]
    elif isinstance(value, list | tuple | set | frozenset):
        children = list(value)[:200]
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        try:
            children = list(vars(value).values())[:200]
        except TypeError:
            children = ()
    for child in children:
        found |= value_identifiers(child, depth - 1)
    return found


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes/contexts, outermost last (as Python prints them)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return list(reversed(chain))


def traceback_identifiers(exc: BaseException) -> set[str]:
    """Identifiers of the study being worked on, from the crashing frames' local variables."""
    found: set[str] = set()
    for item in _chain(exc):
        tb = item.__traceback__
        while tb is not None:
            for value in list(tb.tb_frame.f_locals.values()):
                found |= value_identifiers(value)
            tb = tb.tb_next
    return found


def scrub(text: str, identifiers: Iterable[str]) -> str:
    """Remove every identifier (longest first), then anything shaped like one."""
    for value in sorted({v for v in identifiers if len(v.strip()) >= 3}, key=len, reverse=True):
        text = text.replace(value, REMOVED)
    text = _UID.sub(lambda m: "[uid]" if len(m.group(0)) >= 10 else m.group(0), text)
    text = _PATH.sub(_path_text, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _type_name(value: Any) -> str:
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _frames_text(exc: BaseException) -> list[str]:
    lines: list[str] = []
    tb = exc.__traceback__
    for fs, (frame, _line) in zip(traceback.extract_tb(tb), traceback.walk_tb(tb), strict=False):
        lines.append(f'  File "{fs.filename}", line {fs.lineno}, in {fs.name}')
        if fs.line:
            lines.append(f"    {fs.line.strip()}")
        names = [f"{k}: {_type_name(v)}" for k, v in list(frame.f_locals.items())[:40]]
        if names:
            lines.append("    locals (values removed): " + ", ".join(names))
    return lines


def _versions() -> list[str]:
    lines = [f"AuditDesk {__version__}" + (" (bundle)" if getattr(sys, "frozen", False) else "")]
    lines.append(
        f"Python {platform.python_version()} ({sys.executable and Path(sys.executable).name})"
    )
    lines.append(f"Platform {platform.platform()} {platform.machine()}")
    for dist in VERSIONED:
        try:
            lines.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return lines


def report_text(exc: BaseException, identifiers: Iterable[str] = ()) -> str:
    """The whole crash report: versions, platform, then the scrubbed traceback."""
    known = set(identifiers) | traceback_identifiers(exc)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    out = ["AuditDesk crash report (no patient data: values removed, messages scrubbed)"]
    out += [f"Time {when}", *_versions(), ""]
    for i, item in enumerate(_chain(exc)):
        if i:
            out += ["", "During handling of the above exception, another exception occurred:", ""]
        out.append("Traceback (most recent call last; local variable values removed):")
        frames = _frames_text(item)
        out += frames  # code, file names and type names only: nothing from the study
        message = scrub(str(item), known)
        out.append(f"{_type_name(item)}: {message}" if message else _type_name(item))
    return "\n".join(out) + "\n"


def write_crash_report(
    exc: BaseException, identifier_sources: Iterable[IdentifierSource] = ()
) -> Path:
    """Write the report to ``<data folder>/crash/`` and log it; returns the file."""
    identifiers: set[str] = set()
    for source in identifier_sources:
        try:
            identifiers |= {str(v) for v in source() if v}
        except Exception:  # the crash may be in the database itself: patterns still apply
            continue
    text = report_text(exc, identifiers)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    path = crash_dir() / f"crash-{stamp}-{os.getpid()}.txt"
    path.write_text(text, encoding="utf-8")
    logging.getLogger(LOGGER_NAME).error(
        "Unhandled %s; crash report written to %s\n%s", _type_name(exc), path, text
    )
    return path


def database_identifiers(db: Any) -> IdentifierSource:
    """A source of every patient ID, accession number and study UID in the database, so a
    message quoting one is scrubbed even when no crashing frame held the study."""

    def read() -> list[str]:
        from sqlalchemy import select

        from auditdesk.store.models import Patient, Study

        with db.session() as session:
            values = list(session.scalars(select(Patient.patient_id)))
            values += [v for v in session.scalars(select(Study.accession_number)) if v]
            values += list(session.scalars(select(Study.study_uid)))
        return values

    return read
