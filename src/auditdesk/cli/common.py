"""Small pieces every ``auditdesk`` subcommand module shares (kept apart from ``cli.py``, which
imports those modules to register them)."""

from __future__ import annotations

import argparse
import datetime as dt


def iso_date(text: str) -> dt.date:
    """argparse ``type=`` for YYYY-MM-DD options (a bad date is a usage error, exit code 2)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


__all__ = ["iso_date"]
