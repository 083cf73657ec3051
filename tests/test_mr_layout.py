"""MR stacks from the index (roles, DWI per b-value, spatial order, DCE phases) and slice linking
in patient coordinates."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from auditdesk.dicom.index import import_paths
from auditdesk.reading.mr_layout import (
    HIDDEN_ROLES,
    Stack,
    build_stacks,
    default_layout,
    link_slice,
    linked_slice,
    relative_index,
    stacks_from_series,
)
from auditdesk.store.catalog import list_studies, set_override
from auditdesk.store.models import Image, Study
from mr_writer import AXIAL, write_prostate_with_localizer


@pytest.fixture
def mr_studies(db: Any, test_set: Any) -> list[tuple[Any, list[Stack], dict[int, str]]]:
    """(generated study, its stacks, Image pk -> SOP UID) for each MR study of the test set."""
    import_paths(db, [test_set.root])
    out = []
    with db.session() as session:
        for study in (s for s in test_set.studies if s.kind == "mr"):
            pk = session.scalar(select(Study.id).where(Study.study_uid == study.study_uid))
            stacks = build_stacks(session, pk)
            sops = {pk: uid for pk, uid in session.execute(select(Image.id, Image.sop_uid))}
            out.append((study, stacks, sops))
    assert len(out) == 2
    return out


def test_stacks_by_role_with_dwi_split_per_b_value(mr_studies: list) -> None:
    for study, stacks, _sops in mr_studies:
        labels = [s.label for s in stacks]
        acquired = [f"DWI b{b:g}" for b in sorted(study.truth["b_values"])]
        calculated = [f"DWI b{b:g} calc" for b in study.truth["calculated_b_values"]]
        assert labels == ["T2W", *acquired, *calculated, "ADC", "DCE"], labels
        dwi = [s for s in stacks if s.role == "DWI"]
        assert all(s.n_slices == 8 and s.n_phases == 1 for s in dwi)
        assert all({sl.b_value for sl in s.slices} == {s.b_value} for s in dwi)
        dce = next(s for s in stacks if s.role == "DCE")
        assert (dce.n_phases, dce.n_slices) == (study.truth["dce"]["time_points"], 4)
        top_b = max(study.truth["b_values"] + study.truth["calculated_b_values"])
        assert default_layout(stacks)[:4] == ["T2W", next(lb for lb in labels if f"b{top_b}" in lb),
                                              "ADC", "DCE"]  # fmt: skip


def test_slices_in_spatial_order_whatever_the_numbering(mr_studies: list) -> None:
    for study, stacks, sops in mr_studies:
        truth = {f.sop_uid: f for f in study.files}
        for stack in stacks:
            for t in range(stack.n_phases):
                files = [truth[sops[stack.slice(t, z).image_pk]] for z in range(stack.n_slices)]
                assert [f.slice_index for f in files] == list(range(stack.n_slices)), stack.label
                if stack.role == "DCE":
                    assert {f.temporal_position for f in files} == {t + 1}
            positions = stack.positions_mm
            assert positions == sorted(positions)  # type: ignore[type-var]
            if stack.role in ("T2W", "ADC"):  # the numbering really is not spatial
                numbers = [sl.instance_number for sl in stack.slices]
                assert numbers != sorted(numbers)  # type: ignore[type-var]


def test_linking_real_stacks_by_position(mr_studies: list) -> None:
    for _study, stacks, _sops in mr_studies:
        t2 = next(s for s in stacks if s.role == "T2W")
        adc = next(s for s in stacks if s.role == "ADC")
        for z in range(t2.n_slices):
            k = link_slice(t2, z, adc)
            assert k is not None
            target = t2.position_mm(z)
            best = min(abs(p - target) for p in adc.positions_mm)  # type: ignore[operator]
            assert abs(adc.position_mm(k) - target) == pytest.approx(best)  # type: ignore[operator]


# ------------------------------------------------------------------------------ synthetic
def _series(
    pk: int,
    role: str,
    positions: list[tuple[float, float, float]],
    *,
    orientation: tuple[float, ...] = AXIAL,
    spacing: tuple[float, float] = (1.0, 1.0),
    size: int = 64,
    shuffle: bool = True,
) -> tuple[Any, dict[int, dict]]:
    order = list(range(len(positions)))
    if shuffle:  # stored out of spatial order, numbered backwards
        order = order[1::2] + order[0::2]
    images, infos = [], {}
    for n, k in enumerate(order):
        image_pk = pk * 1000 + k
        images.append(
            SimpleNamespace(
                id=image_pk,
                path=f"/x/{pk}/{k}.dcm",
                archive_member=None,
                rows=size,
                columns=size,
                n_frames=1,
                lossy=False,
                instance_number=len(positions) - n,
            )
        )
        infos[image_pk] = {
            "image_position": list(positions[k]),
            "image_orientation": list(orientation),
            "pixel_spacing": list(spacing),
        }
    series = SimpleNamespace(
        id=pk, role=role, modality="MR", images=images, series_number=pk, description=role
    )
    return series, infos


def _stack(*args: Any, **kwargs: Any) -> Stack:
    series, infos = _series(*args, **kwargs)
    (stack,) = stacks_from_series([series], infos)
    return stack


def test_link_by_patient_coordinates_with_different_spacing_and_offset() -> None:
    # T2W: 3 mm slices from z=0, 256 x 0.5 mm; DWI: 4.4 mm slices from z=-6.1, 64 x 2.5 mm, shifted
    # in-plane so that its IPP differs but its centre is the same point.
    t2 = _stack(1, "T2W", [(-64.0, -64.0, 3.0 * k) for k in range(20)], spacing=(0.5, 0.5),
                size=256)  # fmt: skip
    dwi = _stack(2, "DWI", [(-80.0, -80.0, -6.1 + 4.4 * k) for k in range(16)],
                 spacing=(2.5, 2.5), size=64)  # fmt: skip
    assert [round(p, 1) for p in t2.positions_mm[:3]] == [0.0, 3.0, 6.0]
    for z in range(t2.n_slices):
        expected = min(range(dwi.n_slices), key=lambda k: abs(-6.1 + 4.4 * k - 3.0 * z))
        assert link_slice(t2, z, dwi) == expected
    # and back: DWI slice 5 at z=15.9 -> T2W slice 5 (z=15)
    assert link_slice(dwi, 5, t2) == 5
    # past the end of the destination: its last slice, not an out-of-range index
    assert link_slice(t2, 19, _stack(3, "ADC", [(0.0, 0.0, 4.0 * k) for k in range(4)])) == 3


def test_link_ignores_the_sign_of_the_normal() -> None:
    flipped = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # normal points to the feet
    a = _stack(1, "T2W", [(0.0, 0.0, 2.0 * k) for k in range(10)])
    b = _stack(2, "ADC", [(0.0, 0.0, 2.0 * k) for k in range(10)], orientation=flipped)
    assert [round(p, 3) for p in b.positions_mm] == sorted(round(p, 3) for p in b.positions_mm)
    assert [link_slice(a, z, b) for z in range(10)] == list(range(10))


def test_slightly_tilted_planes_link_through_the_centre_point() -> None:
    tilt = math.radians(6.0)  # within the 10 degree tolerance
    oblique = (1.0, 0.0, 0.0, 0.0, math.cos(tilt), math.sin(tilt))
    a = _stack(1, "T2W", [(-32.0, -32.0, 2.0 * k) for k in range(20)])
    b = _stack(2, "DWI", [(-32.0, -32.0, 2.0 * k) for k in range(20)], orientation=oblique)
    for z in range(a.n_slices):
        centre = a.slices[z].centre()
        assert centre is not None
        k = link_slice(a, z, b)
        assert k is not None
        # the linked plane passes closer to the source centre than its neighbours
        distances = [abs(float((centre - b.slices[j].centre()) @ b.normal)) for j in range(20)]
        assert distances[k] == pytest.approx(min(distances))


def test_non_parallel_planes_fall_back_to_the_relative_index() -> None:
    sagittal = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    axial = _stack(1, "T2W", [(0.0, 0.0, 3.0 * k) for k in range(21)])
    sag = _stack(2, "T2W", [(2.0 * k, 0.0, 0.0) for k in range(11)], orientation=sagittal)
    assert sag.label == "T2W sag"
    assert link_slice(axial, 10, sag) is None
    assert linked_slice(axial, 10, sag) == relative_index(axial, 10, sag) == 5
    assert linked_slice(axial, 20, sag) == 10
    assert default_layout([axial, sag])[0] == "T2W"  # axial first


def test_no_geometry_falls_back_and_keeps_instance_order() -> None:
    series, infos = _series(1, "OTHER", [(0.0, 0.0, float(k)) for k in range(5)])
    for info in infos.values():
        info.clear()
    (stack,) = stacks_from_series([series], infos)
    assert stack.n_slices == 5 and stack.normal is None
    numbers = [sl.instance_number for sl in stack.slices]
    assert numbers == sorted(numbers)  # type: ignore[type-var]
    other = _stack(2, "T2W", [(0.0, 0.0, float(k)) for k in range(9)])
    assert link_slice(other, 4, stack) is None
    assert linked_slice(other, 8, stack) == 4


def test_enhanced_mr_frames_are_ordered_and_phased_per_frame() -> None:
    """One multi-frame object: 3 positions x 2 phases, frames stored time-major, top down."""
    frame_pos = [9.0, 6.0, 3.0, 9.0, 6.0, 3.0]
    image = SimpleNamespace(
        id=1, path="/x/enh.dcm", archive_member=None, rows=32, columns=32, n_frames=6,
        lossy=True, instance_number=1,
    )  # fmt: skip
    info = {
        "image_position": [0.0, 0.0, 9.0],
        "image_orientation": list(AXIAL),
        "pixel_spacing": [1.0, 1.0],
        "frame_slice_positions": frame_pos,
        "frame_temporal_positions": [1, 1, 1, 2, 2, 2],
    }
    series = SimpleNamespace(
        id=1, role="DCE", modality="MR", images=[image], series_number=9, description="dyn"
    )
    (stack,) = stacks_from_series([series], {1: info})
    assert (stack.n_phases, stack.n_slices) == (2, 3)
    assert [round(p, 3) for p in stack.positions_mm] == [3.0, 6.0, 9.0]  # type: ignore[misc]
    assert [stack.slice(0, z).frame for z in range(3)] == [2, 1, 0]
    assert [stack.slice(1, z).frame for z in range(3)] == [5, 4, 3]
    assert stack.slice(1, 0).lossy


# ------------------------------------------------------------------------------ localizers
def test_localizer_series_get_no_stack() -> None:
    t2, t2_infos = _series(1, "T2W", [(0.0, 0.0, 3.0 * k) for k in range(5)])
    loc, loc_infos = _series(2, "LOCALIZER", [(0.0, 0.0, 10.0 * k) for k in range(3)])
    other, other_infos = _series(3, "OTHER", [(0.0, 0.0, 3.0 * k) for k in range(5)])
    stacks = stacks_from_series([loc, t2, other], {**t2_infos, **loc_infos, **other_infos})
    assert [s.label for s in stacks] == ["T2W", "OTHER"]
    assert "LOCALIZER" in HIDDEN_ROLES
    assert all("LOCALIZER" not in label for label in default_layout(stacks))


def test_indexed_localizer_is_listed_not_stacked_and_a_reviewer_can_set_or_clear_it(
    db: Any, tmp_path: Path
) -> None:
    write_prostate_with_localizer(tmp_path / "study")
    import_paths(db, [tmp_path / "study"])
    with db.session() as session:
        (study,) = list_studies(session)
        roles = {s.series_number: s.role for s in study.series}
        assert roles == {1: "LOCALIZER", 2: "T2W", 3: "OTHER"}
        loc = next(s for s in study.series if s.role == "LOCALIZER")
        assert loc.role_reasons == [
            'SeriesDescription "3-pl loc" names a localizer',
            "3 orthogonal planes in one gradient-echo series, matrix 16",
        ]
        assert [s.label for s in build_stacks(session, study.id)] == ["T2W", "OTHER"]
        t2_pk = next(s.id for s in study.series if s.role == "T2W")
    with db.transaction() as session:  # a reviewer says the T2W is a localizer
        set_override(session, target="series", target_id=t2_pk, field_name="role",
                     value="localizer", reviewer="Coach", reason="test")  # fmt: skip
    with db.session() as session:
        assert [s.label for s in build_stacks(session, study.id)] == ["OTHER"]
    with db.transaction() as session:  # and clears it again
        set_override(session, target="series", target_id=t2_pk, field_name="role", value=None,
                     reviewer="Coach")  # fmt: skip
    with db.session() as session:
        assert [s.label for s in build_stacks(session, study.id)] == ["T2W", "OTHER"]
