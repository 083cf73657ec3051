"""Study-level queries (C-FIND or QIDO-RS) and what a listing may show.

Both protocols return DICOM datasets (QIDO's JSON is read with ``Dataset.from_json``), so one
reader turns them into ``StudyMatch``. ``StudyMatch.to_dict`` is the ``--json`` shape: UIDs,
patient ID, name and accession only with ``include_phi``; otherwise the site's pseudonymous exam
key (the same ``EX-…`` key the exports use) names the study.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from auditdesk.exchange.pacs.nodes import NodeConfig, PacsError

MODALITIES = ("MG", "MR")


@dataclass(frozen=True)
class StudyQuery:
    """Filters of a study-level query; empty fields match everything."""

    modality: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    patient_id: str | None = None
    accession: str | None = None
    study_uid: str | None = None

    def date_range(self) -> str:
        """DICOM range matching: 'YYYYMMDD-YYYYMMDD', open at either end, '' for any date."""
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise PacsError(
                f"The date range {self.date_from} to {self.date_to} is empty: "
                "the start must not be after the end."
            )
        lo = self.date_from.strftime("%Y%m%d") if self.date_from else ""
        hi = self.date_to.strftime("%Y%m%d") if self.date_to else ""
        return f"{lo}-{hi}" if (lo or hi) else ""


@dataclass
class StudyMatch:
    """One study as the PACS lists it."""

    study_uid: str
    date: dt.date | None = None
    modalities: list[str] = field(default_factory=list)
    description: str = ""
    n_images: int | None = None
    patient_id: str = ""
    patient_name: str = ""
    accession: str = ""
    operators: list[str] = field(default_factory=list)
    key: str = ""  # pseudonymous exam key, set by the caller who holds the site secret

    def to_dict(self, *, include_phi: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "date": self.date.isoformat() if self.date else None,
            "modalities": self.modalities,
            "description": self.description,
            "images": self.n_images,
        }
        if include_phi:
            out.update(
                study_uid=self.study_uid,
                patient_id=self.patient_id,
                patient_name=self.patient_name,
                accession=self.accession,
                operators=self.operators,
            )
        return out


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    return str(value).strip()


def _multi(ds: Dataset, keyword: str) -> list[str]:
    value = ds.get(keyword)
    if value in (None, ""):
        return []
    if not isinstance(value, (MultiValue, list, tuple)):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


def _date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def match_from_dataset(ds: Dataset) -> StudyMatch | None:
    """Read one study-level response; None for a response without a Study Instance UID."""
    uid = _text(ds, "StudyInstanceUID")
    if not uid:
        return None
    n = ds.get("NumberOfStudyRelatedInstances")
    try:
        n_images = int(n) if n not in (None, "") else None
    except (TypeError, ValueError):
        n_images = None
    return StudyMatch(
        study_uid=uid,
        date=_date(_text(ds, "StudyDate")),
        modalities=sorted(set(_multi(ds, "ModalitiesInStudy"))),
        description=_text(ds, "StudyDescription"),
        n_images=n_images,
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        accession=_text(ds, "AccessionNumber"),
        operators=_multi(ds, "OperatorsName"),
    )


def study_identifier(query: StudyQuery) -> Dataset:
    """The C-FIND identifier (and the QIDO fields) of a study-level query."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = query.study_uid or ""
    ds.StudyDate = query.date_range()
    ds.StudyTime = ""
    ds.ModalitiesInStudy = query.modality or ""
    ds.StudyDescription = ""
    ds.NumberOfStudyRelatedInstances = ""
    ds.PatientID = query.patient_id or ""
    ds.PatientName = ""
    ds.AccessionNumber = query.accession or ""
    ds.OperatorsName = ""
    return ds


def _client(node: NodeConfig) -> Any:
    if node.protocol == "dicomweb":
        from auditdesk.exchange.pacs import web

        return web
    from auditdesk.exchange.pacs import dimse

    return dimse


def echo(node: NodeConfig) -> float:
    """Check the node answers (C-ECHO, or a one-study QIDO); returns seconds taken."""
    return float(_client(node).echo(node))


def query_studies(node: NodeConfig, query: StudyQuery) -> list[StudyMatch]:
    """Every study matching ``query``, oldest first (the PACS's own order within a day)."""
    if query.modality and query.modality not in MODALITIES:
        raise PacsError(
            f"Modality {query.modality!r} is not supported here: {', '.join(MODALITIES)}."
        )
    found = _client(node).find_studies(node, study_identifier(query))
    matches = [m for m in (match_from_dataset(ds) for ds in found) if m is not None]
    # PACSes differ in how they match ModalitiesInStudy; keep only what was asked for.
    if query.modality:
        matches = [m for m in matches if not m.modalities or query.modality in m.modalities]
    matches.sort(key=lambda m: (m.date or dt.date.min, m.study_uid))
    return matches


__all__ = [
    "MODALITIES",
    "StudyMatch",
    "StudyQuery",
    "echo",
    "match_from_dataset",
    "query_studies",
    "study_identifier",
]
