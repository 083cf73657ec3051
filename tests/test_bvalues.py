"""b-value extraction chain (auditdesk.dicom.bvalues): real Philips/GE files plus synthetic
headers for every vendor path, VR UN bytes and the Enhanced MR functional groups."""

from __future__ import annotations

import io
import struct
from collections import Counter
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from auditdesk.dicom import bvalues
from auditdesk.dicom.bvalues import (
    B_ZERO_THRESHOLD,
    b_value,
    decode_numbers,
    description_b_value,
    frame_b_values,
    normalise_b_value,
    parse_csa_header,
)
from auditdesk.dicom.classify import mr_image_info

PHILIPS_DWI = "mr/dwi_philips_classic_one_slice"
GE_ADC = "mr/prostate_adc_qin-prostate_ge"


def read(path: Path) -> Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def mr(manufacturer: str | None = None, **kw: object) -> Dataset:
    ds = Dataset()
    ds.Modality = "MR"
    if manufacturer is not None:
        ds.Manufacturer = manufacturer
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def add_private(
    ds: Dataset, group: int, creator: str | None, offset: int, vr: str, value, block: int = 0x10
) -> None:
    if creator is not None:
        ds.add_new((group << 16) | block, "LO", creator)
    ds.add_new((group << 16) | (block << 8) | offset, vr, value)


# --------------------------------------------------------------------------------------------
# Real files
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def philips_files(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / PHILIPS_DWI).glob("*.dcm"))
    assert len(files) == 17
    return files


def test_real_philips_public_tag(philips_files: list[Path]) -> None:
    results = [b_value(read(f)) for f in philips_files]
    assert {src for _b, src in results} == {"DiffusionBValue"}
    raw = [b for b, _src in results]
    # checked by hand with dcmread: 1x b=0, 12x b=1000, 4 tiny values 0.001..0.004
    assert Counter(normalise_b_value(b) for b in raw) == {0.0: 5, 1000.0: 12}
    tiny = sorted(b for b in raw if 0 < b < B_ZERO_THRESHOLD)
    assert tiny == pytest.approx([0.001, 0.002, 0.003, 0.004], abs=1e-6)


def test_real_philips_private_tag_when_public_deleted(philips_files: list[Path]) -> None:
    for f in philips_files:
        ds = read(f)
        expected, _ = b_value(ds)
        del ds[0x00189087]
        b, src = b_value(ds)
        assert src == "Philips (2001,1003)"
        assert b == pytest.approx(expected)


def test_real_philips_private_tag_ignored_under_foreign_creator(philips_files: list[Path]) -> None:
    ds = read(philips_files[1])
    del ds[0x00189087]
    ds[0x20010010].value = "SOME OTHER VENDOR"
    assert b_value(ds) == (None, None)


def test_real_philips_private_tag_as_un_bytes(philips_files: list[Path]) -> None:
    ds = read(philips_files[1])  # b = 1000
    del ds[0x00189087]
    raw = struct.pack("<f", 1000.0)
    del ds[0x20011003]
    ds.add_new(0x20011003, "UN", raw)
    assert b_value(ds) == (1000.0, "Philips (2001,1003)")


def test_real_ge_adc_un_bytes_without_creator(shared_data: Path) -> None:
    """The QIN-PROSTATE ADC map keeps "500\\8\\0\\0" in (0043,1039) as VR UN, creator stripped."""
    ds = read(shared_data / GE_ADC / "000000.dcm")
    assert ds[0x00431039].VR == "UN"
    assert 0x00430010 not in ds
    assert b_value(ds) == (500.0, "GE (0043,1039)")


def test_real_siemens_csa_header_parses(shared_data: Path) -> None:
    ds = read(shared_data / "mr/misc/GH1261_Siemens_JPEGLosslessSV1.dcm")
    elem = bvalues.private_element(ds, bvalues.SIEMENS_CSA_IMAGE)
    assert elem is not None and bytes(elem.value[:4]) == b"SV10"
    fields = parse_csa_header(elem.value)
    assert len(fields) > 50
    assert fields["ICE_Dims"][0].startswith("X_1_1_1")
    assert fields["B_value"] == []  # a 3D GRE: the field exists but is empty
    assert b_value(ds) == (None, None)


