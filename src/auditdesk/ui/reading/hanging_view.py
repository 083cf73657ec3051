"""The 2x2 mammography hanging: four viewports, right breast on the left, chest walls meeting at
the centre line. Which image goes where is decided by :mod:`auditdesk.reading.hanging`;
this widget only
decodes (through the shared :class:`DisplayLoader` pool) and draws.

JPEG 2000 views are painted progressively: a reduced resolution level that covers the viewport
is asked for first (all four previews are queued before any full decode, so they come back in
a fraction of a second), then the full image is swapped in (viewer_progressive.py).
"""

from __future__ import annotations

from concurrent.futures import Future

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from auditdesk.dicom.loader import DisplayLoader, LoadedImage, result_of
from auditdesk.dicom.reduced import may_have_preview
from auditdesk.dicom.sources import Location
from auditdesk.reading.hanging import MAMMO_SLOTS, MammoHanging, chest_wall_side, slot_transform
from auditdesk.store.catalog import StudySummary
from auditdesk.store.view_confirm import evidence_text
from auditdesk.ui.reading.viewer import ImageViewport, LoadBridge

__all__ = ["PAIRS", "MammoHangingView"]

#: Views compared side by side: each slot's mirror partner across the centre line.
PAIRS = {"RMLO": "LMLO", "LMLO": "RMLO", "RCC": "LCC", "LCC": "RCC"}


