"""MR series roles (T2W, DWI, ADC, DCE, LOCALIZER, OTHER) from the per-image facts of a series,
slice planes and slice order. Specification: domain.md section 7.2; localizers, inversion
recovery and T1 weighting (never a PI-QUAL role) in :mod:`~auditdesk.dicom.mr_exclusions`."""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from auditdesk.dicom.bvalues import (
    normalise_b_value,
)
from auditdesk.dicom.header_text import DictMixin
from auditdesk.dicom.mr_exclusions import (
    fat_suppression_note,
    inversion_recovery_evidence,
    localizer_evidence,
    t1_evidence,
)
from auditdesk.dicom.mr_image import MRImageInfo, plane_normal

# --------------------------------------------------------------------------------------------
# MR: series role
# --------------------------------------------------------------------------------------------

#: Largest tilt from a cardinal plane still called AXIAL/SAGITTAL/CORONAL. Prostate T2W is often
#: angled to the gland ("axial oblique", domain.md 3.3) and is still read as axial; 35 degrees
#: keeps such series axial while a true double-oblique plane is OBLIQUE.
MAX_PLANE_TILT_DEG: Final = 35.0

#: Slice positions closer than this (mm) are the same position (scanner rounding jitter).
SLICE_POSITION_TOLERANCE_MM: Final = 0.05

#: DCE needs at least this many time points. PI-RADS asks for <= 15 s resolution over >= 2 min
#: (domain.md 3.3), i.e. ~8 or more phases; 3 is the least that is still "dynamic" and not a
#: pre/post pair, so slow or truncated protocols are still recognised.
DCE_MIN_TEMPORAL_POSITIONS: Final = 3

#: T1 gradient-echo limits for DCE (PI-RADS v2 table in domain.md 3.3: "TR < 100 ms, TE < 5 ms").
DCE_MAX_TR_MS: Final = 100.0
DCE_MAX_TE_MS: Final = 5.0

#: T2W spin-echo limits. domain.md 7.2: "SE/TSE, long TR, TE ~80-120 ms"; widened to 70-200 ms so
#: vendor variations are kept, and TR >= 2000 ms (T2 TSE is typically 3000-7000 ms; proton-density
#: and T1 SE use shorter TE and/or TR).
T2W_MIN_TR_MS: Final = 2000.0
T2W_MIN_TE_MS: Final = 70.0
T2W_MAX_TE_MS: Final = 200.0

#: Every role a series can have. LOCALIZER: a scout, listed with its reason but never offered as
#: a stack to read or audit. OTHER: any other sequence (FLAIR, T1, field maps...).
ROLES: Final = ("T2W", "DWI", "ADC", "DCE", "LOCALIZER", "OTHER")

#: The roles PI-QUAL audits (the rest are listed, never audited).
PIQUAL_ROLES: Final = ("T2W", "DWI", "ADC", "DCE")


@dataclass(frozen=True)
class MRSeriesInfo(DictMixin):
    """Role of an MR series (for PI-QUAL) with the evidence that decided it.

    ``b_values`` are distinct and normalised (see ``bvalues.normalise_b_value``);
    ``n_temporal_positions`` counts time points from Temporal Position Identifier / Number of
    Temporal Positions (frame Temporal Position Index for Enhanced MR) or, failing those, from
    repeated slice positions with distinct acquisition times; ``temporal_resolution_s`` is only
    set for DCE.
    """

    role: str = "OTHER"
    role_reasons: tuple[str, ...] = ()
    b_values: tuple[float, ...] = ()
    n_temporal_positions: int = 0
    temporal_resolution_s: float | None = None
    orientation: str | None = None
    n_slice_positions: int = 0
    n_images: int = 0
    b_value_sources: tuple[str, ...] = ()


def image_plane(orientation: Sequence[float] | None) -> str:
    """AXIAL/SAGITTAL/CORONAL from Image Orientation (Patient), OBLIQUE beyond
    :data:`MAX_PLANE_TILT_DEG`, UNKNOWN without a usable orientation."""
    try:
        normal = plane_normal(
            tuple(float(v) for v in orientation) if orientation is not None else None
        )
    except (TypeError, ValueError):
        normal = None
    if normal is None:
        return "UNKNOWN"
    axis = max(range(3), key=lambda i: abs(normal[i]))
    if abs(normal[axis]) < math.cos(math.radians(MAX_PLANE_TILT_DEG)):
        return "OBLIQUE"
    return ("SAGITTAL", "CORONAL", "AXIAL")[axis]


