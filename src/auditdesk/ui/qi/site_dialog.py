"""Site setup: the site's identity and goal, technologists and their header spellings, locations,
and who evaluates.

Why it is shaped like this:

* **Mapping operator names is the main job.** Operators' Name in real headers holds initials,
  blanks and spelling variants ("SMITH^JANE", "J.S."); the Technologists tab lists the names no
  technologist claims yet, with how many exams carry each, so a team leader maps the biggest
  ones first.
* **Nothing is saved until OK, and then all at once.** Changes are collected in the dialog and
  written in one transaction; if anything is invalid (a goal of 120 %), the dialog says why in
  one sentence and the database is left as it was.
* The rules (percent range, unique names, alias normalisation) live in ``auditdesk.qi.site``; this
  only shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from auditdesk.qi import site
from auditdesk.store.audits import list_reviewers
from auditdesk.store.db import Database
from auditdesk.ui.common.database_page import DatabasePage
from auditdesk.ui.qi.chart_settings import ChartSettingsTab

ROLE_LABELS = {"technologist": "technologist", "team_leader": "team leader", "coach": "coach"}


@dataclass
class _Tech:
    """A technologist as the dialog holds it (``id`` None: added in this dialog)."""

    name: str
    initials: str = ""
    location: str | None = None
    id: int | None = None
    aliases: list[str] = field(default_factory=list)  # stored (normalised) aliases
    new_aliases: list[str] = field(default_factory=list)  # raw names mapped in this dialog


SPELLINGS_HELP = (
    "Words your archive uses for mammography views and sides in descriptions, protocol names "
    "and identifiers: PHRASE = MEANING, one per line. MEANING is a side (R, L), a view (CC, MLO, "
    "ML, LM, XCCL, ...) or both (R MLO). Views read this way are low-confidence guesses that a "
    "reviewer confirms; they apply from the next import."
)


def parse_goal(text: str) -> float | None:
    """The goal typed by the user ("85", "85 %", blank) as a percentage; ValueError with a
    sentence for anything else."""
    text = text.strip().rstrip("%").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"The goal must be a percentage from 0 to 100 (e.g. 85), not '{text}'."
        ) from None
    if not 0 <= value <= 100:
        raise ValueError(f"The goal must be a percentage from 0 to 100, not {value:g}.")
    return value


def meets_rule_text(checklist: object) -> str:
    """The checklist's own definition of "meets criteria" (its rule label and description)."""
    rule_id = getattr(checklist, "meets_criteria", "")
    for rule in getattr(checklist, "rules", []):
        if rule.id == rule_id:
            parts = [rule.label or rule_id]
            if rule.description:
                parts.append(rule.description)
            if getattr(rule, "unconfirmed", False) and getattr(rule, "note", ""):
                parts.append(f"Unconfirmed: {rule.note}")
            return " — ".join(parts)
    return f"Rule '{rule_id}' of the checklist."


