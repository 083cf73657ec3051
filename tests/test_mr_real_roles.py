"""Every MR file in shared/data keeps its series role.

The expected roles were read off the classifier on main before the localizer / inversion-recovery
/ T1 rules were added (issue 13), and checked by hand against each header (dcmread): where a
role changed on purpose (two localizers, OTHER -> LOCALIZER) the comment says why.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pydicom
import pytest

from auditdesk.dicom.classify import classify_mr_series, mr_image_info

#: (folder, first file of the series, number of files) -> role.
EXPECTED: dict[tuple[str, str, int], str] = {
    # Philips classic DWI, b 0 and 1000 in (0018,9087); ScanningSequence SE (no EP), no TI.
    ("dwi_philips_classic_one_slice", "IM_0273.dcm", 17): "DWI",
    # GE ADC map (QIN-PROSTATE), description "Apparent Diffusion Coefficient"; TI 0 (no pulse).
    ("prostate_adc_qin-prostate_ge", "000000.dcm", 20): "ADC",
    # Philips B0 field map (Enhanced, FIELD_MAP frames): GR TR 3.8 ms, one time point.
    ("enhanced_multiframe", "Philips_Achieva_dStream_IM_0027_fMAP.dcm", 1): "OTHER",
    # Siemens Vida XA10 fMRI: EPI gradient echo, 4 time points of 6 slices; not DCE, not DWI.
    ("enhanced_multiframe", "Siemens_Vida_XA10_6_1.dcm", 4): "OTHER",
    # pydicom test file without functional groups, ImageType T1.
    ("enhanced_multiframe", "emri_small.dcm", 1): "OTHER",
    # Bruker pre-clinical GR, TR 362 ms.
    ("enhanced_multiframe", "mr_brucker.dcm", 1): "OTHER",
    # Philips "Survey_MST": GR TR 15 ms, 256 matrix. Was OTHER: "Survey" is Philips' localizer,
    # so LOCALIZER (issue 13) is the right role.
    ("misc", "GH064_Philips_J2K_lossless.dcm", 1): "LOCALIZER",
    # Siemens "loc_MPR_cor" (ProtocolName "loc"), *fl3d1_ns (the AutoAlign scout sequence), an
    # MPR of the localizer. Was OTHER; LOCALIZER is right.
    ("misc", "GH1261_Siemens_JPEGLosslessSV1.dcm", 1): "LOCALIZER",
    # Philips dual-echo GR (in/opposed phase) "Liver/SpleeDUAL/ADRENA".
    ("misc", "MR-JPEGLosslessSV1_Philips.dcm", 1): "OTHER",
    # Siemens MPR of a T1 VIBE, one time point.
    ("misc", "MR-SIEMENS-DICOM-WithOverlays.dcm", 1): "OTHER",
    # Philips "T1W/SE/1024": SE TR 350 ms, TE 27 ms.
    ("misc", "MR2_J2KI.dcm", 1): "OTHER",
    # Toshiba MR_small (pydicom test file, 6 encodings of one image): SE TR 4000, TE 240.
    ("misc", "MR_small.dcm", 6): "OTHER",
}


def _series(root: Path) -> dict[tuple[str, str, int], list[pydicom.Dataset]]:
    groups: dict[tuple[str, str], list[tuple[Path, pydicom.Dataset]]] = defaultdict(list)
    for f in sorted(root.rglob("*.dcm")):
        ds = pydicom.dcmread(f, stop_before_pixels=True, force=True)
        groups[(f.parent.name, str(ds.get("SeriesInstanceUID")))].append((f, ds))
    return {
        (folder, items[0][0].name, len(items)): [ds for _f, ds in items]
        for (folder, _uid), items in groups.items()
    }


def test_every_real_mr_series_keeps_its_role(shared_data: Path) -> None:
    found = _series(shared_data / "mr")
    assert set(found) == set(EXPECTED)  # a new file in shared/data must be added here
    roles = {
        key: classify_mr_series([mr_image_info(ds) for ds in dss]) for key, dss in found.items()
    }
    assert {k: r.role for k, r in roles.items()} == EXPECTED
    for result in roles.values():
        assert result.role_reasons  # every role is shown with its evidence


@pytest.mark.parametrize("name", ["Siemens_Vida_XA10_6_1.dcm", "mr_brucker.dcm"])
def test_real_enhanced_frames_have_positions(shared_data: Path, name: str) -> None:
    ds = pydicom.dcmread(shared_data / "mr/enhanced_multiframe" / name, stop_before_pixels=True)
    info = mr_image_info(ds)
    n = int(ds.NumberOfFrames)
    assert len(info.frame_slice_positions) == n  # Plane Position per frame: mm positions
    assert len(info.frame_temporal_positions) == n
    assert info.frame_stack_positions == ()  # only filled when mm positions are missing
