"""Issue 15 speed paths give the same numbers as the slow paths they replace.

Oracles: pydicom's own ``pixel_array`` (for the native-frame view) and the full float32
modality frame fed to the original robust-range code (for the sampled "Full range").
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from auditdesk.dicom.display import (
    _Modality,
    _robust_range,
    computed_preset,
    modality_lut,
    to_display,
)
from auditdesk.dicom.pixels import decode_frame
from auditdesk.dicom.robust_range import range_subsample, robust_range_of_codes


def _dataset(
    values: np.ndarray,
    *,
    bits_allocated: int = 16,
    bits_stored: int = 12,
    signed: bool = False,
    ts: str = ExplicitVRLittleEndian,
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    frames = values.shape[0] if values.ndim == 3 else 1
    ds.Rows, ds.Columns = values.shape[-2:]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits_allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = int(signed)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    big = ts == ExplicitVRBigEndian
    dtype = f"{'>' if big else '<'}{'i' if signed else 'u'}{bits_allocated // 8}"
    ds.PixelData = values.astype(dtype).tobytes()
    return ds


CASES = [
    # (bits allocated, bits stored, signed, transfer syntax, raw values)
    (16, 12, False, ExplicitVRLittleEndian, [[0x0123, 0x0FFF], [0x0800, 0x0001]]),
    # unused high bits set: pydicom masks them (0xF123 -> 0x123), so must we
    (16, 12, False, ExplicitVRLittleEndian, [[0xF123, 0x0FFF], [0x7800, 0x0001]]),
    (16, 16, False, ImplicitVRLittleEndian, [[65535, 0], [32768, 1]]),
    (16, 16, True, ExplicitVRLittleEndian, [[-32768, -1], [0, 32767]]),
    # signed with unused bits (sign extension) and big endian: pydicom's path, same answer
    (16, 12, True, ExplicitVRLittleEndian, [[0x0FFF, 0x0800], [0x07FF, 0x0001]]),
    (16, 12, False, ExplicitVRBigEndian, [[0x0123, 0x0FFF], [0x0800, 0x0001]]),
    (8, 8, False, ExplicitVRLittleEndian, [[0, 255], [128, 7]]),
    (8, 6, False, ExplicitVRLittleEndian, [[0xC1, 0x3F], [0x40, 0x01]]),
]


@pytest.mark.parametrize(("bits", "stored", "signed", "ts", "raw"), CASES)
def test_native_frame_equals_pydicom(bits, stored, signed, ts, raw) -> None:
    values = np.array(raw, dtype=np.int64).astype(f"{'i' if signed else 'u'}{bits // 8}")
    ds = _dataset(values, bits_allocated=bits, bits_stored=stored, signed=signed, ts=ts)
    expected = pixel_array(ds, raw=False)
    got = decode_frame(ds, 0)
    assert got.dtype == expected.dtype.newbyteorder("=") and got.dtype.isnative
    assert np.array_equal(got, expected)


def test_native_frames_of_a_multiframe_object_are_their_own_copies() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 4096, size=(3, 5, 4)).astype(np.uint16)
    ds = _dataset(values)
    expected = pixel_array(ds, raw=False)
    for i in range(3):
        frame = decode_frame(ds, i)
        assert np.array_equal(frame, expected[i])
        assert frame.base is None or frame.base.nbytes == frame.nbytes  # not a view of all


def test_sampled_full_range_equals_full_frame_range() -> None:
    """The "Full range" preset from the strided stored sample is the one the whole float32
    modality frame gives (rescale with a negative slope and an offset: element-wise)."""
    rng = np.random.default_rng(7)
    values = rng.integers(0, 4096, size=(1500, 1300)).astype(np.uint16)
    values[:, :600] = 0  # a background mode at one end, as in a mammogram
    ds = _dataset(values)
    ds.RescaleSlope, ds.RescaleIntercept = -0.75, 1024
    image = to_display(ds, voi="Full range")
    full = modality_lut(values, ds)
    lo, hi, note = _robust_range(full)  # the original code path: whole frame, then sampled
    assert "background excluded" in note
    assert image.voi.center == pytest.approx((lo + hi) / 2, abs=0)
    assert image.voi.width == pytest.approx(hi - lo, abs=0)
    assert image.voi == computed_preset(ds, full)


def _frames():
    """Integer frames with the shapes of real ones: backgrounds at either end, flat, tiny."""
    rng = np.random.default_rng(20)
    mammo = rng.normal(2400, 300, size=(2100, 1700)).clip(0, 4095).astype(np.uint16)
    mammo[:, :900] = 31  # air at the dark end
    yield "mammo, dark background", mammo, _Modality()
    mono1 = mammo.copy()
    mono1[:, :900] = 4095  # MONOCHROME1: air at the bright end
    yield "bright background", mono1, _Modality()
    yield "negative slope", mammo, _Modality(slope=-0.5, intercept=100.25)
    ct = rng.integers(-1024, 3000, size=(512, 512)).astype(np.int16)
    yield "signed CT", ct, _Modality(slope=1.0, intercept=-1024.0)
    table = rng.integers(0, 65535, size=4096).astype(np.int64)  # not monotone
    yield "modality LUT", mammo, _Modality(lut=(0, table))
    yield "uint8", rng.integers(0, 256, size=(300, 200)).astype(np.uint8), _Modality()
    yield "flat", np.full((64, 64), 7, dtype=np.uint16), _Modality()
    yield "two values", np.array([[0, 0, 0, 1000]] * 50, dtype=np.uint16), _Modality()


@pytest.mark.parametrize("case", list(_frames()), ids=lambda c: c[0])
def test_range_from_code_counts_equals_range_from_values(case) -> None:
    """Oracle: the original robust range over the float64 subsample of modality values."""
    _name, stored, modality = case
    expected = _robust_range(modality.apply(range_subsample(stored)), sampled=True)
    assert robust_range_of_codes(stored, modality.apply) == expected


def _write(path, values: np.ndarray, bits_stored: int = 12) -> None:
    ds = _dataset(values, bits_stored=bits_stored)
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.Modality = "MG"
    ds.save_as(path, enforce_file_format=True)


def test_stored_values_cross_the_process_boundary_as_a_file_region(tmp_path) -> None:
    """What a decode process sends back: the render and where the stored values are; the
    receiving side reads them again (oracle: pydicom's decode of the same file)."""
    import os
    import pickle

    from auditdesk.dicom.loader import load_for_display
    from auditdesk.dicom.pixels import read_dataset
    from auditdesk.dicom.sources import Location

    rng = np.random.default_rng(5)
    path = tmp_path / "mg.dcm"
    _write(path, rng.integers(0, 4096, size=(300, 260)).astype(np.uint16))
    loaded = load_for_display(Location(str(path)))
    assert loaded.display.stored_region is not None
    blob = pickle.dumps(loaded, protocol=5)
    assert len(blob) < loaded.display.array.nbytes + 50_000  # no 156 kB of stored values
    back = pickle.loads(blob)
    expected = pixel_array(read_dataset(path), raw=False)
    assert np.array_equal(back.display.stored, expected)
    assert np.array_equal(back.display.array, loaded.display.array)

    # The file changed between decode and receipt: the values are those of the file now.
    newer = rng.integers(0, 4096, size=(300, 260)).astype(np.uint16)
    _write(path, newer)
    os.utime(path, ns=(1, 1))
    assert np.array_equal(pickle.loads(blob).display.stored, newer)
    path.unlink()  # gone: no values (and no exception, which would break the pool)
    assert pickle.loads(blob).display.stored is None


def test_masked_values_travel_in_the_pickle(tmp_path) -> None:
    """Unused high bits set: the stored values are not the file's bytes, so they are sent."""
    import pickle

    from auditdesk.dicom.loader import load_for_display
    from auditdesk.dicom.sources import Location

    path = tmp_path / "mg.dcm"
    values = np.full((40, 30), 0xF123, dtype=np.uint16)
    _write(path, values)
    loaded = load_for_display(Location(str(path)))
    assert loaded.display.stored_region is None
    back = pickle.loads(pickle.dumps(loaded))
    assert np.array_equal(back.display.stored, np.full((40, 30), 0x123, dtype=np.uint16))