def test_real_non_diffusion_files_have_no_b_or_zero(shared_data: Path) -> None:
    for f in sorted((shared_data / "mr/enhanced_multiframe").glob("*.dcm")):
        assert frame_b_values(read(f)) == ([], None)


# --------------------------------------------------------------------------------------------
# Synthetic vendor paths
# --------------------------------------------------------------------------------------------


def test_siemens_private_with_creator() -> None:
    ds = mr("SIEMENS")
    add_private(ds, 0x0019, "SIEMENS MR HEADER", 0x0C, "IS", "1400")
    assert b_value(ds) == (1400.0, "Siemens (0019,100C)")


def test_siemens_private_creator_in_another_block() -> None:
    ds = mr("SIEMENS")
    ds.add_new(0x00190010, "LO", "SIEMENS MR HEADER2")  # something else owns block 10
    add_private(ds, 0x0019, "SIEMENS MR HEADER", 0x0C, "IS", "800", block=0x11)
    ds.add_new(0x0019100C, "IS", "9999")  # belongs to the block-10 owner: must be ignored
    assert b_value(ds) == (800.0, "Siemens (0019,100C)")


def test_siemens_private_without_creator_needs_vendor_match() -> None:
    ds = mr("SIEMENS")
    add_private(ds, 0x0019, None, 0x0C, "UN", b"1000")
    assert b_value(ds) == (1000.0, "Siemens (0019,100C)")
    other = mr("Philips Medical Systems")
    add_private(other, 0x0019, None, 0x0C, "UN", b"1000")
    assert b_value(other) == (None, None)


def test_siemens_old_tag() -> None:
    ds = mr("SIEMENS")
    ds.add_new(0x0019000C, "UN", b"500 ")
    assert b_value(ds) == (500.0, "Siemens (0019,000C)")


def csa_blob(fields: dict[str, list[str]], *, sv10: bool = True) -> bytes:
    """A Siemens CSA2 (SV10) header as the scanner writes it (see parse_csa_header)."""
    out = bytearray()
    if sv10:
        out += b"SV10\x04\x03\x02\x01"
    out += struct.pack("<2I", len(fields), 77)
    for name, items in fields.items():
        out += name.encode().ljust(64, b"\x00")
        out += struct.pack("<i4s3i", 1, b"DS\x00\x00", 3, len(items), 77)
        for item in items:
            data = item.encode() + b"\x00"
            out += struct.pack("<4i", len(data), len(data), 77, len(data))
            out += data + b"\x00" * ((4 - len(data) % 4) % 4)
    return bytes(out)


def test_siemens_csa_synthetic() -> None:
    blob = csa_blob({"EchoLinePosition": ["64"], "B_value": ["1400"], "ImaCoilString": ["BO1"]})
    assert parse_csa_header(blob) == {
        "EchoLinePosition": ["64"],
        "B_value": ["1400"],
        "ImaCoilString": ["BO1"],
    }
    ds = mr("SIEMENS")
    add_private(ds, 0x0029, "SIEMENS CSA HEADER", 0x10, "OB", blob)
    assert b_value(ds) == (1400.0, "Siemens CSA")


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"SV10",
        b"SV10\x04\x03\x02\x01\xff\xff\xff\xff\x4d\x00\x00\x00",
        b"\x00" * 3,
        b"junk" * 9,
    ],
)
def test_csa_garbage_is_harmless(blob: bytes) -> None:
    assert isinstance(parse_csa_header(blob), dict)
    ds = mr("SIEMENS")
    add_private(ds, 0x0029, "SIEMENS CSA HEADER", 0x10, "OB", blob)
    assert b_value(ds) == (None, None)


