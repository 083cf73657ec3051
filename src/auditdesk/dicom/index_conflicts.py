"""An image (SOP Instance UID) that arrives under another study than the one it is indexed in.

Why: a re-sent or re-labelled exam can carry images already indexed under another Study
Instance UID. Indexing the copy would leave an empty study (and series) behind, which then
shows up in worklists and samples as an exam without images. Such a copy is reported and not
indexed; a file whose own study changed moves, and what it leaves empty is removed, unless
something (an audit, a sample, a calibration set) refers to that study.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditdesk.store.models import Audit, CalibrationItem, Image, SampleItem, Series, Study


def indexed_study(session: Session, image: Image) -> Study | None:
    series = session.get(Series, image.series_pk) if image.series_pk else None
    return session.get(Study, series.study_pk) if series else None


def other_study_note(study: Study) -> str:
    """The import note (no UIDs: import summaries carry no patient data)."""
    return (
        f"This image is already indexed under another study (#{study.id}) with the same SOP "
        "Instance UID; the copy was not indexed again. Check which study the sender meant."
    )


def drop_if_empty(session: Session, series_pks: set[int], study_pks: set[int]) -> int:
    """Delete the given series when they hold no image, then the given studies (and those of
    the deleted series) when they hold no series and nothing refers to them; returns the
    number of studies removed."""
    studies = set(study_pks)
    for series_pk in sorted(series_pks):
        series = session.get(Series, series_pk)
        if series is None:
            continue
        if session.scalar(select(func.count()).where(Image.series_pk == series_pk)):
            continue
        studies.add(series.study_pk)
        session.delete(series)
    session.flush()
    removed = 0
    for study_pk in sorted(studies):
        if any(
            session.scalar(select(func.count()).where(model.study_pk == study_pk))
            for model in (Series, Audit, SampleItem, CalibrationItem)
        ):
            continue
        study = session.get(Study, study_pk)
        if study is not None:
            session.delete(study)
            removed += 1
    session.flush()
    return removed
