"""Exam facts every modality shares: the technologist (Operators' Name) and the procedure
date and time, the date that puts an exam in its Sunday-Saturday week (the local date as
written, never shifted by a time-zone offset)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from pydicom.dataset import Dataset

from auditdesk.dicom.bvalues import (
    as_text,
    get_element,
    get_value,
)

# --------------------------------------------------------------------------------------------
# Technologist and procedure date
# --------------------------------------------------------------------------------------------


def _person_name_text(value: Any) -> str | None:
    """One PN value as "Family, Given Middle" (or whatever part is present), None if blank.

    The alphabetic group is used; ideographic/phonetic groups (after "=") only when it is empty.
    Placeholders made only of punctuation ("----", "^^") count as blank.
    """
    groups = as_text(value).split("=")
    text = next((g for g in groups if re.search(r"\w", g)), groups[0])
    parts = [re.sub(r"\s+", " ", p).strip() for p in text.split("^")]
    parts += [""] * (5 - len(parts))
    family, given, middle, prefix, suffix = parts[:5]
    first = " ".join(p for p in (prefix, given, middle) if p)
    name = f"{family}, {first}" if family and first else family or first
    if suffix:
        name = f"{name} {suffix}".strip()
    return name if re.search(r"\w", name) else None


def technologist(ds: Dataset) -> str | None:
    """Operators' Name (0008,1070) as plain text ("Smith, Jane", or raw initials "JS").

    Several operators are joined with "; ". Blank, de-identified-to-punctuation or missing gives
    None: AuditDesk then relies on the manual technologist-mapping table (domain.md 7.1).
    """
    elem = get_element(ds, 0x00081070)
    if elem is None or elem.value is None:
        return None
    value = elem.value
    if isinstance(value, (bytes, bytearray)):
        values: list[Any] = as_text(value).split("\\")
    elif isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        values = list(value)
    else:
        values = [value]  # str or PersonName (which iterates over characters)
    names = [n for n in (_person_name_text(v) for v in values) if n]
    return "; ".join(dict.fromkeys(names)) or None


_DATE_RE: Final = re.compile(r"^(\d{4})[.\-/]?(\d{2})[.\-/]?(\d{2})$")
_TIME_RE: Final = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6})\d*)?)?)?$")
_DT_RE: Final = re.compile(r"^(\d{8})(\d{2,6}(?:\.\d{1,6}\d*)?)?(?:[+-]\d{4})?$")


def _parse_date(value: Any) -> dt.date | None:
    """DA value ("20240131"; ACR-NEMA "2024.01.31" tolerated) as a date, None if malformed."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    m = _DATE_RE.match(as_text(value))
    if not m:
        return None
    try:
        d = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return d if d.year >= 1900 else None


def parse_time(value: Any) -> dt.time | None:
    """TM value ("HHMMSS.FFFFFF", "HHMM", "HH"; "HH:MM:SS" tolerated), None if malformed."""
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, dt.time):
        return value
    m = _TIME_RE.match(as_text(value))
    if not m:
        return None
    hour, minute, second = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    micro = int((m[4] or "0").ljust(6, "0"))
    second = min(second, 59)  # leap second "60" is legal in TM
    try:
        return dt.time(hour, minute, second, micro)
    except ValueError:
        return None


def parse_datetime(value: Any) -> dt.datetime | None:
    """DT value ("YYYYMMDDHHMMSS.FFFFFF&ZZXX") as a naive datetime; the offset is ignored."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    m = _DT_RE.match(as_text(value))
    if not m:
        return None
    d = _parse_date(m[1])
    if d is None:
        return None
    t = parse_time(m[2]) if m[2] else dt.time(0)
    return dt.datetime.combine(d, t) if t is not None else None


_DATE_SOURCES: Final = (
    ("StudyDate", "StudyTime", None),
    ("AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime"),
    ("ContentDate", "ContentTime", None),
    ("SeriesDate", "SeriesTime", None),
)


def procedure_datetime(ds: Dataset) -> dt.datetime | None:
    """When the exam was done: Study Date/Time, else Acquisition, Content, Series Date/Time.

    The first source with a valid date wins; a missing or malformed time on that source gives
    midnight (the date is what weekly reporting needs). Malformed values are skipped, never
    raised.
    """
    for date_kw, time_kw, datetime_kw in _DATE_SOURCES:
        d = _parse_date(get_value(ds, date_kw))
        if d is None and datetime_kw is not None:
            whole = parse_datetime(get_value(ds, datetime_kw))
            if whole is not None:
                return whole
        if d is not None:
            t = parse_time(get_value(ds, time_kw)) or dt.time(0)
            return dt.datetime.combine(d, t)
    return None


def procedure_date(ds: Dataset) -> dt.date | None:
    """Date part of :func:`procedure_datetime` (the key for weekly submissions, domain.md 8.4)."""
    when = procedure_datetime(ds)
    return when.date() if when is not None else None
