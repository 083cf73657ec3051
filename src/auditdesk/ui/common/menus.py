"""Menu tables: each role lists its menu entries as data, and the main window builds its menu bar
from those tables.

Separate so that ``main_window`` only wires menus to the role parts (issue 14): which entries a
role offers lives next to that role's actions (``ui/qi/actions.py``, ``ui/review/actions.py``),
and adding an entry does not touch the window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu


@dataclass(frozen=True)
class MenuEntry:
    """One menu entry; ``slot`` is a window method's name or a callable given the window.

    ``attr`` names the window attribute the QAction is kept under (tests and other code use
    them, e.g. ``window.qi_action``); ``text=""`` is a separator.
    """

    menu: str
    text: str = ""
    slot: str | Callable[[Any], object] = ""
    attr: str = ""
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None
    tip: str = ""


def separator(menu: str) -> MenuEntry:
    """A separator line in ``menu``."""
    return MenuEntry(menu)


def build_menus(
    window: QMainWindow, order: Iterable[str], tables: Iterable[Iterable[MenuEntry]]
) -> dict[str, QMenu]:
    """Add the menus in ``order`` to the window's menu bar, then every table's entries in turn."""
    bar = window.menuBar()
    menus = {title: bar.addMenu(title) for title in order}
    for table in tables:
        for entry in table:
            menu = menus[entry.menu]
            if not entry.text:
                menu.addSeparator()
                continue
            action = QAction(entry.text, window)
            if entry.shortcut is not None:
                action.setShortcut(QKeySequence(entry.shortcut))
            if entry.tip:
                action.setToolTip(entry.tip)
            if isinstance(entry.slot, str):
                action.triggered.connect(getattr(window, entry.slot))
            else:
                action.triggered.connect(lambda _=False, f=entry.slot: f(window))
            menu.addAction(action)
            if entry.attr:
                setattr(window, entry.attr, action)
    return menus
