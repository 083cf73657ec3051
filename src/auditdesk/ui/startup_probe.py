"""Report when the main window is first on screen, for the start-up benchmark.

``AUDITDESK_STARTUP_PROBE=1`` makes the GUI print ``auditdesk: window shown`` on stdout when the
main window has been painted for the first time and then quit, so ``benchmarks/bench_startup.py``
can time a whole launch (interpreter, imports, database, window) from outside. Without the
variable nothing is installed.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from auditdesk.ui.first_paint import after_first_paint

PROBE_ENV = "AUDITDESK_STARTUP_PROBE"
SHOWN_LINE = "auditdesk: window shown"


def _report() -> None:
    print(SHOWN_LINE, flush=True)
    QCoreApplication.quit()


def install(window: QWidget) -> None:
    """Watch ``window`` for its first paint when the probe variable is set (else do nothing)."""
    if os.environ.get(PROBE_ENV):
        after_first_paint(window, _report)
