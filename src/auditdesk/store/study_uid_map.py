"""Where the index files an image after a reviewer merged or split studies (issue 13), and the
UIDs a merge or split makes. Kept apart from ``store.study_groups`` so the index needs only this.

The map is keyed by DICOM UIDs (an original Study Instance UID for a merge, an image's SOP
Instance UID for a split), never by row ids, so importing the same files again (or after the
rows were rebuilt) puts every image back where the reviewer put it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.store.models import StudyUidMap

__all__ = ["UidResolver", "derived_uid", "load_resolver", "normalized_patient_id"]

_UID_NAMESPACE = uuid.UUID("6f1d0f3c-3a47-4c55-9a51-8d0d7d1e2a13")
# Trailing parts of a patient ID that name a view or side (digitised film: "123_LEFT_CC").
_VIEW_WORDS = frozenset(
    ("L", "R", "LEFT", "RIGHT", "BILATERAL", "CC", "MLO", "ML", "LM")
) | frozenset(("LMO", "XCCL", "XCCM", "FB", "SIO", "ISO", "LCC", "RCC", "LMLO", "RMLO"))


def derived_uid(*parts: str) -> str:
    """A DICOM UID (``2.25.<uuid>``) that depends only on ``parts``: the same merge on two
    workstations gives the same UID, hence the same exam key in exports."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, '|'.join(parts)).int}"


def normalized_patient_id(patient_id: str | None) -> str | None:
    """The patient ID without trailing side/view words, so '123_LEFT_CC' and '123_RIGHT_MLO'
    (film digitised one image per patient ID) compare equal."""
    if not patient_id or not patient_id.strip():
        return None
    parts = [p for p in re.split(r"[\s_\-.^]+", patient_id.strip().upper()) if p]
    while len(parts) > 1 and parts[-1] in _VIEW_WORDS:
        parts.pop()
    return "_".join(parts) if parts else patient_id.strip().upper()


# --------------------------------------------------------------------------------------------
# The index side: where does an image go?
# --------------------------------------------------------------------------------------------


class UidResolver:
    """Maps an image's header UIDs to the study (and series) it is filed under after merges and
    splits. Image rows (splits) first, then study rows (merges), followed through chains."""

    def __init__(self, rows: Iterable[tuple[str, str, str, str | None]]) -> None:
        self.images: dict[str, tuple[str, str | None]] = {}
        self.studies: dict[str, str] = {}
        for kind, source, study_uid, series_uid in rows:  # oldest first: newest wins
            if kind == "image":
                self.images[source] = (study_uid, series_uid)
            else:
                self.studies[source] = study_uid

    def __bool__(self) -> bool:
        return bool(self.images or self.studies)

    def resolve(self, sop_uid: str, study_uid: str, series_uid: str) -> tuple[str, str]:
        """(study UID, series UID) the image belongs to now."""
        if sop_uid in self.images:
            study_uid, mapped_series = self.images[sop_uid]
            series_uid = mapped_series or series_uid
        seen: set[str] = set()
        while study_uid in self.studies and study_uid not in seen:
            seen.add(study_uid)
            study_uid = self.studies[study_uid]
        return study_uid, series_uid

    def apply(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A copy of an index record with its study/series UIDs resolved (or ``rec`` itself)."""
        study_uid, series_uid = self.resolve(rec["sop_uid"], rec["study_uid"], rec["series_uid"])
        if (study_uid, series_uid) == (rec["study_uid"], rec["series_uid"]):
            return rec
        return {**rec, "study_uid": study_uid, "series_uid": series_uid}


def load_resolver(session: Session) -> UidResolver:
    """The active merges and splits, ready for the index."""
    rows = session.execute(
        select(
            StudyUidMap.kind, StudyUidMap.source_uid, StudyUidMap.study_uid, StudyUidMap.series_uid
        ).order_by(StudyUidMap.id)
    )
    return UidResolver(tuple(r) for r in rows)
