"""The image area of the main window: hosting the single viewport, the mammography hanging
and the MR layout, the Window (VOI) presets, the measuring tools and PNG export.

Separate from ``main_window`` so the window only wires menus; this is what a reader looks at.
"""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from auditdesk.dicom.display import VOIPreset
from auditdesk.dicom.loader import LoadedImage, result_of
from auditdesk.dicom.reduced import may_have_preview
from auditdesk.dicom.sources import Location
from auditdesk.reading.hanging import MAMMO_SLOTS, hang_mammo
from auditdesk.reading.measure import Measurement
from auditdesk.reading.window_presets import USER_MARK, PresetError
from auditdesk.store.catalog import ImageSummary, StudySummary
from auditdesk.ui.common import settings
from auditdesk.ui.reading.viewer import ImageViewport


class ReadingAreaMixin:
    """Which images are shown, how they are windowed, and what is measured on them.

    A mixin of ``MainWindow``: it uses the window's widgets and state.
    """

    def _export_png_dialog(self) -> None:
        if self.central.currentWidget() is not self.viewport:
            self.statusBar().showMessage("Select one image row to export it.", 5000)
            return
        if self.viewport.array is None:
            self.statusBar().showMessage("No image is shown.", 5000)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export image", "image.png", "PNG (*.png)")
        if path:
            self.export_png(path)

    def export_png(self, path: str) -> bool:
        """Save the image exactly as shown (windowed, hung), for reports and teaching files."""
        array = self.viewport.full_array()
        if array is None:
            return False
        array = np.ascontiguousarray(array)
        rows, cols = array.shape[:2]
        fmt = QImage.Format.Format_RGB888 if array.ndim == 3 else QImage.Format.Format_Grayscale8
        image = QImage(array.data, cols, rows, array.strides[0], fmt)
        ok = image.save(path, "PNG")
        if not ok:
            QMessageBox.warning(self, "Not saved", f"The image could not be written to {path}.")
        else:
            self.statusBar().showMessage(f"Saved {path}", 5000)
        return ok

    # ---------------------------------------------------------------- display
    def show_hanging(self, study: StudySummary) -> None:
        """The 2x2 screening hanging of a mammography study (slots chosen by hang_mammo)."""
        self._request += 1  # a single image still decoding is stale now
        self._current_image_id = None
        self._current = None
        self.voi_combo.clear()
        self._hanging_active = None
        self.central.setCurrentWidget(self.hanging_view)
        hanging = hang_mammo(study)
        self.hanging_view.show_hanging(study, hanging, show_technologist=not self.blinded)
        self._set_extras(study, hanging.extras)
        missing = hanging.missing
        note = f"missing {', '.join(missing)}" if missing else "4 views"
        n_extra = len(hanging.extras)
        extra = f" · {n_extra} more image{'s' * (n_extra != 1)} under Show" if n_extra else ""
        self.statusBar().showMessage(f"Mammography hanging: {note}{extra}")

    def _set_extras(
        self, study: StudySummary | None, extras: list[ImageSummary] | None = None
    ) -> None:
        """Fill the Show list: the hanging first, then each image not hung (with why)."""
        self.extras_combo.clear()
        self._extras_study = study
        if study is None or not extras:
            self._extras_action.setVisible(False)
            self._extras_combo_action.setVisible(False)
            return
        self.extras_combo.addItem("4-view hanging", None)
        for image in extras:
            why = image.exclusion_reason or (
                "not a screening view" if image.is_screening_view is False else "extra image"
            )
            mods = " ".join(image.modifiers)
            text = f"{image.label} {mods}".strip() + f"  —  {why}"
            self.extras_combo.addItem(text, image.id)
        self._extras_action.setVisible(True)
        self._extras_combo_action.setVisible(True)

    def _on_extra_chosen(self, index: int) -> None:
        image_id = self.extras_combo.itemData(index)
        study = self._extras_study
        if image_id is None:
            if study is not None:
                extras_index = index
                self.show_hanging(study)
                self.extras_combo.setCurrentIndex(extras_index)
            return
        self.show_image(int(image_id))

    def show_extra(self, image_id: int) -> None:
        """Show one of the hanging's extra images alone (as choosing it under Show does)."""
        index = self.extras_combo.findData(image_id)
        if index < 0:
            raise KeyError(image_id)
        self.extras_combo.setCurrentIndex(index)
        self._on_extra_chosen(index)

    def show_mr(self, study: StudySummary) -> None:
        """The MR layout of a prostate study (T2W, DWI, ADC, DCE by role)."""
        self._request += 1
        self._current_image_id = None
        self._current = None
        self.voi_combo.clear()
        self._set_extras(None)
        self.central.setCurrentWidget(self.mr_view)
        self.mr_view.show_study(self.db, study.id)
        labels = ", ".join(s.label for s in self.mr_view.stacks) or "no series"
        self.statusBar().showMessage(f"MR: {labels}")

    def _on_mr_loaded(self) -> None:
        if self.central.currentWidget() is not self.mr_view:
            return
        shown = self.mr_view.shown_image(self.mr_view.active)
        if shown is not None and shown is not self.last_loaded:
            # Refill the Window list only when the active image changed (this signal also comes
            # after every prefetched neighbour while scrolling).
            self.last_loaded = shown
            self._on_mr_active_changed(self.mr_view.active)

    def _on_mr_active_changed(self, index: int) -> None:
        """The Window list follows the active MR viewport."""
        result = self.mr_view.shown_image(index)
        viewport = self.mr_view.viewports[index]
        if result is None:
            self.voi_combo.clear()
            return
        self._fill_voi_combo(result, viewport.voi.name if viewport.voi else None)

    def _on_hanging_loaded(self) -> None:
        if self.central.currentWidget() is not self.hanging_view:
            return
        hung = self.hanging_view.study
        if self.exam is None and self._reads:
            self._draw_reads()
        elif hung is not None and self.exam is not None and hung.id == self.exam.id:
            self._draw_saved_measurements()  # else the audit of this exam opens next and draws
        results = list(self.hanging_view.results.values())
        shown = [r for r in results if isinstance(r, LoadedImage)]
        if shown:
            self.last_loaded = shown[0]
        elif results:
            self.last_loaded = results[0]
        if self._hanging_active is None:
            # The Window list starts on the view the checklist asks about (else the first).
            drawn = [
                slot
                for slot in MAMMO_SLOTS
                if isinstance(self.hanging_view.results.get(slot), LoadedImage)
            ]
            current = self.hanging_view.current_slot
            if drawn:
                self._on_hanging_viewport_activated(current if current in drawn else drawn[0])

    def show_image(self, image_id: int, voi_name: str | None = None) -> None:
        study, _series, image = self._images[image_id]
        self.central.setCurrentWidget(self.viewport)
        self._current_image_id = image_id
        self._request += 1
        request = self._request
        self.viewport.show_message(f"Loading {image.label if study.kind == 'mammo' else ''}…")
        loc = Location(image.path, image.archive_member)
        size = self.viewport.size()
        target = max(512, int(max(size.width(), size.height()) * self.devicePixelRatioF()))
        if (
            voi_name is None
            and may_have_preview(image.transfer_syntax_uid, image.rows, image.columns, target)
            and not self.loader.cached(loc, 0, None)
        ):
            # JPEG 2000: a reduced level first (queued before the full decode), then the swap.
            preview = self.loader.submit_preview(loc, 0, target)
            preview.add_done_callback(
                lambda fut: self._bridge.loaded.emit((request, "preview"), result_of(fut))
            )
        future: Future[LoadedImage] = self.loader.submit(loc, 0, voi_name)

        future.add_done_callback(lambda fut: self._bridge.loaded.emit(request, result_of(fut)))

    def _on_preview(self, request: int, result: object) -> None:
        """A reduced first paint of the single image (dropped once the full one is up)."""
        if request != self._request or self._current_image_id is None:
            return
        if not isinstance(result, LoadedImage) or getattr(self, "_full_request", None) == request:
            return
        study, series, image = self._images[self._current_image_id]
        label = image.label if study.kind == "mammo" else (series.role or series.description or "")
        self.viewport.show_loaded(result, result.transform, label=label)
        self.viewport.set_view_kind(image.view if study.kind == "mammo" else None)

    def _on_loaded(self, request: int | tuple[int, str], result: object) -> None:
        if isinstance(request, tuple):
            self._on_preview(request[0], result)
            return
        if request != self._request or self._current_image_id is None:
            return  # the user moved on; drop the stale frame
        self._full_request = request  # a preview of this request arriving late is dropped
        study, series, image = self._images[self._current_image_id]
        if isinstance(result, Exception):
            self._current = None
            self.viewport.show_message(f"This image cannot be shown: {result}")
            self.last_loaded = result
            return
        assert isinstance(result, LoadedImage)
        self._current = result
        disp = result.display
        cal = result.calibration
        label = image.label if study.kind == "mammo" else (series.role or series.description or "")
        spacing = f"pixel {cal.col_mm:.3f} {cal.source.label}" if cal.col_mm else cal.source.label
        info = spacing  # the viewport puts the window (and "inverted") in front
        if image.lossy:
            info += " · LOSSY COMPRESSED: not for primary interpretation"
        if self.viewport.is_preview:  # keeps the window, zoom and measurements shown
            self.viewport.swap_in_full(result, result.transform, label=label, info=info)
        else:
            self.viewport.show_loaded(result, result.transform, label=label, info=info)
        self.viewport.set_view_kind(image.view if study.kind == "mammo" else None)
        shown_voi = self.viewport.voi or disp.voi
        self._fill_voi_combo(result, shown_voi.name)
        self.statusBar().showMessage(f"{study.kind} · {label} · {disp.voi.source}")
        self.last_loaded = result

    def active_viewport(self) -> ImageViewport | None:
        """The viewport the Window presets apply to: the single one, or the focused hanging slot."""
        if self.central.currentWidget() is self.viewport:
            return self.viewport
        if self.central.currentWidget() is self.mr_view:
            return self.mr_view.viewports[self.mr_view.active]
        return self._hanging_active

    def _on_hanging_viewport_activated(self, slot: str) -> None:
        """A click in a hanging slot: the Window combo now lists that image's presets."""
        self._hanging_active = self.hanging_view.viewports[slot]
        result = self.hanging_view.results.get(slot)
        voi = self._hanging_active.voi
        if isinstance(result, LoadedImage):
            self._fill_voi_combo(result, voi.name if voi is not None else None)
        else:
            self.voi_combo.clear()

    def _all_presets(self, result: LoadedImage) -> list[VOIPreset]:
        """The file's windows, the computed default, then the user's presets for the modality."""
        user = [p.to_voi() for p in self.user_presets.for_modality(result.modality)]
        return [*result.presets, *user]

    def _fill_voi_combo(self, result: LoadedImage, current: str | None) -> None:
        self.voi_combo.clear()
        for preset in self._all_presets(result):
            self.voi_combo.addItem(preset.name)
            self.voi_combo.setItemData(
                self.voi_combo.count() - 1, preset.source, Qt.ItemDataRole.ToolTipRole
            )
        if current:
            self.voi_combo.setCurrentText(current)

    def _result_for(self, viewport: ImageViewport) -> LoadedImage | None:
        if viewport is self.viewport:
            return self._current
        for index, vp in enumerate(self.mr_view.viewports):
            if vp is viewport:
                return self.mr_view.shown_image(index)
        for slot, vp in self.hanging_view.viewports.items():
            result = self.hanging_view.results.get(slot)
            if vp is viewport and isinstance(result, LoadedImage):
                return result
        return None

    def _presets_for(self, viewport: ImageViewport) -> list[VOIPreset]:
        result = self._result_for(viewport)
        return self._all_presets(result) if result is not None else []

    def _save_preset_dialog(self) -> None:
        target = self.active_viewport()
        result = self._result_for(target) if target is not None else None
        voi = target.voi if target is not None else None
        if result is None or voi is None or voi.center is None or voi.width is None:
            self.statusBar().showMessage(
                "Choose an image and a window (drag, or a preset) to save it.", 6000
            )
            return
        name, ok = QInputDialog.getText(
            self,
            "Save window",
            f"Name for W {voi.width:.0f} C {voi.center:.0f} on {result.modality or 'this'} images:",
        )
        if ok and name.strip():
            self.save_user_preset(name, target)

    def save_user_preset(self, name: str, viewport: ImageViewport | None = None) -> bool:
        """Keep the window shown in ``viewport`` (default: the active one) as a named preset."""
        target = viewport or self.active_viewport()
        result = self._result_for(target) if target is not None else None
        voi = target.voi if target is not None else None
        if result is None or voi is None or voi.center is None or voi.width is None:
            return False
        function = voi.function if voi.kind == "window" else "LINEAR"
        try:
            preset = self.user_presets.add(result.modality, name, voi.center, voi.width, function)
        except PresetError as exc:
            QMessageBox.warning(self, "Not saved", str(exc))
            return False
        self._fill_voi_combo(result, preset.to_voi().name)
        self.statusBar().showMessage(f"Saved window preset '{preset.name}'.", 5000)
        return True

    def _remove_current_preset(self) -> None:
        target = self.active_viewport()
        result = self._result_for(target) if target is not None else None
        name = self.voi_combo.currentText()
        if result is None or not name.startswith(USER_MARK):
            self.statusBar().showMessage("Choose one of your ★ presets to remove it.", 6000)
            return
        self.user_presets.remove(result.modality, name)
        self._fill_voi_combo(result, target.voi.name if target and target.voi else None)
        self.statusBar().showMessage(f"Removed preset '{name.removeprefix(USER_MARK)}'.", 5000)

    def _on_voi_chosen(self, index: int) -> None:
        if index < 0:
            return
        name = self.voi_combo.itemText(index)
        target = self.active_viewport()
        if target is not None and target.can_rewindow:
            preset = next((p for p in self._presets_for(target) if p.name == name), None)
            if preset is not None:
                target.apply_preset(preset)  # the decoded frame is kept: no second decode
                return
        if self._current_image_id is not None:
            self.show_image(self._current_image_id, name)

    # ---------------------------------------------------------------- measuring
    def _all_viewports(self) -> list[ImageViewport]:
        return [self.viewport, *self.hanging_view.viewports.values(), *self.mr_view.viewports]

    def set_tool(self, name: str) -> None:
        """Window/level, ruler or PNL for every viewport (PNL only where the view is CC/MLO)."""
        self._tool = name
        for viewport in self._all_viewports():
            viewport.set_tool(name if name != "pnl" or viewport.view_kind else "window")
        self.tool_actions[name].setChecked(True)
        hint = {
            "window": "Left-drag: window/level.",
            "ruler": "Ruler: click two points on an image.",
            "pnl": "PNL: on a CC click the nipple, then the chest-wall edge; on an MLO the "
            "nipple, then two points along the pectoral muscle edge (top, then its lower end).",
        }[name]
        self.statusBar().showMessage(hint, 10000)

    def _on_viewport_tool_changed(self, name: str) -> None:
        """A viewport key (M, N, Esc) chose a tool: the toolbar follows."""
        action = self.tool_actions.get(name)
        if action is not None and not action.isChecked():
            action.setChecked(True)

    def _set_sync_zoom(self, on: bool) -> None:
        self.hanging_view.set_sync_zoom(on)
        settings().setValue("sync_zoom", on)

    def _on_measurement(self, slot: str | None, measurement: Measurement) -> None:
        """A finished or edited measurement: saved with the audit under the view's keys."""
        sop_uid = None
        member = slot
        if slot is not None:
            hanging = self.hanging_view.hanging
            choice = hanging.slots.get(slot) if hanging is not None else None
            sop_uid = choice.image.sop_uid if choice and choice.image else None
        elif self._current_image_id is not None:
            _study, _series, image = self._images[self._current_image_id]
            sop_uid = image.sop_uid
            # Only a screening view's numbers count for the view (not a spot or mag image).
            screening = image.label in MAMMO_SLOTS and image.is_screening_view
            member = image.label if screening else None
        text = f"{measurement.kind.replace('_', ' ').upper()} {measurement.value_text()}"
        if member is None or self.audit_panel.session is None:
            why = "no audit is open" if member else "this image is not one of the four views"
            self.statusBar().showMessage(f"{text}: not saved ({why}).", 10000)
            return
        keys = self.audit_panel.record_measurement(member, measurement, sop_uid)
        self.statusBar().showMessage(f"{text} saved as {', '.join(keys)}.", 8000)
        self._focus_form()  # the next thing to do is usually to answer

    def _focus_form(self) -> None:
        if self.audit_panel.session is not None:
            self.audit_panel.form.setFocus(Qt.FocusReason.OtherFocusReason)

    def _draw_saved_measurements(self) -> None:
        """Redraw the audit's saved measurements on the images they were made on."""
        if self.central.currentWidget() is not self.hanging_view:
            return
        self._draw_on_hanging(
            self.audit_panel.saved_measurements(), editable=self.audit_panel.session is not None
        )

    def _draw_on_hanging(
        self, by_member: dict[str, list[tuple[Measurement, str | None]]], *, editable: bool
    ) -> None:
        """Each slot shows the measurements made on its own image (matched by SOP UID)."""
        hanging = self.hanging_view.hanging
        if hanging is None:
            return
        for slot, viewport in self.hanging_view.viewports.items():
            choice = hanging.slots.get(slot)
            if viewport.array is None or choice is None or choice.image is None:
                continue
            sop = choice.image.sop_uid
            items = [m for m, s in by_member.get(slot, []) if s in (None, sop)]
            viewport.show_measurements(items, editable=editable)
