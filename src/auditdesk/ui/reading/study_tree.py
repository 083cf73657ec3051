"""The study tree of the main window: its model rows, selection, and context menu
(corrections, confirmed views, merge/split).

Separate from ``main_window`` so the window only wires menus; the tree is the reading role's
index of what was imported.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QStandardItem
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox

from auditdesk.store.catalog import (
    OVERRIDABLE,
    ImageSummary,
    OverrideError,
    StudySummary,
    list_studies,
    set_override,
)
from auditdesk.ui.reading import study_groups, view_marks

ROLE_KIND = Qt.ItemDataRole.UserRole + 1
ROLE_ID = Qt.ItemDataRole.UserRole + 2


class StudyTreeMixin:
    """The Studies tree: filling it, following its selection, and its context menu.

    A mixin of ``MainWindow``: it uses the window's widgets and state.
    """

    # ---------------------------------------------------------------- study tree
    def refresh(self) -> None:
        """Reload the study tree and the worklist from the database."""
        with self.db.session() as session:
            studies = list_studies(session)
        self._studies = {s.id: s for s in studies}
        self._images.clear()
        self.model.removeRows(0, self.model.rowCount())
        root = self.model.invisibleRootItem()
        suggested = study_groups.suggestion_marks(studies)
        for study in studies:
            date = study.procedure_date.isoformat() if study.procedure_date else "no date"
            kind = {"mammo": "Mammo", "mr": "MR"}.get(study.kind, study.modalities or "Other")
            item = self._item(f"{date}  {kind}", "study", study.id)
            details = " ".join(study.views) or (study.description or "")
            if self.blinded:
                tech = "tech hidden (blinded)"
            else:
                tech = f"tech {study.technologist}" if study.technologist else "tech unknown"
            row = [item, self._item(f"{details}  ·  {tech}", "study", study.id)]
            study_groups.mark_suggested(row[1], study.id, suggested)  # never merged silently
            root.appendRow(row)
            for series in study.series:
                label = series.description or f"Series {series.series_number or ''}"
                role = series.role_text
                if series.presentation_intent == "FOR PROCESSING":
                    role += " FOR PROCESSING"
                s_item = self._item(label, "series", series.id)
                role_label = f"{role}  ({len(series.images)} img)".strip()
                r_item = self._item(role_label, "series", series.id)
                r_item.setToolTip("\n".join(series.role_reasons))  # the evidence for the role
                item.appendRow([s_item, r_item])
                for image in series.images:
                    self._images[image.id] = (study, series, image)
                    text = self._image_text(study, image)
                    s_item.appendRow(view_marks.image_cells(self._item, text, image))
        view_marks.update_exam_title(self)
        self.tree.expandToDepth(0)
        self.tree.setColumnWidth(0, 230)
        self.worklist.merge_suggestions = {
            pk: tuple(group.study_ids) for pk, group in suggested.items()
        }
        self.worklist.refresh()
        self.statusBar().showMessage(f"{len(studies)} studies indexed")

    @staticmethod
    def _image_text(study: StudySummary, image: ImageSummary) -> str:
        """RMLO for mammograms; slice number in spatial order (and position) for MR."""
        if study.kind == "mammo":
            return image.label
        if image.slice_order is None:
            return f"Image {image.instance_number or ''}".strip()
        text = f"Slice {image.slice_order + 1}"
        if image.slice_position_mm is not None:
            text += f"  ({image.slice_position_mm:.1f} mm)"
        if image.temporal_position:
            text += f"  t{image.temporal_position}"
        if image.b_values:
            text += "  b" + "/".join(f"{b:g}" for b in image.b_values)
        return text

    @staticmethod
    def _item(text: str, kind: str, ident: int) -> QStandardItem:
        item = QStandardItem(text)
        item.setData(kind, ROLE_KIND)
        item.setData(ident, ROLE_ID)
        return item

    def _first_image(self, kind: str, ident: int) -> int | None:
        if kind == "image":
            return ident
        candidates = [
            (study, series, img)
            for study, series, img in self._images.values()
            if (kind == "study" and study.id == ident) or (kind == "series" and series.id == ident)
        ]
        if not candidates:
            return None
        # Prefer a screening view (RCC first) or the middle slice of an MR series.
        order = {"RCC": 0, "LCC": 1, "RMLO": 2, "LMLO": 3}
        candidates.sort(
            key=lambda t: (
                not t[2].is_screening_view,
                order.get(t[2].label, 9),
                t[1].series_number or 0,
                t[2].slice_order or 0,
            )
        )
        study, series, _ = candidates[0]
        if study.kind == "mr":
            same = [c for c in candidates if c[1].id == series.id]
            return same[len(same) // 2][2].id
        return candidates[0][2].id

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        kind = current.data(ROLE_KIND)
        ident = current.data(ROLE_ID)
        if kind is None:
            return
        if kind in ("study", "series"):
            study = self._study_of(kind, ident)
            if study is not None and study.kind in ("mammo", "mr"):
                self.open_exam(study.id)
                return
        self._set_extras(None)
        if kind == "image" and ident in self._images:
            study = self._images[ident][0]
            if self.exam is None or self.exam.id != study.id:
                self._open_audit(study)
        image_id = self._first_image(kind, ident)
        if image_id is None:
            self.central.setCurrentWidget(self.viewport)
            self.viewport.show_message("This series has no images.")
            return
        self.show_image(image_id)

    def _study_of(self, kind: str, ident: int) -> StudySummary | None:
        if kind == "study":
            return self._studies.get(ident)
        for study in self._studies.values():
            if any(series.id == ident for series in study.series):
                return study
        return None

    def select_image(self, image_id: int) -> None:
        """Select an image row in the tree (as a click would)."""
        for row in range(self.model.rowCount()):
            study_item = self.model.item(row)
            for s_row in range(study_item.rowCount()):
                s_item = study_item.child(s_row)
                for i_row in range(s_item.rowCount()):
                    item = s_item.child(i_row)
                    if item.data(ROLE_ID) == image_id:
                        self.tree.setCurrentIndex(item.index())
                        return

    # ---------------------------------------------------------------- overrides
    def _context_menu(self, pos: QPoint) -> None:
        index = self.tree.indexAt(pos)
        kind, ident = index.data(ROLE_KIND), index.data(ROLE_ID)
        if kind == "study" and ident in self._studies:  # merge / split (ui.study_groups)
            menu = study_groups.study_menu(self, self._studies[ident])
            menu.exec(self.tree.viewport().mapToGlobal(pos))
            return
        if kind not in OVERRIDABLE:
            return
        menu = QMenu(self)
        for field_name in OVERRIDABLE[kind]:
            act = menu.addAction(f"Correct {field_name}…")
            act.triggered.connect(lambda _=False, f=field_name: self.ask_override(kind, ident, f))
        view_marks.add_confirm_action(menu, self, kind, ident)
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def ask_override(self, target: str, ident: int, field_name: str) -> None:
        """Context menu "Correct …": attributed to the current reviewer (asked for if none)."""
        if self.require_reviewer() is None:
            self.statusBar().showMessage(
                "Nothing was saved: choose a reviewer first (Reviewer → Switch reviewer…).", 8000
            )
            return
        choices = ["auto", *OVERRIDABLE[target][field_name]]
        value, ok = QInputDialog.getItem(
            self, f"Correct {field_name}", f"{field_name.title()}:", choices, 0, False
        )
        if not ok:
            return
        reason, _ = QInputDialog.getText(self, "Reason", "Why (optional):")
        try:
            self.record_override(target, ident, field_name, value, reason or None)
        except OverrideError as exc:
            QMessageBox.warning(self, "Not saved", str(exc))

    def record_override(
        self, target: str, ident: int, field_name: str, value: str, reason: str | None = None
    ) -> bool:
        """Save a correction under the current reviewer's name; False (nothing saved) if the
        user declines to choose a reviewer."""
        reviewer = self.require_reviewer()
        if reviewer is None:
            return False
        self.apply_override(target, ident, field_name, value, reviewer.name, reason)
        return True

    def apply_override(
        self, target: str, ident: int, field_name: str, value: str, reviewer: str,
        reason: str | None = None,
    ) -> None:  # fmt: skip
        with self.db.transaction() as session:
            set_override(
                session,
                target=target,
                target_id=ident,
                field_name=field_name,
                value=None if value == "auto" else value,
                reviewer=reviewer,
                reason=reason,
            )
        self.refresh()

    def _reselect(self, kind: str, ident: int) -> None:
        def walk(parent: QStandardItem) -> QStandardItem | None:
            for row in range(parent.rowCount()):
                child = parent.child(row)
                if child.data(ROLE_KIND) == kind and child.data(ROLE_ID) == ident:
                    return child
                found = walk(child)
                if found is not None:
                    return found
            return None

        item = walk(self.model.invisibleRootItem())
        if item is not None:
            self.tree.setCurrentIndex(item.index())

    def _select_study_row(self, study_pk: int) -> None:
        """Select the study in the tree without the tree opening it a second time."""
        for row in range(self.model.rowCount()):
            index = self.model.index(row, 0)
            if index.data(ROLE_ID) == study_pk:
                model = self.tree.selectionModel()
                model.blockSignals(True)
                try:
                    self.tree.setCurrentIndex(index)
                finally:
                    model.blockSignals(False)
                self.tree.scrollTo(index)
                return
