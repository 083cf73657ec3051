"""Moving through exams in the main window: opening an exam with its audit, next/previous
with prefetch, and following the checklist form's progress.

Separate from ``main_window`` so the window only wires menus; this is the reader's work loop.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from auditdesk.dicom.loader import LoadedImage
from auditdesk.reading.hanging import MAMMO_SLOTS
from auditdesk.reading.workstation import prefetch_locations
from auditdesk.store.audits import AuditState
from auditdesk.store.catalog import StudySummary
from auditdesk.ui.common.reviewers import CurrentReviewer


class ExamFlowMixin:
    """Open an exam and its audit; go on to the next exam to do.

    A mixin of ``MainWindow``: it uses the window's widgets and state.
    """

    # ---------------------------------------------------------------- the exam and its audit
    def open_exam(self, study_pk: int, *, reference_set: int | None = None) -> None:
        """Show an exam (2x2 hanging or MR layout), open the reviewer's audit of it in the
        checklist form, and start decoding the next exam of the worklist in the background."""
        study = self._studies.get(study_pk)
        if study is None:
            self.refresh()
            study = self._studies.get(study_pk)
            if study is None:
                return
        self.loader.cancel_prefetch()  # the user went elsewhere: the exam on screen goes first
        self._select_study_row(study_pk)
        self.worklist.select_study(study_pk)
        if study.kind == "mammo":
            self.show_hanging(study)
        elif study.kind == "mr":
            self.show_mr(study)
        else:
            image_id = self._first_image("study", study_pk)
            if image_id is not None:
                self.show_image(image_id)
        self._open_audit(study, reference_set=reference_set)
        self._prefetch_after(study_pk)
        if self.audit_panel.session is not None:
            self.audit_panel.form.setFocus(Qt.FocusReason.OtherFocusReason)

    def _open_audit(self, study: StudySummary, *, reference_set: int | None = None) -> None:
        self._reads = []
        self._reference_set = reference_set
        self.exam = study
        reviewer_pk = self.reviewer.id if self.reviewer is not None else None
        self.audit_panel.open_exam(
            study, reviewer_pk, blinded=self.blinded, reference_set=reference_set
        )
        self._draw_saved_measurements()

    def _prefetch_after(self, study_pk: int) -> None:
        """Decode the next worklist exam's images while this one is audited."""
        if not self.prefetch_enabled:
            return
        upcoming_pk = self._next_to_do(study_pk)
        for pk in [upcoming_pk] if upcoming_pk is not None else []:
            upcoming = self._studies.get(pk)
            if upcoming is None:
                continue
            stacks = None
            if upcoming.kind == "mr":
                from auditdesk.reading.mr_layout import build_stacks

                with self.db.session() as session:
                    stacks = build_stacks(session, upcoming.id)
            self.loader.prefetch(prefetch_locations(upcoming, stacks))

    def next_exam(self) -> int | None:
        """Open the next exam to do in the worklist (its images are usually decoded already)."""
        after = self.exam.id if self.exam is not None else None
        pk = self._next_to_do(after)
        if pk is None:
            self.statusBar().showMessage("No more exams to do in this worklist.", 8000)
            return None
        self.open_exam(pk)
        return pk

    def _next_to_do(self, after: int | None) -> int | None:
        """The next exam not yet complete below ``after``, else from the top (wrapping)."""
        pk = self.worklist.next_study(after)
        if pk is None and after is not None:
            pk = self.worklist.next_study(None)
            if pk == after:
                pk = None
        return pk

    def previous_exam(self) -> int | None:
        after = self.exam.id if self.exam is not None else None
        pk = self.worklist.previous_study(after)
        if pk is None:
            self.statusBar().showMessage("This is the first exam of the worklist.", 5000)
            return None
        self.open_exam(pk)
        return pk

    def exam_loaded(self) -> bool:
        """True once every image of the open exam's layout is drawn (or failed)."""
        widget = self.central.currentWidget()
        if widget is self.hanging_view:
            return self.hanging_view.all_loaded()
        if widget is self.mr_view:
            return self.mr_view.all_loaded()
        return self.last_loaded is not None

    def _on_reviewer_changed(self, reviewer: CurrentReviewer | None) -> None:
        """Another reviewer: their own worklist statuses and their own audit of the exam."""
        self.worklist.set_reviewer(reviewer.id if reviewer is not None else None)
        if self.exam is not None:
            self._open_audit(self.exam)

    def _on_audit_completed(self, study_pk: int) -> None:
        """Ctrl+Return completed the audit: refresh the lists and go on to the next exam (or,
        when recording reference answers, to the calibration set's next exam)."""
        if self._reference_set is not None:
            self.record_reference(self._reference_set)
            return
        self.statusBar().showMessage("Audit complete.", 5000)
        self.worklist.refresh()
        pk = self._next_to_do(study_pk)
        if pk is None:
            self.statusBar().showMessage("Audit complete. No more exams to do in this list.")
            return
        self.open_exam(pk)

    def _on_audit_changed(self, state: object) -> None:
        if not isinstance(state, AuditState) or self._reference_set is not None:
            return  # reference answers do not change anyone's worklist
        started = bool(
            state.answers or state.measurements or state.comment or state.learning_opportunity
        )
        # Only a real start turns the row "in progress" (an audit only opened is discarded).
        if started and self.exam is not None and self.worklist.status_of(self.exam.id) == "to do":
            self.worklist.refresh()

    def _on_member_changed(self, member: str) -> None:
        """The form moved to an item of another view or sequence: show it on the images."""
        if self.central.currentWidget() is self.hanging_view:
            self.hanging_view.set_current_slot(member if member in MAMMO_SLOTS else None)
            if isinstance(self.hanging_view.results.get(member), LoadedImage):
                self._on_hanging_viewport_activated(member)  # its presets in the Window list
        elif self.central.currentWidget() is self.mr_view and member != "EXAM":
            self.mr_view.show_role(member)
