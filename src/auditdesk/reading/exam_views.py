"""Which screening views (mammography) and series roles (MR) each study has, with the reviewers'
corrections applied: one query per kind, shared by the worklist and the weekly sampling.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from auditdesk.store.models import Image, Series, Study

__all__ = ["MR_ROLE_ORDER", "SCREENING_ORDER", "mammo_views", "mr_roles"]

SCREENING_ORDER = ("RCC", "LCC", "RMLO", "LMLO")
MR_ROLE_ORDER = ("T2W", "DWI", "ADC", "DCE")


def mammo_views(session: Session, study_ids: Select[Any], overrides: dict) -> dict[int, str]:
    """Screening views present per mammogram, with reviewer corrections applied."""
    found: dict[int, set[str]] = defaultdict(set)
    rows = session.execute(
        select(
            Series.study_pk,
            Image.sop_uid,
            Image.view,
            Image.laterality,
            Image.is_screening_view,
        )
        .join(Series, Series.id == Image.series_pk)
        .join(Study, Study.id == Series.study_pk)
        .where(Study.kind == "mammo", Study.id.in_(study_ids))
    )
    for study_pk, sop_uid, view, laterality, screening in rows:
        ovr = overrides.get(("image", sop_uid))
        if ovr:
            view = ovr.get("view", view)
            laterality = ovr.get("laterality", laterality)
            if "screening" in ovr:
                screening = ovr["screening"] == "yes"
        label = f"{laterality or '?'}{view or '?'}"
        if screening and label in SCREENING_ORDER:
            found[study_pk].add(label)
    return {pk: " ".join(v for v in SCREENING_ORDER if v in labels) for pk, labels in found.items()}


def mr_roles(session: Session, study_ids: Select[Any], overrides: dict) -> dict[int, str]:
    """MR series roles present per study (T2W DWI ADC DCE), with corrections applied."""
    found: dict[int, set[str]] = defaultdict(set)
    rows = session.execute(
        select(Series.study_pk, Series.series_uid, Series.mr_role)
        .join(Study, Study.id == Series.study_pk)
        .where(Study.kind == "mr", Study.id.in_(study_ids))
    )
    for study_pk, series_uid, role in rows:
        ovr = overrides.get(("series", series_uid))
        if ovr and "role" in ovr:
            role = ovr["role"]
        if role in MR_ROLE_ORDER:
            found[study_pk].add(role)
    return {pk: " ".join(r for r in MR_ROLE_ORDER if r in roles) for pk, roles in found.items()}