class MammoHangingView(QWidget):
    """RMLO | LMLO over RCC | LCC, each mirrored so the chest wall is at the centre line."""

    # Emitted on the GUI thread for every slot result (LoadedImage or Exception).
    slot_loaded = Signal(str, object)
    # Emitted once all hung slots of the current study have a result.
    all_slots_loaded = Signal()
    # Emitted once every hung slot shows something (a preview, the full image or a message).
    all_slots_painted = Signal()

    def __init__(self, loader: DisplayLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hanging")
        self.loader = loader
        self.viewports: dict[str, ImageViewport] = {}
        self.results: dict[str, LoadedImage | Exception] = {}
        self.hanging: MammoHanging | None = None
        self.study: StudySummary | None = None
        self.show_technologist = True
        self._request = 0
        self._pending: set[str] = set()
        self._bridge = LoadBridge()
        self._bridge.loaded.connect(self._on_loaded)
        #: Paint JPEG 2000 views from a reduced resolution level first.
        self.progressive = True
        self._unpainted: set[str] = set()
        self._previewing: set[str] = set()
        self._preview_bridge = LoadBridge()
        self._preview_bridge.loaded.connect(self._on_preview)
        self.sync_zoom = False
        self._syncing = False
        self.current_slot: str | None = None

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)  # thin separator: the dark window colour between black viewports
        for i, slot in enumerate(MAMMO_SLOTS):
            viewport = ImageViewport()
            viewport.setObjectName(f"viewport_{slot}")
            # Label in the outer top corner, away from the tissue at the centre line.
            viewport.set_overlay_corner("left" if chest_wall_side(slot) == "right" else "right")
            # Image against the centre line, not centred in its own viewport.
            viewport.set_anchor(chest_wall_side(slot))
            # Which posterior nipple line the PNL tool draws here.
            viewport.set_view_kind("MLO" if slot.endswith("MLO") else "CC")
            self.viewports[slot] = viewport
            viewport.view_moved.connect(lambda s=slot: self._follow(s))
            grid.addWidget(viewport, i // 2, i % 2)
        for k in range(2):
            grid.setRowStretch(k, 1)
            grid.setColumnStretch(k, 1)

    # ------------------------------------------------------------------ public
    def show_hanging(
        self, study: StudySummary, hanging: MammoHanging, *, show_technologist: bool = True
    ) -> None:
        """Hang ``study`` as ``hanging`` says; decoding runs in the loader's processes."""
        self.study = study
        self.hanging = hanging
        self.show_technologist = show_technologist
        self._request += 1
        request = self._request
        self.results = {}
        # Every slot is pending before the first request: a prefetched (already decoded) image
        # is drawn inside submit's callback, and "all loaded" must wait for the last one.
        self._pending = {slot for slot, choice in hanging.slots.items() if choice.image}
        self._unpainted = set(self._pending)
        self._previewing: set[str] = set()  # slots showing this request's preview
        locations = {
            slot: Location(choice.image.path, choice.image.archive_member)
            for slot, choice in hanging.slots.items()
            if choice.image is not None
        }
        # Previews first: the pool runs requests in order, so all four reduced levels are
        # decoded before the first full decode starts.
        previews: dict[str, Future[LoadedImage | None]] = {}
        if self.progressive:
            target = self._preview_target()
            for slot, loc in locations.items():
                image = hanging.slots[slot].image
                assert image is not None
                wanted = may_have_preview(
                    image.transfer_syntax_uid, image.rows, image.columns, target
                )
                if wanted and not self.loader.cached(loc, 0, None):
                    previews[slot] = self.loader.submit_preview(loc, 0, target)
        futures: dict[str, Future[LoadedImage]] = {}
        for slot, choice in hanging.slots.items():
            viewport = self.viewports[slot]
            if choice.image is None:
                viewport.show_message(f"{slot}\n\n{choice.note}")
                continue
            futures[slot] = self.loader.submit(locations[slot], 0, None)
            if not futures[slot].done():
                viewport.show_message(f"Loading {slot}…")
        for slot, preview in previews.items():
            preview.add_done_callback(
                lambda fut, s=slot: self._preview_bridge.loaded.emit((request, s), result_of(fut))
            )
        for slot, future in futures.items():
            future.add_done_callback(
                lambda fut, s=slot: self._bridge.loaded.emit((request, s), result_of(fut))
            )
        if not self._pending:
            self.all_slots_painted.emit()
            self.all_slots_loaded.emit()

    def set_sync_zoom(self, on: bool) -> None:
        """Zoom and pan paired views together (RMLO with LMLO, RCC with LCC), mirrored about
        the centre line, so the same depth of both breasts is compared side by side."""
        self.sync_zoom = on

    def _follow(self, slot: str) -> None:
        if not self.sync_zoom or self._syncing:
            return
        partner = PAIRS.get(slot)
        source = self.viewports[slot]
        target = self.viewports.get(partner) if partner else None
        if target is None or source.array is None or target.array is None:
            return
        (x0, x1), y_range = source.view.viewRange()
        width_s, width_t = source.image_width(), target.image_width()
        # Distance from the chest wall is what matches: R slots have it at their right edge
        # (x = width), L slots at x = 0.
        if chest_wall_side(slot) == "right":
            near, far = width_s - x1, width_s - x0
            x_range = (near, far)
        else:
            x_range = (width_t - x1, width_t - x0)
        self._syncing = True
        try:
            target.set_view_range(x_range, (y_range[0], y_range[1]))
        finally:
            self._syncing = False

    def set_current_slot(self, slot: str | None) -> None:
        """Highlight the view the checklist form is asking about (None: no highlight)."""
        self.current_slot = slot
        for name, viewport in self.viewports.items():
            viewport.set_highlight(name == slot)

    def set_tool(self, name: str | None) -> None:
        """Apply a viewing/measuring tool (None/"window", "ruler", "pnl") to all four slots."""
        for viewport in self.viewports.values():
            viewport.set_tool(name)

    def all_loaded(self) -> bool:
        """True once every hung slot of the current study has been drawn (or failed)."""
        return self.hanging is not None and not self._pending

    def all_painted(self) -> bool:
        """True once every hung slot shows a preview, its full image or a message."""
        return self.hanging is not None and not self._unpainted

    def _preview_target(self) -> int:
        """Longest side (device pixels) a preview needs: the biggest viewport's longest side."""
        ratio = self.devicePixelRatioF() or 1.0
        longest = max(max(v.width(), v.height()) for v in self.viewports.values())
        return max(512, int(longest * ratio))

    def _slot_info(self, slot: str) -> str:
        assert self.hanging is not None
        choice = self.hanging.slots[slot]
        info = ""  # the viewport puts the window name (and "inverted") in front
        if choice.image is not None and choice.image.lossy:
            info = "LOSSY"
        if choice.image is not None and (evidence := evidence_text(choice.image)):
            info = "\n".join(p for p in (info, f"view: {evidence}") if p)  # issue 13
        if choice.note:
            info += f"\n{choice.note}"
        return info

    def _painted(self, slot: str) -> None:
        if slot in self._unpainted:
            self._unpainted.discard(slot)
            if not self._unpainted:
                self.all_slots_painted.emit()

    def _on_preview(self, key: tuple[int, str], result: object) -> None:
        """A reduced first paint; ignored when the full image (or an error) is already up, and
        when there is none (non-J2K, signed, ...: the full path reports any problem)."""
        request, slot = key
        if request != self._request or self.hanging is None or slot not in self._pending:
            return
        if not isinstance(result, LoadedImage):
            return
        transform = slot_transform(slot, result.patient_orientation)
        self.viewports[slot].show_loaded(
            result, transform, label=self._overlay_text(slot), info=self._slot_info(slot)
        )
        self._previewing.add(slot)
        self._painted(slot)

    # ------------------------------------------------------------------ results
    def _overlay_text(self, slot: str) -> str:
        if self.show_technologist and self.study is not None and self.study.technologist:
            return f"{slot}   ·   tech {self.study.technologist}"
        return slot

    def _on_loaded(self, key: tuple[int, str], result: object) -> None:
        request, slot = key
        if request != self._request or self.hanging is None:
            return  # another study was hung since; drop the stale frame
        self._pending.discard(slot)
        viewport = self.viewports[slot]
        if isinstance(result, Exception):
            viewport.show_message(f"{slot}: this image cannot be shown: {result}")
            self.results[slot] = result
        else:
            assert isinstance(result, LoadedImage)
            self.results[slot] = result
            transform = slot_transform(slot, result.patient_orientation)
            label, info = self._overlay_text(slot), self._slot_info(slot)
            if (
                slot in self._previewing and viewport.is_preview
            ):  # same pixel grid, same window, same zoom: no flicker
                viewport.swap_in_full(result, transform, label=label, info=info)
            else:
                viewport.show_loaded(result, transform, label=label, info=info)
        self._painted(slot)
        self.slot_loaded.emit(slot, result)
        if not self._pending:
            self.all_slots_loaded.emit()
