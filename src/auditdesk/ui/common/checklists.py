"""Checklists → Show checklists…: what loaded, where it came from, what is unconfirmed, and the
files that did not load with the line to fix.

The dialog only shows a :class:`~auditdesk.checklists.loader.LoadResult`; reading and validating
the files is the loader's job.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from auditdesk.checklists.loader import ChecklistError, LoadResult, shipped_dir, site_dir
from auditdesk.checklists.schema import Checklist

#: What the confidence tags of a source mean (the reference notes' legend).
CONFIDENCE = {
    "C": "confirmed in a retrieved source",
    "P": "partially confirmed: details not visible in the source",
    "3P": "only found in third-party summaries: re-check before relying on it",
    "NF": "not found in the sources consulted: a site-editable default, not a fact",
}


def error_files(errors: list[ChecklistError]) -> list[str]:
    """The distinct files that have errors, in the order they were reported."""
    return list(dict.fromkeys(e.file for e in errors))


def error_summary(errors: list[ChecklistError]) -> str:
    """One sentence for the status bar, e.g. "2 checklist files have errors: ..."."""
    n = len(error_files(errors))
    files = "1 checklist file has an error" if n == 1 else f"{n} checklist files have errors"
    return f"{files}; see Checklists → Show checklists…"


def origin_kind(checklist: Checklist) -> str:
    """ "shipped" for the files that come with AuditDesk, "site" for the site's own folder."""
    try:
        if Path(checklist.origin).resolve().parent == shipped_dir().resolve():
            return "shipped"
    except OSError:
        pass
    return "site"


def flagged_parts(checklist: Checklist) -> list[tuple[str, str]]:
    """Items, computed values and rules the file marks ``unconfirmed``, with their notes."""
    out: list[tuple[str, str]] = []
    for section in checklist.sections:
        for item in section.items:
            if item.unconfirmed:
                out.append((f"Item {item.id} ({item.label})", item.note))
    for computed in checklist.computed:
        if computed.unconfirmed:
            out.append((f"Computed {', '.join(computed.target_keys)}", computed.note))
    for rule in checklist.rules:
        if rule.unconfirmed:
            out.append((f"Rule {rule.id}", rule.note))
    return out


def details_html(checklist: Checklist) -> str:
    """The selected checklist's sources, unconfirmed parts and meets-criteria rule, as HTML."""
    e = html.escape
    parts = [
        f"<h3>{e(checklist.title)}</h3>",
        f"<p><b>{e(checklist.id)}</b> version {e(checklist.version)} · {e(checklist.modality)}"
        f" · {origin_kind(checklist)} file<br><span class='path'>{e(checklist.origin)}</span></p>",
    ]
    if checklist.description.strip():
        parts.append(f"<p>{e(checklist.description.strip())}</p>")

    rule = next((r for r in checklist.rules if r.id == checklist.meets_criteria), None)
    parts.append("<h4>When does an exam meet criteria?</h4>")
    if rule is None:
        parts.append(f"<p>Rule <b>{e(checklist.meets_criteria)}</b>.</p>")
    else:
        text = rule.label or rule.id
        parts.append(f"<p>Rule <b>{e(rule.id)}</b> ({e(rule.kind.replace('_', ' '))}): {e(text)}")
        if rule.description:
            parts.append(f"<br>{e(rule.description)}")
        if rule.unconfirmed:
            parts.append("<br><span class='warn'>Unconfirmed: a site-editable default.</span>")
        parts.append("</p>")

    parts.append("<h4>Sources</h4><ul>")
    for source in checklist.sources:
        tag = f"[{source.confidence}]"
        meaning = CONFIDENCE.get(source.confidence, "")
        link = f" <a href='{e(source.url)}'>{e(source.url)}</a>" if source.url else ""
        parts.append(f"<li><b title='{e(meaning)}'>{e(tag)}</b> {e(source.text)}{link}</li>")
    parts.append("</ul>")

    parts.append(f"<h4>Unconfirmed notes ({len(checklist.unconfirmed)})</h4>")
    if checklist.unconfirmed:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in checklist.unconfirmed) + "</ul>")
    else:
        parts.append("<p>None.</p>")
    flagged = flagged_parts(checklist)
    if flagged:
        parts.append(f"<h4>Parts marked unconfirmed ({len(flagged)})</h4><ul>")
        for what, note in flagged:
            parts.append(f"<li><b>{e(what)}</b>{': ' + e(note) if note else ''}</li>")
        parts.append("</ul>")
    legend = "".join(f"<li><b>[{k}]</b> {e(v)}</li>" for k, v in CONFIDENCE.items())
    parts.append(f"<h4>Confidence tags</h4><ul>{legend}</ul>")
    return "".join(parts)


