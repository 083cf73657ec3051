"""AuditDesk's log file: one size-limited, rotating file in the data folder, free of patient data.

Why: a user who meets an error sees one sentence; the details a maintainer needs (which
command, the exception and its traceback) go here instead of the screen. Every line passes
through ``scrub`` first, which removes what could identify a patient: DICOM UIDs, dates, long
numbers (patient IDs, accession numbers), DICOM person names (``Family^Given``) and, in
tracebacks, the exception text is scrubbed while the code locations are kept.

API (small on purpose; a crash dialog can build on it):

* ``setup(console=False) -> Path``: start logging to ``log_path()`` (idempotent).
* ``log_path() -> Path``: the current log file (``<data folder>/logs/auditdesk.log``).
* ``log_exception(context, exc) -> None``: record an unexpected error with its traceback.
* ``scrub(text) -> str``: the de-identification applied to every line.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import traceback
from pathlib import Path

from auditdesk.paths import log_dir

LOGGER_NAME = "auditdesk"
LOG_FILENAME = "auditdesk.log"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 3

_PATTERNS = (
    (re.compile(r"\b\d+(?:\.\d+){3,}\b"), "<uid>"),  # DICOM UIDs (1.2.840.…); also IPs
    (re.compile(r"\b(?:19|20)\d{2}-?[01]\d-?[0-3]\d\b"), "<date>"),  # birth/study dates
    (re.compile(r"[^\s'\"/\\^]*[A-Za-z]\^+[A-Za-z][^\s'\"/\\]*"), "<name>"),  # DICOM names
    (re.compile(r"\b[A-Za-z]*\d{5,}[A-Za-z\d]*\b"), "<id>"),  # patient IDs, accession numbers
)


def scrub(text: str) -> str:
    """``text`` without UIDs, dates, DICOM person names and long numbers."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _ScrubbingFormatter(logging.Formatter):
    """Scrubs the message and any traceback, not the time stamp."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = scrub(self.formatException(record.exc_info))
            record.exc_info = None
        return super().format(record)


def log_path() -> Path:
    return log_dir() / LOG_FILENAME


def setup(console: bool = False) -> Path:
    """Send the ``auditdesk`` logger to the rotating log file; returns the file's path.

    Never raises: when the data folder is not writable, logging is simply off.
    """
    logger = logging.getLogger(LOGGER_NAME)
    path = log_path() if _can_log() else None
    if path is None:
        return Path(LOG_FILENAME)
    if not any(getattr(h, "_auditdesk", False) for h in logger.handlers):
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
        )
        handler._auditdesk = True  # type: ignore[attr-defined]
        handler.setFormatter(_ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    if console and not any(getattr(h, "_auditdesk_console", False) for h in logger.handlers):
        stream = logging.StreamHandler()
        stream._auditdesk_console = True  # type: ignore[attr-defined]
        stream.setFormatter(_ScrubbingFormatter("%(levelname)s: %(message)s"))
        stream.setLevel(logging.WARNING)
        logger.addHandler(stream)
    return path


def _can_log() -> bool:
    try:
        folder = log_dir()
    except OSError:
        return False
    import os

    return os.access(folder, os.W_OK)


def log_exception(context: str, exc: BaseException) -> None:
    """Write an unexpected error (with its traceback, scrubbed) to the log file."""
    logger = logging.getLogger(LOGGER_NAME)
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    logger.error("%s: %s\n%s", context, type(exc).__name__, details)
