"""The team leader's actions of the main window: site setup, the weekly sample and the QI
dashboard.

Separate from ``main_window`` so the window only wires menus; these open the QI role's windows.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QWidget

from auditdesk.ui.common.menus import MenuEntry

#: The team leader's menu entries.
QI_MENU = (
    MenuEntry(
        "&Site",
        "Site &setup…",
        "show_site_setup",
        attr="site_setup_action",
        tip="Site, collaborative, goal, technologists (Operators' Name mapping), locations",
    ),
    MenuEntry("&Site", "&Draw a week's sample…", "show_sampling", attr="sampling_action"),
    MenuEntry(
        "Re&ports",
        "&Team leader dashboard…",
        "show_qi_window",
        attr="qi_action",
        shortcut="Ctrl+Shift+D",
        tip="Weekly measure, p-chart and run chart, roll-ups, exports and PDF reports",
    ),
)


class QIActionsMixin:
    """Site and Reports menu entries of the team leader.

    A mixin of ``MainWindow``: it uses the window's widgets and state.
    """

    # ---------------------------------------------------------------- team leader
    def show_site_setup(self) -> QDialog:
        """Site → Site setup…; the worklist and open audit follow the saved mapping."""
        from auditdesk.ui.qi.site_dialog import SiteDialog

        dialog = SiteDialog(self.db, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self.refresh)
        dialog.open()
        return dialog

    def show_sampling(self) -> QDialog:
        """Site → Draw a week's sample…; the worklist then shows the sample and its progress."""
        from auditdesk.ui.qi.sampling_dialog import SamplingDialog

        reviewer_pk = self.reviewer.id if self.reviewer is not None else None
        dialog = SamplingDialog(self.db, self, reviewer_pk=reviewer_pk)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _code: self.worklist.refresh())
        dialog.open()
        return dialog

    def show_qi_window(self) -> QWidget:
        """Reports → Team leader dashboard: one window, raised when asked for again."""
        from auditdesk.ui.qi.qi_window import QIWindow

        return self._single_window("qi_window", lambda: QIWindow(self.db, self))
