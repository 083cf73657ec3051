"""Fonts and icon that a frozen bundle carries for itself.

Reports ask for DejaVu Sans. A source install gets it from the system (scripts/setup installs
fonts-dejavu-core), but a site workstation may have no DejaVu at all, so the bundle carries the
TTF files in ``fonts/`` and registers them with Qt at start-up; reports then look the same on
every workstation.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

from PySide6.QtGui import QFontDatabase, QIcon
from PySide6.QtWidgets import QApplication

BUNDLE_FONT_DIR = "fonts"  # inside the bundle's contents folder (sys._MEIPASS)


def bundled_font_files() -> list[Path]:
    """The font files a frozen bundle carries; none in a source install."""
    base = getattr(sys, "_MEIPASS", None)
    if not base:
        return []
    return sorted((Path(base) / BUNDLE_FONT_DIR).glob("*.tt[fc]"))


def register_bundled_fonts() -> int:
    """Register the bundle's fonts with Qt (after a QGuiApplication exists); returns how many
    loaded. Safe to call more than once: Qt ignores a font it already has."""
    return sum(QFontDatabase.addApplicationFont(str(p)) >= 0 for p in bundled_font_files())


def set_app_icon(app: QApplication) -> None:
    """The window icon is the application icon the installers use."""
    app.setWindowIcon(QIcon(str(files("auditdesk.resources").joinpath("auditdesk.svg"))))
