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
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditdesk.dicom import classify
from auditdesk.dicom.acquired import ENCODING_MARKER
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
from auditdesk.store import study_uid_map
from auditdesk.store.db import Database
from auditdesk.store.models import Image, ImportIssue, ImportRun, Patient, Series, Study, utcnow

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


class _Writer:
    """Upserts scan results in batches, caching patient/study/series primary keys."""

    def __init__(self, session: Session, summary: ImportSummary) -> None:
        self.session = session
        self.summary = summary
        self.patients: dict[str, int] = {}
        self.studies: dict[str, Study] = {}
        self.series: dict[str, Series] = {}
        self.touched_mr_series: set[int] = set()
        # Studies a reviewer merged or split stay that way when the same files come back.
        self.groupings = study_uid_map.load_resolver(session)
        self.left_series: set[int] = set()

    def _copy_in_other_study(self, image: Image, rec: dict[str, Any], loc: Location) -> bool:
        """A second copy of an indexed image under another Study UID: noted, not indexed."""
        from auditdesk.dicom.index_conflicts import indexed_study, other_study_note

        study = indexed_study(self.session, image)
        if study is None or study.study_uid == rec["study_uid"]:
            return False
        if (image.path, image.archive_member) == (loc.path, loc.member) or not _location_exists(
            image.path, image.archive_member
        ):
            return False  # the file itself changed study: it moves (see finish)
        self.summary.duplicates += 1
        self.summary.notes.append((loc.display(), other_study_note(study)))
        return True

    def _patient_pk(self, patient_id: str) -> int:
        if patient_id not in self.patients:
            row = self.session.scalar(select(Patient).where(Patient.patient_id == patient_id))
            if row is None:
                row = Patient(patient_id=patient_id)
                self.session.add(row)
                self.session.flush()
            self.patients[patient_id] = row.id
        return self.patients[patient_id]

    def _study(self, rec: dict[str, Any]) -> Study:
        uid = rec["study_uid"]
        study = self.studies.get(uid) or self.session.scalar(
            select(Study).where(Study.study_uid == uid)
        )
        if study is None:
            study = Study(
                study_uid=uid,
                patient_pk=self._patient_pk(rec["patient_id"]),
                accession_number=rec["accession_number"],
                procedure_date=rec["procedure_date"],
                procedure_datetime=rec["procedure_datetime"],
                description=rec["study_description"],
                kind=rec["kind"],
                modalities=rec["modality"],
                technologist=rec["technologist"],
            )
            self.session.add(study)
            self.session.flush()
        else:
            # A study may mix objects (e.g. MG images plus a report); mammo/MR wins over other.
            if study.kind == "other" and rec["kind"] != "other":
                study.kind = rec["kind"]
            mods = set(filter(None, (study.modalities or "").split("\\")))
            if rec["modality"] and rec["modality"] not in mods:
                study.modalities = "\\".join(sorted(mods | {rec["modality"]}))[:64]
            study.technologist = study.technologist or rec["technologist"]
            study.procedure_date = study.procedure_date or rec["procedure_date"]
        self.studies[uid] = study
        return study

    def _series(self, rec: dict[str, Any], study: Study) -> Series:
        uid = rec["series_uid"]
        series = self.series.get(uid) or self.session.scalar(
            select(Series).where(Series.series_uid == uid)
        )
        if series is None:
            series = Series(
                series_uid=uid,
                study_pk=study.id,
                modality=rec["modality"],
                series_number=rec["series_number"],
                description=rec["series_description"],
                manufacturer=rec["manufacturer"],
                model=rec["model"],
                presentation_intent=rec.get("presentation_intent"),
            )
            self.session.add(series)
            self.session.flush()
        self.series[uid] = series
        return series

    def write(self, results: list[ScanResult]) -> None:
        existing = {
            img.sop_uid: img
            for img in self.session.scalars(
                select(Image).where(
                    Image.sop_uid.in_([r.record["sop_uid"] for r in results if r.record])
                )
            )
        }
        for res in results:
            rec = res.record
            assert rec is not None
            rec = self.groupings.apply(rec) if self.groupings else rec
            image = existing.get(rec["sop_uid"])
            if image is not None and self._copy_in_other_study(image, rec, res.location):
                continue
            study = self._study(rec)
            series = self._series(rec, study)
            self.summary.study_uids.add(study.study_uid)
            self.summary.series_uids.add(series.series_uid)
            if image is not None:
                same_place = (image.path, image.archive_member) == (
                    res.location.path,
                    res.location.member,
                )
                if not same_place and _location_exists(image.path, image.archive_member):
                    # The same image reached through a second copy: keep the first, count once.
                    self.summary.duplicates += 1
                    continue
                self.summary.updated += 1
            else:
                image = Image(sop_uid=rec["sop_uid"])
                self.session.add(image)
                existing[rec["sop_uid"]] = image
                self.summary.added += 1
            if image.series_pk is not None and image.series_pk != series.id:
                self.left_series.add(image.series_pk)  # may be empty now (see finish)
            image.series_pk = series.id
            image.path = res.location.path
            image.archive_member = res.location.member
            image.file_size = res.size
            image.file_mtime_ns = res.stamp
            image.indexed_at = utcnow()
            for key in (
                "sop_class_uid", "transfer_syntax_uid", "instance_number", "rows", "columns",
                "n_frames", "photometric", "bits_stored", "view", "view_source", "laterality",
                "laterality_source", "view_modifiers", "is_screening_view", "exclusion_reason",
                "mr_info", "slice_position_mm", "view_confidence", "view_conflict",
            ):  # fmt: skip
                setattr(image, key, rec.get(key))
            image.is_tomosynthesis = bool(rec.get("is_tomosynthesis"))
            image.lossy = bool(rec.get("lossy"))
            image.acquisition_datetime = rec["procedure_datetime"]
            if rec["modality"] == "MR":
                self.touched_mr_series.add(series.id)
        self.session.flush()

    def classify_mr_series(self) -> None:
        for series_pk in sorted(self.touched_mr_series):
            reclassify_mr_series(self.session, series_pk)


def _location_exists(path: str, member: str | None) -> bool:
    if not os.path.exists(path):
        return False
    if member is None:
        return True
    try:
        with zipfile.ZipFile(path) as zf:
            zf.getinfo(member)
        return True
    except (KeyError, OSError, zipfile.BadZipFile):
        return False


def reclassify_mr_series(session: Session, series_pk: int) -> None:
    """Classify an MR series from all its images and store the slice order by position."""
    images = list(session.scalars(select(Image).where(Image.series_pk == series_pk)))
    infos = [classify.MRImageInfo.from_dict(img.mr_info) for img in images if img.mr_info]
    if len(infos) != len(images) or not images:
        return
    series = session.get(Series, series_pk)
    assert series is not None
    result = classify.classify_mr_series(infos)
    series.mr_role = result.role
    series.mr_info = result.to_dict()
    for rank, idx in enumerate(classify.slice_order(infos)):
        images[idx].slice_order = rank


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
        writer = _Writer(session, summary)
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
                session.commit()
                batch = []
            if progress:
                progress(done, total, result.location.display())
        if cancel and cancel() and done < total:
            summary.cancelled = True
        if batch:
            writer.write(batch)
        writer.classify_mr_series()
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
