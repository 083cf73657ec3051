"""Who is reviewing, in the main window: choosing, requiring and managing the reviewer and
showing them in the status bar.

Separate from ``main_window`` so the window only wires menus; the dialogs themselves live in
``ui.common.reviewers``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QDialog

from auditdesk.ui.common import settings
from auditdesk.ui.common.reviewers import (
    CurrentReviewer,
    ManageReviewersDialog,
    ReviewerDialog,
    active_reviewer,
)


class ReviewerMixin:
    """The current reviewer of the main window and the Reviewer menu's actions.

    A mixin of ``MainWindow``: it uses the window's widgets and state.
    """

    # ---------------------------------------------------------------- reviewer
    def _set_reviewer(self, reviewer: CurrentReviewer | None, *, remember: bool = True) -> None:
        self.reviewer = reviewer
        if reviewer is None:
            self.reviewer_label.setText("No reviewer chosen: read-only (Ctrl+R to choose)")
            self.reviewer_label.setProperty("problem", True)
        else:
            self.reviewer_label.setText(f"Reviewer: {reviewer.display}")
            self.reviewer_label.setProperty("problem", False)
            if remember:
                settings().setValue("reviewer_id", reviewer.id)
        self.reviewer_label.style().unpolish(self.reviewer_label)
        self.reviewer_label.style().polish(self.reviewer_label)
        self.reviewer_changed.emit(reviewer)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._prompt_at_show:
            self._prompt_at_show = False
            # After the window is on screen, so the dialog sits over it.
            QTimer.singleShot(0, self, lambda: self.choose_reviewer(at_start=True))

    def choose_reviewer(self, *, at_start: bool = False) -> ReviewerDialog:
        """Open "Who is reviewing?" without blocking; the choice becomes the current reviewer."""
        if self.reviewer_dialog is not None and self.reviewer_dialog.isVisible():
            self.reviewer_dialog.raise_()
            self.reviewer_dialog.activateWindow()
            return self.reviewer_dialog
        dialog = ReviewerDialog(
            self.db,
            self,
            current_id=self.reviewer.id if self.reviewer else None,
            at_start=at_start,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._on_reviewer_chosen(dialog))
        dialog.finished.connect(lambda _code: self._forget_dialog(dialog))
        self.reviewer_dialog = dialog
        dialog.open()
        return dialog

    def _forget_dialog(self, dialog: ReviewerDialog) -> None:
        if self.reviewer_dialog is dialog:
            self.reviewer_dialog = None

    def _on_reviewer_chosen(self, dialog: ReviewerDialog) -> None:
        if dialog.chosen is not None:
            self._set_reviewer(dialog.chosen)
            self.statusBar().showMessage(f"{dialog.chosen.name} is reviewing.", 5000)

    def require_reviewer(self) -> CurrentReviewer | None:
        """The current reviewer; asks (blocking) first when there is none. None if cancelled."""
        if self.reviewer is not None:
            return self.reviewer
        dialog = ReviewerDialog(self.db, self)
        self.reviewer_dialog = dialog
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted and dialog.chosen is not None:
                self._set_reviewer(dialog.chosen)
        finally:
            self.reviewer_dialog = None
            dialog.deleteLater()
        return self.reviewer

    def manage_reviewers(self) -> None:
        dialog = ManageReviewersDialog(self.db, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _code: self._recheck_reviewer())
        dialog.open()

    def _recheck_reviewer(self) -> None:
        """A deactivated current reviewer stops being current."""
        if self.reviewer is not None:
            still = active_reviewer(self.db, self.reviewer.id)
            if still != self.reviewer:
                self._set_reviewer(still)
