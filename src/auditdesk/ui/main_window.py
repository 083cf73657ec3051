"""The main window: the audit workstation.

Worklist and study tree on the left, the images in the middle (one image, the mammography 2x2
hanging, or the MR layout), the checklist form of the open exam on the right. It wires the
pieces together (opening an exam, next exam with prefetch, measurements saved with the audit,
import, overrides, reviewer) and opens the team leader's and the coach's windows; the pieces
themselves live in their own modules (``hanging_view``, ``mr_view``, ``audit_panel``,
``worklist``, ``qi_window``, ``agreement_window``, ``adjudication``...).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import numpy as np
from PySide6.QtCore import QModelIndex, QPoint, Qt, QThread, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeySequence,
    QShowEvent,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QStackedWidget,
    QToolBar,
    QTreeView,
    QWidget,
)
from sqlalchemy import select

from auditdesk.checklists.loader import LoadResult, load_all
from auditdesk.dicom.display import VOIPreset
from auditdesk.dicom.index import ImportSummary, import_paths
from auditdesk.dicom.loader import DisplayLoader, LoadedImage, result_of
from auditdesk.dicom.sources import Location
from auditdesk.hanging import MAMMO_SLOTS, hang_mammo
from auditdesk.measure import Measurement
from auditdesk.store.audits import AuditState, audit_state
from auditdesk.store.catalog import (
    OVERRIDABLE,
    ImageSummary,
    OverrideError,
    SeriesSummary,
    StudySummary,
    list_studies,
    set_override,
)
from auditdesk.store.db import Database
from auditdesk.ui import study_groups, view_marks
from auditdesk.ui.audit_panel import AuditPanel, drawable_measurements
from auditdesk.ui.checklist_form import key_help
from auditdesk.ui.checklists import ChecklistsDialog, error_summary
from auditdesk.ui.common import setting_bool, settings
from auditdesk.ui.database_dialogs import open_backups
from auditdesk.ui.database_page import open_database_settings
from auditdesk.ui.hanging_view import MammoHangingView
from auditdesk.ui.mr_view import MRStudyView
from auditdesk.ui.reviewers import (
    CurrentReviewer,
    ManageReviewersDialog,
    ReviewerDialog,
    active_reviewer,
)
from auditdesk.ui.viewer import ImageViewport, LoadBridge
from auditdesk.ui.worklist import WorklistPanel
from auditdesk.window_presets import USER_MARK, PresetError, UserPresets
from auditdesk.workstation import prefetch_locations

EMPTY_HINT = (
    "No studies indexed yet.\n\nFile → Import folder or DICOMDIR… (Ctrl+I) reads a folder, a CD or "
    "a zip file.\nTo try AuditDesk on synthetic studies, run: auditdesk demo"
)

#: Raised when the docks change, so a layout saved by an older version is not restored.
WINDOW_STATE_VERSION = 2
ROLE_KIND = Qt.ItemDataRole.UserRole + 1
ROLE_ID = Qt.ItemDataRole.UserRole + 2


class ImportWorker(QThread):
    """Runs an import off the GUI thread; cancel() is polled between files."""

    progressed = Signal(int, int, str)
    finished_summary = Signal(object)
    failed = Signal(str)

    def __init__(self, db: Database, paths: list[str]) -> None:
        super().__init__()
        self.db = db
        self.paths = paths
        self._cancel = False

    def cancel(self) -> None:
        self._cancel = True

    def run(self) -> None:
        try:
            summary = import_paths(
                self.db,
                self.paths,
                progress=lambda d, t, f: self.progressed.emit(d, t, f),
                cancel=lambda: self._cancel,
            )
        except Exception as exc:  # report, never crash the window
            self.failed.emit(str(exc))
            return
        self.finished_summary.emit(summary)


def summary_text(summary: ImportSummary) -> str:
    lines = [
        f"{len(summary.study_uids)} studies, {len(summary.series_uids)} series, "
        f"{summary.usable_images} images ({summary.added} new, {summary.unchanged} unchanged)."
    ]
    if summary.cancelled:
        lines.append("The import was cancelled; what was read so far is saved.")
    for source, message in summary.notes:
        lines.append(f"{source}: {message}")
    if summary.skipped:
        lines.append(f"{len(summary.skipped)} files skipped:")
        lines += [f"  {s.path}: {s.reason}" for s in summary.skipped[:50]]
        if len(summary.skipped) > 50:
            lines.append(f"  ... and {len(summary.skipped) - 50} more (see 'auditdesk import').")
    return "\n".join(lines)


class MainWindow(QMainWindow):
    """Studies, the image, and who is reviewing.

    ``ask_reviewer=False`` starts without the "Who is reviewing?" prompt (a remembered reviewer
    is still used); scripts and tests that do not record anything use it.
    """

    reviewer_changed = Signal(object)  # CurrentReviewer | None

    def __init__(
        self,
        db: Database,
        loader: DisplayLoader | None = None,
        *,
        ask_reviewer: bool = True,
    ) -> None:
        super().__init__()
        self.db = db
        self.loader = loader or DisplayLoader(workers=2)
        self._owns_loader = loader is None
        self._request = 0
        self._studies: dict[int, StudySummary] = {}
        self._images: dict[int, tuple[StudySummary, SeriesSummary, ImageSummary]] = {}
        self._current: LoadedImage | None = None
        self._current_image_id: int | None = None
        self._bridge = LoadBridge()
        self._bridge.loaded.connect(self._on_loaded)
        self.import_worker: ImportWorker | None = None
        self.last_summary: ImportSummary | None = None
        # The latest LoadedImage or decode error; lets tests and scripts wait for a frame.
        self.last_loaded: LoadedImage | Exception | None = None
        self.reviewer: CurrentReviewer | None = None
        # The open "Who is reviewing?" dialog (non-blocking), so tests can drive it with keys.
        self.reviewer_dialog: ReviewerDialog | None = None
        self.checklists_dialog: ChecklistsDialog | None = None
        self.qi_window: QWidget | None = None
        self.agreement_window: QWidget | None = None
        self.adjudication_window: QWidget | None = None
        self._reads: list[int] = []  # audits whose measurements are compared on the images
        self._reference_set: int | None = None  # calibration set whose reference is recorded
        self._prompt_at_show = False
        # Blinded audits hide the technologist (and, later, patient and previous answers).
        self.blinded = setting_bool(settings().value("blinded", False))
        self._extras_study: StudySummary | None = None

        self.setWindowTitle("AuditDesk")
        # One image alone (MR, or an image row) or the 2x2 mammography hanging (study/series).
        self.viewport = ImageViewport()
        self.hanging_view = MammoHangingView(self.loader)
        self.hanging_view.all_slots_loaded.connect(self._on_hanging_loaded)
        self._hanging_active: ImageViewport | None = None
        for slot, slot_viewport in self.hanging_view.viewports.items():
            slot_viewport.activated.connect(lambda s=slot: self._on_hanging_viewport_activated(s))
        # The MR study layout: stacks by role, linked slices, cine, DCE phases.
        self.mr_view = MRStudyView(self.loader)
        self.mr_view.active_changed.connect(self._on_mr_active_changed)
        self.mr_view.all_visible_loaded.connect(self._on_mr_loaded)
        self.central = QStackedWidget()
        self.central.addWidget(self.viewport)
        self.central.addWidget(self.hanging_view)
        self.central.addWidget(self.mr_view)
        self.setCentralWidget(self.central)

        self.model = QStandardItemModel(self)
        self.model.setHorizontalHeaderLabels(["Study / series / image", "Details"])
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setEditTriggers(QTreeView.EditTrigger.NoEditTriggers)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        # Left: the worklist (what to audit) with the full study tree behind it.
        self.worklist = WorklistPanel(db)
        self.worklist.study_activated.connect(self.open_exam)
        self.worklist.set_blinded(self.blinded)
        self.worklist_dock = QDockWidget("Worklist", self)
        self.worklist_dock.setObjectName("worklist_dock")
        self.worklist_dock.setWidget(self.worklist)
        self.worklist_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.worklist_dock)
        dock = QDockWidget("Studies", self)
        dock.setObjectName("studies_dock")
        dock.setWidget(self.tree)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.tabifyDockWidget(self.worklist_dock, dock)
        self.worklist_dock.raise_()
        # Right: the checklist form of the open exam.
        self.audit_panel = AuditPanel(db, settings())
        self.audit_panel.member_changed.connect(self._on_member_changed)
        self.audit_panel.completed.connect(self._on_audit_completed)
        self.audit_panel.audit_changed.connect(self._on_audit_changed)
        self.audit_dock = QDockWidget("Audit", self)
        self.audit_dock.setObjectName("audit_dock")
        self.audit_dock.setWidget(self.audit_panel)
        self.audit_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.audit_dock)
        self.exam: StudySummary | None = None
        self.prefetch_enabled = True
        self._tool = "window"
        for slot, slot_viewport in self.hanging_view.viewports.items():
            slot_viewport.measurement_done.connect(lambda m, s=slot: self._on_measurement(s, m))
        self.viewport.measurement_done.connect(lambda m: self._on_measurement(None, m))

        self.voi_combo = QComboBox()
        self.voi_combo.setMinimumWidth(180)
        self.voi_combo.setToolTip(
            "Window (VOI): the file's own, the computed range, and your ★ presets"
        )
        self.voi_combo.activated.connect(self._on_voi_chosen)
        self.user_presets = UserPresets()
        toolbar = QToolBar("Display", self)
        toolbar.setObjectName("display_toolbar")
        toolbar.addWidget(QLabel(" Window: "))
        toolbar.addWidget(self.voi_combo)
        self.save_preset_action = QAction("Save window…", self)
        self.save_preset_action.setToolTip(
            "Keep the window shown now as your preset for this modality"
        )
        self.save_preset_action.triggered.connect(self._save_preset_dialog)
        toolbar.addAction(self.save_preset_action)
        self.remove_preset_action = QAction("Remove preset", self)
        self.remove_preset_action.setToolTip("Remove the chosen ★ preset (yours)")
        self.remove_preset_action.triggered.connect(self._remove_current_preset)
        toolbar.addAction(self.remove_preset_action)
        toolbar.addSeparator()
        # Images of a mammography study that are not in the 2x2 (spot, magnification, extra
        # views, FOR PROCESSING): shown one at a time, back to the hanging from the same list.
        self.extras_label = QLabel(" Show: ")
        self.extras_combo = QComboBox()
        self.extras_combo.setObjectName("extras_combo")
        self.extras_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.extras_combo.setMinimumContentsLength(22)
        self.extras_combo.setToolTip("The 4-view hanging, or one of the study's other images")
        self.extras_combo.activated.connect(self._on_extra_chosen)
        self._extras_action = toolbar.addWidget(self.extras_label)
        self._extras_combo_action = toolbar.addWidget(self.extras_combo)
        self._set_extras(None)
        self.addToolBar(toolbar)
        self.setAcceptDrops(True)

        tools = QToolBar("Tools", self)
        tools.setObjectName("tools_toolbar")
        self.tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        for name, text, tip in (
            ("window", "Window/level", "Left-drag changes the window (click a viewport, then Esc)"),
            ("ruler", "Ruler", "Measure a distance in mm (click a viewport, then M)"),
            ("pnl", "PNL", "Posterior nipple line on CC or MLO (click a viewport, then N)"),
        ):
            act = QAction(text, self)
            act.setCheckable(True)
            act.setToolTip(tip)
            act.triggered.connect(lambda _=False, n=name: self.set_tool(n))
            group.addAction(act)
            tools.addAction(act)
            self.tool_actions[name] = act
        self.tool_actions["window"].setChecked(True)
        tools.addSeparator()
        self.sync_zoom_action = QAction("Sync zoom", self)
        self.sync_zoom_action.setCheckable(True)
        self.sync_zoom_action.setToolTip(
            "Zoom and pan RMLO with LMLO and RCC with LCC, mirrored about the centre line"
        )
        self.sync_zoom_action.toggled.connect(self._set_sync_zoom)
        self.sync_zoom_action.setChecked(setting_bool(settings().value("sync_zoom", True)))
        self.hanging_view.set_sync_zoom(self.sync_zoom_action.isChecked())
        tools.addAction(self.sync_zoom_action)
        tools.addSeparator()
        self.previous_exam_action = QAction("◀ Previous exam", self)
        self.previous_exam_action.setShortcut(QKeySequence("Ctrl+PgUp"))
        self.previous_exam_action.setToolTip("The exam before this one in the worklist (Ctrl+PgUp)")
        self.previous_exam_action.triggered.connect(self.previous_exam)
        tools.addAction(self.previous_exam_action)
        self.next_exam_action = QAction("Next exam ▶", self)
        self.next_exam_action.setShortcut(QKeySequence("Ctrl+PgDown"))
        self.next_exam_action.setToolTip(
            "The next exam to do in the worklist, already decoded (Ctrl+PgDown)"
        )
        self.next_exam_action.triggered.connect(self.next_exam)
        tools.addAction(self.next_exam_action)
        self.addToolBar(tools)
        for viewport in self._all_viewports():
            viewport.tool_changed.connect(self._on_viewport_tool_changed)
            viewport.leave_requested.connect(self._focus_form)

        self._build_menus()
        self.checklist_warning = QPushButton()
        self.checklist_warning.setObjectName("checklist_warning")
        self.checklist_warning.setFlat(True)
        self.checklist_warning.setCursor(Qt.CursorShape.PointingHandCursor)
        self.checklist_warning.setToolTip("Show the checklists and the lines to fix")
        self.checklist_warning.clicked.connect(self.show_checklists)
        self.checklist_warning.hide()
        self.statusBar().addPermanentWidget(self.checklist_warning)
        self.reviewer_label = QLabel()
        self.reviewer_label.setObjectName("reviewer_label")
        self.reviewer_label.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.statusBar().addPermanentWidget(self.reviewer_label)
        self.statusBar().showMessage("Ready")
        self.resize(1400, 900)
        state = settings()
        restored = False
        if state.value("geometry"):
            self.restoreGeometry(state.value("geometry"))
            restored = self.restoreState(state.value("window_state"), WINDOW_STATE_VERSION)
        if not restored:
            # First start (or a layout from an older version): images get most of the width.
            self.resizeDocks(
                [self.worklist_dock, self.audit_dock], [380, 400], Qt.Orientation.Horizontal
            )
        self.checklists: LoadResult = LoadResult()
        self.reload_checklists()
        self.reviewer_changed.connect(self._on_reviewer_changed)
        remembered = active_reviewer(self.db, state.value("reviewer_id"))
        self._set_reviewer(remembered, remember=False)
        self._prompt_at_show = remembered is None and ask_reviewer
        self.refresh()
        # Open on the first exam to do (else the newest study), so the first thing a user sees
        # is real pixels and a checklist.
        first = self.worklist.next_study(None)
        if first is None and self.model.rowCount():
            first = self.model.index(0, 0).data(ROLE_ID)
        if first is not None:
            self.open_exam(first)
        else:
            self.viewport.show_message(EMPTY_HINT)

    # ---------------------------------------------------------------- menus and actions
    def _menu_action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[..., object],
        *,
        shortcut: QKeySequence | str | None = None,
        tip: str = "",
    ) -> QAction:
        """A menu entry calling ``slot``, with an optional shortcut and tooltip."""
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        add = self._menu_action
        add(file_menu, "Import &folder or DICOMDIR…", self._import_folder_dialog, shortcut="Ctrl+I")
        add(file_menu, "Import &zip file…", self._import_zip_dialog)
        self.pacs_action = add(file_menu, "Import from &PACS…", self.show_pacs_import)
        add(file_menu, "&Export image as PNG…", self._export_png_dialog, shortcut="Ctrl+E")
        add(file_menu, "Suggested &merges…", lambda: study_groups.open_suggestions(self))
        add(file_menu, "Database &backups…", lambda: open_backups(self, self.db))
        add(file_menu, "Data&base server…", lambda: open_database_settings(self))
        file_menu.addSeparator()
        add(file_menu, "&Quit", self.close, shortcut=QKeySequence.StandardKey.Quit)

        view_menu = bar.addMenu("&View")
        for name in ("dark", "light"):
            add(view_menu, f"{name.title()} theme", lambda _=False, n=name: self._set_theme(n))
        view_menu.addSeparator()
        self.blind_action = QAction("&Blinded audit", self)
        self.blind_action.setCheckable(True)
        self.blind_action.setChecked(self.blinded)
        self.blind_action.setShortcut(QKeySequence("Ctrl+Shift+B"))
        self.blind_action.setToolTip(
            "Hide the technologist (and other reviewers' answers) while auditing"
        )
        self.blind_action.toggled.connect(self.set_blinded)
        view_menu.addAction(self.blind_action)

        reviewer_menu = bar.addMenu("&Reviewer")
        self.switch_reviewer_action = add(
            reviewer_menu, "&Switch reviewer…", lambda: self.choose_reviewer(), shortcut="Ctrl+R"
        )
        self.manage_reviewers_action = add(
            reviewer_menu, "&Manage reviewers…", self.manage_reviewers
        )

        checklist_menu = bar.addMenu("&Checklists")
        self.show_checklists_action = add(checklist_menu, "&Show checklists…", self.show_checklists)

        site_menu = bar.addMenu("&Site")
        self.site_setup_action = add(
            site_menu,
            "Site &setup…",
            self.show_site_setup,
            tip="Site, collaborative, goal, technologists (Operators' Name mapping), locations",
        )
        self.sampling_action = add(site_menu, "&Draw a week's sample…", self.show_sampling)

        reports_menu = bar.addMenu("Re&ports")
        self.qi_action = add(
            reports_menu,
            "&Team leader dashboard…",
            self.show_qi_window,
            shortcut="Ctrl+Shift+D",
            tip="Weekly measure, p-chart and run chart, roll-ups, exports and PDF reports",
        )
        self.agreement_action = add(
            reports_menu,
            "Reviewer &agreement…",
            self.show_agreement,
            shortcut="Ctrl+Shift+A",
            tip="Kappa, AC1, alpha, ICC per item; reviewer matrix; trend; calibration; packages",
        )
        self.adjudication_action = add(
            reports_menu, "&Disagreements and consensus…", self.show_adjudication
        )
        self.calibration_action = add(reports_menu, "&Calibration sets…", self.show_calibration)

        help_menu = bar.addMenu("&Help")
        self.keys_action = add(help_menu, "&Keyboard keys…", self.show_keys)

    def _set_theme(self, name: str) -> None:
        from auditdesk.ui.app import apply_theme

        apply_theme(name)
        settings().setValue("theme", name)

    def _import_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import DICOM folder")
        if folder:
            self.start_import([folder])

    def _import_zip_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import zip", "", "Zip files (*.zip)")
        if path:
            self.start_import([path])

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
        array = self.viewport.array
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

    # ---------------------------------------------------------------- checklists
    def reload_checklists(self) -> LoadResult:
        """Read the shipped and site checklists; a bad file is reported, the others load."""
        self._on_checklists_loaded(load_all())
        return self.checklists

    def _on_checklists_loaded(self, result: LoadResult) -> None:
        self.checklists = result
        self.audit_panel.set_checklists(result)
        if result.errors:
            self.checklist_warning.setText("⚠ " + error_summary(result.errors))
            self.checklist_warning.show()
        else:
            self.checklist_warning.hide()

    def show_checklists(self) -> ChecklistsDialog:
        """Checklists → Show checklists…: non-modal, one at a time."""
        if self.checklists_dialog is not None:
            self.checklists_dialog.set_result(self.checklists)
            self.checklists_dialog.show()
            self.checklists_dialog.raise_()
            return self.checklists_dialog
        dialog = ChecklistsDialog(self.checklists, self, reload=load_all)
        dialog.reloaded.connect(self._on_checklists_loaded)
        dialog.finished.connect(lambda _code: setattr(self, "checklists_dialog", None))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.checklists_dialog = dialog
        dialog.show()
        return dialog

    # ---------------------------------------------------------------- import
    def show_pacs_import(self) -> QDialog:
        """File → Import from PACS… (ui/pacs_dialog.py); the tree refreshes after a retrieve."""
        from auditdesk.ui.pacs_dialog import PacsImportDialog

        dialog = PacsImportDialog(self.db, self)
        dialog.imported.connect(lambda _result: self.refresh())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def start_import(self, paths: list[str], *, show_dialog: bool = True) -> ImportWorker:
        """Import off the GUI thread with a progress dialog that can cancel."""
        worker = ImportWorker(self.db, paths)
        self.import_worker = worker
        dialog = QProgressDialog("Reading DICOM headers…", "Cancel", 0, 0, self)
        dialog.setWindowTitle("Import")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.canceled.connect(worker.cancel)

        def on_progress(done: int, total: int, current: str) -> None:
            dialog.setMaximum(total)
            dialog.setValue(done)
            dialog.setLabelText(f"Reading {done} of {total}\n{Path(current).name}")

        def on_done(summary: ImportSummary) -> None:
            dialog.reset()
            self.last_summary = summary
            self.refresh()
            self.statusBar().showMessage(summary_text(summary).splitlines()[0], 10000)
            if show_dialog and (summary.skipped or summary.cancelled or summary.notes):
                box = QMessageBox(self)
                box.setWindowTitle("Import finished")
                box.setText(summary_text(summary).splitlines()[0])
                box.setDetailedText(summary_text(summary))
                box.open()

        def on_failed(message: str) -> None:
            dialog.reset()
            QMessageBox.critical(self, "Import failed", message)

        worker.progressed.connect(on_progress)
        worker.finished_summary.connect(on_done)
        worker.failed.connect(on_failed)
        worker.start()
        return worker

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
        future: Future[LoadedImage] = self.loader.submit(
            Location(image.path, image.archive_member), 0, voi_name
        )

        future.add_done_callback(lambda fut: self._bridge.loaded.emit(request, result_of(fut)))

    def _on_loaded(self, request: int, result: object) -> None:
        if request != self._request or self._current_image_id is None:
            return  # the user moved on; drop the stale frame
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
        self.viewport.show_loaded(result, result.transform, label=label, info=info)
        self.viewport.set_view_kind(image.view if study.kind == "mammo" else None)
        self._fill_voi_combo(result, disp.voi.name)
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
                from auditdesk.mr_layout import build_stacks

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

    # ---------------------------------------------------------------- team leader
    def show_site_setup(self) -> QDialog:
        """Site → Site setup…; the worklist and open audit follow the saved mapping."""
        from auditdesk.ui.site_dialog import SiteDialog

        dialog = SiteDialog(self.db, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self.refresh)
        dialog.open()
        return dialog

    def show_sampling(self) -> QDialog:
        """Site → Draw a week's sample…; the worklist then shows the sample and its progress."""
        from auditdesk.ui.sampling_dialog import SamplingDialog

        reviewer_pk = self.reviewer.id if self.reviewer is not None else None
        dialog = SamplingDialog(self.db, self, reviewer_pk=reviewer_pk)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _code: self.worklist.refresh())
        dialog.open()
        return dialog

    def show_qi_window(self) -> QWidget:
        """Reports → Team leader dashboard: one window, raised when asked for again."""
        from auditdesk.ui.qi_window import QIWindow

        return self._single_window("qi_window", lambda: QIWindow(self.db, self))

    def _single_window(self, attr: str, factory: object) -> QWidget:
        """One window of a kind, raised when asked for again."""
        window = getattr(self, attr)
        if window is None:
            window = factory()  # type: ignore[operator]
            window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            window.destroyed.connect(lambda: setattr(self, attr, None))
            setattr(self, attr, window)
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def show_agreement(self) -> QWidget:
        """Reports → Reviewer agreement (learning mode shows the current reviewer their own
        calibration results)."""
        from auditdesk.ui.agreement_window import AgreementWindow

        reviewer_pk = self.reviewer.id if self.reviewer is not None else None
        return self._single_window(
            "agreement_window", lambda: AgreementWindow(self.db, self, reviewer_pk=reviewer_pk)
        )

    def show_adjudication(self) -> QWidget:
        """Reports → Disagreements and consensus; "Open images" shows every read here."""
        from auditdesk.ui.adjudication import AdjudicationWindow

        def make() -> QWidget:
            coach_pk = self.reviewer.id if self.reviewer is not None else None
            window = AdjudicationWindow(self.db, self, coach_pk=coach_pk)
            window.open_exam_requested.connect(self.show_exam_reads)
            return window

        return self._single_window("adjudication_window", make)

    def show_calibration(self) -> QDialog:
        """Reports → Calibration sets…: create sets; record the reference answers here."""
        from auditdesk.ui.calibration_dialog import CalibrationDialog

        coach_pk = self.reviewer.id if self.reviewer is not None else None
        dialog = CalibrationDialog(self.db, self, coach_pk=coach_pk, blinded=self.blinded)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.reference_requested.connect(self.record_reference)
        dialog.open()
        return dialog

    def record_reference(self, set_id: int) -> int | None:
        """Open the set's next exam without a complete reference from this coach, with the form
        on the reference audit; Ctrl+Return goes on to the next such exam."""
        from auditdesk.adjudication import calibration_set
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

    def show_keys(self) -> QMessageBox:
        """Every key of the checklist form, the image viewports and the MR layout."""
        viewer = [
            ("Click an image", "its keys below apply to it; Esc returns to the checklist"),
            ("Left-drag", "window / level (horizontal: width, vertical: centre)"),
            ("Wheel, middle/right-drag", "zoom about the cursor, pan"),
            ("F / 1 / I / R", "fit / one image pixel per screen pixel / invert / reset"),
            ("M / N / Esc", "ruler / PNL tool / back to window-level"),
            ("Ctrl+PgDown / Ctrl+PgUp", "next / previous exam of the worklist"),
        ]
        mr = [
            ("Up / Down, wheel", "previous / next slice (Shift: 5)"),
            ("Home / End, PgUp / PgDn", "first / last slice, 5 slices"),
            ("Left / Right", "DCE phase"),
            ("Space or C / L", "cine / slice linking on or off"),
        ]

        def table(title: str, rows: list[tuple[str, str]]) -> str:
            body = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
            return f"<h3>{title}</h3><table cellspacing=4>{body}</table>"

        box = QMessageBox(self)
        box.setWindowTitle("Keyboard keys")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(
            table("Checklist form", key_help())
            + table("Images", viewer)
            + table("MR layout (click the MR view first)", mr)
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

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

    # ---------------------------------------------------------------- blinding
    def set_blinded(self, blinded: bool) -> None:
        """Hide the technologist everywhere on screen (tree, overlays) while auditing.

        Patient identifiers are never shown in the first place; other reviewers' answers are
        not shown while a reviewer audits, blinded or not.
        """
        if self.blinded == blinded:
            return
        self.blinded = blinded
        if self.blind_action.isChecked() != blinded:
            self.blind_action.setChecked(blinded)
        settings().setValue("blinded", blinded)
        self.worklist.set_blinded(blinded)
        current = self.tree.currentIndex()
        kind, ident = current.data(ROLE_KIND), current.data(ROLE_ID)
        self.refresh()
        if kind is not None:
            self._reselect(kind, ident)
        if self.exam is not None:
            self._open_audit(self.exam)  # the form's title hides or shows the technologist
        self.statusBar().showMessage(
            "Blinded: the technologist is hidden." if blinded else "Not blinded.", 5000
        )

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

    # ---------------------------------------------------------------- drag and drop
    @staticmethod
    def _dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Folders, zip files, DICOMDIRs or single files dropped on the window are imported."""
        paths = self._dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        if self.import_worker is not None and self.import_worker.isRunning():
            self.statusBar().showMessage("An import is already running; drop again after it.", 8000)
            return
        self.start_import(paths)

    # ---------------------------------------------------------------- lifecycle
    def closeEvent(self, event: QCloseEvent) -> None:
        self.audit_panel.discard_blank()
        state = settings()
        state.setValue("geometry", self.saveGeometry())
        state.setValue("window_state", self.saveState(WINDOW_STATE_VERSION))
        if self.import_worker is not None and self.import_worker.isRunning():
            self.import_worker.cancel()
            self.import_worker.wait(10000)
        if self._owns_loader:
            self.loader.shutdown()
        super().closeEvent(event)


__all__ = ["ImportWorker", "MainWindow"]
