"""Database schema: what the index found (patients, studies, series, images), import runs with
their skipped files, reviewer overrides of the automatic classification, and the audit record
(reviewers, checklist snapshots, audits with answers, measurements, scores, overrides, history).

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
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
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
    # high/medium/low/none (dicom.mammo_views.SOURCE_CONFIDENCE) and disagreeing sources (0006).
    view_confidence: Mapped[str | None] = mapped_column(String(8))
    view_conflict: Mapped[str | None] = mapped_column(Text)
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


# --- Audit record (issue 3, items 3 and 4) -------------------------------------------------------
#
# An audit is one reviewer's judgement of one exam against one checklist version. Answers are
# stored raw (item by item) and scores are derived from them, so an audit can be re-scored years
# later with exactly the rules it used (ChecklistVersion keeps the full file text). Every change
# also writes an AuditEvent (who, when, old and new value). The repository API is store/audits.py.


class Reviewer(Base):
    """A local reviewer profile, chosen at start; every answer is attributed to one.

    Staff names, not patient data. Profiles are deactivated, never deleted, because old audits
    and their history keep pointing at them.
    """

    __tablename__ = "reviewers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # technologist, team_leader, coach
    initials: Mapped[str] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ChecklistVersion(Base):
    """A checklist file exactly as it was used, identified by the hash of its content.

    Editing a file gives a new hash and so a new row; audits keep pointing at the row they were
    made with. ``source_text`` is the whole file, so re-scoring does not depend on the files that
    happen to be installed later.
    """

    __tablename__ = "checklist_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256, hex
    title: Mapped[str] = mapped_column(String(256))
    source_text: Mapped[str] = mapped_column(Text)
    first_used_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Audit(Base):
    """One reviewer's audit of one study with one checklist (several per study: double reads)."""

    __tablename__ = "audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by the unique (study_pk, reviewer_pk, checklist_id, purpose) below.
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    reviewer_pk: Mapped[int] = mapped_column(ForeignKey("reviewers.id"), index=True)
    checklist_version_pk: Mapped[int] = mapped_column(
        ForeignKey("checklist_versions.id"), index=True
    )
    # Copy of checklist_versions.checklist_id: lets the database itself guarantee one audit per
    # study + reviewer + checklist, whatever version of the checklist was used.
    checklist_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")  # or "complete"
    comment: Mapped[str | None] = mapped_column(Text)
    learning_opportunity: Mapped[bool] = mapped_column(Boolean, default=False)
    # Blinded: the reviewer did not see other reads / the technologist while scoring.
    blinded: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Why the audit exists (issue 6): "review" (an ordinary read, every audit before 0004),
    # "consensus" (a coach's adjudication of disagreeing reads) or "reference" (a coach's
    # answers for a calibration set; never counted in measures or reviewer agreement).
    purpose: Mapped[str] = mapped_column(String(16), default="review", server_default="review")

    checklist_version: Mapped[ChecklistVersion] = relationship()
    reviewer: Mapped[Reviewer] = relationship()

    __table_args__ = (
        UniqueConstraint(
            "study_pk",
            "reviewer_pk",
            "checklist_id",
            "purpose",
            name="uq_audits_study_reviewer_checklist_purpose",
        ),
    )


class AuditAnswer(Base):
    """The current answer to one item of an audit; earlier values live in audit_events."""

    __tablename__ = "audit_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_pk: Mapped[int] = mapped_column(
        ForeignKey("audits.id")
    )  # indexed by the unique (audit_pk, key)
    # Scope member + ":" + item id, e.g. "RMLO:pectoral_to_pnl"; opaque to the store.
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[Any] = mapped_column(JSON(none_as_null=True))
    reason_code: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="reviewer")  # computed, header
    answered_by: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    answered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("audit_pk", "key", name="uq_audit_answers_audit_key"),)


class AuditMeasurement(Base):
    """A length drawn on an image, with where its calibration came from (mm may be unknown)."""

    __tablename__ = "audit_measurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_pk: Mapped[int] = mapped_column(
        ForeignKey("audits.id")
    )  # indexed by the unique (audit_pk, key)
    key: Mapped[str] = mapped_column(String(128))  # e.g. "RMLO:pnl_mm"
    value_mm: Mapped[float | None] = mapped_column(Float)
    value_px: Mapped[float] = mapped_column(Float)
    # pixel_spacing, imager_pixel_spacing, imager_pixel_spacing_ermf, digitiser_spacing or none
    calibration_source: Mapped[str] = mapped_column(String(32))
    sop_uid: Mapped[str | None] = mapped_column(String(64))  # none: typed in, no image
    geometry: Mapped[Any] = mapped_column(JSON, nullable=True)  # points, for redrawing
    measured_by: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    measured_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("audit_pk", "key", name="uq_audit_measurements_audit_key"),)


