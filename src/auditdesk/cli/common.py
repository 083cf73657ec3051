"""Small pieces every ``auditdesk`` subcommand module shares (kept apart from ``cli.py``, which
imports those modules to register them)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from auditdesk.dicom.index import ImportSummary


def iso_date(text: str) -> dt.date:
    """argparse ``type=`` for YYYY-MM-DD options (a bad date is a usage error, exit code 2)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def print_import_summary(summary: ImportSummary, out: TextIO | None = None) -> None:
    """What an import did, for ``import`` and ``pacs retrieve`` alike."""
    out = out or sys.stdout
    print(
        f"Indexed {len(summary.study_uids)} studies, {len(summary.series_uids)} series, "
        f"{summary.usable_images} images "
        f"({summary.added} new, {summary.updated} updated, {summary.unchanged} unchanged"
        + (f", {summary.duplicates} duplicate copies" if summary.duplicates else "")
        + f") from {summary.files_seen} files in {summary.seconds:.1f} s.",
        file=out,
    )
    if summary.ignored:
        print(f"Ignored {summary.ignored} files that are not DICOM by name.", file=out)
    for source, message in summary.notes:
        print(f"Note: {source}: {message}", file=out)
    if summary.skipped:
        print(f"Skipped {len(summary.skipped)} files:", file=out)
        for item in summary.skipped:
            print(f"  {item.path}: {item.reason}", file=out)
    if summary.cancelled:
        print("Import was cancelled; what was read so far is saved.", file=out)


__all__ = ["iso_date", "print_import_summary"]
