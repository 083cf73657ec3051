"""Keep the worklist current while colleagues audit the same database from other workstations.

Every ``interval_s`` a timer reads ``store.change_stamp`` (one small query); only when it changed
is the worklist re-read, keeping the current study selected. A database that cannot be read for a
moment (server restarting) is simply tried again at the next tick.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer

from auditdesk.store.change_stamp import Stamp, change_stamp
from auditdesk.store.db import Database

#: Seconds between checks: a server is shared by design; a SQLite file rarely is.
SERVER_INTERVAL_S = 10
FILE_INTERVAL_S = 30


class WorklistPoller(QObject):
    """Refreshes ``panel`` (anything with ``refresh()``) when others changed the audits."""

    def __init__(self, panel: QObject, db: Database, interval_s: float | None = None) -> None:
        super().__init__(panel)
        self.panel = panel
        self.db = db
        if interval_s is None:
            server = db.engine.dialect.name != "sqlite"
            interval_s = SERVER_INTERVAL_S if server else FILE_INTERVAL_S
        self.last: Stamp | None = self._read()
        self.timer = QTimer(self)
        self.timer.setInterval(int(interval_s * 1000))
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    def _read(self) -> Stamp | None:
        try:
            with self.db.session() as session:
                return change_stamp(session)
        except Exception as exc:  # a network blip must not crash the window; next tick retries
            logging.getLogger(__name__).info("worklist poll skipped: %s", exc)
            return None

    def poll(self) -> bool:
        """Check once; True when the worklist was refreshed."""
        stamp = self._read()
        if stamp is None or stamp == self.last:
            return False
        self.last = stamp
        self.panel.refresh()  # type: ignore[attr-defined]
        return True
