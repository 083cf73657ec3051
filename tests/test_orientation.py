"""Mammogram hanging: chest wall to the requested side, head (MLO) or lateral side (CC) up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.multival import MultiValue

from auditdesk.dicom.display import to_display
from auditdesk.dicom.orientation import (
    apply_transform,
    chest_wall_side_from_pixels,
    dataset_mammo_transform,
    mammo_display_transform,
    mammo_flips,
    parse_patient_orientation,
    view_category,
)
from auditdesk.dicom.pixels import read_dataset

# --------------------------------------------------------------------------------------------
# The three real mammograms
# --------------------------------------------------------------------------------------------


def test_ge_r_mlo_p_fl(shared_data: Path) -> None:
    ds = read_dataset(shared_data / "mg/GH133_GE_SenographeEssential_R_MLO.dcm")
    assert list(ds.PatientOrientation) == ["P", "FL"]
    assert mammo_flips(ds.PatientOrientation, "R", "MLO") == (False, False)
    assert mammo_flips(ds.PatientOrientation, "R", "MLO", chest_wall_side="left") == (True, False)
    transform = dataset_mammo_transform(ds)
    assert transform.from_patient_orientation and transform.chest_wall_side == "right"
    assert transform.reason == "From Patient Orientation P\\FL: chest wall to the right, head up."
    # the rendered pixels agree: breast tissue runs off the right edge
    assert chest_wall_side_from_pixels(to_display(ds).array) == "right"


def test_wg04_l_mlo_a_f(shared_data: Path) -> None:
    ds = read_dataset(shared_data / "mg/WG04_MG1_J2KI.dcm", stop_before_pixels=True)
    assert list(ds.PatientOrientation) == ["A", "F"]
    assert mammo_flips(ds.PatientOrientation, ds.Laterality, ds.ViewPosition) == (False, False)
    assert mammo_flips(["A", "F"], "L", "MLO", chest_wall_side="right") == (True, False)
    assert dataset_mammo_transform(ds).chest_wall_side == "left"


def test_siemens_l_cc_stereo_needs_rows_and_columns_swapped(shared_data: Path) -> None:
    ds = read_dataset(shared_data / "mg/OutOfBoundsOverlay_Siemens_Mammomat_L_CC_stereo.dcm")
    assert list(ds.PatientOrientation) == ["R", "P"]
    transform = dataset_mammo_transform(ds)
    assert transform.transpose and transform.flip_left_right and not transform.flip_up_down
    assert "swapped" in transform.reason
    # flips alone cannot put a top/bottom chest wall at a side: leave it as stored
    assert mammo_flips(ds.PatientOrientation, "L", "CC") == (False, False)
    shown = apply_transform(to_display(ds).array, transform)
    assert shown.shape == (1318, 788)


# --------------------------------------------------------------------------------------------
# The rule, on synthetic orientations
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "laterality", "view", "expected"),
    [
        ("P\\FL", "R", "MLO", (False, False)),  # conventional R MLO
        ("A\\FR", "L", "MLO", (False, False)),  # conventional L MLO
        ("A\\FR", "R", "MLO", (True, False)),  # R breast stored chest wall left
        ("P\\HL", "R", "MLO", (False, True)),  # upside down
        ("A\\HR", "R", "MLO", (True, True)),  # rotated 180 degrees
        ("P\\L", "R", "CC", (False, False)),  # conventional R CC: lateral (R) up
        ("A\\R", "L", "CC", (False, False)),  # conventional L CC: lateral (L) up
        ("P\\R", "R", "CC", (False, True)),  # lateral at the bottom: flip
        ("A\\L", "L", "CC", (False, True)),
        ("P\\F", "R", "CC", (False, False)),  # CC column says nothing about L/R: never flip
        ("A\\L", "R", "XCCL", (True, False)),
        ("P\\FL", "R", None, (False, False)),  # view unknown: H/F present -> head-up rule
    ],
)
def test_rule(orientation: str, laterality: str, view: str | None, expected: tuple) -> None:
    assert mammo_flips(orientation, laterality, view) == expected


def test_missing_orientation_falls_back_to_laterality_convention() -> None:
    transform = mammo_display_transform(None, "R", "MLO")
    assert transform.flips == (False, False)
    assert not transform.from_patient_orientation
    assert "Patient Orientation is missing" in transform.reason
    assert "right breast" in transform.reason
    assert mammo_flips("", "L", "CC", chest_wall_side="right") == (True, False)
    assert mammo_flips(None, "L", "CC", chest_wall_side="left") == (False, False)
    unknown = mammo_display_transform(None, None)
    assert unknown.flips == (False, False) and "unknown" in unknown.reason


def test_no_laterality_keeps_chest_wall_where_it_is() -> None:
    assert mammo_flips("A\\F", None, "MLO") == (False, False)
    assert mammo_flips("A\\F", "B", "MLO", chest_wall_side="right") == (True, False)


def test_transform_on_a_synthetic_image() -> None:
    """R MLO stored 'A\\HR' (chest wall left, head down): after the transform, chest wall right."""
    image = np.zeros((60, 40), dtype=np.uint8)
    image[:, :10] = 200  # tissue along the left edge = chest wall
    image[50:, :] += 20  # a marker at the bottom = head in this storage
    transform = mammo_display_transform(["A", "HR"], "R", "MLO")
    shown = apply_transform(image, transform)
    assert chest_wall_side_from_pixels(shown) == "right"
    assert shown[:10].mean() > shown[-10:].mean()  # the head marker is now at the top


def test_transposed_chest_wall_lands_on_the_requested_side() -> None:
    image = np.zeros((30, 50), dtype=np.uint8)
    image[-8:, :] = 255  # 'R\\P': posterior (chest wall) at the bottom
    for side in ("left", "right"):
        t = mammo_display_transform("R\\P", "L", "CC", chest_wall_side=side)
        assert chest_wall_side_from_pixels(apply_transform(image, t)) == side


def test_parse_patient_orientation() -> None:
    assert parse_patient_orientation("P\\FL") == ("P", "FL")
    assert parse_patient_orientation(MultiValue(str, ["a", "fr"])) == ("A", "FR")
    for junk in (None, "", "P", "X\\Y", ["P", ""], 3):
        assert parse_patient_orientation(junk) is None


def test_view_category() -> None:
    assert view_category("medio-lateral oblique") == "lateral"
    assert view_category("cranio-caudal") == "cc"
    assert view_category("XCCL") == "cc"
    assert view_category("ML") == "lateral"
    assert view_category("") is None


def test_bad_side_and_flat_image() -> None:
    with pytest.raises(ValueError):
        mammo_flips("P\\FL", "R", "MLO", chest_wall_side="top")
    assert chest_wall_side_from_pixels(np.full((10, 10), 7)) is None
