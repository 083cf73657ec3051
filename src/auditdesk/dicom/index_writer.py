"""Writing scan results to the index in batches: few queries and one bulk INSERT per batch.

Why: an import of thousands of small files spent more time in per-object ORM work (a SELECT per
new study and series, a flush per new row, one INSERT per image) than in reading the headers.
Per batch this does one SELECT for the batch's images, one for its studies, series and patients
not seen yet, one flush for the new studies and series, and one executemany INSERT for the new
images. Images already indexed (a changed file, a second copy, a move) keep the per-object path,
whose rules (duplicates, other-study copies, moves) are unchanged.
"""

from __future__ import annotations

import os
import zipfile
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from auditdesk.dicom.sources import Location
from auditdesk.store import study_uid_map
from auditdesk.store.models import Image, Patient, Series, Study, utcnow

if TYPE_CHECKING:
    from auditdesk.dicom.index import ImportSummary
    from auditdesk.dicom.scan import ScanResult

#: Record keys copied as they are into the image row.
IMAGE_FIELDS = (
    "sop_class_uid", "transfer_syntax_uid", "instance_number", "rows", "columns",
    "n_frames", "photometric", "bits_stored", "view", "view_source", "laterality",
    "laterality_source", "view_modifiers", "is_screening_view", "exclusion_reason",
    "mr_info", "slice_position_mm", "view_confidence", "view_conflict",
)  # fmt: skip


def location_exists(path: str, member: str | None) -> bool:
    """True when the file (or the zip member) is still there."""
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


def image_row(rec: dict[str, Any], res: ScanResult) -> dict[str, Any]:
    """The image columns a scan result sets (the same values for a new row and an update)."""
    row = {key: rec.get(key) for key in IMAGE_FIELDS}
    row.update(
        sop_uid=rec["sop_uid"],
        path=res.location.path,
        archive_member=res.location.member,
        file_size=res.size,
        file_mtime_ns=res.stamp,
        indexed_at=utcnow(),
        is_tomosynthesis=bool(rec.get("is_tomosynthesis")),
        lossy=bool(rec.get("lossy")),
        acquisition_datetime=rec["procedure_datetime"],
    )
    return row


