"""Diffusion b-value extraction from header-only datasets (no Qt, never touches pixel data).

There is no single reliable tag: the value may sit in the Enhanced MR functional groups, in the
public Diffusion b-value (0018,9087), in one of four vendors' private elements, or only in the
series name. The chain below follows /work/shared/reference/domain.md section 7.2 (sources there:
NEMA PS3.3 C.8.13.5.9 MR Diffusion Macro; dcm2niix documentation/source; NA-MIC DWI/DTI wiki):

1. Enhanced MR: per-frame MR Diffusion Sequence (0018,9117) -> Diffusion b-value (0018,9087),
   falling back to the same sequence in the Shared Functional Groups;
2. public (0018,9087) at top level (modern Philips/Canon/GE classic objects);
3. Siemens (0019,100C) "B_value" (creator SIEMENS MR HEADER; very old files: (0019,000C));
4. Siemens CSA Image Header Info (0029,1010), field "B_value" (SV10 binary format);
5. GE (0043,1039) "Slop_int_6..9" (creator GEMS_PARM_01): first value, modulo 10^9 because
   GE adds 10^9 as a flag ("1000001250\\8\\0\\0" -> 1250);
6. Philips (2001,1003) "Diffusion B-Factor" FL (creator Philips Imaging DD 001);
7. UIH (0065,1009) (VR not confirmed in our sources: decoded from FD/FL/text by length);
8. Canon (formerly Toshiba) classic images: Image Comments (0020,4000) "b=1500(0.445,0.000,0.895)"
   (dcm2niix Canon/README.md: since Canon, classic DWI no longer fills the public tag); only when
   the Manufacturer is Canon/Toshiba or blank;
9. Siemens Sequence Name "*ep_b1000t" (Siemens naming convention, not a standard);
10. series description tokens "b1400", "B=800" (last resort, source "SeriesDescription").

Siemens mosaic images (ImageType MOSAIC: every slice of one volume tiled into one image) carry
the same b-value sources as single slices (CSA "B_value", (0019,100C)): one value per mosaic.

Private elements are only trusted when their Private Creator matches, or, when the file carries no
creator for that block (de-identification tools strip them, as in the real GE ADC series in
shared/data), when the Manufacturer is that vendor or blank. Values that arrive as VR UN (implicit
VR files, creators stripped) are decoded from the raw bytes.

Tiny b-values: the real Philips set in shared/data stores b = 0.001..0.004 for extra b~0 volumes.
The raw value is kept per image; :func:`normalise_b_value` (used for series listings and roles)
turns anything below :data:`B_ZERO_THRESHOLD` into 0 and rounds the rest to whole s/mm².
"""

from __future__ import annotations

import math
import re
import struct
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from auditdesk.dicom import tag_access
from auditdesk.dicom.tag_access import get_element, get_value

#: b-values below this (s/mm²) are listed as 0. The smallest clinically meaningful low b-values
#: are ~5-10 s/mm² (IVIM) and 50-100 s/mm² (PI-RADS v2.1 low b); Philips writes 0.001..0.004 for
#: extra b~0 volumes (dcm_qa_philips_dwi, shared/data). 1 s/mm² separates the two cleanly.
B_ZERO_THRESHOLD: Final = 1.0

#: GE adds 10^9 to (0043,1039)[0] as a flag (domain.md 7.2, dcm2niix).
GE_FLAG_MODULUS: Final = 1_000_000_000

#: A b-value read from free text must be at least this large unless the text also says it is a
#: diffusion series; stops "B0 map"/"B1 map" (field maps) from turning into b = 0 or b = 1.
DESCRIPTION_MIN_B_WITHOUT_CONTEXT: Final = 50.0

#: Upper bound for a plausible b-value (s/mm²); anything larger is a decoding error.
MAX_PLAUSIBLE_B: Final = 100_000.0

