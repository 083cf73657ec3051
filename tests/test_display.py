"""Display pipeline: PS3.3 VOI formulas, presets, polarity, colour, real files, PNG export."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from auditdesk.dicom.display import (
    VOIPreset,
    apply_voi,
    default_voi,
    find_preset,
    is_monochrome1,
    modality_lut,
    needs_inversion,
    render_png,
    to_display,
    voi_presets,
)
from auditdesk.dicom.pixels import decode_frame, read_dataset

GE = "mg/GH133_GE_SenographeEssential_R_MLO.dcm"


def window(center: float, width: float, function: str = "LINEAR") -> VOIPreset:
    return VOIPreset("test", "window", center, width, function, None, "test")


def gray_dataset(
    pixels: np.ndarray, photometric: str = "MONOCHROME2", bits_stored: int = 12, **extra: object
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPInstanceUID = generate_uid()
    ds.set_pixel_data(pixels, photometric, bits_stored)
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    return ds


@pytest.fixture(scope="module")
def ge(shared_data: Path) -> Dataset:
    return read_dataset(shared_data / GE)


@pytest.fixture(scope="module")
def ge_stored(ge: Dataset) -> np.ndarray:
    return decode_frame(ge)


@pytest.fixture(scope="module")
def ge_image(ge: Dataset):
    return to_display(ge)


# --------------------------------------------------------------------------------------------
# PS3.3 C.11.2.1.2 formulas, checked against numbers worked out by hand
# --------------------------------------------------------------------------------------------


def test_linear_edges() -> None:
    # c = 100, w = 21: x <= c - 0.5 - (w-1)/2 = 89.5 -> 0; x > c - 0.5 + (w-1)/2 = 109.5 -> 1;
    # between: (x - 99.5) / 20 + 0.5
    x = np.array([0, 89.5, 89.6, 90, 99.5, 100, 109.5, 109.6, 5000], dtype=np.float32)
    y = apply_voi(x, window(100, 21))
    expected = [0, 0, 0.005, 0.025, 0.5, 0.525, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(y, expected, atol=1e-6)
    assert y.dtype == np.float32


def test_linear_width_one_is_a_threshold() -> None:
    y = apply_voi(np.array([99.0, 99.5, 99.51, 100.0]), window(100, 1))
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_linear_exact_edges() -> None:
    # c = 100, w = 20: x <= 90 -> 0; x > 110 -> 1; between (x - 100) / 20 + 0.5
    x = np.array([80, 90, 95, 100, 105, 110, 110.1], dtype=np.float32)
    y = apply_voi(x, window(100, 20, "LINEAR_EXACT"))
    np.testing.assert_allclose(y, [0, 0, 0.25, 0.5, 0.75, 1.0, 1.0], atol=1e-6)


def test_sigmoid_values() -> None:
    # y = 1 / (1 + exp(-4 (x - c) / w)), c = 100, w = 20
    x = np.array([90, 95, 100, 105, 110, -1e9, 1e9], dtype=np.float32)
    y = apply_voi(x, window(100, 20, "SIGMOID"))
    expected = [
        1 / (1 + math.e**2),  # 0.11920
        1 / (1 + math.e**1),  # 0.26894
        0.5,
        1 / (1 + math.e**-1),  # 0.73106
        1 / (1 + math.e**-2),  # 0.88080
        0.0,
        1.0,
    ]
    np.testing.assert_allclose(y, expected, atol=1e-6)
    assert np.isfinite(y).all()


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_integer_table_path_matches_float_path(function: str) -> None:
    rng = np.random.default_rng(1)
    stored = rng.integers(0, 4096, size=(600, 500), dtype=np.uint16)
    preset = window(2048.3, 1500, function)
    fast = apply_voi(stored, preset)  # > 262k pixels: 65536-entry table
    slow = apply_voi(stored.astype(np.float32), preset)
    np.testing.assert_allclose(fast, slow, atol=1e-6)
    signed = (stored.astype(np.int32) - 2048).astype(np.int16)
    np.testing.assert_allclose(
        apply_voi(signed, window(0, 1000, function)),
        apply_voi(signed.astype(np.float32), window(0, 1000, function)),
        atol=1e-6,
    )


def test_voi_lut_lookup_clamps_and_scales() -> None:
    # first mapped 10, 8-bit output: 10 -> 0, 11 -> 51, ... 15 -> 255
    preset = VOIPreset("lut", "lut", None, None, "LUT", (10, 8, (0, 51, 102, 153, 204, 255)), "t")
    y = apply_voi(np.array([-5, 9, 10, 12, 15, 99], dtype=np.float32), preset)
    np.testing.assert_allclose(y, [0, 0, 0, 0.4, 1.0, 1.0], atol=1e-6)


def test_range_preset_maps_low_high_exactly() -> None:
    preset = VOIPreset("Full range", "range", 150.0, 100.0, "LINEAR_EXACT", None, "computed")
    assert preset.low_high == (100.0, 200.0)
    y = apply_voi(np.array([100.0, 150.0, 200.0]), preset)
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])


# --------------------------------------------------------------------------------------------
# The GE mammogram: 3 windows + SIGMOID + 3-item VOI LUT Sequence
# --------------------------------------------------------------------------------------------


def test_ge_offers_all_windows_and_luts(ge: Dataset) -> None:
    presets = voi_presets(ge)
    assert [(p.name, p.kind) for p in presets] == [
        ("NORMAL", "window"),
        ("HARDER", "window"),
        ("SOFTER", "window"),
        ("VOI LUT 1 (NORMAL)", "lut"),
        ("VOI LUT 2 (HARDER)", "lut"),
        ("VOI LUT 3 (SOFTER)", "lut"),
    ]
    assert [(p.center, p.width) for p in presets[:3]] == [(2653, 900), (2713, 750), (2569, 1050)]
    assert all(p.function == "SIGMOID" for p in presets[:3])
    assert presets[1].source == "file window 2 of 3"
    first, bits, table = presets[3].lut
    assert (first, bits, len(table)) == (625, 12, 3447)
    assert presets[5].source == "VOI LUT Sequence item 3"


def test_ge_default_is_sigmoid_window_one(ge: Dataset) -> None:
    voi = default_voi(ge)
    assert (voi.name, voi.kind, voi.center, voi.width, voi.function) == (
        "NORMAL",
        "window",
        2653.0,
        900.0,
        "SIGMOID",
    )


# (row, col): stored value, and round(255 / (1 + exp(-4 (x - 2653) / 900))) worked by hand:
#   2259: exp(1.75111) = 5.7611 -> 0.14790 -> 37.71 -> 38
#   2475: exp(0.79111) = 2.2060 -> 0.31191 -> 79.54 -> 80
#   2353: exp(1.33333) = 3.7937 -> 0.20861 -> 53.19 -> 53
#      0: background                      -> 0.00001 -> 0
GE_PIXELS = {(1500, 1200): (2259, 38), (1500, 2300): (2475, 80), (2000, 1800): (2353, 53)}


def test_ge_rendering_matches_hand_computation(ge_stored: np.ndarray, ge_image) -> None:
    assert ge_image.array.dtype == np.uint8
    assert ge_image.shape == (3062, 2394)
    assert not ge_image.inverted
    for (r, c), (stored, shown) in GE_PIXELS.items():
        assert int(ge_stored[r, c]) == stored
        assert int(ge_image.array[r, c]) == shown
        by_formula = round(255 / (1 + math.exp(-4 * (stored - 2653) / 900)))
        assert by_formula == shown
    assert int(ge_image.array[100, 100]) == 0


def test_ge_modality_values_and_rewindow(ge: Dataset, ge_stored: np.ndarray, ge_image) -> None:
    values = ge_image.modality_values
    assert values.dtype == np.float32
    assert np.array_equal(values, ge_stored.astype(np.float32))  # slope 1, intercept 0
    assert np.array_equal(modality_lut(ge_stored, ge), values)
    harder = find_preset(voi_presets(ge), "HARDER")
    again = ge_image.rewindow(harder)
    assert np.array_equal(again.array, to_display(ge, voi="harder").array)
    x = 2475
    assert int(again.array[1500, 2300]) == round(255 / (1 + math.exp(-4 * (x - 2713) / 750)))


def test_display_image_pickles_lean(ge_image) -> None:
    """Worker processes send DisplayImage back: the float32 cache must not travel."""
    import pickle

    assert ge_image.modality_values is not None  # cache filled
    blob = pickle.dumps(ge_image)
    assert len(blob) < ge_image.stored.nbytes + ge_image.array.nbytes + 1_000_000
    copy = pickle.loads(blob)
    assert np.array_equal(copy.array, ge_image.array)
    assert np.array_equal(copy.modality_values, ge_image.modality_values)
    assert copy.voi == ge_image.voi


def test_ge_voi_lut_renders_like_its_window(ge: Dataset) -> None:
    """GE's VOI LUT 1 is a tabulated version of window 1: the two looks agree closely."""
    by_window = to_display(ge).array.astype(np.int16)
    by_lut = to_display(ge, voi="VOI LUT 1 (NORMAL)").array.astype(np.int16)
    assert np.abs(by_window - by_lut).mean() < 2.0


