"""Importing studies from the main window: the background worker, its summary text, and the
File-menu, PACS and drag-and-drop entry points.

Separate from ``main_window`` so the window only wires menus: everything about reading files in
(the thread, the progress dialog, what the user is told afterwards) lives here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QProgressDialog

from auditdesk.dicom.index import ImportSummary, import_paths
from auditdesk.store.db import Database


class ImportWorker(QThread):
    """Runs an import off the GUI thread; cancel() is polled between files."""

    progressed = Signal(int, int, str)
    finished_summary = Signal(object)
    failed = Signal(str)

    def __init__(self, db: Database, paths: list[str]) -> None:
        super().__init__()
        self.db = db
        self.paths = paths
        self._cancel = False

    def cancel(self) -> None:
        self._cancel = True

    def run(self) -> None:
        try:
            summary = import_paths(
                self.db,
                self.paths,
                progress=lambda d, t, f: self.progressed.emit(d, t, f),
                cancel=lambda: self._cancel,
            )
        except Exception as exc:  # report, never crash the window
            self.failed.emit(str(exc))
            return
        self.finished_summary.emit(summary)


def summary_text(summary: ImportSummary) -> str:
    lines = [
        f"{len(summary.study_uids)} studies, {len(summary.series_uids)} series, "
        f"{summary.usable_images} images ({summary.added} new, {summary.unchanged} unchanged)."
    ]
    if summary.cancelled:
        lines.append("The import was cancelled; what was read so far is saved.")
    for source, message in summary.notes:
        lines.append(f"{source}: {message}")
    if summary.skipped:
        lines.append(f"{len(summary.skipped)} files skipped:")
        lines += [f"  {s.path}: {s.reason}" for s in summary.skipped[:50]]
        if len(summary.skipped) > 50:
            lines.append(f"  ... and {len(summary.skipped) - 50} more (see 'auditdesk import').")
    return "\n".join(lines)


class ImportingMixin:
    """Import entry points of the main window (folder, zip, PACS, drag and drop).

    A mixin of ``MainWindow``: it uses the window's widgets and state.
    """

    def _import_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import DICOM folder")
        if folder:
            self.start_import([folder])

    def _import_zip_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import zip", "", "Zip files (*.zip)")
        if path:
            self.start_import([path])

    # ---------------------------------------------------------------- import
    def show_pacs_import(self) -> QDialog:
        """File → Import from PACS… (ui/pacs_dialog.py); the tree refreshes after a retrieve."""
        from auditdesk.ui.common.pacs_dialog import PacsImportDialog

        dialog = PacsImportDialog(self.db, self)
        dialog.imported.connect(lambda _result: self.refresh())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def start_import(self, paths: list[str], *, show_dialog: bool = True) -> ImportWorker:
        """Import off the GUI thread with a progress dialog that can cancel."""
        worker = ImportWorker(self.db, paths)
        self.import_worker = worker
        dialog = QProgressDialog("Reading DICOM headers…", "Cancel", 0, 0, self)
        dialog.setWindowTitle("Import")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.canceled.connect(worker.cancel)

        def on_progress(done: int, total: int, current: str) -> None:
            dialog.setMaximum(total)
            dialog.setValue(done)
            dialog.setLabelText(f"Reading {done} of {total}\n{Path(current).name}")

        def on_done(summary: ImportSummary) -> None:
            dialog.reset()
            self.last_summary = summary
            self.refresh()
            self.statusBar().showMessage(summary_text(summary).splitlines()[0], 10000)
            if show_dialog and (summary.skipped or summary.cancelled or summary.notes):
                box = QMessageBox(self)
                box.setWindowTitle("Import finished")
                box.setText(summary_text(summary).splitlines()[0])
                box.setDetailedText(summary_text(summary))
                box.open()

        def on_failed(message: str) -> None:
            dialog.reset()
            QMessageBox.critical(self, "Import failed", message)

        worker.progressed.connect(on_progress)
        worker.finished_summary.connect(on_done)
        worker.failed.connect(on_failed)
        worker.start()
        return worker

    # ---------------------------------------------------------------- drag and drop
    @staticmethod
    def _dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Folders, zip files, DICOMDIRs or single files dropped on the window are imported."""
        paths = self._dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        if self.import_worker is not None and self.import_worker.isRunning():
            self.statusBar().showMessage("An import is already running; drop again after it.", 8000)
            return
        self.start_import(paths)
