"""The dark and light themes (palette plus style sheet), shared by the start-up code and the
main window's View menu; kept here so neither imports the other (no ui.app <-> main_window circle).
"""

from __future__ import annotations

from importlib.resources import files

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["THEMES", "apply_theme"]

THEMES = ("dark", "light")


def apply_theme(name: str) -> None:
    """Dark by default (reading rooms are dim); the palette keeps native dialogs consistent."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    name = name if name in THEMES else "dark"
    palette = QPalette()
    if name == "dark":
        for role, color in (
            (QPalette.ColorRole.Window, "#16181c"),
            (QPalette.ColorRole.WindowText, "#d6d9de"),
            (QPalette.ColorRole.Base, "#1b1e23"),
            (QPalette.ColorRole.AlternateBase, "#1f2228"),
            (QPalette.ColorRole.Text, "#d6d9de"),
            (QPalette.ColorRole.Button, "#23272e"),
            (QPalette.ColorRole.ButtonText, "#d6d9de"),
            (QPalette.ColorRole.Highlight, "#2f5d8a"),
            (QPalette.ColorRole.HighlightedText, "#ffffff"),
            (QPalette.ColorRole.ToolTipBase, "#23272e"),
            (QPalette.ColorRole.ToolTipText, "#e6e6e6"),
        ):
            palette.setColor(role, QColor(color))
    app.setPalette(palette)
    app.setStyleSheet(files("auditdesk.resources").joinpath(f"{name}.qss").read_text())
