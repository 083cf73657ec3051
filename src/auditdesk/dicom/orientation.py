"""Hanging mammograms the way readers expect, from Patient Orientation (0020,0020).

Patient Orientation gives the patient direction of the rows (towards the right edge of the
image) and of the columns (towards the bottom), with A/P, R/L, H/F letters; MLO views carry
two letters for the oblique column direction (e.g. GE R MLO "P\\FL").

Conventional display (the rule implemented here):

* Horizontal: the chest wall (posterior, P) goes to ``chest_wall_side``; by default a right
  breast has its chest wall on the right of its viewport and a left breast on the left, so a
  R/L pair hangs back to back with the nipples pointing at each other.
* Vertical, MLO/ML/LM/LMO/SIO/ISO: head (H) up; flip up-down only when the column direction
  points to the head.
* Vertical, CC/XCCL/XCCM/FB: the lateral side up (DICOM's conventional R CC "P\\L",
  L CC "A\\R"); flip up-down only when Patient Orientation says the lateral side is at the
  bottom. Without that information a CC is never flipped up-down.
* If A/P lies along the columns (e.g. a stereotactic image stored "R\\P"), flips alone cannot
  put the chest wall at a side: :func:`mammo_display_transform` then asks for a transpose
  first, while :func:`mammo_flips` (flips only) leaves the image as stored.
* Without Patient Orientation the image is assumed to be stored conventionally for its
  laterality (which is what the standard's examples and most vendors do) and flipped only if a
  non-default chest-wall side is requested; the reason says so, and
  :func:`chest_wall_side_from_pixels` can check the assumption on the rendered image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from auditdesk.dicom.pixels import functional_group_item

__all__ = [
    "MammoTransform",
    "apply_transform",
    "chest_wall_side_from_pixels",
    "dataset_mammo_transform",
    "mammo_display_transform",
    "mammo_flips",
    "parse_patient_orientation",
    "view_category",
]

_OPPOSITE = {"A": "P", "P": "A", "R": "L", "L": "R", "H": "F", "F": "H"}
_CC_VIEWS = {"CC", "XCCL", "XCCM", "FB", "CV", "RCC", "LCC"}
_LATERAL_VIEWS = {"MLO", "ML", "LM", "LMO", "SIO", "ISO", "AT", "RMLO", "LMLO"}


@dataclass(frozen=True)
class MammoTransform:
    """How to show a stored image: optional transpose (swap rows/columns) first, then flips."""

    flip_left_right: bool
    flip_up_down: bool
    transpose: bool = False
    chest_wall_side: str | None = None
    from_patient_orientation: bool = False
    reason: str = ""

    @property
    def flips(self) -> tuple[bool, bool]:
        return self.flip_left_right, self.flip_up_down


def parse_patient_orientation(value: object) -> tuple[str, str] | None:
    """('P', 'FL') from "P\\FL", ['P', 'FL'] or a MultiValue; None when absent/unusable."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.split("\\")
    elif isinstance(value, MultiValue | list | tuple):
        parts = [str(v) for v in value]
    else:
        return None
    parts = [p.strip().upper() for p in parts]
    if len(parts) != 2 or not all(parts):
        return None
    if not all(set(p) <= set(_OPPOSITE) for p in parts):
        return None
    return parts[0], parts[1]


def _side_of_laterality(laterality: str | None) -> str | None:
    text = (laterality or "").strip().upper()
    if text in ("R", "RIGHT"):
        return "R"
    if text in ("L", "LEFT"):
        return "L"
    return None


def view_category(view: str | None) -> str | None:
    """'cc' for cranio-caudal-like views, 'lateral' for MLO/ML-like ones, None if unknown."""
    text = (view or "").strip().upper().replace("-", "").replace(" ", "")
    if not text:
        return None
    if text in _CC_VIEWS or "CRANIOCAUDAL" in text or "CAUDOCRANIAL" in text:
        return "cc"
    if text in _LATERAL_VIEWS or "OBLIQUE" in text or "LATERAL" in text or "MEDIAL" in text:
        return "lateral"
    return None


