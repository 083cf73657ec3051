"""The grayscale display pipeline: stored values -> modality LUT -> VOI -> polarity -> 8 bit.

It follows DICOM PS3.3 C.11 so that an audit shows a mammogram the way the modality intended
(the vendor's SIGMOID window, its VOI LUTs, MONOCHROME1 inverted after VOI); positioning
criteria such as "pectoral muscle to nipple level" are judged on what this module renders.

Everything is numpy and Qt-free; a viewer can re-window from :attr:`DisplayImage.modality_values`
without decoding again.

Decisions worth knowing:

* Default VOI: the file's first window (with its VOI LUT Function), else the first VOI LUT
  Sequence item, else a range computed from the pixels. PS3.3 leaves the choice open when a file
  has both windows and VOI LUTs; vendors put their "normal" look in window 1 and viewers
  (and radiologists' expectations) follow it, so windows come first and LUTs are offered as
  alternatives.
* Polarity: the image is inverted (1 - v, after VOI) when Photometric Interpretation is
  MONOCHROME1, or when Presentation LUT Shape is INVERSE on a MONOCHROME2 image. In DX/MG
  objects INVERSE is how MONOCHROME1 images are required to declare the same inversion, so
  MONOCHROME1 + INVERSE inverts once, never twice; IDENTITY never cancels MONOCHROME1.
* Colour (RGB, YBR, PALETTE COLOR) images are shown as stored, converted to 8-bit RGB,
  without VOI: a viewer must never crash on a secondary-capture screenshot in a study.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels.processing import apply_color_lut

from auditdesk.dicom.display_scale import every_nth
from auditdesk.dicom.pixels import (
    Source,
    decode_frame,
    functional_group_item,
    image_geometry,
    read_dataset,
)
from auditdesk.dicom.robust_range import range_subsample, robust_range_of_codes
from auditdesk.dicom.robust_range import robust_range as _robust_range
from auditdesk.dicom.stored_file import StoredRegion, read_region

__all__ = [
    "COLOUR_PRESET",
    "DisplayImage",
    "VOIPreset",
    "apply_voi",
    "computed_preset",
    "default_voi",
    "find_preset",
    "is_colour",
    "is_monochrome1",
    "modality_lut",
    "needs_inversion",
    "render_png",
    "to_display",
    "voi_presets",
]

VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
_COLOUR_PHOTOMETRICS = ("RGB", "YBR", "PALETTE", "HSV", "ARGB", "CMYK")
#: Integer inputs up to this many distinct codes go through a lookup table (uint16 = 65536).
_LUT_MAX_ENTRIES = 1 << 16


@dataclass(frozen=True)
class VOIPreset:
    """One way of mapping modality values to display brightness.

    ``kind`` is "window" (center/width + ``function``), "lut" (``lut`` holds
    ``(first_mapped, bits, table)`` from a VOI LUT Sequence item) or "range" (center/width
    applied as LINEAR_EXACT, i.e. the values low..high map exactly onto black..white).
    """

    name: str
    kind: str
    center: float | None = None
    width: float | None = None
    function: str = "LINEAR"
    lut: tuple | None = None
    source: str = ""

    @property
    def low_high(self) -> tuple[float, float] | None:
        """The value range shown from black to white (None for LUTs)."""
        if self.center is None or self.width is None:
            return None
        return self.center - self.width / 2, self.center + self.width / 2


#: What colour images get: identity on 0..255 (a "range" preset, so it applies like any other).
COLOUR_PRESET = VOIPreset(
    name="Colour (as stored)",
    kind="range",
    center=127.5,
    width=255.0,
    function="LINEAR_EXACT",
    source="colour image: shown as stored, no VOI applies",
)


# --------------------------------------------------------------------------------------------
# Photometric helpers
# --------------------------------------------------------------------------------------------


def _photometric(ds: Dataset) -> str:
    return str(ds.get("PhotometricInterpretation") or "").strip().upper()


def is_monochrome1(ds: Dataset) -> bool:
    """True when low stored values mean bright (CR/DX/MG MONOCHROME1)."""
    return _photometric(ds) == "MONOCHROME1"


def is_colour(ds: Dataset) -> bool:
    """True for RGB/YBR/PALETTE COLOR images, which bypass the grayscale pipeline."""
    photometric = _photometric(ds)
    samples = ds.get("SamplesPerPixel") or 1
    if isinstance(samples, MultiValue | list):
        samples = samples[0] if samples else 1
    try:
        many = int(samples) > 1
    except (TypeError, ValueError):
        many = False
    return many or photometric.startswith(_COLOUR_PHOTOMETRICS)


def needs_inversion(ds: Dataset) -> tuple[bool, str]:
    """Whether to show 1 - v after VOI, and why (see the module notes for the rule)."""
    shape = str(ds.get("PresentationLUTShape") or "").strip().upper()
    if is_monochrome1(ds):
        if shape == "INVERSE":
            return True, "MONOCHROME1 (Presentation LUT Shape INVERSE says the same): inverted once"
        return True, "MONOCHROME1: inverted after VOI so dense tissue is bright"
    if shape == "INVERSE":
        return True, "Presentation LUT Shape INVERSE: inverted after VOI"
    return False, ""


# --------------------------------------------------------------------------------------------
# LUT items (Modality LUT and VOI LUT Sequences share the encoding)
# --------------------------------------------------------------------------------------------


def _lut_from_item(item: Dataset, ds: Dataset) -> tuple[int, int, np.ndarray] | None:
    """(first_mapped, bits, table) from an item with LUT Descriptor + LUT Data, or None."""
    descriptor = item.get("LUTDescriptor")
    if descriptor is None or "LUTData" not in item or len(descriptor) < 3:
        return None
    entries, first, bits = (int(v) for v in descriptor[:3])
    entries = entries or 65536
    if first >= 32768 and int(ds.get("PixelRepresentation") or 0) == 1:
        first -= 65536  # the descriptor's 2nd value is SS for signed images
    elem = item["LUTData"]
    value = elem.value
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        little = ds.original_encoding[1] is not False
        if bits <= 8 and len(value) == entries:
            table = np.frombuffer(value, dtype=np.uint8)
        else:
            table = np.frombuffer(value, dtype="<u2" if little else ">u2")
    else:
        seq = value if isinstance(value, list | tuple | MultiValue) else [value]
        table = np.asarray([int(v) for v in seq], dtype=np.int64)
    table = np.asarray(table[:entries], dtype=np.int64)
    if table.size == 0:
        return None
    bits = bits if 1 <= bits <= 16 else 16
    top = int(table.max())
    if top > (1 << bits) - 1:
        bits = max(bits, top.bit_length())  # descriptor understates the data: trust the data
    return first, bits, table


def _lut_lookup(x: np.ndarray, first: int, table: np.ndarray) -> np.ndarray:
    """Table lookup with the PS3.3 clamping: below first -> entry 0, above -> last entry."""
    idx = np.rint(x) if x.dtype.kind == "f" else x
    idx = np.clip(idx.astype(np.int64, copy=False) - first, 0, table.size - 1)
    return table[idx]


# --------------------------------------------------------------------------------------------
# Modality LUT
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Modality:
    """Rescale (slope, intercept) or a Modality LUT; identity when neither is present."""

    slope: float = 1.0
    intercept: float = 0.0
    lut: tuple[int, np.ndarray] | None = None

    def apply(self, stored: np.ndarray) -> np.ndarray:
        if self.lut is not None:
            first, table = self.lut
            domain = _integer_domain(stored.dtype)
            if domain is not None and stored.size > 4 * _LUT_MAX_ENTRIES:
                codes, unsigned = domain
                full = _lut_lookup(codes, first, table).astype(np.float32)
                return _gather(full, stored.view(unsigned))
            return _lut_lookup(stored, first, table).astype(np.float32)
        out = stored.astype(np.float32)
        if self.slope != 1.0:
            out *= np.float32(self.slope)
        if self.intercept != 0.0:
            out += np.float32(self.intercept)
        return out


def _float_or(value: object, default: float) -> float:
    if isinstance(value, MultiValue | list):
        value = value[0] if value else None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _modality(ds: Dataset, frame: int = 0) -> _Modality:
    """Where the rescale lives: per-frame/shared Pixel Value Transformation, else top level."""
    if is_colour(ds):
        return _Modality()
    source = functional_group_item(ds, "PixelValueTransformationSequence", frame) or ds
    seq = source.get("ModalityLUTSequence")
    if seq:
        parsed = _lut_from_item(seq[0], ds)
        if parsed is not None:
            first, _bits, table = parsed
            return _Modality(lut=(first, table))
    slope = _float_or(source.get("RescaleSlope"), 1.0)
    intercept = _float_or(source.get("RescaleIntercept"), 0.0)
    if slope == 0.0:
        slope = 1.0  # a zero slope would flatten the image; treat as absent
    return _Modality(slope=slope, intercept=intercept)


def modality_lut(stored: np.ndarray, ds: Dataset, frame: int = 0) -> np.ndarray:
    """Stored values -> modality values (float32): Rescale Slope/Intercept or Modality LUT.

    Enhanced multi-frame objects keep the rescale in the Pixel Value Transformation
    functional group of each frame, so ``frame`` selects it. Colour data passes through.
    """
    return _modality(ds, frame).apply(np.asarray(stored))


# --------------------------------------------------------------------------------------------
# VOI presets
# --------------------------------------------------------------------------------------------


def _float_list(value: object) -> list[float]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, MultiValue | list | tuple) else [value]
    out = []
    for v in items:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out


def _str_list(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, MultiValue | list | tuple) else [value]
    return [str(v).strip() for v in items]


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    taken.add(candidate)
    return candidate


def _voi_source(ds: Dataset, frame: int) -> tuple[Dataset, str]:
    """Frame VOI LUT functional group for enhanced objects, else the top level."""
    item = functional_group_item(ds, "FrameVOILUTSequence", frame)
    if item is not None and ("WindowCenter" in item or "VOILUTSequence" in item):
        return item, f"frame {frame + 1} VOI (functional groups) "
    return ds, "file "


def _file_presets(ds: Dataset, frame: int) -> list[VOIPreset]:
    source, where = _voi_source(ds, frame)
    presets: list[VOIPreset] = []
    taken: set[str] = set()

    centers = _float_list(source.get("WindowCenter"))
    widths = _float_list(source.get("WindowWidth"))
    names = _str_list(source.get("WindowCenterWidthExplanation"))
    function = str(source.get("VOILUTFunction") or ds.get("VOILUTFunction") or "LINEAR")
    function = function.strip().upper() or "LINEAR"
    unknown_function = function not in VOI_FUNCTIONS
    if unknown_function:
        function = "LINEAR"
    count = min(len(centers), len(widths))
    for i in range(count):
        c, w = centers[i], widths[i]
        if not (math.isfinite(c) and math.isfinite(w)) or w <= 0:
            continue
        if function == "LINEAR" and w < 1:
            continue  # PS3.3: LINEAR needs width >= 1
        label = names[i] if i < len(names) and names[i] else f"Window {i + 1}"
        note = f"{where}window {i + 1} of {count}"
        if unknown_function:
            note += " (unknown VOI LUT Function, LINEAR used)"
        presets.append(
            VOIPreset(
                name=_unique(label, taken),
                kind="window",
                center=c,
                width=w,
                function=function,
                source=note,
            )
        )

    for i, item in enumerate(source.get("VOILUTSequence") or [], start=1):
        parsed = _lut_from_item(item, ds)
        if parsed is None:
            continue
        first, bits, table = parsed
        explanation = str(item.get("LUTExplanation") or "").strip()
        label = f"VOI LUT {i}" + (f" ({explanation})" if explanation else "")
        presets.append(
            VOIPreset(
                name=_unique(label, taken),
                kind="lut",
                function="LUT",
                lut=(first, bits, tuple(int(v) for v in table)),
                source=f"VOI LUT Sequence item {i}",
            )
        )
    return presets


def computed_preset(
    ds: Dataset, values: np.ndarray | None = None, frame: int = 0, *, sampled: bool = False
) -> VOIPreset:
    """The "Full range" fallback: robust range of ``values``, else the header's value range.

    ``sampled``: ``values`` are already the range subsample (robust_range.range_subsample).
    """
    if values is not None:
        lo, hi, note = _robust_range(values, sampled=sampled)
        source = f"computed from pixel range ({note})"
    else:
        lo, hi, source = _header_range(ds, frame)
    return _range_preset(lo, hi, source)


def _range_preset(lo: float, hi: float, source: str) -> VOIPreset:
    return VOIPreset(
        name="Full range",
        kind="range",
        center=(lo + hi) / 2,
        width=hi - lo,
        function="LINEAR_EXACT",
        source=source,
    )


def _header_range(ds: Dataset, frame: int) -> tuple[float, float, str]:
    """Range from Smallest/Largest Image Pixel Value, else from Bits Stored (no decode)."""
    small, large = ds.get("SmallestImagePixelValue"), ds.get("LargestImagePixelValue")
    if isinstance(small, int) and isinstance(large, int) and large > small:
        lo, hi, note = small, large, "computed from Smallest/Largest Image Pixel Value"
    else:
        geom = image_geometry(ds)
        if geom.pixel_representation:
            lo, hi = -(1 << (geom.bits_stored - 1)), (1 << (geom.bits_stored - 1)) - 1
        else:
            lo, hi = 0, (1 << geom.bits_stored) - 1
        note = "computed from Bits Stored"
    mod = _modality(ds, frame)
    ends = mod.apply(np.array([lo, hi]))
    return float(ends.min()), float(ends.max()), note


def voi_presets(
    ds: Dataset,
    values: np.ndarray | None = None,
    *,
    frame: int = 0,
    include_computed: bool = False,
) -> list[VOIPreset]:
    """Every VOI the file offers: all windows (named by their explanations), then each VOI LUT
    Sequence item, then a computed "Full range" when the file has none (or when asked).

    ``values`` are the modality values of the frame; they make the computed range robust
    (percentiles, background ignored); without them the header's value range is used.
    """
    if is_colour(ds):
        return [COLOUR_PRESET]
    presets = _file_presets(ds, frame)
    if include_computed or not presets:
        presets.append(computed_preset(ds, values, frame))
    return presets


def default_voi(ds: Dataset, values: np.ndarray | None = None, *, frame: int = 0) -> VOIPreset:
    """The preset to open with: first file window (with its function), else first VOI LUT,
    else computed."""
    presets = voi_presets(ds, values, frame=frame)
    for kind in ("window", "lut"):
        for preset in presets:
            if preset.kind == kind:
                return preset
    return presets[0]


def find_preset(presets: list[VOIPreset], name: str) -> VOIPreset:
    """Preset by name: exact, then case-insensitive; ValueError listing the choices."""
    for preset in presets:
        if preset.name == name:
            return preset
    folded = name.strip().casefold()
    for preset in presets:
        if preset.name.casefold() == folded:
            return preset
    choices = ", ".join(repr(p.name) for p in presets)
    raise ValueError(f"No VOI preset named {name!r}; this image offers {choices}.")


# --------------------------------------------------------------------------------------------
# Applying VOI
# --------------------------------------------------------------------------------------------


def _voi_float(x: np.ndarray, preset: VOIPreset) -> np.ndarray:
    """PS3.3 C.11.2.1.2 with y_min = 0 and y_max = 1, computed in float32."""
    x = np.asarray(x, dtype=np.float32)
    if preset.kind == "lut":
        if preset.lut is None:
            raise ValueError(f"VOI preset {preset.name!r} has no lookup table.")
        first, bits, table = preset.lut
        tab = np.asarray(table, dtype=np.float32) / np.float32((1 << bits) - 1)
        return _lut_lookup(x, first, tab)
    if preset.center is None or preset.width is None:
        raise ValueError(f"VOI preset {preset.name!r} has no center/width.")
    c, w = float(preset.center), float(preset.width)
    function = preset.function if preset.kind == "window" else "LINEAR_EXACT"
    if function == "SIGMOID":
        # y = 1 / (1 + exp(-4 (x - c) / w)); the exponent is clipped to stay finite.
        t = (x - np.float32(c)) * np.float32(-4.0 / w)
        np.clip(t, -80.0, 80.0, out=t)
        np.exp(t, out=t)
        t += np.float32(1.0)
        return np.reciprocal(t, out=t)
    if function == "LINEAR_EXACT":
        # x <= c - w/2 -> 0; x > c + w/2 -> 1; else (x - c)/w + 0.5
        y = (x - np.float32(c)) * np.float32(1.0 / w)
        y += np.float32(0.5)
    elif w <= 1.0:
        # LINEAR with w = 1 is a threshold at c - 0.5 (the general formula divides by 0)
        return (x > np.float32(c - 0.5)).astype(np.float32)
    else:
        # LINEAR: x <= c - 0.5 - (w-1)/2 -> 0; x > c - 0.5 + (w-1)/2 -> 1;
        # else ((x - (c - 0.5)) / (w - 1) + 0.5)
        y = (x - np.float32(c - 0.5)) * np.float32(1.0 / (w - 1.0))
        y += np.float32(0.5)
    return np.clip(y, 0.0, 1.0, out=y)


def _integer_domain(dtype: np.dtype) -> tuple[np.ndarray, np.dtype] | None:
    """All codes of a <=16-bit integer dtype and the unsigned view used to index a table."""
    if dtype.kind not in "iu" or dtype.itemsize > 2:
        return None
    unsigned = np.dtype(f"u{dtype.itemsize}")
    codes = np.arange(1 << (8 * unsigned.itemsize), dtype=unsigned)
    return codes.view(dtype) if dtype.kind == "i" else codes, unsigned


_GATHER_CHUNK = 1 << 16


def _gather(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]`` in 64k-element chunks.

    Plain fancy indexing first converts all 13.6 M uint16 indices to a 109 MB intp array;
    chunked ``np.take`` keeps that temporary in cache and is ~40 % faster on a mammogram.
    """
    flat = codes.reshape(-1)
    out = np.empty(flat.shape, dtype=table.dtype)
    for start in range(0, flat.size, _GATHER_CHUNK):
        stop = start + _GATHER_CHUNK
        np.take(table, flat[start:stop], out=out[start:stop])
    return out.reshape(codes.shape)


