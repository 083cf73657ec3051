"""Calibration: which plane a millimetre is in, and refusing to call pixels millimetres."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from auditdesk.dicom.calibration import (
    Calibration,
    CalibrationSource,
    calibration,
    length_mm,
    length_px,
)
from auditdesk.dicom.pixels import read_dataset


def header(shared_data: Path, rel: str) -> Dataset:
    return read_dataset(shared_data / rel, stop_before_pixels=True)


def test_ge_mammogram_is_detector_plane(shared_data: Path) -> None:
    cal = calibration(header(shared_data, "mg/GH133_GE_SenographeEssential_R_MLO.dcm"))
    assert cal.source is CalibrationSource.IMAGER_PIXEL_SPACING
    assert cal.row_mm == pytest.approx(0.0941, abs=5e-5)
    assert cal.col_mm == pytest.approx(0.0941, abs=5e-5)
    assert cal.is_calibrated
    assert cal.label == "mm (Imager Pixel Spacing, detector plane)"
    assert "detector" in cal.note


def test_siemens_ermf_mode_divides(shared_data: Path) -> None:
    ds = header(shared_data, "mg/OutOfBoundsOverlay_Siemens_Mammomat_L_CC_stereo.dcm")
    auto = calibration(ds)
    assert auto.source is CalibrationSource.IMAGER_PIXEL_SPACING
    assert auto.row_mm == pytest.approx(0.085)
    assert auto.ermf == pytest.approx(1.0433386837881)
    corrected = calibration(ds, mode="ermf")
    assert corrected.source is CalibrationSource.IMAGER_PIXEL_SPACING_ERMF
    assert corrected.row_mm == pytest.approx(0.085 / 1.0433386837881)  # 0.08147 mm
    assert corrected.col_mm == pytest.approx(0.08147, abs=1e-5)
    assert "breast plane" in corrected.label and "1.04334" in corrected.note


def test_hologic_tomo_slice_has_pixel_spacing(shared_data: Path) -> None:
    ds = header(shared_data, "mg/GH1376_Hologic_Dimensions_tomo_recon_R_MLO_truncated.dcm")
    for mode in ("auto", "ermf", "detector"):
        cal = calibration(ds, mode)
        assert cal.source is CalibrationSource.PIXEL_SPACING
        assert (cal.row_mm, cal.col_mm) == (0.087066, 0.087066)


def test_mr_pixel_spacing(shared_data: Path) -> None:
    cal = calibration(header(shared_data, "mr/prostate_adc_qin-prostate_ge/000000.dcm"))
    assert cal.source is CalibrationSource.PIXEL_SPACING
    assert cal.row_mm == pytest.approx(0.7031)
    assert cal.label == "mm (Pixel Spacing)"


def test_enhanced_mr_pixel_measures_are_anisotropic(shared_data: Path) -> None:
    cal = calibration(header(shared_data, "mr/enhanced_multiframe/mr_brucker.dcm"), frame=2)
    assert cal.source is CalibrationSource.PIXEL_SPACING
    assert (cal.row_mm, cal.col_mm) == (0.2, 0.1)
    assert "functional group" in cal.note


def test_secondary_capture_mammogram_is_not_calibrated(shared_data: Path) -> None:
    cal = calibration(header(shared_data, "mg/WG04_MG1_J2KI.dcm"))
    assert cal.source is CalibrationSource.NONE
    assert not cal.is_calibrated and cal.row_mm is None
    assert cal.label == "px (no calibration)"


def test_empty_dataset_is_none() -> None:
    cal = calibration(Dataset())
    assert cal == Calibration(
        None,
        None,
        CalibrationSource.NONE,
        "The file has no Pixel Spacing or Imager Pixel Spacing, so measurements are in pixels "
        "only.",
    )


@pytest.mark.parametrize("bad", [[0, 0], [-0.1, -0.1], ["nan", "nan"], [0.1, 0.1, 0.1]])
def test_nonsense_spacing_is_refused(bad: list) -> None:
    ds = Dataset()
    ds.PixelSpacing = bad
    cal = calibration(ds)
    assert cal.source is CalibrationSource.NONE
    assert cal.row_mm is None
    assert "Pixel Spacing" in cal.note and "pixels only" in cal.note


def test_bad_pixel_spacing_falls_back_to_imager_and_says_so() -> None:
    ds = Dataset()
    ds.PixelSpacing = [0, 0]
    ds.ImagerPixelSpacing = [0.1, 0.1]
    cal = calibration(ds)
    assert cal.source is CalibrationSource.IMAGER_PIXEL_SPACING
    assert cal.note.startswith("Pixel Spacing '0")
    assert "is zero, negative or not a number (ignored); Imager Pixel Spacing 0.1 mm" in cal.note


def test_pixel_spacing_repeating_imager_spacing_is_detector_plane() -> None:
    ds = Dataset()
    ds.PixelSpacing = [0.1, 0.1]
    ds.ImagerPixelSpacing = [0.1, 0.1]
    ds.EstimatedRadiographicMagnificationFactor = 1.25
    cal = calibration(ds)
    assert cal.source is CalibrationSource.IMAGER_PIXEL_SPACING
    assert "repeats" in cal.note
    assert calibration(ds, "ermf").row_mm == pytest.approx(0.08)
    ds.PixelSpacingCalibrationType = "GEOMETRY"  # now it is a real calibration
    geometry = calibration(ds)
    assert geometry.source is CalibrationSource.PIXEL_SPACING
    assert "geometry" in geometry.note
    assert calibration(ds, "detector").source is CalibrationSource.IMAGER_PIXEL_SPACING


def test_calibrated_projection_pixel_spacing_wins() -> None:
    ds = Dataset()
    ds.PixelSpacing = [0.08, 0.08]
    ds.ImagerPixelSpacing = [0.1, 0.1]
    assert calibration(ds).source is CalibrationSource.PIXEL_SPACING
    assert calibration(ds, "ermf").source is CalibrationSource.PIXEL_SPACING
    assert calibration(ds, "detector").row_mm == 0.1


@pytest.mark.parametrize("ermf", [None, 0, -1, "nan"])
def test_ermf_mode_without_usable_factor(ermf: object) -> None:
    ds = Dataset()
    ds.ImagerPixelSpacing = [0.1, 0.1]
    if ermf is not None:
        ds.EstimatedRadiographicMagnificationFactor = ermf
    cal = calibration(ds, "ermf")
    assert cal.source is CalibrationSource.IMAGER_PIXEL_SPACING
    assert cal.row_mm == 0.1
    assert "no usable magnification factor" in cal.note


def test_bad_mode() -> None:
    with pytest.raises(ValueError, match="auto"):
        calibration(Dataset(), mode="patient")


def test_lengths_with_anisotropic_pixels() -> None:
    cal = Calibration(0.2, 0.1, CalibrationSource.PIXEL_SPACING, "")
    assert length_mm((0, 0), (10, 0), cal) == pytest.approx(2.0)  # 10 rows x 0.2 mm
    assert length_mm((0, 0), (0, 10), cal) == pytest.approx(1.0)  # 10 columns x 0.1 mm
    assert length_mm((1, 1), (4, 5), cal) == pytest.approx(math.hypot(0.6, 0.4))  # 0.7211
    assert length_px((1, 1), (4, 5)) == 5.0
    none = Calibration(None, None, CalibrationSource.NONE, "")
    assert length_mm((0, 0), (3, 4), none) is None


def test_every_source_has_a_label() -> None:
    for source in CalibrationSource:
        assert source.label and source.label.split()[0] in ("mm", "px")
    assert (
        CalibrationSource("imager_pixel_spacing_ermf")
        is CalibrationSource.IMAGER_PIXEL_SPACING_ERMF
    )
