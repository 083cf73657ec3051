"""The team leader's entry points in the main window: site setup, sampling, dashboard."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, db, loader):
    from auditdesk.ui.main_window import MainWindow

    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()
    return win


def test_menus_open_site_setup_sampling_and_the_dashboard(qtbot, window):
    from auditdesk.ui.qi_window import QIWindow
    from auditdesk.ui.sampling_dialog import SamplingDialog
    from auditdesk.ui.site_dialog import SiteDialog

    window.site_setup_action.trigger()
    site = window.findChild(SiteDialog)
    assert site is not None and site.isVisible()
    site.reject()
    window.sampling_action.trigger()
    sampling = window.findChild(SamplingDialog)
    assert sampling is not None and sampling.isVisible()
    sampling.reject()
    window.qi_action.trigger()
    assert isinstance(window.qi_window, QIWindow) and window.qi_window.isVisible()
    first = window.qi_window
    window.qi_action.trigger()  # one dashboard, raised again
    assert window.qi_window is first
