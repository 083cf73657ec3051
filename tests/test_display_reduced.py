"""Reduced first render (issue 15): a frame much bigger than a hanging viewport is rendered
from every n-th stored pixel, placed over the full-resolution grid, and rendered in full as
soon as the zoom shows more. Oracle: the full-resolution render of the unchanged pipeline,
strided by hand (the pipeline is one table lookup per pixel, so a strided render must equal
the strided full render exactly)."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from auditdesk.dicom.display import find_preset, to_display, voi_presets
from auditdesk.dicom.display_scale import DISPLAY_COLS, DISPLAY_ROWS, display_reduction
from auditdesk.dicom.loader import load_for_display
from auditdesk.dicom.orientation import MammoTransform, apply_transform
from auditdesk.dicom.sources import Location

ROWS, COLS = 2 * DISPLAY_ROWS + 37, 2 * DISPLAY_COLS + 11  # reduction 2, odd remainders


def _mammo(rows: int = ROWS, cols: int = COLS) -> Dataset:
    rng = np.random.default_rng(11)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.Modality = "MG"
    ds.ImagerPixelSpacing = [0.07, 0.07]
    ds.WindowCenter, ds.WindowWidth = [2000, 2200], [1500, 3000]
    ds.WindowCenterWidthExplanation = ["NORMAL", "SOFT"]
    ds.VOILUTFunction = "SIGMOID"
    pixels = rng.integers(0, 4096, size=(rows, cols)).astype(np.uint16)
    ds.set_pixel_data(pixels, "MONOCHROME1", 12)
    return ds


def test_reduction_rule() -> None:
    assert display_reduction(4096, 3328) == 3  # 1365 x 1109: still covers 1280 x 1024
    assert display_reduction(2048, 1664) == 1  # the benchmark's half-size views: untouched
    assert display_reduction(1024, 832) == 1
    assert display_reduction(ROWS, COLS) == 2


def test_reduced_render_is_the_strided_full_render() -> None:
    ds = _mammo()
    full = to_display(ds)
    reduced = to_display(ds, reduction=2)
    assert reduced.reduction == 2 and full.reduction == 1
    assert reduced.stored.shape == (ROWS, COLS)  # stored values stay full size
    assert np.array_equal(reduced.array, full.array[::2, ::2])
    soft = find_preset(voi_presets(ds), "SOFT")
    again = reduced.rewindow(soft)  # re-windowing keeps the reduction ...
    assert again.reduction == 2
    assert np.array_equal(again.array, to_display(ds, voi="SOFT").array[::2, ::2])
    whole = reduced.rewindow(soft, reduction=1)  # ... until asked for the full frame
    assert np.array_equal(whole.array, to_display(ds, voi="SOFT").array)


def test_worker_reduces_only_big_frames(tmp_path) -> None:
    big, small = tmp_path / "big.dcm", tmp_path / "small.dcm"
    _mammo().save_as(big, enforce_file_format=True)
    _mammo(1024, 832).save_as(small, enforce_file_format=True)
    loaded = load_for_display(Location(str(big)))
    assert loaded.display.reduction == 2 and loaded.display.array.shape == (1299, 1030)
    assert load_for_display(Location(str(small))).display.reduction == 1


@pytest.mark.gui
def test_viewport_places_a_reduced_render_in_full_coordinates(qtbot, tmp_path) -> None:
    from auditdesk.ui.reading.viewer import ImageViewport

    path = tmp_path / "big.dcm"
    ds = _mammo()
    ds.save_as(path, enforce_file_format=True)
    loaded = load_for_display(Location(str(path)))
    hang = MammoTransform(flip_left_right=True, flip_up_down=False)
    full = apply_transform(to_display(ds).array, hang)

    vp = ImageViewport()
    qtbot.addWidget(vp)
    vp.resize(500, 600)
    vp.show()
    qtbot.waitExposed(vp)
    vp.show_loaded(loaded, hang)
    assert vp.array.shape == (1299, 1030)  # reduced on screen ...
    assert np.array_equal(vp.array, full[::2, ::2])
    assert vp.stored_shape == (ROWS, COLS)  # ... measured in stored pixels
    # Drawn at exactly 2 full pixels per reduced pixel; flipped left-right, the rounded-up
    # overhang (1030 * 2 = 2060 for 2059 columns) is on the near side, so the far edge is at
    # the full image's edge.
    rect = vp.image_item.mapRectToParent(vp.image_item.boundingRect())
    assert (rect.left(), rect.right()) == pytest.approx((COLS - 2060, COLS))
    assert (rect.top(), rect.bottom()) == pytest.approx((0, 1299 * 2))
    assert np.array_equal(vp.full_array(), full)  # PNG export: full resolution

    vp.toggle_invert()
    before = vp.view.viewRange()
    vp.one_to_one()  # one screen pixel per stored pixel: more than the reduced render holds
    after = vp.view.viewRange()
    assert vp.array.shape == (ROWS, COLS)
    assert np.array_equal(vp.array, 255 - full)  # same window, still inverted
    assert vp.image_width() == pytest.approx(COLS)
    assert after != before
    width = after[0][1] - after[0][0]  # the swap kept the 1:1 zoom it was triggered by
    assert width == pytest.approx(vp.view.width() * vp.devicePixelRatioF(), rel=0.02)
    vp.fit()
    assert vp.array.shape == (ROWS, COLS)  # stays full once rendered