class IndexWriter:
    """Upserts scan results in batches, caching patient/study/series rows across batches."""

    def __init__(self, session: Session, summary: ImportSummary) -> None:
        self.session = session
        self.summary = summary
        self.patients: dict[str, Patient] = {}
        self.studies: dict[str, Study] = {}
        self.series: dict[str, Series] = {}
        self.touched_mr_series: set[Series] = set()
        self.batch_mr_series: set[Series] = set()  # MR series the last batch added to
        # Studies a reviewer merged or split stay that way when the same files come back.
        self.groupings = study_uid_map.load_resolver(session)
        self.left_series: set[int] = set()

    # -- lookups, one query per batch ------------------------------------------------------

    def _prefetch(self, recs: list[dict[str, Any]]) -> None:
        """Load the batch's studies, series and patients not cached yet, one SELECT each."""
        session = self.session
        uids = {r["study_uid"] for r in recs} - self.studies.keys()
        if uids:
            for study in session.scalars(select(Study).where(Study.study_uid.in_(uids))):
                self.studies[study.study_uid] = study
        uids = {r["series_uid"] for r in recs} - self.series.keys()
        if uids:
            for series in session.scalars(select(Series).where(Series.series_uid.in_(uids))):
                self.series[series.series_uid] = series
        ids = {r["patient_id"] for r in recs if r["study_uid"] not in self.studies}
        ids -= self.patients.keys()
        if ids:
            for patient in session.scalars(select(Patient).where(Patient.patient_id.in_(ids))):
                self.patients[patient.patient_id] = patient

    def _patient(self, patient_id: str) -> Patient:
        patient = self.patients.get(patient_id)
        if patient is None:
            patient = self.patients[patient_id] = Patient(patient_id=patient_id)
            self.session.add(patient)
        return patient

    def _study(self, rec: dict[str, Any]) -> Study:
        uid = rec["study_uid"]
        study = self.studies.get(uid)
        if study is None:
            study = Study(
                study_uid=uid,
                patient=self._patient(rec["patient_id"]),
                accession_number=rec["accession_number"],
                procedure_date=rec["procedure_date"],
                procedure_datetime=rec["procedure_datetime"],
                description=rec["study_description"],
                kind=rec["kind"],
                modalities=rec["modality"],
                technologist=rec["technologist"],
            )
            self.session.add(study)
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
        series = self.series.get(uid)
        if series is None:
            series = Series(
                series_uid=uid,
                study=study,
                modality=rec["modality"],
                series_number=rec["series_number"],
                description=rec["series_description"],
                manufacturer=rec["manufacturer"],
                model=rec["model"],
                presentation_intent=rec.get("presentation_intent"),
            )
            self.session.add(series)
        self.series[uid] = series
        return series

    # -- the per-object path for images already indexed -----------------------------------

    def _copy_in_other_study(self, image: Image, rec: dict[str, Any], loc: Location) -> bool:
        """A second copy of an indexed image under another Study UID: noted, not indexed."""
        from auditdesk.dicom.index_conflicts import indexed_study, other_study_note

        study = indexed_study(self.session, image)
        if study is None or study.study_uid == rec["study_uid"]:
            return False
        if (image.path, image.archive_member) == (loc.path, loc.member) or not location_exists(
            image.path, image.archive_member
        ):
            return False  # the file itself changed study: it moves (see finish)
        self.summary.duplicates += 1
        self.summary.notes.append((loc.display(), other_study_note(study)))
        return True

    def _update(self, image: Image, rec: dict[str, Any], res: ScanResult, series: Series) -> None:
        if series.id is None:
            self.session.flush()  # a new series needs its key before an image can point to it
        if image.series_pk is not None and image.series_pk != series.id:
            self.left_series.add(image.series_pk)  # may be empty now (see finish)
        for key, value in image_row(rec, res).items():
            setattr(image, key, value)
        image.series_pk = series.id

    # -- one batch --------------------------------------------------------------------------

    def write(self, results: list[ScanResult]) -> None:
        """Write one batch of readable files (``record`` set), in order."""
        session = self.session
        self.batch_mr_series = set()
        recs: list[dict[str, Any]] = []
        for res in results:
            assert res.record is not None
            recs.append(self.groupings.apply(res.record) if self.groupings else res.record)
        sop_uids = [r["sop_uid"] for r in recs]
        existing = {
            img.sop_uid: img
            for img in session.scalars(select(Image).where(Image.sop_uid.in_(sop_uids)))
        }
        self._prefetch(recs)
        # A SOP Instance UID twice in one batch: the second copy must see the first as indexed,
        # so each new image is written before the next is looked at (the per-object path).
        one_by_one = len(set(sop_uids)) != len(sop_uids)
        new_rows: list[tuple[dict[str, Any], Series]] = []
        for res, rec in zip(results, recs, strict=True):
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
                if not same_place and location_exists(image.path, image.archive_member):
                    # The same image reached through a second copy: keep the first, count once.
                    self.summary.duplicates += 1
                    continue
                self.summary.updated += 1
                self._update(image, rec, res, series)
            else:
                self.summary.added += 1
                if one_by_one:
                    image = Image(sop_uid=rec["sop_uid"])
                    self._update(image, rec, res, series)
                    session.add(image)
                    existing[rec["sop_uid"]] = image
                else:
                    new_rows.append((image_row(rec, res), series))
            if rec["modality"] == "MR":
                self.touched_mr_series.add(series)
                self.batch_mr_series.add(series)
        session.flush()  # new patients, studies and series get their keys here
        if new_rows:
            rows = [{**row, "series_pk": series.id} for row, series in new_rows]
            session.execute(insert(Image), rows)

    def mr_series_keys(self) -> list[int]:
        """Primary keys of the MR series this import touched."""
        return sorted(series.id for series in self.touched_mr_series)