def apply_voi(values: np.ndarray, preset: VOIPreset) -> np.ndarray:
    """Modality values -> display values in [0, 1] (float32), exactly per PS3.3 C.11.2.1.2.

    LINEAR keeps the standard's -0.5 / -1 terms, LINEAR_EXACT and SIGMOID follow their
    formulas, "range" presets are LINEAR_EXACT, VOI LUT items are looked up with clamping
    and scaled by their output bit depth. 8/16-bit integer input goes through a 256/65536-entry
    table (one gather instead of float maths over every pixel of a 13.6 Mpx mammogram).
    """
    arr = np.asarray(values)
    domain = _integer_domain(arr.dtype)
    if domain is not None and arr.size > 4 * _LUT_MAX_ENTRIES:
        codes, unsigned = domain
        return _gather(_voi_float(codes, preset), arr.view(unsigned))
    return _voi_float(arr, preset)


# --------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------


@dataclass
class DisplayImage:
    """One rendered frame plus what a viewer needs to re-window it without decoding again."""

    array: np.ndarray
    """uint8 (rows, cols) grayscale or (rows, cols, 3) RGB; float32 in [0, 1] if asked."""
    voi: VOIPreset
    inverted: bool
    frame: int
    stored: np.ndarray | None = None
    """The decoded stored values of this frame (None for colour images)."""
    photometric: str = "MONOCHROME2"
    notes: tuple[str, ...] = ()
    _modality: _Modality | None = field(default=None, repr=False)
    reduction: int = 1
    """``array`` holds every n-th stored row and column (1: full); see display_scale."""
    stored_region: StoredRegion | None = field(default=None, repr=False)
    """Where ``stored`` lies in its file: pickling sends this instead of the values."""

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        if self.stored_region is not None:
            state["stored"] = None  # read again from the file on the other side
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if self.stored is None and self.stored_region is not None:
            self.stored = read_region(self.stored_region)

    @property
    def modality_values(self) -> np.ndarray | None:
        """float32 modality-LUT output (None for colour), computed on every call, never kept.

        Not cached: on a 13.6 Mpx mammogram it is a 54 MB array, twice the stored frame, and
        a decode cache of such images must hold stored values only (issue 15). The render and
        the robust range do not need it (a 65,536-entry table; :meth:`range_preset`).
        """
        if self.stored is None:
            return None
        return (self._modality or _Modality()).apply(self.stored)

    def range_preset(self) -> VOIPreset:
        """The computed "Full range" of this grayscale frame, exactly as
        ``computed_preset(ds, modality_values)`` but without the full float frame."""
        assert self.stored is not None, "colour images have no computed range"
        modality = self._modality or _Modality()
        if _integer_domain(self.stored.dtype) is not None:
            lo, hi, note = robust_range_of_codes(self.stored, modality.apply)
        else:
            sample = modality.apply(range_subsample(self.stored))
            lo, hi, note = _robust_range(sample, sampled=True)
        return _range_preset(lo, hi, f"computed from pixel range ({note})")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def is_colour(self) -> bool:
        return self.stored is None

    def rewindow(
        self, voi: VOIPreset, out: str = "uint8", reduction: int | None = None
    ) -> DisplayImage:
        """The same frame through another VOI, without decoding again (colour: unchanged),
        at this render's reduction unless ``reduction`` is given (1: full resolution)."""
        if self.stored is None:
            return self
        step = self.reduction if reduction is None else max(1, int(reduction))
        modality = self._modality or _Modality()
        array = _render_gray(
            every_nth(self.stored, step), modality, voi, self.inverted, _check_out(out)
        )
        return replace(self, array=array, voi=voi, reduction=step)


