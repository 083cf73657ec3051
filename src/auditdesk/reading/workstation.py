"""What the audit workstation decides without Qt: which checklist an exam gets, where a
measurement's numbers are filed in the audit, and which images to decode ahead of "next exam".

Kept out of the window class so the rules are tested on their own and the CLI could reuse them.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditdesk.checklists.loader import LoadResult
from auditdesk.checklists.schema import Checklist
from auditdesk.dicom.sources import Location
from auditdesk.reading.hanging import hang_mammo
from auditdesk.reading.mr_layout import Stack, default_layout
from auditdesk.store.catalog import StudySummary

#: The checklist an exam opens with until the reviewer picks another for that modality
#: (the choice is remembered per workstation). Site defaults, not collaborative policy.
DEFAULT_CHECKLISTS: dict[str, str] = {"MG": "acr-mammo-positioning", "MR": "pi-qual-v2"}
KIND_MODALITY: dict[str, str] = {"mammo": "MG", "mr": "MR"}

#: Measurement answer keys per tool, as the shipped checklists name them ("RMLO:pnl_mm").
PNL_KEY = "pnl_mm"
PECTORAL_TO_PNL_KEY = "pectoral_to_pnl_mm"
RULER_KEY = "ruler_mm"


def modality_of(study: StudySummary) -> str | None:
    """'MG' or 'MR' for the kinds a checklist exists for; None for anything else."""
    return KIND_MODALITY.get(study.kind)


def checklists_for(result: LoadResult, modality: str | None) -> list[Checklist]:
    """The newest version of each checklist that audits this modality, by title."""
    if modality is None:
        return []
    return sorted(
        (c for c in result.latest() if c.modality == modality), key=lambda c: c.title.lower()
    )


def choose_checklist(
    result: LoadResult, modality: str | None, preferred: str | None = None
) -> Checklist | None:
    """The reviewer's remembered choice, else the site default, else the first that fits."""
    options = checklists_for(result, modality)
    for wanted in (preferred, DEFAULT_CHECKLISTS.get(modality or "")):
        found = next((c for c in options if c.id == wanted), None)
        if found is not None:
            return found
    return options[0] if options else None


@dataclass(frozen=True)
class MeasurementValue:
    """One number a measurement files in the audit, under an answer key."""

    key: str
    value_mm: float | None
    value_px: float


def measurement_values(
    member: str, kind: str, value_mm: float | None, value_px: float, extra: dict[str, float]
) -> list[MeasurementValue]:
    """Answer keys a finished measurement fills on view ``member`` ("RMLO", "T2W", ...).

    A PNL on an MLO also gives the pectoral-to-PNL distance; a ruler is kept per view (the
    newest one) so it is saved and redrawn with the audit but feeds no rule unless a site's
    checklist asks for ``<VIEW>:ruler_mm``. Pixel values of derived numbers are not known
    separately, so they carry the length in pixels of the measurement they come from.
    """
    if kind in ("pnl_cc", "pnl_mlo"):
        values = [MeasurementValue(f"{member}:{PNL_KEY}", value_mm, value_px)]
        if kind == "pnl_mlo" and PECTORAL_TO_PNL_KEY in extra:
            pect = extra[PECTORAL_TO_PNL_KEY]
            values.append(
                MeasurementValue(
                    f"{member}:{PECTORAL_TO_PNL_KEY}",
                    pect if value_mm is not None else None,
                    extra.get("pectoral_to_pnl_px", value_px),
                )
            )
        return values
    if kind == "ruler":
        return [MeasurementValue(f"{member}:{RULER_KEY}", value_mm, value_px)]
    raise ValueError(f"unknown measurement kind {kind!r}")


def prefetch_locations(
    study: StudySummary, stacks: list[Stack] | None = None
) -> list[tuple[Location, int]]:
    """The (file, frame) pairs "next exam" draws first: the four hung views of a mammogram, or
    for MR the middle slice of each stack of the default layout (``stacks`` from
    :func:`auditdesk.reading.mr_layout.build_stacks`;
    the MR view fetches the slices around them)."""
    if study.kind == "mammo":
        hanging = hang_mammo(study)
        return [
            (Location(choice.image.path, choice.image.archive_member), 0)
            for choice in hanging.slots.values()
            if choice.image is not None
        ]
    if not stacks:
        return []
    by_label = {stack.label: stack for stack in stacks}
    wanted = [by_label[label] for label in default_layout(stacks) if label in by_label]
    pairs = []
    for stack in wanted:
        middle = stack.slice(0, stack.n_slices // 2)
        pairs.append((middle.location, middle.frame))
    return pairs


__all__ = [
    "DEFAULT_CHECKLISTS",
    "MeasurementValue",
    "checklists_for",
    "choose_checklist",
    "measurement_values",
    "modality_of",
    "prefetch_locations",
]
