"""MR study layout (no Qt): the stacks a reader scrolls through, and slice linking between them.

A prostate MR study is read as stacks, not series: T2W, ADC and DCE are one stack each, but a DWI
series holds every b-value at every position, so it becomes one stack per b-value ("DWI b800").
Slices are ordered by their position along the plane normal, never by Instance Number or file
name (scanners number DWI b-major, ADC interleaved, ...). A DCE stack has a time dimension:
``slice(t, z)`` is phase ``t`` at position ``z``.

Slice linking works in patient coordinates: the destination slice is the one nearest to the
source slice's centre point, measured along the destination normal, so stacks with different
slice spacing, offset or count still show the same anatomy. Oblique stacks (normals more than
:data:`MAX_LINK_ANGLE_DEG` apart) or missing geometry fall back to the same relative index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.dicom.bvalues import normalise_b_value
from auditdesk.dicom.classify import SLICE_POSITION_TOLERANCE_MM, image_plane
from auditdesk.dicom.sources import Location
from auditdesk.store.catalog import SeriesSummary, get_study
from auditdesk.store.models import Image

__all__ = [
    "HIDDEN_ROLES",
    "MAX_LINK_ANGLE_DEG",
    "ROLE_ORDER",
    "Slice",
    "Stack",
    "build_stacks",
    "default_layout",
    "link_slice",
    "linked_slice",
    "relative_index",
    "stacks_from_series",
]

#: Planes whose normals differ by more than this are not linked by position (an oblique T2W
#: against an axial DWI would jump between far-apart slices).
MAX_LINK_ANGLE_DEG: Final = 10.0

#: Reading order of the roles (stack picker, default layout).
ROLE_ORDER: Final = ("T2W", "DWI", "ADC", "DCE", "OTHER")

#: Roles never offered as a stack (picker, default layout): a localizer is listed in the study
#: tree with its reason, but nobody reads or audits it.
HIDDEN_ROLES: Final = frozenset({"LOCALIZER"})

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class Slice:
    """One displayable frame with the geometry needed to link it to other stacks."""

    location: Location
    frame: int
    image_pk: int
    position: Vec | None  # Image Position (Patient) of the first pixel (IPP)
    orientation: tuple[float, ...] | None  # Image Orientation (Patient): row then column cosines
    pixel_spacing: tuple[float, float] | None  # (between rows, between columns) in mm
    rows: int | None
    columns: int | None
    temporal_position: int | None = None
    b_value: float | None = None
    instance_number: int | None = None
    lossy: bool = False

    @property
    def key(self) -> tuple[Location, int]:
        """What a decoded copy of this slice is cached under."""
        return (self.location, self.frame)

    @property
    def normal(self) -> np.ndarray | None:
        return _normal(self.orientation)

    def centre(self) -> np.ndarray | None:
        """Patient coordinates (mm) of the image centre; IPP alone without spacing/size."""
        if self.position is None:
            return None
        ipp = np.asarray(self.position, dtype=float)
        if (
            self.orientation is None
            or self.pixel_spacing is None
            or not self.rows
            or not self.columns
        ):
            return ipp
        row_dir = np.asarray(self.orientation[:3], dtype=float)  # along a row: column index
        col_dir = np.asarray(self.orientation[3:], dtype=float)  # down a column: row index
        dr, dc = self.pixel_spacing
        return ipp + row_dir * dc * (self.columns - 1) / 2.0 + col_dir * dr * (self.rows - 1) / 2.0


@dataclass(eq=False)
class Stack:
    """Slices of one series (one b-value for DWI) in spatial order, with phases for DCE.

    ``phases[t][z]``: every phase has the same positions; a position missing in one phase is
    filled with that position's slice from the nearest phase that has it.
    """

    role: str
    label: str
    series_pk: int
    phases: list[list[Slice]]
    series_number: int | None = None
    description: str | None = None
    b_value: float | None = None
    calculated: bool = False
    normal: np.ndarray | None = field(default=None, repr=False)
    positions_mm: list[float | None] = field(default_factory=list)

    @property
    def n_slices(self) -> int:
        return len(self.phases[0]) if self.phases else 0

    @property
    def n_phases(self) -> int:
        return len(self.phases)

    @property
    def slices(self) -> list[Slice]:
        """The first phase (all slices of a stack without a time dimension)."""
        return self.phases[0] if self.phases else []

    def slice(self, t: int, z: int) -> Slice:
        """Phase ``t`` at position ``z`` (both clamped to the stack)."""
        t = min(max(t, 0), self.n_phases - 1)
        z = min(max(z, 0), self.n_slices - 1)
        return self.phases[t][z]

    def position_mm(self, z: int) -> float | None:
        """Slice position along the stack normal (mm), for the overlay."""
        if 0 <= z < len(self.positions_mm):
            return self.positions_mm[z]
        return None


# ------------------------------------------------------------------------------ geometry
def _normal(orientation: tuple[float, ...] | None) -> np.ndarray | None:
    if orientation is None or len(orientation) != 6:
        return None
    n = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    norm = float(np.linalg.norm(n))
    if not norm or not math.isfinite(norm):
        return None
    return n / norm


def _canonical(normal: np.ndarray) -> np.ndarray:
    """The normal pointing along the positive dominant axis, so every stack of a study scrolls
    the same way (feet to head for axial) whatever the sign of its row/column cosines."""
    axis = int(np.argmax(np.abs(normal)))
    return normal if normal[axis] >= 0 else -normal


def _vec(value: Any, n: int) -> tuple[float, ...] | None:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        return None
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


# ------------------------------------------------------------------------------ building
def _frames(img: Any, info: dict[str, Any]) -> list[Slice]:
    """One Slice per frame; Enhanced MR frames placed by their stored positions along the normal
    (only the first frame's IPP is indexed, so frames are assumed stacked along the normal)."""
    position = _vec(info.get("image_position"), 3)
    orientation = _vec(info.get("image_orientation"), 6)
    spacing = _vec(info.get("pixel_spacing"), 2)
    n_frames = max(1, int(img.n_frames or info.get("n_frames") or 1))
    b_list = [v for v in (info.get("b_values") or []) if v is not None]
    temporal = info.get("temporal_position")
    frame_pos = list(info.get("frame_slice_positions") or [])
    frame_tp = list(info.get("frame_temporal_positions") or [])
    normal = _normal(orientation)
    common = {
        "location": Location(img.path, img.archive_member),
        "image_pk": img.id,
        "orientation": orientation,
        "pixel_spacing": (spacing[0], spacing[1]) if spacing else None,
        "rows": img.rows or info.get("rows"),
        "columns": img.columns or info.get("columns"),
        "instance_number": img.instance_number,
        "lossy": bool(img.lossy),
    }
    out = []
    for f in range(n_frames):
        pos = position
        if (
            f
            and position is not None
            and normal is not None
            and len(frame_pos) == n_frames
            and frame_pos[0] is not None
        ):
            shift = float(frame_pos[f]) - float(frame_pos[0])
            pos = tuple(float(v) for v in np.asarray(position) + normal * shift)  # type: ignore[assignment]
        b = b_list[f] if len(b_list) == n_frames else (b_list[0] if b_list else None)
        tp = frame_tp[f] if len(frame_tp) == n_frames else temporal
        out.append(
            Slice(
                frame=f,
                position=pos,  # type: ignore[arg-type]
                temporal_position=tp,
                b_value=normalise_b_value(float(b)) if b is not None else None,
                **common,
            )
        )
    return out


def _cluster(values: list[tuple[float, int]]) -> dict[int, int]:
    """Slice index -> position cluster (neighbours within scanner jitter share a cluster)."""
    keys: dict[int, int] = {}
    cluster, previous = -1, None
    for v, i in sorted(values):
        if previous is None or v - previous > SLICE_POSITION_TOLERANCE_MM:
            cluster += 1
        keys[i] = cluster
        previous = v
    return keys


def _arrange(slices: list[Slice], normal: np.ndarray | None) -> tuple[list[list[Slice]], list]:
    """(phases[t][z], position of each z) from an unordered list of slices."""

    def along(s: Slice) -> float | None:
        c = s.centre()
        return float(np.dot(c, normal)) if c is not None and normal is not None else None

    pos = [along(s) for s in slices]
    clusters = _cluster([(p, i) for i, p in enumerate(pos) if p is not None])
    n_clusters = max(clusters.values(), default=-1) + 1
    # Slices without geometry: one z each (after the placed ones), or, for a time series, the
    # rank inside their temporal position.
    unplaced = [i for i in range(len(slices)) if pos[i] is None]
    by_tp: dict[int | None, list[int]] = {}
    for i in unplaced:
        by_tp.setdefault(slices[i].temporal_position, []).append(i)
    timed = len(by_tp) > 1 and None not in by_tp
    order_key = {i: (slices[i].instance_number or 0, slices[i].frame, i) for i in unplaced}
    if timed:
        for members in by_tp.values():
            for rank, i in enumerate(sorted(members, key=order_key.__getitem__)):
                clusters[i] = n_clusters + rank
    else:
        for rank, i in enumerate(sorted(unplaced, key=order_key.__getitem__)):
            clusters[i] = n_clusters + rank

    groups: dict[int, list[int]] = {}
    for i, z in clusters.items():
        groups.setdefault(z, []).append(i)
    zs = sorted(groups)
    use_tp = all(s.temporal_position is not None for s in slices)

    def time_key(i: int) -> tuple:
        s = slices[i]
        tp = s.temporal_position if use_tp else 0
        return (tp, s.instance_number or 0, s.frame, i)

    columns = [sorted(groups[z], key=time_key) for z in zs]
    n_phases = max(len(c) for c in columns) if columns else 0
    if use_tp:  # place by temporal position so a missing phase leaves a gap, not a shift
        tps = sorted({s.temporal_position for s in slices})  # type: ignore[type-var]
        n_phases = len(tps)
        t_index = {tp: k for k, tp in enumerate(tps)}
        grid: list[list[Slice | None]] = [[None] * len(zs) for _ in range(n_phases)]
        for z, members in enumerate(columns):
            for i in members:
                grid[t_index[slices[i].temporal_position]][z] = slices[i]
    else:
        grid = [[None] * len(zs) for _ in range(n_phases)]
        for z, members in enumerate(columns):
            for t, i in enumerate(members):
                grid[t][z] = slices[i]
    for z in range(len(zs)):  # fill gaps from the nearest phase that has this position
        have = [t for t in range(n_phases) if grid[t][z] is not None]
        for t in range(n_phases):
            if grid[t][z] is None:
                grid[t][z] = grid[min(have, key=lambda h: abs(h - t))][z]
    positions = [
        float(np.mean([pos[i] for i in groups[z] if pos[i] is not None]))
        if any(pos[i] is not None for i in groups[z])
        else None
        for z in zs
    ]
    return [[s for s in row if s is not None] for row in grid], positions


def _is_calculated(info: dict[str, Any]) -> bool:
    tokens = {str(t).upper() for t in (info.get("image_type") or ())}
    return "CALC_BVAL" in tokens


def _plane_suffix(slices: list[Slice]) -> str:
    plane = image_plane(slices[0].orientation) if slices else "UNKNOWN"
    return "" if plane in ("AXIAL", "UNKNOWN") else " " + plane[:3].lower()


def stacks_from_series(
    series: list[SeriesSummary], mr_infos: dict[int, dict[str, Any]]
) -> list[Stack]:
    """Stacks of a study's MR series (``mr_infos``: Image pk -> Image.mr_info), in reading
    order: T2W, DWI by ascending b, ADC, DCE, OTHER; same role by series number. Series with a
    :data:`HIDDEN_ROLES` role (after reviewer overrides) get no stack."""
    stacks: list[Stack] = []
    for s in series:
        if s.modality not in (None, "MR") and s.role is None:
            continue
        role = s.role or "OTHER"
        if role in HIDDEN_ROLES:
            continue
        slices: list[Slice] = []
        calculated = False
        for img in s.images:
            if not img.rows or not img.columns:
                continue  # not an image (e.g. a raw-data object)
            info = mr_infos.get(img.id) or {}
            calculated = calculated or _is_calculated(info)
            slices.extend(_frames(img, info))
        if not slices:
            continue
        groups: dict[float | None, list[Slice]] = {}
        if role == "DWI":
            for sl in slices:
                groups.setdefault(sl.b_value, []).append(sl)
        else:
            groups[None] = slices
        for b, members in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0.0)):
            n = next((m.normal for m in members if m.normal is not None), None)
            normal = _canonical(n) if n is not None else None
            phases, positions = _arrange(members, normal)
            label = role + _plane_suffix(members)
            if b is not None:
                label += f" b{b:g}"
            if role == "DWI" and calculated:
                label += " calc"
            stacks.append(
                Stack(
                    role=role,
                    label=label,
                    series_pk=s.id,
                    phases=phases,
                    series_number=s.series_number,
                    description=s.description,
                    b_value=b,
                    calculated=calculated and role == "DWI",
                    normal=normal,
                    positions_mm=positions,
                )
            )
    rank = {r: k for k, r in enumerate(ROLE_ORDER)}
    stacks.sort(
        key=lambda st: (
            rank.get(st.role, len(ROLE_ORDER)),
            st.b_value if st.b_value is not None else -1.0,
            st.calculated,
            st.series_number if st.series_number is not None else 1 << 30,
        )
    )
    seen: dict[str, int] = {}
    for st in stacks:  # the label is the picker's key: make repeats unique by series number
        seen[st.label] = seen.get(st.label, 0) + 1
    for st in stacks:
        if seen[st.label] > 1:
            st.label += f" (S{st.series_number if st.series_number is not None else st.series_pk})"
    return stacks


