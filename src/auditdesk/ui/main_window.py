"""The main window: the audit workstation.

Worklist and study tree on the left, the images in the middle (one image, the mammography 2x2
hanging, or the MR layout), the checklist form of the open exam on the right. This module only
builds the window (docks, toolbars, status bar) and wires the menus, built from per-role tables
(``ui/common/menus.py``), to the role parts, which MainWindow takes in as mixins: importing
(``ui/common/importing.py``), the reviewer (``ui/common/reviewer_actions.py``), the study tree
(``ui/reading/study_tree.py``), the image area (``ui/reading/reading_area.py``), moving through
exams (``ui/reading/exam_flow.py``), the team leader's actions (``ui/qi/actions.py``) and the
coach's (``ui/review/actions.py``). The widgets themselves live in their own modules
(``hanging_view``, ``mr_view``, ``audit_panel``, ``worklist``, ``qi_window``...).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QToolBar,
    QTreeView,
    QWidget,
)

from auditdesk.checklists.loader import LoadResult, load_all
from auditdesk.dicom.index import ImportSummary
from auditdesk.dicom.loader import DisplayLoader, LoadedImage
from auditdesk.reading.window_presets import UserPresets
from auditdesk.runtime import app_settings
from auditdesk.store.catalog import ImageSummary, SeriesSummary, StudySummary
from auditdesk.store.db import Database
from auditdesk.ui.common import setting_bool, settings
from auditdesk.ui.common.checklists import ChecklistsDialog, error_summary
from auditdesk.ui.common.database_dialogs import open_backups
from auditdesk.ui.common.database_page import open_database_settings
from auditdesk.ui.common.importing import ImportingMixin, ImportWorker
from auditdesk.ui.common.keys import show_keys
from auditdesk.ui.common.memory_dialog import open_image_memory
from auditdesk.ui.common.menus import MenuEntry, build_menus, separator
from auditdesk.ui.common.reviewer_actions import ReviewerMixin
from auditdesk.ui.common.reviewers import CurrentReviewer, ReviewerDialog, active_reviewer
from auditdesk.ui.first_paint import after_first_paint
from auditdesk.ui.qi.actions import QI_MENU, QIActionsMixin
from auditdesk.ui.reading import study_groups
from auditdesk.ui.reading.audit_panel import AuditPanel
from auditdesk.ui.reading.exam_flow import ExamFlowMixin
from auditdesk.ui.reading.hanging_view import MammoHangingView
from auditdesk.ui.reading.mr_view import MRStudyView
from auditdesk.ui.reading.reading_area import ReadingAreaMixin
from auditdesk.ui.reading.study_tree import ROLE_ID, ROLE_KIND, StudyTreeMixin
from auditdesk.ui.reading.viewer import ImageViewport, LoadBridge
from auditdesk.ui.reading.worklist import WorklistPanel
from auditdesk.ui.review.actions import REVIEW_MENU, ReviewActionsMixin

EMPTY_HINT = (
    "No studies indexed yet.\n\nFile → Import folder or DICOMDIR… (Ctrl+I) reads a folder, a CD or "
    "a zip file.\nTo try AuditDesk on synthetic studies, run: auditdesk demo"
)

#: Raised when the docks change, so a layout saved by an older version is not restored.
WINDOW_STATE_VERSION = 2

#: The menu bar, left to right; the role tables below (and in ui/qi, ui/review) fill it.
MENU_ORDER = ("&File", "&View", "&Reviewer", "&Checklists", "&Site", "Re&ports", "&Help")
#: What every reader has: import, export, merges, backups, themes, the reviewer, the checklists.
COMMON_MENU = (
    MenuEntry("&File", "Import &folder or DICOMDIR…", "_import_folder_dialog", shortcut="Ctrl+I"),
    MenuEntry("&File", "Import &zip file…", "_import_zip_dialog"),
    MenuEntry("&File", "Import from &PACS…", "show_pacs_import", attr="pacs_action"),
    MenuEntry("&File", "&Export image as PNG…", "_export_png_dialog", shortcut="Ctrl+E"),
    MenuEntry("&File", "Suggested &merges…", lambda w: study_groups.open_suggestions(w)),
    MenuEntry("&File", "Database &backups…", lambda w: open_backups(w, w.db)),
    MenuEntry("&File", "Data&base server…", lambda w: open_database_settings(w)),
    separator("&File"),
    MenuEntry("&File", "&Quit", "close", shortcut=QKeySequence.StandardKey.Quit),
    MenuEntry("&View", "Dark theme", lambda w: w._set_theme("dark")),
    MenuEntry("&View", "Light theme", lambda w: w._set_theme("light")),
    MenuEntry("&View", "Image &memory…", lambda w: open_image_memory(w)),
    separator("&View"),  # the checkable "Blinded audit" follows (MainWindow._build_menus)
    MenuEntry(
        "&Reviewer",
        "&Switch reviewer…",
        lambda w: w.choose_reviewer(),
        attr="switch_reviewer_action",
        shortcut="Ctrl+R",
    ),
    MenuEntry(
        "&Reviewer", "&Manage reviewers…", "manage_reviewers", attr="manage_reviewers_action"
    ),
    MenuEntry("&Checklists", "&Show checklists…", "show_checklists", attr="show_checklists_action"),
)
HELP_MENU = (MenuEntry("&Help", "&Keyboard keys…", "show_keys", attr="keys_action"),)


class MainWindow(
    ReviewerMixin,
    ImportingMixin,
    StudyTreeMixin,
    ReadingAreaMixin,
    ExamFlowMixin,
    QIActionsMixin,
    ReviewActionsMixin,
    QMainWindow,
):
    """Studies, the image, and who is reviewing.

    ``ask_reviewer=False`` starts without the "Who is reviewing?" prompt (a remembered reviewer
    is still used); scripts and tests that do not record anything use it.
    """

    reviewer_changed = Signal(object)  # CurrentReviewer | None
    first_exam_opened = Signal()  # the start is complete (tree filled, first exam asked for)

    def __init__(
        self,
        db: Database,
        loader: DisplayLoader | None = None,
        *,
        ask_reviewer: bool = True,
        defer_first_exam: bool = False,
    ) -> None:
        """``defer_first_exam``: paint the window first, then fill it (the app start)."""
        super().__init__()
        self.db = db
        self.loader = loader or DisplayLoader(
            workers=2, cache_bytes=app_settings.decode_cache_bytes()
        )
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
        # Until the deferred start has opened the first exam, the worklist taking focus (which
        # makes its top row current) must not open another one first.
        self._starting = defer_first_exam
        self.worklist.study_activated.connect(
            lambda pk: None if self._starting else self.open_exam(pk)
        )
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
        # Chosen now, before the shown worklist takes focus and makes its top row current.
        first = self.worklist.next_study(None)
        if defer_first_exam:
            after_first_paint(self, lambda: self._deferred_start(first))
        else:
            self.open_first_exam(first)

    def _deferred_start(self, first: int | None) -> None:
        # Not when the window was closed in the meantime (its decode processes are gone).
        if self.isVisible():
            self._starting = False
            self.open_first_exam(first)

    def open_first_exam(self, first: int | None) -> None:
        """Fill the study tree and open ``first`` (the first exam to do; None: the newest
        study), so the first thing a user sees is real pixels and a checklist."""
        self.refresh()
        if first is None and self.model.rowCount():
            first = self.model.index(0, 0).data(ROLE_ID)
        if first is not None:
            self.open_exam(first)
        else:
            self.viewport.show_message(EMPTY_HINT)
        self.first_exam_opened.emit()

    # ---------------------------------------------------------------- menus and actions
    def _build_menus(self) -> None:
        """The menu bar from the role tables (common, QI, review); then the checkable entry."""
        menus = build_menus(self, MENU_ORDER, (COMMON_MENU, QI_MENU, REVIEW_MENU, HELP_MENU))
        self.blind_action = QAction("&Blinded audit", self)
        self.blind_action.setCheckable(True)
        self.blind_action.setChecked(self.blinded)
        self.blind_action.setShortcut(QKeySequence("Ctrl+Shift+B"))
        self.blind_action.setToolTip(
            "Hide the technologist (and other reviewers' answers) while auditing"
        )
        self.blind_action.toggled.connect(self.set_blinded)
        menus["&View"].addAction(self.blind_action)

    def _set_theme(self, name: str) -> None:
        from auditdesk.ui.common.theme import apply_theme

        apply_theme(name)
        settings().setValue("theme", name)

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

    def show_keys(self) -> QMessageBox:
        """Help → Keyboard keys… (the table lives in ui/common/keys.py)."""
        return show_keys(self)

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


__all__ = ["ROLE_ID", "ROLE_KIND", "MainWindow"]
