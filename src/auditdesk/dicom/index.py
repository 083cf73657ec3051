"""The DICOM index: scan folders, zip files and DICOMDIRs header-only and record what was found.

Flow: enumerate locations -> skip those already indexed with the same size and change stamp
(re-import is cheap and adds nothing twice) -> read each remaining header (in worker processes
when there are enough files to pay for the pool) -> classify -> write in batches -> re-classify
every touched MR series from all its images (roles and slice order need the whole series).

Each file that cannot be used is reported once with a one-sentence reason; nothing stops the rest
of the import. Progress is reported through a callback and a cancel callback is polled between
files, so a GUI can show a bar and a Cancel button.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from auditdesk.dicom import classify
from auditdesk.dicom.acquired import ENCODING_MARKER
from auditdesk.dicom.index_writer import IndexWriter
from auditdesk.dicom.mr_image import MR_FACTS_MARKER, MR_FACTS_VERSION
from auditdesk.dicom.scan import (
    CancelCallback,
    ScanResult,
    default_workers,
    scan_all,
    scan_location,
)
from auditdesk.dicom.sources import Location, enumerate_sources, stat_location
from auditdesk.dicom.view_reread import site_spellings, stale_mammograms
from auditdesk.store.db import Database
from auditdesk.store.models import Image, ImportIssue, ImportRun, Series, Study, utcnow

__all__ = ["ImportSummary", "Skipped", "import_paths", "reclassify_mr_series", "scan_location"]

BATCH_SIZE = 200

ProgressCallback = Callable[[int, int, str], None]  # done, total, current file


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class ImportSummary:
    """What an import did; printed by the CLI and shown by the GUI."""

    run_id: int | None = None
    files_seen: int = 0
    ignored: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    study_uids: set[str] = field(default_factory=set)
    series_uids: set[str] = field(default_factory=set)
    cancelled: bool = False
    seconds: float = 0.0
    workers: int = 1

    @property
    def usable_images(self) -> int:
        return self.added + self.updated + self.unchanged + self.duplicates

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "files_seen": self.files_seen,
            "ignored_non_dicom": self.ignored,
            "studies": len(self.study_uids),
            "series": len(self.series_uids),
            "images_added": self.added,
            "images_updated": self.updated,
            "images_unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "notes": [{"source": s, "message": m} for s, m in self.notes],
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
        }


# --------------------------------------------------------------------------------------------
# Writing to the database
# --------------------------------------------------------------------------------------------


def reclassify_mr_series(session: Session, series_pk: int) -> None:
    """Classify an MR series from all its images and store the slice order by position.

    Reads only the columns it needs and writes the changed slice orders in one executemany
    (an import touches every MR series it adds to; whole ORM objects cost more than the rest).
    Rows come in primary-key order, the order SQLite's series index gives them anyway.
    """
    rows = session.execute(
        select(Image.id, Image.mr_info, Image.slice_order)
        .where(Image.series_pk == series_pk)
        .order_by(Image.id)
    ).all()
    infos = [classify.MRImageInfo.from_dict(mr_info) for _, mr_info, _ in rows if mr_info]
    if len(infos) != len(rows) or not rows:
        return
    series = session.get(Series, series_pk)
    assert series is not None
    result = classify.classify_mr_series(infos)
    series.mr_role = result.role
    series.mr_info = result.to_dict()
    changes = [
        {"id": rows[idx][0], "slice_order": rank}
        for rank, idx in enumerate(classify.slice_order(infos))
        if rows[idx][2] != rank
    ]
    if changes:
        session.execute(update(Image), changes)


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def import_paths(
    db: Database,
    paths: Iterable[str | os.PathLike[str]],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    workers: int | None = None,
    verify: bool = False,
) -> ImportSummary:
    """Index every DICOM file under ``paths`` into ``db`` and return what happened.

    ``verify`` also decodes each new file's first frame (see ``scan_location``).
    """
    started = dt.datetime.now()
    summary = ImportSummary()
    sources = [str(p) for p in paths]
    found = enumerate_sources(sources)
    summary.ignored = found.ignored
    summary.notes = list(found.notes or [])
    locations = found.locations
    summary.files_seen = len(locations)
    total = len(locations)
    done = 0

    with db.session() as session:
        run = ImportRun(sources=sources)
        session.add(run)
        session.commit()
        summary.run_id = run.id

        # Unchanged files (same place, same size, same stamp) are not read again.
        # Only the columns needed (not whole Image objects): this runs over every indexed image.
        known: dict[tuple[str, str | None], tuple[int, int, str, str]] = {
            (path, member): (size, stamp, series_uid, study_uid)
            for path, member, size, stamp, series_uid, study_uid in session.execute(
                select(
                    Image.path,
                    Image.archive_member,
                    Image.file_size,
                    Image.file_mtime_ns,
                    Series.series_uid,
                    Study.study_uid,
                )
                .join(Series, Image.series_pk == Series.id)
                .join(Study, Series.study_pk == Study.id)
            )
        }
        # MR images indexed before the phase-encoding tags were read are read once more, so
        # their acquired in-plane resolution becomes determinable (dicom.acquired); so are
        # images indexed with older MR facts (dicom.mr_image.MR_FACTS_VERSION).
        stale = {
            (path, member)
            for path, member in session.execute(
                select(Image.path, Image.archive_member)
                .join(Series, Image.series_pk == Series.id)
                .where(
                    Series.modality == "MR",
                    Image.mr_info[ENCODING_MARKER].as_boolean().is_(None)
                    | (
                        func.coalesce(Image.mr_info[MR_FACTS_MARKER].as_integer(), 0)
                        < MR_FACTS_VERSION
                    ),
                )
            )
        }
        spellings = site_spellings(session)
        stale |= stale_mammograms(session, bool(spellings))
        to_scan: list[Location] = []
        for loc in locations:
            hit = known.get((loc.path, loc.member))
            if hit is not None:
                try:
                    size, stamp = stat_location(loc)
                except OSError:
                    size, stamp = -1, -1
                if (size, stamp) == hit[:2] and (loc.path, loc.member) not in stale:
                    summary.unchanged += 1
                    summary.series_uids.add(hit[2])
                    summary.study_uids.add(hit[3])
                    done += 1
                    continue
            to_scan.append(loc)
        if progress:
            progress(done, total, "")

        summary.workers = workers if workers is not None else default_workers(len(to_scan), verify)
        writer = IndexWriter(session, summary)
        # MR series are classified from all their images. One the last batch did not add to is
        # classified while the rest is still being read (files come folder by folder, so its
        # images are usually all in), not in a serial pass at the end; one that gains images
        # afterwards is classified again, so the result is the same.
        classified: set[int] = set()

        def classify_finished_series() -> None:
            classified.difference_update(s.id for s in writer.batch_mr_series)
            ready = set(writer.mr_series_keys()) - classified
            for series_pk in sorted(ready - {s.id for s in writer.batch_mr_series}):
                reclassify_mr_series(session, series_pk)
                classified.add(series_pk)

        batch: list[ScanResult] = []
        for result in scan_all(to_scan, summary.workers, cancel, verify, spellings):
            done += 1
            if result.record is None:
                reason = result.reason or "Unknown problem."
                summary.skipped.append(Skipped(result.location.display(), reason))
                session.add(
                    ImportIssue(run_pk=run.id, path=result.location.display(), reason=reason)
                )
            else:
                batch.append(result)
            if len(batch) >= BATCH_SIZE:
                writer.write(batch)
                classify_finished_series()
                session.commit()
                batch = []
            if progress:
                progress(done, total, result.location.display())
        if cancel and cancel() and done < total:
            summary.cancelled = True
        if batch:
            writer.write(batch)
        classified.difference_update(s.id for s in writer.batch_mr_series)
        for series_pk in writer.mr_series_keys():
            if series_pk not in classified:
                reclassify_mr_series(session, series_pk)
        from auditdesk.dicom.index_conflicts import drop_if_empty

        drop_if_empty(session, writer.left_series, {s.id for s in writer.studies.values()})
        run.finished_at = utcnow()
        run.files_seen = summary.files_seen
        run.images_added = summary.added
        run.images_updated = summary.updated
        run.images_unchanged = summary.unchanged
        run.files_skipped = len(summary.skipped)
        run.cancelled = summary.cancelled
        session.commit()
    summary.seconds = (dt.datetime.now() - started).total_seconds()
    return summary
