"""The one QApplication (high-DPI policy, name, style, bundled fonts and icon).

Kept below ``ui.app`` so the self-test window and the start-up code can both make it without
importing each other (no ui.app <-> selftest_qt circle).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from auditdesk import __version__

__all__ = ["create_app"]


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("AuditDesk")
        app.setApplicationVersion(__version__)
        app.setStyle("Fusion")
        from auditdesk.ui.common.app_fonts import register_bundled_fonts, set_app_icon

        register_bundled_fonts()
        set_app_icon(app)
    assert isinstance(app, QApplication)
    return app
