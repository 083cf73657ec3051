"""Vendor b-values and diffusion tags (issue 13 point 5): one DWI series per vendor, written
with pydicom the way that vendor writes it (private elements under their Private Creators, a
real CSA2 byte structure for Siemens), read back from disk and classified.

Expected values are the b-values written into each file (and, for GE, the 10^9 flag removed by
hand: 1000001000 - 10^9 = 1000). The Siemens CSA bytes are checked with nibabel's independent
CSA reader (nibabel.nicom.csareader) before AuditDesk reads them.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from pydicom.uid import generate_uid

from auditdesk.dicom.bvalues import parse_csa_header
from auditdesk.dicom.classify import MRSeriesInfo, classify_mr_series, mr_image_info
from conftest import skip_or_fail
from mr_writer import add_private, csa2, mr_dataset, read, write

EPI = {"ScanningSequence": ["EP", "SE"], "RepetitionTime": 4200.0, "EchoTime": 72.0}


def dwi_series(
    tmp_path: Path, per_b: dict[float, dict[str, Any]], setup: Any = None, positions: int = 2
) -> tuple[MRSeriesInfo, list]:
    """``positions`` slices at each b-value; ``per_b[b]`` holds the attributes that carry b and
    ``setup(ds, b)`` adds private elements. Returns the classification and the image facts."""
    study, uid = generate_uid(), generate_uid()
    paths = []
    instance = 0
    for b, attrs in per_b.items():
        for z in range(positions):
            instance += 1
            merged = {**EPI, **attrs}
            ds = mr_dataset(study, uid, instance, z=4.0 * z, **merged)
            if setup is not None:
                setup(ds, b)
            paths.append(write(ds, tmp_path / uid[-10:] / f"{instance:03d}.dcm"))
    infos = [mr_image_info(read(p)) for p in paths]
    return classify_mr_series(infos), infos


def test_ge_slop_int_with_and_without_the_flag(tmp_path: Path) -> None:
    """GE (0043,1039) IS "Slop_int_6..9" under GEMS_PARM_01: b0 written plainly, b1000 with
    10^9 added (dcm2niix; domain.md 7.2)."""

    def ge(ds: Any, b: float) -> None:
        value = ["0", "8", "0", "0"] if b == 0 else ["1000001000", "8", "0", "0"]
        add_private(ds, 0x0043, "GEMS_PARM_01", 0x39, "IS", value)

    result, _infos = dwi_series(
        tmp_path,
        {0: {"Manufacturer": "GE MEDICAL SYSTEMS", "SeriesDescription": "  ax dwi  "},
         1000: {"Manufacturer": "GE MEDICAL SYSTEMS", "SeriesDescription": "  ax dwi  "}},
        ge,
    )  # fmt: skip
    assert result.role == "DWI"
    assert result.b_values == (0.0, 1000.0)
    assert result.b_value_sources == ("GE (0043,1039)",)
    assert result.role_reasons[0] == "b-values 0, 1000 s/mm²"


def test_philips_private_and_public(tmp_path: Path) -> None:
    """Philips classic: (2001,1003) FL under "Philips Imaging DD 001" and, on newer software,
    the public (0018,9087) too (the public tag wins, domain.md 7.2 step 2)."""

    def philips(ds: Any, b: float) -> None:
        add_private(ds, 0x2001, "Philips Imaging DD 001", 0x03, "FL", float(b))

    base = {"Manufacturer": "Philips Medical Systems", "SeriesDescription": "DWI_b0_800"}
    private_only, _ = dwi_series(tmp_path, {0: base, 800: base}, philips)
    assert (private_only.role, private_only.b_values) == ("DWI", (0.0, 800.0))
    assert private_only.b_value_sources == ("Philips (2001,1003)",)
    both, _ = dwi_series(
        tmp_path,
        {0: {**base, "DiffusionBValue": 0.0}, 800: {**base, "DiffusionBValue": 800.0}},
        philips,
    )
    assert (both.b_values, both.b_value_sources) == ((0.0, 800.0), ("DiffusionBValue",))


def siemens_csa(b: float, mosaic: int | None = None) -> bytes:
    fields: dict[str, tuple[str, list[str]]] = {
        "EchoLinePosition": ("IS", ["64"]),
        "B_value": ("IS", [f"{b:g}"]),
        "DiffusionGradientDirection": ("FD", ["0.0", "0.0", "1.0"] if b else []),
    }
    if mosaic:
        fields["NumberOfImagesInMosaic"] = ("US", [str(mosaic)])
    return csa2(fields)


def test_csa2_bytes_read_the_same_by_nibabel() -> None:
    """The CSA2 structure written for these tests is what nibabel's reader (an independent
    implementation) reads, and AuditDesk's parser agrees with it item by item."""
    try:
        with warnings.catch_warnings():  # "DICOM readers are highly experimental": not used here
            warnings.simplefilter("ignore", UserWarning)
            from nibabel.nicom import csareader
    except ImportError:
        skip_or_fail("nibabel (dev extra, the CSA reference reader) is not installed")
    blob = siemens_csa(1400, mosaic=30)
    theirs = csareader.read(blob)
    assert theirs["type"] == 2
    assert csareader.get_scalar(theirs, "B_value") == 1400
    assert csareader.get_n_mosaic(theirs) == 30
    ours = parse_csa_header(blob)
    for name, tag in theirs["tags"].items():
        assert [float(v) for v in ours[name]] == [float(v) for v in tag["items"]], name