class SiteDialog(QDialog):
    """Site → Site setup…: edit the site settings, technologists, locations; OK saves."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.setWindowTitle("Site setup")
        self.setMinimumSize(720, 520)
        with db.session() as session:
            self._settings = site.get_site(session)
            self._techs = [
                _Tech(t.name, t.initials, t.location, t.id, list(t.aliases))
                for t in site.list_technologists(session, include_inactive=True)
            ]
            self._locations = site.list_locations(session)
            self._unmapped = site.unmapped_operator_names(session)
            self._reviewers = [
                (r.name, r.role, r.initials, r.active)
                for r in list_reviewers(session, include_inactive=True)
            ]
        self._new_locations: list[str] = []
        self._checklists = self._load_checklists()

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._site_tab(), "Site")
        self.tabs.addTab(self._technologists_tab(), "Technologists")
        self.tabs.addTab(self._locations_tab(), "Locations")
        self.tabs.addTab(self._evaluators_tab(), "Evaluators")
        self.chart_tab = ChartSettingsTab(self._settings, self)
        self.tabs.addTab(self.chart_tab, "Control chart")
        self.database_page = DatabasePage(self)  # this workstation's; saved by its own button
        self.tabs.addTab(self.database_page, "Database")

        self.error_label = QLabel(self)
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #ff8a80;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self._fill_technologists()
        self._fill_unmapped()
        self._fill_locations()

    # ------------------------------------------------------------------ tabs
    @staticmethod
    def _load_checklists() -> list[object]:
        from auditdesk.checklists.loader import load_all

        return [c for c in load_all().latest() if getattr(c, "meets_criteria", None)]

    def _site_tab(self) -> QWidget:
        tab = QWidget(self)
        s = self._settings
        self.name_edit = QLineEdit(s.site_name, tab)
        self.name_edit.setPlaceholderText("e.g. Riverside Breast Center")
        self.site_id_edit = QLineEdit(s.site_id, tab)
        self.site_id_edit.setPlaceholderText("short id used in exports, e.g. RBC01")
        self.organisation_edit = QLineEdit(s.organisation, tab)
        self.collaborative_edit = QLineEdit(s.collaborative, tab)
        self.collaborative_edit.setPlaceholderText(
            "e.g. ACR Learning Network — Mammography Positioning"
        )
        self.goal_edit = QLineEdit("" if s.goal_pct is None else f"{s.goal_pct:g}", tab)
        self.goal_edit.setPlaceholderText("% of exams meeting criteria, e.g. 85")
        self.checklist_combo = QComboBox(tab)
        for checklist in self._checklists:
            cid = checklist.id  # type: ignore[attr-defined]
            label = f"{checklist.title} ({cid}, {checklist.modality})"  # type: ignore[attr-defined]
            self.checklist_combo.addItem(label, cid)
        if self.checklist_combo.findData(s.checklist_id) < 0:
            self.checklist_combo.addItem(f"{s.checklist_id} (not installed)", s.checklist_id)
        self.checklist_combo.setCurrentIndex(self.checklist_combo.findData(s.checklist_id))
        self.meets_label = QLabel(tab)
        self.meets_label.setWordWrap(True)
        self.meets_label.setObjectName("hint")
        self.checklist_combo.currentIndexChanged.connect(self._show_meets_rule)
        self.location_combo = QComboBox(tab)
        self.location_combo.setEditable(True)
        self._fill_location_combo(s.default_location)
        self.demo_label = QLabel("This database holds DEMO data: every report says so.", tab)
        self.demo_label.setVisible(s.is_demo)
        self.spellings_edit = QPlainTextEdit(s.view_spellings, tab)
        self.spellings_edit.setObjectName("view_spellings")
        self.spellings_edit.setPlaceholderText("One per line, e.g.\nOBL = MLO\nDROIT = R")
        self.spellings_edit.setToolTip(SPELLINGS_HELP)
        self.spellings_edit.setMaximumHeight(90)

        form = QFormLayout()
        form.addRow("Site name", self.name_edit)
        form.addRow("Site id", self.site_id_edit)
        form.addRow("Organisation", self.organisation_edit)
        form.addRow("Collaborative", self.collaborative_edit)
        form.addRow("Goal (%)", self.goal_edit)
        form.addRow("Measure checklist", self.checklist_combo)
        form.addRow("Meets criteria means", self.meets_label)
        form.addRow("Default location", self.location_combo)
        form.addRow("Local view spellings", self.spellings_edit)
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addWidget(self.demo_label)
        layout.addStretch(1)
        self._show_meets_rule()
        return tab

    def _technologists_tab(self) -> QWidget:
        tab = QWidget(self)
        self.tech_table = QTableWidget(0, 4, tab)
        self.tech_table.setHorizontalHeaderLabels(["Name", "Initials", "Location", "Aliases"])
        self.tech_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tech_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tech_table.verticalHeader().setVisible(False)
        self.tech_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

        self.new_tech_name = QLineEdit(tab)
        self.new_tech_name.setPlaceholderText("Name, e.g. Jane Smith")
        self.new_tech_initials = QLineEdit(tab)
        self.new_tech_initials.setPlaceholderText("Initials")
        self.new_tech_initials.setMaximumWidth(80)
        self.new_tech_location = QComboBox(tab)
        self.new_tech_location.setEditable(True)
        self.add_tech_button = QPushButton("Add technologist", tab)
        self.add_tech_button.clicked.connect(self._add_technologist)
        add_row = QHBoxLayout()
        add_row.addWidget(self.new_tech_name, 2)
        add_row.addWidget(self.new_tech_initials)
        add_row.addWidget(self.new_tech_location, 1)
        add_row.addWidget(self.add_tech_button)

        box = QGroupBox("Operators' Names not mapped to a technologist", tab)
        self.unmapped_list = QListWidget(box)
        self.unmapped_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.map_combo = QComboBox(box)
        self.map_button = QPushButton("Map to technologist", box)
        self.map_button.clicked.connect(self._map_selected)
        hint = QLabel(
            "Headers hold initials, blanks and spelling variants; map each name to the person "
            "so their exams are counted together. The most frequent names are listed first.",
            box,
        )
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        map_row = QHBoxLayout()
        map_row.addWidget(self.map_combo, 1)
        map_row.addWidget(self.map_button)
        box_layout = QVBoxLayout(box)
        box_layout.addWidget(hint)
        box_layout.addWidget(self.unmapped_list, 1)
        box_layout.addLayout(map_row)

        layout = QVBoxLayout(tab)
        layout.addWidget(self.tech_table, 1)
        layout.addLayout(add_row)
        layout.addWidget(box, 1)
        return tab

    def _locations_tab(self) -> QWidget:
        tab = QWidget(self)
        self.locations_list = QListWidget(tab)
        self.new_location = QLineEdit(tab)
        self.new_location.setPlaceholderText("e.g. Breast Center North")
        self.add_location_button = QPushButton("Add location", tab)
        self.add_location_button.clicked.connect(self._add_location)
        row = QHBoxLayout()
        row.addWidget(self.new_location, 1)
        row.addWidget(self.add_location_button)
        layout = QVBoxLayout(tab)
        layout.addWidget(self.locations_list, 1)
        layout.addLayout(row)
        return tab

    def _evaluators_tab(self) -> QWidget:
        tab = QWidget(self)
        self.evaluators_table = QTableWidget(len(self._reviewers), 4, tab)
        self.evaluators_table.setHorizontalHeaderLabels(["Name", "Role", "Initials", "Active"])
        self.evaluators_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.evaluators_table.verticalHeader().setVisible(False)
        header = self.evaluators_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for row, (name, role, initials, active) in enumerate(self._reviewers):
            cells = (name, ROLE_LABELS.get(role, role), initials, "yes" if active else "no")
            for col, text in enumerate(cells):
                self.evaluators_table.setItem(row, col, QTableWidgetItem(text))
        note = QLabel(
            "Evaluators are the reviewer profiles. Add or deactivate them in "
            "Reviewer → Manage reviewers.",
            tab,
        )
        note.setWordWrap(True)
        note.setObjectName("hint")
        layout = QVBoxLayout(tab)
        layout.addWidget(self.evaluators_table, 1)
        layout.addWidget(note)
        return tab

    # ------------------------------------------------------------------ filling
    def _all_locations(self) -> list[str]:
        names = set(self._locations) | set(self._new_locations)
        names |= {t.location for t in self._techs if t.location}
        return sorted(names, key=str.casefold)

    def _fill_location_combo(self, chosen: str | None) -> None:
        self.location_combo.clear()
        self.location_combo.addItem("")
        for name in self._all_locations():
            self.location_combo.addItem(name)
        self.location_combo.setCurrentText(chosen or "")

    def _fill_locations(self) -> None:
        self.locations_list.clear()
        for name in self._all_locations():
            self.locations_list.addItem(name)
        chosen = self.location_combo.currentText()
        self._fill_location_combo(chosen)
        current = self.new_tech_location.currentText()
        self.new_tech_location.clear()
        self.new_tech_location.addItem("")
        for name in self._all_locations():
            self.new_tech_location.addItem(name)
        self.new_tech_location.setCurrentText(current)

    def _fill_technologists(self) -> None:
        self.tech_table.setRowCount(len(self._techs))
        for row, tech in enumerate(self._techs):
            aliases = [*tech.aliases, *tech.new_aliases]
            cells = (tech.name, tech.initials, tech.location or "", ", ".join(aliases))
            for col, text in enumerate(cells):
                self.tech_table.setItem(row, col, QTableWidgetItem(text))
        chosen = self.map_combo.currentData()
        self.map_combo.clear()
        for tech in sorted(self._techs, key=lambda t: t.name.casefold()):
            self.map_combo.addItem(tech.name, tech.name)
        if chosen:
            self.map_combo.setCurrentIndex(max(self.map_combo.findData(chosen), 0))
        self.map_button.setEnabled(bool(self._techs))

    def _fill_unmapped(self) -> None:
        self.unmapped_list.clear()
        mapped = {site.normalise_operator(raw) for t in self._techs for raw in t.new_aliases}
        for raw, count in self._unmapped:
            key = site.normalise_operator(raw)
            if key is None or key in mapped:
                continue
            noun = "exam" if count == 1 else "exams"
            item = QListWidgetItem(f"{raw.strip()}   ({count} {noun})")
            item.setData(Qt.ItemDataRole.UserRole, raw)
            self.unmapped_list.addItem(item)
        if self.unmapped_list.count() == 0:
            item = QListWidgetItem("Every operator name is mapped.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.unmapped_list.addItem(item)

    def _show_meets_rule(self, *_args: object) -> None:
        cid = self.checklist_combo.currentData()
        found = next((c for c in self._checklists if c.id == cid), None)  # type: ignore[attr-defined]
        self.meets_label.setText(
            meets_rule_text(found) if found else "This checklist is not installed."
        )

    # ------------------------------------------------------------------ actions
    def _set_error(self, text: str) -> None:
        self.error_label.setText(text)

    def _add_technologist(self) -> None:
        name = " ".join(self.new_tech_name.text().split())
        if not name:
            self._set_error("A technologist needs a name.")
            return
        if any(t.name.casefold() == name.casefold() for t in self._techs):
            self._set_error(f"A technologist named '{name}' already exists.")
            return
        initials = self.new_tech_initials.text().strip()
        if len(initials) > 8:
            self._set_error("Initials must be at most 8 characters.")
            return
        location = self.new_tech_location.currentText().strip() or None
        self._techs.append(_Tech(name, initials, location))
        self._techs.sort(key=lambda t: t.name.casefold())
        self.new_tech_name.clear()
        self.new_tech_initials.clear()
        self._set_error("")
        self._fill_technologists()
        self._fill_locations()

    def map_name(self, raw: str, technologist: str) -> None:
        """Map the raw Operators' Name to the technologist (saved with OK)."""
        tech = next((t for t in self._techs if t.name == technologist), None)
        if tech is None:
            self._set_error(f"There is no technologist named '{technologist}'.")
            return
        for other in self._techs:
            other.new_aliases = [
                a
                for a in other.new_aliases
                if site.normalise_operator(a) != site.normalise_operator(raw)
            ]
        tech.new_aliases.append(raw)
        self._set_error("")
        self._fill_technologists()
        self._fill_unmapped()

    def _map_selected(self) -> None:
        item = self.unmapped_list.currentItem()
        raw = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if not raw:
            self._set_error("Choose an operator name to map first.")
            return
        technologist = self.map_combo.currentData()
        if not technologist:
            self._set_error("Add the technologist first, then map the name to them.")
            return
        self.map_name(raw, technologist)

    def _add_location(self) -> None:
        name = " ".join(self.new_location.text().split())
        if not name:
            self._set_error("A location needs a name.")
            return
        if name.casefold() not in {n.casefold() for n in self._all_locations()}:
            self._new_locations.append(name)
        self.new_location.clear()
        self._set_error("")
        self._fill_locations()

    def settings(self) -> site.SiteSettings:
        """The settings as entered; ValueError with a sentence when the goal is not valid."""
        settings = site.SiteSettings(
            site_name=self.name_edit.text().strip(),
            site_id=self.site_id_edit.text().strip(),
            organisation=self.organisation_edit.text().strip(),
            collaborative=self.collaborative_edit.text().strip(),
            goal_pct=parse_goal(self.goal_edit.text()),
            checklist_id=self.checklist_combo.currentData() or self._settings.checklist_id,
            default_location=self.location_combo.currentText().strip() or None,
            is_demo=self._settings.is_demo,
            view_spellings=self.spellings_edit.toPlainText(),
        )
        return self.chart_tab.apply(settings)  # rules, small-n, week policy

    def save(self) -> bool:
        """Write everything in one transaction; False (and a sentence shown) when refused."""
        try:
            settings = self.settings()
            with self.db.transaction() as session:
                for name in self._new_locations:
                    site.add_location(session, name)
                site.save_site(session, settings)
                for tech in self._techs:
                    if tech.id is None:
                        tech.id = site.add_technologist(
                            session, tech.name, tech.initials, tech.location
                        ).id
                    for raw in tech.new_aliases:
                        site.add_alias(session, tech.id, raw)
        except (ValueError, site.SiteError) as exc:
            self._reset_new_ids()
            self._set_error(str(exc))
            return False
        self._set_error("")
        return True

    def _reset_new_ids(self) -> None:
        """After a rolled-back save, technologists added in this dialog are new again."""
        with self.db.session() as session:
            known = {t.id for t in site.list_technologists(session, include_inactive=True)}
        for tech in self._techs:
            if tech.id is not None and tech.id not in known:
                tech.id = None

    def accept(self) -> None:
        if self.save():
            super().accept()


__all__ = ["SiteDialog", "meets_rule_text", "parse_goal"]
