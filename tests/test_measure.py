"""Ruler and posterior nipple line geometry, checked against values worked out by hand."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from auditdesk.dicom.calibration import Calibration, CalibrationSource
from auditdesk.dicom.orientation import MammoTransform, apply_transform
from auditdesk.reading.measure import (
    Measurement,
    display_to_stored,
    distance_mm,
    pnl_cc,
    pnl_mlo,
    recompute,
    ruler,
    stored_to_display,
)

SQUARE = Calibration(0.1, 0.1, CalibrationSource.IMAGER_PIXEL_SPACING)
# Rows 0.2 mm apart, columns 0.1 mm apart.
TALL = Calibration(0.2, 0.1, CalibrationSource.PIXEL_SPACING)
NONE = Calibration(None, None, CalibrationSource.NONE)


def test_ruler_square_pixels():
    m = ruler((10, 20), (40, 60), SQUARE)  # 30 x 40 px: a 3-4-5 triangle
    assert m.kind == "ruler"
    assert m.value_px == pytest.approx(50.0)
    assert m.value_mm == pytest.approx(5.0)
    assert m.calibration_source == "imager_pixel_spacing"
    assert m.points == ((10.0, 20.0), (40.0, 60.0))
    assert m.label_lines() == ["5.0 mm", "mm (Imager Pixel Spacing, detector plane)"]


def test_distance_uses_row_and_column_spacing_separately():
    # 30 columns x 0.1 mm = 3 mm across, 20 rows x 0.2 mm = 4 mm down -> 5 mm.
    assert distance_mm((0, 0), (30, 20), TALL) == pytest.approx(5.0)
    assert distance_mm((0, 0), (0, 10), TALL) == pytest.approx(2.0)
    assert distance_mm((0, 0), (10, 0), TALL) == pytest.approx(1.0)


def test_no_calibration_gives_pixels_only():
    assert distance_mm((0, 0), (3, 4), NONE) is None
    assert distance_mm((0, 0), (3, 4), None) is None
    m = pnl_cc((0, 0), (3, 4), NONE)
    assert m.value_mm is None and m.value_px == pytest.approx(5.0)
    assert m.calibration_source == "none"
    assert m.label_lines() == ["PNL 5 px", "px (no calibration)"]


def test_pnl_cc_is_nipple_to_posterior_point():
    m = pnl_cc((100, 50), (0, 50), TALL)
    assert m.kind == "pnl_cc"
    assert m.value_px == pytest.approx(100.0)
    assert m.value_mm == pytest.approx(10.0)
    assert m.segment == ((100.0, 50.0), (0.0, 50.0))
    assert m.label_lines()[0] == "PNL 10.0 mm"


def test_pnl_mlo_square_pixels_muscle_reaches_past_the_pnl():
    # Pectoral edge along the diagonal from (0, 0) to (100, 100); nipple at (100, 0).
    # The foot of the perpendicular is (50, 50), inside the muscle segment.
    m = pnl_mlo((100, 0), (0, 0), (100, 100), SQUARE)
    assert m.foot == pytest.approx((50.0, 50.0))
    assert m.value_px == pytest.approx(math.hypot(50, 50))
    assert m.value_mm == pytest.approx(math.hypot(5, 5))
    assert m.extra["pectoral_to_pnl_mm"] == 0.0
    assert m.extra["pectoral_to_pnl_px"] == 0.0
    assert len(m.label_lines()) == 2  # no "stops short" line


def test_pnl_mlo_short_muscle_gives_the_gap_along_the_line():
    # Muscle ends at (20, 20); the foot is (50, 50): 30*sqrt(2) px further along the line.
    m = pnl_mlo((100, 0), (0, 0), (20, 20), SQUARE)
    assert m.foot == pytest.approx((50.0, 50.0))
    assert m.extra["pectoral_to_pnl_px"] == pytest.approx(30 * math.sqrt(2))
    assert m.extra["pectoral_to_pnl_mm"] == pytest.approx(3 * math.sqrt(2))
    assert m.label_lines()[1] == f"pectoral stops {3 * math.sqrt(2):.1f} mm short of the PNL"


def test_pnl_mlo_perpendicular_is_taken_in_millimetres():
    # Rows 0.2 mm, columns 0.1 mm. Pectoral from (0, 0) to (20, 10) px = (2, 2) mm: a 45 degree
    # line in the breast although it is 26.6 degrees in pixels. Nipple at (20, 0) px = (2, 0) mm.
    # In mm the foot is (1, 1) mm = (10, 5) px, and the PNL is sqrt(2) mm long.
    m = pnl_mlo((20, 0), (0, 0), (20, 10), TALL)
    assert m.foot == pytest.approx((10.0, 5.0))
    assert m.value_mm == pytest.approx(math.sqrt(2))
    assert m.value_px == pytest.approx(math.hypot(10, 5))
    # The pixel-space perpendicular would have put the foot at (16, 8): not what we want.
    assert m.foot != pytest.approx((16.0, 8.0))
    # The PNL is perpendicular to the pectoral line in mm.
    fx, fy = m.foot
    pnl = ((20 - fx) * 0.1, (0 - fy) * 0.2)
    pect = (20 * 0.1, 10 * 0.2)
    assert pnl[0] * pect[0] + pnl[1] * pect[1] == pytest.approx(0.0, abs=1e-12)
    # Short muscle on the same image: ends at (4, 2) px = (0.4, 0.4) mm, the foot is at (1, 1) mm.
    short = pnl_mlo((20, 0), (0, 0), (4, 2), TALL)
    assert short.foot == pytest.approx((10.0, 5.0))
    assert short.extra["pectoral_to_pnl_mm"] == pytest.approx(0.6 * math.sqrt(2))


def test_pnl_mlo_uncalibrated_uses_pixels():
    m = pnl_mlo((100, 0), (0, 0), (20, 20), NONE)
    assert m.value_mm is None
    assert m.foot == pytest.approx((50.0, 50.0))
    assert "pectoral_to_pnl_mm" not in m.extra
    assert m.extra["pectoral_to_pnl_px"] == pytest.approx(30 * math.sqrt(2))
    assert m.label_lines()[1] == "pectoral stops 42 px short of the PNL"


def test_recompute_and_geometry_round_trip():
    for m in (
        ruler((1.5, 2.25), (30, 40), TALL),
        pnl_cc((100, 50), (0, 48), SQUARE),
        pnl_mlo((100, 0), (0, 0), (20, 20), TALL),
        pnl_mlo((100, 0), (0, 0), (20, 20), NONE),
    ):
        data = json.loads(json.dumps(m.to_geometry()))
        back = Measurement.from_geometry(data)
        assert back == m
        assert recompute(m.kind, m.points, TALL if m.value_mm is not None else NONE).kind == m.kind
    with pytest.raises(ValueError):
        Measurement.from_geometry({"kind": "ruler", "points": [[0, 0]], "value_px": 1})
    with pytest.raises(ValueError):
        Measurement.from_geometry({"kind": "angle", "points": [], "value_px": 1})


TRANSFORMS = [
    MammoTransform(lr, ud, transpose=tr)
    for tr, lr, ud in itertools.product((False, True), repeat=3)
]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: f"T{t.transpose:d}{t.flips}")
def test_display_stored_round_trip_matches_apply_transform(transform):
    rows, cols = 5, 7
    stored = np.arange(rows * cols).reshape(rows, cols)
    shown = apply_transform(stored, transform)
    for r, c in itertools.product(range(rows), range(cols)):
        centre = (c + 0.5, r + 0.5)
        dx, dy = stored_to_display(centre, transform, (rows, cols))
        # The pixel centre lands on the displayed pixel holding the same value.
        assert shown[int(dy), int(dx)] == stored[r, c]
        assert display_to_stored((dx, dy), transform, (rows, cols)) == pytest.approx(centre)
    # Corners map to corners (continuous grid).
    corners = {(0, 0), (cols, 0), (0, rows), (cols, rows)}
    shown_rows, shown_cols = shown.shape
    mapped = {stored_to_display(p, transform, (rows, cols)) for p in corners}
    assert mapped == {(0, 0), (shown_cols, 0), (0, shown_rows), (shown_cols, shown_rows)}


def test_identity_when_no_transform():
    assert stored_to_display((3, 4), None, (10, 10)) == (3.0, 4.0)
    assert display_to_stored((3, 4), None, (10, 10)) == (3.0, 4.0)
