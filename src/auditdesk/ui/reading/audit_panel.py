"""The audit side of the workstation: which checklist, the reviewer's audit of the open exam,
the keyboard form, and the measurements drawn on the images.

The main window shows images; this panel owns the :class:`AuditSession` of the exam on screen.
Measurements arrive from the viewports (stored-pixel geometry + mm) and are filed under the
checklist's answer keys (``RMLO:pnl_mm``...), in the same transaction as the re-scored result,
so the form's computed suggestions and the live score follow the ruler as it is dragged.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from auditdesk.checklists.loader import LoadResult
from auditdesk.checklists.schema import Checklist
from auditdesk.reading.auditing import AuditingError, AuditSession, stored_checklist
from auditdesk.reading.measure import Measurement
from auditdesk.reading.workstation import (
    PNL_KEY,
    RULER_KEY,
    checklists_for,
    choose_checklist,
    measurement_values,
    modality_of,
)
from auditdesk.review.adjudication import calibration_set, start_reference
from auditdesk.store.audits import AuditError, AuditState, discard_if_blank
from auditdesk.store.catalog import StudySummary
from auditdesk.store.db import Database
from auditdesk.store.models import ChecklistVersion
from auditdesk.ui.reading.checklist_form import ChecklistForm

__all__ = ["AuditPanel", "drawable_measurements", "exam_title"]

#: Answer keys whose measurement geometry is drawn back on the image (one drawing each; the
#: pectoral-to-PNL distance shares the PNL's drawing).
DRAWN_KEYS = (PNL_KEY, RULER_KEY)


def exam_title(study: StudySummary, *, blinded: bool) -> str:
    """'Mammo 2026-03-01 · RCC LCC RMLO LMLO · tech J.S.': no patient data, ever; the
    technologist only when the audit is not blinded; guessed views to confirm named."""
    kind = {"mammo": "Mammo", "mr": "MR"}.get(study.kind, study.modalities or "Exam")
    date = study.procedure_date.isoformat() if study.procedure_date else "no date"
    parts = [f"{kind} {date}"]
    if study.views:
        parts.append(" ".join(study.views))
    guessed = sorted(i.label for s in study.series for i in s.images if i.needs_confirmation)
    if guessed:  # issue 13: a view read from free text or an identifier is a guess
        parts.append(f"please confirm {' '.join(guessed)} (view from text)")
    if not blinded:
        parts.append(f"tech {study.technologist}" if study.technologist else "tech unknown")
    return " · ".join(parts)


class AuditPanel(QWidget):
    """Checklist chooser + :class:`ChecklistForm` for the exam on screen."""

    #: Scope member of the form's current item ("RMLO", "DWI", "EXAM"...).
    member_changed = Signal(str)
    #: The audit of ``study_pk`` was completed (Ctrl+Return in the form).
    completed = Signal(int)
    #: The audit state after it was opened or changed (None: no audit open).
    audit_changed = Signal(object)

    def __init__(self, db: Database, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audit_panel")
        self.db = db
        self._settings = settings
        self.checklists = LoadResult()
        self.study: StudySummary | None = None
        self.session: AuditSession | None = None
        self.checklist: Checklist | None = None
        self.reviewer_pk: int | None = None
        self.blinded = False
        self.reference_set: int | None = None

        self.checklist_combo = QComboBox()
        self.checklist_combo.setObjectName("checklist_combo")
        self.checklist_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the form
        self.checklist_combo.setToolTip(
            "The checklist for this kind of exam (remembered); each checklist is its own audit"
        )
        self.checklist_combo.activated.connect(self._on_checklist_chosen)
        self.checklist_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.checklist_combo.setMinimumContentsLength(16)
        self.form = ChecklistForm()
        self.form.member_changed.connect(self.member_changed)
        self.form.state_changed.connect(self.audit_changed)
        self.form.completed.connect(self._on_completed)

        top = QHBoxLayout()
        top.setContentsMargins(6, 6, 6, 0)
        top.addWidget(QLabel("Checklist:"))
        top.addWidget(self.checklist_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.form, 1)
        self.form.close_audit("Open an exam from the worklist to audit it.")

    # ------------------------------------------------------------------ checklists
    def set_checklists(self, result: LoadResult) -> None:
        """New checklist files were loaded: refill the chooser (the open audit stays)."""
        self.checklists = result
        self._fill_combo()

    def _fill_combo(self) -> None:
        self.checklist_combo.blockSignals(True)
        self.checklist_combo.clear()
        modality = modality_of(self.study) if self.study is not None else None
        for checklist in checklists_for(self.checklists, modality):
            self.checklist_combo.addItem(f"{checklist.title}  (v{checklist.version})", checklist.id)
        if self.checklist is not None:
            index = self.checklist_combo.findData(self.checklist.id)
            if index >= 0:
                self.checklist_combo.setCurrentIndex(index)
        self.checklist_combo.setEnabled(
            self.checklist_combo.count() > 1 and self.reference_set is None
        )
        self.checklist_combo.blockSignals(False)

    def _on_checklist_chosen(self, index: int) -> None:
        checklist_id = self.checklist_combo.itemData(index)
        if self.study is None or not checklist_id:
            return
        modality = modality_of(self.study)
        self._settings.setValue(f"checklist/{modality}", checklist_id)
        self.open_exam(
            self.study, self.reviewer_pk, blinded=self.blinded, reference_set=self.reference_set
        )

    def choose(self, checklist_id: str) -> None:
        """Pick a checklist by id for this kind of exam (as the chooser does)."""
        index = self.checklist_combo.findData(checklist_id)
        if index < 0:
            raise KeyError(checklist_id)
        self.checklist_combo.setCurrentIndex(index)
        self._on_checklist_chosen(index)

    # ------------------------------------------------------------------ the exam's audit
    def open_exam(
        self,
        study: StudySummary | None,
        reviewer_pk: int | None,
        *,
        blinded: bool,
        reference_set: int | None = None,
    ) -> None:
        """Open (or create) the reviewer's audit of ``study``; an explanation instead when
        there is no reviewer, no checklist, or the checklist cannot be used.

        With ``reference_set`` the audit is the coach's reference answers for that calibration
        set (purpose "reference": never counted in the measure or in reviewer agreement).
        """
        self.discard_blank()
        self.study = study
        self.reviewer_pk = reviewer_pk
        self.blinded = blinded
        self.session = None
        self.checklist = None
        self.reference_set = reference_set
        if study is None:
            self._fill_combo()
            self._close("Open an exam from the worklist to audit it.")
            return
        modality = modality_of(study)
        preferred = self._settings.value(f"checklist/{modality}")
        set_name = ""
        if reference_set is not None:
            with self.db.session() as s:
                info = calibration_set(s, reference_set)
            preferred, set_name = info.checklist_id, info.name
        wanted = choose_checklist(self.checklists, modality, str(preferred or "") or None)
        self.checklist = wanted
        self._fill_combo()
        if wanted is None:
            self._close("There is no checklist for this kind of exam (see Checklists).")
            return
        if reviewer_pk is None:
            self._close("Choose who is reviewing (Reviewer → Switch reviewer…, Ctrl+R) to audit.")
            return
        try:
            if reference_set is not None:
                session = start_reference(self.db, reference_set, study.id, reviewer_pk, wanted)
            else:
                session = AuditSession.start(
                    self.db,
                    study_pk=study.id,
                    reviewer_pk=reviewer_pk,
                    checklist=wanted,
                    blinded=blinded,
                )
            state = session.state()
            with self.db.session() as s:
                version = s.get(ChecklistVersion, state.checklist_version_pk)
                # An audit keeps the checklist version it was started with.
                used = stored_checklist(version) if version is not None else wanted
        except (AuditingError, AuditError) as exc:
            self._close(f"This exam cannot be audited with {wanted.title}: {exc}")
            return
        self.session = session
        self.checklist = used
        title = exam_title(study, blinded=blinded)
        if reference_set is not None:
            title = f"REFERENCE ANSWERS for calibration set “{set_name}” · {title}"
        self.form.open_audit(session, used, title=title)
        self.audit_changed.emit(state)

    def discard_blank(self) -> None:
        """Leaving an exam: an audit that was only opened, never answered, is not kept."""
        if self.session is None:
            return
        self.form.close_audit("")  # saves a comment being typed first
        with self.db.transaction() as s:
            discard_if_blank(s, self.session.audit_pk)
        self.session = None

    def _close(self, message: str) -> None:
        self.form.close_audit(message)
        self.audit_changed.emit(None)

    def _on_completed(self) -> None:
        if self.study is not None:
            self.completed.emit(self.study.id)

    def state(self) -> AuditState | None:
        return self.session.state() if self.session is not None else None

    # ------------------------------------------------------------------ measurements
    def record_measurement(
        self, member: str, measurement: Measurement, sop_uid: str | None
    ) -> list[str]:
        """File a finished (or edited) measurement under ``member``'s answer keys; the form
        shows the new values, computed suggestions and score. Returns the keys saved."""
        if self.session is None:
            return []
        values = measurement_values(
            member,
            measurement.kind,
            measurement.value_mm,
            measurement.value_px,
            dict(measurement.extra),
        )
        geometry = measurement.to_geometry()
        if sop_uid is not None:
            geometry["sop_uid"] = sop_uid
        saved = []
        for value in values:
            self.session.measure(
                value.key,
                value_px=value.value_px,
                value_mm=value.value_mm,
                calibration_source=measurement.calibration_source,
                sop_uid=sop_uid,
                geometry=geometry,
            )
            saved.append(value.key)
        self.form.refresh_from_db()
        return saved

    def saved_measurements(self) -> dict[str, list[tuple[Measurement, str | None]]]:
        """The audit's drawable measurements by member ("RMLO" -> [(PNL, its SOP UID)])."""
        state = self.state()
        return drawable_measurements(state) if state is not None else {}


def drawable_measurements(state: AuditState) -> dict[str, list[tuple[Measurement, str | None]]]:
    """An audit's measurements that can be drawn again, by member, with the image's SOP UID
    (one drawing per PNL or ruler; the pectoral-to-PNL distance shares the PNL's drawing)."""
    found: dict[str, list[tuple[Measurement, str | None]]] = {}
    for key, saved in state.measurements.items():
        member, _, item = key.partition(":")
        if item not in DRAWN_KEYS or not isinstance(saved.geometry, dict):
            continue
        try:
            drawn = Measurement.from_geometry(saved.geometry)
        except ValueError:
            continue  # a geometry from a newer version: the number still counts
        found.setdefault(member, []).append((drawn, saved.sop_uid))
    return found
