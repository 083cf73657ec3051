"""Small Qt helpers the windows share: the settings file, dates for QDateEdit, read-only table
cells and the tables the dashboards use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from PySide6.QtCore import QDate, QSettings, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from auditdesk.paths import data_dir


def settings() -> QSettings:
    """Window state and preferences live beside the database, so AUDITDESK_HOME moves them too."""
    return QSettings(str(data_dir() / "auditdesk.ini"), QSettings.Format.IniFormat)


def setting_bool(value: object) -> bool:
    """QSettings' INI backend gives booleans back as the strings 'true' / 'false'."""
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def pydate(value: QDate) -> dt.date:
    return dt.date(value.year(), value.month(), value.day())


def table_item(value: object, *, number: bool = False, data: object = None) -> QTableWidgetItem:
    """A read-only cell; numbers right-aligned; ``data`` kept under UserRole."""
    item = QTableWidgetItem(str(value))
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if data is not None:
        item.setData(Qt.ItemDataRole.UserRole, data)
    return item


def make_table(headers: Sequence[str], name: str) -> QTableWidget:
    """A read-only, row-selecting table sized to its contents (dashboards and dialogs)."""
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().setVisible(False)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


__all__ = ["make_table", "pydate", "qdate", "setting_bool", "settings", "table_item"]