def test_unknown_preset_name_lists_choices(ge: Dataset) -> None:
    with pytest.raises(ValueError, match="'NORMAL'"):
        to_display(ge, voi="Bone")


def test_float_output(ge: Dataset) -> None:
    image = to_display(ge, out="float32")
    assert image.array.dtype == np.float32
    assert float(image.array.min()) >= 0.0 and float(image.array.max()) <= 1.0
    with pytest.raises(ValueError):
        to_display(ge, out="png")


# --------------------------------------------------------------------------------------------
# Computed fallback
# --------------------------------------------------------------------------------------------


def test_computed_range_ignores_mammogram_background() -> None:
    rng = np.random.default_rng(0)
    pixels = np.zeros((400, 300), dtype=np.uint16)  # 60 % air at 0
    pixels[:, 180:] = rng.integers(1000, 3000, size=(400, 120), dtype=np.uint16)
    ds = gray_dataset(pixels)
    presets = voi_presets(ds, pixels.astype(np.float32))
    assert [p.name for p in presets] == ["Full range"]
    low, high = presets[0].low_high
    assert 1000 <= low < 1100 and 2900 < high <= 3000
    assert "background excluded" in presets[0].source
    image = to_display(ds)
    assert image.voi.name == "Full range"
    assert image.array[:, 180:].std() > 40  # the tissue gets the grey levels


