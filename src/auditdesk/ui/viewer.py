"""One image viewport: pyqtgraph ImageItem on black, with an overlay (laterality + view, window,
calibration) and a message area for images that cannot be shown.

Levels are never auto-computed by pyqtgraph (it samples a subset and can show an empty image for
mammograms, see anchors.md B8): the core display pipeline delivers a windowed uint8 frame, and the
viewport shows it with fixed levels 0-255.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QResizeEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


class ImageViewport(QWidget):
    """Shows one display frame, fit to the viewport, aspect ratio from the pixel spacing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("k")
        # A 4096-row mammogram shown in ~900 screen rows: smooth scaling averages pixels instead
        # of dropping 3 of 4, so fine detail (calcifications) does not flicker in and out.
        self.graphics.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)  # pyqtgraph's default is 9 px a side
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.0)
        self.image_item = pg.ImageItem(autoDownsample=False)
        self.view.addItem(self.image_item)

        self.overlay = QLabel(self.graphics)
        self.overlay.setObjectName("overlay")
        self.overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.overlay.move(10, 8)
        self.info = QLabel(self.graphics)
        self.info.setObjectName("overlay")
        self.info.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.message = QLabel(self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.message)
        self._array: np.ndarray | None = None
        self._overlay_right = False
        self._anchor: str | None = None
        self.view.sigResized.connect(self._apply_anchor)

    @property
    def array(self) -> np.ndarray | None:
        """The displayed uint8 frame (as hung), for tests and screenshots."""
        return self._array

    def show_frame(
        self,
        array: np.ndarray,
        *,
        label: str = "",
        info: str = "",
        aspect: float = 1.0,
    ) -> None:
        """Display a windowed uint8 (or RGB uint8) frame; ``aspect`` = row spacing / col spacing."""
        self._array = np.ascontiguousarray(array)
        self.image_item.setImage(self._array, levels=(0, 255), autoLevels=False)
        rows, cols = array.shape[:2]
        self.image_item.setRect(0, 0, cols, rows * aspect)
        self.view.setAspectLocked(True, 1.0)
        self.view.autoRange(padding=0.0)
        self._apply_anchor()
        self.message.hide()
        self.set_overlay(label, info)

    def set_overlay(self, label: str, info: str = "") -> None:
        self.overlay.setText(label)
        self.overlay.adjustSize()
        self.info.setText(info)
        self.info.adjustSize()
        self._place_info()

    def show_message(self, text: str) -> None:
        """Replace the image by a sentence (decode error, missing view, ...)."""
        self._array = None
        self.image_item.clear()
        self.set_overlay("")
        self.message.setText(text)
        self.message.show()

    def set_anchor(self, side: str | None) -> None:
        """Fit the image against the 'left' or 'right' edge instead of centring it (a hung
        mammogram's chest wall touches the centre line of the layout)."""
        self._anchor = side
        self._apply_anchor()

    def _apply_anchor(self) -> None:
        if self._anchor is None or self._array is None:
            return
        rect = self.image_item.mapRectToParent(self.image_item.boundingRect())
        width, height = rect.width(), rect.height()
        view_w, view_h = self.view.width(), self.view.height()
        if width <= 0 or height <= 0 or view_w <= 0 or view_h <= 0:
            return
        scale = min(view_w / width, view_h / height)
        vis_w, vis_h = view_w / scale, view_h / scale
        x0 = rect.left() if self._anchor == "left" else rect.right() - vis_w
        y0 = rect.center().y() - vis_h / 2
        self.view.setRange(xRange=(x0, x0 + vis_w), yRange=(y0, y0 + vis_h), padding=0.0)

    def set_overlay_corner(self, corner: str) -> None:
        """'left' (default) or 'right': the top corner of the label, e.g. away from the tissue."""
        self._overlay_right = corner == "right"
        self._place_info()

    def _place_info(self) -> None:
        if self._overlay_right:
            width = self.graphics.width()
            self.overlay.move(max(10, width - self.overlay.width() - 10), 8)
            self.info.move(
                max(10, width - self.info.width() - 10),
                max(8, self.graphics.height() - self.info.height() - 8),
            )
        else:
            self.overlay.move(10, 8)
            self.info.move(10, max(8, self.graphics.height() - self.info.height() - 8))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_info()
