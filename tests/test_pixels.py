"""Reading and decoding: real files from ../shared/data, every codec, every bad input."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from auditdesk.dicom import pixels
from auditdesk.dicom.pixels import (
    MAX_DECODED_BYTES,
    PixelDataError,
    check_pixel_size,
    decode_frame,
    decode_frames,
    image_geometry,
    read_dataset,
)


def assert_one_sentence(message: str) -> None:
    """One user-facing sentence: no line breaks, one full stop, at the end."""
    assert message, "empty message"
    assert "\n" not in message
    assert message[0].isupper()
    assert message.endswith(".")
    assert ". " not in message, f"more than one sentence: {message!r}"
    assert "Traceback" not in message


def native_dataset(
    rows: int = 4,
    cols: int = 4,
    frames: int | None = None,
    pixel_bytes: bytes | None = None,
    ts: str = ExplicitVRLittleEndian,
) -> Dataset:
    """A minimal 16-bit MONOCHROME2 image built in memory (no file needed)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.SOPInstanceUID = generate_uid()
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    if frames is not None:
        ds.NumberOfFrames = frames
    n = rows * cols * (frames or 1)
    if pixel_bytes is None:
        pixel_bytes = np.arange(n, dtype="<u2").tobytes()
    ds.PixelData = pixel_bytes
    ds["PixelData"].VR = "OW"
    return ds


# --------------------------------------------------------------------------------------------
# Real files: shapes
# --------------------------------------------------------------------------------------------

MG_EXPECTED = {
    "mg/GH133_GE_SenographeEssential_R_MLO.dcm": (1, 3062, 2394),
    "mg/OutOfBoundsOverlay_Siemens_Mammomat_L_CC_stereo.dcm": (1, 788, 1318),
    "mg/WG04_MG1_J2KI.dcm": (1, 4664, 3064),
}
MG_FAILING = {
    "mg/GH1376_Hologic_Dimensions_tomo_recon_R_MLO_truncated.dcm": "truncated",
    "mg/WG04_MG1_JPLY.dcm": "JPEG Extended",
}


def test_every_mammogram_decodes_or_fails_cleanly(shared_data: Path) -> None:
    files = sorted(
        p.relative_to(shared_data).as_posix() for p in (shared_data / "mg").glob("*.dcm")
    )
    assert set(files) == set(MG_EXPECTED) | set(MG_FAILING)
    for rel, shape in MG_EXPECTED.items():
        arr = decode_frames(read_dataset(shared_data / rel))
        assert arr.shape == shape, rel
        assert arr.dtype == np.uint16
        assert int(arr.max()) < 4096  # 12 bits stored
    for rel, words in MG_FAILING.items():
        with pytest.raises(PixelDataError) as info:
            decode_frames(read_dataset(shared_data / rel))
        assert words in str(info.value)
        assert_one_sentence(str(info.value))


def test_every_mr_file_decodes_with_header_shape(shared_data: Path) -> None:
    files = sorted((shared_data / "mr").rglob("*.dcm"))
    assert len(files) > 50
    for path in files:
        ds = read_dataset(path)
        arr = decode_frames(ds)
        frames = int(ds.get("NumberOfFrames") or 1)
        assert arr.shape == (frames, ds.Rows, ds.Columns), path.name
        assert arr.dtype.isnative
        one = decode_frame(ds, frames - 1)
        assert np.array_equal(one, arr[-1]), path.name


def test_decode_frame_picks_the_right_frame(shared_data: Path) -> None:
    ds = read_dataset(shared_data / "mr/enhanced_multiframe/emri_small.dcm")
    all_frames = decode_frames(ds)
    assert all_frames.shape == (10, 64, 64)
    for i in (0, 4, 9):
        assert np.array_equal(decode_frame(ds, i), all_frames[i])
    assert not np.array_equal(all_frames[0], all_frames[9])
    with pytest.raises(IndexError, match="10 frame"):
        decode_frame(ds, 10)
    with pytest.raises(PixelDataError) as info:  # also a user-facing sentence (CLI --frame)
        decode_frame(ds, -1)
    assert_one_sentence(str(info.value))