def build_stacks(session: Session, study_pk: int) -> list[Stack]:
    """The stacks of one indexed study, with reviewers' role overrides applied."""
    study = get_study(session, study_pk)
    if study is None:
        return []
    image_ids = [img.id for s in study.series for img in s.images]
    infos: dict[int, dict[str, Any]] = {}
    if image_ids:
        rows = session.execute(select(Image.id, Image.mr_info).where(Image.id.in_(image_ids)))
        infos = {pk: info or {} for pk, info in rows}
    return stacks_from_series(study.series, infos)


# ------------------------------------------------------------------------------ linking
def link_slice(src: Stack, z: int, dst: Stack, t: int = 0) -> int | None:
    """The slice of ``dst`` nearest to the centre of ``src`` slice ``z`` (phase ``t``), measured
    along ``dst``'s normal; None without geometry or when the planes are not parallel."""
    if not src.n_slices or not dst.n_slices or dst.normal is None:
        return None
    centre = src.slice(t, z).centre()
    src_normal = src.slice(t, z).normal
    if centre is None or src_normal is None:
        return None
    cos = abs(float(np.dot(src_normal, dst.normal)))
    if cos < math.cos(math.radians(MAX_LINK_ANGLE_DEG)):
        return None
    target = float(np.dot(centre, dst.normal))
    best: int | None = None
    best_d = math.inf
    for k, p in enumerate(dst.positions_mm):
        if p is not None and abs(p - target) < best_d:
            best, best_d = k, abs(p - target)
    return best


