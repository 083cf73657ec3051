"""Which millimetres a measurement is in, and whether it is in millimetres at all.

Positioning audits measure things such as the posterior nipple line; a number is only
comparable between CC and MLO (the "within 1 cm" rule) if both use the same plane. Projection
X-ray has two spacings (DICOM PS3.3 10.7.1.1-10.7.1.3, IHE Mammography Image profile):

* Imager Pixel Spacing (0018,1164) is at the detector: objects in the breast look bigger by
  the geometric magnification.
* Pixel Spacing (0028,0030) in a projection image has been calibrated to the patient plane
  (by geometry or a fiducial); in CT/MR and reconstructed tomosynthesis slices it is simply
  the in-plane spacing. Enhanced multi-frame objects keep it in the Pixel Measures
  functional group.
* Imager Pixel Spacing / Estimated Radiographic Magnification Factor (0018,1114) estimates
  the spacing in the breast plane; IHE reports detector-plane values by default and offers
  this correction as an option, which is what ``mode="ermf"`` does.

Rule implemented by :func:`calibration`:

1. Pixel Measures functional group (per frame, then shared) -> PIXEL_SPACING.
2. Top-level Pixel Spacing -> PIXEL_SPACING, except when it merely repeats Imager Pixel Spacing
   with no Pixel Spacing Calibration Type: then nothing was calibrated and it is treated as
   detector-plane Imager Pixel Spacing.
3. Imager Pixel Spacing -> IMAGER_PIXEL_SPACING (mode "auto"/"detector"), or divided by ERMF
   when ERMF > 0 (mode "ermf") -> IMAGER_PIXEL_SPACING_ERMF.
4. Otherwise NONE: pixels are never called millimetres. Zero, negative, NaN or malformed
   spacings are refused with a note saying so.

A digitised film (:func:`~auditdesk.dicom.digitised.is_digitised_film`: scanned, no detector)
comes first and never reaches the steps above: its Pixel Spacing (else Nominal Scanned Pixel
Spacing) is the digitiser's sampling of the film -> DIGITISER_SPACING; without one it is NONE.
It is never presented as detector or patient-plane millimetres.

Mode "detector" skips step 2 when Imager Pixel Spacing exists, for plane-consistent comparison.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from auditdesk.dicom.digitised import is_digitised_film
from auditdesk.dicom.pixels import functional_group_item

__all__ = [
    "Calibration",
    "CalibrationSource",
    "calibration",
    "length_mm",
    "length_px",
]

_MODES = ("auto", "ermf", "detector")


class CalibrationSource(enum.StrEnum):
    """Where a spacing came from; :attr:`label` is the unit text shown beside a number."""

    PIXEL_SPACING = "pixel_spacing"
    IMAGER_PIXEL_SPACING = "imager_pixel_spacing"
    IMAGER_PIXEL_SPACING_ERMF = "imager_pixel_spacing_ermf"
    DIGITISER_SPACING = "digitiser_spacing"
    NONE = "none"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    CalibrationSource.PIXEL_SPACING: "mm (Pixel Spacing)",
    CalibrationSource.IMAGER_PIXEL_SPACING: "mm (Imager Pixel Spacing, detector plane)",
    CalibrationSource.IMAGER_PIXEL_SPACING_ERMF: (
        "mm (Imager Pixel Spacing / ERMF, estimated breast plane)"
    ),
    CalibrationSource.DIGITISER_SPACING: "mm (digitiser spacing, scanned film)",
    CalibrationSource.NONE: "px (no calibration)",
}


@dataclass(frozen=True)
class Calibration:
    """Spacing between rows (vertical, ``row_mm``) and between columns (``col_mm``)."""

    row_mm: float | None
    col_mm: float | None
    source: CalibrationSource
    note: str = ""
    ermf: float | None = None
    """The file's usable ERMF, so a UI can offer the breast-plane option (even in mode auto)."""

    @property
    def is_calibrated(self) -> bool:
        return (
            self.source is not CalibrationSource.NONE
            and self.row_mm is not None
            and self.col_mm is not None
        )

    @property
    def label(self) -> str:
        return self.source.label


_UNCALIBRATED_NOTE = "measurements are in pixels only"


def _spacing(value: object, name: str) -> tuple[tuple[float, float] | None, str]:
    """Parse a 2-valued spacing; (None, why) when absent or nonsense."""
    if value is None or value == "":
        return None, ""
    items = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    try:
        numbers = [float(v) for v in items]
    except (TypeError, ValueError):
        return None, f"{name} {_show(value)} is not a number"
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) != 2:
        return None, f"{name} {_show(value)} does not have 2 values"
    if not all(math.isfinite(n) and n > 0 for n in numbers):
        return None, f"{name} {_show(value)} is zero, negative or not a number"
    return (numbers[0], numbers[1]), ""


def _show(value: object) -> str:
    if isinstance(value, MultiValue | list | tuple):
        return "'" + "\\".join(str(v) for v in value) + "'"
    return f"'{value}'"


def _ermf(ds: Dataset) -> float | None:
    value = ds.get("EstimatedRadiographicMagnificationFactor")
    if isinstance(value, MultiValue | list):
        value = value[0] if value else None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _fmt(spacing: tuple[float, float]) -> str:
    r, c = spacing
    return f"{r:g} mm" if r == c else f"{r:g} x {c:g} mm (row x column)"