def test_csa_truncated_keeps_what_was_read() -> None:
    blob = csa_blob({"B_value": ["1000"], "Other": ["x" * 40]})
    assert parse_csa_header(blob[:-20]) == {"B_value": ["1000"]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1000001250\\8\\0\\0", 1250.0),  # 10^9 flag (domain.md 7.2 example)
        ("1000000000\\8\\0\\0", 0.0),
        ("1400\\8\\0\\0", 1400.0),
        (["1000001400", "8", "0", "0"], 1400.0),
    ],
)
def test_ge_slop_int(value: object, expected: float) -> None:
    ds = mr("GE MEDICAL SYSTEMS")
    add_private(ds, 0x0043, "GEMS_PARM_01", 0x39, "IS", value)
    assert b_value(ds) == (expected, "GE (0043,1039)")


def test_ge_un_bytes_and_foreign_creator() -> None:
    ds = mr("GE MEDICAL SYSTEMS")
    add_private(ds, 0x0043, "GEMS_PARM_01", 0x39, "UN", b"1000001250\\8\\0\\0 ")
    assert b_value(ds) == (1250.0, "GE (0043,1039)")
    foreign = mr("GE MEDICAL SYSTEMS")
    add_private(foreign, 0x0043, "SOMEONE_ELSE", 0x39, "IS", "1400\\8\\0\\0")
    assert b_value(foreign) == (None, None)


def test_philips_private_fl() -> None:
    ds = mr("Philips")
    add_private(ds, 0x2001, "Philips Imaging DD 001", 0x03, "FL", 800.0)
    assert b_value(ds) == (800.0, "Philips (2001,1003)")


@pytest.mark.parametrize(
    ("vr", "value"),
    [("FD", 1500.0), ("UN", struct.pack("<d", 1500.0)), ("UN", struct.pack("<f", 1500.0))],
)
def test_uih(vr: str, value: object) -> None:
    ds = mr("UIH")
    add_private(ds, 0x0065, "Uih_MR_Info", 0x09, vr, value)
    assert b_value(ds) == (1500.0, "UIH (0065,1009)")


def enhanced(frames: list[float | None], shared: float | None = None) -> Dataset:
    """A small Enhanced MR header: one Per-frame Functional Groups item per entry."""
    ds = mr("SIEMENS", SOPClassUID="1.2.840.10008.5.1.4.1.1.4.1", NumberOfFrames=len(frames))

    def diffusion(b: float) -> Dataset:
        item = Dataset()
        item.DiffusionBValue = b
        item.DiffusionDirectionality = "NONE" if b == 0 else "ISOTROPIC"
        return item

    per_frame = []
    for i, b in enumerate(frames):
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [0.0, 0.0, float(i % 2) * 4.0]
        item.PlanePositionSequence = Sequence([pos])
        content = Dataset()
        content.TemporalPositionIndex = 1
        item.FrameContentSequence = Sequence([content])
        if b is not None:
            item.MRDiffusionSequence = Sequence([diffusion(b)])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    shared_item = Dataset()
    ori = Dataset()
    ori.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared_item.PlaneOrientationSequence = Sequence([ori])
    if shared is not None:
        shared_item.MRDiffusionSequence = Sequence([diffusion(shared)])
    ds.SharedFunctionalGroupsSequence = Sequence([shared_item])
    return ds


def test_enhanced_per_frame() -> None:
    ds = enhanced([0.0, 0.0, 1000.0, 1000.0, 1400.0, 1400.0])
    assert frame_b_values(ds) == ([0.0, 0.0, 1000.0, 1000.0, 1400.0, 1400.0], "MRDiffusionSequence")
    assert b_value(ds) == (0.0, "MRDiffusionSequence")
    info = mr_image_info(ds)
    assert info.n_frames == 6
    assert info.b_values == (0.0, 0.0, 1000.0, 1000.0, 1400.0, 1400.0)
    assert info.frame_slice_positions == (0.0, 4.0, 0.0, 4.0, 0.0, 4.0)


def test_enhanced_shared_and_missing_frames() -> None:
    assert frame_b_values(enhanced([None, None], shared=800.0)) == (
        [800.0, 800.0],
        "MRDiffusionSequence",
    )
    assert frame_b_values(enhanced([None, 500.0])) == ([None, 500.0], "MRDiffusionSequence")
    assert b_value(enhanced([None, 500.0])) == (500.0, "MRDiffusionSequence")


