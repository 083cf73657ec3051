"""Acquired in-plane MR resolution from the header, checked against hand computation.

Formula (DICOM PS3.3 C.8.3.1 definitions, see ``auditdesk.dicom.acquired``):
FOV_freq = reconstructed extent along the frequency axis,
FOV_phase = FOV_freq x PercentPhaseFOV / 100,
acquired pixel = FOV / acquired matrix along each direction. Pixel Spacing alone is never used.
"""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from auditdesk.checklists import NOT_DETERMINABLE, load_all, score
from auditdesk.dicom.acquired import AcquiredResolution, acquired_resolution, encoding_tags
from auditdesk.reading.auditing import _fov_facts

# Phase along the columns (vertical), 75 % phase FOV, rectangular reconstruction:
# width = 320 x 0.5625 = 180 mm (frequency), FOV_phase = 180 x 0.75 = 135 mm (= 240 x 0.5625).
# Acquired: frequency 180 / 384 = 0.46875 mm, phase 135 / 192 = 0.703125 mm.
# Pixel Spacing (0.5625 mm) would wrongly pass the 0.7 mm phase limit.
COL_75 = {
    "rows": 240,
    "columns": 320,
    "pixel_spacing": [0.5625, 0.5625],
    "acquisition_matrix": [0, 384, 192, 0],
    "phase_direction": "COL",
    "percent_phase_fov": 75.0,
    "percent_sampling": 100.0,
}
# Phase along the rows (horizontal), 80 % phase FOV:
# height = 320 x 0.5 = 160 mm (frequency), FOV_phase = 160 x 0.8 = 128 mm (= 256 x 0.5).
# Acquired: frequency 160 / 400 = 0.4 mm, phase 128 / 256 = 0.5 mm.
ROW_80 = {
    "rows": 320,
    "columns": 256,
    "pixel_spacing": [0.5, 0.5],
    "acquisition_matrix": [400, 0, 0, 256],
    "phase_direction": "ROW",
    "percent_phase_fov": 80.0,
    "percent_sampling": 80.0,
}
# Square reconstruction (zero-filled to 512 x 512) of an 80 % phase FOV, phase vertical:
# width = 512 x 0.3515625 = 180 mm, FOV_phase = 144 mm; frequency 180 / 448 = 0.40178571 mm,
# phase 144 / 224 = 0.64285714 mm (the reconstructed 180 mm extent would give 0.80357 mm).
SQUARE_80 = {
    "rows": 512,
    "columns": 512,
    "pixel_spacing": [0.3515625, 0.3515625],
    "acquisition_matrix": [0, 448, 224, 0],
    "phase_direction": "COL",
    "percent_phase_fov": 80.0,
    "percent_sampling": 100.0,
}


@pytest.mark.parametrize(
    ("info", "fov_freq", "fov_phase", "freq_mm", "phase_mm"),
    [
        (COL_75, 180.0, 135.0, 0.46875, 0.703125),
        (ROW_80, 160.0, 128.0, 0.4, 0.5),
        (SQUARE_80, 180.0, 144.0, 0.40178571, 0.64285714),
    ],
)
def test_hand_computed_acquired_resolution(
    info: dict, fov_freq: float, fov_phase: float, freq_mm: float, phase_mm: float
) -> None:
    found = acquired_resolution(info)
    assert isinstance(found, AcquiredResolution)
    assert found.fov_freq_mm == pytest.approx(fov_freq)
    assert found.fov_phase_mm == pytest.approx(fov_phase)
    assert found.freq_mm == pytest.approx(freq_mm, abs=1e-8)
    assert found.phase_mm == pytest.approx(phase_mm, abs=1e-8)


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        ("phase_direction", "In-plane Phase Encoding Direction (0018,1312) missing"),
        ("percent_phase_fov", "Percent Phase Field of View (0018,0094) missing"),
        ("acquisition_matrix", "Acquisition Matrix (0018,1310) missing"),
        ("pixel_spacing", "Pixel Spacing (0028,0030) missing"),
        ("rows", "Pixel Spacing (0028,0030) missing"),
    ],
)
def test_missing_tags_are_not_determinable(drop: str, reason: str) -> None:
    info = {k: v for k, v in COL_75.items() if k != drop}
    assert reason in str(acquired_resolution(info))
    assert _fov_facts("T2W", info) == {}