# --------------------------------------------------------------------------------------------
# Codecs
# --------------------------------------------------------------------------------------------

CODECS = [
    ("mr/misc/MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90", (1, 64, 64)),
    ("mr/misc/GH064_Philips_J2K_lossless.dcm", "1.2.840.10008.1.2.4.90", (1, 256, 256)),
    ("mr/misc/MR2_J2KI.dcm", "1.2.840.10008.1.2.4.91", (1, 1024, 1024)),
    ("mr/misc/MR-JPEGLosslessSV1_Philips.dcm", "1.2.840.10008.1.2.4.70", (1, 256, 256)),
    ("edge/JPGExtended.dcm", "1.2.840.10008.1.2.4.51", (1, 1024, 256)),
    ("mr/misc/MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80", (1, 64, 64)),
    ("mr/misc/MR_small_RLE.dcm", "1.2.840.10008.1.2.5", (1, 64, 64)),
    ("edge/image_dfl.dcm", "1.2.840.10008.1.2.1.99", (1, 512, 512)),
    ("mr/misc/MR_small_bigendian.dcm", "1.2.840.10008.1.2.2", (1, 64, 64)),
    ("edge/emri_small_big_endian.dcm", "1.2.840.10008.1.2.2", (10, 64, 64)),
    (
        "mr/enhanced_multiframe/Philips_Achieva_dStream_IM_0027_fMAP.dcm",
        "1.2.840.10008.1.2.1",
        (64, 64, 64),
    ),
]


@pytest.mark.parametrize(("rel", "uid", "shape"), CODECS, ids=[c[0].split("/")[-1] for c in CODECS])
def test_codec_decodes(shared_data: Path, rel: str, uid: str, shape: tuple[int, ...]) -> None:
    ds = read_dataset(shared_data / rel)
    assert ds.file_meta.TransferSyntaxUID == uid
    arr = decode_frames(ds)
    assert arr.shape == shape
    assert arr.dtype.isnative
    assert arr.std() > 0


@pytest.mark.parametrize(
    "variant",
    [
        "MR_small_RLE.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
    ],
)
def test_mr_small_variants_equal_uncompressed(shared_data: Path, variant: str) -> None:
    reference = decode_frames(read_dataset(shared_data / "mr/misc/MR_small.dcm"))
    other = decode_frames(read_dataset(shared_data / "mr/misc" / variant))
    assert other.dtype == reference.dtype == np.int16
    assert np.array_equal(other, reference)


def test_padded_mr_small_equals_uncompressed(shared_data: Path) -> None:
    reference = decode_frames(read_dataset(shared_data / "mr/misc/MR_small.dcm"))
    with pytest.warns(UserWarning, match="padding"):
        padded = decode_frames(read_dataset(shared_data / "edge/MR_small_padded.dcm"))
    assert np.array_equal(padded, reference)


def test_big_endian_multiframe_equals_little_endian(shared_data: Path) -> None:
    big = decode_frames(read_dataset(shared_data / "edge/emri_small_big_endian.dcm"))
    little = decode_frames(read_dataset(shared_data / "mr/enhanced_multiframe/emri_small.dcm"))
    assert big.dtype.byteorder in ("=", "|")
    assert np.array_equal(big, little)


# --------------------------------------------------------------------------------------------
# Every edge file: PixelDataError with one sentence, or a correct decode; never a huge alloc
# --------------------------------------------------------------------------------------------

