"""``auditdesk --selftest``: the core checks plus Qt and the PDF report, one line each.

An argparse action (like ``--version``) so it runs before any sub-command and needs no change
to the CLI's dispatch.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditdesk import __version__


def run_selftest() -> int:
    """Run every check; 0 only if all pass."""
    from auditdesk.runtime import selftest

    selftest.use_offscreen_without_display()
    print(f"auditdesk {__version__} selftest", flush=True)
    with selftest.scratch_folder() as tmp:
        folder = Path(tmp)

        def qt() -> str:
            from auditdesk.ui.common.selftest_qt import check_qt

            return check_qt()

        def pdf() -> str:
            from auditdesk.ui.common.selftest_qt import check_pdf

            return check_pdf(f"sqlite:///{folder / 'selftest.sqlite'}", folder)

        checks = [
            selftest.Check("Qt starts", qt),
            *selftest.core_checks(folder),
            selftest.Check("PDF report renders", pdf),
        ]
        return selftest.run_checks(checks)


class SelftestAction(argparse.Action):
    """``--selftest``: run the checks and exit with their result."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "check this installation (codecs, database, Qt, PDF) and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        parser.exit(run_selftest())