SOURCE_ENHANCED: Final = "MRDiffusionSequence"
SOURCE_PUBLIC: Final = "DiffusionBValue"
SOURCE_SIEMENS: Final = "Siemens (0019,100C)"
SOURCE_SIEMENS_OLD: Final = "Siemens (0019,000C)"
SOURCE_SIEMENS_CSA: Final = "Siemens CSA"
SOURCE_GE: Final = "GE (0043,1039)"
SOURCE_PHILIPS: Final = "Philips (2001,1003)"
SOURCE_UIH: Final = "UIH (0065,1009)"
SOURCE_CANON: Final = "Canon ImageComments"
SOURCE_SEQUENCE_NAME: Final = "SequenceName"
SOURCE_DESCRIPTION: Final = "SeriesDescription"

_TAG_B_VALUE: Final = 0x00189087
_TAG_MR_DIFFUSION_SEQ: Final = 0x00189117


# --------------------------------------------------------------------------------------------
# Tolerant header access (shared with classify.py): odd headers must never raise.
# --------------------------------------------------------------------------------------------


def first_item(ds: Dataset | None, keyword: str) -> Dataset | None:
    """First item of a sequence attribute, or None."""
    seq = get_value(ds, keyword)
    try:
        if seq is not None and len(seq) > 0 and isinstance(seq[0], Dataset):
            return seq[0]
    except Exception:
        return None
    return None


def sequence_items(ds: Dataset | None, keyword: str) -> list[Dataset]:
    """All items of a sequence attribute ([] when absent or not a sequence)."""
    seq = get_value(ds, keyword)
    try:
        return [item for item in seq if isinstance(item, Dataset)] if seq is not None else []
    except TypeError:
        return []


