"""Types shared by the protocol modules and the retrieve loop (kept apart to avoid cycles)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class InstanceRef(NamedTuple):
    """One instance on the PACS: where it sits in the hierarchy and its SOP class."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class: str = ""


# Receives (study UID, SOP instance UID, complete Part 10 file bytes) for each arrived instance.
Sink = Callable[[str, str, bytes], None]


class TransferCancelledError(Exception):
    """The user pressed Cancel; what arrived so far stays for a later resume."""


__all__ = ["InstanceRef", "Sink", "TransferCancelledError"]