def test_header_range_without_pixels() -> None:
    ds = gray_dataset(np.zeros((4, 4), dtype=np.uint16), bits_stored=10)
    preset = default_voi(ds)
    assert preset.kind == "range" and preset.low_high == (0.0, 1023.0)
    assert preset.source == "computed from Bits Stored"


def test_blank_image_with_zero_width_window_still_renders(shared_data: Path) -> None:
    ds = read_dataset(shared_data / "mr/misc/GH1261_Siemens_JPEGLosslessSV1.dcm")
    assert float(ds.WindowWidth) == 0  # unusable window: skipped
    image = to_display(ds)
    assert image.voi.kind == "range"
    assert image.array.shape == (162, 162)


# --------------------------------------------------------------------------------------------
# Polarity
# --------------------------------------------------------------------------------------------


def test_monochrome1_lowest_stored_values_are_brightest() -> None:
    # MONOCHROME1: a low stored value means high attenuation (dense tissue, bone) -> bright.
    pixels = np.array([[0, 100, 200, 300], [3000, 3100, 3200, 4095]], dtype=np.uint16)
    ds = gray_dataset(pixels, "MONOCHROME1", WindowCenter=2048, WindowWidth=4096)
    assert is_monochrome1(ds)
    image = to_display(ds)
    assert image.inverted
    shown = image.array.astype(int)
    assert shown[0, 0] == shown.max() == 255
    assert shown[1, 3] == shown.min() == 0
    assert (np.diff(shown.ravel()) <= 0).all()  # brightness falls as stored values rise
    mono2 = to_display(gray_dataset(pixels, WindowCenter=2048, WindowWidth=4096)).array
    assert np.array_equal(shown, 255 - mono2.astype(int))


def test_presentation_lut_shape_rules() -> None:
    pixels = np.array([[0, 4095]], dtype=np.uint16)
    kw = {"WindowCenter": 2048, "WindowWidth": 4096}
    mono1_inverse = gray_dataset(pixels, "MONOCHROME1", PresentationLUTShape="INVERSE", **kw)
    assert needs_inversion(mono1_inverse)[0]
    assert to_display(mono1_inverse).array.tolist() == [[255, 0]]  # inverted once, not twice
    mono2_inverse = gray_dataset(pixels, PresentationLUTShape="INVERSE", **kw)
    assert to_display(mono2_inverse).array.tolist() == [[255, 0]]
    mono2_identity = gray_dataset(pixels, PresentationLUTShape="IDENTITY", **kw)
    assert to_display(mono2_identity).array.tolist() == [[0, 255]]
    mono1_identity = gray_dataset(pixels, "MONOCHROME1", PresentationLUTShape="IDENTITY", **kw)
    assert to_display(mono1_identity).array.tolist() == [[255, 0]]


