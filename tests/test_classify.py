"""Header classification (auditdesk.dicom.classify): real mammograms and MR series from
shared/data (expected values checked by hand with dcmread) plus synthetic headers for every rule."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from auditdesk.dicom import codes
from auditdesk.dicom.classify import (
    VIEWS,
    MammoInfo,
    MRImageInfo,
    MRSeriesInfo,
    classify_mammo,
    classify_mr_series,
    image_plane,
    is_mammography,
    mr_image_info,
    procedure_date,
    procedure_datetime,
    slice_order,
    technologist,
)

MG_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
MG_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
BREAST_TOMO = "1.2.840.10008.5.1.4.1.1.13.1.3"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def read(path: Path) -> Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def code_item(code: str, scheme: str, meaning: str = "", modifiers: list[Dataset] | None = None):
    item = Dataset()
    item.CodeValue = code
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    if modifiers is not None:
        item.ViewModifierCodeSequence = Sequence(modifiers)
    return item


def mg(**kw: object) -> Dataset:
    """A minimal FOR PRESENTATION mammogram header; keywords override/add attributes."""
    ds = Dataset()
    ds.Modality = "MG"
    ds.SOPClassUID = MG_PRESENTATION
    ds.PresentationIntentType = "FOR PRESENTATION"
    for k, v in kw.items():
        if v is None:
            if k in ds:
                delattr(ds, k)
        else:
            setattr(ds, k, v)
    return ds


def coded(code: str, scheme: str = "SRT", meaning: str = "", **kw: object) -> Dataset:
    mods = kw.pop("modifiers", None)
    return mg(ViewCodeSequence=Sequence([code_item(code, scheme, meaning, mods)]), **kw)


# --------------------------------------------------------------------------------------------
# Real mammograms
# --------------------------------------------------------------------------------------------

REAL_MG = {
    # file: (view, view_source, laterality, laterality_source, intent, screening, tomo, lossy)
    "GH133_GE_SenographeEssential_R_MLO.dcm": (
        "MLO", "ViewCodeSequence", "R", "ImageLaterality", "FOR PRESENTATION", True, False, False
    ),
    "GH1376_Hologic_Dimensions_tomo_recon_R_MLO_truncated.dcm": (
        "MLO", "ViewCodeSequence", "R", "ImageLaterality", "FOR PRESENTATION", False, True, False
    ),
    "OutOfBoundsOverlay_Siemens_Mammomat_L_CC_stereo.dcm": (
        "CC", "ViewCodeSequence", "L", "ImageLaterality", "FOR PRESENTATION", False, False, False
    ),
    "WG04_MG1_J2KI.dcm": (
        "MLO", "ViewPosition", "L", "Laterality", "FOR PRESENTATION", True, False, True
    ),
    "WG04_MG1_JPLY.dcm": (
        "MLO", "ViewPosition", "L", "Laterality", "FOR PRESENTATION", True, False, True
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REAL_MG))
def test_real_mammograms(shared_data: Path, name: str) -> None:
    ds = read(shared_data / "mg" / name)
    view, view_src, lat, lat_src, intent, screening, tomo, lossy = REAL_MG[name]
    assert is_mammography(ds)
    info = classify_mammo(ds)
    assert (info.view, info.view_source) == (view, view_src)
    assert (info.laterality, info.laterality_source) == (lat, lat_src)
    assert info.presentation_intent == intent
    assert info.is_screening_view is screening
    assert info.is_tomosynthesis is tomo
    assert info.lossy is lossy
    assert info.modifiers == ()
    assert (info.exclusion_reason is None) is screening


def test_real_ge_uses_snm3_code(shared_data: Path) -> None:
    ds = read(shared_data / "mg/GH133_GE_SenographeEssential_R_MLO.dcm")
    item = ds.ViewCodeSequence[0]
    assert (item.CodeValue, item.CodingSchemeDesignator) == ("R-10226", "SNM3")
    assert classify_mammo(ds).view == "MLO"


def test_real_siemens_stereo_reason(shared_data: Path) -> None:
    ds = read(shared_data / "mg/OutOfBoundsOverlay_Siemens_Mammomat_L_CC_stereo.dcm")
    assert "STEREO" in classify_mammo(ds).exclusion_reason


def test_real_wg04_is_rg_secondary_capture(shared_data: Path) -> None:
    ds = read(shared_data / "mg/WG04_MG1_J2KI.dcm")
    assert (ds.Modality, ds.SOPClassUID) == ("RG", SECONDARY_CAPTURE)
    assert "ViewCodeSequence" not in ds and "PresentationIntentType" not in ds
    assert is_mammography(ds)


def test_real_hologic_tomo_is_ct(shared_data: Path) -> None:
    ds = read(shared_data / "mg/GH1376_Hologic_Dimensions_tomo_recon_R_MLO_truncated.dcm")
    assert (ds.Modality, ds.SOPClassUID) == ("CT", CT_IMAGE)
    info = classify_mammo(ds)
    assert "Tomosynthesis" in info.exclusion_reason
    # even without BodyPartExamined, TOMO ImageType + "R MLO" description identify it
    del ds.BodyPartExamined
    assert is_mammography(ds)


def test_real_technologists_and_dates(shared_data: Path) -> None:
    ge = read(shared_data / "mg/GH133_GE_SenographeEssential_R_MLO.dcm")
    assert technologist(ge) == "xxx"
    assert procedure_datetime(ge) == dt.datetime(2015, 9, 29, 12, 6, 21)
    hologic = read(shared_data / "mg/GH1376_Hologic_Dimensions_tomo_recon_R_MLO_truncated.dcm")
    assert technologist(hologic) == "Alex"
    assert procedure_date(hologic) == dt.date(2022, 4, 22)  # Study Date, not Acquisition (2017)
    siemens = read(shared_data / "mg/OutOfBoundsOverlay_Siemens_Mammomat_L_CC_stereo.dcm")
    assert technologist(siemens) is None


def test_real_non_mammograms(shared_data: Path) -> None:
    for rel in [
        "mr/misc/MR_small.dcm",
        "mr/prostate_adc_qin-prostate_ge/000000.dcm",
        "edge/CR-MONO1-10-chest.dcm",
        "edge/no_preamble_dicm_in_data_MG_header.dcm",
        "edge/J2K_pixelrep_mismatch.dcm",
    ]:
        ds = read(shared_data / rel)
        assert not is_mammography(ds), rel


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_every_readable_real_file_classifies_without_raising(shared_data: Path) -> None:
    for path in sorted(shared_data.rglob("*.dcm")):
        try:
            ds = read(path)
        except Exception:
            continue  # unreadable files are the header reader's business
        for func in (is_mammography, classify_mammo, technologist, procedure_datetime):
            func(ds)
        info = mr_image_info(ds)
        classify_mr_series([info])
        json.dumps(info.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------------------------
# Synthetic mammograms: views
# --------------------------------------------------------------------------------------------

SCT_VIEWS = {
    "399162004": "CC",
    "399368009": "MLO",
    "399260004": "ML",
    "399352003": "LM",
    "399099002": "LMO",
    "399192008": "XCCL",
    "399101009": "XCCM",
    "399196006": "FB",
    "399188001": "SIO",
    "441555000": "ISO",
    "127457009": "SPECIMEN",
}


@pytest.mark.parametrize(("code", "view"), sorted(SCT_VIEWS.items()))
def test_sct_codes(code: str, view: str) -> None:
    info = classify_mammo(coded(code, "SCT"))
    assert (info.view, info.view_source) == (view, "ViewCodeSequence")
    assert info.is_screening_view is (view in ("CC", "MLO"))


def test_code_tables_cover_all_views() -> None:
    assert set(codes.VIEW_CODES.values()) == set(VIEWS)
    assert {v for (s, _c), v in codes.VIEW_CODES.items() if s == "SCT"} == set(VIEWS)
    assert set(codes.MODIFIER_CODES.values()) == set(codes.MODIFIER_NAMES)


@pytest.mark.parametrize("scheme", ["SRT", "SNM3", "snm3 ", ""])
def test_srt_and_snm3_are_equivalent(scheme: str) -> None:
    assert classify_mammo(coded("R-10242", scheme)).view == "CC"


@pytest.mark.parametrize(
    ("meaning", "view"),
    [
        ("medio-lateral oblique", "MLO"),
        ("Mediolateral Oblique", "MLO"),
        ("CRANIO-CAUDAL", "CC"),
        ("cranio-caudal exaggerated laterally", "XCCL"),
        ("Cranio-caudal exaggerated medially", "XCCM"),
        ("caudo-cranial (from below)", "FB"),
        ("Craniocaudal projection (qualifier value)", "CC"),
    ],
)
def test_code_meaning_only(meaning: str, view: str) -> None:
    info = classify_mammo(coded("L-1234", "99LOCAL", meaning))
    assert (info.view, info.view_source) == (view, "ViewCodeSequence")


@pytest.mark.parametrize(
    ("code", "view"), [("Y-X1770", "XCCL"), ("Y-X1771", "XCCM"), ("R-102CF", "XCCL")]
)
def test_deprecated_codes(code: str, view: str) -> None:
    info = classify_mammo(coded(code, "SNM3", ImageLaterality="L"))
    assert info.view == view
    assert not info.is_screening_view
    assert "additional view" in info.exclusion_reason


def test_view_position_only() -> None:
    info = classify_mammo(mg(ViewPosition="CC", ImageLaterality="R"))
    assert (info.view, info.view_source, info.laterality) == ("CC", "ViewPosition", "R")
    assert info.is_screening_view


@pytest.mark.parametrize(
    ("description", "view", "laterality", "modifiers"),
    [
        ("R MLO", "MLO", "R", ()),
        ("LCC", "CC", "L", ()),
        ("L XCCL SPOT", "XCCL", "L", ("SPOT",)),
        ("RMLO", "MLO", "R", ()),
        ("L_CC", "CC", "L", ()),
        ("R CC ID", "CC", "R", ("IMPLANT_DISPLACED",)),
        ("LMLOID", "MLO", "L", ("IMPLANT_DISPLACED",)),
        ("R CC Eklund", "CC", "R", ("IMPLANT_DISPLACED",)),
        ("CC implant displaced left", "CC", "L", ("IMPLANT_DISPLACED",)),
        ("R CC MAG", "CC", "R", ("MAGNIFICATION",)),
        ("LM right", "LM", "R", ()),
        ("RML", "ML", "R", ()),
        ("R MLO Tomosynthesis ReconstructionCT Image", "MLO", "R", ()),
    ],
)
def test_description_tokens(
    description: str, view: str, laterality: str, modifiers: tuple[str, ...]
) -> None:
    info = classify_mammo(mg(SeriesDescription=description))
    assert (info.view, info.view_source) == (view, "SeriesDescription")
    assert (info.laterality, info.laterality_source) == (laterality, "SeriesDescription")
    assert info.modifiers == modifiers


@pytest.mark.parametrize(
    "description",
    [
        "ACCESSION SUCCESS",  # "CC" inside words
        "MAMMOSCREENING 1E LEZING",  # real GE description
        "PATIENT ID 123",
        "MAGNETIC",
        "SCREENING BILATERAL",
    ],
)
def test_description_false_positives(description: str) -> None:
    info = classify_mammo(mg(SeriesDescription=description))
    assert info.view is None
    assert info.modifiers == ()
    assert info.exclusion_reason == "View could not be determined from the header."


def test_protocol_name_used_when_series_description_has_no_view() -> None:
    info = classify_mammo(mg(SeriesDescription="SCREENING", ProtocolName="L CC"))
    assert (info.view, info.laterality) == ("CC", "L")


def test_patient_orientation_heuristic() -> None:
    mlo = classify_mammo(mg(PatientOrientation=["P", "FL"]))
    # Row/column letters are a geometric guess ("orientation geometry", low confidence); the
    # label "PatientOrientation" is kept for a one-value view such as "CC" (test_views_sources).
    assert (mlo.view, mlo.view_source) == ("MLO", "orientation geometry")
    assert (mlo.laterality, mlo.laterality_source) == ("R", "orientation geometry")
    assert mlo.view_confidence == "low"
    cc = classify_mammo(mg(PatientOrientation=["A", "R"]))
    assert (cc.view, cc.laterality) == ("CC", "L")
    lateral = classify_mammo(mg(PatientOrientation=["A", "F"]))
    assert lateral.view is None  # ML, LM or MLO: no guess
    contradiction = classify_mammo(mg(PatientOrientation=["A", "L"]))
    assert contradiction.laterality is None
    # a real tag always wins over the heuristic
    tagged = classify_mammo(mg(PatientOrientation=["P", "FL"], ViewPosition="CC"))
    assert (tagged.view, tagged.view_source) == ("CC", "ViewPosition")


# --------------------------------------------------------------------------------------------
# Synthetic mammograms: laterality, modifiers, intent, screening
# --------------------------------------------------------------------------------------------


def frame_anatomy(laterality: str) -> Dataset:
    anatomy = Dataset()
    anatomy.FrameLaterality = laterality
    group = Dataset()
    group.FrameAnatomySequence = Sequence([anatomy])
    return group


def test_frame_laterality_in_shared_functional_groups() -> None:
    ds = coded(
        "R-10226",
        SOPClassUID=BREAST_TOMO,
        PresentationIntentType=None,
        SharedFunctionalGroupsSequence=Sequence([frame_anatomy("L")]),
    )
    info = classify_mammo(ds)
    assert (info.view, info.laterality, info.laterality_source) == ("MLO", "L", "FrameLaterality")
    assert info.is_tomosynthesis
    assert info.presentation_intent == "FOR PRESENTATION"  # inferred from the SOP class
    assert not info.is_screening_view


def test_frame_laterality_per_frame() -> None:
    ds = coded("R-10242", SOPClassUID=BREAST_TOMO)
    ds.PerFrameFunctionalGroupsSequence = Sequence([frame_anatomy("R"), frame_anatomy("R")])
    info = classify_mammo(ds)
    assert (info.laterality, info.laterality_source) == ("R", "FrameLaterality")


def test_laterality_priority_and_unpaired() -> None:
    both = mg(ViewPosition="CC", ImageLaterality="L", Laterality="R", SeriesDescription="RCC")
    assert classify_mammo(both).laterality_source == "ImageLaterality"
    series_only = mg(ViewPosition="CC", Laterality="R")
    assert classify_mammo(series_only).laterality_source == "Laterality"
    unpaired = mg(ViewPosition="CC", ImageLaterality="U", SeriesDescription="L CC")
    assert (classify_mammo(unpaired).laterality, classify_mammo(unpaired).laterality_source) == (
        "L",
        "SeriesDescription",
    )
    assert classify_mammo(mg(ViewPosition="CC", ImageLaterality="U")).laterality == "U"
    assert classify_mammo(mg(ViewPosition="CC", ImageLaterality="X")).laterality is None


@pytest.mark.parametrize(
    ("code", "scheme", "modifier", "excluded"),
    [
        ("R-102D7", "SRT", "SPOT", True),
        ("399055006", "SCT", "SPOT", True),
        ("R-102D6", "SNM3", "MAGNIFICATION", True),
        ("399163009", "SCT", "MAGNIFICATION", True),
        ("R-102D5", "SRT", "IMPLANT_DISPLACED", True),
        ("399209000", "SCT", "IMPLANT_DISPLACED", True),
        ("R-102D2", "SRT", "CLEAVAGE", False),
        ("R-102D3", "SRT", "ROLLED_LATERAL", False),
    ],
)
def test_modifier_codes(code: str, scheme: str, modifier: str, excluded: bool) -> None:
    ds = coded("R-10242", ImageLaterality="R", modifiers=[code_item(code, scheme)])
    info = classify_mammo(ds)
    assert info.modifiers == (modifier,)
    assert info.is_screening_view is (not excluded)


def test_modifier_by_meaning_and_top_level_sequence() -> None:
    ds = coded("R-10226", modifiers=[code_item("X1", "99LOCAL", "Spot Compression")])
    assert classify_mammo(ds).modifiers == ("SPOT",)
    top = coded("R-10226")
    top.ViewModifierCodeSequence = Sequence([code_item("R-102D6", "SRT")])
    info = classify_mammo(top)
    assert info.modifiers == ("MAGNIFICATION",)
    assert info.exclusion_reason == "Magnification view, not a screening view."


def test_spot_mag_text_with_coded_view() -> None:
    info = classify_mammo(coded("R-10242", SeriesDescription="L CC SPOT MAG"))
    assert info.view_source == "ViewCodeSequence"
    assert info.modifiers == ("MAGNIFICATION", "SPOT")
    assert not info.is_screening_view


def test_for_processing_excluded() -> None:
    tagged = classify_mammo(coded("R-10242", PresentationIntentType="FOR PROCESSING"))
    assert tagged.presentation_intent == "FOR PROCESSING"
    assert not tagged.is_screening_view
    assert "FOR PROCESSING" in tagged.exclusion_reason
    inferred = classify_mammo(
        coded("R-10242", SOPClassUID=MG_PROCESSING, PresentationIntentType=None)
    )
    assert inferred.presentation_intent == "FOR PROCESSING"
    assert not inferred.is_screening_view


def test_presentation_intent_inferred_and_unknown() -> None:
    assert classify_mammo(coded("R-10242", PresentationIntentType=None)).is_screening_view
    unknown = classify_mammo(coded("R-10242", SOPClassUID="1.2.3.4", PresentationIntentType=None))
    assert unknown.presentation_intent is None
    assert not unknown.is_screening_view


def test_stereo_and_specimen_excluded() -> None:
    stereo = classify_mammo(coded("R-10242", ImageType=["DERIVED", "PRIMARY", "STEREO", "LEFT"]))
    assert not stereo.is_screening_view
    specimen = classify_mammo(coded("G-8310"))
    assert specimen.view == "SPECIMEN"
    assert specimen.exclusion_reason == "Specimen radiograph, not a patient view."
    text_specimen = classify_mammo(mg(SeriesDescription="Specimen radiograph"))
    assert text_specimen.view == "SPECIMEN"


def test_lossy_flag() -> None:
    assert classify_mammo(coded("R-10242", LossyImageCompression="01")).lossy
    assert not classify_mammo(coded("R-10242", LossyImageCompression="00")).lossy


def test_is_mammography_synthetic() -> None:
    assert is_mammography(mg())
    assert is_mammography(mg(Modality="", SOPClassUID=BREAST_TOMO))
    sc = Dataset()
    sc.Modality = "OT"
    sc.SOPClassUID = SECONDARY_CAPTURE
    sc.ViewCodeSequence = Sequence([code_item("399368009", "SCT")])
    assert is_mammography(sc)
    rg = Dataset()
    rg.Modality = "RG"
    rg.ViewPosition = "MLO"
    assert is_mammography(rg)
    ct = Dataset()
    ct.Modality = "CT"
    ct.SOPClassUID = CT_IMAGE
    assert not is_mammography(ct)
    ct.ImageType = ["DERIVED", "PRIMARY", "TOMO"]
    assert not is_mammography(ct)  # TOMO alone could be any tomography
    ct.SeriesDescription = "L CC Tomosynthesis"
    assert is_mammography(ct)
    breast_mr = Dataset()
    breast_mr.Modality = "MR"
    breast_mr.BodyPartExamined = "BREAST"
    assert not is_mammography(breast_mr)
    assert not is_mammography(Dataset())


def test_empty_dataset_never_raises() -> None:
    info = classify_mammo(Dataset())
    assert info == MammoInfo(exclusion_reason="View could not be determined from the header.")


def test_mammo_info_round_trip() -> None:
    info = classify_mammo(coded("R-10226", ImageLaterality="R", SeriesDescription="R MLO SPOT"))
    d = json.loads(json.dumps(info.to_dict(), allow_nan=False))
    assert d["modifiers"] == ["SPOT"]
    assert MammoInfo.from_dict(d) == info
    assert MammoInfo.from_dict({**d, "future_field": 1}) == info


# --------------------------------------------------------------------------------------------
# Technologist and dates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Smith^Jane", "Smith, Jane"),
        ("Smith^Jane^Q^Dr", "Smith, Dr Jane Q"),
        ("JS", "JS"),
        ("  jd  ", "jd"),
        ("Smith^", "Smith"),
        ("^Jane", "Jane"),
        ("Yamada^Tarou=山田^太郎", "Yamada, Tarou"),
        ("=山田^太郎", "山田, 太郎"),
        (["Smith^Jane", "Doe^John"], "Smith, Jane; Doe, John"),
        (["JS", "JS"], "JS"),
        ("", None),
        ("   ", None),
        ("^^^", None),
        ("----", None),
    ],
)
def test_technologist_variants(value: object, expected: str | None) -> None:
    ds = Dataset()
    ds.OperatorsName = value
    assert technologist(ds) == expected


def test_technologist_missing_and_un_bytes() -> None:
    assert technologist(Dataset()) is None
    ds = Dataset()
    ds.add_new(0x00081070, "UN", b"Smith^Jane ")
    assert technologist(ds) == "Smith, Jane"


def dated(**kw: object) -> Dataset:
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"StudyDate": "20240131", "StudyTime": "093015.5"},
         dt.datetime(2024, 1, 31, 9, 30, 15, 500000)),
        ({"StudyDate": "20240131"}, dt.datetime(2024, 1, 31)),
        ({"StudyDate": "20240131", "StudyTime": "0930"}, dt.datetime(2024, 1, 31, 9, 30)),
        ({"StudyDate": "20240131", "StudyTime": "10:11:12"}, dt.datetime(2024, 1, 31, 10, 11, 12)),
        ({"StudyDate": "20240131", "StudyTime": "99"}, dt.datetime(2024, 1, 31)),
        ({"StudyDate": "1997.06.09"}, dt.datetime(1997, 6, 9)),
        ({"AcquisitionDate": "20230102", "AcquisitionTime": "120000", "ContentDate": "20230105"},
         dt.datetime(2023, 1, 2, 12)),
        ({"StudyDate": "2024XX01", "ContentDate": "20230105"}, dt.datetime(2023, 1, 5)),
        ({"StudyDate": "20240230", "SeriesDate": "20240301"}, dt.datetime(2024, 3, 1)),
        ({"StudyDate": "", "AcquisitionDateTime": "20220304101112.25+0100"},
         dt.datetime(2022, 3, 4, 10, 11, 12, 250000)),
        ({"StudyDate": "00000000"}, None),
        ({"StudyDate": "garbage", "SeriesDate": "1"}, None),
        ({}, None),
    ],
)  # fmt: skip
@pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")
def test_procedure_date_fallbacks(attrs: dict[str, str], expected: dt.datetime | None) -> None:
    ds = dated(**attrs)
    assert procedure_datetime(ds) == expected
    assert procedure_date(ds) == (expected.date() if expected else None)


def test_procedure_date_accepts_converted_values() -> None:
    ds = Dataset()
    ds.StudyDate = pydicom.valuerep.DA("20240131")
    ds.StudyTime = pydicom.valuerep.TM("101500")
    assert procedure_datetime(ds) == dt.datetime(2024, 1, 31, 10, 15)


# --------------------------------------------------------------------------------------------
# MR: real series
# --------------------------------------------------------------------------------------------

GE_ADC = "mr/prostate_adc_qin-prostate_ge"


@pytest.fixture(scope="module")
def ge_adc(shared_data: Path) -> tuple[list[Path], list[MRImageInfo]]:
    files = sorted((shared_data / GE_ADC).glob("*.dcm"))
    assert len(files) == 20
    return files, [mr_image_info(read(f)) for f in files]


def test_real_ge_adc_series(ge_adc: tuple[list[Path], list[MRImageInfo]]) -> None:
    _files, infos = ge_adc
    result = classify_mr_series(infos)
    assert result.role == "ADC"
    assert result.b_values == (500.0,)  # ADC maps keep the b-value: ADC must win over DWI
    assert result.orientation == "AXIAL"  # ~10 degrees off axial
    assert result.n_slice_positions == 20
    assert result.n_temporal_positions == 1
    assert "ADC" in result.role_reasons[0]
    # The GE ProtocolName says "DCE" (exam protocol); it must not steer the role.
    assert "DCE" in infos[0].protocol_name


def test_real_ge_adc_slice_order(ge_adc: tuple[list[Path], list[MRImageInfo]]) -> None:
    files, infos = ge_adc
    order = slice_order(infos)
    names = [files[i].name for i in order]
    assert names != [f.name for f in files]  # file-name order is wrong here
    assert names.index("000006.dcm") < names.index("000004.dcm")  # IN 5 before IN 6
    positions = [infos[i].slice_position_mm for i in order]
    gaps = [b - a for a, b in itertools.pairwise(positions)]
    assert all(g > 0 for g in gaps)  # strictly monotonic along the slice normal
    assert gaps == pytest.approx([3.0] * 19, abs=0.01)  # 3 mm contiguous slices
    shuffled = list(range(20))
    random.Random(7).shuffle(shuffled)
    again = slice_order([infos[i] for i in shuffled])
    assert [shuffled[i] for i in again] == order


def test_real_ge_adc_image_info(ge_adc: tuple[list[Path], list[MRImageInfo]]) -> None:
    files, infos = ge_adc
    info = infos[[f.name for f in files].index("000004.dcm")]
    assert info.instance_number == 6
    assert (info.b_values, info.b_value_source) == ((500.0,), "GE (0043,1039)")
    assert info.scanning_sequence == "EP\\SE"
    assert (info.repetition_time_ms, info.echo_time_ms) == (2500.0, 65.4)
    assert info.image_position == (-90.0671, -111.07, -29.2034)
    assert info.acquisition_matrix == (128, 0, 0, 96)
    assert info.pixel_spacing == (0.7031, 0.7031)
    assert info.acquisition_time == 14 * 3600 + 28 * 60 + 55
    assert MRImageInfo.from_dict(json.loads(json.dumps(info.to_dict(), allow_nan=False))) == info


def test_real_philips_dwi(shared_data: Path) -> None:
    files = sorted((shared_data / "mr/dwi_philips_classic_one_slice").glob("*.dcm"))
    infos = [mr_image_info(read(f)) for f in files]
    result = classify_mr_series(infos)
    assert result.role == "DWI"
    assert result.b_values == (0.0, 1000.0)  # 0.001..0.004 listed as 0
    assert result.role_reasons[0] == "b-values 0, 1000 s/mm²"
    assert result.n_slice_positions == 1
    assert result.b_value_sources == ("DiffusionBValue",)
    assert len(slice_order(infos)) == 17


def test_real_enhanced_multiframe_is_other(shared_data: Path) -> None:
    folder = shared_data / "mr/enhanced_multiframe"
    vida = [mr_image_info(read(f)) for f in sorted(folder.glob("Siemens_Vida_*.dcm"))]
    fmri = classify_mr_series(vida)
    assert fmri.role == "OTHER"
    assert fmri.n_temporal_positions == 4  # an fMRI time series is not DCE (EPI, TR 500)
    assert fmri.n_slice_positions == 6
    assert vida[0].scanning_sequence == "EP\\GR"
    assert vida[0].frame_temporal_positions == (1,) * 6
    fmap = mr_image_info(read(folder / "Philips_Achieva_dStream_IM_0027_fMAP.dcm"))
    assert fmap.n_frames == 64 and len(fmap.frame_slice_positions) == 64
    assert (fmap.repetition_time_ms, fmap.echo_time_ms) == pytest.approx((3.8045, 1.52))
    assert "FIELD_MAP" in fmap.frame_types
    result = classify_mr_series([fmap])
    assert result.role == "OTHER"  # T1 GRE timing but a single time point
    assert result.n_slice_positions == 32
    for name in ("emri_small.dcm", "mr_brucker.dcm"):
        assert classify_mr_series([mr_image_info(read(folder / name))]).role == "OTHER"


# --------------------------------------------------------------------------------------------
# MR: synthetic series
# --------------------------------------------------------------------------------------------


def mr_ds(z: float, instance: int, **kw: object) -> Dataset:
    ds = Dataset()
    ds.Modality = "MR"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.ImageOrientationPatient = list(AXIAL)
    ds.ImagePositionPatient = [-100.0, -100.0, z]
    ds.InstanceNumber = instance
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def test_synthetic_t2w() -> None:
    infos = [
        mr_image_info(
            mr_ds(z, i + 1, ScanningSequence="SE", SequenceVariant=["SK", "SP"],
                  RepetitionTime=4000, EchoTime=100, SeriesDescription="t2_tse_tra")
        )
        for i, z in enumerate([0.0, 3.0, 6.0])
    ]  # fmt: skip
    result = classify_mr_series(infos)
    assert result.role == "T2W"
    assert result.role_reasons == (
        "spin echo, TR 4000 ms, TE 100 ms",
        "SeriesDescription names a T2 series",
    )
    assert (result.orientation, result.n_slice_positions) == ("AXIAL", 3)
    # physics alone is enough
    bare = [mr_image_info(mr_ds(0, 1, ScanningSequence="SE", RepetitionTime=5000, EchoTime=90))]
    assert classify_mr_series(bare).role == "T2W"
    # a short-TE spin echo is not T2W
    t1 = [mr_image_info(mr_ds(0, 1, ScanningSequence="SE", RepetitionTime=500, EchoTime=12))]
    assert classify_mr_series(t1).role == "OTHER"


def dce_series(n_phases: int = 24, step_s: float = 7.5, with_ids: bool = True) -> list[Dataset]:
    out = []
    instance = 0
    for phase in range(n_phases):
        for z in (0.0, 3.0, 6.0):
            instance += 1
            seconds = 10 * 3600 + phase * step_s + z / 10  # slices a little apart in time
            hh, rest = divmod(seconds, 3600)
            mm, ss = divmod(rest, 60)
            ds = mr_ds(
                z,
                instance,
                ScanningSequence="GR",
                SequenceVariant=["SP", "SS"],
                RepetitionTime=4.0,
                EchoTime=1.5,
                FlipAngle=12,
                ContrastBolusAgent="Gadovist",
                AcquisitionTime=f"{int(hh):02d}{int(mm):02d}{ss:09.6f}",
                SeriesDescription="t1_vibe_fs_tra_dyn",
            )
            if with_ids:
                ds.TemporalPositionIdentifier = phase + 1
                ds.NumberOfTemporalPositions = n_phases
            out.append(ds)
    return out


def test_synthetic_dce() -> None:
    infos = [mr_image_info(ds) for ds in dce_series()]
    result = classify_mr_series(infos)
    assert result.role == "DCE"
    assert result.n_temporal_positions == 24
    assert result.temporal_resolution_s == pytest.approx(7.5)
    assert result.n_slice_positions == 3
    assert result.role_reasons[0] == "24 temporal positions (TemporalPositionIdentifier)"
    assert "T1 gradient echo (GR, TR 4 ms, TE 1.5 ms)" in result.role_reasons
    assert 'contrast agent "Gadovist"' in result.role_reasons
    order = slice_order(infos)
    assert [infos[i].temporal_position for i in order[:24]] == list(range(1, 25))


def test_synthetic_dce_from_repeated_positions() -> None:
    infos = [mr_image_info(ds) for ds in dce_series(n_phases=10, step_s=12.0, with_ids=False)]
    result = classify_mr_series(infos)
    assert result.role == "DCE"
    assert result.n_temporal_positions == 10
    assert result.temporal_resolution_s == pytest.approx(12.0)
    assert "repeated positions" in result.role_reasons[0]


def test_synthetic_dce_temporal_resolution_tag_wins() -> None:
    datasets = dce_series(n_phases=5)
    for ds in datasets:
        ds.TemporalResolution = 9000.0
    assert classify_mr_series([mr_image_info(d) for d in datasets]).temporal_resolution_s == 9.0


def test_single_phase_t1_gre_is_other() -> None:
    infos = [mr_image_info(ds) for ds in dce_series(n_phases=1)]
    result = classify_mr_series(infos)
    assert result.role == "OTHER"
    assert "dynamic hints but only 1 temporal position(s)" in result.role_reasons


def siemens_dwi(b: str, z: float, instance: int, **kw: object) -> Dataset:
    attrs: dict[str, object] = {
        "Manufacturer": "SIEMENS",
        "ScanningSequence": ["EP", "SE"],
        "RepetitionTime": 4500,
        "EchoTime": 70,
        "SeriesDescription": "ep2d_diff_tra",
    }
    ds = mr_ds(z, instance, **{**attrs, **kw})
    ds.add_new(0x00190010, "LO", "SIEMENS MR HEADER")
    ds.add_new(0x0019100C, "IS", b)
    return ds


def test_synthetic_siemens_dwi_three_b_values() -> None:
    infos = []
    for z in (0.0, 4.0):
        for k, b in enumerate(("0", "800", "1400")):
            ds = siemens_dwi(b, z, len(infos) + 1, AcquisitionTime=f"1000{k * 20:02d}")
            infos.append(mr_image_info(ds))
    random.Random(3).shuffle(infos)
    result = classify_mr_series(infos)
    assert result.role == "DWI"
    assert result.b_values == (0.0, 800.0, 1400.0)
    assert result.role_reasons[0] == "b-values 0, 800, 1400 s/mm²"
    assert result.b_value_sources == ("Siemens (0019,100C)",)
    assert result.n_temporal_positions == 1  # b-values acquired one after another, not phases
    assert result.temporal_resolution_s is None
    ordered = [infos[i] for i in slice_order(infos)]
    assert [(i.slice_position_mm, i.b_values) for i in ordered] == [
        (0.0, (0.0,)), (0.0, (800.0,)), (0.0, (1400.0,)),
        (4.0, (0.0,)), (4.0, (800.0,)), (4.0, (1400.0,)),
    ]  # fmt: skip


def test_synthetic_adc_via_image_type() -> None:
    infos = [
        mr_image_info(
            siemens_dwi("1400", z, i + 1, ImageType=["DERIVED", "PRIMARY", "DIFFUSION", "ADC"],
                        SeriesDescription="ep2d_diff_tra_ADC")
        )
        for i, z in enumerate([0.0, 4.0])
    ]  # fmt: skip
    result = classify_mr_series(infos)
    assert result.role == "ADC"
    assert result.role_reasons == ("ImageType contains ADC",)
    assert result.b_values == (1400.0,)


def test_adc_words_on_a_multi_b_acquisition_stay_dwi() -> None:
    infos = [
        mr_image_info(siemens_dwi(b, 0.0, i + 1, SeriesDescription="DWI_ADC"))
        for i, b in enumerate(("50", "1000"))
    ]
    assert classify_mr_series(infos).role == "DWI"


def test_trace_and_fa_image_types() -> None:
    trace = mr_image_info(mr_ds(0, 1, ImageType=["DERIVED", "PRIMARY", "DIFFUSION", "TRACEW"]))
    assert classify_mr_series([trace]).role == "DWI"
    fa = mr_image_info(mr_ds(0, 1, ImageType=["DERIVED", "PRIMARY", "DIFFUSION", "FA"]))
    assert classify_mr_series([fa]).role == "OTHER"


def test_zero_b_values_alone_are_not_dwi() -> None:
    """Philips writes b = 0 into every image, diffusion or not (e.g. the real survey in misc/)."""
    ds = mr_ds(0, 1, ScanningSequence="GR", RepetitionTime=15, EchoTime=5)
    ds.add_new(0x00189087, "FD", 0.0)
    result = classify_mr_series([mr_image_info(ds)])
    assert result.role == "OTHER"
    assert result.b_values == (0.0,)


def test_slice_order_ignores_instance_number_when_positions_exist() -> None:
    infos = [mr_image_info(mr_ds(z, inst)) for z, inst in [(6.0, 1), (0.0, 3), (3.0, 2)]]
    assert slice_order(infos) == [1, 2, 0]
    jitter = [mr_image_info(mr_ds(z, inst)) for z, inst in [(0.01, 1), (0.0, 2)]]
    assert slice_order(jitter) == [0, 1]  # same position within tolerance: instance decides
    no_position = [MRImageInfo(instance_number=2), MRImageInfo(instance_number=1)]
    assert slice_order(no_position) == [1, 0]


@pytest.mark.parametrize(
    ("orientation", "plane"),
    [
        (AXIAL, "AXIAL"),
        ((0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "SAGITTAL"),
        ((1.0, 0.0, 0.0, 0.0, 0.0, -1.0), "CORONAL"),
        ((1.0, 0.0, 0.0, 0.0, 0.94, 0.342), "AXIAL"),  # 20 degrees oblique axial
        ((1.0, 0.0, 0.0, 0.0, 0.707, 0.707), "OBLIQUE"),
        (None, "UNKNOWN"),
        ((0.0, 0.0, 0.0, 0.0, 0.0, 0.0), "UNKNOWN"),
        ((1.0, 0.0), "UNKNOWN"),
    ],
)
def test_image_plane(orientation: tuple[float, ...] | None, plane: str) -> None:
    assert image_plane(orientation) == plane


def test_series_edge_cases() -> None:
    assert classify_mr_series([]).role == "OTHER"
    assert classify_mr_series([MRImageInfo()]).role == "OTHER"
    assert mr_image_info(Dataset()) == MRImageInfo()
    result = classify_mr_series([MRImageInfo()])
    assert MRSeriesInfo.from_dict(json.loads(json.dumps(result.to_dict()))) == result
