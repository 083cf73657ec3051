"""JPEG 2000 reduced-resolution decoding (dicom/reduced.py): same data as the full decoder,
right level for the size asked, and the full path wherever that cannot be proven."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from auditdesk.dicom import reduced
from auditdesk.dicom.display import to_display
from auditdesk.dicom.loader import load_for_display, load_preview
from auditdesk.dicom.pixels import decode_frame, read_dataset
from auditdesk.dicom.sources import Location

WG04 = "mg/WG04_MG1_J2KI.dcm"


@pytest.fixture(scope="module")
def j2k_study(tmp_path_factory: pytest.TempPathFactory):
    """A synthetic 4-view lossless JPEG 2000 mammogram, 14 bits, odd size (1023 x 831) so the
    reduced sides are rounded up."""
    from auditdesk.demo.mammo import generate_mammo_study

    return generate_mammo_study(
        tmp_path_factory.mktemp("j2k"),
        seed=7,
        index=1,
        procedure_date=date(2026, 1, 5),
        technologist=None,
        transfer_syntax=JPEG2000Lossless,
        size=(1023, 831),
        bits_stored=14,
    )


def _block_means(full: np.ndarray, size: int) -> np.ndarray:
    """Mean of each size x size block (the last row/column of blocks holds what is left):
    the plain downsampling a reduced level should resemble, computed without any wavelet."""
    rows, cols = full.shape
    out_r, out_c = math.ceil(rows / size), math.ceil(cols / size)
    padded = np.full((out_r * size, out_c * size), np.nan)
    padded[:rows, :cols] = full
    return np.nanmean(padded.reshape(out_r, size, out_c, size), axis=(1, 3))


def _files(shared_data: Path, j2k_study) -> list[Path]:
    return [j2k_study.files[0].path, j2k_study.files[3].path, shared_data / WG04]


def test_pillow_full_level_matches_pydicom_bit_for_bit(shared_data, j2k_study):
    # The unshift (Pillow puts a P-bit component in the top bits of I;16) must give exactly
    # the stored values pydicom's decoder gives: checked at level 0, where both are lossless.
    for path in _files(shared_data, j2k_study):
        ds = read_dataset(path)
        codestream = reduced.frame_codestream(ds)
        info = reduced.codestream_info(codestream)
        assert info is not None and reduced.why_not_reduced(ds, info) is None
        assert info.precision == int(ds.BitsStored)
        raw = reduced._pillow_decode(codestream, 0)
        assert raw is not None
        mine = reduced._unshift(raw, info.precision, 2)
        full = decode_frame(ds)
        assert mine.dtype == full.dtype == np.uint16
        assert np.array_equal(mine, full), path.name


@pytest.mark.parametrize("level", [1, 2, 3])
def test_reduced_level_resembles_block_means_of_the_full_decode(shared_data, j2k_study, level):
    """Shape ceil(full / 2**r); values close to 2**r x 2**r block means of the full decode.

    Why not equal: the LL band of the reversible 5/3 wavelet is the low-pass
    (-1, 2, 6, 2, -1) / 8 applied r times with integer rounding and centred on the first pixel
    of each block, not a box mean centred on the block. On smooth tissue the two agree to a few
    codes; they differ by up to the step height only where the signal jumps (skin line,
    collimation edge), a few per cent of the pixels. Measured here: mean absolute difference
    0.25-1.1 % of the value range (WG04 r=1..3: 0.25, 0.33, 0.46 %; synthetic: 0.36, 0.61,
    1.08 %). Bound asserted: 2 % of the range; a wrong shift (x4 or x16), a transposed or
    mirrored frame, or a wrong level gives tens of per cent. The DC gain of the low-pass is
    exactly 1, so the image means must agree to 0.5 % of the range.
    """
    for path in _files(shared_data, j2k_study):
        ds = read_dataset(path)
        full = decode_frame(ds).astype(np.float64)
        target = math.ceil(max(full.shape) / 2**level)
        found = reduced.decode_reduced(ds, 0, target)
        assert found is not None
        assert found.level == level
        assert found.full_shape == full.shape
        expected = _block_means(full, 2**level)
        assert found.stored.shape == expected.shape
        assert found.stored.shape == (
            math.ceil(full.shape[0] / 2**level),
            math.ceil(full.shape[1] / 2**level),
        )
        value_range = full.max() - full.min()
        mad = np.abs(found.stored - expected).mean()
        assert mad <= 0.02 * value_range, (path.name, mad / value_range)
        assert abs(found.stored.mean() - full.mean()) <= 0.005 * value_range


def test_level_choice_is_the_coarsest_that_still_covers_the_target():
    # 4096 rows: 2048 (r=1), 1024 (r=2), 512 (r=3), ...
    assert reduced.level_for_size(4096, 3328, 1024, 5) == 2
    assert reduced.level_for_size(4096, 3328, 1025, 5) == 1
    assert reduced.level_for_size(4096, 3328, 4096, 5) == 0
    assert reduced.level_for_size(4096, 3328, 1, 5) == 5  # never past the levels coded
    # odd side: ceil(1023 / 2) = 512 covers 512; ceil(1023 / 4) = 256 does not cover 300
    assert reduced.level_for_size(1023, 831, 512, 5) == 1
    assert reduced.level_for_size(1023, 831, 300, 5) == 1


def test_preview_display_uses_the_same_window_and_polarity_rules(j2k_study):
    path = j2k_study.files[0].path
    ds = read_dataset(path)
    full = to_display(ds)
    image, found = reduced.reduced_display(ds, 0, 300)
    assert found.level == 1
    assert image.voi == full.voi  # the file's window, not something computed
    assert image.inverted == full.inverted
    assert image.array.dtype == np.uint8 and image.array.shape == found.stored.shape
    # The same modality LUT, VOI and polarity applied to the reduced stored values.
    expected = replace(full, stored=found.stored).rewindow(full.voi)
    assert np.array_equal(image.array, expected.array)


def test_load_preview_carries_full_size_and_the_same_calibration(j2k_study):
    loc = Location(str(j2k_study.files[2].path))
    preview = load_preview(loc, 0, 300)
    full = load_for_display(loc)
    assert preview is not None and preview.is_preview and not full.is_preview
    assert preview.reduce_level == 1 and preview.full_shape == (1023, 831)
    assert full.display.shape == (1023, 831)
    assert preview.calibration == full.calibration
    assert preview.transform == full.transform
    assert preview.patient_orientation == full.patient_orientation


def test_render_max_size_decodes_only_the_reduced_level(j2k_study, tmp_path, monkeypatch):
    from PIL import Image

    from auditdesk import cli
    from auditdesk.dicom import display

    def no_full_decode(*_args, **_kwargs):
        raise AssertionError("the full frame was decoded")

    from auditdesk.dicom import pixels

    monkeypatch.setattr(display, "decode_frame", no_full_decode)
    monkeypatch.setattr(pixels, "_decode", no_full_decode)  # every pydicom decode goes here
    path = j2k_study.files[0].path
    out = tmp_path / "small.png"
    result = reduced.render_png_fitted(path, out, max_size=256)
    # 1023 rows: level 1 = 512, level 2 = 256 (>= 256), level 3 = 128 (too small)
    assert result.level == 2
    with Image.open(out) as im:
        assert max(im.size) == 256
    # Through the CLI too.
    out2 = tmp_path / "cli.png"
    assert cli.main(["render", str(path), "-o", str(out2), "--max-size", "300"]) == 0
    with Image.open(out2) as im:
        assert max(im.size) == 300  # level 1 (512) shrunk by Lanczos


def test_render_without_a_level_big_enough_uses_the_full_decode(j2k_study, tmp_path):
    path = j2k_study.files[0].path
    result = reduced.render_png_fitted(path, tmp_path / "big.png", max_size=800)
    assert result.level == 0  # 512 < 800: the full frame, shrunk as before
    result = reduced.render_png_fitted(path, tmp_path / "none.png")
    assert result.level == 0


def test_non_j2k_signed_and_mismatched_files_take_the_full_path(shared_data, j2k_study, tmp_path):
    from auditdesk.demo.mammo import generate_mammo_study

    raw = generate_mammo_study(
        tmp_path / "raw",
        seed=7,
        index=2,
        procedure_date=date(2026, 1, 5),
        technologist=None,
        transfer_syntax=ExplicitVRLittleEndian,
        size=(1023, 831),
    )
    assert reduced.decode_reduced(read_dataset(raw.files[0].path), 0, 100) is None
    assert load_preview(Location(str(raw.files[0].path)), 0, 100) is None
    # Signed header over an unsigned codestream (pydicom reads it as int16).
    mismatch = read_dataset(shared_data / "edge" / "J2K_pixelrep_mismatch.dcm")
    info = reduced.codestream_info(reduced.frame_codestream(mismatch))
    assert info is not None and not info.signed
    assert reduced.why_not_reduced(mismatch, info) == "signed pixel data"
    assert reduced.decode_reduced(mismatch, 0, 64) is None
    # A damaged codestream: no preview, no exception (the full decoder reports it).
    damaged = read_dataset(shared_data / "edge" / "JPEG2000-embedded-sequence-delimiter.dcm")
    assert reduced.decode_reduced(damaged, 0, 64) is None
    # Header and codestream disagree on the bit depth: not provably the same data.
    ds = read_dataset(j2k_study.files[0].path)
    ds.BitsStored = 12
    assert reduced.why_not_reduced(ds, reduced.codestream_info(reduced.frame_codestream(ds)))
    assert reduced.decode_reduced(ds, 0, 100) is None
    # A frame that does not exist: no preview; the full path raises its sentence.
    ds = read_dataset(j2k_study.files[0].path)
    assert reduced.decode_reduced(ds, 5, 100) is None


def test_codestream_info_reads_siz_and_cod(shared_data):
    ds = read_dataset(shared_data / WG04)
    info = reduced.codestream_info(reduced.frame_codestream(ds))
    # WG04_MG1_J2KI: 3064 x 4664, 12-bit unsigned, 5 decomposition levels (hex dump of the
    # main header: SIZ ...0bf8 00001238..., Ssiz 0x0b = 12 bits unsigned; COD SPcod 05).
    assert (info.width, info.height) == (3064, 4664)
    assert (info.precision, info.signed, info.levels, info.components) == (12, False, 5, 1)
    assert reduced.codestream_info(b"not a codestream") is None
    assert reduced.codestream_info(b"\xff\x4f\xff\x51\x00") is None


def test_preview_requests_are_only_made_for_j2k_images_big_enough():
    # Decided from the index (no file opened): other codecs and small images never ask.
    lossless, lossy = str(JPEG2000Lossless), "1.2.840.10008.1.2.4.91"
    assert reduced.may_have_preview(lossless, 4096, 3328, 1024)
    assert reduced.may_have_preview(lossy, 4096, 3328, 2048)
    assert not reduced.may_have_preview(lossless, 4096, 3328, 2049)  # level 1 is too small
    assert not reduced.may_have_preview(str(ExplicitVRLittleEndian), 4096, 3328, 512)
    assert not reduced.may_have_preview("1.2.840.10008.1.2.4.201", 4096, 3328, 512)  # HTJ2K
    assert not reduced.may_have_preview(lossless, None, None, 512)


def test_display_loader_serves_previews_from_its_workers(loader, j2k_study):
    loc = Location(str(j2k_study.files[1].path))
    future = loader.submit_preview(loc, 0, 300)
    assert loader.submit_preview(loc, 0, 300) is future  # asked twice, decoded once
    preview = future.result(timeout=120)
    assert preview is not None and preview.reduce_level == 1
    assert preview.display.array.shape == (512, 416)  # ceil(1023 / 2), ceil(831 / 2)
    assert not loader.cached(loc)  # previews never stand in for the full image
    loader.clear_cache()
    assert loader.submit_preview(loc, 0, 300) is not future


def test_a_level_pillow_refuses_falls_back_to_a_finer_one(j2k_study, monkeypatch):
    real = reduced._pillow_decode
    asked: list[int] = []

    def refuse_coarse(codestream: bytes, level: int):
        asked.append(level)
        return None if level >= 2 else real(codestream, level)

    monkeypatch.setattr(reduced, "_pillow_decode", refuse_coarse)
    found = reduced.decode_reduced(read_dataset(j2k_study.files[0].path), 0, 200)
    assert asked == [2, 1]  # 1023 rows: level 2 (256) covers 200, refused; level 1 next
    assert found is not None and found.level == 1 and found.stored.shape == (512, 416)
    monkeypatch.setattr(reduced, "_pillow_decode", lambda *_a: None)
    assert reduced.decode_reduced(read_dataset(j2k_study.files[0].path), 0, 200) is None
