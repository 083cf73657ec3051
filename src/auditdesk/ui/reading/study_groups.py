"""Merge and split studies from the study tree (issue 13): the context-menu entries, a dialog
with a text preview of the resulting 2x2 hanging, the list of suggested merges and the history
with its undo. The rules (what may be merged, where audits go) live in
``auditdesk.store.study_groups`` and ``auditdesk.store.study_suggestions``; this module only shows
them and passes the reviewer's choice on.

Dialogs open without blocking (``open()``), so a test or a screen reader drives them like any
window; the one on screen is ``window.study_group_dialog``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from auditdesk.reading.hanging import MAMMO_SLOTS, hang_mammo
from auditdesk.store import study_groups as sg
from auditdesk.store.catalog import StudySummary, list_studies
from auditdesk.store.db import Database
from auditdesk.store.models import StudyGrouping
from auditdesk.store.study_suggestions import Suggestion, suggest_groups, suggestion_of

__all__ = [
    "GroupHistoryDialog",
    "StudyGroupDialog",
    "SuggestionsDialog",
    "add_study_actions",
    "hanging_preview",
    "mark_suggested",
    "open_group_dialog",
    "open_history",
    "open_suggestions",
    "study_menu",
    "suggestion_marks",
]

ROLE_STUDY = Qt.ItemDataRole.UserRole + 40
ROLE_IMAGE = Qt.ItemDataRole.UserRole + 41


def _date(study: StudySummary) -> str:
    return study.procedure_date.isoformat() if study.procedure_date else "no date"


def hanging_preview(studies: list[StudySummary], title: str) -> str:
    """Which image would go to which slot if ``studies`` were one exam (study ids, views)."""
    if not studies:
        return f"{title}: no images."
    owner = {img.id: st.id for st in studies for se in st.series for img in se.images}
    combined = dataclasses.replace(studies[0], series=[se for st in studies for se in st.series])
    dates = sorted({_date(st) for st in studies})
    lines = [f"{title}: {', '.join(dates)}, {combined.n_images} image(s)"]
    if combined.kind != "mammo":
        for st in studies:
            for se in st.series:
                lines.append(
                    f"  series {se.description or se.series_number or se.id} "
                    f"({len(se.images)} img) from study {st.id}"
                )
        return "\n".join(lines)
    hanging = hang_mammo(combined)
    for slot in MAMMO_SLOTS:
        choice = hanging.slots[slot]
        if choice.image_id is None:
            lines.append(f"  {slot:<5} empty")
        else:
            lines.append(
                f"  {slot:<5} image {choice.image_id} from study {owner[choice.image_id]}"
                + (f"  ({choice.note})" if choice.note else "")
            )
    for img in hanging.extras:
        lines.append(f"  not hung: image {img.id} {img.label} from study {owner[img.id]}")
    return "\n".join(lines)


def suggestion_marks(studies: list[StudySummary]) -> dict[int, Suggestion]:
    """Study id -> the merge suggested for it (the tree's marker and tooltip)."""
    return {sid: g for g in suggest_groups(studies) for sid in g.study_ids}


class StudyGroupDialog(QDialog):
    """Merge studies, split one, or undo either: the studies or images to include, a preview
    of the hanging that results, the reason, and one button that does it."""

    changed = Signal(int)  # the study to show afterwards

    def __init__(
        self,
        db: Database,
        mode: str,
        study_id: int,
        reviewer: str,
        parent: QWidget | None = None,
        *,
        preselect: tuple[int, ...] = (),
    ) -> None:
        super().__init__(parent)
        if mode not in ("merge", "split", "unmerge", "unsplit"):
            raise ValueError(f"unknown mode {mode!r}")
        self.db, self.mode, self.study_id, self.reviewer = db, mode, study_id, reviewer
        self.result_: sg.GroupingResult | None = None
        with db.session() as session:
            self._studies = {s.id: s for s in list_studies(session)}
        study = self._studies[study_id]
        titles = {
            "merge": "Merge studies into one exam",
            "split": f"Split study {study_id} into two exams",
            "unmerge": f"Unmerge study {study_id}",
            "unsplit": f"Undo the split that made study {study_id}",
        }
        self.setWindowTitle(titles[mode])
        self.resize(560, 520)
        layout = QVBoxLayout(self)
        self.items = QListWidget()
        self.items.setObjectName("group_items")
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("group_preview")
        self.preview.setReadOnly(True)
        self.force = QCheckBox("Merge anyway if dates, patients or kinds differ")
        self.reason = QLineEdit()
        self.reason.setObjectName("group_reason")
        self.reason.setPlaceholderText("Why (kept in the history)")
        self.error = QLabel()
        self.error.setObjectName("group_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0392b")

        if mode == "merge":
            layout.addWidget(QLabel("Studies that form one exam (same patient, same day):"))
            suggested = preselect or self._suggested(study_id)
            for other in self._merge_candidates(study):
                item = QListWidgetItem(self._study_text(other))
                item.setData(ROLE_STUDY, other.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                checked = other.id == study_id or other.id in suggested
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                self.items.addItem(item)
        elif mode == "split":
            layout.addWidget(QLabel("Tick the images that belong to the OTHER exam:"))
            for se in study.series:
                for img in se.images:
                    item = QListWidgetItem(
                        f"image {img.id}  {img.label}  series {se.series_number or '-'} "
                        f"{se.description or ''}".rstrip()
                    )
                    item.setData(ROLE_IMAGE, img.id)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Unchecked)
                    self.items.addItem(item)
        if mode in ("merge", "split"):
            layout.addWidget(self.items, 1)
        layout.addWidget(QLabel("Preview:"))
        layout.addWidget(self.preview, 2)
        if mode == "merge":
            layout.addWidget(self.force)
        layout.addWidget(self.reason)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText({"merge": "Merge", "split": "Split"}.get(mode, "Undo"))
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.items.itemChanged.connect(lambda _item: self.update_preview())
        self.update_preview()

    # ------------------------------------------------------------------ content
    def _suggested(self, study_id: int) -> tuple[int, ...]:
        found = suggestion_of(suggest_groups(list(self._studies.values())), study_id)
        return found.study_ids if found else ()

    def _merge_candidates(self, study: StudySummary) -> list[StudySummary]:
        """Studies of the same day (all of them when the date is unknown), the clicked first."""
        same = [
            s
            for s in self._studies.values()
            if s.id == study.id
            or study.procedure_date is None
            or s.procedure_date == study.procedure_date
        ]
        return sorted(same, key=lambda s: (s.id != study.id, s.id))

    @staticmethod
    def _study_text(study: StudySummary) -> str:
        labels = sorted({img.label for se in study.series for img in se.images})
        return (
            f"study {study.id}  {_date(study)}  {study.kind}  {study.n_images} img  "
            f"{' '.join(labels)}"
        )

    def checked(self) -> list[int]:
        """Study ids (merge) or image ids (split) ticked."""
        role = ROLE_STUDY if self.mode == "merge" else ROLE_IMAGE
        return [
            self.items.item(i).data(role)
            for i in range(self.items.count())
            if self.items.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _undo_text(self) -> str:
        action = self.mode[2:]
        with self.db.session() as session:
            study = self._studies[self.study_id]
            grouping = session.scalar(
                select(StudyGrouping)
                .where(
                    StudyGrouping.action == action,
                    StudyGrouping.result_study_uid == study.study_uid,
                    StudyGrouping.undone_at.is_(None),
                )
                .order_by(StudyGrouping.id.desc())
            )
        if grouping is None:
            return f"Study {self.study_id} was not made by a {action}."
        detail = grouping.detail or {}
        sources = ", ".join(str(s.get("study_id")) for s in detail.get("sources", []))
        when = f"{grouping.created_at:%Y-%m-%d %H:%M} by {grouping.reviewer}"
        why = f" ({grouping.reason})" if grouping.reason else ""
        if action == "merge":
            return (
                f"Study {self.study_id} was merged from studies {sources} on {when}{why}.\n"
                "Undo restores those studies with their series and audits (new study ids)."
            )
        return (
            f"Study {self.study_id} was split off study {sources} on {when}{why}.\n"
            "Undo puts its images back into that study."
        )

    def update_preview(self) -> None:
        if self.mode in ("unmerge", "unsplit"):
            self.preview.setPlainText(self._undo_text())
            return
        picked = self.checked()
        if self.mode == "merge":
            chosen = [self._studies[i] for i in picked]
            text = hanging_preview(chosen, "Merged exam")
            if len(chosen) < 2:
                text = "Tick at least two studies.\n\n" + text
            self.ok_button.setEnabled(len(chosen) >= 2)
        else:
            study = self._studies[self.study_id]
            keep, move = _divide(study, set(picked))
            text = (
                hanging_preview([keep], f"Study {study.id} keeps")
                + "\n\n"
                + hanging_preview([move], "New study gets")
            )
            total = study.n_images
            self.ok_button.setEnabled(0 < len(picked) < total)
        self.preview.setPlainText(text)

    # ------------------------------------------------------------------ action
    def apply(self) -> None:
        """Do the merge/split/undo; a refusal is shown in the dialog and nothing changes."""
        reason = self.reason.text().strip() or None
        try:
            with self.db.transaction() as session:
                if self.mode == "merge":
                    self.result_ = sg.merge_studies(
                        session,
                        self.checked(),
                        reviewer=self.reviewer,
                        reason=reason,
                        force=self.force.isChecked(),
                    )
                elif self.mode == "split":
                    self.result_ = sg.split_study(
                        session, self.study_id, self.checked(), reviewer=self.reviewer,
                        reason=reason,
                    )  # fmt: skip
                else:
                    self.result_ = sg.undo_for_study(
                        session, self.study_id, self.mode[2:], reviewer=self.reviewer,
                        reason=reason,
                    )  # fmt: skip
        except sg.GroupingError as exc:
            self.error.setText(str(exc))
            return
        self.changed.emit(self.result_.study_id)
        self.accept()


def _divide(study: StudySummary, moving: set[int]) -> tuple[StudySummary, StudySummary]:
    keep, move = [], []
    for se in study.series:
        stay = [img for img in se.images if img.id not in moving]
        go = [img for img in se.images if img.id in moving]
        if stay:
            keep.append(dataclasses.replace(se, images=stay))
        if go:
            move.append(dataclasses.replace(se, images=go))
    return dataclasses.replace(study, series=keep), dataclasses.replace(study, series=move)


class SuggestionsDialog(QDialog):
    """Studies that look like one exam sent in pieces; "Review and merge…" opens the merge
    dialog with the group ticked. Nothing is merged from here directly."""

    review = Signal(int, tuple)  # first study id, the suggested group

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Suggested merges")
        self.resize(620, 360)
        with db.session() as session:
            self.suggestions = suggest_groups(list_studies(session, kind="mammo"))
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Studies of one patient (or accession) and day whose views complement each "
                "other. Review each group before merging."
            )
        )
        self.list = QListWidget()
        self.list.setObjectName("suggestions")
        for g in self.suggestions:
            ids = ", ".join(str(i) for i in g.study_ids)
            item = QListWidgetItem(f"studies {ids}: {g.reason}")
            item.setData(ROLE_STUDY, g.study_ids)
            self.list.addItem(item)
        if not self.suggestions:
            self.list.addItem("No studies look like one exam sent in pieces.")
        layout.addWidget(self.list)
        self.review_button = QPushButton("Review and merge…")
        self.review_button.clicked.connect(self._review)
        self.list.itemDoubleClicked.connect(lambda _item: self._review())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(self.review_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout.addWidget(buttons)

    def _review(self) -> None:
        item = self.list.currentItem()
        ids = item.data(ROLE_STUDY) if item is not None else None
        if ids:
            self.review.emit(ids[0], tuple(ids))
            self.accept()


class GroupHistoryDialog(QDialog):
    """Every merge and split (who, when, why, undone by whom); "Undo" for the selected one."""

    changed = Signal(int)

    def __init__(
        self, db: Database, reviewer: Callable[[], str | None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.db, self._reviewer = db, reviewer
        self.setWindowTitle("Merge and split history")
        self.resize(640, 360)
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setObjectName("group_history")
        layout.addWidget(self.list)
        self.error = QLabel()
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.undo_button = QPushButton("Undo selected")
        self.undo_button.clicked.connect(self.undo_selected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(self.undo_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout.addWidget(buttons)
        self.reload()

    def reload(self) -> None:
        self.list.clear()
        with self.db.session() as session:
            rows = sg.history(session)
        for r in rows:
            sources = ", ".join(str(i) for i in r.source_study_ids)
            what = (
                f"merged studies {sources} into {r.result_study_id}"
                if r.action == "merge"
                else f"split {r.n_images} image(s) of study {sources} into {r.result_study_id}"
            )
            text = f"#{r.id} {r.created_at:%Y-%m-%d %H:%M} {r.reviewer}: {what}"
            if r.reason:
                text += f" ({r.reason})"
            if r.undone_at:
                text += f" — undone {r.undone_at:%Y-%m-%d %H:%M} by {r.undone_by}"
            item = QListWidgetItem(text)
            item.setData(ROLE_STUDY, r.id if r.active else None)
            self.list.addItem(item)
        if not rows:
            self.list.addItem("No studies were merged or split.")

    def undo_selected(self) -> None:
        item = self.list.currentItem()
        grouping = item.data(ROLE_STUDY) if item is not None else None
        if grouping is None:
            self.error.setText("Select a merge or split that is not undone yet.")
            return
        who = self._reviewer()
        if who is None:
            self.error.setText("Nothing was undone: choose a reviewer first.")
            return
        try:
            with self.db.transaction() as session:
                result = sg.undo_grouping(session, grouping, reviewer=who)
        except sg.GroupingError as exc:
            self.error.setText(str(exc))
            return
        self.error.setText("; ".join(result.notes))
        self.reload()
        self.changed.emit(result.study_id)


def _made_by(db: Database, study_uid: str) -> set[str]:
    with db.session() as session:
        return set(
            session.scalars(
                select(StudyGrouping.action).where(
                    StudyGrouping.result_study_uid == study_uid,
                    StudyGrouping.undone_at.is_(None),
                )
            )
        )


def _open(window: Any, dialog: QDialog) -> QDialog:
    """Show ``dialog`` without blocking; the previous one is closed and freed (kept until then
    so a caller can still read what it did)."""
    old = getattr(window, "study_group_dialog", None)
    if old is not None:
        old.close()
        old.deleteLater()
    window.study_group_dialog = dialog
    dialog.open()
    return dialog


def open_group_dialog(
    window: Any, mode: str, study_id: int, preselect: tuple[int, ...] = ()
) -> QDialog | None:
    """Open the merge/split/undo dialog for ``study_id`` under the current reviewer (asked for
    first when there is none); the tree reloads and shows the result afterwards."""
    reviewer = window.require_reviewer()
    if reviewer is None:
        window.statusBar().showMessage(
            "Nothing was changed: choose a reviewer first (Reviewer → Switch reviewer…).", 8000
        )
        return None
    dialog = StudyGroupDialog(window.db, mode, study_id, reviewer.name, window, preselect=preselect)
    dialog.changed.connect(lambda sid: _after_change(window, sid, dialog))
    return _open(window, dialog)


def _after_change(window: Any, study_id: int, dialog: StudyGroupDialog) -> None:
    window.refresh()
    notes = dialog.result_.notes if dialog.result_ else []
    window.statusBar().showMessage(" ".join([f"Done: study {study_id}.", *notes]), 10000)


def open_suggestions(window: Any) -> QDialog:
    dialog = SuggestionsDialog(window.db, window)
    dialog.review.connect(lambda first, ids: open_group_dialog(window, "merge", first, ids))
    return _open(window, dialog)


def open_history(window: Any) -> QDialog:
    def who() -> str | None:
        reviewer = window.require_reviewer()
        return reviewer.name if reviewer is not None else None

    dialog = GroupHistoryDialog(window.db, who, window)
    dialog.changed.connect(lambda _sid: window.refresh())
    return _open(window, dialog)


def mark_suggested(item: QStandardItem, study_id: int, marks: dict[int, Suggestion]) -> None:
    """Add the tree's "merge suggested with #2 #3" marker (reason in the tooltip)."""
    if study_id in marks:
        others = " ".join(f"#{i}" for i in marks[study_id].study_ids if i != study_id)
        item.setText(f"{item.text()}  ·  merge suggested with {others}")
        item.setToolTip(marks[study_id].reason)


def study_menu(window: Any, study: StudySummary) -> QMenu:
    """The study row's context menu (see :func:`add_study_actions`)."""
    menu = QMenu(window)
    add_study_actions(window, menu, study)
    return menu


def add_study_actions(window: Any, menu: QMenu, study: StudySummary) -> None:
    """The study row's context menu: merge, split, and undo when the study was made so."""
    made = _made_by(window.db, study.study_uid)
    act = menu.addAction("Merge with other studies…")
    act.triggered.connect(lambda _=False: open_group_dialog(window, "merge", study.id))
    act = menu.addAction("Split this study…")
    act.setEnabled(study.n_images > 1)
    act.triggered.connect(lambda _=False: open_group_dialog(window, "split", study.id))
    if "merge" in made:
        act = menu.addAction("Unmerge (restore the original studies)…")
        act.triggered.connect(lambda _=False: open_group_dialog(window, "unmerge", study.id))
    if "split" in made:
        act = menu.addAction("Undo the split that made this study…")
        act.triggered.connect(lambda _=False: open_group_dialog(window, "unsplit", study.id))
    menu.addSeparator()
    menu.addAction("Suggested merges…").triggered.connect(lambda _=False: open_suggestions(window))
    menu.addAction("Merge and split history…").triggered.connect(
        lambda _=False: open_history(window)
    )