EDGE_OK = {
    "CR-MONO1-10-chest.dcm": (1, 440, 440),
    "J2K_pixelrep_mismatch.dcm": (1, 512, 512),
    "JPGExtended.dcm": (1, 1024, 256),
    "MR_small_padded.dcm": (1, 64, 64),
    "bad_sequence.dcm": (1, 512, 512),
    "emri_small_big_endian.dcm": (10, 64, 64),
    "image_dfl.dcm": (1, 512, 512),
}
# file -> words the message must contain (the problem, named)
EDGE_ERRORS = {
    "3gb-bulk-data-truncated_MR.dcm": ["32768 x 32768", "3.0 GiB", "1.0 GiB limit", "refusing"],
    "ExplVR_BigEndNoMeta.dcm": ["no pixel data"],
    "GH177_D_CLUNIE_CT1_IVRLE_BigEndian_undefined_length.dcm": ["could not be read as DICOM"],
    "GH340_Philips_MR_BitsAllocated12_nometa.dcm": ["Bits Allocated is 12"],
    "Issue1097_FailToOpenDeflatedFileWithSQ.dcm": ["no pixel data"],
    "JPEG2000-embedded-sequence-delimiter.dcm": ["JPEG 2000", "could not be decoded", "pylibjpeg"],
    "MR_truncated.dcm": ["truncated", "8,192 bytes", "8,130"],
    "UN_sequence.dcm": ["not a readable DICOM"],
    "badVR.dcm": ["Number of Frames", "'1A'"],
    "emri_small_jpeg_2k_lossless_too_short.dcm": ["truncated"],
    "meta_missing_tsyntax.dcm": ["no transfer syntax", "Rows"],
    "no_meta.dcm": ["not a readable DICOM"],
    "no_meta_group_length.dcm": ["no pixel data"],
    "no_preamble_dicm_in_data_MG_header.dcm": ["not a readable DICOM"],
    "rtplan_truncated.dcm": ["no pixel data"],
}


def test_edge_table_covers_every_edge_file(shared_data: Path) -> None:
    names = {p.name for p in (shared_data / "edge").glob("*.dcm")}
    assert names == set(EDGE_OK) | set(EDGE_ERRORS)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(set(EDGE_OK) | set(EDGE_ERRORS)))
def test_edge_file(shared_data: Path, name: str) -> None:
    path = shared_data / "edge" / name
    tracemalloc.start()
    try:
        try:
            result: np.ndarray | PixelDataError = decode_frames(read_dataset(path))
        except PixelDataError as err:
            result = err
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Files are < 600 kB; nothing may allocate what a lying header claims.
    assert peak < 64 * 2**20, f"{name} allocated {peak / 2**20:.0f} MiB"
    if name in EDGE_OK:
        assert isinstance(result, np.ndarray), f"{name}: {result}"
        assert result.shape == EDGE_OK[name]
    else:
        assert isinstance(result, PixelDataError), f"{name} decoded unexpectedly"
        message = str(result)
        assert_one_sentence(message)
        for words in EDGE_ERRORS[name]:
            assert words in message, f"{name}: {message!r} lacks {words!r}"


def test_jply_mammogram_failure_names_codec_and_reason(shared_data: Path) -> None:
    with pytest.raises(PixelDataError) as info:
        decode_frames(read_dataset(shared_data / "mg/WG04_MG1_JPLY.dcm"))
    message = str(info.value)
    assert_one_sentence(message)
    assert message.startswith("The JPEG Extended (Process 2 and 4) pixel data could not be decoded")
    assert "pylibjpeg" in message and "misplaced marker segment" in message


def test_mr_truncated_exact_message(shared_data: Path) -> None:
    with pytest.raises(PixelDataError) as info:
        check_pixel_size(read_dataset(shared_data / "edge/MR_truncated.dcm"))
    assert str(info.value) == (
        "Pixel data is truncated: the header declares 8,192 bytes but the file holds 8,130."
    )


def test_no_meta_cr_gets_implicit_little_endian(shared_data: Path) -> None:
    ds = read_dataset(shared_data / "edge/CR-MONO1-10-chest.dcm")
    assert ds.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    arr = decode_frames(ds)
    assert arr.shape == (1, 440, 440)
    assert 0 < int(arr.max()) < 1024  # 10 bits stored


