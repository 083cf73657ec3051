"""Report when the main window is first on screen, for the start-up benchmark.

``AUDITDESK_STARTUP_PROBE=1`` makes the GUI print ``auditdesk: window shown`` on stdout when the
main window gets its first paint event and then quit, so ``benchmarks/bench_startup.py`` can time
a whole launch (interpreter, imports, database, window) from outside. Without the variable nothing
is installed.
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

PROBE_ENV = "AUDITDESK_STARTUP_PROBE"
SHOWN_LINE = "auditdesk: window shown"


class _FirstPaint(QObject):
    """Prints once on the window's first paint, then quits the event loop."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._done = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self._done and event.type() == QEvent.Type.Paint:
            self._done = True
            print(SHOWN_LINE, flush=True)
            sys.stdout.flush()
            QTimer.singleShot(0, QCoreApplication.quit)
        return False


def install(window: QWidget) -> None:
    """Watch ``window`` for its first paint when the probe variable is set (else do nothing)."""
    if os.environ.get(PROBE_ENV):
        window.installEventFilter(_FirstPaint(window))
