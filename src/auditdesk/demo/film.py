"""A digitised film-screen 4-view exam written the way public film archives store it.

Each image is a Secondary Capture with Conversion Type WSD and Body Part BREAST, has its own
Study Instance UID, keeps the view only in a one-value Patient Orientation ("CC", "MLO") and
the side only in the Patient ID text ("P_00001_LEFT_CC"); no View Code Sequence, no View
Position, no Image Laterality, no detector tags. The first image has a digitiser Pixel Spacing,
the others none. Tests use it for view sources, calibration and study grouping (issue 13).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np

from auditdesk.demo.headers import new_dataset, write_dataset

SECONDARY_CAPTURE: Final = "1.2.840.10008.5.1.4.1.1.7"
FILM_VIEWS: Final = (("RIGHT", "CC"), ("LEFT", "CC"), ("RIGHT", "MLO"), ("LEFT", "MLO"))
FILM_UID_ROOT: Final = "1.2.826.0.1.3680043.10.1313"


def write_film_exam(folder: Path, patient: str = "P_00001", index: int = 1) -> list[Path]:
    """Write the four films (16 x 16 pixels each) into ``folder``; returns their paths.

    ``index`` keeps the UIDs of several exams apart."""
    paths = []
    for n, (side, view) in enumerate(FILM_VIEWS, start=1):
        uid = f"{FILM_UID_ROOT}.{index}.{n}"
        ds = new_dataset(SECONDARY_CAPTURE, uid + ".3")
        ds.Modality = "MG"
        ds.ConversionType = "WSD"
        ds.BodyPartExamined = "BREAST"
        ds.PatientID = f"{patient}_{side}_{view}"
        ds.PatientOrientation = view
        ds.StudyInstanceUID = uid + ".1"
        ds.SeriesInstanceUID = uid + ".2"
        ds.StudyDate = "19980312"
        if n == 1:
            ds.PixelSpacing = [0.05, 0.05]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ds.Columns = 16
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        path = folder / f"film{index}_{n}.dcm"
        write_dataset(ds, np.full((16, 16), 100 * n, dtype=np.uint16), path)
        paths.append(path)
    return paths
