"""JPEG 2000 frames decoded at a reduced resolution level, for a fast first paint.

A JPEG 2000 codestream is a wavelet pyramid: resolution level ``r`` (each side divided by
``2**r``, rounded up) is the low-pass band of the full image and decodes in a fraction of the
time (4096x3328 lossless: full 1.75 s, r=2 0.09 s, with Pillow's openjpeg). The viewer paints
that level first and swaps in the full decode when it arrives; ``auditdesk render --max-size``
never needs more than the level that covers the requested size.

The reduced path is only taken where it provably gives the same data as the full decoder
(pydicom's): one unsigned monochrome sample of at most 16 bits, JPEG 2000 (.90/.91), a
codestream whose own size, component count, precision and signedness match the DICOM header
(see ``J2K_pixelrep_mismatch.dcm``: signed header, unsigned codestream). Everything else
returns ``None`` and callers keep the full path. HTJ2K is left out: no encoder here to test it.

Pillow returns a P-bit component shifted up to fill its 8/16-bit mode (``v << (16 - P)``);
shifting back gives the stored values exactly (tests compare r=0 with pydicom bit for bit).
No Qt here: this runs in decode worker processes.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.uid import JPEG2000, JPEG2000Lossless

from auditdesk.dicom.display import (
    DisplayImage,
    VOIPreset,
    _file_presets,
    _Modality,
    _modality,
    _photometric,
    _render_gray,
    computed_preset,
    default_voi,
    find_preset,
    is_colour,
    needs_inversion,
    render_png,
)
from auditdesk.dicom.pixels import (
    PixelDataError,
    Source,
    image_geometry,
    read_dataset,
    transfer_syntax,
)

__all__ = [
    "REDUCIBLE_SYNTAXES",
    "CodestreamInfo",
    "ReducedFrame",
    "RenderResult",
    "codestream_info",
    "decode_reduced",
    "level_for_size",
    "may_have_preview",
    "reduced_display",
    "render_png_fitted",
    "why_not_reduced",
]

#: Transfer syntaxes whose frames are plain JPEG 2000 codestreams Pillow can reduce.
REDUCIBLE_SYNTAXES = frozenset({str(JPEG2000Lossless), str(JPEG2000)})

_SOC, _SIZ, _COD, _COC, _SOT, _SOD = 0xFF4F, 0xFF51, 0xFF52, 0xFF53, 0xFF90, 0xFF93


@dataclass(frozen=True)
class CodestreamInfo:
    """What the codestream itself says (SIZ and COD/COC markers of the main header)."""

    width: int
    height: int
    x_offset: int
    y_offset: int
    components: int
    precision: int  # bits of component 0
    signed: bool  # component 0
    subsampled: bool  # component 0 has XRsiz/YRsiz other than 1
    levels: int  # wavelet decompositions available for component 0 (0: none)


@dataclass(frozen=True)
class ReducedFrame:
    """Stored values of one frame at resolution level ``level`` (each side / 2**level, ceil)."""

    stored: np.ndarray
    level: int
    full_shape: tuple[int, int]  # (rows, columns) of the full-resolution frame


@dataclass(frozen=True)
class RenderResult:
    """Where a PNG was written and from which resolution level (0: the full decode)."""

    path: Path
    level: int


def codestream_info(codestream: bytes) -> CodestreamInfo | None:
    """Parse SIZ and COD (and a COC for component 0) from a J2K main header; None if absent.

    Only the main header is read (up to the first tile-part): the ISO 15444-1 A.5.1 / A.6.1
    layouts. A malformed header returns None so the caller uses the full decoder.
    """
    data = bytes(codestream[: 1 << 16])
    if len(data) < 4 or struct.unpack(">H", data[:2])[0] != _SOC:
        return None
    pos = 2
    siz: tuple[int, ...] | None = None
    comp0: tuple[int, int, int] | None = None
    levels: int | None = None
    coc_levels: int | None = None
    try:
        while pos + 4 <= len(data):
            marker, length = struct.unpack(">HH", data[pos : pos + 4])
            if marker in (_SOT, _SOD) or length < 2:
                break
            body = data[pos + 4 : pos + 2 + length]
            if marker == _SIZ:
                # Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz
                siz = struct.unpack(">H8IH", body[:36])
                comp0 = struct.unpack(">BBB", body[36:39])
            elif marker == _COD:
                # Scod, progression order, layers (2 bytes), MCT, decomposition levels
                levels = body[5]
            elif marker == _COC:
                csiz = siz[9] if siz is not None else 1
                index_len = 1 if csiz < 257 else 2
                component = body[0] if index_len == 1 else struct.unpack(">H", body[:2])[0]
                if component == 0:
                    coc_levels = body[index_len + 1]
            pos += 2 + length
    except (struct.error, IndexError):
        return None
    if siz is None or comp0 is None or levels is None:
        return None
    ssiz, xr, yr = comp0
    return CodestreamInfo(
        width=siz[1] - siz[3],
        height=siz[2] - siz[4],
        x_offset=siz[3],
        y_offset=siz[4],
        components=siz[9],
        precision=(ssiz & 0x7F) + 1,
        signed=bool(ssiz & 0x80),
        subsampled=(xr, yr) != (1, 1),
        levels=coc_levels if coc_levels is not None else levels,
    )


def frame_codestream(ds: Dataset, frame: int = 0) -> bytes:
    """The encapsulated codestream of ``frame`` (pydicom's fragment/offset-table handling)."""
    n_frames = int(ds.get("NumberOfFrames") or 1)
    return get_frame(ds.PixelData, frame, number_of_frames=n_frames)


def why_not_reduced(ds: Dataset, info: CodestreamInfo | None) -> str | None:
    """Why this frame must take the full decoder (None: the reduced path gives the same data)."""
    ts = transfer_syntax(ds)
    if ts is None or str(ts) not in REDUCIBLE_SYNTAXES:
        return "not JPEG 2000"
    if is_colour(ds):
        return "colour image"
    try:
        geom = image_geometry(ds)
    except PixelDataError as exc:
        return str(exc)
    if geom.photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return f"photometric {geom.photometric}"
    if geom.bits_allocated not in (8, 16) or geom.bits_stored > 16:
        return f"{geom.bits_allocated}-bit allocation"
    if geom.pixel_representation != 0:
        return "signed pixel data"
    if info is None:
        return "codestream header not readable"
    if info.components != 1 or info.subsampled:
        return "codestream has several or subsampled components"
    if info.signed:
        return "codestream is signed but the header says unsigned"
    if info.precision != geom.bits_stored:
        return f"codestream has {info.precision} bits, header {geom.bits_stored}"
    if (info.height, info.width) != (geom.rows, geom.columns):
        return "codestream size differs from Rows/Columns"
    if info.x_offset or info.y_offset:
        return "codestream has an image offset"
    if info.levels < 1:
        return "codestream has no reduced resolution levels"
    return None


def level_for_size(rows: int, cols: int, target: int, levels: int) -> int:
    """The coarsest level whose longest side is still >= ``target`` (0: only the full image)."""
    longest = max(rows, cols)
    level = 0
    while level < levels and math.ceil(longest / 2 ** (level + 1)) >= target:
        level += 1
    return level


def may_have_preview(
    transfer_syntax_uid: str | None, rows: int | None, cols: int | None, target: int
) -> bool:
    """Worth asking a worker for a preview (from the index, without opening the file)? False
    for other codecs and for images whose half size is already below ``target``: for them a
    preview request would only read the file twice."""
    if str(transfer_syntax_uid or "") not in REDUCIBLE_SYNTAXES or not rows or not cols:
        return False
    return math.ceil(max(rows, cols) / 2) >= target


def decode_reduced(ds: Dataset, frame: int = 0, target: int = 1024) -> ReducedFrame | None:
    """Stored values of ``frame`` at the coarsest level covering ``target`` pixels on the
    longest side; None when the full decode must be used (not eligible, level 0, or Pillow
    refuses: a corrupt stream is then reported by the full decoder, in one sentence)."""
    if "PixelData" not in ds:
        return None
    ts = transfer_syntax(ds)
    if ts is None or str(ts) not in REDUCIBLE_SYNTAXES:
        return None
    try:
        codestream = frame_codestream(ds, frame)
    except Exception:
        return None
    info = codestream_info(codestream)
    if why_not_reduced(ds, info) is not None:
        return None
    assert info is not None
    geom = image_geometry(ds)
    level = level_for_size(geom.rows, geom.columns, target, info.levels)
    while level > 0:
        arr = _pillow_decode(codestream, level)
        expected = (math.ceil(geom.rows / 2**level), math.ceil(geom.columns / 2**level))
        if arr is not None and arr.shape == expected:
            return ReducedFrame(
                stored=_unshift(arr, info.precision, geom.itemsize),
                level=level,
                full_shape=(geom.rows, geom.columns),
            )
        level -= 1  # Pillow refused this level: try a finer one
    return None


def _pillow_decode(codestream: bytes, level: int) -> np.ndarray | None:
    from PIL import Image  # imported here: only JPEG 2000 previews need Pillow

    try:
        with Image.open(io.BytesIO(codestream), formats=["JPEG2000"]) as im:
            im.reduce = level  # type: ignore[method-assign,assignment]  # Pillow's documented reduce-on-load attribute
            im.load()
            if im.mode not in ("L", "I;16"):
                return None
            return np.asarray(im)
    except Exception:
        return None


def _unshift(arr: np.ndarray, precision: int, itemsize: int) -> np.ndarray:
    """Undo Pillow's scaling of a ``precision``-bit component to 8 (mode L) or 16 bits."""
    shift = 8 * arr.dtype.itemsize - precision
    values = np.right_shift(arr, shift) if shift > 0 else arr
    return np.ascontiguousarray(values, dtype=np.dtype(f"u{itemsize}"))


def reduced_display(
    ds: Dataset, frame: int = 0, target: int = 1024, voi: VOIPreset | str | None = None
) -> tuple[DisplayImage, ReducedFrame] | None:
    """:func:`~auditdesk.dicom.display.to_display` on a reduced level (None: use the full path).

    The same modality LUT, VOI choice (file windows first; a computed range comes from the
    reduced stored values) and polarity as ``to_display``; the rendered array is the reduced
    size, so callers scale it by ``2**level`` to full-resolution coordinates.
    """
    reduced = decode_reduced(ds, frame, target)
    if reduced is None:
        return None
    modality = _modality(ds, frame)
    image = DisplayImage(
        array=np.empty((0, 0), dtype=np.uint8),
        voi=VOIPreset(name="", kind="range"),
        inverted=False,
        frame=frame,
        stored=reduced.stored,
        photometric=_photometric(ds),
        _modality=modality,
    )
    preset = voi if isinstance(voi, VOIPreset) else None
    if isinstance(voi, str):
        file_presets = _file_presets(ds, frame)
        try:
            preset = find_preset(file_presets, voi)
        except ValueError:
            find_preset([*file_presets, computed_preset(ds, None, frame)], voi)
            preset = image.range_preset()
    elif preset is None:
        preset = default_voi(ds, frame=frame)
        if preset.kind == "range":  # no VOI in the file: computed from these pixels
            preset = image.range_preset()
    inverted, why = needs_inversion(ds)
    size = f"{reduced.stored.shape[1]}x{reduced.stored.shape[0]}"
    notes = (
        f"VOI: {preset.name} ({preset.source})",
        *([why] if why else []),
        f"JPEG 2000 resolution level {reduced.level} ({size})",
    )
    array = _render_gray(reduced.stored, modality or _Modality(), preset, inverted, "uint8")
    return replace(image, array=array, voi=preset, inverted=inverted, notes=notes), reduced


def render_png_fitted(
    source: Source | Dataset,
    out_path: str | Path,
    frame: int = 0,
    voi: VOIPreset | str | None = None,
    max_size: int | None = None,
) -> RenderResult:
    """:func:`~auditdesk.dicom.display.render_png`, but a JPEG 2000 frame is decoded only at
    the coarsest level that still has ``max_size`` pixels on its longest side (then shrunk
    with the same Lanczos filter); the full decode only when no level is big enough."""
    ds = read_dataset(source)
    if max_size is not None and max_size < 1:
        raise ValueError("max_size must be at least 1 pixel.")
    found = reduced_display(ds, frame, max_size, voi) if max_size is not None else None
    if found is None:
        return RenderResult(render_png(ds, out_path, frame=frame, voi=voi, max_size=max_size), 0)
    from PIL import Image

    image, reduced = found
    assert max_size is not None  # found is None without a size
    pil = Image.fromarray(np.ascontiguousarray(image.array))
    if max(pil.size) > max_size:
        pil.thumbnail((max_size, max_size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    path = Path(out_path)
    pil.save(path, format="PNG")
    return RenderResult(path, reduced.level)
