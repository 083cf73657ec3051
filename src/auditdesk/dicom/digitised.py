"""Digitised film-screen mammograms: a film scanned into DICOM, not a detector image.

Public archives (and old priors at every site) hold film mammograms scanned by a digitiser and
stored as Secondary Capture or as MG with a Conversion Type (0008,0064) of WSD (workstation),
DF (digitised film) or DV (digitised video). They have no detector, so no Imager Pixel Spacing:
any Pixel Spacing is the digitiser's sampling of the film, which is magnified like a detector
image but was never measured at a detector. The calibration must say so
(:mod:`auditdesk.dicom.calibration`), and the classifier counts them as mammograms.
"""

from __future__ import annotations

from typing import Final

from pydicom.dataset import Dataset

from auditdesk.dicom.bvalues import as_text, get_value

#: Conversion Types of scanned or captured images (PS3.3 C.8.6.1, Defined Terms).
DIGITISED_CONVERSION_TYPES: Final = frozenset({"WSD", "DF", "DV"})
SECONDARY_CAPTURE_PREFIX: Final = "1.2.840.10008.5.1.4.1.1.7"
#: Attributes only a real detector writes; any of them means the image is not a scanned film.
DETECTOR_TAGS: Final = (
    "ImagerPixelSpacing",
    "DetectorType",
    "DetectorID",
    "DetectorConfiguration",
    "DetectorDescription",
)


def is_digitised_film(ds: Dataset) -> bool:
    """True for a scanned breast film: Secondary Capture or MG, Conversion Type WSD/DF/DV,
    Body Part Examined BREAST and none of the detector attributes. Never raises."""
    try:
        sop = as_text(get_value(ds, "SOPClassUID"))
        modality = as_text(get_value(ds, "Modality")).upper()
        if not (sop.startswith(SECONDARY_CAPTURE_PREFIX) or modality == "MG"):
            return False
        if as_text(get_value(ds, "ConversionType")).upper() not in DIGITISED_CONVERSION_TYPES:
            return False
        if as_text(get_value(ds, "BodyPartExamined")).upper() != "BREAST":
            return False
        return not any(get_value(ds, tag) not in (None, "") for tag in DETECTOR_TAGS)
    except Exception:
        return False
