"""View > Image memory: the byte budget of the decoded-image cache (issue 15).

Why a setting: decoded mammograms are big (a 4-view 4096x3328 exam holds ~165 MB) and the
cache that makes "next exam" instant is what decides the window process's memory. The value
lives in ``settings.json`` (``runtime.app_settings.decode_cache_bytes``, in bytes) and applies
to the running window at once.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from auditdesk.dicom.loader import DisplayLoader
from auditdesk.runtime import app_settings

__all__ = ["ImageMemoryDialog", "open_image_memory"]

_MIB = 1024 * 1024


class ImageMemoryDialog(QDialog):
    """One spin box in MiB; OK saves the budget (bytes) and applies it to ``loader``."""

    def __init__(self, loader: DisplayLoader | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Image memory")
        self.loader = loader
        self.budget = QSpinBox()
        self.budget.setObjectName("decode_cache_mib")
        self.budget.setRange(app_settings.MIN_DECODE_CACHE_BYTES // _MIB, 64 * 1024)
        self.budget.setSingleStep(64)
        self.budget.setSuffix(" MiB")
        self.budget.setValue(app_settings.decode_cache_bytes() // _MIB)
        default = app_settings.DEFAULT_DECODE_CACHE_BYTES // _MIB
        note = QLabel(
            "Decoded images kept so that the next exam and going back show at once. "
            "A 4-view full-size mammogram needs about 165 MiB. More memory than the "
            f"default ({default} MiB) makes the window process use more than 1 GB."
        )
        note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Keep decoded images up to"))
        row.addWidget(self.budget)
        row.addStretch(1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.resize(460, 160)

    def accept(self) -> None:
        value = int(self.budget.value()) * _MIB
        app_settings.set_decode_cache_bytes(value)
        if self.loader is not None:
            self.loader.set_cache_bytes(value)
        super().accept()


def open_image_memory(window: QWidget) -> int:
    """Show the dialog for ``window`` (its ``loader`` is updated on OK)."""
    return ImageMemoryDialog(getattr(window, "loader", None), window).exec()
