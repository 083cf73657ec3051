"""Acquired (not reconstructed) in-plane MR resolution from the header, or "not determinable".

PI-RADS v2.1 asks for the ACQUIRED in-plane resolution (T2W <= 0.7 mm phase x <= 0.4 mm frequency;
domain notes 3.3). Pixel Spacing (0028,0030) is the reconstructed pixel, usually interpolated to a
finer grid, so using it would overstate compliance. This module reads the encoding tags when a
file is indexed (:func:`encoding_tags`, stored in the image's ``mr_info``) and computes the
acquired pixel size from what was stored (:func:`acquired_resolution`).

Definitions used (DICOM PS3.3, C.8.3.1 MR Image Module and C.8.13.5.6 MR FOV/Geometry Macro):

* Acquisition Matrix (0018,1310): "frequency rows \\ frequency columns \\ phase rows \\ phase
  columns" of the acquired data before reconstruction; one of each pair is zero.
* In-plane Phase Encoding Direction (0018,1312): ``ROW`` = phase encoded along the rows (the
  horizontal image axis), ``COL`` = along the columns (the vertical axis).
* Percent Phase Field of View (0018,0094): phase-direction FOV as a percent of the
  frequency-direction FOV.
* Percent Sampling (0018,0093): fraction of acquisition-matrix lines acquired. It is recorded and
  reported but not applied: the phase entry of the Acquisition Matrix already counts the acquired
  phase lines (e.g. a 320 base matrix at 80 % phase resolution is stored as 256, with Percent
  Sampling 80), so applying it again would count the reduction twice.
* Rows/Columns x Pixel Spacing (0028,0030, row spacing \\ column spacing) give the reconstructed
  extent of the image along the vertical and horizontal axes.

Formula::

    FOV_freq   = reconstructed extent along the frequency axis
                 (ROW: Rows x row spacing; COL: Columns x column spacing)
    FOV_phase  = FOV_freq x PercentPhaseFOV / 100
    acquired pixel (frequency) = FOV_freq  / frequency matrix
    acquired pixel (phase)     = FOV_phase / phase matrix

Every tag is required; a missing, zero or contradictory one gives a reason instead of a number,
so the header rule says "not determinable" and the reviewer checks it by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from auditdesk.dicom.bvalues import as_float, as_int, as_text, first_item, get_value

__all__ = ["ENCODING_MARKER", "AcquiredResolution", "acquired_resolution", "encoding_tags"]

#: Key set in every ``mr_info`` written since these tags are read: an MR image indexed without it
#: is read again on the next import (``dicom.index``), even when the file is unchanged.
ENCODING_MARKER = "encoding_tags_read"


def _geometry(ds: Dataset) -> Dataset | None:
    """The Enhanced MR FOV/Geometry macro item (shared first, then the first frame's)."""
    for group in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        item = first_item(first_item(ds, group), "MRFOVGeometrySequence")
        if item is not None:
            return item
    return None


def encoding_tags(ds: Dataset) -> dict[str, Any]:
    """The phase-encoding facts of one MR image, JSON-safe, for the image's ``mr_info``.

    Classic MR images carry them at the top level; Enhanced MR in the MR FOV/Geometry macro,
    which also gives the frequency and phase step counts in place of an Acquisition Matrix.
    """
    geometry = _geometry(ds)

    def pick(keyword: str) -> Any:
        value = get_value(ds, keyword)
        return value if value not in (None, "") else get_value(geometry, keyword)

    direction = as_text(pick("InPlanePhaseEncodingDirection")).upper() or None
    out: dict[str, Any] = {
        "phase_direction": direction if direction in ("ROW", "COL") else None,
        "percent_phase_fov": as_float(pick("PercentPhaseFieldOfView")),
        "percent_sampling": as_float(pick("PercentSampling")),
        "acquisition_steps": None,
        ENCODING_MARKER: True,
    }
    freq = as_int(get_value(geometry, "MRAcquisitionFrequencyEncodingSteps"))
    phase = as_int(get_value(geometry, "MRAcquisitionPhaseEncodingStepsInPlane"))
    if freq and phase:
        out["acquisition_steps"] = [freq, phase]
    return out


@dataclass(frozen=True)
class AcquiredResolution:
    """Acquired pixel size along the frequency and phase directions, with its inputs."""

    phase_direction: str
    matrix_freq: int
    matrix_phase: int
    fov_freq_mm: float
    fov_phase_mm: float
    percent_phase_fov: float
    percent_sampling: float | None

    @property
    def freq_mm(self) -> float:
        return self.fov_freq_mm / self.matrix_freq

    @property
    def phase_mm(self) -> float:
        return self.fov_phase_mm / self.matrix_phase


def _matrix(info: Mapping[str, Any], direction: str) -> tuple[int, int] | str:
    """(frequency, phase) acquired matrix, or why it cannot be read."""
    steps = info.get("acquisition_steps")
    if steps and len(steps) == 2 and all(steps):
        return int(steps[0]), int(steps[1])
    matrix = info.get("acquisition_matrix") or ()
    if len(matrix) != 4:
        return "Acquisition Matrix (0018,1310) missing"
    freq_rows, freq_cols, phase_rows, phase_cols = (int(v or 0) for v in matrix)
    # ROW: phase along the rows (horizontal), so phase columns and frequency rows are set.
    freq, phase = (freq_rows, phase_cols) if direction == "ROW" else (freq_cols, phase_rows)
    if freq <= 0 or phase <= 0:
        return (
            f"Acquisition Matrix (0018,1310) {list(matrix)} does not match "
            f"In-plane Phase Encoding Direction {direction}"
        )
    return freq, phase


def acquired_resolution(info: Mapping[str, Any]) -> AcquiredResolution | str:
    """The acquired in-plane resolution from a stored ``mr_info``, or a one-line reason why not.

    ``info`` holds ``rows``, ``columns``, ``pixel_spacing`` and ``acquisition_matrix`` (from the
    classifier) and the keys of :func:`encoding_tags`.
    """
    direction = info.get("phase_direction")
    if direction not in ("ROW", "COL"):
        return "In-plane Phase Encoding Direction (0018,1312) missing"
    percent = info.get("percent_phase_fov")
    if percent is None or not float(percent) > 0:
        return "Percent Phase Field of View (0018,0094) missing"
    spacing = info.get("pixel_spacing") or ()
    rows, cols = info.get("rows"), info.get("columns")
    if len(spacing) < 2 or not rows or not cols or min(float(s) for s in spacing[:2]) <= 0:
        return "Rows, Columns or Pixel Spacing (0028,0030) missing"
    matrix = _matrix(info, direction)
    if isinstance(matrix, str):
        return matrix
    height = int(rows) * float(spacing[0])  # Rows x row spacing: the vertical extent
    width = int(cols) * float(spacing[1])  # Columns x column spacing: the horizontal extent
    fov_freq = height if direction == "ROW" else width
    sampling = info.get("percent_sampling")
    return AcquiredResolution(
        phase_direction=direction,
        matrix_freq=matrix[0],
        matrix_phase=matrix[1],
        fov_freq_mm=fov_freq,
        fov_phase_mm=fov_freq * float(percent) / 100.0,
        percent_phase_fov=float(percent),
        percent_sampling=None if sampling is None else float(sampling),
    )
