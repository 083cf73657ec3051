"""Audits end to end: a checklist snapshot, the reviewer's answers, and the derived score.

This joins the checklist engine (``checklists``) and the audit store (``store.audits``), which do
not know each other: the store keeps raw answers and the exact checklist text an audit used; this
module re-parses that text, gathers the DICOM header facts of the study, scores, and saves the
score in the same transaction as the change that caused it. Used by the CLI and the GUI alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.checklists.answers import (
    check_answers,
    check_measurements,
    stored_version_checklist,
)
from auditdesk.checklists.loader import load_all
from auditdesk.checklists.rules import ScoreResult, score
from auditdesk.checklists.schema import MG_MEMBERS, MR_MEMBERS, Checklist
from auditdesk.dicom.acquired import acquired_resolution
from auditdesk.reading.errors import AuditingError
from auditdesk.reading.exam_views import mammo_views, mr_roles
from auditdesk.store import audits as store
from auditdesk.store.catalog import _overrides as classification_overrides
from auditdesk.store.db import Database
from auditdesk.store.models import Audit, ChecklistVersion, Image, Series, Study

CALCULATED_MARKERS = ("CALC", "SYNTH", "COMPUTED")


def snapshot_checklist(session: Session, checklist: Checklist) -> ChecklistVersion:
    """Store the exact text of the checklist version an audit is about to use (idempotent).

    A file edited in place after audits used it (same id and version, other text) is refused:
    one version must always mean one text, or old and new audits would silently disagree.
    """
    for known in store.checklist_versions(session, checklist.id):
        if known.version == checklist.version and known.content_hash != checklist.content_hash:
            raise AuditingError(
                f"Checklist '{checklist.id}' version {checklist.version} was changed after "
                f"audits used it ({checklist.origin}); give the edited file a new version."
            )
    return store.register_checklist_version(
        session,
        checklist.id,
        checklist.version,
        checklist.content_hash,
        checklist.source_text,
        checklist.title,
    )


def stored_checklist(version: ChecklistVersion) -> Checklist:
    """The checklist exactly as it was when audits used it, re-parsed from the stored text."""
    return stored_version_checklist(version)


def audit_checklist(session: Session, audit_pk: int) -> Checklist:
    """The checklist version the audit was started with: its answers are checked against it."""
    audit = session.get(Audit, audit_pk)
    if audit is None:
        raise AuditingError(f"No audit with id {audit_pk}.")
    version = session.get(ChecklistVersion, audit.checklist_version_pk)
    assert version is not None  # a foreign key
    return stored_checklist(version)


def answering_checklist(
    db: Database, study_pk: int, reviewer_pk: int, checklist: Checklist, purpose: str = "review"
) -> Checklist:
    """The version answers to this reviewer's audit of the study are checked against: an audit
    that already exists keeps the version it was started with; a new one takes ``checklist``."""
    with db.session() as session:
        audit_pk = session.scalar(
            select(Audit.id).where(
                Audit.study_pk == study_pk,
                Audit.reviewer_pk == reviewer_pk,
                Audit.checklist_id == checklist.id,
                Audit.purpose == purpose,
            )
        )
        return checklist if audit_pk is None else audit_checklist(session, audit_pk)


def find_checklist(
    checklist_id: str, version: str | None = None, session: Session | None = None
) -> Checklist:
    """A loaded checklist (shipped or site) by id, newest version unless one is named.

    With a ``session``, a named version that no file provides any more is taken from the text
    stored when audits used it, so answers made with it are checked against that text.
    """
    result = load_all()
    found = result.get(checklist_id, version)
    if found is None and version is not None and session is not None:
        stored = [
            v for v in store.checklist_versions(session, checklist_id) if v.version == version
        ]
        if len({v.content_hash for v in stored}) == 1:
            return stored_checklist(stored[0])
    if found is None:
        known = ", ".join(sorted({c.id for c in result.checklists})) or "none"
        wanted = f"'{checklist_id}'" + (f" version {version}" if version else "")
        raise AuditingError(f"No checklist {wanted} is available; known checklists: {known}.")
    return found


# --------------------------------------------------------------------------------------------
# DICOM header facts for header rules (PI-RADS technical parameters)
# --------------------------------------------------------------------------------------------


def _is_calculated(series: Series, first: dict[str, Any]) -> bool:
    text = " ".join([series.description or "", *(first.get("image_type") or [])]).upper()
    return any(marker in text for marker in CALCULATED_MARKERS)


def _fov_facts(role: str, info: dict[str, Any]) -> dict[str, float]:
    """Acquired matrix and field of view along the frequency and phase directions.

    From Acquisition Matrix, In-plane Phase Encoding Direction and Percent Phase FOV with the
    reconstructed extent (formula and sources: ``dicom.acquired``), never from Pixel Spacing
    alone. Any missing piece leaves the facts out: the rule then says "not determinable",
    never "pass".
    """
    found = acquired_resolution(info)
    if isinstance(found, str):
        return {}
    return {
        f"{role}:acquisition_matrix_freq": found.matrix_freq,
        f"{role}:acquisition_matrix_phase": found.matrix_phase,
        f"{role}:fov_freq_mm": found.fov_freq_mm,
        f"{role}:fov_phase_mm": found.fov_phase_mm,
    }


def header_facts(session: Session, study_pk: int) -> dict[str, Any]:
    """Facts keyed like answers ("DWI:b_values") from the study's classified MR series."""
    facts: dict[str, Any] = {}
    calculated: dict[str, set[float]] = {}
    acquired: dict[str, set[float]] = {}
    series_rows = session.scalars(select(Series).where(Series.study_pk == study_pk))
    for series in series_rows:
        role = series.mr_role
        if role in (None, "OTHER", "LOCALIZER"):
            continue
        # Geometry and protocol are the same on every image of a series: one row is enough
        # (this runs on every answer, and a DCE series has hundreds of images).
        first = session.scalar(
            select(Image.mr_info)
            .where(Image.series_pk == series.id, Image.mr_info.is_not(None))
            .order_by(Image.id)
            .limit(1)
        )
        if not first:
            continue
        series_info = series.mr_info or {}
        b_values = {float(b) for b in series_info.get("b_values") or []}
        if role == "ADC" and len(b_values) < 2:
            # An ADC map's header usually carries one b-value (vendor-dependent: the lowest or
            # the highest used), not the list it was computed from: not a usable fact.
            b_values = set()
        is_calculated = _is_calculated(series, first)
        (calculated if is_calculated else acquired).setdefault(role, set()).update(b_values)
        if is_calculated:
            continue  # geometry and timing describe the acquired series
        if first.get("slice_thickness") is not None:
            facts.setdefault(f"{role}:slice_thickness_mm", float(first["slice_thickness"]))
        if series_info.get("temporal_resolution_s") is not None:
            facts.setdefault(f"{role}:temporal_resolution_s", series_info["temporal_resolution_s"])
        for key, value in _fov_facts(role, first).items():
            facts.setdefault(key, value)
    for role, values in acquired.items():
        if values:
            facts[f"{role}:b_values"] = sorted(values)
    if "DWI" in acquired:
        # Knowing that no calculated high-b series exists is a fact ("none"), not a missing one.
        facts["DWI:calculated_b_values"] = sorted(calculated.get("DWI", ()))
    return facts