def _check_out(out: str) -> Literal["uint8", "float32"]:
    if out in ("uint8", "u8"):
        return "uint8"
    if out in ("float32", "float", "f4"):
        return "float32"
    raise ValueError(f"out must be 'uint8' or 'float32', not {out!r}.")


def _finish(shown: np.ndarray, out: str) -> np.ndarray:
    """[0, 1] float32 -> uint8 (round half to even of v * 255) or unchanged float32."""
    if out == "float32":
        return shown.astype(np.float32, copy=False)
    scaled = np.multiply(shown, np.float32(255.0), dtype=np.float32)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint8)


def _colour_display(ds: Dataset, frame: int, out: str) -> DisplayImage:
    arr = decode_frame(ds, frame)
    photometric = _photometric(ds)
    notes = []
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        notes.append("palette colour lookup applied")
        full = 255 if arr.dtype == np.uint8 else 65535
    else:
        bits = image_geometry(ds).bits_stored
        full = (1 << bits) - 1
    if arr.ndim == 2:  # a single-sample palette result is already RGB; guard odd shapes
        arr = np.stack([arr] * 3, axis=-1)
    if out == "uint8" and arr.dtype == np.uint8 and full == 255:
        shown = arr
    else:
        scaled = arr.astype(np.float32) / np.float32(full)
        np.clip(scaled, 0.0, 1.0, out=scaled)
        shown = _finish(scaled, out)
    return DisplayImage(
        array=np.ascontiguousarray(shown),
        voi=COLOUR_PRESET,
        inverted=False,
        frame=frame,
        stored=None,
        photometric=photometric,
        notes=tuple(notes),
    )