def test_3gb_header_is_refused_before_reading_pixels(shared_data: Path) -> None:
    path = shared_data / "edge/3gb-bulk-data-truncated_MR.dcm"
    header = read_dataset(path, stop_before_pixels=True)
    with pytest.raises(PixelDataError, match="refusing to decode"):
        check_pixel_size(header)
    # read_dataset parses the header first when a file is bigger than the limit
    tracemalloc.start()
    try:
        with pytest.raises(PixelDataError, match="refusing to decode"):
            read_dataset(path, max_bytes=50_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


# --------------------------------------------------------------------------------------------
# Synthetic datasets: limits, truncation, transfer syntaxes, missing pieces
# --------------------------------------------------------------------------------------------


def test_huge_declared_size_refused_without_allocating() -> None:
    ds = native_dataset(rows=40000, cols=40000, frames=100, pixel_bytes=b"\0\0")
    tracemalloc.start()
    try:
        with pytest.raises(PixelDataError) as info:
            decode_frames(ds)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 * 2**20
    assert str(info.value) == (
        "Image declares 40000 x 40000 pixels x 100 frames (298.0 GiB), more than the "
        "1.0 GiB limit; refusing to decode."
    )


def test_limit_is_configurable_and_single_frames_are_checked_alone() -> None:
    ds = native_dataset(rows=64, cols=64, frames=4)
    frame_bytes = 64 * 64 * 2
    with pytest.raises(PixelDataError, match="limit"):
        decode_frames(ds, max_bytes=3 * frame_bytes)
    assert decode_frame(ds, 3, max_bytes=frame_bytes).shape == (64, 64)
    assert decode_frames(ds, max_bytes=4 * frame_bytes).shape == (4, 64, 64)
    assert MAX_DECODED_BYTES >= 512 * 2**20


def test_module_limit_can_be_lowered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pixels, "MAX_DECODED_BYTES", 100)
    with pytest.raises(PixelDataError, match="limit"):
        decode_frames(native_dataset(rows=8, cols=8))


def test_truncated_native_and_available_bytes_override() -> None:
    ds = native_dataset(rows=4, cols=4)
    check_pixel_size(ds)  # 32 bytes present, 32 declared
    with pytest.raises(PixelDataError) as info:
        check_pixel_size(ds, available_bytes=30)
    assert str(info.value) == (
        "Pixel data is truncated: the header declares 32 bytes but the file holds 30."
    )
    short = native_dataset(rows=4, cols=4, pixel_bytes=b"\0" * 20)
    with pytest.raises(PixelDataError, match="truncated"):
        decode_frames(short)


def test_unknown_transfer_syntax_message() -> None:
    ds = native_dataset(ts="1.2.3.4")
    with pytest.raises(PixelDataError) as info:
        decode_frames(ds)
    assert str(info.value) == (
        "Transfer syntax 1.2.3.4 (unknown) cannot be decoded: no installed codec supports it."
    )


def test_missing_pixel_data_message() -> None:
    ds = native_dataset()
    del ds.PixelData
    with pytest.raises(PixelDataError) as info:
        decode_frames(ds)
    assert str(info.value).startswith("The file has no pixel data")
    assert_one_sentence(str(info.value))


def test_incomplete_header_lists_what_is_missing() -> None:
    ds = native_dataset()
    del ds.Rows
    del ds.BitsAllocated
    with pytest.raises(PixelDataError) as info:
        decode_frames(ds)
    assert "Rows and Bits Allocated are missing" in str(info.value)
    assert_one_sentence(str(info.value))


def test_lenient_defaults_for_old_headers() -> None:
    """Old files omit Bits Stored / Pixel Representation / Photometric: still decodable."""
    ds = native_dataset(rows=2, cols=3)
    for keyword in ("BitsStored", "PixelRepresentation", "PhotometricInterpretation", "HighBit"):
        delattr(ds, keyword)
    geom = image_geometry(ds)
    assert (geom.bits_stored, geom.pixel_representation, geom.photometric) == (
        16,
        0,
        "MONOCHROME2",
    )
    assert decode_frame(ds).tolist() == [[0, 1, 2], [3, 4, 5]]


