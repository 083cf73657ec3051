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
import os
import re
from pathlib import Path

from auditdesk.paths import log_dir

LOGGER_NAME = "auditdesk"
LOG_FILENAME = "auditdesk.log"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 3

_PATTERNS = (
    (re.compile(r"(?:[A-Za-z]:)?[/\\][^\s'\",;()]+"), "<path>"),  # folders name patients
    (re.compile(r"\b\d+(?:\.\d+){2,}\b"), "<uid>"),  # DICOM UIDs (2.25.…, 1.2.840.…)
    (re.compile(r"\b(?:19|20)\d{2}-?[01]\d-?[0-3]\d\b"), "<date>"),  # birth/study dates
    (re.compile(r"[^\s'\"^]*[A-Za-z]\^+[A-Za-z][^\s'\"]*"), "<name>"),  # DICOM person names
    (re.compile(r"\b[A-Za-z][A-Za-z_-]*\d{3,}[A-Za-z\d]*\b"), "<id>"),  # DEMO-0001, ACC123
    (re.compile(r"\b\d{5,}\b"), "<id>"),  # numeric patient IDs, accession numbers
)


def scrub(text: str) -> str:
    """``text`` without paths, UIDs, dates, DICOM person names and ID-like tokens."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_traceback(text: str) -> str:
    """Keep a traceback's code locations (``File "…", line N``) and code lines; scrub the rest
    (the exception messages, which may quote data)."""
    out, code_next = [], False
    for line in text.splitlines():
        if line.startswith('  File "'):
            out.append(line)
            code_next = True
        elif code_next and line.startswith("    "):
            out.append(line)
        else:
            out.append(scrub(line))
            code_next = False
    return "\n".join(out)


class _ScrubbingFormatter(logging.Formatter):
    """Scrubs the message and any traceback, not the time stamp."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = scrub_traceback(self.formatException(record.exc_info))
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
    for old in [h for h in logger.handlers if getattr(h, "_auditdesk", False)]:
        if getattr(old, "baseFilename", None) != os.path.abspath(path):  # data folder moved
            logger.removeHandler(old)
            old.close()
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

    return os.access(folder, os.W_OK)


def log_exception(context: str, exc: BaseException) -> None:
    """Write an unexpected error (with its traceback, scrubbed) to the log file."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.error(
        "%s: %s", context, type(exc).__name__, exc_info=(type(exc), exc, exc.__traceback__)
    )
