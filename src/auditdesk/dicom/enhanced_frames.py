"""Enhanced (multi-frame) MR: where each frame sits in time and in the stack, and whether the
sequence has an inversion pulse, from the functional groups and the Dimension Index.

An Enhanced MR object says where a frame belongs in two ways (PS3.3 C.7.6.16 Multi-frame
Functional Groups, C.7.6.17 Multi-frame Dimension): Frame Content (0020,9111) holds Temporal
Position Index, Stack ID and In-Stack Position Number per frame, and the Dimension Index Sequence
(0020,9222) names the attributes that vary between frames, each frame's Dimension Index Values
(0020,9157) giving its index along every dimension. Vendors fill one, the other or both: the
Frame Content values are read first and the Dimension Index fills what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pydicom.dataset import Dataset

from auditdesk.dicom.bvalues import as_float, as_floats, as_int, first_item, get_value
from auditdesk.dicom.header_text import upper_text

#: Dimension Index Pointers that mean "time": Temporal Position Index (0020,9128), Temporal
#: Position Time Offset (0020,930D), Frame Acquisition DateTime (0018,9074), Nominal Cardiac
#: Trigger Delay Time (0020,9153).
TEMPORAL_POINTERS: Final = (0x00209128, 0x0020930D, 0x00189074, 0x00209153)
#: Dimension Index Pointers that mean "place in the stack": In-Stack Position Number
#: (0020,9057), Image Position (Patient) (0020,0032).
STACK_POINTERS: Final = (0x00209057, 0x00200032)
_STACK_ID: Final = 0x00209056

#: Frames of different stacks get positions this far apart so they never share one.
STACK_STRIDE: Final = 10_000


def _frame_content(item: Dataset) -> Dataset | None:
    return first_item(item, "FrameContentSequence")


def _pointer_index(ds: Dataset, pointers: Sequence[int]) -> int | None:
    """Position in Dimension Index Values of the first dimension whose pointer is in
    ``pointers`` (in the order given), or None."""
    dims = get_value(ds, "DimensionIndexSequence")
    if not dims:
        return None
    try:
        found = [int(get_value(d, "DimensionIndexPointer") or -1) for d in dims]
    except (TypeError, ValueError):
        return None
    for pointer in pointers:
        if pointer in found:
            return found.index(pointer)
    return None


def _dimension_values(ds: Dataset, per_frame: Sequence[Dataset], k: int) -> list[int] | None:
    """Every frame's k-th Dimension Index Value, or None if any frame lacks it."""
    out: list[int] = []
    for item in per_frame:
        values = as_floats(get_value(_frame_content(item), "DimensionIndexValues"))
        if values is None or len(values) <= k:
            return None
        out.append(int(values[k]))
    return out


def frame_temporal_positions(ds: Dataset, per_frame: Sequence[Dataset]) -> list[int]:
    """Temporal position of every frame: Frame Content Temporal Position Index, else the
    Dimension Index value along a time dimension; [] when neither covers every frame."""
    if not per_frame:
        return []
    direct = [
        as_int(get_value(_frame_content(item), "TemporalPositionIndex")) for item in per_frame
    ]
    if all(v is not None for v in direct):
        return [int(v) for v in direct if v is not None]
    k = _pointer_index(ds, TEMPORAL_POINTERS)
    if k is None:
        return []
    return _dimension_values(ds, per_frame, k) or []


def frame_stack_positions(ds: Dataset, per_frame: Sequence[Dataset]) -> list[int]:
    """Place of every frame in its stack (Stack ID * :data:`STACK_STRIDE` + In-Stack Position
    Number), from Frame Content, else the Dimension Index; [] when not every frame has one.
    Used only when frames carry no Plane Position (an index, not millimetres)."""
    if not per_frame:
        return []
    out: list[int] = []
    for item in per_frame:
        fc = _frame_content(item)
        pos = as_int(get_value(fc, "InStackPositionNumber"))
        if pos is None:
            break
        stack = as_int(get_value(fc, "StackID")) or 0
        out.append(stack * STACK_STRIDE + pos)
    if len(out) == len(per_frame):
        return out
    k = _pointer_index(ds, STACK_POINTERS)
    if k is None:
        return []
    values = _dimension_values(ds, per_frame, k)
    if values is None:
        return []
    s = _pointer_index(ds, (_STACK_ID,))
    stacks = _dimension_values(ds, per_frame, s) if s is not None else None
    if stacks is None:
        return values
    return [st * STACK_STRIDE + v for st, v in zip(stacks, values, strict=True)]


def _modifier(first: Dataset | None, shared: Dataset | None) -> Dataset | None:
    return first_item(first, "MRModifierSequence") or first_item(shared, "MRModifierSequence")


def inversion_recovery(first: Dataset | None, shared: Dataset | None) -> bool:
    """MR Modifier Sequence Inversion Recovery (0018,9009) = YES (per-frame, then shared)."""
    return upper_text(get_value(_modifier(first, shared), "InversionRecovery")) == "YES"


def inversion_time_ms(ds: Dataset, first: Dataset | None, shared: Dataset | None) -> float | None:
    """Inversion Time (0018,0082), or the first Inversion Times (0018,9079) of the MR Modifier
    Sequence (Enhanced MR)."""
    ti = as_float(get_value(ds, "InversionTime"))
    if ti is not None:
        return ti
    times = as_floats(get_value(_modifier(first, shared), "InversionTimes"))
    return float(times[0]) if times else None
