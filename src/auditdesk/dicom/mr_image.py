"""MR per-image facts (classic and Enhanced MR), kept in the index so a series can be
classified later without re-reading its files."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydicom.dataset import Dataset

from auditdesk.dicom.bvalues import (
    as_float,
    as_floats,
    as_int,
    as_text,
    first_item,
    frame_b_values,
    get_value,
    sequence_items,
    siemens_csa_fields,
)
from auditdesk.dicom.enhanced_frames import (
    frame_stack_positions,
    frame_temporal_positions,
    inversion_recovery,
    inversion_time_ms,
)
from auditdesk.dicom.exam_facts import parse_datetime, parse_time
from auditdesk.dicom.header_text import DictMixin, multi_text, upper_text

# --------------------------------------------------------------------------------------------
# MR: per-image facts
# --------------------------------------------------------------------------------------------

#: Key stored in every image's ``mr_info`` with :data:`MR_FACTS_VERSION`. An image indexed with
#: an older version (or none) is read again on the next import, so facts added later reach
#: series indexed before them. 2: Inversion Time, Enhanced MR stack positions, mosaic slices.
MR_FACTS_MARKER: Final = "mr_facts_version"
MR_FACTS_VERSION: Final = 2


@dataclass(frozen=True)
class MRImageInfo(DictMixin):
    """Per-file facts needed to classify an MR series later without re-reading the file.

    For Enhanced MR (multi-frame) objects the scalar fields describe the first frame and the
    ``frame_*`` tuples hold one value per frame; for classic objects those tuples are empty.
    ``b_values`` has one value per frame when every frame has one, otherwise the frames that do.
    """

    b_values: tuple[float, ...] = ()
    b_value_source: str | None = None
    image_type: tuple[str, ...] = ()
    frame_types: tuple[str, ...] = ()
    scanning_sequence: str | None = None
    sequence_variant: str | None = None
    sequence_name: str | None = None
    series_description: str | None = None
    protocol_name: str | None = None
    manufacturer: str | None = None
    repetition_time_ms: float | None = None
    echo_time_ms: float | None = None
    flip_angle: float | None = None
    temporal_position: int | None = None
    number_of_temporal_positions: int | None = None
    temporal_resolution_ms: float | None = None
    trigger_time_ms: float | None = None
    acquisition_time: float | None = None
    contrast_agent: str | None = None
    image_position: tuple[float, ...] | None = None
    image_orientation: tuple[float, ...] | None = None
    slice_position_mm: float | None = None
    n_frames: int = 1
    instance_number: int | None = None
    pixel_spacing: tuple[float, ...] | None = None
    slice_thickness: float | None = None
    spacing_between_slices: float | None = None
    acquisition_matrix: tuple[int, ...] | None = None
    rows: int | None = None
    columns: int | None = None
    mr_acquisition_type: str | None = None
    frame_slice_positions: tuple[float, ...] = ()
    frame_temporal_positions: tuple[int, ...] = ()
    frame_acquisition_times: tuple[float, ...] = ()
    #: Inversion Time (ms), Enhanced MR: MR Modifier Sequence Inversion Times; None or 0 when
    #: the sequence has no inversion pulse (GE writes 0).
    inversion_time_ms: float | None = None
    #: Enhanced MR frames without Plane Position: place in the stack (Stack ID * 10000 +
    #: In-Stack Position Number, from Frame Content or the Dimension Index) so frames at one
    #: position can still be counted. An index, never millimetres.
    frame_stack_positions: tuple[int, ...] = ()
    #: Siemens mosaic: slices tiled in one image (CSA NumberOfImagesInMosaic); None otherwise.
    mosaic_slices: int | None = None


def _text_or_none(value: Any) -> str | None:
    text = as_text(value)
    return text or None


def _vector(value: Any, n: int) -> tuple[float, ...] | None:
    nums = as_floats(value)
    return tuple(nums) if nums is not None and len(nums) == n else None


def plane_normal(orientation: Sequence[float] | None) -> tuple[float, float, float] | None:
    if orientation is None or len(orientation) != 6:
        return None
    r = orientation[:3]
    c = orientation[3:]
    n = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
    norm = math.sqrt(sum(x * x for x in n))
    if not norm or not math.isfinite(norm):
        return None
    return (n[0] / norm, n[1] / norm, n[2] / norm)


def _slice_position(
    position: Sequence[float] | None, orientation: Sequence[float] | None
) -> float | None:
    normal = plane_normal(orientation)
    if position is None or normal is None or len(position) != 3:
        return None
    return float(sum(p * n for p, n in zip(position, normal, strict=True)))


def _seconds(t: dt.time | None) -> float | None:
    if t is None:
        return None
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _datetime_seconds(value: Any) -> float | None:
    whole = parse_datetime(value)
    return _seconds(whole.time()) if whole is not None else None


def _fg(item: Dataset | None, shared: Dataset | None, keyword: str) -> Dataset | None:
    """A functional-group macro item: per-frame first, then shared (PS3.3 C.7.6.16)."""
    return first_item(item, keyword) or first_item(shared, keyword)


def _enhanced_scanning_sequence(
    ds: Dataset, first: Dataset | None, shared: Dataset | None
) -> str | None:
    """Scanning Sequence equivalent for Enhanced MR, which codes it differently:
    Echo Pulse Sequence SPIN/GRADIENT/BOTH -> SE/GR, Echo Planar Pulse Sequence YES -> EP,
    MR Modifier Inversion Recovery YES -> IR."""
    parts: list[str] = []
    if upper_text(get_value(ds, "EchoPlanarPulseSequence")) == "YES":
        parts.append("EP")
    echo = upper_text(get_value(ds, "EchoPulseSequence"))
    if echo in ("SPIN", "BOTH"):
        parts.append("SE")
    if echo in ("GRADIENT", "BOTH"):
        parts.append("GR")
    if inversion_recovery(first, shared):
        parts.append("IR")
    return "\\".join(parts) or None


def _contrast_agent(ds: Dataset) -> str | None:
    agent = _text_or_none(get_value(ds, "ContrastBolusAgent"))
    if agent:
        return agent
    item = first_item(ds, "ContrastBolusAgentSequence")
    return _text_or_none(get_value(item, "CodeMeaning")) if item is not None else None


def _mosaic_slices(ds: Dataset) -> int | None:
    """Slices tiled in a Siemens mosaic image (CSA NumberOfImagesInMosaic; the image's own
    position describes the whole tile, not one slice); None for ordinary images."""
    items = siemens_csa_fields(ds).get("NumberOfImagesInMosaic")
    n = as_int(items[0]) if items else None
    return n if n is not None and n > 0 else None


def mr_image_info(ds: Dataset) -> MRImageInfo:
    """Collect the facts :func:`~auditdesk.dicom.mr_roles.classify_mr_series` needs from one MR
    header. Never raises."""
    try:
        return _mr_image_info(ds)
    except Exception:
        return MRImageInfo()


def _mr_image_info(ds: Dataset) -> MRImageInfo:
    shared = first_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = sequence_items(ds, "PerFrameFunctionalGroupsSequence")
    first = per_frame[0] if per_frame else None

    b_list, b_source = frame_b_values(ds)
    b_values = tuple(b for b in b_list if b is not None)

    frame_types: list[str] = []
    for item in [shared, *per_frame]:
        ft = first_item(item, "MRImageFrameTypeSequence")
        for token in multi_text(get_value(ft, "FrameType")):
            if token and token not in frame_types:
                frame_types.append(token)

    timing = _fg(first, shared, "MRTimingAndRelatedParametersSequence")
    echo = _fg(first, shared, "MREchoSequence")
    measures = _fg(first, shared, "PixelMeasuresSequence")

    scanning = "\\".join(t for t in multi_text(get_value(ds, "ScanningSequence")) if t) or None
    if scanning is None and per_frame:
        scanning = _enhanced_scanning_sequence(ds, first, shared)

    position = _vector(get_value(ds, "ImagePositionPatient"), 3)
    if position is None:
        position = _vector(
            get_value(_fg(first, shared, "PlanePositionSequence"), "ImagePositionPatient"), 3
        )
    orientation = _vector(get_value(ds, "ImageOrientationPatient"), 6)
    if orientation is None:
        orientation = _vector(
            get_value(_fg(first, shared, "PlaneOrientationSequence"), "ImageOrientationPatient"), 6
        )
    slice_pos = _slice_position(position, orientation)
    if slice_pos is None:
        slice_pos = as_float(get_value(ds, "SliceLocation"))

    frame_positions: list[float] = []
    frame_times: list[float] = []
    for item in per_frame:
        pos = _vector(
            get_value(_fg(item, shared, "PlanePositionSequence"), "ImagePositionPatient"), 3
        )
        ori = _vector(
            get_value(_fg(item, shared, "PlaneOrientationSequence"), "ImageOrientationPatient"), 6
        )
        sp = _slice_position(pos, ori)
        if sp is not None:
            frame_positions.append(sp)
        fc = first_item(item, "FrameContentSequence")
        secs = _datetime_seconds(get_value(fc, "FrameAcquisitionDateTime"))
        if secs is not None:
            frame_times.append(secs)
    # Per-frame tuples are only useful when complete (aligned with the frames).
    n_pf = len(per_frame)
    frame_positions = frame_positions if len(frame_positions) == n_pf else []
    frame_temporal = frame_temporal_positions(ds, per_frame)
    stack_positions = frame_stack_positions(ds, per_frame) if not frame_positions else []
    frame_times = frame_times if len(frame_times) == n_pf else []

    temporal_position = as_int(get_value(ds, "TemporalPositionIdentifier"))
    if temporal_position is None and frame_temporal:
        temporal_position = frame_temporal[0]
    acq_time = _seconds(parse_time(get_value(ds, "AcquisitionTime")))
    if acq_time is None:
        acq_time = _datetime_seconds(get_value(ds, "AcquisitionDateTime"))
    if acq_time is None and frame_times:
        acq_time = frame_times[0]

    matrix_values = as_floats(get_value(ds, "AcquisitionMatrix"))
    matrix = (
        tuple(int(v) for v in matrix_values)
        if matrix_values is not None and len(matrix_values) == 4
        else None
    )
    n_frames = n_pf or as_int(get_value(ds, "NumberOfFrames")) or 1

    def first_float(*candidates: Any) -> float | None:
        for c in candidates:
            f = as_float(c)
            if f is not None:
                return f
        return None

    return MRImageInfo(
        b_values=b_values,
        b_value_source=b_source,
        image_type=multi_text(get_value(ds, "ImageType")),
        frame_types=tuple(frame_types),
        scanning_sequence=scanning,
        sequence_variant="\\".join(t for t in multi_text(get_value(ds, "SequenceVariant")) if t)
        or None,
        sequence_name=_text_or_none(get_value(ds, "SequenceName"))
        or _text_or_none(get_value(ds, "PulseSequenceName")),
        series_description=_text_or_none(get_value(ds, "SeriesDescription")),
        protocol_name=_text_or_none(get_value(ds, "ProtocolName")),
        manufacturer=_text_or_none(get_value(ds, "Manufacturer")),
        repetition_time_ms=first_float(
            get_value(ds, "RepetitionTime"), get_value(timing, "RepetitionTime")
        ),
        echo_time_ms=first_float(get_value(ds, "EchoTime"), get_value(echo, "EffectiveEchoTime")),
        flip_angle=first_float(get_value(ds, "FlipAngle"), get_value(timing, "FlipAngle")),
        temporal_position=temporal_position,
        number_of_temporal_positions=as_int(get_value(ds, "NumberOfTemporalPositions")),
        temporal_resolution_ms=as_float(get_value(ds, "TemporalResolution")),
        trigger_time_ms=as_float(get_value(ds, "TriggerTime")),
        acquisition_time=acq_time,
        contrast_agent=_contrast_agent(ds),
        image_position=position,
        image_orientation=orientation,
        slice_position_mm=slice_pos,
        n_frames=max(1, n_frames),
        instance_number=as_int(get_value(ds, "InstanceNumber")),
        pixel_spacing=_vector(get_value(ds, "PixelSpacing"), 2)
        or _vector(get_value(measures, "PixelSpacing"), 2),
        slice_thickness=first_float(
            get_value(ds, "SliceThickness"), get_value(measures, "SliceThickness")
        ),
        spacing_between_slices=first_float(
            get_value(ds, "SpacingBetweenSlices"), get_value(measures, "SpacingBetweenSlices")
        ),
        acquisition_matrix=matrix,
        rows=as_int(get_value(ds, "Rows")),
        columns=as_int(get_value(ds, "Columns")),
        mr_acquisition_type=_text_or_none(upper_text(get_value(ds, "MRAcquisitionType"))),
        frame_slice_positions=tuple(frame_positions),
        frame_temporal_positions=tuple(frame_temporal),
        frame_acquisition_times=tuple(frame_times),
        inversion_time_ms=inversion_time_ms(ds, first, shared),
        frame_stack_positions=tuple(stack_positions),
        mosaic_slices=_mosaic_slices(ds),
    )
