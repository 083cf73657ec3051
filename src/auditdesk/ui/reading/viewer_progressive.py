"""Progressive display in the viewport: a reduced JPEG 2000 level first, the full image after.

A mixin of ``ImageViewport``. The preview (resolution level ``r``: each side / 2**r, rounded
up; dicom/reduced.py) is placed in FULL-resolution view coordinates, so zoom, pan, the
hanging anchor, the measuring tools and their millimetres are the same before and after the
swap. The swap replaces the pixels of the same ImageItem in one step (no clear, no repaint in
between: no flicker), keeps the view range, the inversion and the window currently shown: the
full image is rendered through the VOI on screen (the user's window/level never jumps; a
default computed from the preview's pixels stays the default for this viewing).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF

from auditdesk.dicom.loader import LoadedImage, display_aspect
from auditdesk.dicom.orientation import MammoTransform, apply_transform
from auditdesk.reading.measure import display_shape

__all__ = ["ProgressiveImage", "preview_note"]


def preview_note(level: int) -> str:
    """Overlay text for a preview at resolution level ``level``."""
    return f"preview 1/{2**level} resolution · full image loading"


class ProgressiveImage:
    """Preview placement and the full-image swap (uses ImageViewport's state and items)."""

    _preview_level: int = 0
    _reduction: int = 1  # a reduced render's step (set by the viewport)

    @property
    def is_preview(self) -> bool:
        """True while a reduced-resolution preview is shown (the full image is on its way)."""
        return self._preview_level > 0

    @property
    def preview_level(self) -> int:
        """The JPEG 2000 resolution level shown (0: full resolution)."""
        return self._preview_level

    def _image_rect(self) -> QRectF:
        """The full-resolution image in view coordinates: (0, 0, columns, rows * aspect)."""
        if self._stored_shape is None:
            return QRectF()
        rows_d, cols_d = display_shape(self._stored_shape, self._transform)
        return QRectF(0.0, 0.0, float(cols_d), rows_d * self._aspect)

    def _place_image(self, shown_rows: int, shown_cols: int) -> None:
        """Map the shown array onto full-resolution view coordinates.

        A preview pixel i covers full pixels [i * 2**r, (i + 1) * 2**r) of the stored image, so
        the preview is scaled by exactly 2**r; the last row/column may reach past the full
        image (the side was rounded up), and where the hanging flips an axis that overhang is
        on the near side (origin at full - shown * 2**r).
        """
        # JPEG 2000 preview: 2**level; a reduced render of the full image: its step n.
        scale = 2**self._preview_level if self._preview_level else self._reduction
        rows_d, cols_d = display_shape(self._stored_shape, self._transform)
        flip_lr = self._transform is not None and self._transform.flip_left_right
        flip_ud = self._transform is not None and self._transform.flip_up_down
        x0 = cols_d - shown_cols * scale if flip_lr else 0
        y0 = rows_d - shown_rows * scale if flip_ud else 0
        self.image_item.setRect(
            x0, y0 * self._aspect, shown_cols * scale, shown_rows * scale * self._aspect
        )

    def swap_in_full(
        self, loaded: LoadedImage, transform: MammoTransform, *, label: str = "", info: str = ""
    ) -> None:
        """Replace the preview by the full decode of the same frame, keeping view range,
        window, inversion and measurements; shows it afresh when no matching preview is up."""
        source = loaded.display
        full = source.stored if source.stored is not None else source.array
        stored_shape = tuple(full.shape[:2])
        if (
            not self.is_preview
            or stored_shape != self._stored_shape
            or transform != self._transform
            or display_aspect(loaded.calibration, transform) != self._aspect
        ):
            self.show_loaded(loaded, transform, label=label, info=info)
            return
        x_range, y_range = self.view.viewRange()
        voi, original_voi = self._voi, self._original_voi
        rendered = source.rewindow(voi) if voi is not None and voi != source.voi else source
        if original_voi is None or original_voi == voi:
            original = rendered
        elif original_voi == source.voi:
            original = source
        else:
            original = source.rewindow(original_voi)
        self._source = rendered
        self._base = np.ascontiguousarray(apply_transform(rendered.array, transform))
        self._original = (
            self._base
            if original is rendered
            else np.ascontiguousarray(apply_transform(original.array, transform))
        )
        self._calibration = loaded.calibration
        self._preview_level = 0
        self._reduction = rendered.reduction if rendered.stored is not None else 1
        self._show_array()
        self._place_image(*self._base.shape[:2])
        self.view.setRange(xRange=x_range, yRange=y_range, padding=0.0)
        self._label = label or self._label
        self._detail = info
        self._refresh_overlay()
