"""Where AuditDesk keeps its files.

One data directory holds the SQLite database, demo data and logs. It defaults to the platform's
user data directory (platformdirs) and ``AUDITDESK_HOME`` moves it, for portable installs (USB
stick in a reading room) and for tests that must not touch the user's real database.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "AuditDesk"
HOME_ENV = "AUDITDESK_HOME"
DB_FILENAME = "auditdesk.sqlite"


def data_dir(create: bool = True) -> Path:
    """Return the data directory (``$AUDITDESK_HOME`` or the platform user data dir)."""
    override = os.environ.get(HOME_ENV, "").strip()
    path = (
        Path(override).expanduser() if override else Path(user_data_dir(APP_NAME, appauthor=False))
    )
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_url() -> str:
    """SQLite file in the data directory; embedded, no server needed."""
    return f"sqlite:///{data_dir() / DB_FILENAME}"


def demo_dir() -> Path:
    """Folder that ``auditdesk demo`` generates its synthetic studies into."""
    return data_dir() / "demo"


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
