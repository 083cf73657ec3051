"""Where a mammogram's view came from, in the study tree, and the "Confirm view and side" action.

Kept out of ``main_window.py`` (already long): the tree asks here for an image row's note and
tooltip, the tree's context menu for the confirm action, and ``refresh`` for the exam title of
the open checklist form (which says "please confirm" until a reviewer confirms or corrects).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QStandardItem
from PySide6.QtWidgets import QLabel, QMenu, QMessageBox

from auditdesk.store.catalog import ImageSummary, StudySummary
from auditdesk.store.view_confirm import ConfirmError, confirm_view, evidence_text
from auditdesk.ui.reading.audit_panel import exam_title

if TYPE_CHECKING:
    from auditdesk.ui.main_window import MainWindow


def image_note(image: ImageSummary) -> str:
    """Second tree column of an image: view evidence, then why it is excluded / corrected."""
    parts = [evidence_text(image)]
    if image.is_screening_view is False:
        parts.append(image.exclusion_reason or "not a screening view")
    if image.overridden:
        parts.append("corrected by reviewer")
    return "  ".join(p for p in parts if p)


def image_cells(
    make_item: Callable[[str, str, int], QStandardItem], text: str, image: ImageSummary
) -> list[QStandardItem]:
    """The tree row of an image: its label and note, with the evidence and any disagreeing
    header sources as tooltip."""
    row = [make_item(text, "image", image.id), make_item(image_note(image), "image", image.id)]
    tip = evidence_text(image)
    if image.view_conflict:
        tip += f"\nHeader sources disagree: {image.view_conflict}"
    if image.needs_confirmation:
        tip += "\nRight-click → Confirm view and side, or Correct view…/laterality…"
    for item in row:
        item.setToolTip(tip)
    return row


def add_confirm_action(menu: QMenu, window: MainWindow, kind: str, ident: int) -> None:
    """Tree context menu of a mammogram: "Confirm view and side (LCC)"."""
    entry = window._images.get(ident) if kind == "image" else None
    if entry is None or entry[2].view_source is None:
        return
    image = entry[2]
    act = menu.addAction(f"Confirm view and side ({image.label})")
    act.setEnabled(image.view is not None and image.laterality is not None)
    act.triggered.connect(lambda _=False: confirm_in_gui(window, ident))


def confirm_in_gui(window: MainWindow, image_id: int) -> bool:
    """Record the current reviewer's confirmation; False when nothing was saved."""
    reviewer = window.require_reviewer()
    if reviewer is None:
        window.statusBar().showMessage(
            "Nothing was saved: choose a reviewer first (Reviewer → Switch reviewer…).", 8000
        )
        return False
    try:
        with window.db.transaction() as session:
            confirm_view(session, image_id, reviewer.name)
    except ConfirmError as exc:
        QMessageBox.warning(window, "Not saved", str(exc))
        return False
    window.refresh()
    return True


def study_kind_word(study: StudySummary) -> str:
    """First word of :func:`exam_title` (a reference-set title starts otherwise: kept)."""
    return exam_title(study, blinded=True).split(" ")[0]


def update_exam_title(window: MainWindow) -> None:
    """After a refresh, the open form's exam line follows confirmations and corrections."""
    exam = window.exam
    study = window._studies.get(exam.id) if exam is not None else None
    label = window.audit_panel.form.findChild(QLabel, "form_exam")
    if study is not None and label is not None and label.text().startswith(study_kind_word(study)):
        label.setText(exam_title(study, blinded=window.blinded))
