"""Reading one file for the index: header, pixel-data structure check and classification.

This module runs inside worker processes, so it imports only what scanning needs (pydicom,
numpy, the classifiers) and nothing of the database layer: a spawned worker starts in a fraction
of the time. Results are plain picklable data handed back to ``index.py``, which writes them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO

from pydicom.dataset import Dataset

from auditdesk.dicom import classify
from auditdesk.dicom.acquired import encoding_tags
from auditdesk.dicom.bvalues import as_int, as_text, get_value
from auditdesk.dicom.headers import HeaderError, pixel_layout, read_header
from auditdesk.dicom.mr_image import MR_FACTS_MARKER, MR_FACTS_VERSION
from auditdesk.dicom.pixels import (
    PixelDataError,
    check_codec,
    check_pixel_size,
    decode_frame,
    read_dataset,
    transfer_syntax,
)
from auditdesk.dicom.sources import Location, open_location, stat_location
from auditdesk.dicom.tag_access import conversion_cache, enable_conversion_cache, value_of
from auditdesk.dicom.view_text import Spellings

# A pool of spawned workers costs ~0.4 s of wall time to start on the reference machine (each
# imports pydicom and numpy), more when other work holds the cores. A file costs ~0.55 ms to
# read and classify and the main process still writes (~0.14 ms a file), so on two cores the
# pool pays from ~1,300 files: whole `auditdesk import` processes measured 1,000 files 1.69 s
# alone vs 1.74 s pooled, 1,500 files 2.04 vs 1.98 s, 2,000 files 2.48 vs 2.25 s.
PARALLEL_MIN_FILES = 1500
CHUNK_SIZE = 32

CancelCallback = Callable[[], bool]

_IDENTITY_TAGS = (
    ("SOPInstanceUID", "SOP Instance UID"),
    ("StudyInstanceUID", "Study Instance UID"),
    ("SeriesInstanceUID", "Series Instance UID"),
)


@dataclass
class ScanResult:
    """Outcome of reading one file: a record to store, or the reason it was skipped."""

    location: Location
    size: int
    stamp: int
    record: dict[str, Any] | None = None
    reason: str | None = None


def _text(ds: Dataset, keyword: str, limit: int = 64) -> str | None:
    """Stripped text of a tag, clipped to its database column (PostgreSQL enforces lengths)."""
    return as_text(get_value(ds, keyword)).replace("\x00", "")[:limit] or None


def _value(ds: Dataset, keyword: str) -> Any:
    """``ds.get(keyword)`` through the fast lookup (errors propagate as they would there)."""
    return value_of(ds, keyword)


def _int(ds: Dataset, keyword: str) -> int | None:
    """First value of an integer tag, or None when absent or malformed (e.g. IS '1A')."""
    return as_int(get_value(ds, keyword))


def _record(ds: Dataset, layout_encapsulated: bool, spellings: Spellings = ()) -> dict[str, Any]:
    mammo = classify.is_mammography(ds)
    modality = _text(ds, "Modality", 16)
    when = classify.procedure_datetime(ds)
    record: dict[str, Any] = {
        "patient_id": _text(ds, "PatientID") or "",
        "study_uid": str(_value(ds, "StudyInstanceUID")),
        "series_uid": str(_value(ds, "SeriesInstanceUID")),
        "sop_uid": str(_value(ds, "SOPInstanceUID")),
        "sop_class_uid": _text(ds, "SOPClassUID"),
        "transfer_syntax_uid": transfer_syntax(ds),
        "accession_number": _text(ds, "AccessionNumber"),
        "procedure_date": when.date() if when is not None else None,  # = procedure_date(ds)
        "procedure_datetime": when,
        "study_description": _text(ds, "StudyDescription", 128),
        "technologist": (classify.technologist(ds) or None),
        "modality": modality,
        "series_number": _int(ds, "SeriesNumber"),
        "series_description": _text(ds, "SeriesDescription", 128),
        "manufacturer": _text(ds, "Manufacturer"),
        "model": _text(ds, "ManufacturerModelName"),
        "instance_number": _int(ds, "InstanceNumber"),
        "rows": _int(ds, "Rows"),
        "columns": _int(ds, "Columns"),
        "n_frames": _int(ds, "NumberOfFrames") or 1,
        "photometric": _text(ds, "PhotometricInterpretation", 16),
        "bits_stored": _int(ds, "BitsStored"),
        "kind": "mammo" if mammo else ("mr" if modality == "MR" else "other"),
        "encapsulated": layout_encapsulated,
    }
    if mammo:
        info = classify.classify_mammo(ds, spellings)
        record.update(
            view=info.view,
            view_source=info.view_source,
            view_confidence=info.view_confidence,
            view_conflict=info.view_conflict,
            laterality=info.laterality,
            laterality_source=info.laterality_source,
            view_modifiers=list(info.modifiers),
            is_screening_view=info.is_screening_view,
            exclusion_reason=info.exclusion_reason,
            is_tomosynthesis=info.is_tomosynthesis,
            lossy=info.lossy,
            presentation_intent=info.presentation_intent,
        )
    elif modality == "MR":
        info_mr = classify.mr_image_info(ds)
        # Phase-encoding tags ride along in the same JSON, for the acquired resolution.
        mr_info = {**info_mr.to_dict(), **encoding_tags(ds), MR_FACTS_MARKER: MR_FACTS_VERSION}
        record.update(mr_info=mr_info, slice_position_mm=info_mr.slice_position_mm)
    return record


def _verify_pixels(fp: BinaryIO) -> None:
    """Decode the first frame: the only way to catch a corrupt codestream before viewing."""
    fp.seek(0)
    ds = read_dataset(fp)
    decode_frame(ds, 0)


def scan_location(loc: Location, verify: bool = False, spellings: Spellings = ()) -> ScanResult:
    """Read one file's header and decide whether it is a usable image.

    With ``verify`` the first frame is also decoded (slow for JPEG 2000: seconds per mammogram),
    so corrupt compressed data is reported at import instead of when the image is opened.
    ``spellings``: the site's local view spellings (read from the database by the caller).
    """
    try:
        size, stamp = stat_location(loc)
    except OSError as exc:
        return ScanResult(loc, 0, 0, reason=f"The file cannot be opened ({exc.strerror or exc}).")
    try:
        with open_location(loc) as fp:
            ds = read_header(fp)
            missing = [name for key, name in _IDENTITY_TAGS if not _value(ds, key)]
            if missing:
                raise HeaderError(
                    f"The header has no {', '.join(missing)}, so the image cannot be identified."
                )
            modality = _text(ds, "Modality", 16) or ""
            if "Rows" not in ds or "Columns" not in ds:
                what = f"a {modality} object" if modality else "a non-image object"
                raise HeaderError(f"Not an image: the file is {what} without pixel data.")
            layout = pixel_layout(fp, ds, size)
            if not layout.present:
                raise HeaderError("The file has no pixel data (header only).")
            ts = transfer_syntax(ds)
            if ts:
                check_codec(ts)
            available = layout.length if layout.length is not None else size
            check_pixel_size(ds, None if layout.encapsulated else available)
            record = _record(ds, layout.encapsulated, spellings)
            if verify:
                _verify_pixels(fp)
    except (HeaderError, PixelDataError) as exc:
        return ScanResult(loc, size, stamp, reason=str(exc))
    except Exception as exc:  # never let one odd file stop an import
        return ScanResult(
            loc, size, stamp, reason=f"Unexpected error while reading the header: {exc!r}."
        )
    return ScanResult(loc, size, stamp, record=record)


def scan_all(
    locations: list[Location],
    workers: int,
    cancel: CancelCallback | None,
    verify: bool,
    spellings: Spellings = (),
) -> Iterator[ScanResult]:
    if workers <= 1:
        with conversion_cache():
            for loc in locations:
                if cancel and cancel():
                    return
                yield scan_location(loc, verify, spellings)
        return
    # spawn: safe inside a Qt process (fork would copy the GUI's threads and locks).
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=enable_conversion_cache
    ) as pool:
        results = pool.map(
            partial(scan_location, verify=verify, spellings=spellings),
            locations,
            chunksize=1 if verify else CHUNK_SIZE,
        )
        try:
            for result in results:
                if cancel and cancel():
                    pool.shutdown(wait=False, cancel_futures=True)
                    return
                yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def default_workers(n_files: int, verify: bool = False) -> int:
    """One process for small imports; a pool when it pays (always when decoding to verify)."""
    if n_files < (2 if verify else PARALLEL_MIN_FILES):
        return 1
    return max(1, min(os.cpu_count() or 1, 8))
