"""Tests for the synthetic demo / fixture generator (no Qt).

They pin down what other parts of AuditDesk rely on: the files are valid DICOM that decode, the
headers carry the corner cases at their real places (view codes, vendor b-value tags, shuffled
numbering), the ground truth is geometrically consistent, and nothing looks like real PHI.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from auditdesk.demo import common as demo_common
from auditdesk.demo import generator as gen
from auditdesk.demo import headers as hdr
from auditdesk.demo.generator import (
    MAMMO_QUALITIES,
    Manifest,
    generate_demo,
    generate_index_corpus,
    generate_mammo_study,
    generate_mr_study,
    generate_test_set,
)

MG_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
MG_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """The test set, generated once (its speed: benchmarks/bench_workflow.py)."""
    return generate_test_set(tmp_path_factory.mktemp("testset"))


@pytest.fixture(scope="module")
def datasets(manifest: Manifest) -> dict[str, pydicom.Dataset]:
    """Every file of the test set, read once (pixels decoded lazily by the tests)."""
    return {f.sop_uid: pydicom.dcmread(f.path) for s in manifest.studies for f in s.files}


def _values(v) -> list:
    """A DICOM value as a list (single-valued elements come back as scalars)."""
    return list(v) if isinstance(v, pydicom.multival.MultiValue | list) else [v]


def _files(manifest: Manifest, kind: str):
    return [f for s in manifest.studies if s.kind == kind for f in s.files]


def _study(manifest: Manifest, **truth):
    for s in manifest.studies:
        if all(s.truth.get(k) == v for k, v in truth.items()):
            return s
    raise AssertionError(f"no study with {truth}")


# ---------------------------------------------------------------------------------------------
# The test set itself
# ---------------------------------------------------------------------------------------------


def test_test_set_is_small_and_covers_the_corner_cases(manifest: Manifest) -> None:
    kinds = [s.kind for s in manifest.studies]
    assert kinds.count("mammo") == 2 and kinds.count("mr") == 2
    mg = _files(manifest, "mammo")
    assert any(f.photometric == "MONOCHROME1" for f in mg)
    assert any(f.transfer_syntax == JPEG2000Lossless for f in mg)
    assert any(f.for_processing for f in mg)
    assert any(f.modifier for f in mg)
    assert {s.truth["vendor"] for s in manifest.studies if s.kind == "mr"} == {"siemens", "ge"}
    assert (manifest.root / "manifest.json").is_file()


def test_manifest_round_trips(manifest: Manifest) -> None:
    again = Manifest.read(manifest.root)
    assert again.to_json() == manifest.to_json()
    assert again.seed == manifest.seed == 7
    doc = json.loads((manifest.root / "manifest.json").read_text())
    assert all(not f["path"].startswith("/") for s in doc["studies"] for f in s["files"])
    for s in again.studies:
        assert isinstance(s.procedure_date, date)
        for f in s.files:
            assert f.path.is_file()
            assert f.path.is_relative_to(manifest.root)


def test_same_seed_same_bytes_different_seed_different_uids(
    manifest: Manifest, tmp_path: Path
) -> None:
    again = generate_test_set(tmp_path / "again")
    assert [f.sop_uid for s in again.studies for f in s.files] == [
        f.sop_uid for s in manifest.studies for f in s.files
    ]
    for a, b in zip(
        (f for s in manifest.studies for f in s.files),
        (f for s in again.studies for f in s.files),
        strict=True,
    ):
        assert a.path.relative_to(manifest.root) == b.path.relative_to(again.root)
        assert a.path.read_bytes() == b.path.read_bytes(), a.path
    other = generate_mammo_study(
        tmp_path / "other",
        seed=8,
        index=1,
        procedure_date=date(2026, 3, 1),
        technologist=None,
        size=(64, 52),
    )
    first = manifest.studies[0]
    assert other.study_uid != first.study_uid
    assert not {f.sop_uid for f in other.files} & {f.sop_uid for f in first.files}


def test_every_file_reads_back_and_matches_the_manifest(
    manifest: Manifest, datasets: dict[str, pydicom.Dataset]
) -> None:
    all_uids = [f.sop_uid for s in manifest.studies for f in s.files]
    assert len(set(all_uids)) == len(all_uids)
    for s in manifest.studies:
        for f in s.files:
            ds = datasets[f.sop_uid]
            assert ds.SOPInstanceUID == f.sop_uid == ds.file_meta.MediaStorageSOPInstanceUID
            assert ds.StudyInstanceUID == f.study_uid == s.study_uid
            assert ds.SeriesInstanceUID == f.series_uid
            assert ds.file_meta.TransferSyntaxUID == f.transfer_syntax
            assert ds.PhotometricInterpretation == f.photometric
            assert int(ds.InstanceNumber) == f.instance_number
            assert int(ds.SeriesNumber) == f.series_number
            for uid in (f.sop_uid, f.series_uid, f.study_uid):
                assert uid.startswith("2.25.") and len(uid) <= 64
            arr = ds.pixel_array
            assert arr.shape == (ds.Rows, ds.Columns)
            assert arr.dtype == np.uint16
            assert int(arr.max()) <= (1 << int(ds.BitsStored)) - 1


def test_jpeg2000_round_trip_is_exact(manifest: Manifest, tmp_path: Path) -> None:
    study = _study(manifest, transfer_syntax=JPEG2000Lossless)
    plain = generate_mammo_study(
        tmp_path,
        seed=manifest.seed,
        index=study.index,
        procedure_date=study.procedure_date,
        technologist=study.technologist,
        quality=study.truth["quality"],
        transfer_syntax=ExplicitVRLittleEndian,
        size=(256, 208),
        code_scheme="SRT",
        voi_function="LINEAR",
        series_per_view=True,
        bits_stored=14,
        windows=1,
    )
    assert [f.sop_uid for f in plain.files] == [f.sop_uid for f in study.files]
    for enc, raw in zip(study.files, plain.files, strict=True):
        a = pydicom.dcmread(enc.path)
        b = pydicom.dcmread(raw.path)
        assert a.file_meta.TransferSyntaxUID == JPEG2000Lossless
        assert a.LossyImageCompression == "00"
        assert np.array_equal(a.pixel_array, b.pixel_array)


# ---------------------------------------------------------------------------------------------
# Mammography headers and pixels
# ---------------------------------------------------------------------------------------------


def test_mammo_headers(manifest: Manifest, datasets: dict[str, pydicom.Dataset]) -> None:
    expected_orientation = {
        ("R", "CC"): ["P", "L"],
        ("L", "CC"): ["A", "R"],
        ("R", "MLO"): ["P", "FL"],
        ("L", "MLO"): ["A", "FR"],
    }
    for s in (s for s in manifest.studies if s.kind == "mammo"):
        scheme = s.truth["code_scheme"]
        presentation_series = {f.series_uid for f in s.files if not f.for_processing}
        processing_series = {f.series_uid for f in s.files if f.for_processing}
        assert not presentation_series & processing_series
        for f in s.files:
            ds = datasets[f.sop_uid]
            assert ds.Modality == "MG"
            assert ds.BodyPartExamined == "BREAST"
            assert list(ds.ImageType)[:2] == ["ORIGINAL", "PRIMARY"]
            assert ds.ImageLaterality == f.laterality
            assert ds.ViewPosition == f.view
            assert ds.PixelRepresentation == 0
            assert int(ds.BitsStored) in (12, 14)
            assert ds.LossyImageCompression == "00"
            assert 1.07 <= float(ds.EstimatedRadiographicMagnificationFactor) <= 1.8
            assert len(ds.ImagerPixelSpacing) == 2
            item = ds.ViewCodeSequence[0]
            assert item.CodingSchemeDesignator == scheme
            code, meaning = hdr.VIEW_CODES[f.view][scheme]
            assert (item.CodeValue, item.CodeMeaning) == (code, meaning)
            if f.view in ("CC", "MLO"):
                assert list(ds.PatientOrientation) == expected_orientation[(f.laterality, f.view)]
            if f.view == "MLO":
                assert abs(float(ds.PositionerPrimaryAngle)) >= 35
            if f.for_processing:
                assert ds.SOPClassUID == MG_PROCESSING
                assert ds.PresentationIntentType == "FOR PROCESSING"
                assert "WindowCenter" not in ds and "VOILUTFunction" not in ds
            else:
                assert ds.SOPClassUID == MG_PRESENTATION
                assert ds.PresentationIntentType == "FOR PRESENTATION"
                assert "WindowCenter" in ds and "WindowWidth" in ds
            mods = item.get("ViewModifierCodeSequence", [])
            if f.modifier:
                got = {(m.CodingSchemeDesignator, m.CodeValue, m.CodeMeaning) for m in mods}
                want = {(scheme, *hdr.MODIFIER_CODES[m][scheme]) for m in f.modifier.split("+")}
                assert got == want
            else:
                assert len(mods) == 0
    mono1 = _study(manifest, photometric="MONOCHROME1")
    ds = datasets[mono1.files[0].sop_uid]
    assert ds.PresentationLUTShape == "INVERSE"
    assert ds.VOILUTFunction == "SIGMOID"
    assert len(ds.WindowCenter) == 3 and len(ds.WindowCenterWidthExplanation) == 3


def _band_means(arr: np.ndarray, row: float, chest_right: bool) -> tuple[float, float, float]:
    """(chest-wall edge band, far edge band, background level) around the nipple row."""
    h, w = arr.shape
    r = round(row)
    rows = slice(max(0, r - h // 10), min(h, r + h // 10))
    band = max(3, w // 20)
    chest = arr[rows, w - band :] if chest_right else arr[rows, :band]
    far = arr[rows, :band] if chest_right else arr[rows, w - band :]
    return float(chest.mean()), float(far.mean()), float(np.median(far))


def test_mammo_pixels_follow_photometric_and_orientation(
    manifest: Manifest, datasets: dict[str, pydicom.Dataset]
) -> None:
    checked = 0
    for s in (s for s in manifest.studies if s.kind == "mammo"):
        for key, vt in s.truth["views"].items():
            ds = datasets[vt["sop_uid"]]
            arr = ds.pixel_array.astype(np.float64)
            maxval = (1 << int(ds.BitsStored)) - 1
            chest_right = vt["chest_wall_side"] == "right"
            assert chest_right == (ds.PatientOrientation[0] == "P")
            assert chest_right == (key[0] == "R")
            r, c = vt["nipple_rc"]
            # Breast region: between chest wall and nipple, around the nipple row.
            c0, c1 = sorted((c, (ds.Columns - 1) if chest_right else 0))
            rr = slice(int(r) - ds.Rows // 12, int(r) + ds.Rows // 12)
            breast = arr[rr, int(c0) + 3 : int(c1) - 2].mean()
            chest, far, bg = _band_means(arr, r, chest_right)
            margin = 0.2 * maxval
            far_cols = slice(0, ds.Columns // 10) if chest_right else slice(-ds.Columns // 10, None)
            if ds.PhotometricInterpretation == "MONOCHROME2":
                assert breast > bg + margin and chest > far + margin
                assert (arr[:, far_cols] < 0.1 * maxval).mean() > 0.9  # far edge: mostly air
            else:  # MONOCHROME1: dense = low stored values, air = high
                assert breast < bg - margin and chest < far - margin
                assert (arr[:, far_cols] > 0.9 * maxval).mean() > 0.9
            checked += 1
    assert checked == 8


def test_mirrored_storage_keeps_orientation_and_pixels_consistent(tmp_path: Path) -> None:
    s = generate_mammo_study(
        tmp_path,
        seed=3,
        index=9,
        procedure_date=date(2026, 5, 1),
        technologist=None,
        size=(128, 104),
        mirrored=True,
    )
    for key, vt in s.truth["views"].items():
        ds = pydicom.dcmread(next(f.path for f in s.files if f.sop_uid == vt["sop_uid"]))
        chest_right = vt["chest_wall_side"] == "right"
        assert chest_right == (key[0] == "L")  # mirrored: right breast faces right
        assert ds.PatientOrientation[0] == ("P" if chest_right else "A")
        arr = ds.pixel_array.astype(float)
        chest, far, _ = _band_means(arr, vt["nipple_rc"][0], chest_right)
        assert chest > far + 0.2 * ((1 << int(ds.BitsStored)) - 1)


def test_for_processing_pixels_look_raw(
    manifest: Manifest, datasets: dict[str, pydicom.Dataset]
) -> None:
    s = _study(manifest, for_processing_series=True)
    raw = [f for f in s.files if f.for_processing]
    assert len(raw) == 4 and len({f.series_uid for f in raw}) == 1
    for f in raw:
        ds = datasets[f.sop_uid]
        arr = ds.pixel_array.astype(np.float64)
        chest, far, _ = _band_means(arr, ds.Rows / 2, f.laterality == "R")
        assert far > chest + 2000  # air brightest in the raw signal, breast attenuates
        assert ds.PixelIntensityRelationshipSign == 1


# ---------------------------------------------------------------------------------------------
# Positioning ground truth
# ---------------------------------------------------------------------------------------------


def _check_geometry(study) -> None:
    """PNL lengths in the truth agree with the pixel coordinates it also records."""
    sp = study.truth["pixel_spacing_mm"]
    for vt in study.truth["views"].values():
        (r0, c0), (r1, c1) = vt["nipple_rc"], vt["pnl_end_rc"]
        assert math.hypot(r1 - r0, c1 - c0) * sp == pytest.approx(vt["pnl_mm"], abs=0.05)
        if vt["view"] == "CC":
            cols = study.truth["image_size"][1]
            assert r1 == pytest.approx(r0, abs=0.01)
            assert c1 == (cols - 0.5 if vt["chest_wall_side"] == "right" else -0.5)
        elif vt["pnl_ends_at"] == "pectoral":
            (pr0, pc0), (pr1, pc1) = vt["pectoral_edge_rc"]
            edge = np.array([pr1 - pr0, pc1 - pc0])
            pnl = np.array([r1 - r0, c1 - c0])
            cos = abs(edge @ pnl) / (np.linalg.norm(edge) * np.linalg.norm(pnl))
            assert cos < 1e-3  # perpendicular to the pectoral edge
            assert vt["pectoral_to_pnl_mm"] <= 0
        else:
            assert vt["pnl_ends_at"] == "image_edge"
            assert vt["pectoral_to_pnl_mm"] > 0


@pytest.mark.parametrize("quality", MAMMO_QUALITIES)
def test_ground_truth_per_quality(quality: str, tmp_path: Path) -> None:
    hits = defaultdict(int)
    for index in range(1, 4):
        s = generate_mammo_study(
            tmp_path,
            seed=11,
            index=index,
            procedure_date=date(2026, 4, 1),
            technologist="DOE^A",
            quality=quality,
            size=(128, 104),
        )
        _check_geometry(s)
        breasts = s.truth["breasts"]
        assert s.truth["quality"] == quality
        if quality == "good":
            assert s.truth["positioning_pass"] and not s.truth["failed_criteria"]
            for b in breasts.values():
                assert b["pectoral_to_pnl_mm"] <= -5.0
                assert abs(b["pnl_cc_mm"] - b["pnl_mlo_mm"]) <= 7.5
                assert b["imf_visible"] and all(b["nipple_in_profile"].values())
                assert b["cc_within_10mm_of_mlo"]
            continue
        assert not s.truth["positioning_pass"]
        for b in breasts.values():
            s_mm, diff = b["pectoral_to_pnl_mm"], b["pnl_mlo_mm"] - b["pnl_cc_mm"]
            hits["short"] += s_mm >= 15.0
            hits["borderline"] += 3.0 <= s_mm <= 9.0
            hits["pnl"] += diff > 10.0
            hits["nipple"] += not all(b["nipple_in_profile"].values())
            hits["imf"] += not b["imf_visible"]
        if quality == "borderline_pectoral":
            assert s.truth["positioning_pass_lenient"]
    want = {
        "poor_pectoral": ["short"],
        "borderline_pectoral": ["borderline"],
        "poor_pnl": ["pnl"],
        "nipple_not_in_profile": ["nipple"],
        "imf_missing": ["imf"],
        "multiple": ["short", "imf"],
    }.get(quality, [])
    for key in want:
        assert hits[key] >= 3, (quality, dict(hits))


def test_test_set_truth(manifest: Manifest) -> None:
    good = _study(manifest, quality="good")
    poor = _study(manifest, quality="poor_pnl")
    _check_geometry(good)
    _check_geometry(poor)
    for b in good.truth["breasts"].values():
        assert b["pectoral_to_pnl_mm"] <= 0
        assert abs(b["pnl_cc_mm"] - b["pnl_mlo_mm"]) <= 10
    assert any(abs(b["pnl_cc_mm"] - b["pnl_mlo_mm"]) > 10 for b in poor.truth["breasts"].values())
    assert good.truth["positioning_pass"] and not poor.truth["positioning_pass"]
    reasons = sorted(e["reason"] for e in good.truth["excluded_from_audit"])
    assert reasons == ["FOR PROCESSING"] * 4 + ["view modifier SPOT+MAG"]
    assert poor.truth["excluded_from_audit"] == []
    assert set(good.truth["views"]) == {"RCC", "LCC", "RMLO", "LMLO"}


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    kw = {"seed": 1, "index": 1, "procedure_date": date(2026, 1, 1), "technologist": None}
    with pytest.raises(ValueError):
        generate_mammo_study(tmp_path, quality="great", **kw)
    with pytest.raises(ValueError):
        generate_mammo_study(tmp_path, extra_views=("RCC_ZOOM",), **kw)
    with pytest.raises(ValueError):
        generate_mammo_study(tmp_path, photometric="RGB", **kw)
    with pytest.raises(ValueError):  # a 10 x 8 cm "detector"
        generate_mammo_study(tmp_path, size=(1024, 832), pixel_spacing_mm=0.1, **kw)
    with pytest.raises(ValueError):
        generate_mr_study(tmp_path, seed=1, index=1, procedure_date=date(2026, 1, 1), vendor="x")


# ---------------------------------------------------------------------------------------------
# MR
# ---------------------------------------------------------------------------------------------


def _tiny_mr(tmp_path: Path, vendor: str):
    return generate_mr_study(
        tmp_path,
        seed=5,
        index=40,
        procedure_date=date(2026, 2, 2),
        vendor=vendor,
        size_scale=0.125,
        slices=3,
        dce_slices=2,
        dce_time_points=3,
    )


@pytest.mark.parametrize("vendor", hdr.VENDORS)
def test_b_values_sit_at_the_vendor_tag(vendor: str, manifest: Manifest, tmp_path: Path) -> None:
    studies = [s for s in manifest.studies if s.truth.get("vendor") == vendor]
    study = studies[0] if studies else _tiny_mr(tmp_path, vendor)
    dwi = [f for f in study.files if f.role == "DWI"]
    assert len({f.b_value for f in dwi if not f.calculated}) >= 3
    for f in dwi:
        ds = pydicom.dcmread(f.path, stop_before_pixels=True)
        assert "EP" in _values(ds.ScanningSequence)
        b = f.b_value
        std = (0x0018, 0x9087)
        if vendor == "standard":
            assert ds[std].VR == "FD" and ds[std].value == b
        else:
            assert std not in ds
        if vendor == "siemens":
            assert ds[0x0019, 0x0010].value == "SIEMENS MR HEADER"
            assert ds[0x0019, 0x100C].VR == "IS" and int(ds[0x0019, 0x100C].value) == b
        if vendor == "ge":
            assert ds[0x0043, 0x0010].value == "GEMS_PARM_01"
            el = ds[0x0043, 0x1039]
            assert el.VR == "IS" and el.VM == 4
            assert int(el.value[0]) >= 1_000_000_000
            assert int(el.value[0]) % 1_000_000_000 == b
        if vendor == "philips":
            assert ds[0x2001, 0x0010].value == "Philips Imaging DD 001"
            assert ds[0x2001, 0x1003].VR == "FL" and ds[0x2001, 0x1003].value == b
    for f in (f for f in study.files if f.role != "DWI"):
        ds = pydicom.dcmread(f.path, stop_before_pixels=True)
        assert (0x0018, 0x9087) not in ds and (0x0019, 0x100C) not in ds
        assert (0x0043, 0x1039) not in ds and (0x2001, 0x1003) not in ds


def test_mr_series_headers_and_ordering(
    manifest: Manifest, datasets: dict[str, pydicom.Dataset]
) -> None:
    for s in (s for s in manifest.studies if s.kind == "mr"):
        by_series = defaultdict(list)
        for f in s.files:
            by_series[f.series_uid].append(f)
        instance_shuffled = names_shuffled = 0
        for files in by_series.values():
            role = files[0].role
            dss = [datasets[f.sop_uid] for f in files]
            for ds in dss:
                assert ds.Modality == "MR" and ds.SOPClassUID == hdr.MR_IMAGE
                assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
                assert ds.MRAcquisitionType in ("2D", "3D")
                assert float(ds.MagneticFieldStrength) in (1.5, 3.0)
                assert len(ds.AcquisitionMatrix) == 4
            z = {
                f.slice_index: float(ds.ImagePositionPatient[2])
                for f, ds in zip(files, dss, strict=True)
            }
            zs = [z[k] for k in sorted(z)]
            assert zs == sorted(zs)  # slice_index follows position, 0 = most inferior
            spacing = float(dss[0].SpacingBetweenSlices)
            assert np.allclose(np.diff(zs), spacing)
            one_volume = [
                f
                for f in files
                if (f.b_value, f.temporal_position)
                == (
                    files[0].b_value,
                    files[0].temporal_position,
                )
            ]
            spatial = [f.sop_uid for f in sorted(one_volume, key=lambda f: f.slice_index)]
            by_inst = [f.sop_uid for f in sorted(one_volume, key=lambda f: f.instance_number)]
            by_name = [f.sop_uid for f in sorted(one_volume, key=lambda f: int(f.path.stem))]
            instance_shuffled += by_inst != spatial
            names_shuffled += by_name != spatial
            if role == "T2W":
                assert _values(dss[0].ScanningSequence) == ["SE"]
                assert float(dss[0].SliceThickness) <= 3.5
                assert 4000 <= float(dss[0].RepetitionTime) <= 6000
            if role == "ADC":
                assert list(dss[0].ImageType)[:4] == ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]
            if role == "DCE":
                ds0 = dss[0]
                assert _values(ds0.ScanningSequence) == ["GR"] and float(ds0.FlipAngle) == 12
                assert ds0.ContrastBolusAgent == "Gadobutrol"
                n = int(ds0.NumberOfTemporalPositions)
                assert n >= 20
                tps = {int(ds.TemporalPositionIdentifier) for ds in dss}
                assert tps == set(range(1, n + 1))
                trig = defaultdict(set)
                for ds in dss:
                    trig[int(ds.TemporalPositionIdentifier)].add(float(ds.TriggerTime))
                times = [next(iter(trig[t])) for t in sorted(trig)]
                assert all(len(v) == 1 for v in trig.values())
                dt = s.truth["dce"]["temporal_resolution_s"] * 1000
                assert np.allclose(np.diff(times), dt)
        assert instance_shuffled >= 1 and names_shuffled >= 1


def test_mr_pixels_behave(manifest: Manifest, datasets: dict[str, pydicom.Dataset]) -> None:
    s = _study(manifest, vendor="siemens")
    dwi = [f for f in s.files if f.role == "DWI" and not f.calculated]
    mid = 4
    means = {}
    for f in dwi:
        if f.slice_index == mid:
            arr = datasets[f.sop_uid].pixel_array.astype(float)
            h, w = arr.shape
            means[f.b_value] = arr[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].mean()
    bs = sorted(means)
    assert all(means[a] > means[b] for a, b in itertools.pairwise(bs))  # signal decays with b
    adc = next(f for f in s.files if f.role == "ADC" and f.slice_index == mid)
    low_b = next(f for f in dwi if f.slice_index == mid and f.b_value == min(means))
    signal = datasets[low_b.sop_uid].pixel_array
    adc_map = datasets[adc.sop_uid].pixel_array.astype(float)
    tissue = adc_map[signal > 300]  # water-rich tissue (fat is suppressed, air is noise)
    assert tissue.size > 20
    assert 900 < np.median(tissue) < 2500  # ADC stored in 1e-6 mm2/s
    dce = defaultdict(float)
    for f in (f for f in s.files if f.role == "DCE"):
        dce[f.temporal_position] += datasets[f.sop_uid].pixel_array.astype(float).mean()
    assert dce[max(dce)] > dce[1] * 1.1  # tissue enhances after contrast arrives


def test_fast_series_encoder_matches_dcmwrite(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ps = demo_common._patient_study(1, 2, "mr", date(2026, 1, 1), "DOE^A", rng)
    series = hdr.MRSeries(
        series_uid=hdr.make_uid(1, "s"),
        series_number=5,
        description="ep_b50_800_1400_TRACEW",
        image_type=["ORIGINAL", "PRIMARY", "DIFFUSION", "TRACEW"],
        scanning_sequence="EP",
        sequence_variant="SK\\SP",
        scan_options="FS",
        acquisition_type="2D",
        sequence_name="*ep_b800t",
        tr_ms=4000,
        te_ms=70,
        flip_deg=90,
        echo_train=1,
        averages=4,
        slice_thickness=3,
        slice_spacing=3,
        fov_mm=200,
        rows=16,
        cols=16,
        acq_freq=100,
        acq_phase=80,
        phase_dir="COL",
        bandwidth=1800,
        series_time="101010",
        frame_of_reference=hdr.make_uid(1, "f"),
        field_strength=3.0,
    )
    constant = hdr.mr_series_dataset(ps, series, "siemens")
    pixels = rng.integers(0, 4096, (16, 16)).astype(np.uint16)
    kw = {"z_mm": -3.0, "center_y": 5.0, "acquisition_time": "101012", "window": (50, 100)}
    first = hdr.mr_instance_dataset(
        series, "siemens", sop_uid=hdr.make_uid(1, "i1"), instance_number=1, b_value=50, **kw
    )
    enc = hdr.SeriesEncoder(constant, first, hdr.MR_IMAGE)
    inst = hdr.mr_instance_dataset(
        series, "siemens", sop_uid=hdr.make_uid(1, "i2"), instance_number=2, b_value=800, **kw
    )
    enc.write(inst, pixels, tmp_path / "fast.dcm")
    ds = hdr.merge(constant, inst)
    ds.file_meta = hdr._file_meta(hdr.MR_IMAGE, str(inst.SOPInstanceUID), ExplicitVRLittleEndian)
    hdr.write_dataset(ds, pixels, tmp_path / "plain.dcm")
    assert (tmp_path / "fast.dcm").read_bytes() == (tmp_path / "plain.dcm").read_bytes()


# ---------------------------------------------------------------------------------------------
# PHI, demo, corpus
# ---------------------------------------------------------------------------------------------


def test_no_real_looking_phi(manifest: Manifest, datasets: dict[str, pydicom.Dataset]) -> None:
    for ds in datasets.values():
        assert str(ds.PatientName).startswith("DEMO^PATIENT-")
        assert ds.PatientID.startswith("DEMO-")
        assert ds.AccessionNumber.startswith("DEMOACC")
        assert "DEMO" in ds.InstitutionName
        assert hdr.MARKER in ds.PatientComments and hdr.MARKER in ds.StudyDescription
        assert ds.Manufacturer.startswith("AuditDesk Demo")
        assert str(ds.ReferringPhysicianName).startswith("DEMO")
        if "OperatorsName" in ds:
            assert str(ds.OperatorsName) in gen.DEFAULT_TECHNOLOGISTS


def test_small_demo_mix_dates_and_progress(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    end = date(2026, 6, 10)  # a Wednesday: the last week is partial
    m = generate_demo(
        tmp_path,
        seed=3,
        weeks=2,
        mammo_per_week=4,
        mr_exams=1,
        size=(96, 78),
        end_date=end,
        progress=lambda d, t: calls.append((d, t)),
        mr_size_scale=0.125,
    )
    assert calls[-1] == (9, 9) and len(calls) == 9
    assert Manifest.read(tmp_path).to_json() == m.to_json()
    mammo = [s for s in m.studies if s.kind == "mammo"]
    first_sunday = date(2026, 5, 31)
    for s in m.studies:
        assert first_sunday <= s.procedure_date <= end
    days = {s.procedure_date.weekday() for s in mammo}
    assert 6 in days  # a Sunday
    assert 5 in days  # a Saturday
    files = [f for s in mammo for f in s.files]
    assert any(f.photometric == "MONOCHROME1" for f in files)
    assert any(f.transfer_syntax == JPEG2000Lossless for f in files)
    assert any(f.for_processing for f in files)
    assert any(f.modifier or f.view == "XCCL" for f in files)
    assert sum(s.truth["quality"] == "good" for s in mammo) == round(0.6 * len(mammo))
    assert len({s.technologist for s in mammo}) >= 2
    assert m.params["mix"]["mr_vendors"] == ["standard"]


def test_default_demo_dates_are_fixed() -> None:
    assert gen.DEFAULT_END_DATE.weekday() == 5  # Saturday: ends a Sunday-Saturday week
    assert gen._week_sunday(date(2026, 11, 14)) == date(2026, 11, 8)
    assert gen._week_sunday(date(2026, 11, 8)) == date(2026, 11, 8)
    assert gen._week_sunday(date(2026, 11, 9)) - timedelta(days=1) == date(2026, 11, 7)


def test_index_corpus_exact_count(tmp_path: Path) -> None:
    paths = generate_index_corpus(tmp_path, 181, seed=2)
    assert len(paths) == 181 == len(set(paths))
    modalities = set()
    for p in paths:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        modalities.add(ds.Modality)
        assert str(ds.PatientName).startswith("DEMO")
    assert modalities == {"MR", "MG"}
    assert sorted(tmp_path.rglob("*.dcm")) == sorted(paths)