def acquired_facts(session: Session, study_pk: int, modality: str) -> dict[str, bool]:
    """``"RCC:acquired"`` / ``"DCE:acquired"`` for each view or MR role of the checklist's
    modality: whether the exam has an image for it (after reviewers' corrections).

    A member that is not there cannot be assessed: the audit may be completed without it and
    the exam is not evaluable, said as "not in the exam" rather than "not assessed".
    """
    # One small query (this runs on every answer): the views or roles the worklist shows.
    ids = select(Study.id).where(Study.id == study_pk)
    overrides = classification_overrides(session)
    if modality == "MG":
        # Screening views only: a spot or FOR PROCESSING image is not one.
        found = set(mammo_views(session, ids, overrides).get(study_pk, "").split())
        wanted = MG_MEMBERS
    else:
        found = set(mr_roles(session, ids, overrides).get(study_pk, "").split())
        wanted = MR_MEMBERS
    facts = {f"{member}:acquired": member in found for member in wanted if member != "EXAM"}
    # No view or role recognised at all (views unreadable, nothing indexed): say nothing rather
    # than "none of them is there".
    return facts if any(facts.values()) else {}


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def compute_score(
    session: Session, audit_pk: int, checklist_version_pk: int | None = None
) -> ScoreResult:
    """Score the audit's stored answers under its own checklist version (or another one)."""
    audit = session.get(Audit, audit_pk)
    if audit is None:
        raise AuditingError(f"No audit with id {audit_pk}.")
    version = session.get(ChecklistVersion, checklist_version_pk or audit.checklist_version_pk)
    if version is None:
        raise AuditingError(f"No checklist version with id {checklist_version_pk}.")
    state = store.audit_state(session, audit_pk, include_history=False)
    measurements = {
        key: m.value_mm for key, m in state.measurements.items() if m.value_mm is not None
    }
    checklist = stored_checklist(version)
    facts: dict[str, Any] = acquired_facts(session, audit.study_pk, checklist.modality)
    facts.update(header_facts(session, audit.study_pk))
    return score(checklist, state.answers, measurements, facts)


def save_computed_score(
    session: Session,
    audit_pk: int,
    checklist_version_pk: int | None = None,
    reviewer_pk: int | None = None,
) -> ScoreResult:
    """Compute and keep the score; other versions' scores of the same audit are untouched."""
    audit = session.get(Audit, audit_pk)
    if audit is None:
        raise AuditingError(f"No audit with id {audit_pk}.")
    version_pk = checklist_version_pk or audit.checklist_version_pk
    result = compute_score(session, audit_pk, version_pk)
    store.save_score(
        session,
        audit_pk,
        version_pk,
        result.to_dict(),
        result.meets_criteria,
        result.grade,
        result.complete,
        reviewer_pk=reviewer_pk,
    )
    return result


