"""Where AuditDesk keeps its files.

One data directory holds the SQLite database, demo data and logs. It defaults to the platform's
user data directory (platformdirs) and ``AUDITDESK_HOME`` moves it, for portable installs (USB
stick in a reading room) and for tests that must not touch the user's real database.

Portable mode: a bundle with a ``portable.txt`` file beside its executable keeps its data in
``data/`` next to that executable, so a USB stick carries the app and its audits together (no
variable to set on each workstation). ``AUDITDESK_HOME`` still wins when set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "AuditDesk"
HOME_ENV = "AUDITDESK_HOME"
DB_FILENAME = "auditdesk.sqlite"
PORTABLE_MARKER = "portable.txt"
PORTABLE_DATA = "data"


def portable_data_dir() -> Path | None:
    """``data/`` beside the executable of a bundle that has a ``portable.txt`` there, else None.

    Only a frozen bundle can be portable: in a source install the executable is Python itself.
    """
    if not getattr(sys, "frozen", False):
        return None
    bundle = Path(sys.executable).resolve().parent
    return bundle / PORTABLE_DATA if (bundle / PORTABLE_MARKER).is_file() else None


def data_dir(create: bool = True) -> Path:
    """Return the data directory: ``$AUDITDESK_HOME``, else a portable bundle's ``data/``,
    else the platform user data dir."""
    override = os.environ.get(HOME_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
    else:
        path = portable_data_dir() or Path(user_data_dir(APP_NAME, appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_url() -> str:
    """The SQLite file in the data directory (embedded, no server needed). Which database a
    command really uses (``AUDITDESK_DB``, a department server, this file) is
    :func:`auditdesk.runtime.db_settings.database_url`."""
    return f"sqlite:///{data_dir() / DB_FILENAME}"


def demo_dir() -> Path:
    """Folder that ``auditdesk demo`` generates its synthetic studies into."""
    return data_dir() / "demo"


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