class AuditScore(Base):
    """A score computed by the checklist engine under one checklist version.

    The audit's own version is always there; a re-score under another version adds rows for that
    version. Older rows of the same version stay with ``is_current`` false.
    """

    __tablename__ = "audit_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_pk: Mapped[int] = mapped_column(ForeignKey("audits.id"), index=True)
    checklist_version_pk: Mapped[int] = mapped_column(
        ForeignKey("checklist_versions.id"), index=True
    )
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    meets_criteria: Mapped[bool | None] = mapped_column(Boolean)
    grade: Mapped[str | None] = mapped_column(String(32))
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)


class AuditOverride(Base):
    """A reviewer's override of the derived result (with a reason); the newest one per field
    wins, and a value of None means "back to the computed result". Rows are never changed."""

    __tablename__ = "audit_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_pk: Mapped[int] = mapped_column(ForeignKey("audits.id"), index=True)
    field: Mapped[str] = mapped_column(String(32))  # meets_criteria or grade
    value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    reviewer_pk: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditEvent(Base):
    """One change to an audit: who changed what, when, from which value to which."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_pk: Mapped[int] = mapped_column(ForeignKey("audits.id"), index=True)
    # None for changes made by the program itself (e.g. a score recomputed from answers).
    reviewer_pk: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # answer, measurement, comment, learning_flag, override, status, rescore
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str | None] = mapped_column(String(128))
    old_value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)


# --- Site, technologists, annotations and weekly samples (issue 5) -------------------------------
#
# Site settings and the pseudonym secret are single rows. Technologists are the canonical people
# behind the raw Operators' Name values; aliases map each raw spelling (normalised) to one of them.
# A sample plan records how a week's sample was drawn (seed included) so it can be reproduced; a
# redraw marks the old plan replaced instead of deleting it. The API is auditdesk/qi/site.py and
# auditdesk/qi/sampling.py.


SPC_RULES_ALL = "outside,shift,trend,two-of-three"


class SiteSettingsRow(Base):
    """The one row of site settings (name, ids for exports, goal, measure checklist)."""

    __tablename__ = "site_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_name: Mapped[str] = mapped_column(String(256), default="")
    site_id: Mapped[str] = mapped_column(String(64), default="")
    organisation: Mapped[str] = mapped_column(String(256), default="")
    collaborative: Mapped[str] = mapped_column(String(256), default="")
    goal_pct: Mapped[float | None] = mapped_column(Float)
    checklist_id: Mapped[str] = mapped_column(String(64), default="acr-mammo-positioning")
    default_location: Mapped[str | None] = mapped_column(String(128))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # p-chart special-cause rules, small-n flag and cut-week policy (revision 0005_spc).
    spc_rules: Mapped[str] = mapped_column(String(128), default=SPC_RULES_ALL)
    spc_small_np: Mapped[float] = mapped_column(Float, default=5.0)
    week_policy: Mapped[str] = mapped_column(String(16), default="snap")
    # Local view spellings, "OBL = MLO" per line (dicom.view_text; revision 0006).
    view_spellings: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SiteSecret(Base):
    """Random key of the pseudonymous exam keys; never exported, created once per database."""

    __tablename__ = "site_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PacsNode(Base):
    """A PACS to query and retrieve from: DIMSE (AE title, host, port, our AE title/port) or
    DICOMweb (base URL, optional basic or bearer auth). Issue 19."""

    __tablename__ = "pacs_nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    protocol: Mapped[str] = mapped_column(String(8))  # "dimse" or "dicomweb"
    aet: Mapped[str | None] = mapped_column(String(16))
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    our_aet: Mapped[str | None] = mapped_column(String(16))
    our_port: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(1024))
    auth: Mapped[str] = mapped_column(String(8), default="none")  # none, basic, bearer
    username: Mapped[str | None] = mapped_column(String(255))
    # Password or token; kept in the local database like the site secret, never exported.
    secret: Mapped[str | None] = mapped_column(Text)
    retrieve_method: Mapped[str] = mapped_column(String(8), default="get")  # get or move
    timeout_s: Mapped[float] = mapped_column(Float, default=30.0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Location(Base):
    """A place exams are done (site, room, mobile unit) for per-location breakdowns."""

    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Technologist(Base):
    """A canonical technologist; staff data, deactivated rather than deleted."""

    __tablename__ = "technologists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    initials: Mapped[str] = mapped_column(String(8), default="")
    location_pk: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    location: Mapped[Location | None] = relationship()
    aliases: Mapped[list[TechnologistAlias]] = relationship(
        back_populates="technologist", cascade="all, delete-orphan", order_by="TechnologistAlias.id"
    )


class TechnologistAlias(Base):
    """One raw Operators' Name spelling (normalised) that means this technologist."""

    __tablename__ = "technologist_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    technologist_pk: Mapped[int] = mapped_column(ForeignKey("technologists.id"), index=True)
    raw_name: Mapped[str] = mapped_column(String(128), unique=True)

    technologist: Mapped[Technologist] = relationship(back_populates="aliases")


