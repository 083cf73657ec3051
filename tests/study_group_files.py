"""Test files for merged and split studies: synthetic 4-view mammograms (the demo generator)
rewritten as archives send them, one study per image or two exams under one study."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydicom

from auditdesk.demo.generator import generate_mammo_study


def four_view_exam(
    out: Path,
    *,
    index: int,
    day: dt.date,
    patient_id: str,
    accession: str = "",
    one_study_per_image: bool = True,
    study_uid: str | None = None,
    view_in_patient_id: bool = False,
    distinct_patient_ids: bool = False,
    series_uid: str | None = None,
) -> dict[str, Path]:
    """Write a 4-view screening exam; each image gets its own Study Instance UID (as a
    digitised-film archive sends it) unless ``one_study_per_image`` is False. ``study_uid``
    puts every image under that study (two exams under one study). ``view_in_patient_id``
    appends the side and view to the patient ID ('..._LEFT_CC'); ``distinct_patient_ids`` gives
    each image another patient ID (only the accession joins them); ``series_uid`` puts every image
    in that series. Returns label -> path."""
    study = generate_mammo_study(
        out,
        seed=13,
        index=index,
        procedure_date=day,
        technologist="TECH^A",
        size=(128, 104),
        series_per_view=True,
    )
    paths: dict[str, Path] = {}
    for n, f in enumerate(study.files):
        if f.modifier or f.for_processing:
            f.path.unlink()
            continue
        ds = pydicom.dcmread(f.path)
        side = {"R": "RIGHT", "L": "LEFT"}[f.laterality or ""]
        ds.PatientID = f"{patient_id}_{side}_{f.view}" if view_in_patient_id else patient_id
        if distinct_patient_ids:
            ds.PatientID = f"{patient_id}{n}"
        ds.AccessionNumber = accession
        if series_uid is not None:
            ds.SeriesInstanceUID = series_uid
        if study_uid is not None:
            ds.StudyInstanceUID = study_uid
        elif one_study_per_image:
            ds.StudyInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[str(f.path), str(n)])
        ds.save_as(f.path)
        paths[f"{f.laterality}{f.view}"] = f.path
    return paths