_NUMERIC_BYTES: Final = frozenset(b"0123456789.+-eE \\\x00")
_FLOAT_TEXT: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def as_text(value: Any) -> str:
    """A value as stripped text ('' for None); bytes are decoded leniently (VR UN)."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1", errors="replace").replace("\x00", " ").strip()
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(as_text(v) for v in value).strip()
    return str(value).strip()


def text_numbers(text: str) -> list[float]:
    """Parse a backslash-separated numeric string ("1000001250\\8\\0\\0"); junk parts skipped."""
    out: list[float] = []
    for part in text.replace("\x00", " ").split("\\"):
        p = part.strip()
        if p and _FLOAT_TEXT.match(p):
            v = _finite(float(p))
            if v is not None:
                out.append(v)
    return out


def as_float(value: Any) -> float | None:
    """First numeric value of an element value (DS/IS/FL/FD/str/bytes/multi-value), or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return _finite(float(value))
        except (OverflowError, ValueError):
            return None
    if isinstance(value, (bytes, bytearray, str)):
        nums = text_numbers(as_text(value))
        return nums[0] if nums else None
    try:
        for v in value:
            return as_float(v)
    except TypeError:
        pass
    try:
        return _finite(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def as_floats(value: Any) -> list[float] | None:
    """All numeric values of a multi-valued element, or None when any part is unusable."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, bytearray)):
        nums = text_numbers(as_text(value))
        return nums or None
    try:
        items = list(value)
    except TypeError:
        f = as_float(value)
        return [f] if f is not None else None
    out = []
    for v in items:
        f = as_float(v)
        if f is None:
            return None
        out.append(f)
    return out


def as_int(value: Any) -> int | None:
    """First value as int when it is integral ("12", 12.0), else None ("1A", 1.5, '')."""
    f = as_float(value)
    if f is None or f != int(f):
        return None
    return int(f)


def decode_numbers(value: Any, binary: str = "auto") -> list[float]:
    """Numbers from a value that may be raw bytes of a private element read as VR UN.

    ``binary`` says how non-text bytes are laid out: "f" (FL), "d" (FD), "text" (IS/DS: never
    binary) or "auto" (8 bytes -> FD, 4 bytes -> FL). Text is recognised first: bytes made only
    of digits, signs, dots, exponents, spaces and backslashes are a decimal/integer string.
    Little endian is assumed (big-endian transfer syntaxes are retired and pydicom converts
    explicit big-endian elements it knows).
    """
    if value is None:
        return []
    if not isinstance(value, (bytes, bytearray)):
        if isinstance(value, str):
            return text_numbers(value)
        nums = as_floats(value)
        return nums or []
    raw = bytes(value)
    stripped = raw.strip(b"\x00 ")
    if stripped and set(stripped) <= _NUMERIC_BYTES and any(48 <= c <= 57 for c in stripped):
        return text_numbers(stripped.decode("ascii"))
    if binary == "text":
        return []
    size = {"f": 4, "d": 8}.get(binary) or (8 if len(raw) == 8 else 4 if len(raw) == 4 else 0)
    if not size or not raw or len(raw) % size:
        return []
    fmt = f"<{len(raw) // size}{'f' if size == 4 else 'd'}"
    return [v for v in struct.unpack(fmt, raw) if math.isfinite(v)]


# --------------------------------------------------------------------------------------------
# Private elements, checked against their Private Creator
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateTag:
    """A private element as (group, element offset) owned by a creator.

    ``offset`` is the low byte of the element number; the high byte is the block the creator
    reserved (0x10 for the usual (gggg,0010) creator, giving (gggg,10xx)).
    """

    group: int
    offset: int
    creators: tuple[str, ...]
    vendors: tuple[str, ...]
    binary: str = "auto"
    #: "exact": creator must equal one of ``creators`` (case-insensitive; "SIEMENS MR HEADER"
    #: must not match "SIEMENS MR HEADER2"); "contains": a substring is enough.
    match: str = "exact"

    def creator_matches(self, creator: str) -> bool:
        """True when ``creator`` (already upper-cased and stripped) owns this element."""
        if self.match == "contains":
            return any(c in creator for c in self.creators)
        return creator in self.creators


SIEMENS_B_VALUE: Final = PrivateTag(0x0019, 0x0C, ("SIEMENS MR HEADER",), ("SIEMENS",), "text")
SIEMENS_CSA_IMAGE: Final = PrivateTag(0x0029, 0x10, ("SIEMENS CSA HEADER",), ("SIEMENS",), "raw")
GE_SLOP_INT_6_9: Final = PrivateTag(0x0043, 0x39, ("GEMS_PARM_01",), ("GE ", "GE_", "GEMS"), "text")
PHILIPS_B_FACTOR: Final = PrivateTag(0x2001, 0x03, ("PHILIPS IMAGING DD 001",), ("PHILIPS",), "f")
#: UIH creator name not confirmed in our sources: any creator containing "UIH" is accepted.
UIH_B_VALUE: Final = PrivateTag(
    0x0065, 0x09, ("UIH",), ("UIH", "UNITED IMAGING"), "auto", match="contains"
)


def _creator_text(ds: Dataset, tag: int) -> str:
    elem = get_element(ds, tag)
    return as_text(elem.value).upper() if elem is not None else ""


def _manufacturer_matches(ds: Dataset, vendors: Iterable[str]) -> bool:
    """True when Manufacturer names one of ``vendors`` or is blank (unknown vendor)."""
    manu = as_text(get_value(ds, "Manufacturer")).upper()
    if not manu:
        return True
    padded = manu + " "
    return any(v in padded for v in vendors)


#: (weak reference to the dataset, its element count, its creator tags) of the last dataset
#: asked about: the chain looks for five vendors' creators in the same header, one pass over its
#: keys serves them all. Weak, so a viewer's dataset (with its pixels) is never kept alive here.
_last_creators: tuple[weakref.ref[Dataset], int, list[int]] | None = None


def _creator_tags(ds: Dataset) -> list[int]:
    """Sorted Private Creator tags (odd group, element 0x0010-0x00FF) present in ``ds``."""
    global _last_creators
    last = _last_creators
    count = len(ds)
    if last is not None and last[0]() is ds and last[1] == count and tag_access.FAST_LOOKUPS:
        return last[2]
    # int() first: comparisons on pydicom's BaseTag run in Python and dominate otherwise.
    tags = sorted(t for t in map(int, ds.keys()) if t & 0x10000 and 0x10 <= t & 0xFFFF <= 0xFF)
    try:
        _last_creators = (weakref.ref(ds), count, tags)
    except TypeError:  # not weak-referenceable: no memo
        _last_creators = None
    return tags


def private_element(ds: Dataset | None, spec: PrivateTag) -> DataElement | None:
    """The element ``spec`` names, found through its Private Creator block.

    If a block of the group is reserved by a matching creator, the element in that block is used.
    If block 0x10 belongs to another creator, the default (gggg,10xx) element is someone else's
    and is ignored. With no creator at all (stripped by de-identification), the default element
    is accepted only when the Manufacturer is that vendor or blank.
    """
    if ds is None:
        return None
    group_base = spec.group << 16
    default_block_owner = ""
    # Only the creator elements (gggg,0010-00FF) that exist: one pass over the dataset's keys is
    # ~100x cheaper than asking for all 240 possible blocks one by one (index hot path).
    low, high = group_base | 0x10, group_base | 0xFF
    for tag in _creator_tags(ds):
        if not low <= tag <= high:
            continue
        block = tag & 0xFF
        creator = _creator_text(ds, tag)
        if block == 0x10:
            default_block_owner = creator or "?"
        if spec.creator_matches(creator):
            return get_element(ds, group_base | (block << 8) | spec.offset)
    if default_block_owner:
        return None
    elem = get_element(ds, group_base | 0x1000 | spec.offset)
    if elem is None or not _manufacturer_matches(ds, spec.vendors):
        return None
    return elem


# --------------------------------------------------------------------------------------------
# Siemens CSA header (SV10 / CSA1 binary format)
# --------------------------------------------------------------------------------------------

_CSA_MAX_TAGS: Final = 1000
_CSA_MAX_ITEMS: Final = 10_000


def parse_csa_header(blob: bytes | bytearray | None) -> dict[str, list[str]]:
    """Parse a Siemens CSA header into {field name: [item strings]}; {} when unreadable.

    Layout (nibabel's csareader documentation; NA-MIC DWI wiki): optional "SV10" + 4 bytes
    (\\x04\\x03\\x02\\x01) for CSA2, then uint32 n_tags, uint32 unused; per tag: name char[64],
    int32 vm, char[4] vr, int32 syngodt, int32 n_items, int32 marker (77/205); per item: int32[4]
    (item length in [1] for CSA2, [0] - n_items-of-first-tag for CSA1), then the bytes padded to a
    multiple of 4. Everything is bounds-checked: a damaged header yields what was read so far.
    """
    if not blob:
        return {}
    data = bytes(blob)
    out: dict[str, list[str]] = {}
    try:
        csa2 = data[:4] == b"SV10"
        pos = 8 if csa2 else 0
        if len(data) < pos + 8:
            return {}
        n_tags, _unused = struct.unpack_from("<2I", data, pos)
        pos += 8
        if not 0 < n_tags <= _CSA_MAX_TAGS:
            return {}
        first_n_items: int | None = None
        for _ in range(n_tags):
            if pos + 84 > len(data):
                break
            name_raw = data[pos : pos + 64]
            _vm, _vr, _syngodt, n_items, _marker = struct.unpack_from("<i4s3i", data, pos + 64)
            pos += 84
            name = name_raw.split(b"\x00", 1)[0].decode("latin-1", errors="replace").strip()
            if not 0 <= n_items <= _CSA_MAX_ITEMS:
                break
            if first_n_items is None:
                first_n_items = n_items
            items: list[str] = []
            for _i in range(n_items):
                if pos + 16 > len(data):
                    return out  # truncated inside this field: keep the complete ones
                x0, x1, _x2, _x3 = struct.unpack_from("<4i", data, pos)
                pos += 16
                length = x1 if csa2 else x0 - (first_n_items or 0)
                if not csa2 and not 0 <= length <= len(data) - pos:
                    length = x1
                if length < 0 or pos + length > len(data):
                    return out
                text = data[pos : pos + length].split(b"\x00", 1)[0]
                items.append(text.decode("latin-1", errors="replace").strip())
                pos += length + ((4 - length % 4) % 4)
            if name:
                out[name] = items
    except (struct.error, ValueError):
        return out
    return out


def siemens_csa_fields(ds: Dataset | None) -> dict[str, list[str]]:
    """The Siemens CSA Image Header (0029,1010) as {field: [items]}; {} when absent."""
    elem = private_element(ds, SIEMENS_CSA_IMAGE)
    if elem is None or not isinstance(elem.value, (bytes, bytearray)):
        return {}
    return parse_csa_header(elem.value)


def _csa_b_value(ds: Dataset) -> float | None:
    for item in siemens_csa_fields(ds).get("B_value", []):
        if item:
            return as_float(item)
    return None


# --------------------------------------------------------------------------------------------
# Text fallbacks
# --------------------------------------------------------------------------------------------

_B_TOKEN: Final = re.compile(
    r"(?<![A-Z0-9])B(?:[-_ ]?VALUE)?\s*[-_=:]?\s*(\d{1,5}(?:\.\d+)?)(?![0-9])"
    r"((?:[_,/\- ]+\d{2,5}(?![0-9]))*)"
)
_DIFFUSION_CONTEXT: Final = re.compile(
    r"(?<![A-Z])(DWI|DIFF|DIFFUSION|TRACE|TRACEW|ADC|DTI|EPI|EP2D|RESOLVE|CALC|IVIM)(?![A-Z])"
)
_SIEMENS_SEQ_B: Final = re.compile(r"(?:EP|RE)_B(\d{1,5})")


def description_b_value(text: str | None) -> float | None:
    """A single b-value named in free text ("DWI b1400", "B=800"), else None.

    None when the text names several b-values ("b50_800_1400", "b0 b1000"): one value per image
    cannot be told from a series name. Small values need diffusion context, see
    :data:`DESCRIPTION_MIN_B_WITHOUT_CONTEXT`.
    """
    upper = as_text(text).upper()
    if not upper:
        return None
    found: set[float] = set()
    for m in _B_TOKEN.finditer(upper):
        if m.group(2):
            return None  # a list of b-values
        found.add(float(m.group(1)))
    if len(found) != 1:
        return None
    b = found.pop()
    if b < DESCRIPTION_MIN_B_WITHOUT_CONTEXT and not _DIFFUSION_CONTEXT.search(upper):
        return None
    return b if b <= MAX_PLAUSIBLE_B else None


def description_mentions_b_values(text: str | None) -> bool:
    """True when free text names b-values at all (one or several): a diffusion hint."""
    upper = as_text(text).upper()
    for m in _B_TOKEN.finditer(upper):
        b = float(m.group(1))
        if m.group(2) or b >= DESCRIPTION_MIN_B_WITHOUT_CONTEXT or _DIFFUSION_CONTEXT.search(upper):
            return True
    return False


# --------------------------------------------------------------------------------------------
# The chain
# --------------------------------------------------------------------------------------------


def _plausible(b: float | None) -> float | None:
    if b is None or not math.isfinite(b) or b < 0 or b > MAX_PLAUSIBLE_B:
        return None
    return float(b)


def _diffusion_b(item: Dataset | None) -> float | None:
    """b-value from a functional-group item's MR Diffusion Sequence (or a bare b-value)."""
    diff = first_item(item, "MRDiffusionSequence")
    if diff is not None:
        elem = get_element(diff, _TAG_B_VALUE)
        if elem is not None:
            return _plausible(as_float(elem.value))
    return None


def _private_b(ds: Dataset, spec: PrivateTag) -> float | None:
    elem = private_element(ds, spec)
    if elem is None:
        return None
    nums = decode_numbers(elem.value, spec.binary)
    return _plausible(nums[0]) if nums else None


def _ge_b(ds: Dataset) -> float | None:
    elem = private_element(ds, GE_SLOP_INT_6_9)
    if elem is None:
        return None
    nums = decode_numbers(elem.value, "text")
    if not nums:
        return None
    first = nums[0]
    if first >= GE_FLAG_MODULUS:
        first = first % GE_FLAG_MODULUS
    return _plausible(first)


def _siemens_old_b(ds: Dataset) -> float | None:
    elem = get_element(ds, 0x0019000C)
    if elem is None or not _manufacturer_matches(ds, ("SIEMENS",)):
        return None
    nums = decode_numbers(elem.value, "text")
    return _plausible(nums[0]) if nums else None


_CANON_COMMENT_B: Final = re.compile(r"^\s*B\s*=\s*(\d{1,5}(?:\.\d+)?)(?![0-9])")


def _canon_comment_b(ds: Dataset) -> float | None:
    """Canon/Toshiba classic DWI: Image Comments "b=1500(x,y,z)" (dcm2niix Canon/README.md)."""
    if not _manufacturer_matches(ds, ("CANON", "TOSHIBA")):
        return None
    m = _CANON_COMMENT_B.match(as_text(get_value(ds, "ImageComments")).upper())
    return _plausible(float(m.group(1))) if m else None


def _sequence_name_b(ds: Dataset) -> float | None:
    name = as_text(get_value(ds, "SequenceName")).upper()
    m = _SIEMENS_SEQ_B.search(name)
    return _plausible(float(m.group(1))) if m else None


def _classic_chain(ds: Dataset) -> tuple[float | None, str | None]:
    """Steps 2-10 of the chain (top-level tags), first hit wins."""
    elem = get_element(ds, _TAG_B_VALUE)
    if elem is not None:
        nums = decode_numbers(elem.value, "d")  # FD, or raw bytes when read as UN
        b = _plausible(nums[0]) if nums else None
        if b is not None:
            return b, SOURCE_PUBLIC
    b = _diffusion_b(ds)  # MR Diffusion Sequence flattened to top level by some converters
    if b is not None:
        return b, SOURCE_ENHANCED
    steps: Sequence[tuple[str, Any]] = (
        (SOURCE_SIEMENS, lambda: _private_b(ds, SIEMENS_B_VALUE)),
        (SOURCE_SIEMENS_OLD, lambda: _siemens_old_b(ds)),
        (SOURCE_SIEMENS_CSA, lambda: _csa_b_value(ds)),
        (SOURCE_GE, lambda: _ge_b(ds)),
        (SOURCE_PHILIPS, lambda: _private_b(ds, PHILIPS_B_FACTOR)),
        (SOURCE_UIH, lambda: _private_b(ds, UIH_B_VALUE)),
        (SOURCE_CANON, lambda: _canon_comment_b(ds)),
        (SOURCE_SEQUENCE_NAME, lambda: _sequence_name_b(ds)),
        (
            SOURCE_DESCRIPTION,
            lambda: _plausible(description_b_value(get_value(ds, "SeriesDescription"))),
        ),
    )
    for source, step in steps:
        try:
            b = step()
        except Exception:
            b = None
        if b is not None:
            return b, source
    return None, None


def _n_frames(ds: Dataset) -> int:
    n = as_int(get_value(ds, "NumberOfFrames"))
    return n if n is not None and n > 0 else 1


def frame_b_values(ds: Dataset) -> tuple[list[float | None], str | None]:
    """b-value of every frame and where they came from.

    Enhanced MR: one entry per Per-frame Functional Groups item (None where a frame has none);
    otherwise the top-level chain, repeated for each frame (a classic object gives one value).
    ``([], None)`` when no source has a b-value.
    """
    try:
        per_frame = sequence_items(ds, "PerFrameFunctionalGroupsSequence")
        shared_b = _diffusion_b(first_item(ds, "SharedFunctionalGroupsSequence"))
        if per_frame:
            values = [_diffusion_b(item) for item in per_frame]
            values = [shared_b if v is None else v for v in values]
            if any(v is not None for v in values):
                return values, SOURCE_ENHANCED
            n = len(per_frame)
        else:
            n = _n_frames(ds)
            if shared_b is not None:
                return [shared_b] * n, SOURCE_ENHANCED
        b, source = _classic_chain(ds)
        if b is None:
            return [], None
        return [b] * n, source
    except Exception:
        return [], None


def b_value(ds: Dataset) -> tuple[float | None, str | None]:
    """The image's b-value and its source; for multi-frame objects the first frame that has one.

    Use :func:`frame_b_values` for Enhanced MR, where every frame may differ.
    """
    values, source = frame_b_values(ds)
    for v in values:
        if v is not None:
            return v, source
    return None, None


def normalise_b_value(b: float) -> float:
    """The b-value as listed and compared: < B_ZERO_THRESHOLD -> 0, else whole s/mm²."""
    return 0.0 if b < B_ZERO_THRESHOLD else float(round(b))