class Annotation(Base):
    """A dated note on the charts (a change tried, a PDSA cycle); may start a new chart phase."""

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    label: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    pdsa_cycle: Mapped[str] = mapped_column(String(64), default="")
    starts_phase: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SamplePlan(Base):
    """How one week's sample was drawn; with the seed the same data gives the same sample."""

    __tablename__ = "sample_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    week_start: Mapped[dt.date] = mapped_column(Date, index=True)
    mode: Mapped[str] = mapped_column(String(32))  # per_technologist or overall
    n: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    second_share: Mapped[float] = mapped_column(Float)
    screening_only: Mapped[bool] = mapped_column(Boolean)
    reviewer_pks: Mapped[list[Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Set when the week was redrawn; the replaced plan and its items stay for the record.
    replaced_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    items: Mapped[list[SampleItem]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="SampleItem.id"
    )


class SampleItem(Base):
    """One sampled exam with its reviewers (second reviewer only for the double-read share)."""

    __tablename__ = "sample_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_pk: Mapped[int] = mapped_column(ForeignKey("sample_plans.id"))  # unique (plan, study)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    # Canonical technologist at draw time (or the raw name when unmapped).
    technologist: Mapped[str | None] = mapped_column(String(128))
    primary_reviewer_pk: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"))
    second_reviewer_pk: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"))

    plan: Mapped[SamplePlan] = relationship(back_populates="items")

    __table_args__ = (UniqueConstraint("plan_pk", "study_pk", name="uq_sample_items_plan_study"),)


# --- Calibration sets (issue 6) -------------------------------------------------------------------
#
# A coach picks exams for a calibration exercise and records reference answers for them (audits
# with purpose "reference"); each reviewer's own reads of the same exams are compared with those.
# The API is auditdesk/review/adjudication.py.


class CalibrationSet(Base):
    """A named set of exams with the coach's reference answers, for training and calibration."""

    __tablename__ = "calibration_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    checklist_id: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    items: Mapped[list[CalibrationItem]] = relationship(
        back_populates="calibration_set",
        cascade="all, delete-orphan",
        order_by="CalibrationItem.id",
    )


class CalibrationItem(Base):
    """One exam of a calibration set."""

    __tablename__ = "calibration_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    set_pk: Mapped[int] = mapped_column(ForeignKey("calibration_sets.id"))  # unique (set, study)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)

    calibration_set: Mapped[CalibrationSet] = relationship(back_populates="items")

    __table_args__ = (
        UniqueConstraint("set_pk", "study_pk", name="uq_calibration_items_set_study"),
    )


# --- Studies merged and split (issue 13) ----------------------------------------------------------
#
# Archives send one exam as one study per image, or two exams under one study. A reviewer merges
# or splits studies; each change is a grouping row (who, when, why, and what undo needs), and the
# UID map tells the index where an image belongs, so re-importing the same files keeps the
# grouping. The API is auditdesk/store/study_groups.py.


class StudyGrouping(Base):
    """One reviewer's merge or split of studies; kept after an undo (with who undid it)."""

    __tablename__ = "study_groupings"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(8))  # "merge" or "split"
    # The study the action made: the merged exam, or the exam split off.
    result_study_uid: Mapped[str] = mapped_column(String(64), index=True)
    reviewer: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # What undo needs: the original studies' fields, the series/images/audits that moved.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    undone_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    undone_by: Mapped[str | None] = mapped_column(String(128))
    undo_reason: Mapped[str | None] = mapped_column(Text)


class StudyUidMap(Base):
    """Where the index files an image: an original Study UID ("study", a merge) or an image's
    SOP Instance UID ("image", a split) goes to ``study_uid`` (and ``series_uid`` if set).
    Rows of a grouping are deleted when it is undone; the newest row for a UID wins."""

    __tablename__ = "study_uid_map"

    id: Mapped[int] = mapped_column(primary_key=True)
    grouping_pk: Mapped[int] = mapped_column(ForeignKey("study_groupings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    source_uid: Mapped[str] = mapped_column(String(64), index=True)
    study_uid: Mapped[str] = mapped_column(String(64))
    series_uid: Mapped[str | None] = mapped_column(String(64))


__all__ = [
    "Annotation",
    "Audit",
    "AuditAnswer",
    "AuditEvent",
    "AuditMeasurement",
    "AuditOverride",
    "AuditScore",
    "Base",
    "CalibrationItem",
    "CalibrationSet",
    "ChecklistVersion",
    "ClassificationOverride",
    "Image",
    "ImportIssue",
    "ImportRun",
    "Location",
    "Patient",
    "Reviewer",
    "SampleItem",
    "SamplePlan",
    "Series",
    "SiteSecret",
    "SiteSettingsRow",
    "Study",
    "StudyGrouping",
    "StudyUidMap",
    "Technologist",
    "TechnologistAlias",
]