def _render_gray(
    stored: np.ndarray,
    modality: _Modality,
    preset: VOIPreset,
    inverted: bool,
    mode: str,
) -> np.ndarray:
    """Modality LUT -> VOI -> polarity -> output for one grayscale frame.

    For 8/16-bit stored data the three steps are folded into one table over every stored
    code (65,536 entries at most), so a frame costs one chunked gather whatever the VOI.
    """
    domain = _integer_domain(stored.dtype)
    if domain is not None:
        codes, unsigned = domain
        table = _voi_float(modality.apply(codes), preset)
        if inverted:
            table = np.subtract(np.float32(1.0), table, out=table)
        return _gather(_finish(table, mode), stored.view(unsigned))
    values = modality.apply(stored)
    shown = _voi_float(values, preset)
    if inverted:
        shown = np.subtract(np.float32(1.0), shown, out=shown)
    return _finish(shown, mode)


def to_display(
    ds: Dataset,
    frame: int = 0,
    voi: VOIPreset | str | None = None,
    out: str = "uint8",
    *,
    reduction: int = 1,
) -> DisplayImage:
    """Decode one frame and run the full pipeline: size check -> decode -> modality LUT ->
    VOI (default: :func:`default_voi`; a preset or a preset name) -> polarity -> uint8/float32.
    ``reduction`` n renders every n-th row and column of a grayscale frame (stored stays full).

    Colour images come back as RGB (no VOI). Decoding problems raise
    :class:`~auditdesk.dicom.pixels.PixelDataError`; an unknown preset name raises ValueError.
    """
    mode = _check_out(out)
    if is_colour(ds):
        return _colour_display(ds, frame, mode)
    preset: VOIPreset | None = voi if isinstance(voi, VOIPreset) else None
    if isinstance(voi, str):
        file_presets = _file_presets(ds, frame)
        try:  # a file preset needs no pixel statistics
            preset = find_preset(file_presets, voi)
        except ValueError:
            # only the computed "Full range" is left; fail before decoding if it is not that
            find_preset([*file_presets, computed_preset(ds, None, frame)], voi)
    stored = decode_frame(ds, frame)
    image = DisplayImage(
        array=np.empty((0, 0), dtype=np.uint8),
        voi=COLOUR_PRESET,
        inverted=False,
        frame=frame,
        stored=stored,
        photometric=_photometric(ds),
        _modality=_modality(ds, frame),
    )
    if preset is None and isinstance(voi, str):
        preset = image.range_preset()
    elif preset is None:
        preset = default_voi(ds, frame=frame)
        if preset.kind == "range":  # the file has no VOI: compute it from this frame's pixels
            preset = image.range_preset()
    inverted, why = needs_inversion(ds)
    image.inverted = inverted
    image.voi = preset
    image.notes = (f"VOI: {preset.name} ({preset.source})", *([why] if why else []))
    image.reduction = max(1, int(reduction))
    modality = image._modality or _Modality()
    image.array = _render_gray(every_nth(stored, image.reduction), modality, preset, inverted, mode)
    return image


def render_png(
    source: Source | Dataset,
    out_path: str | os.PathLike[str],
    frame: int = 0,
    voi: VOIPreset | str | None = None,
    max_size: int | None = None,
) -> Path:
    """One frame through the pipeline to an 8-bit PNG (reports, teaching files).

    ``voi`` may be a preset, a preset name (e.g. "HARDER", "Full range") or None for the
    default; ``max_size`` shrinks the longest side (Lanczos) and never enlarges.
    """
    from PIL import Image  # imported here: only reports need Pillow

    ds = read_dataset(source)
    image = to_display(ds, frame=frame, voi=voi, out="uint8")
    pil = Image.fromarray(np.ascontiguousarray(image.array))
    if max_size is not None and max(pil.size) > max_size:
        if max_size < 1:
            raise ValueError("max_size must be at least 1 pixel.")
        pil.thumbnail((max_size, max_size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    path = Path(out_path)
    pil.save(path, format="PNG")
    return path