class ChecklistsDialog(QDialog):
    """The loaded checklists with their details, and the files that have errors."""

    COLUMNS = ("ID", "Version", "Modality", "Title", "Origin", "Unconfirmed notes")

    #: Emitted with the new result after "Reload files".
    reloaded = Signal(object)

    def __init__(
        self,
        result: LoadResult,
        parent: QWidget | None = None,
        *,
        reload: Callable[[], LoadResult] | None = None,
    ) -> None:
        super().__init__(parent)
        self._reload = reload
        #: Opens a folder in the file manager; tests replace it so nothing external starts.
        self.open_folder: Callable[[Path], bool] = lambda path: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(path))
        )
        self.setObjectName("checklists_dialog")
        self.setWindowTitle("Checklists")
        self.resize(1240, 760)

        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("checklist_table")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.currentCellChanged.connect(lambda row, *_: self._show_details(row))
        self.details = QTextBrowser()
        self.details.setObjectName("checklist_details")
        self.details.setOpenLinks(False)  # links are for reading; no browser is launched
        self._style_details()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([760, 460])

        self.errors_title = QLabel()
        self.errors_title.setObjectName("error_title")
        self.errors_title.setWordWrap(True)
        self.error_list = QListWidget()
        self.error_list.setObjectName("checklist_errors")
        self.error_list.setWordWrap(True)
        self.error_list.setMaximumHeight(140)
        self.error_list.setAccessibleName("Checklist file errors")

        folder_label = QLabel(
            "Site folder: put edited or additional checklist files (*.toml) here. "
            "Give an edited file a new version number."
        )
        folder_label.setWordWrap(True)
        self.folder_edit = QLineEdit(str(site_dir()))
        self.folder_edit.setObjectName("site_folder")
        self.folder_edit.setReadOnly(True)
        self.open_button = QPushButton("Open site folder")
        self.open_button.setObjectName("open_site_folder")
        self.open_button.clicked.connect(self.open_site_folder)
        self.copy_button = QPushButton("Copy path")
        self.copy_button.clicked.connect(self.copy_site_path)
        self.folder_note = QLabel()
        self.folder_note.setObjectName("hint")
        self.folder_note.setWordWrap(True)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.open_button)
        folder_row.addWidget(self.copy_button)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        if reload is not None:
            reload_button = buttons.addButton(
                "Reload files", QDialogButtonBox.ButtonRole.ActionRole
            )
            reload_button.setObjectName("reload_checklists")
            reload_button.clicked.connect(self.reload)

        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.errors_title)
        layout.addWidget(self.error_list)
        layout.addWidget(folder_label)
        layout.addLayout(folder_row)
        layout.addWidget(self.folder_note)
        layout.addWidget(buttons)
        self.set_result(result)

    # ---------------------------------------------------------------- content
    def set_result(self, result: LoadResult) -> None:
        self.result = result
        rows = result.checklists
        self.table.setRowCount(len(rows))
        for n, checklist in enumerate(rows):
            cells = (
                checklist.id,
                checklist.version,
                checklist.modality,
                checklist.title,
                origin_kind(checklist),
                str(len(checklist.unconfirmed)),
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == len(cells) - 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if col == 3:
                    item.setToolTip(checklist.title)
                self.table.setItem(n, col, item)
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        if rows:
            self.table.selectRow(0)
            self._show_details(0)
        else:
            self.details.setHtml("<p>No checklist loaded.</p>")

        self.error_list.clear()
        errors = result.errors
        if errors:
            n = len(error_files(errors))
            files = "1 file" if n == 1 else f"{n} files"
            self.errors_title.setText(
                f"⚠ {files} could not be loaded. Fix the line shown; the other checklists "
                "are loaded and usable."
            )
            self.errors_title.setProperty("problem", True)
            self.error_list.addItems([str(e) for e in errors])
            self.error_list.show()
        else:
            self.errors_title.setText("All checklist files loaded without errors.")
            self.errors_title.setProperty("problem", False)
            self.error_list.hide()
        # Re-apply the style sheet so the "problem" property takes effect.
        self.errors_title.style().unpolish(self.errors_title)
        self.errors_title.style().polish(self.errors_title)

    def _style_details(self) -> None:
        """Links and notes readable on the theme's background (default link blue is not)."""
        dark = self.details.palette().color(QPalette.ColorRole.Base).lightness() < 128
        link, dim, warn = (
            ("#8cc4ff", "#9aa1ab", "#e8b86a") if dark else ("#0b57a4", "#5a616b", "#8a5a00")
        )
        self.details.document().setDefaultStyleSheet(
            f"a {{ color: {link}; }} .path {{ color: {dim}; }} .warn {{ color: {warn}; }}"
        )

    def _show_details(self, row: int) -> None:
        if 0 <= row < len(self.result.checklists):
            self.details.setHtml(details_html(self.result.checklists[row]))

    # ---------------------------------------------------------------- actions
    def reload(self) -> None:
        """Read the files again (after a site edited one) and show the new result."""
        if self._reload is None:
            return
        result = self._reload()
        self.set_result(result)
        self.reloaded.emit(result)

    def open_site_folder(self) -> None:
        """Create the site folder if needed and show it in the file manager."""
        path = site_dir()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.folder_note.setText(f"The folder {path} cannot be created: {exc}")
            return
        if self.open_folder(path):
            self.folder_note.setText(f"Opened {path} in the file manager.")
        else:
            self.folder_note.setText(
                f"The file manager could not be opened. The folder is {path} "
                "(Copy path puts it on the clipboard)."
            )

    def copy_site_path(self) -> None:
        QGuiApplication.clipboard().setText(str(site_dir()))
        self.folder_note.setText("The folder path is on the clipboard.")


__all__ = [
    "ChecklistsDialog",
    "details_html",
    "error_files",
    "error_summary",
    "origin_kind",
]
