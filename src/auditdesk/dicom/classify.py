"""Classification from header-only datasets: mammography views and prostate MR series roles.

Core module (no Qt). Inputs are ``pydicom.dcmread(path, stop_before_pixels=True, force=True)``
datasets; pixel data is never touched. Real-world headers are messy, so nothing here raises on an
odd header: unknown values come back as None/"none" with a reason the reviewer can read, and the
reviewer can always override (the override is stored by the caller, see domain.md 7.2).

This module is the one door to the classifiers; each lives in its own module by modality:
:mod:`~auditdesk.dicom.mammo_views` (domain.md 7.1), :mod:`~auditdesk.dicom.exam_facts`
(technologist, procedure date), :mod:`~auditdesk.dicom.mr_image` and
:mod:`~auditdesk.dicom.mr_roles` (domain.md 7.2). Results are frozen dataclasses with
``to_dict``/``from_dict`` so the indexer can keep them in a JSON column and classify a series
later without re-reading files.
"""

from __future__ import annotations

from auditdesk.dicom.exam_facts import procedure_date, procedure_datetime, technologist
from auditdesk.dicom.mammo_views import VIEWS, MammoInfo, classify_mammo, is_mammography
from auditdesk.dicom.mr_image import MRImageInfo, mr_image_info
from auditdesk.dicom.mr_roles import (
    SLICE_POSITION_TOLERANCE_MM,
    MRSeriesInfo,
    classify_mr_series,
    image_plane,
    slice_order,
)

__all__ = [
    "SLICE_POSITION_TOLERANCE_MM",
    "VIEWS",
    "MRImageInfo",
    "MRSeriesInfo",
    "MammoInfo",
    "classify_mammo",
    "classify_mr_series",
    "image_plane",
    "is_mammography",
    "mr_image_info",
    "procedure_date",
    "procedure_datetime",
    "slice_order",
    "technologist",
]