def rescore_with(
    session: Session, audit_pk: int, checklist: Checklist, reviewer_pk: int | None = None
) -> ScoreResult:
    """Re-score an audit under another version of its checklist, on request; both are kept."""
    audit = session.get(Audit, audit_pk)
    if audit is None:
        raise AuditingError(f"No audit with id {audit_pk}.")
    if checklist.id != audit.checklist_id:
        raise AuditingError(
            f"Audit {audit_pk} uses checklist '{audit.checklist_id}', not '{checklist.id}'."
        )
    version = snapshot_checklist(session, checklist)
    return save_computed_score(session, audit_pk, version.id, reviewer_pk)


def record_audit(
    db: Database,
    *,
    study_pk: int,
    reviewer_pk: int,
    checklist: Checklist,
    answers: Iterable[tuple[str, Any]] = (),
    measurements: Iterable[tuple[str, float]] = (),
    calibration_source: str = "imager_pixel_spacing",
    comment: str | None = None,
    learning: bool = False,
    complete: bool = False,
    blinded: bool = False,
) -> int:
    """Record one command's worth of an audit in ONE transaction; returns the audit id.

    Every answer and measurement is checked against the version the audit uses (an audit opened
    earlier keeps its own version) before anything is written; one refused answer, or a
    completion refused for missing answers, rolls the whole command back: nothing is written,
    not even a new audit. Used by ``auditdesk audit record``; the form saves change by change.
    """
    answers, measurements = list(answers), list(measurements)
    with db.transaction() as session:  # a refusal below rolls back the new audit too
        version = snapshot_checklist(session, checklist)
        audit = store.open_audit(session, study_pk, reviewer_pk, version.id, blinded=blinded)
        own = audit_checklist(session, audit.id)  # differs when the audit was started earlier
        checked = check_answers(own, answers)
        mm = check_measurements(own, measurements)
        for key, value in checked.items():
            store.set_answer(session, audit.id, key, value, reviewer_pk)
        for key, length in mm.items():
            store.set_measurement(session, audit.id, key, value_px=length, value_mm=length,
                                  calibration_source=calibration_source, sop_uid=None,
                                  reviewer_pk=reviewer_pk)  # fmt: skip
        if comment is not None:
            store.set_comment(session, audit.id, comment, reviewer_pk)
        if learning:
            store.set_learning_opportunity(session, audit.id, True, reviewer_pk)
        result = save_computed_score(session, audit.id, reviewer_pk=reviewer_pk)
        if complete:
            _refuse_incomplete(result)
            store.set_status(session, audit.id, "complete", reviewer_pk)
        return audit.id


def _refuse_incomplete(result: ScoreResult) -> None:
    if not result.complete:
        missing = ", ".join(result.missing_required[:8])
        more = len(result.missing_required) - 8
        raise AuditingError(
            f"The audit cannot be completed: required answers are missing ({missing}"
            + (f" and {more} more" if more > 0 else "")
            + ")."
        )


class AuditSession(store.AuditRecorder):
    """One reviewer working on one audit: every change is saved at once, with its new score.

    The recorder commits each change in its own transaction; this adds the recomputed score to
    that same transaction, so a crash or a killed process loses at most the change being made,
    and a stored score always matches the stored answers.
    """

    @classmethod
    def start(
        cls,
        db: Database,
        *,
        study_pk: int,
        reviewer_pk: int,
        checklist: Checklist,
        blinded: bool = False,
        purpose: str = "review",
    ) -> AuditSession:
        """Open (or create) the reviewer's audit; ``purpose`` "consensus" / "reference" opens the
        coach's adjudication or calibration reference audit instead
        (auditdesk.review.adjudication)."""
        with db.transaction() as session:
            version = snapshot_checklist(session, checklist)
            audit = store.open_audit(
                session, study_pk, reviewer_pk, version.id, blinded=blinded, purpose=purpose
            )
            save_computed_score(session, audit.id)
            return cls(db, audit.id, reviewer_pk)

    def _after_change(self, session: Session) -> None:
        save_computed_score(session, self.audit_pk, reviewer_pk=self.reviewer_pk)

    def checklist(self) -> Checklist:
        """The checklist version this audit's answers are checked against."""
        with self.db.session() as session:
            return audit_checklist(session, self.audit_pk)

    def answer_all(self, answers: Iterable[tuple[str, Any]]) -> int:
        """Several answers as one change (one commit, one score); returns how many changed.

        All are checked first: one refused answer (``InvalidAnswerError``, naming every
        refused key with what is valid) writes none of them.
        """
        with self._tx() as session:
            checked = check_answers(audit_checklist(session, self.audit_pk), answers)
            changes = [
                store.set_answer(session, self.audit_pk, key, value, self.reviewer_pk)
                for key, value in checked.items()
            ]
            return sum(change is not None for change in changes)

    def complete(self) -> ScoreResult:
        """Mark the audit complete; refused while required answers are missing."""
        with self.db.transaction() as session:
            result = compute_score(session, self.audit_pk)
            _refuse_incomplete(result)
            store.set_status(session, self.audit_pk, "complete", self.reviewer_pk)
            return result