def _fmt(x: float) -> str:
    return f"{x:g}"


_ADC_IMAGE_TYPE: Final = re.compile(r"(^|_)ADC(_|$)")
_ADC_TEXT: Final = re.compile(r"(?<![A-Z])ADC(?![A-Z])|APPARENT\s+DIFFUSION")
_OTHER_DIFFUSION_MAPS: Final = frozenset({"FA", "EADC", "EXP", "TENSOR", "COLFA"})
_DWI_IMAGE_TYPE: Final = frozenset({"DIFFUSION", "TRACEW", "TRACE", "CALC_BVAL"})
_DWI_TEXT: Final = re.compile(
    r"(?<![A-Z])(DWI|DIFF|DIFFUSION|TRACEW|TRACE|DTI|IVIM|CALC[_ ]?BVAL|EP2D[_ ]?DIFF)(?![A-Z])"
)
_SIEMENS_DWI_SEQ: Final = re.compile(r"(EP|RE)_B\d")
_DCE_TEXT: Final = re.compile(
    r"(?<![A-Z])(DCE|DYN|DYNAMIC|DYNAMICS|PERF|PERFUSION|VIBE|TWIST|DISCO|THRIVE|LAVA|TRICKS)"
    r"(?![A-Z])"
)
# "T2", "T2W", "T2_TSE", "T2FS", "AXT2" but not "T2*", "T2STAR" or "T2 MAP" (relaxometry).
_T2_TEXT: Final = re.compile(
    r"(?:(?<![A-Z0-9])|(?<=AX)|(?<=SAG)|(?<=COR)|(?<=TRA))T2(?!\*|STAR|[_ ]?MAP|\d)"
    r"|(?<![A-Z])(TSE|FSE|BLADE|PROPELLER|HASTE|SPACE|CUBE)(?![A-Z])"
)


def _series_text(images: Sequence[MRImageInfo]) -> tuple[str, str, str]:
    """(upper-case text for matching, text as written, label) used for keyword rules.

    Series Description describes the series; Protocol Name is only used when no description
    exists, because GE writes the exam protocol there (the real GE ADC series in shared/data has
    ProtocolName "PRO DCE W_T1 MAPPING AN/").
    """
    descs = list(dict.fromkeys(im.series_description for im in images if im.series_description))
    if descs:
        return " | ".join(descs).upper(), " | ".join(descs), "SeriesDescription"
    protos = list(dict.fromkeys(im.protocol_name for im in images if im.protocol_name))
    return " | ".join(protos).upper(), " | ".join(protos), "ProtocolName"


def _scan_tokens(images: Sequence[MRImageInfo]) -> set[str]:
    tokens: set[str] = set()
    for im in images:
        tokens.update(t for t in (im.scanning_sequence or "").upper().split("\\") if t)
    return tokens