def calibration(ds: Dataset, mode: str = "auto", frame: int = 0) -> Calibration:
    """The spacing to measure with, its source and a note for the UI (see module rule).

    ``mode``: "auto" (IHE default: patient-plane Pixel Spacing, else detector plane),
    "ermf" (Imager Pixel Spacing divided by ERMF when usable), "detector" (Imager Pixel
    Spacing whenever present). ``frame`` picks the per-frame Pixel Measures of enhanced objects.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, not {mode!r}.")
    problems: list[str] = []
    ermf = _ermf(ds)
    if is_digitised_film(ds):
        return _digitiser_calibration(ds, ermf)
    imager, why = _spacing(ds.get("ImagerPixelSpacing"), "Imager Pixel Spacing")
    if why:
        problems.append(why)

    measures = functional_group_item(ds, "PixelMeasuresSequence", frame)
    if measures is not None:
        fg, why = _spacing(measures.get("PixelSpacing"), "Pixel Measures Pixel Spacing")
        if fg is not None:
            return Calibration(
                fg[0],
                fg[1],
                CalibrationSource.PIXEL_SPACING,
                f"Pixel Spacing {_fmt(fg)} from the Pixel Measures functional group "
                f"(frame {frame + 1}).",
                ermf,
            )
        if why:
            problems.append(why)

    pixel, why = _spacing(ds.get("PixelSpacing"), "Pixel Spacing")
    if why:
        problems.append(why)
    calibration_type = str(ds.get("PixelSpacingCalibrationType") or "").strip().upper()
    repeats_imager = (
        pixel is not None
        and imager is not None
        and not calibration_type
        and all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(pixel, imager, strict=True))
    )
    if pixel is not None and not repeats_imager and not (mode == "detector" and imager):
        how = f", calibration {calibration_type.lower()}" if calibration_type else ""
        return Calibration(
            pixel[0],
            pixel[1],
            CalibrationSource.PIXEL_SPACING,
            f"Pixel Spacing {_fmt(pixel)}{how}.",
            ermf,
        )

    if imager is not None:
        prefix = "".join(f"{p} (ignored); " for p in problems)
        if repeats_imager:
            prefix += "Pixel Spacing only repeats Imager Pixel Spacing (not calibrated); "
        prefix = prefix[:1].upper() + prefix[1:]
        if mode == "ermf" and ermf is not None:
            corrected = (imager[0] / ermf, imager[1] / ermf)
            return Calibration(
                corrected[0],
                corrected[1],
                CalibrationSource.IMAGER_PIXEL_SPACING_ERMF,
                f"{prefix}Imager Pixel Spacing {_fmt(imager)} divided by the estimated "
                f"radiographic magnification factor {ermf:g} gives {_fmt(corrected)} "
                "in the breast plane (an estimate).",
                ermf,
            )
        note = f"{prefix}Imager Pixel Spacing {_fmt(imager)} is measured at the detector"
        note = note[:1].upper() + note[1:]
        if mode == "ermf":
            note += "; no usable magnification factor (ERMF) to correct it"
        elif ermf is not None and ermf != 1.0:
            note += f"; objects in the breast are about {ermf:g} times smaller"
        return Calibration(
            imager[0], imager[1], CalibrationSource.IMAGER_PIXEL_SPACING, note + ".", ermf
        )

    if pixel is not None:  # mode "detector" without Imager Pixel Spacing
        return Calibration(
            pixel[0],
            pixel[1],
            CalibrationSource.PIXEL_SPACING,
            f"Pixel Spacing {_fmt(pixel)} (no Imager Pixel Spacing for the detector plane).",
            ermf,
        )

    if problems:
        note = "; ".join(problems) + f", so {_UNCALIBRATED_NOTE}."
    else:
        note = f"The file has no Pixel Spacing or Imager Pixel Spacing, so {_UNCALIBRATED_NOTE}."
    note = note[0].upper() + note[1:]
    return Calibration(None, None, CalibrationSource.NONE, note, ermf)


def _digitiser_calibration(ds: Dataset, ermf: float | None) -> Calibration:
    """A scanned film: the digitiser's spacing (Pixel Spacing, else Nominal Scanned Pixel
    Spacing) or nothing; never detector or breast-plane millimetres."""
    problems = []
    for keyword, name in (
        ("PixelSpacing", "Pixel Spacing"),
        ("NominalScannedPixelSpacing", "Nominal Scanned Pixel Spacing"),
    ):
        spacing, why = _spacing(ds.get(keyword), name)
        if spacing is not None:
            return Calibration(
                spacing[0],
                spacing[1],
                CalibrationSource.DIGITISER_SPACING,
                f"Digitised film: {name} {_fmt(spacing)} is the film digitiser's sampling of the "
                "film, not a detector or breast-plane measurement.",
                ermf,
            )
        if why:
            problems.append(why)
    why = "; ".join(problems) if problems else "it has no digitiser Pixel Spacing"
    return Calibration(
        None,
        None,
        CalibrationSource.NONE,
        f"Digitised film (uncalibrated): {why}, so {_UNCALIBRATED_NOTE}.",
        ermf,
    )


def length_px(p0: Sequence[float], p1: Sequence[float]) -> float:
    """Distance in pixels between two (row, col) points."""
    return math.hypot(float(p1[0]) - float(p0[0]), float(p1[1]) - float(p0[1]))


def length_mm(p0: Sequence[float], p1: Sequence[float], cal: Calibration) -> float | None:
    """Distance in mm between two (row, col) points; None when the image is not calibrated.

    Rows are ``row_mm`` apart and columns ``col_mm`` apart, so anisotropic pixels are exact.
    """
    if not cal.is_calibrated:
        return None
    assert cal.row_mm is not None and cal.col_mm is not None
    dy = (float(p1[0]) - float(p0[0])) * cal.row_mm
    dx = (float(p1[1]) - float(p0[1])) * cal.col_mm
    return math.hypot(dy, dx)