def test_enhanced_wins_over_public_and_public_over_private() -> None:
    ds = enhanced([100.0])
    ds.add_new(0x00189087, "FD", 900.0)
    assert b_value(ds) == (100.0, "MRDiffusionSequence")
    classic = mr("Philips")
    classic.add_new(0x00189087, "FD", 900.0)
    add_private(classic, 0x2001, "Philips Imaging DD 001", 0x03, "FL", 1.0)
    assert b_value(classic) == (900.0, "DiffusionBValue")


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("DWI_b1400", 1400.0),
        ("ep2d diff B=800 tra", 800.0),
        ("calc b2000", 2000.0),
        ("DWI b0", 0.0),
        ("b-value 1000", 1000.0),
        ("ep2d_diff_b50_800_1400", None),  # a list: not one value per image
        ("DWI b0 b1000", None),
        ("B0 NS", None),  # Philips field map, not a diffusion b=0
        ("B1 map", None),
        ("T2 TSE AX", None),
        ("SUB1 dyn", None),
        ("", None),
    ],
)
def test_description_fallback(description: str, expected: float | None) -> None:
    assert description_b_value(description) == expected
    ds = mr(None, SeriesDescription=description)
    assert b_value(ds) == (
        (expected, "SeriesDescription") if expected is not None else (None, None)
    )


def test_sequence_name_before_description() -> None:
    ds = mr("SIEMENS", SequenceName="*ep_b1000t", SeriesDescription="DWI_b1400")
    assert b_value(ds) == (1000.0, "SequenceName")


def test_implicit_vr_round_trip_gives_un_bytes() -> None:
    """Private tags of an implicit-VR file without creators come back as UN bytes."""
    ds = mr("Philips Medical Systems")
    ds.add_new(0x20011003, "FL", 1400.0)  # creator deliberately missing
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, implicit_vr=True, little_endian=True)
    back = pydicom.dcmread(io.BytesIO(buf.getvalue()), force=True)
    assert back[0x20011003].VR == "UN"
    assert isinstance(back[0x20011003].value, bytes)
    assert b_value(back) == (1400.0, "Philips (2001,1003)")


def test_implicit_vr_with_creator_resolves_vr() -> None:
    ds = mr("SIEMENS")
    add_private(ds, 0x0019, "SIEMENS MR HEADER", 0x0C, "IS", "1400")
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, implicit_vr=True, little_endian=True)
    back = pydicom.dcmread(io.BytesIO(buf.getvalue()), force=True)
    assert b_value(back) == (1400.0, "Siemens (0019,100C)")


@pytest.mark.parametrize(
    ("raw", "binary", "expected"),
    [
        (b"1000\\8\\0\\0", "text", [1000.0, 8.0, 0.0, 0.0]),
        (struct.pack("<f", 0.5), "f", [0.5]),
        (struct.pack("<d", 2.5), "auto", [2.5]),
        (b"\x00\x00\x00\x00", "f", [0.0]),
        (b"\xff\xfe", "auto", []),
        (b"garbage!", "text", []),
    ],
)
def test_decode_numbers(raw: bytes, binary: str, expected: list[float]) -> None:
    assert decode_numbers(raw, binary) == expected


def test_normalise_b_value() -> None:
    assert normalise_b_value(0.004) == 0.0
    assert normalise_b_value(0.999) == 0.0
    assert normalise_b_value(1.0) == 1.0
    assert normalise_b_value(999.6) == 1000.0


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_odd_values_never_raise() -> None:
    ds = mr("GE MEDICAL SYSTEMS")
    add_private(ds, 0x0043, "GEMS_PARM_01", 0x39, "UN", b"\x01\x02\x03")
    ds.add_new(0x00189087, "UN", b"\x00")
    ds.SeriesDescription = "b" * 70
    assert b_value(ds) == (None, None)
    assert b_value(Dataset()) == (None, None)
