"""Site setup → "Control chart" tab: which special-cause rules the p-chart tests, the small-n
flag, and what a weekly export does with a range that cuts a week.

The values are site settings (``site.SiteSettings.spc_rules``, ``spc_small_np``,
``week_policy``), also set by ``auditdesk site set``; the rules themselves are described in
:mod:`auditdesk.qi.spc_rules`. Kept out of ``site_dialog.py`` so that dialog stays about the site.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from auditdesk.qi import site
from auditdesk.qi.spc_rules import RULE_NAMES, format_rules

__all__ = ["ChartSettingsTab"]

WEEK_POLICY_LABELS = {
    "snap": "Snap to whole Sunday–Saturday weeks (and say so)",
    "refuse": "Refuse, naming the week that is cut",
}


class ChartSettingsTab(QWidget):
    """The editors; :meth:`apply` copies what is entered into a ``SiteSettings``."""

    def __init__(self, settings: site.SiteSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        enabled = site.enabled_rules(settings)
        rules_box = QGroupBox("Special-cause rules tested on the p-chart (per phase)", self)
        rules_layout = QVBoxLayout(rules_box)
        self.rule_boxes: dict[str, QCheckBox] = {}
        for key, name in RULE_NAMES.items():
            box = QCheckBox(name, rules_box)
            box.setObjectName(f"rule_{key}")
            box.setChecked(key in enabled)
            rules_layout.addWidget(box)
            self.rule_boxes[key] = box
        self.small_np = QDoubleSpinBox(self)
        self.small_np.setRange(0.0, site.MAX_SMALL_NP)
        self.small_np.setDecimals(1)
        self.small_np.setSingleStep(1.0)
        self.small_np.setSpecialValueText("off")
        self.small_np.setValue(settings.spc_small_np)
        self.small_np.setToolTip(
            "A week's limits are marked approximate when n·p̄ or n·(1−p̄) is below this "
            "(5 by default; some texts use 6). 0 switches the mark off."
        )
        self.week_policy = QComboBox(self)
        for key, label in WEEK_POLICY_LABELS.items():
            self.week_policy.addItem(label, key)
        self.week_policy.setCurrentIndex(max(0, self.week_policy.findData(settings.week_policy)))
        form = QFormLayout()
        form.addRow("Few exams (n·p̄ below)", self.small_np)
        form.addRow("Export range cutting a week", self.week_policy)
        hint = QLabel(
            "Rules use the centre line and limits of each phase. A week whose Saturday is after "
            "today is marked “partial” on the chart and in every export.",
            self,
        )
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.addWidget(rules_box)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addStretch(1)

    def apply(self, settings: site.SiteSettings) -> site.SiteSettings:
        """``settings`` with the rules, small-n limit and week policy entered here."""
        settings.spc_rules = format_rules({k for k, b in self.rule_boxes.items() if b.isChecked()})
        settings.spc_small_np = float(self.small_np.value())
        settings.week_policy = self.week_policy.currentData() or "snap"
        return settings
