"""Measurements on an image (ruler, posterior nipple line) in stored pixel coordinates.

Points are ``(x, y)`` = ``(col, row)`` in the image as stored in the file, on a continuous grid
where the image spans ``[0, cols] x [0, rows]`` (pixel ``(c, r)`` covers ``[c, c+1) x [r, r+1)``).
Storing the stored-pixel position, not the hung (flipped / transposed) display position, keeps a
saved measurement valid whatever the hanging protocol does later.

Millimetres use ``row_mm`` and ``col_mm`` separately, so non-square pixels are exact, and the
perpendicular of the MLO posterior nipple line is taken in physical (mm) space: a right angle in
pixels is not a right angle in the breast when the pixels are not square.

PNL definitions (shared/reference/domain.md 1.5):

* MLO: from the nipple perpendicular to the anterior edge of the pectoral muscle (the edge line
  extended when the muscle does not reach that far); ``pectoral_to_pnl_mm`` is how far the
  muscle's inferior end stops short of the PNL, measured along the muscle line (0 when it
  reaches or crosses it).
* CC: from the nipple straight back to the posterior image edge (chest wall).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditdesk.dicom.calibration import Calibration, CalibrationSource
from auditdesk.dicom.orientation import MammoTransform

__all__ = [
    "KINDS",
    "Measurement",
    "Point",
    "display_shape",
    "display_to_stored",
    "distance_mm",
    "distance_px",
    "pnl_cc",
    "pnl_mlo",
    "recompute",
    "ruler",
    "stored_to_display",
]

Point = tuple[float, float]

#: Measurement kinds and the number of points each is made of.
KINDS: dict[str, int] = {"ruler": 2, "pnl_cc": 2, "pnl_mlo": 3}

_GEOMETRY_VERSION = 1


@dataclass(frozen=True)
class Measurement:
    """One finished measurement; ``points`` are the user's input points in stored coordinates.

    ``ruler``: (p, q). ``pnl_cc``: (nipple, posterior point). ``pnl_mlo``: (nipple, upper point
    of the pectoral edge, its inferior end); the foot of the perpendicular is in ``extra``
    (``foot_x``, ``foot_y``) with ``pectoral_to_pnl_px`` and, when calibrated,
    ``pectoral_to_pnl_mm``.
    """

    kind: str
    points: tuple[Point, ...]
    value_px: float
    value_mm: float | None
    calibration_source: str
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def is_pnl(self) -> bool:
        return self.kind in ("pnl_cc", "pnl_mlo")

    @property
    def foot(self) -> Point | None:
        """MLO: where the PNL meets the (extended) pectoral line."""
        if "foot_x" in self.extra and "foot_y" in self.extra:
            return (self.extra["foot_x"], self.extra["foot_y"])
        return None

    @property
    def segment(self) -> tuple[Point, Point]:
        """The two ends of the measured line (nipple and foot for the MLO PNL)."""
        if self.kind == "pnl_mlo":
            foot = self.foot
            assert foot is not None
            return self.points[0], foot
        return self.points[0], self.points[1]

    @property
    def unit_label(self) -> str:
        """'mm (Imager Pixel Spacing, detector plane)', or 'px (no calibration)'."""
        try:
            source = CalibrationSource(self.calibration_source)
        except ValueError:
            source = CalibrationSource.NONE
        if self.value_mm is None:
            source = CalibrationSource.NONE
        return source.label

    def value_text(self) -> str:
        """'93.4 mm' or '812 px' (never calls pixels millimetres)."""
        if self.value_mm is not None:
            return f"{self.value_mm:.1f} mm"
        return f"{self.value_px:.0f} px"

    def label_lines(self) -> list[str]:
        """The text shown beside the drawing: value, then the calibration it is in."""
        head = f"PNL {self.value_text()}" if self.is_pnl else self.value_text()
        lines = [head]
        if self.kind == "pnl_mlo":
            gap_mm = self.extra.get("pectoral_to_pnl_mm")
            gap_px = self.extra.get("pectoral_to_pnl_px", 0.0)
            if gap_mm is not None and self.value_mm is not None:
                if gap_mm > 0:
                    lines.append(f"pectoral stops {gap_mm:.1f} mm short of the PNL")
            elif gap_px > 0:
                lines.append(f"pectoral stops {gap_px:.0f} px short of the PNL")
        lines.append(self.unit_label)
        return lines

    def to_geometry(self) -> dict[str, Any]:
        """JSON-safe dict stored with the audit answer."""
        return {
            "version": _GEOMETRY_VERSION,
            "kind": self.kind,
            "points": [[float(x), float(y)] for x, y in self.points],
            "value_px": float(self.value_px),
            "value_mm": None if self.value_mm is None else float(self.value_mm),
            "calibration_source": self.calibration_source,
            "extra": {str(k): float(v) for k, v in self.extra.items()},
        }

    @classmethod
    def from_geometry(cls, data: Mapping[str, Any]) -> Measurement:
        """Inverse of :meth:`to_geometry`; raises ValueError on a malformed dict."""
        try:
            kind = str(data["kind"])
            points = tuple((float(p[0]), float(p[1])) for p in data["points"])
            value_px = float(data["value_px"])
            value_mm = data.get("value_mm")
            value_mm = None if value_mm is None else float(value_mm)
            source = str(data.get("calibration_source") or CalibrationSource.NONE.value)
            extra = {str(k): float(v) for k, v in dict(data.get("extra") or {}).items()}
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"not a measurement geometry: {exc}") from exc
        if kind not in KINDS:
            raise ValueError(f"unknown measurement kind {kind!r}")
        if len(points) != KINDS[kind]:
            raise ValueError(f"{kind} needs {KINDS[kind]} points, got {len(points)}")
        return cls(kind, points, value_px, value_mm, source, extra)


# ---------------------------------------------------------------------- distances
def _spacing(cal: Calibration | None) -> tuple[float, float] | None:
    """(col_mm, row_mm), i.e. mm per x and per y; None when not calibrated."""
    if cal is None or not cal.is_calibrated:
        return None
    assert cal.row_mm is not None and cal.col_mm is not None
    return cal.col_mm, cal.row_mm


def _source(cal: Calibration | None) -> str:
    if cal is None or not cal.is_calibrated:
        return CalibrationSource.NONE.value
    return CalibrationSource(cal.source).value


def distance_px(p: Sequence[float], q: Sequence[float]) -> float:
    """Euclidean distance in stored pixels between two (x, y) points."""
    return math.hypot(float(q[0]) - float(p[0]), float(q[1]) - float(p[1]))


def distance_mm(p: Sequence[float], q: Sequence[float], cal: Calibration | None) -> float | None:
    """Distance in mm between two (x, y) = (col, row) points; None without calibration."""
    spacing = _spacing(cal)
    if spacing is None:
        return None
    sx, sy = spacing
    return math.hypot((float(q[0]) - float(p[0])) * sx, (float(q[1]) - float(p[1])) * sy)


def _pt(p: Sequence[float]) -> Point:
    return (float(p[0]), float(p[1]))


def ruler(p: Sequence[float], q: Sequence[float], cal: Calibration | None) -> Measurement:
    """A straight distance between two points."""
    a, b = _pt(p), _pt(q)
    return Measurement("ruler", (a, b), distance_px(a, b), distance_mm(a, b, cal), _source(cal))


def pnl_cc(
    nipple: Sequence[float], posterior: Sequence[float], cal: Calibration | None
) -> Measurement:
    """CC posterior nipple line: the nipple to the chosen point on the posterior image edge."""
    a, b = _pt(nipple), _pt(posterior)
    return Measurement("pnl_cc", (a, b), distance_px(a, b), distance_mm(a, b, cal), _source(cal))


def pnl_mlo(
    nipple: Sequence[float],
    pect_a: Sequence[float],
    pect_b: Sequence[float],
    cal: Calibration | None,
) -> Measurement:
    """MLO posterior nipple line: perpendicular from the nipple to the pectoral edge line.

    ``pect_a`` is the upper point of the anterior pectoral edge and ``pect_b`` its inferior end.
    The perpendicular is computed in mm (pixels scaled by col_mm / row_mm), or in pixels when
    the image is not calibrated. A degenerate pectoral line (both points equal) gives the
    distance from the nipple to that point.
    """
    n, a, b = _pt(nipple), _pt(pect_a), _pt(pect_b)
    sx, sy = _spacing(cal) or (1.0, 1.0)
    # Physical coordinates (mm, or pixels when uncalibrated).
    nx, ny = n[0] * sx, n[1] * sy
    ax, ay = a[0] * sx, a[1] * sy
    bx, by = b[0] * sx, b[1] * sy
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 1.0 if length2 == 0 else ((nx - ax) * dx + (ny - ay) * dy) / length2
    fx, fy = ax + t * dx, ay + t * dy
    foot = (fx / sx, fy / sy)
    beyond = max(0.0, t - 1.0)  # the foot lies past the inferior end: the muscle is short
    gap_phys = beyond * math.sqrt(length2)
    extra: dict[str, float] = {
        "foot_x": foot[0],
        "foot_y": foot[1],
        "pectoral_to_pnl_px": distance_px(b, foot) if beyond > 0 else 0.0,
    }
    value_mm = distance_mm(n, foot, cal)
    if value_mm is not None:
        extra["pectoral_to_pnl_mm"] = gap_phys
    return Measurement("pnl_mlo", (n, a, b), distance_px(n, foot), value_mm, _source(cal), extra)


def recompute(kind: str, points: Sequence[Sequence[float]], cal: Calibration | None) -> Measurement:
    """The measurement of ``kind`` through ``points`` (e.g. after a handle was dragged)."""
    if kind not in KINDS:
        raise ValueError(f"unknown measurement kind {kind!r}")
    if len(points) != KINDS[kind]:
        raise ValueError(f"{kind} needs {KINDS[kind]} points, got {len(points)}")
    if kind == "ruler":
        return ruler(points[0], points[1], cal)
    if kind == "pnl_cc":
        return pnl_cc(points[0], points[1], cal)
    return pnl_mlo(points[0], points[1], points[2], cal)


# ---------------------------------------------------------------------- hanging
def display_shape(shape: Sequence[int], transform: MammoTransform | None) -> tuple[int, int]:
    """(rows, cols) of the hung image for a stored (rows, cols[, ...]) shape."""
    rows, cols = int(shape[0]), int(shape[1])
    if transform is not None and transform.transpose:
        return cols, rows
    return rows, cols


def stored_to_display(
    point: Sequence[float], transform: MammoTransform | None, shape: Sequence[int]
) -> Point:
    """Stored (x, y) to hung-display (x, y), as :func:`apply_transform` moves the pixels.

    ``shape`` is the STORED (rows, cols). Continuous coordinates: a flip maps x to cols - x.
    """
    x, y = float(point[0]), float(point[1])
    if transform is None:
        return x, y
    rows_d, cols_d = display_shape(shape, transform)
    if transform.transpose:
        x, y = y, x
    if transform.flip_left_right:
        x = cols_d - x
    if transform.flip_up_down:
        y = rows_d - y
    return x, y


def display_to_stored(
    point: Sequence[float], transform: MammoTransform | None, shape: Sequence[int]
) -> Point:
    """Hung-display (x, y) back to stored (x, y); ``shape`` is the STORED (rows, cols)."""
    x, y = float(point[0]), float(point[1])
    if transform is None:
        return x, y
    rows_d, cols_d = display_shape(shape, transform)
    if transform.flip_up_down:
        y = rows_d - y
    if transform.flip_left_right:
        x = cols_d - x
    if transform.transpose:
        x, y = y, x
    return x, y