def test_cr_monochrome1_chest_has_bright_mediastinum(shared_data: Path) -> None:
    ds = read_dataset(shared_data / "edge/CR-MONO1-10-chest.dcm")
    image = to_display(ds)
    assert image.inverted and image.voi.center == 550 and image.voi.width == 1024
    shown = image.array.astype(float)
    mediastinum = shown[150:300, 200:240].mean()
    left_lung = shown[150:300, 90:150].mean()
    right_lung = shown[150:300, 290:350].mean()
    assert mediastinum > left_lung + 50 and mediastinum > right_lung + 50


# --------------------------------------------------------------------------------------------
# Modality LUT, enhanced multi-frame, colour
# --------------------------------------------------------------------------------------------


def test_rescale_and_modality_lut_sequence() -> None:
    stored = np.array([[0, 10, 20]], dtype=np.uint16)
    ds = gray_dataset(stored, RescaleSlope=2.5, RescaleIntercept=-100)
    np.testing.assert_allclose(modality_lut(stored, ds), [[-100, -75, -50]])
    item = Dataset()
    item.LUTDescriptor = [3, 10, 16]
    item.LUTData = [1000, 2000, 3000]
    ds_lut = gray_dataset(stored)
    ds_lut.ModalityLUTSequence = [item]
    np.testing.assert_allclose(
        modality_lut(np.array([5, 10, 11, 12, 99]), ds_lut), [1000, 1000, 2000, 3000, 3000]
    )


def test_enhanced_mr_uses_frame_functional_groups(shared_data: Path) -> None:
    ds = read_dataset(
        shared_data / "mr/enhanced_multiframe/Philips_Achieva_dStream_IM_0027_fMAP.dcm"
    )
    image = to_display(ds, frame=3)
    group = ds.PerFrameFunctionalGroupsSequence[3]
    slope = float(group.PixelValueTransformationSequence[0].RescaleSlope)
    assert slope != 1.0
    np.testing.assert_allclose(
        image.modality_values, decode_frame(ds, 3).astype(np.float32) * slope, rtol=1e-6
    )
    frame_voi = group.FrameVOILUTSequence[0]
    assert image.voi.center == float(frame_voi.WindowCenter)
    assert "functional groups" in image.voi.source


def test_rgb_image_is_shown_as_stored() -> None:
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 2] = (10, 20, 30)
    ds = gray_dataset(rgb, "RGB", bits_stored=8)
    image = to_display(ds)
    assert image.is_colour and image.modality_values is None
    assert np.array_equal(image.array, rgb)
    assert voi_presets(ds)[0].name == "Colour (as stored)"


@pytest.mark.parametrize(
    "name", ["examples_palette.dcm", "SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_rle_16bit.dcm"]
)
def test_pydicom_colour_samples_render(name: str) -> None:
    path = get_testdata_file(name)
    assert path is not None, f"{name} ships in the pydicom wheel; is pydicom installed whole?"
    image = to_display(read_dataset(path))
    assert image.array.dtype == np.uint8
    assert image.array.ndim == 3 and image.array.shape[-1] == 3
    assert image.array.std() > 5


# --------------------------------------------------------------------------------------------
# PNG export
# --------------------------------------------------------------------------------------------


def test_render_png_ge_downscaled(shared_data: Path, tmp_path: Path) -> None:
    out = render_png(shared_data / GE, tmp_path / "ge.png", voi="SOFTER", max_size=512)
    assert out == tmp_path / "ge.png"
    with Image.open(out) as png:
        assert png.format == "PNG" and png.mode == "L"
        assert max(png.size) == 512
        assert png.size == (400, 512)  # 2394 x 3062 keeps its aspect ratio
        assert np.asarray(png).std() > 20


def test_render_png_full_size_cr(shared_data: Path, tmp_path: Path) -> None:
    out = render_png(shared_data / "edge/CR-MONO1-10-chest.dcm", tmp_path / "cr.png")
    with Image.open(out) as png:
        assert png.size == (440, 440)
        assert np.asarray(png).std() > 20