def test_matrix_that_contradicts_the_phase_direction_is_not_determinable() -> None:
    info = dict(COL_75, phase_direction="ROW")  # matrix says frequency across the columns
    assert "does not match" in str(acquired_resolution(info))


def test_pi_qual_v1_uses_the_acquired_value() -> None:
    v1 = load_all(include_site=False).get("pi-qual-v1")
    assert v1 is not None
    result = score(v1, {}, facts=_fov_facts("T2W", COL_75))
    assert result.computed["T2W:inplane_phase"]["value"] == "fail"  # 0.703125 > 0.7
    assert result.computed["T2W:inplane_freq"]["value"] == "fail"  # 0.46875 > 0.4
    result = score(v1, {}, facts=_fov_facts("T2W", ROW_80))
    assert result.computed["T2W:inplane_phase"]["value"] == "pass"  # 0.5 <= 0.7
    assert result.computed["T2W:inplane_freq"]["value"] == "pass"  # 0.4 <= 0.4
    missing = {k: v for k, v in ROW_80.items() if k != "percent_phase_fov"}
    result = score(v1, {}, facts=_fov_facts("T2W", missing))
    assert result.computed["T2W:inplane_phase"]["value"] == NOT_DETERMINABLE
    assert result.computed["T2W:inplane_freq"]["value"] == NOT_DETERMINABLE


def test_encoding_tags_classic_and_enhanced() -> None:
    ds = Dataset()
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.PercentPhaseFieldOfView = "80"
    ds.PercentSampling = "90"
    assert encoding_tags(ds) == {
        "phase_direction": "ROW",
        "percent_phase_fov": 80.0,
        "percent_sampling": 90.0,
        "acquisition_steps": None,
        "encoding_tags_read": True,
    }
    geometry = Dataset()
    geometry.InPlanePhaseEncodingDirection = "COL"
    geometry.PercentPhaseFieldOfView = 75.0
    geometry.PercentSampling = 100.0
    geometry.MRAcquisitionFrequencyEncodingSteps = 384
    geometry.MRAcquisitionPhaseEncodingStepsInPlane = 192
    shared = Dataset()
    shared.MRFOVGeometrySequence = Sequence([geometry])
    enhanced = Dataset()
    enhanced.SharedFunctionalGroupsSequence = Sequence([shared])
    tags = encoding_tags(enhanced)
    assert tags == {
        "phase_direction": "COL",
        "percent_phase_fov": 75.0,
        "percent_sampling": 100.0,
        "acquisition_steps": [384, 192],
        "encoding_tags_read": True,
    }
    # Enhanced MR has no Acquisition Matrix: the step counts stand in for it.
    info = {**{k: v for k, v in COL_75.items() if k != "acquisition_matrix"}, **tags}
    found = acquired_resolution(info)
    assert isinstance(found, AcquiredResolution)
    assert found.phase_mm == pytest.approx(0.703125)
    assert encoding_tags(Dataset())["phase_direction"] is None


def test_mr_images_indexed_without_the_tags_are_read_again(db, test_set) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm.attributes import flag_modified

    from auditdesk.dicom.index import import_paths
    from auditdesk.store.models import Image, Series

    first = import_paths(db, [test_set.root])
    assert first.added > 0
    # Make every T2W image look as an older AuditDesk indexed it: no phase-encoding tags.
    with db.transaction() as session:
        images = session.scalars(
            select(Image).join(Series, Image.series_pk == Series.id).where(Series.mr_role == "T2W")
        ).all()
        assert images
        for image in images:
            image.mr_info = {
                k: v
                for k, v in image.mr_info.items()
                if k not in ("phase_direction", "percent_phase_fov", "encoding_tags_read")
            }
            flag_modified(image, "mr_info")
        stripped = len(images)
    again = import_paths(db, [test_set.root])
    assert again.updated == stripped  # exactly the stripped images were read again
    assert again.added == 0
    with db.session() as session:
        infos = session.scalars(
            select(Image.mr_info)
            .join(Series, Image.series_pk == Series.id)
            .where(Series.mr_role == "T2W")
        ).all()
    assert all(info["phase_direction"] in ("ROW", "COL") for info in infos)
    third = import_paths(db, [test_set.root])
    assert third.updated == 0 and third.added == 0  # nothing stale is left
