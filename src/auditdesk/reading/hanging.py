"""Mammography hanging protocol: which image goes in which slot of the 2x2 layout.

The layout is the one screening readers expect::

    RMLO | LMLO
    -----+-----
    RCC  | LCC

The right breast is on the viewer's left and the left breast on the right, each mirrored so the
chest walls meet at the centre line (R slots: chest wall on the right edge of their viewport,
L slots: on the left edge; :func:`chest_wall_side` says which, and it is the default of
:func:`auditdesk.dicom.orientation.mammo_display_transform`).

Slots are filled from the classification (view + laterality, reviewer overrides applied):
screening images first (FOR PRESENTATION, no spot / magnification / implant-displaced), then,
when a slot has none, any image of that view and laterality with the reason it is not a
screening view noted. Several candidates: the latest series, then the latest instance. Images
that are not hung stay reachable in :attr:`MammoHanging.extras`.

No Qt here: the GUI only draws what this module decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditdesk.dicom.orientation import MammoTransform, mammo_display_transform
from auditdesk.store.catalog import ImageSummary, SeriesSummary, StudySummary

__all__ = [
    "MAMMO_SLOTS",
    "MammoHanging",
    "SlotChoice",
    "chest_wall_side",
    "hang_mammo",
    "slot_of",
    "slot_transform",
]

# 2x2 order, row by row: top row MLOs, bottom row CCs; right breast in the left column.
MAMMO_SLOTS: tuple[str, ...] = ("RMLO", "LMLO", "RCC", "LCC")

_LATERALITY = {"R": "R", "RIGHT": "R", "L": "L", "LEFT": "L"}


@dataclass(frozen=True)
class SlotChoice:
    """What one slot shows: an image id (None = empty) and a sentence for the reader."""

    slot: str
    image_id: int | None
    note: str = ""
    image: ImageSummary | None = None
    series: SeriesSummary | None = None

    @property
    def empty(self) -> bool:
        return self.image_id is None


@dataclass
class MammoHanging:
    """The four slots (in :data:`MAMMO_SLOTS` order) and the images left out of them."""

    slots: dict[str, SlotChoice]
    extras: list[ImageSummary] = field(default_factory=list)

    @property
    def image_ids(self) -> list[int]:
        return [c.image_id for c in self.slots.values() if c.image_id is not None]

    @property
    def missing(self) -> list[str]:
        return [name for name, c in self.slots.items() if c.empty]


def chest_wall_side(slot: str) -> str:
    """'right' for right-breast slots (chest wall at the centre line), 'left' for left ones."""
    return "right" if slot.upper().startswith("R") else "left"


def slot_transform(slot: str, patient_orientation: object) -> MammoTransform:
    """How to show the image hung in ``slot``: chest wall at the centre line, head or lateral
    side up. Laterality and view come from the slot (i.e. from the classification with any
    reviewer correction), not from the file, so a corrected image hangs as corrected."""
    return mammo_display_transform(
        patient_orientation or None, slot[0], slot[1:], chest_wall_side(slot)
    )


def slot_of(image: ImageSummary) -> str | None:
    """'RMLO', 'LCC', ... for an image whose view and laterality fit a slot; else None."""
    lat = _LATERALITY.get((image.laterality or "").strip().upper())
    view = (image.view or "").strip().upper()
    if lat is None or image.is_tomosynthesis:
        return None
    name = f"{lat}{view}"
    return name if name in MAMMO_SLOTS else None


def _latest(
    candidates: list[tuple[SeriesSummary, ImageSummary]],
) -> tuple[SeriesSummary, ImageSummary]:
    return max(
        candidates,
        key=lambda c: (c[0].series_number or 0, c[1].instance_number or 0, c[1].id),
    )


def hang_mammo(study: StudySummary) -> MammoHanging:
    """Choose the image for each slot of the 2x2 screening layout of ``study``."""
    screening: dict[str, list[tuple[SeriesSummary, ImageSummary]]] = {s: [] for s in MAMMO_SLOTS}
    other: dict[str, list[tuple[SeriesSummary, ImageSummary]]] = {s: [] for s in MAMMO_SLOTS}
    all_images: list[ImageSummary] = []
    for series in study.series:
        for image in series.images:
            all_images.append(image)
            slot = slot_of(image)
            if slot is None:
                continue
            (screening if image.is_screening_view else other)[slot].append((series, image))

    slots: dict[str, SlotChoice] = {}
    for slot in MAMMO_SLOTS:
        if screening[slot]:
            series, image = _latest(screening[slot])
            note = ""
            if len(screening[slot]) > 1:
                note = (
                    f"{len(screening[slot])} {slot} images: showing the latest "
                    f"(series {series.series_number or '?'}, "
                    f"image {image.instance_number or '?'})."
                )
            slots[slot] = SlotChoice(slot, image.id, note, image, series)
        elif other[slot]:
            series, image = _latest(other[slot])
            reason = (image.exclusion_reason or "not a screening view").rstrip(".")
            note = f"No screening {slot} image; showing one that is not: {reason}."
            slots[slot] = SlotChoice(slot, image.id, note, image, series)
        else:
            slots[slot] = SlotChoice(slot, None, f"No {slot} image in this study.")
    hung = {c.image_id for c in slots.values() if c.image_id is not None}
    extras = [img for img in all_images if img.id not in hung]
    return MammoHanging(slots=slots, extras=extras)