# --------------------------------------------------------------------------------------------
# read_dataset sources
# --------------------------------------------------------------------------------------------


def test_read_dataset_accepts_path_str_bytes_and_file(shared_data: Path) -> None:
    path = shared_data / "mr/misc/MR_small.dcm"
    expected = decode_frames(read_dataset(path))
    data = path.read_bytes()
    for source in (str(path), data, bytearray(data), memoryview(data)):
        assert np.array_equal(decode_frames(read_dataset(source)), expected)
    with path.open("rb") as fh:
        ds = read_dataset(fh)
        assert not fh.closed  # the caller's file stays open
    assert np.array_equal(decode_frames(ds), expected)
    assert np.array_equal(decode_frames(read_dataset(io.BytesIO(data))), expected)


def test_read_dataset_header_only(shared_data: Path) -> None:
    ds = read_dataset(shared_data / "mr/misc/MR_small.dcm", stop_before_pixels=True)
    assert ds.Rows == 64
    assert "PixelData" not in ds
    with pytest.raises(PixelDataError, match="no pixel data"):
        decode_frames(ds)


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (b"", "empty"),
        (b"This is a plain text file, certainly not an image.\n" * 20, "not a readable DICOM"),
        (bytes(range(256)) * 8, "DICOM"),
    ],
    ids=["empty", "text", "binary"],
)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_read_dataset_rejects_non_dicom(source: bytes, words: str) -> None:
    with pytest.raises(PixelDataError) as info:
        read_dataset(source)
    assert words in str(info.value)
    assert_one_sentence(str(info.value))


def test_read_dataset_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PixelDataError, match="does not exist"):
        read_dataset(tmp_path / "nope.dcm")
    with pytest.raises(PixelDataError, match="folder"):
        read_dataset(tmp_path)


def test_corrupt_length_does_not_allocate_gigabytes(tmp_path: Path) -> None:
    """Pixel Data claiming 0xFFFFFFF0 bytes in a tiny file: reading must not allocate that."""
    ds = native_dataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / "corrupt.dcm"
    ds.save_as(path, enforce_file_format=True)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"\xe0\x7f\x10\x00OW\x00\x00") + 8  # tag, VR, reserved, 4-byte length
    raw[at : at + 4] = (0xFFFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        arr = decode_frames(read_dataset(path))  # the 32 bytes that are there suffice
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20
    assert arr.shape == (1, 4, 4)


def test_pydicom_dataset_passes_through(shared_data: Path) -> None:
    ds = pydicom.dcmread(shared_data / "mr/misc/MR_small.dcm")
    assert read_dataset(ds) is ds


def test_blank_siemens_jpeg_lossless_is_really_blank(shared_data: Path) -> None:
    """GH1261 decodes to zeros with every codec; its header agrees (Largest Image Pixel Value 0)."""
    ds = read_dataset(shared_data / "mr/misc/GH1261_Siemens_JPEGLosslessSV1.dcm")
    arr = decode_frames(ds)
    assert arr.shape == (1, 162, 162)
    assert ds.LargestImagePixelValue == 0
    assert not arr.any()


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("SC_rgb_rle_2frame.dcm", (2, 100, 100, 3)),
        ("SC_rgb_small_odd.dcm", (1, 3, 3, 3)),
        ("examples_palette.dcm", (1, 350, 800)),  # palette indices, one sample
    ],
)
def test_colour_shapes_keep_a_frames_axis(name: str, shape: tuple[int, ...]) -> None:
    path = pydicom.data.get_testdata_file(name)
    assert path is not None, f"{name} ships in the pydicom wheel; is pydicom installed whole?"
    ds = read_dataset(path)
    assert decode_frames(ds).shape == shape
    assert decode_frame(ds, shape[0] - 1).shape == shape[1:]