def mammo_display_transform(
    patient_orientation: object,
    laterality: str | None,
    view: str | None = None,
    chest_wall_side: str | None = None,
) -> MammoTransform:
    """Full decision (transpose, flips, reason) for one mammogram; see the module rule."""
    side = _side_of_laterality(laterality)
    if chest_wall_side is not None and chest_wall_side not in ("left", "right"):
        raise ValueError(f"chest_wall_side must be 'left' or 'right', not {chest_wall_side!r}.")
    target = chest_wall_side or {"R": "right", "L": "left"}.get(side or "")
    parsed = parse_patient_orientation(patient_orientation)

    if parsed is None:
        if side is None:
            return MammoTransform(
                False,
                False,
                chest_wall_side=None,
                reason="Patient Orientation and laterality are both unknown: shown as stored.",
            )
        default = "right" if side == "R" else "left"
        flip = target != default
        breast = "right" if side == "R" else "left"
        return MammoTransform(
            flip,
            False,
            chest_wall_side=target,
            reason=(
                f"Patient Orientation is missing: assumed the conventional storage for a {breast} "
                f"breast (chest wall on the {default}, head or lateral side up)"
                + (f", mirrored to put the chest wall on the {target}." if flip else ".")
            ),
        )

    rows, cols = parsed
    transpose = False
    if not ({"A", "P"} & set(rows)) and {"A", "P"} & set(cols):
        rows, cols, transpose = cols, rows, True
    if not ({"A", "P"} & set(rows)):
        return MammoTransform(
            False,
            False,
            chest_wall_side=target,
            from_patient_orientation=True,
            reason=(
                f"Patient Orientation {parsed[0]}\\{parsed[1]} has no anterior/posterior axis: "
                "shown as stored."
            ),
        )

    notes = []
    flip_lr = False
    if target is not None:
        chest_wall_now = "right" if "P" in rows else "left"
        flip_lr = chest_wall_now != target
        notes.append(f"chest wall to the {target}")
    category = view_category(view)
    if category is None:
        category = "lateral" if {"H", "F"} & set(rows + cols) else "cc"
    flip_ud = False
    if category == "lateral":
        flip_ud = "H" in cols
        notes.append("head up")
    elif side is not None:
        flip_ud = side in cols  # the lateral side is currently at the bottom
        notes.append("lateral side up")
    if transpose:
        notes.insert(0, "rows and columns swapped (A/P ran top to bottom)")
    reason = f"From Patient Orientation {parsed[0]}\\{parsed[1]}: " + ", ".join(notes) + "."
    return MammoTransform(
        flip_lr,
        flip_ud,
        transpose=transpose,
        chest_wall_side=target,
        from_patient_orientation=True,
        reason=reason,
    )


def mammo_flips(
    patient_orientation: object,
    laterality: str | None,
    view: str | None = None,
    chest_wall_side: str | None = None,
) -> tuple[bool, bool]:
    """(flip_left_right, flip_up_down) per the module rule.

    When the image would also need rows and columns swapped, flips alone cannot hang it
    correctly and (False, False) is returned; use :func:`mammo_display_transform` for those and
    for the reason behind any answer.
    """
    t = mammo_display_transform(patient_orientation, laterality, view, chest_wall_side)
    if t.transpose:
        return False, False
    return t.flips


def apply_transform(image: np.ndarray, transform: MammoTransform) -> np.ndarray:
    """Apply a transform to a (rows, cols[, samples]) array; returns a view, no copy."""
    out = image.swapaxes(0, 1) if transform.transpose else image
    if transform.flip_left_right:
        out = out[:, ::-1]
    if transform.flip_up_down:
        out = out[::-1]
    return out


def _mammo_view(ds: Dataset) -> str | None:
    seq = ds.get("ViewCodeSequence")
    if seq:
        meaning = str(seq[0].get("CodeMeaning") or "").strip()
        if meaning:
            return meaning
    return str(ds.get("ViewPosition") or "").strip() or None


def _mammo_laterality(ds: Dataset) -> str | None:
    for keyword in ("ImageLaterality", "Laterality"):
        value = str(ds.get(keyword) or "").strip()
        if value:
            return value
    anatomy = functional_group_item(ds, "FrameAnatomySequence")
    if anatomy is not None:
        return str(anatomy.get("FrameLaterality") or "").strip() or None
    return None


def dataset_mammo_transform(ds: Dataset, chest_wall_side: str | None = None) -> MammoTransform:
    """:func:`mammo_display_transform` fed from a dataset's own orientation/laterality/view."""
    return mammo_display_transform(
        ds.get("PatientOrientation"),
        _mammo_laterality(ds),
        _mammo_view(ds),
        chest_wall_side,
    )


def chest_wall_side_from_pixels(image: np.ndarray, margin: float = 0.05) -> str | None:
    """'left' or 'right': the side whose edge strip is brighter on a rendered mammogram.

    Breast tissue runs off the image at the chest wall and air borders the nipple side, so on
    a display-polarity image (tissue bright) the brighter edge is the chest wall. None when
    the two edges are too similar to tell.
    """
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr.mean(axis=-1)
    cols = arr.shape[1]
    strip = max(1, int(cols * margin))
    left, right = float(arr[:, :strip].mean()), float(arr[:, -strip:].mean())
    spread = float(arr.max() - arr.min())
    if spread <= 0 or abs(left - right) < 0.05 * spread:
        return None
    return "left" if left > right else "right"
