"""Read and correct what the index holds: studies with their series and images, with reviewer
overrides applied on top of the automatic classification.

Overrides are stored separately (who, when, why) and keyed by DICOM UID, so re-indexing never
loses them and the automatic value stays visible next to the corrected one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from auditdesk.store.models import ClassificationOverride, Image, Series, Study
from auditdesk.store.view_confirm import needs_confirmation

VIEW_CHOICES = ("CC", "MLO", "ML", "LM", "LMO", "XCCL", "XCCM", "FB", "SIO", "ISO", "SPECIMEN")
LATERALITY_CHOICES = ("R", "L", "B", "U")
#: MR series roles a reviewer can set: the same set as ``dicom.mr_roles.ROLES`` (tested).
ROLE_CHOICES = ("T2W", "DWI", "ADC", "DCE", "LOCALIZER", "OTHER")
SCREENING_CHOICES = ("yes", "no")

OVERRIDABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "image": {
        "view": VIEW_CHOICES,
        "laterality": LATERALITY_CHOICES,
        "screening": SCREENING_CHOICES,
    },
    "series": {"role": ROLE_CHOICES},
}


class OverrideError(ValueError):
    """An override that names an unknown target, field or value."""


@dataclass
class ImageSummary:
    id: int
    sop_uid: str
    instance_number: int | None
    path: str
    archive_member: str | None
    rows: int | None
    columns: int | None
    n_frames: int
    photometric: str | None
    transfer_syntax_uid: str | None
    view: str | None
    view_source: str | None
    laterality: str | None
    laterality_source: str | None
    modifiers: list[str]
    is_screening_view: bool | None
    exclusion_reason: str | None
    is_tomosynthesis: bool
    lossy: bool
    slice_order: int | None
    slice_position_mm: float | None
    b_values: list[float]
    temporal_position: int | None
    overridden: list[str] = field(default_factory=list)
    view_confidence: str | None = None  # high/medium/low/none; None: indexed before 0006
    view_conflict: str | None = None
    needs_confirmation: bool = False  # low confidence, not yet confirmed or corrected

    @property
    def label(self) -> str:
        """Short view label as a technologist says it: 'RMLO', 'LCC', or '?' parts."""
        return f"{self.laterality or '?'}{self.view or '?'}"


@dataclass
class SeriesSummary:
    id: int
    series_uid: str
    series_number: int | None
    description: str | None
    modality: str | None
    presentation_intent: str | None
    role: str | None
    role_reasons: list[str]
    b_values: list[float]
    n_temporal_positions: int
    temporal_resolution_s: float | None
    images: list[ImageSummary]
    overridden: list[str] = field(default_factory=list)

    @property
    def role_text(self) -> str:
        """MR role with its evidence as listed to users, e.g. 'DWI b=50,800,1400'."""
        text = self.role or ""
        if self.b_values:
            text += " b=" + ",".join(f"{b:g}" for b in self.b_values)
        if self.n_temporal_positions > 1:
            text += f" {self.n_temporal_positions} phases"
        return text


@dataclass
class StudySummary:
    id: int
    study_uid: str
    patient_id: str | None
    accession_number: str | None
    procedure_date: dt.date | None
    description: str | None
    kind: str
    modalities: str | None
    technologist: str | None
    series: list[SeriesSummary]

    @property
    def n_images(self) -> int:
        return sum(len(s.images) for s in self.series)

    @property
    def views(self) -> list[str]:
        """Labels of the screening views present (for mammograms), in hanging order."""
        order = {"RCC": 0, "LCC": 1, "RMLO": 2, "LMLO": 3}
        labels = {
            img.label
            for s in self.series
            for img in s.images
            if img.is_screening_view and img.label in order
        }
        return sorted(labels, key=order.__getitem__)

    def to_dict(self, include_phi: bool = False) -> dict[str, Any]:
        """JSON-safe dict; patient ID, accession, UIDs and file paths (folder names on patient
        media often carry the patient's name) only with ``include_phi``."""
        data = asdict(self)
        data["procedure_date"] = self.procedure_date.isoformat() if self.procedure_date else None
        data["n_images"] = self.n_images
        data["views"] = self.views
        if not include_phi:
            data.pop("patient_id")
            data.pop("accession_number")
            data.pop("study_uid")
            for s in data["series"]:
                s.pop("series_uid")
                for img in s["images"]:
                    for key in ("sop_uid", "path", "archive_member"):
                        img.pop(key)
        return data


def _overrides(session: Session) -> dict[tuple[str, str], dict[str, str | None]]:
    """Newest override per (target_uid, field); later rows win."""
    result: dict[tuple[str, str], dict[str, str | None]] = {}
    rows = session.scalars(
        select(ClassificationOverride).order_by(
            ClassificationOverride.created_at, ClassificationOverride.id
        )
    )
    for row in rows:
        fields = result.setdefault((row.target, row.target_uid), {})
        if row.value is None:  # "back to automatic": the row stays as history
            fields.pop(row.field, None)
        else:
            fields[row.field] = row.value
    return result


def _image_summary(img: Image, ovr: dict[str, str | None]) -> ImageSummary:
    mr = img.mr_info or {}
    b_values = [b for b in (mr.get("b_values") or []) if b is not None]
    summary = ImageSummary(
        id=img.id,
        sop_uid=img.sop_uid,
        instance_number=img.instance_number,
        path=img.path,
        archive_member=img.archive_member,
        rows=img.rows,
        columns=img.columns,
        n_frames=img.n_frames,
        photometric=img.photometric,
        transfer_syntax_uid=img.transfer_syntax_uid,
        view=img.view,
        view_source=img.view_source,
        laterality=img.laterality,
        laterality_source=img.laterality_source,
        modifiers=list(img.view_modifiers or []),
        is_screening_view=img.is_screening_view,
        exclusion_reason=img.exclusion_reason,
        is_tomosynthesis=img.is_tomosynthesis,
        lossy=img.lossy,
        slice_order=img.slice_order,
        slice_position_mm=img.slice_position_mm,
        b_values=sorted(set(b_values)),
        temporal_position=mr.get("temporal_position"),
        view_confidence=img.view_confidence,
        view_conflict=img.view_conflict,
    )
    summary.needs_confirmation = needs_confirmation(img.view_confidence, summary.label, ovr)
    if "view" in ovr:
        summary.view, summary.view_source = ovr["view"], "reviewer"
        summary.overridden.append("view")
    if "laterality" in ovr:
        summary.laterality, summary.laterality_source = ovr["laterality"], "reviewer"
        summary.overridden.append("laterality")
    if "screening" in ovr:
        summary.is_screening_view = ovr["screening"] == "yes"
        summary.exclusion_reason = None if summary.is_screening_view else "Excluded by reviewer."
        summary.overridden.append("screening")
    return summary


def _series_summary(series: Series, overrides: dict) -> SeriesSummary:
    info = series.mr_info or {}
    images = [
        _image_summary(img, overrides.get(("image", img.sop_uid), {})) for img in series.images
    ]
    images.sort(
        key=lambda i: (
            i.slice_order if i.slice_order is not None else 1 << 30,
            i.instance_number or 0,
        )
    )
    summary = SeriesSummary(
        id=series.id,
        series_uid=series.series_uid,
        series_number=series.series_number,
        description=series.description,
        modality=series.modality,
        presentation_intent=series.presentation_intent,
        role=series.mr_role,
        role_reasons=list(info.get("role_reasons") or []),
        b_values=list(info.get("b_values") or []),
        n_temporal_positions=int(info.get("n_temporal_positions") or 0),
        temporal_resolution_s=info.get("temporal_resolution_s"),
        images=images,
    )
    ovr = overrides.get(("series", series.series_uid), {})
    if "role" in ovr:
        summary.role = ovr["role"]
        summary.role_reasons = ["Set by reviewer.", *summary.role_reasons]
        summary.overridden.append("role")
    return summary


def list_studies(
    session: Session, *, kind: str | None = None, study_ids: list[int] | None = None
) -> list[StudySummary]:
    """All indexed studies (newest procedure first) with overrides applied."""
    query = select(Study).options(
        selectinload(Study.patient),
        selectinload(Study.series).selectinload(Series.images),
    )
    if kind:
        query = query.where(Study.kind == kind)
    if study_ids is not None:
        query = query.where(Study.id.in_(study_ids))
    overrides = _overrides(session)
    out = []
    for study in session.scalars(query.order_by(Study.procedure_date.desc(), Study.id)):
        out.append(
            StudySummary(
                id=study.id,
                study_uid=study.study_uid,
                patient_id=study.patient.patient_id if study.patient else None,
                accession_number=study.accession_number,
                procedure_date=study.procedure_date,
                description=study.description,
                kind=study.kind,
                modalities=study.modalities,
                technologist=study.technologist,
                series=[_series_summary(s, overrides) for s in study.series],
            )
        )
    return out


def get_study(session: Session, study_id: int) -> StudySummary | None:
    found = list_studies(session, study_ids=[study_id])
    return found[0] if found else None


def set_override(
    session: Session,
    *,
    target: str,
    target_id: int,
    field_name: str,
    value: str | None,
    reviewer: str,
    reason: str | None = None,
) -> ClassificationOverride:
    """Record a reviewer's correction; ``value=None`` clears back to the automatic value."""
    allowed = OVERRIDABLE.get(target)
    if allowed is None:
        raise OverrideError(f"Unknown target {target!r}; use 'image' or 'series'.")
    if field_name not in allowed:
        raise OverrideError(
            f"A {target} has no overridable field {field_name!r}; "
            f"choose one of {', '.join(allowed)}."
        )
    if value is not None:
        value = value.strip().upper() if field_name != "screening" else value.strip().lower()
        if value not in allowed[field_name]:
            raise OverrideError(
                f"{value!r} is not a valid {field_name}; choose one of "
                f"{', '.join(allowed[field_name])}."
            )
    if not reviewer.strip():
        raise OverrideError("An override needs the reviewer's name.")
    row = session.get(Image if target == "image" else Series, target_id)
    if row is None:
        raise OverrideError(f"No {target} with id {target_id} in the database.")
    uid = row.sop_uid if isinstance(row, Image) else row.series_uid
    override = ClassificationOverride(
        target=target,
        target_uid=uid,
        field=field_name,
        value=value,
        reviewer=reviewer.strip(),
        reason=reason,
    )
    session.add(override)
    session.flush()
    return override
