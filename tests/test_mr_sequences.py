"""Every MR sequence told apart (issue 13 point 4): FLAIR and other inversion-recovery series,
T1-weighted series and localizers are never T2W, DWI, ADC or DCE; localizers get LOCALIZER.

Each case is a series of files written with pydicom and read back as the index reads them. The
expected roles come from the sequence physics and vendor naming stated in each test (the real
Siemens FLAIR header of issue 13; PS3.3 defined terms), not from the classifier.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from auditdesk.dicom.classify import MRSeriesInfo, classify_mr_series, mr_image_info
from auditdesk.dicom.mr_roles import ROLES
from mr_writer import AXIAL, CORONAL, SAGITTAL, mr_dataset, read, write


def series(
    tmp_path: Path, n: int = 3, planes: list[tuple] | None = None, **attrs: Any
) -> MRSeriesInfo:
    """Write ``n`` slices (3 mm apart, or one per plane in ``planes``), read them back, classify."""
    study, uid = generate_uid(), generate_uid()
    folder = tmp_path / uid[-12:]
    paths = []
    for i in range(len(planes) if planes else n):
        orientation = planes[i] if planes else AXIAL
        ds = mr_dataset(study, uid, i + 1, z=3.0 * i, orientation=orientation, **attrs)
        paths.append(write(ds, folder / f"{i:03d}.dcm"))
    return classify_mr_series([mr_image_info(read(p)) for p in paths])


# ------------------------------------------------------------------------ inversion recovery
def test_issue_13_siemens_flair_is_not_t2w(tmp_path: Path) -> None:
    """The real header of issue 13: SE\\IR, TI 2500 ms, *tir2d1_19, TR 9000, TE 101, no
    description. Long TR and TE ~100 ms alone look exactly like T2W (domain.md 7.2 item 7);
    the inversion pulse makes it a FLAIR."""
    result = series(
        tmp_path, Manufacturer="SIEMENS", ScanningSequence=["SE", "IR"],
        SequenceVariant=["SK", "SP", "MP"], SequenceName="*tir2d1_19", InversionTime=2500,
        RepetitionTime=9000, EchoTime=101,
    )  # fmt: skip
    assert result.role == "OTHER"
    reasons = " | ".join(result.role_reasons)
    assert result.role_reasons[0].startswith("inversion recovery")
    assert "ScanningSequence IR\\SE includes IR" in reasons
    assert "sequence name *tir2d1_19" in reasons
    assert "Inversion Time 2500 ms" in reasons
    assert "T2W evidence overruled: spin echo, TR 9000 ms, TE 101 ms" in reasons


@pytest.mark.parametrize(
    ("attrs", "shown"),
    [
        # conflicting: the description says T2, the header says IR with a FLAIR inversion time
        (
            {
                "SeriesDescription": "  t2  tse ax ",
                "ScanningSequence": ["SE", "IR"],
                "InversionTime": 2500,
                "RepetitionTime": 9000,
                "EchoTime": 100,
            },
            "SeriesDescription names a T2 series",
        ),
        # GE: ScanningSequence SE only, the description and Inversion Time say FLAIR
        (
            {
                "Manufacturer": "GE MEDICAL SYSTEMS",
                "SeriesDescription": "Ax T2 FLAIR",
                "ScanningSequence": "SE",
                "InversionTime": 2250,
                "RepetitionTime": 9500,
                "EchoTime": 120,
            },
            "names an inversion-recovery",
        ),
        # GE "IR" protocol without inversion time
        (
            {
                "Manufacturer": "GE MEDICAL SYSTEMS",
                "SeriesDescription": "sag t2 ir",
                "ScanningSequence": "SE",
                "RepetitionTime": 6000,
                "EchoTime": 90,
            },
            "names an inversion-recovery",
        ),
        # Philips FLAIR: Scanning Sequence IR alone, lower-case description
        (
            {
                "Manufacturer": "Philips Medical Systems",
                "SeriesDescription": "flair_longtr",
                "ScanningSequence": "IR",
                "InversionTime": 2800,
                "RepetitionTime": 11000,
                "EchoTime": 125,
            },
            "ScanningSequence IR includes IR",
        ),
        # Philips STIR (short TI): the same pulse, for fat suppression; still not T2W
        (
            {
                "Manufacturer": "Philips Medical Systems",
                "SeriesDescription": "COR STIR",
                "ScanningSequence": ["SE", "IR"],
                "InversionTime": 180,
                "RepetitionTime": 5000,
                "EchoTime": 80,
            },
            "Inversion Time 180 ms",
        ),
        # Siemens TIRM in the protocol only (no series description)
        (
            {
                "Manufacturer": "SIEMENS",
                "ProtocolName": "t2_tirm_tra_dark-fluid",
                "ScanningSequence": "SE",
                "RepetitionTime": 8000,
                "EchoTime": 85,
            },
            'ProtocolName "t2_tirm_tra_dark-fluid"',
        ),
        # Siemens 3D SPACE FLAIR: only the sequence name and TI say IR
        (
            {
                "Manufacturer": "SIEMENS",
                "SequenceName": "*spcir_278ns",
                "ScanningSequence": "SE",
                "InversionTime": 1800,
                "RepetitionTime": 5000,
                "EchoTime": 390,
            },
            "sequence name *spcir_278ns",
        ),
    ],
)
def test_inversion_recovery_is_never_t2w(tmp_path: Path, attrs: dict, shown: str) -> None:
    result = series(tmp_path, **attrs)
    assert result.role == "OTHER"
    assert result.role_reasons[0].startswith("inversion recovery")
    assert shown in " | ".join(result.role_reasons)


def test_ir_diffusion_is_not_dwi_but_fat_suppressed_diffusion_is(tmp_path: Path) -> None:
    """An IR-prepared EPI with b-values (STIR diffusion) is OTHER with the DWI evidence shown;
    an EPI DWI whose only sign is a short Inversion Time (spectral fat suppression) stays DWI."""
    common = {"RepetitionTime": 4000, "EchoTime": 70, "DiffusionBValue": 800.0,
              "SeriesDescription": "ep2d_diff"}  # fmt: skip
    stir = series(tmp_path, ScanningSequence=["EP", "IR"], InversionTime=180, **common)
    assert stir.role == "OTHER"
    assert any(r.startswith("DWI evidence overruled: b-values 800") for r in stir.role_reasons)
    spair = series(tmp_path, ScanningSequence=["EP", "SE"], InversionTime=180, **common)
    assert spair.role == "DWI"
    assert spair.role_reasons[-1] == (
        "Inversion Time 180 ms without other signs of inversion recovery: fat suppression"
    )
    # a FLAIR-length TI on an EPI is an inversion pulse whatever else the series says
    flair_dwi = series(tmp_path, ScanningSequence=["EP", "SE"], InversionTime=2000, **common)
    assert flair_dwi.role == "OTHER"


def test_short_inversion_time_alone_is_fat_suppression_on_a_t2w(tmp_path: Path) -> None:
    """A T2W TSE with spectral fat suppression may carry a short TI: T2W, with a note. The same
    TI with STIR in the name is a STIR (inversion recovery)."""
    t2 = {"ScanningSequence": "SE", "RepetitionTime": 4000, "EchoTime": 100, "InversionTime": 170}
    spair = series(tmp_path, SeriesDescription="t2_tse_tra_spair", **t2)
    assert spair.role == "T2W"
    assert spair.role_reasons[-1].endswith("fat suppression")
    stir = series(tmp_path, SeriesDescription="t2_stir_tra", **t2)
    assert stir.role == "OTHER"
    assert "Inversion Time 170 ms" in stir.role_reasons


def test_zero_inversion_time_is_no_inversion(tmp_path: Path) -> None:
    """GE writes Inversion Time 0 on every series (the real GE ADC in shared/data has TI 0)."""
    result = series(
        tmp_path, ScanningSequence="SE", InversionTime=0, RepetitionTime=4000, EchoTime=100
    )
    assert result.role == "T2W"


def enhanced_flair(tmp_path: Path, per_frame_modifier: bool) -> MRSeriesInfo:
    """Enhanced MR FLAIR: Echo Pulse Sequence SPIN, MR Modifier Inversion Recovery YES with
    Inversion Times 2500 (per frame or shared), TR 9000 / TE 100 in the functional groups."""
    ds = mr_dataset(generate_uid(), generate_uid(), 1, size=8)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    for kw in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        delattr(ds, kw)
    ds.EchoPulseSequence = "SPIN"
    ds.NumberOfFrames = 3
    ds.PixelData = bytes(8 * 8 * 2 * 3)
    modifier = Dataset()
    modifier.InversionRecovery = "YES"
    modifier.InversionTimes = [2500.0]
    timing = Dataset()
    timing.RepetitionTime = 9000.0
    echo = Dataset()
    echo.EffectiveEchoTime = 100.0
    shared = Dataset()
    shared.MRTimingAndRelatedParametersSequence = Sequence([timing])
    shared.MREchoSequence = Sequence([echo])
    orient = Dataset()
    orient.ImageOrientationPatient = list(AXIAL)
    shared.PlaneOrientationSequence = Sequence([orient])
    if not per_frame_modifier:
        shared.MRModifierSequence = Sequence([modifier])
    frames = []
    for k in range(3):
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [0.0, 0.0, 5.0 * k]
        item.PlanePositionSequence = Sequence([pos])
        if per_frame_modifier:
            item.MRModifierSequence = Sequence([modifier])
        frames.append(item)
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    path = write(ds, tmp_path / f"enh_{per_frame_modifier}.dcm")
    info = mr_image_info(read(path))
    assert info.inversion_time_ms == 2500.0
    assert info.scanning_sequence == "SE\\IR"
    return classify_mr_series([info])


@pytest.mark.parametrize("per_frame", [False, True])
def test_enhanced_mr_flair(tmp_path: Path, per_frame: bool) -> None:
    result = enhanced_flair(tmp_path, per_frame)
    assert result.role == "OTHER"
    assert "Inversion Time 2500 ms" in result.role_reasons
    assert result.n_slice_positions == 3


# ------------------------------------------------------------------------ T1-weighted
@pytest.mark.parametrize(
    ("attrs", "shown"),
    [
        # "TSE" in the name would say T2W; T1 words and T1 timing say otherwise
        (
            {
                "SeriesDescription": " t1_tse_tra ",
                "ScanningSequence": "SE",
                "RepetitionTime": 600,
                "EchoTime": 12,
            },
            "T1-weighted timing: spin echo, TR 600 ms, TE 12 ms",
        ),
        (
            {
                "SeriesDescription": "AX T1 FSE FS",
                "ScanningSequence": "SE",
                "RepetitionTime": 550,
                "EchoTime": 9,
                "ScanOptions": ["FS"],
            },
            "SeriesDescription names a T1 series",
        ),
        # conflicting: the description says T2, the timing is T1
        (
            {
                "SeriesDescription": "T2 ax",
                "ScanningSequence": "SE",
                "RepetitionTime": 500,
                "EchoTime": 15,
            },
            "T2W evidence overruled: SeriesDescription names a T2 series",
        ),
        # conflicting: T2 timing but the series is called T1 -> not audited as T2W
        (
            {
                "SeriesDescription": "axt1 tse",
                "ScanningSequence": "SE",
                "RepetitionTime": 4000,
                "EchoTime": 100,
            },
            "T2W evidence overruled: spin echo, TR 4000 ms, TE 100 ms",
        ),
    ],
)
def test_t1_weighted_is_never_t2w(tmp_path: Path, attrs: dict, shown: str) -> None:
    result = series(tmp_path, **attrs)
    assert result.role == "OTHER"
    assert shown in " | ".join(result.role_reasons)


@pytest.mark.parametrize("fat_sat", [False, True])
def test_single_phase_t1_gradient_echo_is_not_dce(tmp_path: Path, fat_sat: bool) -> None:
    """One T1 VIBE with contrast (a post-contrast T1, not a dynamic series)."""
    result = series(
        tmp_path, SeriesDescription="t1_vibe_fs_tra_post" if fat_sat else "t1_vibe_tra",
        ScanningSequence="GR", RepetitionTime=4.5, EchoTime=1.9, ContrastBolusAgent="Dotarem",
    )  # fmt: skip
    assert result.role == "OTHER"
    assert "T1-weighted timing: gradient echo, TR 4.5 ms, TE 1.9 ms" in result.role_reasons


# ------------------------------------------------------------------------ localizers
@pytest.mark.parametrize(
    ("attrs", "shown"),
    [
        ({"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]}, "ImageType contains LOCALIZER"),
        ({"SeriesDescription": "  localizer  "}, 'SeriesDescription "localizer" names a localizer'),
        ({"SeriesDescription": "AAHead_Scout_64ch-head-coil"}, "names a localizer"),
        ({"SeriesDescription": "3-pl loc"}, "names a localizer"),
        ({"SeriesDescription": "3 Plane Loc FGRE"}, "names a localizer"),
        ({"SeriesDescription": "Survey"}, "names a localizer"),
        ({"ProtocolName": "scout"}, 'ProtocolName "scout" names a localizer'),
    ],
)
def test_localizers(tmp_path: Path, attrs: dict, shown: str) -> None:
    result = series(tmp_path, ScanningSequence="GR", RepetitionTime=8.6, EchoTime=4.0, **attrs)
    assert result.role == "LOCALIZER"
    assert shown in " | ".join(result.role_reasons)


def test_three_plane_low_res_gradient_echo_is_a_localizer(tmp_path: Path) -> None:
    """No words, no ImageType: an axial, a sagittal and a coronal gradient-echo image at 256
    matrix in one series can only be a localizer."""
    planes = [AXIAL, AXIAL, SAGITTAL, SAGITTAL, CORONAL]
    result = series(
        tmp_path, planes=planes, ScanningSequence="GR", RepetitionTime=7, EchoTime=3, size=256
    )
    assert result.role == "LOCALIZER"
    assert result.role_reasons == ("3 orthogonal planes in one gradient-echo series, matrix 256",)


@pytest.mark.parametrize(
    "attrs",
    [
        {"ScanningSequence": ["EP", "GR"], "size": 64},  # 3-plane EPI (not a localizer sequence)
        {"ScanningSequence": "GR", "size": 512},  # high resolution
        {"ScanningSequence": "SE", "size": 256},  # spin echo
    ],
)
def test_three_planes_without_localizer_physics_are_not_localizers(
    tmp_path: Path, attrs: dict
) -> None:
    result = series(
        tmp_path, planes=[AXIAL, SAGITTAL, CORONAL], RepetitionTime=500, EchoTime=20, **attrs
    )
    assert result.role != "LOCALIZER"


@pytest.mark.parametrize(
    "description",
    ["t2_blade_tra", "Local T2 axial", "block_t2 tse", "DWI b1400 allocated", "t2_space_cor"],
)
def test_localizer_words_need_word_boundaries(tmp_path: Path, description: str) -> None:
    result = series(tmp_path, SeriesDescription=description, ScanningSequence="SE",
                    RepetitionTime=4000, EchoTime=100)  # fmt: skip
    assert result.role == ("DWI" if "DWI" in description else "T2W")


def test_localizer_beats_every_other_rule(tmp_path: Path) -> None:
    """A localizer named after the T2W it plans is still a localizer."""
    result = series(tmp_path, SeriesDescription="loc for T2 TSE", ScanningSequence="SE",
                    RepetitionTime=4000, EchoTime=100)  # fmt: skip
    assert result.role == "LOCALIZER"


def test_roles_list_the_localizer() -> None:
    from auditdesk.store.catalog import OVERRIDABLE, ROLE_CHOICES

    assert set(ROLE_CHOICES) == set(ROLES)  # what a reviewer can set is what the classifier gives
    assert "LOCALIZER" in OVERRIDABLE["series"]["role"]


# ------------------------------------------------------------------------ T2W still found
def test_plain_t2w_is_still_t2w(tmp_path: Path) -> None:
    result = series(tmp_path, SeriesDescription="T2W_TSE_ax", ScanningSequence="SE",
                    SequenceName="*tse2d1_25", RepetitionTime=5000, EchoTime=104,
                    InversionTime=0)  # fmt: skip
    assert result.role == "T2W"
    assert result.role_reasons == (
        "spin echo, TR 5000 ms, TE 104 ms",
        "SeriesDescription names a T2 series",
    )


def test_series_indexed_with_older_mr_facts_are_read_again(db: Any, tmp_path: Path) -> None:
    """A FLAIR indexed by an older AuditDesk (no Inversion Time, no facts version, role T2W)
    is read again on the next import of the same files and becomes OTHER."""
    from sqlalchemy import select
    from sqlalchemy.orm.attributes import flag_modified

    from auditdesk.dicom.index import import_paths
    from auditdesk.dicom.mr_image import MR_FACTS_MARKER
    from auditdesk.store.models import Image, Series
    from mr_writer import write_prostate_with_localizer

    write_prostate_with_localizer(tmp_path / "study")
    assert import_paths(db, [tmp_path / "study"]).added == 11
    with db.transaction() as session:
        flair = session.scalars(select(Series).where(Series.series_number == 3)).one()
        assert flair.mr_role == "OTHER"
        flair.mr_role = "T2W"  # as the old classifier left it
        for image in session.scalars(select(Image).where(Image.series_pk == flair.id)):
            image.mr_info = {
                k: v
                for k, v in image.mr_info.items()
                if k not in (MR_FACTS_MARKER, "inversion_time_ms")
            }
            flag_modified(image, "mr_info")
    again = import_paths(db, [tmp_path / "study"])
    assert (again.updated, again.added) == (4, 0)  # exactly the FLAIR's four images
    with db.session() as session:
        flair = session.scalars(select(Series).where(Series.series_number == 3)).one()
        assert flair.mr_role == "OTHER"
        assert "Inversion Time 2500 ms" in flair.mr_info["role_reasons"]
    third = import_paths(db, [tmp_path / "study"])
    assert (third.updated, third.added) == (0, 0)