def relative_index(src: Stack, z: int, dst: Stack) -> int:
    """The same fraction of the way through ``dst`` as ``z`` is through ``src``."""
    if dst.n_slices <= 1 or src.n_slices <= 1:
        return 0
    return round(z / (src.n_slices - 1) * (dst.n_slices - 1))


def linked_slice(src: Stack, z: int, dst: Stack, t: int = 0) -> int:
    """:func:`link_slice`, falling back to :func:`relative_index`."""
    linked = link_slice(src, z, dst, t)
    return linked if linked is not None else relative_index(src, z, dst)


def default_layout(stacks: list[Stack]) -> list[str]:
    """Labels for the 2x2: T2W (axial first), DWI with the highest b, ADC, DCE; gaps are filled
    with the remaining stacks in reading order."""

    def first(role: str) -> Stack | None:
        found = [s for s in stacks if s.role == role]
        if not found:
            return None
        if role == "DWI":
            return max(found, key=lambda s: (s.b_value or -1.0, not s.calculated))
        axial = [s for s in found if not _plane_suffix(s.slices)]
        return (axial or found)[0]

    chosen = [s for s in (first(r) for r in ("T2W", "DWI", "ADC", "DCE")) if s is not None]
    for s in stacks:
        if len(chosen) >= 4:
            break
        if all(s is not c for c in chosen):
            chosen.append(s)
    return [s.label for s in chosen[:4]]
