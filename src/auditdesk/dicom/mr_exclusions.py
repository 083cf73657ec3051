"""Evidence that an MR series is none of the PI-QUAL roles: a localizer (scout), an
inversion-recovery sequence (FLAIR, STIR, TIRM, MPRAGE...) or a single-phase T1-weighted series.

The role rules in :mod:`~auditdesk.dicom.mr_roles` look for T2W, DWI, ADC and DCE evidence, and
some of it is shared with other sequences: a FLAIR is a long-TR, long-TE spin echo exactly like
a T2W TSE (the real Siemens FLAIR in issue 13: ``SE\\IR``, TI 2500 ms, ``*tir2d1_19``, TR 9000,
TE 101 was classified T2W), a "T1 TSE" matches the TSE keyword, a localizer is a gradient echo.
These checks run first and win, with the evidence written out so a reviewer can overrule it.

Sources: Scanning Sequence defined terms SE/IR/GR/EP/RM (PS3.3 C.8.3.1) and Image Type value 3
LOCALIZER (PS3.3 C.8.16.1 / C.7.6.1.1.2); Siemens sequence names ``*tir`` (turbo inversion
recovery), ``*spcir`` (SPACE with IR), ``*tfl`` (turbo-FLASH with IR preparation), ``*fl3d1_ns``
(AutoAlign scout) are vendor naming conventions [3P: dcm2niix test data, public headers];
"Survey" is Philips' name for its localizer [3P]. domain.md 7.2 item 7 gives the T2W timing.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from typing import Final

from auditdesk.dicom.mr_image import MRImageInfo, plane_normal

#: Image Type values that mark a localizer (PS3.3 defined term LOCALIZER; some vendors SCOUT).
LOCALIZER_IMAGE_TYPES: Final = frozenset({"LOCALIZER", "SCOUT"})

#: Localizer words in a series description or protocol name.
_LOCALIZER_TEXT: Final = re.compile(
    r"(?<![A-Z0-9])(LOC|LOCS|LOCALI[SZ]ERS?|SCOUTS?|SURVEY|PILOT|"
    r"3[-_ ]?PL(?:ANE)?|TRI[-_ ]?PLANE|THREE[-_ ]PLANE)(?![A-Z])"
)

#: A 3-plane series is a localizer only at localizer resolution (rows and columns at most this).
LOCALIZER_MAX_MATRIX: Final = 320

#: Two image planes whose normals are further apart than this (degrees, cos 45 = 0.707) are
#: different planes (axial vs sagittal), not one oblique stack.
_DIFFERENT_PLANE_COS: Final = 0.7071

#: Inversion-recovery words in a description or protocol name (FLAIR, STIR, TIRM, double /
#: phase-sensitive IR, MPRAGE, a bare "IR" token).
_IR_TEXT: Final = re.compile(
    r"(?<![A-Z0-9])(FLAIR|T2[-_ ]?FLAIR|STIR|TIRM|TIR|IR|DIR|PSIR|MPRAGE|MP2RAGE|"
    r"IR[-_ ]?FSE|IR[-_ ]?TSE|FSPGR[-_ ]?IR|IR[-_ ]?SPGR|BRAVO)(?![A-Z])"
)
#: Inversion-recovery sequence names: Siemens "*tir2d1_19", "*ir2d1", "*spcir_278ns",
#: GE/Philips names that spell the technique. (Siemens "*tfl" MPRAGE is not matched: turbo-FLASH
#: is also used without inversion; MPRAGE says GR\\IR in Scanning Sequence.)
_IR_SEQUENCE: Final = re.compile(
    r"^\*?(?:SPC)?T?IR(?![A-Z])|(?<![A-Z])(FLAIR|STIR|TIRM|T?IR|IRFSE|IRTSE|PSIR)(?![A-Z])"
)

#: An Inversion Time alone (no IR in Scanning Sequence, sequence name or text) below this is read
#: as spectral fat suppression (SPAIR-like, on a T2W TSE or a DWI), not as an IR sequence:
#: STIR/SPAIR TIs are ~150-250 ms at 1.5-3 T, T1-FLAIR/MPRAGE ~700-1100 ms, FLAIR ~1500-2800 ms
#: [P: textbook ranges]. A real STIR says IR in its Scanning Sequence, name or description.
IR_TI_ALONE_MIN_MS: Final = 300.0

#: T1-weighted timing: spin echo with TR below this and TE below T1_MAX_TE_MS; gradient echo
#: with TR below T1_GRE_MAX_TR_MS (the DCE limits of domain.md 3.3).
T1_SE_MAX_TR_MS: Final = 1000.0
T1_MAX_TE_MS: Final = 30.0
T1_GRE_MAX_TR_MS: Final = 100.0
#: Gradient echo TE limit for T1 weighting (a susceptibility GRE has TE ~20 ms).
T1_GRE_MAX_TE_MS: Final = 10.0

#: T1 words: "T1", "T1W", "AXT1", "T1_TSE", "T1 FS", T1 spoiled gradient-echo product names.
_T1_TEXT: Final = re.compile(
    r"(?:(?<![A-Z0-9])|(?<=AX)|(?<=SAG)|(?<=COR)|(?<=TRA))T1(?!\d)"
    r"|(?<![A-Z])(VIBE|LAVA|THRIVE|SPGR|FSPGR)(?![A-Z])"
)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _median(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def scan_tokens(images: Sequence[MRImageInfo]) -> set[str]:
    """Scanning Sequence values of the series ("SE", "IR", "GR", "EP"), upper case."""
    tokens: set[str] = set()
    for im in images:
        tokens.update(t.strip() for t in (im.scanning_sequence or "").upper().split("\\"))
    tokens.discard("")
    return tokens


def _sequence_names(images: Sequence[MRImageInfo]) -> list[str]:
    names = {(im.sequence_name or "").strip() for im in images}
    return sorted(n for n in names if n)


def _distinct_planes(images: Sequence[MRImageInfo]) -> int:
    """How many clearly different planes (normals more than 45 degrees apart) the series has."""
    normals: list[tuple[float, float, float]] = []
    for im in images:
        n = plane_normal(im.image_orientation)
        if n is None:
            continue
        same = any(
            abs(sum(a * b for a, b in zip(n, m, strict=True))) > _DIFFERENT_PLANE_COS
            for m in normals
        )
        if not same:
            normals.append(n)
    return len(normals)


def localizer_evidence(
    images: Sequence[MRImageInfo], text: str, raw_text: str, text_label: str
) -> list[str]:
    """Why the series is a localizer ([] when it is not): Image Type LOCALIZER, localizer words,
    or several orthogonal planes in one low-resolution gradient-echo series."""
    reasons: list[str] = []
    types: set[str] = set()
    for im in images:
        types.update(im.image_type)
        types.update(im.frame_types)
    found = sorted(types & LOCALIZER_IMAGE_TYPES)
    if found:
        reasons.append(f"ImageType contains {', '.join(found)}")
    if text and _LOCALIZER_TEXT.search(text):
        reasons.append(f'{text_label} "{raw_text}" names a localizer')
    scan = scan_tokens(images)
    n_planes = _distinct_planes(images)
    sizes = [max(im.rows or 0, im.columns or 0) for im in images]
    matrix = max(sizes) if sizes else 0
    if n_planes >= 2 and "GR" in scan and "EP" not in scan and 0 < matrix <= LOCALIZER_MAX_MATRIX:
        reasons.append(f"{n_planes} orthogonal planes in one gradient-echo series, matrix {matrix}")
    return reasons


def _inversion_time(images: Sequence[MRImageInfo]) -> float | None:
    """Median Inversion Time > 0 (GE writes 0 when there is no inversion pulse)."""
    return _median([im.inversion_time_ms for im in images if (im.inversion_time_ms or 0) > 0])


def inversion_recovery_evidence(
    images: Sequence[MRImageInfo], text: str, raw_text: str, text_label: str
) -> list[str]:
    """Why the series is an inversion-recovery sequence ([] when it is not). An Inversion Time
    below :data:`IR_TI_ALONE_MIN_MS` counts only next to another sign of IR."""
    reasons: list[str] = []
    scan = scan_tokens(images)
    if "IR" in scan:
        joined = "\\".join(sorted(scan))
        reasons.append(f"ScanningSequence {joined} includes IR (inversion recovery)")
    names = _sequence_names(images)
    ir_names = [n for n in names if _IR_SEQUENCE.search(n.upper())]
    if ir_names:
        reasons.append(f"sequence name {', '.join(ir_names)} is an inversion-recovery sequence")
    if text and _IR_TEXT.search(text):
        reasons.append(f'{text_label} "{raw_text}" names an inversion-recovery sequence')
    ti = _inversion_time(images)
    if ti is not None and (reasons or ti >= IR_TI_ALONE_MIN_MS):
        reasons.append(f"Inversion Time {_fmt(ti)} ms")
    return reasons


def fat_suppression_note(images: Sequence[MRImageInfo]) -> str | None:
    """The note shown when a short Inversion Time was not taken as inversion recovery."""
    ti = _inversion_time(images)
    if ti is None or ti >= IR_TI_ALONE_MIN_MS:
        return None
    return (
        f"Inversion Time {_fmt(ti)} ms without other signs of inversion recovery: fat suppression"
    )


def t1_evidence(images: Sequence[MRImageInfo], text: str, text_label: str) -> list[str]:
    """Why the series is T1-weighted ([] when it is not): T1 words, spin echo with short TR and
    TE, or a short-TR gradient echo (single phase: a dynamic one was already DCE)."""
    reasons: list[str] = []
    scan = scan_tokens(images)
    tr = _median([im.repetition_time_ms for im in images])
    te = _median([im.echo_time_ms for im in images])
    if "EP" not in scan and tr is not None and te is not None:
        if "SE" in scan and tr < T1_SE_MAX_TR_MS and te < T1_MAX_TE_MS:
            reasons.append(f"T1-weighted timing: spin echo, TR {_fmt(tr)} ms, TE {_fmt(te)} ms")
        elif "GR" in scan and "SE" not in scan and tr < T1_GRE_MAX_TR_MS and te < T1_GRE_MAX_TE_MS:
            reasons.append(f"T1-weighted timing: gradient echo, TR {_fmt(tr)} ms, TE {_fmt(te)} ms")
    if text and _T1_TEXT.search(text):
        reasons.append(f"{text_label} names a T1 series")
    return reasons
