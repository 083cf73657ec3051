"""Helpers both modality writers share: seeded random streams, pseudonymous patients, names.

Mammography and MR studies must draw patients, birth dates, study UIDs and random streams the
same way so a seed always gives the same files whatever the modality; keeping these in one
place (rather than in either writer) is what guarantees that.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np

from auditdesk.demo import headers as hdr

MONO1, MONO2 = "MONOCHROME1", "MONOCHROME2"


def _rng(seed: int, index: int, *purpose: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFF, int(index), *purpose])


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "series"


def _birth(rng: np.random.Generator, on: date, age: int) -> date:
    return date(on.year - age - 1, 1, 1) + timedelta(days=int(rng.integers(0, 365)))


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _patient_study(
    seed: int,
    index: int,
    kind: str,
    procedure_date: date,
    technologist: str | None,
    rng: np.random.Generator,
) -> hdr.PatientStudy:
    name, pid, acc = hdr.pseudonym(index)
    if kind == "mammo":
        age = int(rng.integers(40, 75))
        sex, desc = "F", f"MG SCREENING BILATERAL ({hdr.MARKER})"
        inst, station = "DEMO Breast Imaging Centre", "DEMO-MG1"
    else:
        age = int(rng.integers(50, 79))
        sex, desc = "M", f"MR PROSTATE MULTIPARAMETRIC ({hdr.MARKER})"
        inst, station = "DEMO Imaging Centre", "DEMO-MR1"
    born = _birth(rng, procedure_date, age)
    minutes = int(rng.integers(7 * 60 + 30, 17 * 60 + 30))
    study_time = f"{minutes // 60:02d}{minutes % 60:02d}{int(rng.integers(0, 60)):02d}"
    study_uid = hdr.make_uid(seed, kind, index, procedure_date.isoformat(), "study")
    return hdr.PatientStudy(
        seed=seed,
        index=index,
        study_uid=study_uid,
        patient_name=name,
        patient_id=pid,
        birth_date=born,
        sex=sex,
        age_years=_age(born, procedure_date),
        accession=acc,
        study_date=procedure_date,
        study_time=study_time,
        study_description=desc,
        technologist=technologist,
        institution=inst,
        station=station,
    )
