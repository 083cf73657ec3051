"""The coach's actions of the main window: reviewer agreement, disagreements and consensus,
calibration sets (recording reference answers) and showing every read of an exam.

Separate from ``main_window`` so the window only wires menus; these open the review role's
windows and drive the image area for them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QWidget
from sqlalchemy import select

from auditdesk.reading.measure import Measurement
from auditdesk.store.audits import audit_state
from auditdesk.ui.common.menus import MenuEntry
from auditdesk.ui.reading.audit_panel import drawable_measurements

#: The coach's menu entries (after the team leader's in Reports).
REVIEW_MENU = (
    MenuEntry(
        "Re&ports",
        "Reviewer &agreement…",
        "show_agreement",
        attr="agreement_action",
        shortcut="Ctrl+Shift+A",
        tip="Kappa, AC1, alpha, ICC per item; reviewer matrix; trend; calibration; packages",
    ),
    MenuEntry(
        "Re&ports",
        "&Disagreements and consensus…",
        "show_adjudication",
        attr="adjudication_action",
    ),
    MenuEntry("Re&ports", "&Calibration sets…", "show_calibration", attr="calibration_action"),
)


class ReviewActionsMixin:
    """Reports menu entries of the coach (agreement, adjudication, calibration).

    A mixin of ``MainWindow``: it uses the window's widgets and state.
    """

    def show_agreement(self) -> QWidget:
        """Reports → Reviewer agreement (learning mode shows the current reviewer their own
        calibration results)."""
        from auditdesk.ui.review.agreement_window import AgreementWindow

        reviewer_pk = self.reviewer.id if self.reviewer is not None else None
        return self._single_window(
            "agreement_window", lambda: AgreementWindow(self.db, self, reviewer_pk=reviewer_pk)
        )

    def show_adjudication(self) -> QWidget:
        """Reports → Disagreements and consensus; "Open images" shows every read here."""
        from auditdesk.ui.review.adjudication import AdjudicationWindow

        def make() -> QWidget:
            coach_pk = self.reviewer.id if self.reviewer is not None else None
            window = AdjudicationWindow(self.db, self, coach_pk=coach_pk)
            window.open_exam_requested.connect(self.show_exam_reads)
            return window

        return self._single_window("adjudication_window", make)

    def show_calibration(self) -> QDialog:
        """Reports → Calibration sets…: create sets; record the reference answers here."""
        from auditdesk.ui.review.calibration_dialog import CalibrationDialog

        coach_pk = self.reviewer.id if self.reviewer is not None else None
        dialog = CalibrationDialog(self.db, self, coach_pk=coach_pk, blinded=self.blinded)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.reference_requested.connect(self.record_reference)
        dialog.open()
        return dialog

    def record_reference(self, set_id: int) -> int | None:
        """Open the set's next exam without a complete reference from this coach, with the form
        on the reference audit; Ctrl+Return goes on to the next such exam."""
        from auditdesk.review.adjudication import calibration_set
        from auditdesk.store.models import Audit

        if self.require_reviewer() is None or self.reviewer is None:
            return None
        with self.db.session() as session:
            info = calibration_set(session, set_id)
            done = set(
                session.scalars(
                    select(Audit.study_pk).where(
                        Audit.purpose == "reference",
                        Audit.reviewer_pk == self.reviewer.id,
                        Audit.checklist_id == info.checklist_id,
                        Audit.status == "complete",
                        Audit.study_pk.in_(info.study_pks),
                    )
                )
            )
        todo = [pk for pk in info.study_pks if pk not in done]
        if not todo:
            self._reference_set = None
            self.statusBar().showMessage(
                f"Every exam of “{info.name}” has your reference answers.", 10000
            )
            return None
        self.open_exam(todo[0], reference_set=set_id)
        self.statusBar().showMessage(
            f"Reference answers for “{info.name}”: exam {len(done) + 1} of {len(info.study_pks)}.",
            10000,
        )
        return todo[0]

    def show_exam_reads(self, study_pk: int, audit_pks: list[int]) -> None:
        """An exam as the readers saw it: its images with every read's measurements drawn
        (read-only). The checklist form is closed: decisions are made in the consensus window."""
        study = self._studies.get(study_pk)
        if study is None:
            self.refresh()
            study = self._studies.get(study_pk)
            if study is None:
                return
        self._reads = list(audit_pks)
        self.exam = None
        self.audit_panel.open_exam(None, None, blinded=self.blinded)
        self.audit_panel.form.close_audit(
            "Comparing reads: each reader's measurements are drawn on the images; decide in "
            "the Disagreements and consensus window."
        )
        self._select_study_row(study_pk)
        if study.kind == "mammo":
            self.show_hanging(study)
        elif study.kind == "mr":
            self.show_mr(study)
        self._draw_reads()

    def _draw_reads(self) -> None:
        """Draw the measurements of the reads being compared (all of them, read-only)."""
        if not self._reads or self.central.currentWidget() is not self.hanging_view:
            return
        by_member: dict[str, list[tuple[Measurement, str | None]]] = {}
        with self.db.session() as session:
            for audit_pk in self._reads:
                state = audit_state(session, audit_pk, include_history=False)
                for member, items in drawable_measurements(state).items():
                    by_member.setdefault(member, []).extend(items)
        self._draw_on_hanging(by_member, editable=False)
