"""Database schema: what the index found (patients, studies, series, images), import runs with
their skipped files, and reviewer overrides of the automatic classification.

PHI is kept to what matching needs: the Patient ID (to group a patient's exams) and the
accession number (to match a RIS sampling list). Names and birth dates are not stored. Files are
referenced by path; pixels are never copied into the database.

Every change to these classes needs an Alembic migration in ``store/migrations/versions``; a test
checks that the migrated schema equals this metadata.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names so migrations work on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    # DICOM Patient ID (0010,0020): needed to group a patient's exams; never exported.
    patient_id: Mapped[str] = mapped_column(String(64), unique=True)

    studies: Mapped[list[Study]] = relationship(back_populates="patient")


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_uid: Mapped[str] = mapped_column(String(64), unique=True)
    patient_pk: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    accession_number: Mapped[str | None] = mapped_column(String(64))
    # Procedure date decides the reporting week (Sunday-Saturday), not the audit date.
    procedure_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    procedure_datetime: Mapped[dt.datetime | None] = mapped_column(DateTime)
    description: Mapped[str | None] = mapped_column(String(128))
    # "mammo", "mr" or "other": which audit family the study belongs to.
    kind: Mapped[str] = mapped_column(String(16), default="other", index=True)
    modalities: Mapped[str | None] = mapped_column(String(64))
    # Operators' Name as found in the header (mapping to canonical people comes later).
    technologist: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    patient: Mapped[Patient | None] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="Series.series_number"
    )


class Series(Base):
    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    series_uid: Mapped[str] = mapped_column(String(64), unique=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    modality: Mapped[str | None] = mapped_column(String(16))
    series_number: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(String(128))
    manufacturer: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    presentation_intent: Mapped[str | None] = mapped_column(String(32))
    # Automatic MR series classification (role T2W/DWI/ADC/DCE/OTHER, b-values, temporal info).
    mr_role: Mapped[str | None] = mapped_column(String(16))
    mr_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    study: Mapped[Study] = relationship(back_populates="series")
    images: Mapped[list[Image]] = relationship(
        back_populates="series", cascade="all, delete-orphan", order_by="Image.instance_number"
    )


class Image(Base):
    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    sop_uid: Mapped[str] = mapped_column(String(64), unique=True)
    series_pk: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    sop_class_uid: Mapped[str | None] = mapped_column(String(64))
    transfer_syntax_uid: Mapped[str | None] = mapped_column(String(64))

    # Where the file lives: a path, or a zip file plus the member inside it.
    path: Mapped[str] = mapped_column(Text)
    archive_member: Mapped[str | None] = mapped_column(Text)
    file_size: Mapped[int] = mapped_column(BigInteger)
    # mtime in ns for files; CRC-32 for zip members (see dicom.sources.stat_location).
    file_mtime_ns: Mapped[int] = mapped_column(BigInteger)

    instance_number: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[int | None] = mapped_column(Integer)
    n_frames: Mapped[int] = mapped_column(Integer, default=1)
    photometric: Mapped[str | None] = mapped_column(String(16))
    bits_stored: Mapped[int | None] = mapped_column(Integer)
    acquisition_datetime: Mapped[dt.datetime | None] = mapped_column(DateTime)

    # Mammography classification (automatic; overrides live in classification_overrides).
    view: Mapped[str | None] = mapped_column(String(16))
    view_source: Mapped[str | None] = mapped_column(String(32))
    laterality: Mapped[str | None] = mapped_column(String(2))
    laterality_source: Mapped[str | None] = mapped_column(String(32))
    view_modifiers: Mapped[list[Any] | None] = mapped_column(JSON)
    is_screening_view: Mapped[bool | None] = mapped_column(Boolean)
    exclusion_reason: Mapped[str | None] = mapped_column(Text)
    is_tomosynthesis: Mapped[bool] = mapped_column(Boolean, default=False)
    lossy: Mapped[bool] = mapped_column(Boolean, default=False)

    # MR per-image facts (b-values, temporal position, slice position...) for series classification.
    mr_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    slice_position_mm: Mapped[float | None] = mapped_column(Float)
    # Position in the series after sorting by patient coordinates (0-based); None for mammograms.
    slice_order: Mapped[int | None] = mapped_column(Integer)

    indexed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    series: Mapped[Series] = relationship(back_populates="images")

    __table_args__ = (Index("ix_images_path_member", "path", "archive_member"),)


class ClassificationOverride(Base):
    """A reviewer's correction of an automatic classification; the newest one wins.

    Keyed by DICOM UID (not row id) so an override survives re-indexing the same files.
    """

    __tablename__ = "classification_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(16))  # "image" or "series"
    target_uid: Mapped[str] = mapped_column(String(64), index=True)
    field: Mapped[str] = mapped_column(String(32))  # view, laterality, screening, role
    value: Mapped[str | None] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ImportRun(Base):
    """One import (folder, zip or DICOMDIR); kept so the user can see later what was skipped."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sources: Mapped[list[Any]] = mapped_column(JSON)
    files_seen: Mapped[int] = mapped_column(Integer, default=0)
    images_added: Mapped[int] = mapped_column(Integer, default=0)
    images_updated: Mapped[int] = mapped_column(Integer, default=0)
    images_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    files_skipped: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)

    issues: Mapped[list[ImportIssue]] = relationship(
        back_populates="run", cascade="all, delete-orphan"
    )


class ImportIssue(Base):
    __tablename__ = "import_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("import_runs.id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)

    run: Mapped[ImportRun] = relationship(back_populates="issues")


__all__ = [
    "Base",
    "ClassificationOverride",
    "Image",
    "ImportIssue",
    "ImportRun",
    "Patient",
    "Series",
    "Study",
]