def _median_or_none(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _cluster(values: Iterable[float], tol: float = SLICE_POSITION_TOLERANCE_MM) -> list[float]:
    """Distinct values, merging neighbours closer than ``tol`` (first value of each cluster)."""
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


@dataclass(frozen=True)
class _Sample:
    """One frame or image flattened for the temporal analysis."""

    position: float | None
    temporal: int | None
    time: float | None


def _samples(images: Sequence[MRImageInfo]) -> list[_Sample]:
    out: list[_Sample] = []
    for im in images:
        # mm positions when frames have Plane Position, else their place in the stack
        places = im.frame_slice_positions or tuple(float(p) for p in im.frame_stack_positions)
        n = len(places) or len(im.frame_temporal_positions)
        if im.n_frames > 1 and n == im.n_frames:
            for i in range(n):
                out.append(
                    _Sample(
                        places[i] if places else None,
                        im.frame_temporal_positions[i] if im.frame_temporal_positions else None,
                        im.frame_acquisition_times[i]
                        if len(im.frame_acquisition_times) == n
                        else im.acquisition_time,
                    )
                )
        else:
            time = im.acquisition_time
            if time is None and im.trigger_time_ms is not None:
                time = im.trigger_time_ms / 1000.0
            out.append(_Sample(im.slice_position_mm, im.temporal_position, time))
    return out


def _cluster_keys(values: Sequence[float | None]) -> list[int | None]:
    """Cluster number of each value (None stays None); neighbours within the tolerance share one,
    so positions that differ by scanner jitter sort and group together."""
    order = sorted((v, i) for i, v in enumerate(values) if v is not None)
    keys: list[int | None] = [None] * len(values)
    cluster = -1
    previous: float | None = None
    for v, i in order:
        if previous is None or v - previous > SLICE_POSITION_TOLERANCE_MM:
            cluster += 1
        keys[i] = cluster
        previous = v
    return keys


def _temporal_analysis(
    images: Sequence[MRImageInfo], samples: Sequence[_Sample]
) -> tuple[int, float | None, str]:
    """(number of time points, median seconds between them or None, how it was found)."""
    tags = [im.number_of_temporal_positions for im in images if im.number_of_temporal_positions]
    ids = {s.temporal for s in samples if s.temporal is not None}
    n_ids = max([len(ids), *tags]) if (ids or tags) else 0

    # Repeated slice positions with distinct times: the k-th time at each position is phase k.
    by_pos: dict[int, list[float]] = {}
    for s, key in zip(samples, _cluster_keys([s.position for s in samples]), strict=True):
        if s.time is not None and key is not None:
            by_pos.setdefault(key, []).append(s.time)
    per_pos = [sorted(set(ts)) for ts in by_pos.values()]
    n_repeat = int(statistics.median([len(ts) for ts in per_pos])) if per_pos else 0

    n = max(n_ids, n_repeat, 1 if samples else 0)
    how = "TemporalPositionIdentifier" if n_ids >= n_repeat else "repeated positions"

    resolution: float | None = None
    tag_res = _median_or_none(im.temporal_resolution_ms for im in images)
    if tag_res is not None and tag_res > 0:
        resolution = tag_res / 1000.0
    elif n >= 2:
        phase_times: list[float] = []
        if len(ids) >= 2:
            firsts: dict[int, float] = {}
            for s in samples:
                if s.temporal is not None and s.time is not None:
                    firsts[s.temporal] = min(s.time, firsts.get(s.temporal, s.time))
            phase_times = [firsts[k] for k in sorted(firsts)]
        elif n_repeat >= 2:
            for k in range(n_repeat):
                kth = [ts[k] for ts in per_pos if len(ts) > k]
                phase_times.append(statistics.median(kth))
        diffs = [b - a for a, b in itertools.pairwise(phase_times) if b - a > 0]
        if diffs:
            resolution = statistics.median(diffs)
    return n, resolution, how


def _role(
    images: Sequence[MRImageInfo],
    b_values: Sequence[float],
    n_temporal: int,
    temporal_how: str,
    images_per_position: float,
) -> tuple[str, list[str]]:
    """Localizer first, then the PI-QUAL role rules, then the sequences that are never a PI-QUAL
    role however T2W/DWI-like they look (inversion recovery; T1 weighting against T2W). What
    was overruled is kept in the reasons, so a reviewer sees the conflict."""
    text, raw_text, text_label = _series_text(images)
    localizer = localizer_evidence(images, text, raw_text, text_label)
    if localizer:
        return "LOCALIZER", localizer
    role, reasons = _evidence_role(images, b_values, n_temporal, temporal_how, images_per_position)
    ir = inversion_recovery_evidence(images, text, raw_text, text_label)
    if ir:
        out = ["inversion recovery (FLAIR/STIR/TIRM...): never T2W, DWI, ADC or DCE", *ir]
        if role != "OTHER":
            out.append(f"{role} evidence overruled: {'; '.join(reasons)}")
        return "OTHER", out
    note = fat_suppression_note(images)
    if note:
        reasons = [*reasons, note]
    if role in ("T2W", "OTHER"):
        t1 = t1_evidence(images, text, text_label)
        if t1 and role == "T2W":
            return "OTHER", [
                "T1-weighted: never T2W",
                *t1,
                f"T2W evidence overruled: {'; '.join(reasons)}",
            ]
        if t1:
            return "OTHER", [reasons[0], *t1, *reasons[1:]]
    return role, reasons


def _evidence_role(
    images: Sequence[MRImageInfo],
    b_values: Sequence[float],
    n_temporal: int,
    temporal_how: str,
    images_per_position: float,
) -> tuple[str, list[str]]:
    """Rules in domain.md 7.2 priority, ADC before DWI (ADC maps often keep a b-value)."""
    text, raw_text, text_label = _series_text(images)
    type_tokens: set[str] = set()
    for im in images:
        type_tokens.update(im.image_type)
        type_tokens.update(im.frame_types)
    scan = _scan_tokens(images)
    seq_names = " ".join(sorted({(im.sequence_name or "").upper() for im in images}))
    nonzero_b = [b for b in b_values if b > 0]
    b_text = ", ".join(_fmt(b) for b in b_values)

    # 1. ADC map
    if any(_ADC_IMAGE_TYPE.search(t) for t in type_tokens):
        return "ADC", ["ImageType contains ADC"]
    if text and _ADC_TEXT.search(text):
        if len(b_values) >= 2 and images_per_position > 1:
            reason = f"{text_label} names ADC but b-values {b_text} s/mm² were acquired"
            return "DWI", [reason]
        return "ADC", [f'{text_label} "{raw_text}" names an ADC map']

    # 2. other derived diffusion maps (FA, exponential ADC) are not PI-QUAL series
    other_maps = sorted(type_tokens & _OTHER_DIFFUSION_MAPS)
    if other_maps:
        return "OTHER", [f"derived diffusion map (ImageType {', '.join(other_maps)})"]

    # 3. DWI
    reasons: list[str] = []
    if nonzero_b:
        reasons.append(f"b-values {b_text} s/mm²")
    dwi_types = sorted(type_tokens & _DWI_IMAGE_TYPE)
    if dwi_types:
        reasons.append(f"ImageType contains {', '.join(dwi_types)}")
    if _SIEMENS_DWI_SEQ.search(seq_names):
        reasons.append(f"sequence name {seq_names.strip()}")
    if text and _DWI_TEXT.search(text):
        reasons.append(f"{text_label} names a diffusion series")
    if reasons:
        return "DWI", reasons

    # 4. DCE: several time points plus T1 gradient-echo or contrast evidence
    trs = [im.repetition_time_ms for im in images if im.repetition_time_ms is not None]
    tes = [im.echo_time_ms for im in images if im.echo_time_ms is not None]
    tr = statistics.median(trs) if trs else None
    te = statistics.median(tes) if tes else None
    dce_hints: list[str] = []
    gre = "GR" in scan and "EP" not in scan
    if gre and tr is not None and tr < DCE_MAX_TR_MS and (te is None or te < DCE_MAX_TE_MS):
        te_part = f", TE {_fmt(te)} ms" if te is not None else ""
        dce_hints.append(f"T1 gradient echo (GR, TR {_fmt(tr)} ms{te_part})")
    agents = sorted({im.contrast_agent for im in images if im.contrast_agent})
    if agents:
        dce_hints.append(f'contrast agent "{agents[0]}"')
    if text and _DCE_TEXT.search(text):
        dce_hints.append(f"{text_label} names a dynamic series")
    if n_temporal >= DCE_MIN_TEMPORAL_POSITIONS and dce_hints:
        return "DCE", [f"{n_temporal} temporal positions ({temporal_how})", *dce_hints]

    # 5. T2W
    t2_reasons: list[str] = []
    spin_echo = "SE" in scan and "EP" not in scan
    if (
        spin_echo
        and tr is not None
        and te is not None
        and tr >= T2W_MIN_TR_MS
        and T2W_MIN_TE_MS <= te <= T2W_MAX_TE_MS
    ):
        t2_reasons.append(f"spin echo, TR {_fmt(tr)} ms, TE {_fmt(te)} ms")
    if text and _T2_TEXT.search(text) and "EP" not in scan:
        t2_reasons.append(f"{text_label} names a T2 series")
    if t2_reasons:
        return "T2W", t2_reasons

    # 6. nothing matched: say what was seen, so the reviewer knows why
    seen: list[str] = []
    if dce_hints:
        seen.append(f"dynamic hints but only {n_temporal} temporal position(s)")
    if scan:
        seen.append(f"ScanningSequence {'/'.join(sorted(scan))}")
    if tr is not None:
        seen.append(f"TR {_fmt(tr)} ms" + (f", TE {_fmt(te)} ms" if te is not None else ""))
    types = sorted(
        t for t in type_tokens if t and t not in {"ORIGINAL", "DERIVED", "PRIMARY", "SECONDARY"}
    )
    if types:
        seen.append(f"ImageType {'/'.join(types)}")
    return "OTHER", ["no T2W, DWI, ADC or DCE evidence", *seen]


def classify_mr_series(images: Sequence[MRImageInfo]) -> MRSeriesInfo:
    """Role (T2W/DWI/ADC/DCE/LOCALIZER/OTHER) of one MR series from its images' facts, with
    reasons.

    Localizers first (ImageType LOCALIZER, localizer words, 3-plane low-resolution gradient
    echo). Then (domain.md 7.2, ADC before DWI): ImageType ADC or an ADC description -> ADC;
    FA/exponential-ADC maps -> OTHER; non-zero b-values, DIFFUSION/TRACEW ImageType, Siemens
    "ep_b" sequence names or diffusion words -> DWI; at least :data:`DCE_MIN_TEMPORAL_POSITIONS`
    time points plus T1-GRE timing, a contrast agent or dynamic words -> DCE; spin echo with
    T2 timing or T2 words -> T2W; otherwise OTHER. Inversion-recovery evidence turns any of
    these into OTHER, T1-weighted evidence turns T2W into OTHER (reasons say what was
    overruled). Never raises.
    """
    imgs = [im for im in images if isinstance(im, MRImageInfo)]
    if not imgs:
        return MRSeriesInfo(role="OTHER", role_reasons=("no images",))
    try:
        return _classify_mr_series(imgs)
    except Exception as exc:
        return MRSeriesInfo(
            role="OTHER",
            role_reasons=(f"series could not be classified ({type(exc).__name__})",),
            n_images=len(imgs),
        )


def _classify_mr_series(imgs: list[MRImageInfo]) -> MRSeriesInfo:
    b_values = tuple(sorted({normalise_b_value(b) for im in imgs for b in im.b_values}))
    sources = tuple(sorted({im.b_value_source for im in imgs if im.b_value_source}))
    samples = _samples(imgs)
    positions = [s.position for s in samples if s.position is not None]
    n_positions = len(_cluster(positions))
    images_per_position = len(samples) / n_positions if n_positions else float(len(samples))
    mosaics = [im.mosaic_slices for im in imgs if im.mosaic_slices]
    if mosaics and len(mosaics) == len(imgs):
        n_positions = max(mosaics)  # a Siemens mosaic tiles a whole volume into one image
    n_temporal, resolution, how = _temporal_analysis(imgs, samples)
    role, reasons = _role(imgs, b_values, n_temporal, how, images_per_position)
    if role != "DCE" and how != "TemporalPositionIdentifier":
        # Repeated positions at distinct times in a DWI series are b-values, not time points.
        n_temporal = max(1, len({s.temporal for s in samples if s.temporal is not None}))
    planes = Counter(image_plane(im.image_orientation) for im in imgs)
    planes.pop("UNKNOWN", None)
    orientation = planes.most_common(1)[0][0] if planes else None
    return MRSeriesInfo(
        role=role,
        role_reasons=tuple(reasons),
        b_values=b_values,
        n_temporal_positions=n_temporal,
        temporal_resolution_s=resolution if role == "DCE" else None,
        orientation=orientation,
        n_slice_positions=n_positions,
        n_images=len(imgs),
        b_value_sources=sources,
    )


def slice_order(images: Sequence[MRImageInfo]) -> list[int]:
    """Indices of ``images`` sorted along the slice normal, then temporal position, b-value and
    Instance Number as tie-breakers (file names and Instance Number alone are unreliable: in the
    real GE ADC series file 000004 is instance 6 and 000006 is instance 5). Images without a
    position go last. One entry per image (file): an Enhanced MR object is placed by its first
    frame; its frames keep their stored order (``frame_slice_positions`` has their positions)."""

    position_keys = _cluster_keys([im.slice_position_mm for im in images])

    def key(i: int) -> tuple[Any, ...]:
        im = images[i]
        pos = position_keys[i]
        tp = im.temporal_position
        b = normalise_b_value(im.b_values[0]) if im.b_values else None
        inst = im.instance_number
        return (
            pos is None,
            pos or 0,
            tp is None,
            tp or 0,
            b is None,
            b or 0.0,
            inst is None,
            inst or 0,
            i,
        )

    return sorted(range(len(images)), key=key)
