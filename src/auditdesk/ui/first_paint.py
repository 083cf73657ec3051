"""Run something once a window has been painted for the first time.

The main window shows itself before it fills the study tree and opens the first exam (which
starts the decode processes): those take a second on a busy two-core machine and the user should
see the window meanwhile. ``after_first_paint`` is that hook; the start-up probe uses it too.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


class _FirstPaint(QObject):
    """Event filter that fires ``callback`` (from the event loop) after the first paint event."""

    def __init__(self, widget: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(widget)
        self._callback: Callable[[], None] | None = callback

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._callback is not None and event.type() == QEvent.Type.Paint:
            callback, self._callback = self._callback, None
            watched.removeEventFilter(self)
            # After this paint has reached the screen, not inside it.
            QTimer.singleShot(0, callback)
        return False


def after_first_paint(widget: QWidget, callback: Callable[[], None]) -> None:
    """Call ``callback`` once, from the event loop, after ``widget`` is first painted."""
    widget.installEventFilter(_FirstPaint(widget, callback))
