"""The MR study layout: up to four viewports, each showing one stack (T2W, DWI per b-value, ADC,
DCE) of :mod:`auditdesk.reading.mr_layout`, scrolled slice by slice and linked by patient position.

Keys (on the view or on a focused viewport; digits are left to the checklist form, so the layout
is chosen with the header's combo or :meth:`MRStudyView.set_layout`):

* Up / Down, or the wheel: previous / next slice (Shift: 5 slices); PageUp / PageDown: 5 slices;
  Home / End: first / last slice;
* Left / Right: previous / next DCE phase (any stack with more than one image per position);
* Space or C: cine play / pause (8 fps by default; cycles phases on a DCE stack, else slices);
* L: slice linking on / off (on by default: scrolling one stack moves the others to the slice
  nearest by patient coordinates, or the same relative slice for non-parallel planes);
* Ctrl + wheel: zoom; the viewport's own tools keep working: left-drag window/level, middle- or
  right-drag pan, F fit, 1 one-to-one, I invert, R reset.

Decoding goes through the shared :class:`DisplayLoader` process pool. Decoded slices are kept in
a byte-bounded LRU cache and the neighbours of every visible slice are prefetched, so scrolling
over cached slices draws at once without a process hop. A window the reader set is kept while
scrolling; DCE stacks keep the current window numbers across phases and slices, because a
per-image auto window would hide the contrast uptake the reader is judging.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from concurrent.futures import Future

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from auditdesk.dicom.display import VOIPreset
from auditdesk.dicom.loader import DisplayLoader, LoadedImage, result_of
from auditdesk.dicom.orientation import MammoTransform
from auditdesk.dicom.sources import Location
from auditdesk.reading.mr_layout import Slice, Stack, build_stacks, default_layout, linked_slice
from auditdesk.store.db import Database
from auditdesk.ui.reading.viewer import ImageViewport, LoadBridge

__all__ = ["LAYOUTS", "MRStudyView", "SliceCache"]

#: Layout name -> (rows, columns).
LAYOUTS = {"1x1": (1, 1), "1x2": (1, 2), "2x2": (2, 2)}
DEFAULT_CACHE_BYTES = 300 * 1024 * 1024
DEFAULT_CINE_FPS = 8.0
PREFETCH_RADIUS = 3
BIG_STEP = 5
_IDENTITY = MammoTransform(flip_left_right=False, flip_up_down=False)

CacheKey = tuple[Location, int]


def _nbytes(loaded: LoadedImage) -> int:
    display = loaded.display
    total = display.array.nbytes
    if display.stored is not None:
        total += display.stored.nbytes
    return total + 4096  # headers, presets


class SliceCache:
    """Decoded slices by (Location, frame), least recently used dropped beyond ``max_bytes``
    (0 = keep nothing: every slice change decodes again)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[CacheKey, tuple[LoadedImage, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: CacheKey) -> bool:
        return key in self._items

    def get(self, key: CacheKey) -> LoadedImage | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: CacheKey, loaded: LoadedImage) -> None:
        size = _nbytes(loaded)
        if size > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._items[key] = (loaded, size)
        self.bytes += size
        while self.bytes > self.max_bytes and self._items:
            _key, (_img, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


class _Panel(QFrame):
    """One viewport with its header bar: stack picker, slice text, DCE phase slider."""

    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"mr_panel_{index}")
        self.setFrameShape(QFrame.Shape.Box)
        self.setLineWidth(1)
        self.picker = QComboBox()
        self.picker.setObjectName(f"mr_stack_{index}")
        self.picker.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows scroll slices, not stacks
        # Header parts shrink (the text is elided by the layout) so all panels keep the same
        # width whatever their labels say.
        self.picker.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.picker.setMinimumContentsLength(9)
        self.slice_label = QLabel()
        self.slice_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.phase_slider = QSlider(Qt.Orientation.Horizontal)
        self.phase_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.phase_slider.setMinimum(0)
        self.phase_slider.setMinimumWidth(40)
        self.phase_label = QLabel()
        self.phase_label.setContentsMargins(8, 0, 0, 0)
        header = QHBoxLayout()
        header.setContentsMargins(4, 2, 4, 2)
        header.addWidget(self.picker)
        header.addWidget(self.slice_label, 2)
        header.addWidget(self.phase_label)
        header.addWidget(self.phase_slider, 1)
        self.viewport = ImageViewport()
        self.viewport.setObjectName(f"mr_viewport_{index}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.viewport, 1)

    def set_active(self, active: bool) -> None:
        self.setStyleSheet(
            f"#{self.objectName()} {{ border: 1px solid {'#e0a030' if active else '#303030'}; }}"
        )


class MRStudyView(QWidget):
    """Stacks of one MR study in a 1x1, 1x2 or 2x2 layout with linked slices and cine."""

    #: Every visible viewport has its current slice drawn (or an error message).
    all_visible_loaded = Signal()
    #: The active viewport changed (index); e.g. the main window shows its presets.
    active_changed = Signal(int)

    def __init__(
        self,
        loader: DisplayLoader,
        parent: QWidget | None = None,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        prefetch: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mr_view")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.loader = loader
        self.cache = SliceCache(cache_bytes)
        self.prefetch_enabled = prefetch and cache_bytes > 0
        self.stacks: list[Stack] = []
        self.active = 0
        self.linked = True
        self.layout_name = "2x2"
        self.cine_fps = DEFAULT_CINE_FPS
        self.study_pk: int | None = None
        # Per viewport: stack index (None = empty), slice, phase, what is wanted / drawn.
        self._stack_of: list[int | None] = [None] * 4
        self._z = [0] * 4
        self._t = [0] * 4
        self._wanted: list[CacheKey | None] = [None] * 4
        self._drawn: list[CacheKey | None] = [None] * 4
        self._shown: list[LoadedImage | None] = [None] * 4
        self._user_window = [False] * 4
        self._drawing = False
        self._generation = 0
        self._in_flight: dict[CacheKey, Future[LoadedImage]] = {}
        self._prefetch_queue: deque[CacheKey] = deque()
        self._prefetch_in_flight = 0
        self._max_prefetch = 2
        self._wheel_rest = [0] * 4
        self._bridge = LoadBridge()
        self._bridge.loaded.connect(self._on_loaded)
        self._cine = QTimer(self)
        self._cine.timeout.connect(self._cine_step)

        # Top bar: layout, linking, cine.
        self.layout_combo = QComboBox()
        self.layout_combo.setObjectName("mr_layout")
        self.layout_combo.addItems(list(LAYOUTS))
        self.layout_combo.setCurrentText(self.layout_name)
        self.layout_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.layout_combo.currentTextChanged.connect(self.set_layout)
        self.link_box = QCheckBox("Link slices (L)")
        self.link_box.setChecked(True)
        self.link_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.link_box.toggled.connect(self._set_linked)
        self.cine_button = QPushButton("Cine (Space)")
        self.cine_button.setCheckable(True)
        self.cine_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cine_button.toggled.connect(self._set_cine)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("Layout"))
        bar.addWidget(self.layout_combo)
        bar.addWidget(self.link_box)
        bar.addWidget(self.cine_button)
        bar.addStretch(1)

        self.panels = [_Panel(i) for i in range(4)]
        self.viewports: list[ImageViewport] = [p.viewport for p in self.panels]
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        for i, panel in enumerate(self.panels):
            self.grid.addWidget(panel, i // 2, i % 2)
            panel.picker.activated.connect(lambda row, vi=i: self.set_stack(vi, row))
            panel.phase_slider.valueChanged.connect(lambda t, vi=i: self._on_slider(vi, t))
            vp = panel.viewport
            vp.installEventFilter(self)
            vp.graphics.viewport().installEventFilter(self)
            vp.activated.connect(lambda vi=i: self.set_active(vi))
            vp.window_changed.connect(lambda _text, vi=i: self._on_window_changed(vi))
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addLayout(bar)
        outer.addLayout(self.grid, 1)
        self._apply_layout()

    # ------------------------------------------------------------------ public
    def show_study(self, db: Database, study_pk: int) -> None:
        """Show an MR study's stacks in the default layout (T2W, highest-b DWI, ADC, DCE)."""
        with db.session() as session:
            stacks = build_stacks(session, study_pk)
        self.set_stacks(stacks, study_pk)

    def set_stacks(self, stacks: list[Stack], study_pk: int | None = None) -> None:
        """Show already built stacks (the benchmark and tests build their own)."""
        self._set_cine(False)
        self._generation += 1
        self.study_pk = study_pk
        self.stacks = stacks
        self.cache.clear()
        self._in_flight.clear()
        self._prefetch_queue.clear()
        self._prefetch_in_flight = 0
        labels = [s.label for s in stacks]
        chosen = default_layout(stacks)
        for vi, panel in enumerate(self.panels):
            panel.picker.blockSignals(True)
            panel.picker.clear()
            panel.picker.addItems(labels)
            panel.picker.blockSignals(False)
            self._stack_of[vi] = labels.index(chosen[vi]) if vi < len(chosen) else None
            self._z[vi] = self._t[vi] = 0
            self._wanted[vi] = self._drawn[vi] = None
            self._shown[vi] = None
            self._user_window[vi] = False
        for vi in range(4):
            stack = self._stack(vi)
            if stack is not None:
                self._z[vi] = stack.n_slices // 2  # the gland is mid-stack, not at the apex
        self.active = 0
        if self._stack(0) is not None:
            self._link_from(0)
        self._refresh_all()

    def set_layout(self, name: str) -> None:
        """'1x1', '1x2' or '2x2': the first 1, 2 or 4 viewports are shown."""
        if name not in LAYOUTS:
            raise ValueError(f"unknown layout {name!r}; choose one of {', '.join(LAYOUTS)}")
        self.layout_name = name
        if self.layout_combo.currentText() != name:
            self.layout_combo.blockSignals(True)
            self.layout_combo.setCurrentText(name)
            self.layout_combo.blockSignals(False)
        self._apply_layout()
        if self.active >= self.n_visible:
            self.set_active(0)
        if self.stacks:
            self._link_from(self.active)
            self._refresh_all()

    @property
    def n_visible(self) -> int:
        rows, cols = LAYOUTS[self.layout_name]
        return rows * cols

    def visible_indices(self) -> list[int]:
        return [vi for vi in range(self.n_visible) if self._stack_of[vi] is not None]

    def show_role(self, role: str) -> None:
        """Bring a role's stack forward (e.g. the checklist asks about DWI): make the visible
        viewport showing it active, else put it in the active viewport."""
        role = role.upper()
        for vi in range(self.n_visible):
            stack = self._stack(vi)
            if stack is not None and stack.role == role:
                self.set_active(vi)
                return
        candidates = [k for k, s in enumerate(self.stacks) if s.role == role]
        if not candidates:
            return
        if role == "DWI":
            pick = max(
                candidates,
                key=lambda k: (self.stacks[k].b_value or -1.0, not self.stacks[k].calculated),
            )
        else:
            pick = candidates[0]
        self.set_stack(self.active, pick)

    def set_stack(self, viewport_index: int, stack_index: int) -> None:
        """Show stack ``stack_index`` in a viewport, at the slice linked to the active one."""
        if not 0 <= stack_index < len(self.stacks):
            return
        vi = viewport_index
        self._stack_of[vi] = stack_index
        self._t[vi] = 0
        self._user_window[vi] = False
        self._shown[vi] = None
        ref = self.active if self.active != vi and self._stack(self.active) else None
        stack = self.stacks[stack_index]
        if ref is not None and self.linked:
            self._z[vi] = self._linked_z(ref, vi)
        else:
            self._z[vi] = min(self._z[vi], stack.n_slices - 1)
        self.set_active(vi)
        self._refresh_all()

    def set_active(self, viewport_index: int) -> None:
        self.active = viewport_index
        for vi, panel in enumerate(self.panels):
            panel.set_active(vi == viewport_index)
        self.active_changed.emit(viewport_index)

    def set_slice(self, viewport_index: int, z: int) -> None:
        """Move a viewport to slice ``z`` (clamped); linked viewports follow by position."""
        vi = viewport_index
        stack = self._stack(vi)
        if stack is None:
            return
        self._z[vi] = min(max(z, 0), stack.n_slices - 1)
        if self.linked:
            self._link_from(vi)
        self._refresh_all()

    def set_phase(self, t: int) -> None:
        """Show phase ``t`` (clamped) in every viewport whose stack has a time dimension."""
        for vi in self.visible_indices():
            stack = self._stack(vi)
            if stack is not None and stack.n_phases > 1:
                self._t[vi] = min(max(t, 0), stack.n_phases - 1)
        self._refresh_all()

    def slice_index(self, viewport_index: int) -> int:
        return self._z[viewport_index]

    def phase_index(self, viewport_index: int) -> int:
        return self._t[viewport_index]

    def stack_in(self, viewport_index: int) -> Stack | None:
        return self._stack(viewport_index)

    def shown_image(self, viewport_index: int) -> LoadedImage | None:
        """The decoded slice drawn in a viewport now (for the Window list and presets)."""
        return self._shown[viewport_index]

    def current_slice(self, viewport_index: int) -> Slice | None:
        stack = self._stack(viewport_index)
        if stack is None:
            return None
        return stack.slice(self._t[viewport_index], self._z[viewport_index])

    def all_loaded(self) -> bool:
        """True when every visible viewport shows its current slice (or why it cannot); a study
        without MR stacks counts as loaded once shown."""
        if not self.stacks:
            return self.study_pk is not None
        return all(
            self._wanted[vi] is not None and self._drawn[vi] == self._wanted[vi]
            for vi in self.visible_indices()
        )

    def toggle_link(self) -> None:
        self.link_box.setChecked(not self.linked)

    def toggle_cine(self) -> None:
        self.cine_button.setChecked(not self.cine_button.isChecked())

    @property
    def cine_running(self) -> bool:
        return self._cine.isActive()

    # ------------------------------------------------------------------ internals: state
    def _stack(self, vi: int) -> Stack | None:
        k = self._stack_of[vi]
        return self.stacks[k] if k is not None and k < len(self.stacks) else None

    def _n_phases(self, vi: int) -> int:
        stack = self._stack(vi)
        return stack.n_phases if stack is not None else 0

    def _apply_layout(self) -> None:
        for vi, panel in enumerate(self.panels):
            panel.setVisible(vi < self.n_visible)
        rows, cols = LAYOUTS[self.layout_name]
        for k in range(2):
            self.grid.setRowStretch(k, 1 if k < rows else 0)
            self.grid.setColumnStretch(k, 1 if k < cols else 0)

    def _linked_z(self, src_vi: int, dst_vi: int) -> int:
        src, dst = self._stack(src_vi), self._stack(dst_vi)
        assert src is not None and dst is not None
        if src is dst:
            return self._z[src_vi]
        return linked_slice(src, self._z[src_vi], dst, self._t[src_vi])

    def _link_from(self, src_vi: int) -> None:
        if self._stack(src_vi) is None:
            return
        for vi in self.visible_indices():
            if vi != src_vi:
                self._z[vi] = self._linked_z(src_vi, vi)

    def _set_linked(self, on: bool) -> None:
        self.linked = on
        if on and self.stacks:
            self._link_from(self.active)
            self._refresh_all()

    def _on_slider(self, vi: int, t: int) -> None:
        if t != self._t[vi]:
            self.set_phase(t)

    def _on_window_changed(self, vi: int) -> None:
        if not self._drawing:
            shown = self._shown[vi]
            voi = self.viewports[vi].voi
            self._user_window[vi] = shown is None or voi != shown.display.voi

    # ------------------------------------------------------------------ internals: drawing
    def _refresh_all(self) -> None:
        """Draw what is cached, request the rest, queue neighbours, update headers."""
        for vi in self.visible_indices():
            self._refresh(vi)
        for vi in range(self.n_visible):
            if self._stack_of[vi] is None:
                self.viewports[vi].show_message("No stack")
                self._update_header(vi)
        self._queue_prefetch()
        self._check_all_loaded()

    def _refresh(self, vi: int) -> None:
        stack = self._stack(vi)
        assert stack is not None
        sl = stack.slice(self._t[vi], self._z[vi])
        key = sl.key
        self._update_header(vi)
        if self._wanted[vi] == key and self._drawn[vi] == key:
            return
        self._wanted[vi] = key
        cached = self.cache.get(key)
        if cached is not None:
            self._draw(vi, cached)
            return
        self._submit(key)

    def _submit(self, key: CacheKey, prefetch: bool = False) -> None:
        if key in self._in_flight:
            return
        generation = self._generation
        future = self.loader.submit(key[0], key[1], None)
        self._in_flight[key] = future
        if prefetch:
            self._prefetch_in_flight += 1
        future.add_done_callback(
            lambda fut, k=key, p=prefetch: self._bridge.loaded.emit(
                (generation, k, p), result_of(fut)
            )
        )

    def _on_loaded(self, tag: tuple[int, CacheKey, bool], result: object) -> None:
        generation, key, prefetch = tag
        if generation != self._generation:
            return  # another study since: drop
        self._in_flight.pop(key, None)
        if prefetch:
            self._prefetch_in_flight = max(0, self._prefetch_in_flight - 1)
        if isinstance(result, LoadedImage):
            self.cache.put(key, result)
        for vi in self.visible_indices():
            if self._wanted[vi] == key and self._drawn[vi] != key:
                if isinstance(result, LoadedImage):
                    self._draw(vi, result)
                else:
                    self._draw_error(vi, key, result)
        self._pump_prefetch()
        self._check_all_loaded()

    def _draw(self, vi: int, loaded: LoadedImage) -> None:
        stack = self._stack(vi)
        assert stack is not None
        viewport = self.viewports[vi]
        previous = self._shown[vi]
        keep: VOIPreset | None = None
        if previous is not None and viewport.voi is not None:
            if stack.n_phases > 1:  # DCE: same numbers across phases, so uptake shows
                keep = viewport.voi
            elif self._user_window[vi]:
                keep = viewport.voi
                if keep.name != "Custom":  # a named preset: this slice's own numbers
                    keep = next((p for p in loaded.presets if p.name == keep.name), keep)
        sl = stack.slice(self._t[vi], self._z[vi])
        self._drawing = True
        try:
            viewport.show_loaded(
                loaded, _IDENTITY, label=self._label(vi), info=self._info(vi, sl, loaded)
            )
            if keep is not None and keep != loaded.display.voi:
                viewport.apply_preset(keep)
        finally:
            self._drawing = False
        self._shown[vi] = loaded
        self._drawn[vi] = sl.key

    def _draw_error(self, vi: int, key: CacheKey, error: object) -> None:
        self.viewports[vi].show_message(f"{self._label(vi)}: this slice cannot be shown: {error}")
        self._shown[vi] = None
        self._drawn[vi] = key

    def _label(self, vi: int) -> str:
        stack = self._stack(vi)
        if stack is None:
            return ""
        head = stack.label
        if stack.description:
            head += f"   ·   {stack.description}"
        return head

    def _info(self, vi: int, sl: Slice, loaded: LoadedImage) -> str:
        stack = self._stack(vi)
        assert stack is not None
        parts = [f"slice {self._z[vi] + 1}/{stack.n_slices}"]
        pos = stack.position_mm(self._z[vi])
        if pos is not None:
            parts.append(f"{pos:.1f} mm")
        if stack.n_phases > 1:
            parts.append(f"phase {self._t[vi] + 1}/{stack.n_phases}")
        if sl.lossy:
            parts.append("LOSSY")
        return " · ".join(parts) + f"\n{loaded.calibration.label}"

    def _update_header(self, vi: int) -> None:
        panel = self.panels[vi]
        stack = self._stack(vi)
        if stack is None:
            panel.slice_label.setText("")
            panel.phase_slider.hide()
            panel.phase_label.hide()
            return
        k = self._stack_of[vi]
        assert k is not None
        if panel.picker.currentIndex() != k:
            panel.picker.setCurrentIndex(k)
        pos = stack.position_mm(self._z[vi])
        text = f"slice {self._z[vi] + 1} / {stack.n_slices}"
        if pos is not None:
            text += f"  ·  {pos:.1f} mm"
        panel.slice_label.setText(text)
        multi = stack.n_phases > 1
        panel.phase_slider.setVisible(multi)
        panel.phase_label.setVisible(multi)
        if multi:
            panel.phase_slider.blockSignals(True)
            panel.phase_slider.setMaximum(stack.n_phases - 1)
            panel.phase_slider.setValue(self._t[vi])
            panel.phase_slider.blockSignals(False)
            panel.phase_label.setText(f"phase {self._t[vi] + 1} / {stack.n_phases}")

    def _check_all_loaded(self) -> None:
        if self.all_loaded():
            self.all_visible_loaded.emit()

    # ------------------------------------------------------------------ internals: prefetch
    def _queue_prefetch(self) -> None:
        """Neighbours of every visible slice, nearest first; replaces what was queued."""
        if not self.prefetch_enabled:
            return
        wanted: list[CacheKey] = []
        for step in range(1, PREFETCH_RADIUS + 1):
            for vi in self.visible_indices():
                stack = self._stack(vi)
                assert stack is not None
                z, t = self._z[vi], self._t[vi]
                moves = [(t, z + step), (t, z - step)]
                if stack.n_phases > 1:
                    moves += [(t + step, z), (t - step, z)]
                for tt, zz in moves:
                    if 0 <= zz < stack.n_slices and 0 <= tt < stack.n_phases:
                        key = stack.slice(tt, zz).key
                        if key not in self.cache and key not in self._in_flight:
                            wanted.append(key)
        self._prefetch_queue = deque(dict.fromkeys(wanted))
        self._pump_prefetch()

    def _pump_prefetch(self) -> None:
        """Keep a few prefetches in the pool: a long queue would delay the slice asked for."""
        while self._prefetch_queue and self._prefetch_in_flight < self._max_prefetch:
            key = self._prefetch_queue.popleft()
            if key not in self.cache and key not in self._in_flight:
                self._submit(key, prefetch=True)

    # ------------------------------------------------------------------ internals: input
    def _step_slice(self, vi: int, delta: int) -> None:
        if self._stack(vi) is not None:
            self.set_slice(vi, self._z[vi] + delta)

    def _step_phase(self, vi: int, delta: int) -> None:
        stack = self._stack(vi)
        if stack is None or stack.n_phases <= 1:
            multi = [v for v in self.visible_indices() if self._n_phases(v) > 1]
            if not multi:
                return
            vi = multi[0]
        self.set_phase(self._t[vi] + delta)

    def _handle_key(self, event: QKeyEvent, vi: int) -> bool:
        key = event.key()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        stack = self._stack(vi)
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            step = BIG_STEP if shift else 1
            self._step_slice(vi, -step if key == Qt.Key.Key_Up else step)
        elif key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            self._step_slice(vi, -BIG_STEP if key == Qt.Key.Key_PageUp else BIG_STEP)
        elif key == Qt.Key.Key_Home:
            self.set_slice(vi, 0)
        elif key == Qt.Key.Key_End:
            self.set_slice(vi, (stack.n_slices - 1) if stack is not None else 0)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self._step_phase(vi, -1 if key == Qt.Key.Key_Left else 1)
        elif key in (Qt.Key.Key_Space, Qt.Key.Key_C):
            self.toggle_cine()
        elif key == Qt.Key.Key_L:
            self.toggle_link()
        else:
            return False
        return True

    def _wheel(self, vi: int, event: QWheelEvent) -> bool:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            return False  # pyqtgraph zooms about the cursor
        angle = event.angleDelta()
        delta = angle.y() or angle.x()  # Shift turns the wheel horizontal on some platforms
        self._wheel_rest[vi] += delta
        notches = int(self._wheel_rest[vi] / 120)
        if notches:
            self._wheel_rest[vi] -= notches * 120
            step = BIG_STEP if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1
            if self.active != vi:
                self.set_active(vi)
            self._step_slice(vi, -notches * step)  # wheel away from the reader: previous slice
        event.accept()
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        etype = event.type()
        if etype == QEvent.Type.KeyPress:
            for vi, vp in enumerate(self.viewports):
                if watched is vp:
                    assert isinstance(event, QKeyEvent)
                    return self._handle_key(event, vi)
        elif etype == QEvent.Type.Wheel:
            for vi, vp in enumerate(self.viewports):
                if watched is vp.graphics.viewport():
                    assert isinstance(event, QWheelEvent)
                    return self._wheel(vi, event)
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._handle_key(event, self.active):
            event.accept()
        else:
            super().keyPressEvent(event)

    # ------------------------------------------------------------------ cine
    def _set_cine(self, on: bool) -> None:
        if self.cine_button.isChecked() != on:
            self.cine_button.blockSignals(True)
            self.cine_button.setChecked(on)
            self.cine_button.blockSignals(False)
        if on and self.stacks:
            self._cine.start(max(1, round(1000.0 / self.cine_fps)))
        else:
            self._cine.stop()

    def set_cine_fps(self, fps: float) -> None:
        self.cine_fps = max(0.5, float(fps))
        if self._cine.isActive():
            self._cine.start(max(1, round(1000.0 / self.cine_fps)))

    def _cine_step(self) -> None:
        """Next slice (next phase on DCE), wrapping; waits while the current one is decoding."""
        vi = self.active
        stack = self._stack(vi)
        if stack is None:
            return
        if self._drawn[vi] != self._wanted[vi]:
            return
        if stack.n_phases > 1:
            self.set_phase((self._t[vi] + 1) % stack.n_phases)
        else:
            self.set_slice(vi, (self._z[vi] + 1) % stack.n_slices)
