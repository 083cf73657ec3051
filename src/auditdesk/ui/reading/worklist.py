"""The audit worklist panel: a sortable, filterable table of studies for the current reviewer.

Why it is shaped like this:

* **One query per refresh.** The panel lists the studies once (for the kind and checklist
  chosen) and applies the other filters to those rows in Python (``worklist.filter_rows``), so
  the week and technologist choices, and the week progress, come from the same snapshot.
* **Blinded means absent.** In a blinded session the technologist is removed from the rows
  before they reach the model, not just hidden in the view, so no role, tooltip or sort key
  can leak it.
* **The keyboard drives it.** Arrows move (each move activates the study, so the viewer follows),
  Enter activates, and ``next_study`` gives "the next one I still have to do" in the order the
  reviewer sees, even right after the study just completed dropped out of a "to do" filter.
* **Filters are remembered** in the same ini file as the window state (beside the database).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from auditdesk.reading.worklist import (
    STATUS_COMPLETE,
    STATUS_IN_PROGRESS,
    STATUS_TODO,
    WorklistFilter,
    WorklistRow,
    filter_rows,
    list_worklist,
    sample_progress,
    technologists,
    week_label,
    week_progress,
    week_start,
)
from auditdesk.store.db import Database
from auditdesk.ui.common import setting_bool, settings
from auditdesk.ui.reading.worklist_poll import WorklistPoller

PK_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE: int = Qt.ItemDataRole.UserRole + 1

COLUMNS = ("Date", "Week", "Exam", "Views/series", "Technologist", "My status", "Result", "Reviews")
COL_DATE, COL_WEEK, COL_EXAM, COL_VIEWS, COL_TECH, COL_STATUS, COL_RESULT, COL_REVIEWS = range(8)

STATUS_CHOICES = (
    ("To do", "todo"),
    ("In progress", "in_progress"),
    ("Done", "done"),
    ("All", "all"),
)
KIND_CHOICES = (
    ("All kinds", ""),
    ("Mammography", "mammo"),
    ("Prostate MR", "mr"),
    ("Other", "other"),
)
# Readable on the dark theme (#1b1e23 base): amber = needs work, blue = started, green = done.
STATUS_COLORS = {
    STATUS_TODO: "#e8b86a",
    STATUS_IN_PROGRESS: "#7fb3e6",
    STATUS_COMPLETE: "#7cc48a",
}
STATUS_RANK = {STATUS_TODO: 0, STATUS_IN_PROGRESS: 1, STATUS_COMPLETE: 2}
RESULT_COLORS = {True: "#7cc48a", False: "#ff8a80"}
SETTINGS_GROUP = "worklist"
# Roles as plain ints: comparing enum members costs more than the lookup itself in data().
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_FONT = int(Qt.ItemDataRole.FontRole.value)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole.value)
_PK = int(PK_ROLE.value)
_SORT = int(SORT_ROLE)


class WorklistModel(QAbstractTableModel):
    """Worklist rows as a table; the sort role gives dates and counts as numbers.

    Display texts and sort keys are computed once per refresh: the proxy asks for the sort key
    tens of thousands of times when it sorts 5,000 rows, and each ask crosses into Python.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[WorklistRow] = []
        self._index: dict[int, int] = {}
        self._display_cells: list[tuple[str, ...]] = []
        self._sort_cells: list[tuple[Any, ...]] = []

    def set_rows(self, rows: list[WorklistRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._index = {r.study_pk: i for i, r in enumerate(self._rows)}
        cols = range(len(COLUMNS))
        self._display_cells = [tuple(self._display(r, c) or "" for c in cols) for r in self._rows]
        self._sort_cells = [
            tuple(self._sort_key(r, c, d) for c, d in zip(cols, disp, strict=True))
            for r, disp in zip(self._rows, self._display_cells, strict=True)
        ]
        self.endResetModel()

    def rows(self) -> list[WorklistRow]:
        return list(self._rows)

    def row_of(self, study_pk: int) -> int | None:
        return self._index.get(study_pk)

    def row_at(self, row: int) -> WorklistRow:
        return self._rows[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return {
                COL_WEEK: "Reporting week (Sunday to Saturday) of the procedure date",
                COL_STATUS: "Your own audit of the study",
                COL_RESULT: "Whether the exam met the criteria in your audit",
                COL_REVIEWS: "Completed audits by anyone (counts only; no answers shown)",
            }.get(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        r = index.row()
        if not 0 <= r < len(self._rows):  # also an invalid index (row -1)
            return None
        if role == _SORT:  # first: sorting asks for this most often
            return self._sort_cells[r][index.column()]
        if role == _DISPLAY:
            return self._display_cells[r][index.column()]
        if role == _PK:
            return self._rows[r].study_pk
        row = self._rows[r]
        col = index.column()
        if role == _TOOLTIP:
            return self._tooltip(row, col)
        if role == _FOREGROUND:
            if col == COL_STATUS:
                return QBrush(QColor(STATUS_COLORS.get(row.my_status, "#d6d9de")))
            if col == COL_RESULT and row.my_meets_criteria is not None:
                return QBrush(QColor(RESULT_COLORS[row.my_meets_criteria]))
        if role == _FONT and col == COL_STATUS and row.my_status != STATUS_COMPLETE:
            font = QFont()
            font.setBold(True)  # unfinished work stands out
            return font
        if role == _ALIGN and col == COL_REVIEWS:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    @staticmethod
    def _display(row: WorklistRow, col: int) -> str | None:
        if col == COL_DATE:
            return row.procedure_date.isoformat() if row.procedure_date else "no date"
        if col == COL_WEEK:
            return row.week_start.isoformat() if row.week_start else ""
        if col == COL_EXAM:
            return f"{row.exam_label} · 2nd read" if row.second_reader else row.exam_label
        if col == COL_VIEWS:
            mark = f"please confirm {row.to_confirm}" if row.to_confirm else ""
            merge = "merge suggested" if row.merge_with else ""
            return " · ".join(t for t in (row.views, mark, merge) if t)
        if col == COL_TECH:
            return row.technologist or ""
        if col == COL_STATUS:
            return row.my_status
        if col == COL_RESULT:
            if row.my_not_evaluable:
                return "not evaluable"
            return {True: "meets", False: "does not meet"}.get(row.my_meets_criteria, "")  # type: ignore[arg-type]
        if col == COL_REVIEWS:
            return str(row.n_reviews) if row.n_reviews else ""
        return None

    @staticmethod
    def _sort_key(row: WorklistRow, col: int, text: str) -> Any:
        if col == COL_DATE:
            return row.procedure_date.toordinal() if row.procedure_date else 0
        if col == COL_WEEK:
            return row.week_start.toordinal() if row.week_start else 0
        if col == COL_STATUS:
            return STATUS_RANK.get(row.my_status, 0)
        if col == COL_RESULT:
            return {None: 0, False: 1, True: 2}[row.my_meets_criteria]
        if col == COL_REVIEWS:
            return row.n_reviews * 1000 + row.reviewers
        return text.casefold()

    @staticmethod
    def _tooltip(row: WorklistRow, col: int) -> str | None:
        if col in (COL_DATE, COL_WEEK) and row.week_start:
            return week_label(row.week_start)
        if col == COL_EXAM and row.sampled:
            if row.second_reader:
                return "In its week's audit sample; you are asked for a second (double) read"
            if row.assigned_to_me:
                return "In its week's audit sample, assigned to you"
            return "In its week's audit sample"
        if col == COL_STATUS and row.my_checklist_id:
            return f"{row.my_status} ({row.my_checklist_id})"
        if col == COL_VIEWS and row.merge_with and not row.to_confirm:
            others = " ".join(f"#{pk}" for pk in row.merge_with if pk != row.study_pk)
            return (
                f"Looks like one exam with studies {others} (same patient and day, views that "
                "complement each other): File → Suggested merges…"
            )
        if col == COL_VIEWS and row.to_confirm:
            return (
                f"View or side of {row.to_confirm} was guessed from free text or an identifier: "
                "check it, then right-click the image in the study tree → Confirm view and side "
                "(or Correct view… / Correct laterality…)"
            )
        if col == COL_REVIEWS:
            text = f"{row.n_reviews} completed audit(s)"
            if row.has_audit_by_others:
                text += f"; {row.reviewers} other reviewer(s) have an audit"
            return text
        return None


class WorklistView(QTableView):
    """A table that reports Enter/Return on the current row (activation is platform-dependent
    in Qt; this makes Enter open the study everywhere)."""

    enter_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.enter_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class WorklistPanel(QWidget):
    """Studies to audit for the current reviewer, with filters and this week's progress."""

    study_activated = Signal(int)

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.poller: WorklistPoller | None = None  # started by start_polling (others' progress)
        self.reviewer_pk: int | None = None
        self.blinded = False
        # Study id -> studies it is suggested to merge with (the main window sets it).
        self.merge_suggestions: dict[int, tuple[int, ...]] = {}
        self.filter = WorklistFilter(status="todo")
        self._technologist_choice: str | None = None  # remembered while blinded hides it
        self._base: list[WorklistRow] = []
        self._base_key: tuple[object, object] | None = None  # the query filters of _base
        self._previous_order: list[int] = []
        self._quiet = 0
        self._checklists = self._load_checklists()
        self._modalities = {cid: modality for cid, _title, modality in self._checklists}

        self.model = WorklistModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view = WorklistView(self)
        self.view.setObjectName("worklist")
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setSortingEnabled(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setVisible(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for col, width in ((COL_DATE, 92), (COL_WEEK, 92), (COL_EXAM, 120), (COL_VIEWS, 150)):
            self.view.setColumnWidth(col, width)
        self.view.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.view.doubleClicked.connect(self._activate_current)
        self.view.enter_pressed.connect(self._activate_current)

        self.status_combo = QComboBox(self)
        for text, value in STATUS_CHOICES:
            self.status_combo.addItem(text, value)
        self.mine_check = QCheckBox("Mine", self)
        self.mine_check.setToolTip("Only studies you have started or completed an audit of")
        self.sample_check = QCheckBox("Sample only", self)
        self.sample_check.setToolTip(
            "Only the exams drawn into their week's audit sample (Site → Draw this week's sample)"
        )
        self.week_combo = QComboBox(self)
        self.week_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.technologist_combo = QComboBox(self)
        self.checklist_combo = QComboBox(self)
        self.checklist_combo.addItem("Any checklist", "")
        for cid, title, modality in self._checklists:
            self.checklist_combo.addItem(title, cid)
            self.checklist_combo.setItemData(
                self.checklist_combo.count() - 1, f"{cid} ({modality})", Qt.ItemDataRole.ToolTipRole
            )
        self.kind_combo = QComboBox(self)
        for text, value in KIND_CHOICES:
            self.kind_combo.addItem(text, value)

        # Two short rows, so the panel stays narrow and the images get the width.
        for combo in (
            self.status_combo,
            self.week_combo,
            self.technologist_combo,
            self.checklist_combo,
            self.kind_combo,
        ):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(8)
        self.week_combo.setMinimumContentsLength(12)
        top_row = QHBoxLayout()
        top_row.setContentsMargins(0, 0, 0, 0)
        top_row.addWidget(self.status_combo)
        top_row.addWidget(self.mine_check)
        top_row.addWidget(self.sample_check)
        top_row.addWidget(self.week_combo, 1)
        second_row = QHBoxLayout()
        second_row.setContentsMargins(0, 0, 0, 0)
        second_row.addWidget(self.kind_combo)
        second_row.addWidget(self.technologist_combo, 1)
        second_row.addWidget(self.checklist_combo, 1)
        bar = QVBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(4)
        bar.addLayout(top_row)
        bar.addLayout(second_row)

        self.progress_label = QLabel(self)
        self.progress_label.setObjectName("hint")
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setFormat("%v / %m")
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setMinimumWidth(60)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("hint")
        # Labels may be cut rather than widen the panel (the images need the width).
        for label in (self.progress_label, self.count_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addWidget(self.progress_label, 3)
        footer.addWidget(self.progress_bar, 1)
        footer.addWidget(self.count_label, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addLayout(footer)

        self._restore_settings()
        self.status_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.mine_check.toggled.connect(self._on_filter_changed)
        self.sample_check.toggled.connect(self._on_filter_changed)
        self.week_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.technologist_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.checklist_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.kind_combo.currentIndexChanged.connect(self._on_filter_changed)
        header.sortIndicatorChanged.connect(self._save_sort)
        self.refresh()
        self.start_polling()

    # ------------------------------------------------------------------ public API
    @property
    def current_study_pk(self) -> int | None:
        index = self.view.currentIndex()
        return index.data(PK_ROLE) if index.isValid() else None

    def set_reviewer(self, reviewer_pk: int | None) -> None:
        """Show statuses for another reviewer (None: nobody chosen, everything is to do)."""
        if reviewer_pk != self.reviewer_pk:
            self.reviewer_pk = reviewer_pk
            self.refresh()

    def set_blinded(self, blinded: bool) -> None:
        """Blinded reviews must not see who did the exam: drop the column, values and filter."""
        blinded = bool(blinded)
        if blinded == self.blinded:
            return
        self.blinded = blinded
        self.view.setColumnHidden(COL_TECH, blinded)
        self.technologist_combo.setVisible(not blinded)
        self.filter.technologist = None if blinded else self._technologist_choice
        self.refresh()

    def start_polling(self) -> WorklistPoller:
        """Refresh when colleagues on other workstations change the audits (ui.worklist_poll)."""
        self.poller = self.poller or WorklistPoller(self, self.db)
        return self.poller

    def refresh(self) -> None:
        """Re-read the database; keeps the current study selected if it is still listed."""
        current = self.current_study_pk
        order = self._visible_order()
        if order:
            self._previous_order = order
        base_filter = WorklistFilter(
            status="all", checklist_id=self.filter.checklist_id, kind=self.filter.kind
        )
        with self.db.session() as session:
            base = list_worklist(
                session, self.reviewer_pk, base_filter, checklist_modalities=self._modalities
            )
        if self.blinded:
            base = [dataclasses.replace(r, technologist=None) for r in base]
        for row in base:
            row.merge_with = self.merge_suggestions.get(row.study_pk, ())
        self._base = base
        self._base_key = (self.filter.checklist_id, self.filter.kind)
        progress = week_progress(base)
        self._fill_weeks(progress)
        self._fill_technologists(technologists(base))
        self._show_filtered(current, progress)

    def _show_filtered(self, current: int | None, progress: dict[Any, Any]) -> None:
        """Apply the filters to the rows read last (status, mine, week... need no query)."""
        base = self._base
        rows = filter_rows(base, self.filter, checklist_modalities=self._modalities)
        self._quiet += 1
        try:
            self.model.set_rows(rows)
            if current is not None:
                self._select(current)
        finally:
            self._quiet -= 1
        self._update_progress(progress, base)
        self.count_label.setText(f"{len(rows)} of {len(base)} studies")

    def select_study(self, study_pk: int) -> None:
        """Make ``study_pk`` the current row (no study_activated: the caller already knows)."""
        self._quiet += 1
        try:
            self._select(study_pk)
        finally:
            self._quiet -= 1

    def next_study(self, after: int | None = None) -> int | None:
        """The next study in the order shown that I have not completed; None at the end.

        ``after`` defaults to the current study. If ``after`` is no longer listed (e.g. it was
        just completed under a "to do" filter), the order shown before the last refresh tells
        where it was, so the reviewer continues with the study that followed it.
        """
        if after is None:
            after = self.current_study_pk
        order = self._visible_order()
        if after is None:
            candidates = order
        elif after in order:
            candidates = order[order.index(after) + 1 :]
        elif after in self._previous_order:
            visible = set(order)
            previous = self._previous_order
            candidates = [pk for pk in previous[previous.index(after) + 1 :] if pk in visible]
        else:
            candidates = order
        for pk in candidates:
            row = self.model.row_of(pk)
            if row is not None and self.model.row_at(row).my_status != STATUS_COMPLETE:
                return pk
        return None

    def previous_study(self, before: int | None = None) -> int | None:
        """The study shown just above ``before`` (default: the current one), done or not."""
        if before is None:
            before = self.current_study_pk
        order = self._visible_order()
        if before not in order:
            return order[-1] if order and before is None else None
        index = order.index(before)
        return order[index - 1] if index > 0 else None

    def status_of(self, study_pk: int) -> str | None:
        """My status of a listed study ("to do", "in progress", "complete"), None if not listed."""
        row = self.model.row_of(study_pk)
        return self.model.row_at(row).my_status if row is not None else None

    def upcoming(self, after: int | None, n: int) -> list[int]:
        """The next ``n`` studies ``next_study`` would give, for prefetching their images."""
        out: list[int] = []
        pk = after
        while len(out) < n:
            pk = self.next_study(pk)
            if pk is None or pk in out:
                break
            out.append(pk)
        return out

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _load_checklists() -> list[tuple[str, str, str]]:
        """(id, title, modality) of the installed checklists; broken files are the checklist
        panel's business, not the worklist's."""
        from auditdesk.checklists.loader import load_all

        return [(c.id, c.title, c.modality) for c in load_all().latest()]

    def _visible_order(self) -> list[int]:
        """Study pks in the order shown (mapped in C++, without asking the model for data)."""
        rows = self.model.rows()
        proxy = self.proxy
        return [
            rows[proxy.mapToSource(proxy.index(r, 0)).row()].study_pk
            for r in range(proxy.rowCount())
        ]

    def _select(self, study_pk: int) -> None:
        row = self.model.row_of(study_pk)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._quiet or not current.isValid():
            return
        self.study_activated.emit(int(current.data(PK_ROLE)))

    def _activate_current(self, *_args: Any) -> None:
        pk = self.current_study_pk
        if pk is not None:
            self.study_activated.emit(int(pk))

    def _fill_weeks(self, progress: dict[dt.date, tuple[int, int]]) -> None:
        weeks = dict(progress)
        chosen = week_start(self.filter.week) if self.filter.week else None
        if chosen is not None and chosen not in weeks:
            weeks[chosen] = (0, 0)
        self.week_combo.blockSignals(True)
        try:
            self.week_combo.clear()
            self.week_combo.addItem("All weeks", "")
            for week in sorted(weeks, reverse=True):
                done, total = weeks[week]
                self.week_combo.addItem(
                    f"{week_label(week)}  ({done}/{total} done)", week.isoformat()
                )
            pos = self.week_combo.findData(chosen.isoformat() if chosen else "")
            self.week_combo.setCurrentIndex(max(pos, 0))
        finally:
            self.week_combo.blockSignals(False)

    def _fill_technologists(self, names: list[str]) -> None:
        self.technologist_combo.blockSignals(True)
        try:
            self.technologist_combo.clear()
            self.technologist_combo.addItem("All technologists", "")
            if not self.blinded:
                chosen = self.filter.technologist
                if chosen and chosen not in names:
                    names = [*names, chosen]
                for name in names:
                    self.technologist_combo.addItem(name, name)
                pos = self.technologist_combo.findData(chosen or "")
                self.technologist_combo.setCurrentIndex(max(pos, 0))
        finally:
            self.technologist_combo.blockSignals(False)

    def _update_progress(
        self, progress: dict[dt.date, tuple[int, int]], base: list[WorklistRow]
    ) -> None:
        this_week = week_start(dt.date.today())
        week = week_start(self.filter.week) if self.filter.week else this_week
        if self._show_sample_progress(week, this_week, base):
            return
        done, total = progress.get(week, (0, 0))
        name = "This week" if week == this_week else week_label(week)
        if self.reviewer_pk is None:
            self.progress_label.setText(f"{name}: {total} studies; choose a reviewer")
        else:
            self.progress_label.setText(f"{name}: {done} of {total} audited by you")
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done} / {total}")

    def _show_sample_progress(
        self, week: dt.date, this_week: dt.date, base: list[WorklistRow]
    ) -> bool:
        """Progress through the week's audit sample, when it has one; with no week chosen and
        no sample this week, the newest sampled week (the one being audited now)."""
        found = sample_progress(base, week)
        if found is None and self.filter.week is None:
            sampled_weeks = sorted({r.week_start for r in base if r.sampled and r.week_start})
            if sampled_weeks:
                week = sampled_weeks[-1]
                found = sample_progress(base, week)
        if found is None:
            return False
        done, total = found
        name = "This week's sample" if week == this_week else f"Sample, {week_label(week)}"
        if self.reviewer_pk is None:
            self.progress_label.setText(f"{name}: {total} studies; choose a reviewer")
        else:
            self.progress_label.setText(f"{name}: {done} of {total} audited by you")
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done} / {total}")
        return True

    def _on_filter_changed(self, *_args: Any) -> None:
        week = self.week_combo.currentData() or ""
        self.filter.status = self.status_combo.currentData() or "all"
        self.filter.mine_only = self.mine_check.isChecked()
        self.filter.sample_only = self.sample_check.isChecked()
        self.filter.week = dt.date.fromisoformat(week) if week else None
        self.filter.checklist_id = self.checklist_combo.currentData() or None
        self.filter.kind = self.kind_combo.currentData() or None
        if not self.blinded:
            self._technologist_choice = self.technologist_combo.currentData() or None
            self.filter.technologist = self._technologist_choice
        self._save_settings()
        if self._base_key == (self.filter.checklist_id, self.filter.kind):
            # Only the in-memory filters changed: no need to read the database again.
            current = self.current_study_pk
            order = self._visible_order()
            if order:
                self._previous_order = order
            self._show_filtered(current, week_progress(self._base))
        else:
            self.refresh()

    # ------------------------------------------------------------------ settings
    def _save_settings(self) -> None:
        s = settings()
        s.beginGroup(SETTINGS_GROUP)
        s.setValue("status", self.filter.status)
        s.setValue("mine", "true" if self.filter.mine_only else "false")
        s.setValue("sample", "true" if self.filter.sample_only else "false")
        s.setValue("week", self.filter.week.isoformat() if self.filter.week else "")
        s.setValue("technologist", self._technologist_choice or "")
        s.setValue("checklist", self.filter.checklist_id or "")
        s.setValue("kind", self.filter.kind or "")
        s.endGroup()

    def _save_sort(self, column: int, order: Qt.SortOrder) -> None:
        s = settings()
        s.setValue(f"{SETTINGS_GROUP}/sort_column", column)
        s.setValue(
            f"{SETTINGS_GROUP}/sort_order",
            "desc" if order == Qt.SortOrder.DescendingOrder else "asc",
        )

    def _restore_settings(self) -> None:
        s = settings()
        s.beginGroup(SETTINGS_GROUP)
        status = str(s.value("status", "todo") or "todo")
        mine = setting_bool(s.value("mine", "false"))
        sample = setting_bool(s.value("sample", "false"))
        week = str(s.value("week", "") or "")
        tech = str(s.value("technologist", "") or "") or None
        checklist = str(s.value("checklist", "") or "") or None
        kind = str(s.value("kind", "") or "") or None
        try:
            column = int(s.value("sort_column", COL_DATE))
        except (TypeError, ValueError):
            column = COL_DATE
        order = str(s.value("sort_order", "desc"))
        s.endGroup()
        try:
            week_date = dt.date.fromisoformat(week) if week else None
        except ValueError:
            week_date = None
        if self.checklist_combo.findData(checklist or "") < 0:
            checklist = None
        if self.kind_combo.findData(kind or "") < 0:
            kind = None
        if self.status_combo.findData(status) < 0:
            status = "todo"
        self.filter = WorklistFilter(
            status=status,
            mine_only=mine,
            sample_only=sample,
            week=week_date,
            technologist=tech,
            checklist_id=checklist,
            kind=kind,
        )
        self._technologist_choice = tech
        self.status_combo.setCurrentIndex(self.status_combo.findData(status))
        self.mine_check.setChecked(mine)
        self.sample_check.setChecked(sample)
        self.checklist_combo.setCurrentIndex(self.checklist_combo.findData(checklist or ""))
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind or ""))
        column = column if 0 <= column < len(COLUMNS) else COL_DATE
        self.view.sortByColumn(
            column,
            Qt.SortOrder.AscendingOrder if order == "asc" else Qt.SortOrder.DescendingOrder,
        )


__all__ = ["COLUMNS", "PK_ROLE", "SORT_ROLE", "WorklistModel", "WorklistPanel", "WorklistView"]