def test_siemens_csa_and_private_tag(tmp_path: Path) -> None:
    """Siemens: (0019,100C) "B_value" under SIEMENS MR HEADER wins; with it removed (as some
    exports do) the CSA Image Header Info (0029,1010) field B_value gives the same values."""

    def with_both(ds: Any, b: float) -> None:
        add_private(ds, 0x0019, "SIEMENS MR HEADER", 0x0C, "IS", str(int(b)))
        add_private(ds, 0x0029, "SIEMENS CSA HEADER", 0x10, "OB", siemens_csa(b))

    def csa_only(ds: Any, b: float) -> None:
        add_private(ds, 0x0029, "SIEMENS CSA HEADER", 0x10, "OB", siemens_csa(b))

    attrs = {"Manufacturer": "SIEMENS", "SequenceName": "*ep_b0", "SeriesDescription": "ep2d_diff"}
    per_b = {0: attrs, 50: dict(attrs, SequenceName="*ep_b50t"),
             1400: dict(attrs, SequenceName="*ep_b1400t")}  # fmt: skip
    both, _ = dwi_series(tmp_path, per_b, with_both)
    assert (both.role, both.b_values) == ("DWI", (0.0, 50.0, 1400.0))
    assert both.b_value_sources == ("Siemens (0019,100C)",)
    csa, _ = dwi_series(tmp_path, per_b, csa_only)
    assert (csa.b_values, csa.b_value_sources) == ((0.0, 50.0, 1400.0), ("Siemens CSA",))


def test_siemens_mosaic(tmp_path: Path) -> None:
    """A Siemens mosaic DWI: each file tiles all 24 slices of one b-value volume into one
    image, so every file has the same position; the slice count comes from the CSA header."""

    def mosaic(ds: Any, b: float) -> None:
        add_private(ds, 0x0029, "SIEMENS CSA HEADER", 0x10, "OB", siemens_csa(b, mosaic=24))

    attrs = {"Manufacturer": "SIEMENS", "ImageType": ["ORIGINAL", "PRIMARY", "DIFFUSION",
             "NONE", "ND", "MOSAIC"], "size": 120}  # fmt: skip
    result, infos = dwi_series(tmp_path, {0: attrs, 1000: attrs}, mosaic, positions=1)
    assert result.role == "DWI"
    assert (result.b_values, result.b_value_sources) == ((0.0, 1000.0), ("Siemens CSA",))
    assert [i.mosaic_slices for i in infos] == [24, 24]
    assert result.n_slice_positions == 24


def test_canon_image_comments_and_old_toshiba_public_tag(tmp_path: Path) -> None:
    """Canon classic DWI: no public b-value, Image Comments "b=1500(0.445,0.000,0.895)"
    (dcm2niix Canon/README.md). Old Toshiba: public (0018,9087) only on the b>0 images."""
    canon = {"Manufacturer": "CANON_MEC"}
    result, _ = dwi_series(
        tmp_path,
        {0: {**canon, "ImageComments": "b=0(0.000,0.000,0.000)"},
         1500: {**canon, "ImageComments": " B = 1500 (0.445,0.000,0.895)"}},
    )  # fmt: skip
    assert (result.role, result.b_values) == ("DWI", (0.0, 1500.0))
    assert result.b_value_sources == ("Canon ImageComments",)
    toshiba = {"Manufacturer": "TOSHIBA_MEC"}
    old, infos = dwi_series(tmp_path, {0: toshiba, 1000: {**toshiba, "DiffusionBValue": 1000.0}})
    assert (old.role, old.b_values) == ("DWI", (1000.0,))
    assert [i.b_values for i in infos] == [(), (), (1000.0,), (1000.0,)]
    # the same comment on another vendor's image is free text, not a b-value
    other, _ = dwi_series(tmp_path, {800: {"Manufacturer": "SIEMENS", "ImageComments": "b=800"}})
    assert other.b_values == ()


@pytest.mark.parametrize(("vr", "value"), [("FD", 600.0), ("DS", "600")])
def test_uih(tmp_path: Path, vr: str, value: Any) -> None:
    """United Imaging (0065,1009) under a creator naming UIH (VR not confirmed: FD and DS)."""

    def uih(ds: Any, b: float) -> None:
        v = (0.0 if vr == "FD" else "0") if b == 0 else value
        add_private(ds, 0x0065, "Image Private Header UIH", 0x09, vr, v)

    attrs = {"Manufacturer": "UIH", "SeriesDescription": "dwi_tra"}
    result, _ = dwi_series(tmp_path, {0: attrs, 600: attrs}, uih)
    assert (result.role, result.b_values) == ("DWI", (0.0, 600.0))
    assert result.b_value_sources == ("UIH (0065,1009)",)
