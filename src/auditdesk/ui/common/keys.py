"""Help → Keyboard keys…: every key of the checklist form, the image viewports and the MR layout.

Separate from ``main_window`` so the window only wires menus; the list is help text, kept in one
place.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from auditdesk.ui.reading.form_keys import key_help


def show_keys(parent: QWidget) -> QMessageBox:
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

    box = QMessageBox(parent)
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
