"""The GUI's unhandled-exception handler: write a crash report, tell the user, carry on.

Qt calls ``sys.excepthook`` for an exception escaping a slot or event handler; by default
PySide6 prints it and the window silently keeps going (or the process aborts). Here the report
(no patient data: see :mod:`auditdesk.runtime.crash_report`) goes to ``<data folder>/crash/``
and the
log, and a dialog says where it is. Audits are saved as they are answered, so nothing saved is
lost; the user may keep working or restart.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

from auditdesk.runtime.crash_report import IdentifierSource, report_text, write_crash_report


def show_crash_dialog(path: Path, details: str) -> None:
    """Tell the user what happened and where the report is (details: the scrubbed report)."""
    box = QMessageBox(QApplication.activeWindow())
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("AuditDesk: unexpected error")
    box.setText(
        "AuditDesk hit an unexpected error. Your saved audits are safe.\n\n"
        f"A crash report without patient data was saved to:\n{path}\n\n"
        "Please send it to your AuditDesk contact. You can keep working, but if the window "
        "misbehaves, restart AuditDesk."
    )
    box.setDetailedText(details)
    box.exec()


class CrashHandler:
    """``sys.excepthook`` for the GUI (and ``threading.excepthook`` for worker threads)."""

    def __init__(
        self,
        identifier_sources: Iterable[IdentifierSource] = (),
        show: Callable[[Path, str], None] = show_crash_dialog,
    ) -> None:
        self.identifier_sources = list(identifier_sources)
        self.show = show
        self._busy = False
        self.reports: list[Path] = []

    def __call__(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        if self._busy:  # an error inside the handler or its dialog: do not loop
            return
        self._busy = True
        try:
            if exc.__traceback__ is None and tb is not None:
                exc = exc.with_traceback(tb)
            path = write_crash_report(exc, self.identifier_sources)
            self.reports.append(path)
            if QApplication.instance() is not None and threading.current_thread() is (
                threading.main_thread()
            ):
                self.show(path, path.read_text(encoding="utf-8"))
            else:
                print(f"auditdesk: unexpected error; report saved to {path}", file=sys.stderr)
        except Exception as inner:  # never let the handler itself crash the app
            print(f"auditdesk: could not write a crash report: {inner!r}", file=sys.stderr)
        finally:
            self._busy = False

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self(args.exc_type, args.exc_value, args.exc_traceback)


def install_crash_handler(identifier_sources: Iterable[IdentifierSource] = ()) -> CrashHandler:
    """Install the handler for this process and return it."""
    handler = CrashHandler(identifier_sources)
    sys.excepthook = handler
    threading.excepthook = handler.thread_hook
    return handler


__all__ = ["CrashHandler", "install_crash_handler", "report_text", "show_crash_dialog"]
