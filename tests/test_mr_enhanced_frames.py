"""Enhanced (multi-frame) MR: temporal positions, b-values and slice positions from the
per-frame functional groups and, where Frame Content lacks them, the Dimension Index
(PS3.3 C.7.6.16 / C.7.6.17). Files written with pydicom and read back from disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from auditdesk.dicom.classify import classify_mr_series, mr_image_info
from auditdesk.dicom.enhanced_frames import STACK_STRIDE
from mr_writer import AXIAL, ENHANCED_MR_STORAGE, mr_dataset, read, write

TEMPORAL_POSITION_TIME_OFFSET = 0x0020930D
IN_STACK_POSITION = 0x00209057
STACK_ID = 0x00209056
FRAME_CONTENT = 0x00209111


def _item(**attrs: Any) -> Dataset:
    ds = Dataset()
    for k, v in attrs.items():
        setattr(ds, k, v)
    return ds


def enhanced(
    tmp_path: Path,
    frames: list[dict[str, Any]],
    dims: list[int],
    *,
    echo: str = "GRADIENT",
    tr: float = 4.0,
    te: float = 1.5,
    **attrs: Any,
) -> Path:
    """One Enhanced MR object; ``frames[i]`` holds that frame's "content" (Frame Content
    attributes), "z" (Plane Position, mm; omitted: no Plane Position) and "b"."""
    ds = mr_dataset(generate_uid(), generate_uid(), 1, size=4, **attrs)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = ENHANCED_MR_STORAGE
    for kw in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        delattr(ds, kw)
    ds.EchoPulseSequence = echo
    ds.NumberOfFrames = len(frames)
    ds.PixelData = bytes(4 * 4 * 2 * len(frames))
    ds.DimensionIndexSequence = Sequence(
        [_item(DimensionIndexPointer=d, FunctionalGroupPointer=FRAME_CONTENT) for d in dims]
    )
    shared = _item(
        MRTimingAndRelatedParametersSequence=Sequence([_item(RepetitionTime=tr)]),
        MREchoSequence=Sequence([_item(EffectiveEchoTime=te)]),
        PlaneOrientationSequence=Sequence([_item(ImageOrientationPatient=list(AXIAL))]),
        PixelMeasuresSequence=Sequence([_item(PixelSpacing=[1.0, 1.0], SliceThickness=3.0)]),
    )
    per_frame = []
    for f in frames:
        item = _item(FrameContentSequence=Sequence([_item(**f["content"])]))
        if "z" in f:
            pos = _item(ImagePositionPatient=[0.0, 0.0, f["z"]])
            item.PlanePositionSequence = Sequence([pos])
        if "b" in f:
            item.MRDiffusionSequence = Sequence([_item(DiffusionBValue=float(f["b"]))])
        per_frame.append(item)
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    return write(ds, tmp_path / f"{generate_uid()[-8:]}.dcm")


def test_dce_time_from_the_dimension_index(tmp_path: Path) -> None:
    """3 phases x 2 positions; Frame Content has no Temporal Position Index, the Dimension
    Index has a Temporal Position Time Offset dimension: its index is the phase."""
    frames = [
        {"content": {"DimensionIndexValues": [z + 1, t + 1]}, "z": 3.0 * z}
        for t in range(3)
        for z in range(2)
    ]
    path = enhanced(
        tmp_path, frames, [IN_STACK_POSITION, TEMPORAL_POSITION_TIME_OFFSET],
        ContrastBolusAgent="Gadovist", SeriesDescription="dyn",
    )  # fmt: skip
    info = mr_image_info(read(path))
    assert info.frame_temporal_positions == (1, 1, 2, 2, 3, 3)
    assert info.temporal_position == 1
    result = classify_mr_series([info])
    assert result.role == "DCE"
    assert (result.n_temporal_positions, result.n_slice_positions) == (3, 2)


def test_frame_content_wins_over_the_dimension_index(tmp_path: Path) -> None:
    frames = [
        {"content": {"TemporalPositionIndex": 7, "DimensionIndexValues": [1, 1]}, "z": 0.0},
        {"content": {"TemporalPositionIndex": 8, "DimensionIndexValues": [1, 1]}, "z": 0.0},
    ]
    path = enhanced(tmp_path, frames, [IN_STACK_POSITION, TEMPORAL_POSITION_TIME_OFFSET])
    assert mr_image_info(read(path)).frame_temporal_positions == (7, 8)


def test_dwi_without_plane_position_counts_positions_from_the_stack(tmp_path: Path) -> None:
    """4 positions x b 0/800, per-frame MR Diffusion Sequence, no Plane Position per frame:
    In-Stack Position Number places the frames (an index, never used as millimetres)."""
    frames = [
        {"content": {"StackID": "1", "InStackPositionNumber": z + 1}, "b": b}
        for b in (0, 800)
        for z in range(4)
    ]
    path = enhanced(tmp_path, frames, [], echo="SPIN", tr=4000, te=80, SeriesDescription="dwi")
    info = mr_image_info(read(path))
    assert info.frame_slice_positions == ()
    assert info.frame_stack_positions == tuple(STACK_STRIDE + z for z in (1, 2, 3, 4)) * 2
    assert info.b_values == (0.0,) * 4 + (800.0,) * 4
    result = classify_mr_series([info])
    assert (result.role, result.b_values) == ("DWI", (0.0, 800.0))
    assert result.b_value_sources == ("MRDiffusionSequence",)
    assert result.n_slice_positions == 4


def test_stack_positions_from_the_dimension_index_only(tmp_path: Path) -> None:
    """Two stacks of two slices, placed only by Dimension Index Values (Stack ID, In-Stack
    Position Number): four different places, none shared between the stacks."""
    frames = [{"content": {"DimensionIndexValues": [s, z]}} for s in (1, 2) for z in (1, 2)]
    path = enhanced(tmp_path, frames, [STACK_ID, IN_STACK_POSITION])
    info = mr_image_info(read(path))
    assert info.frame_stack_positions == (
        STACK_STRIDE + 1, STACK_STRIDE + 2, 2 * STACK_STRIDE + 1, 2 * STACK_STRIDE + 2,
    )  # fmt: skip
    assert classify_mr_series([info]).n_slice_positions == 4
