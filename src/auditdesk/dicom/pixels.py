"""Reading DICOM files and decoding their pixel data, with guard rails.

Audit imports meet every kind of damaged file: truncated copies, headers from old ACR-NEMA
systems, files without a preamble, and headers claiming gigabytes of pixels. Everything here
turns those into :class:`PixelDataError` with one sentence a technologist can act on, and it
refuses absurd sizes *before* anything is allocated, so one bad file can never take the
application (or the rest of an import) down.

No Qt here: the viewer decodes in worker processes and this module must stay importable there.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from pydicom import dcmread
from pydicom.datadict import dictionary_has_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from auditdesk.dicom.native_frame import native_frame
from auditdesk.dicom.tag_access import value_of

__all__ = [
    "MAX_DECODED_BYTES",
    "FrameIndexError",
    "ImageGeometry",
    "PixelDataError",
    "check_pixel_size",
    "decode_frame",
    "decode_frames",
    "functional_group_item",
    "image_geometry",
    "number_of_frames",
    "read_dataset",
    "transfer_syntax",
]

log = logging.getLogger(__name__)

#: Largest decoded array one call may allocate. A 4096x3328 16-bit mammogram is 27 MB, a DBT
#: object of 70 slices is ~650 MB; 1 GiB leaves room for those while refusing headers that claim
#: absurd sizes. Single frames of bigger objects can still be decoded with :func:`decode_frame`.
MAX_DECODED_BYTES: int = 1 << 30

#: Attribute set on datasets whose transfer syntax was guessed because the file declared none.
_ASSUMED_TS_ATTR = "_auditdesk_assumed_transfer_syntax"

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_COLOUR_DEFAULT = "RGB"
_MONO_DEFAULT = "MONOCHROME2"

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


class PixelDataError(Exception):
    """A file whose image cannot be shown; ``str(err)`` is one user-facing sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(_sentence(message))


class FrameIndexError(PixelDataError, IndexError):
    """A frame number the image does not have (catchable as either parent)."""


# --------------------------------------------------------------------------------------------
# Small text helpers (messages must stay one sentence, whatever a codec says)
# --------------------------------------------------------------------------------------------


def _sentence(text: str) -> str:
    """Collapse whitespace, capitalise, and end with exactly one full stop."""
    text = " ".join(str(text).split()).strip()
    if not text:
        return "Unknown pixel data problem."
    text = text[0].upper() + text[1:]
    text = text.rstrip(" .;:")
    return text + "."


def _reason(exc: BaseException, limit: int = 400) -> str:
    """Turn a library exception into a clause that can sit inside one sentence."""
    raw = str(exc) or type(exc).__name__
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    # pydicom's "Unable to decode as exceptions were raised by all available plugins:" is
    # followed by one "  name: message" line per plugin: keep those, joined by semicolons.
    multi = len(lines) > 1 and "plugins" in lines[0]
    text = "; ".join(lines[1:]) if multi else " ".join(lines)
    text = re.sub(r"\.(\s+)", r";\1", text)  # inner sentence breaks become semicolons
    text = text.rstrip(" .;:")
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


def _gib(n: int | float) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def _size(n: int | float) -> str:
    if n >= 1 << 30:
        return _gib(n)
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{int(n):,} bytes"


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


@contextmanager
def _binary_stream(source: Source) -> Iterator[BinaryIO]:
    """Yield a seekable binary stream for any supported source; close only what we opened."""
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            fh = path.open("rb")
        except FileNotFoundError as exc:
            raise PixelDataError(f"The file {path.name} does not exist.") from exc
        except IsADirectoryError as exc:
            raise PixelDataError(f"{path.name} is a folder, not a DICOM file.") from exc
        except OSError as exc:
            raise PixelDataError(
                f"The file {path.name} could not be opened: {_reason(exc)}."
            ) from exc
        with fh:
            yield fh
    elif hasattr(source, "read"):
        if hasattr(source, "seekable") and not source.seekable():
            yield io.BytesIO(source.read())
        else:
            yield source
    else:
        raise TypeError(f"Cannot read DICOM from a {type(source).__name__}.")


def _dcmread(fp: BinaryIO | _BoundedReader, stop_before_pixels: bool) -> tuple[Dataset, list[str]]:
    """dcmread with force=True, pydicom's exceptions mapped and its warnings collected.

    The warnings (invalid VRs and the like) are logged instead of printed: a technologist
    cannot act on them, and the one that matters (a truncated file) is turned into a message.
    ``warnings.catch_warnings`` is process-wide, so read from one thread at a time (decoding
    is meant for worker processes anyway: pydicom and the codecs hold the GIL).
    """
    start = fp.tell()
    fp.seek(0, os.SEEK_END)
    size = fp.tell() - start
    fp.seek(start)
    if size == 0:
        raise PixelDataError("The file is empty.")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = dcmread(fp, force=True, stop_before_pixels=stop_before_pixels)
    except Exception as exc:
        raise PixelDataError(f"The file could not be read as DICOM: {_reason(exc)}.") from exc
    notes = [str(w.message) for w in caught]
    for note in notes:
        log.debug("pydicom while reading: %s", note)
    return ds, notes


def _has_public_elements(ds: Dataset) -> bool:
    return any(not elem.tag.is_private and dictionary_has_tag(elem.tag) for elem in ds.elements())


def _validate_readable(ds: Dataset, notes: list[str]) -> None:
    """Reject what force=True produced from a non-DICOM or cut-off file."""
    truncated = any("End of file reached" in n or "truncated" in n.lower() for n in notes)
    if len(ds) == 0:
        if truncated:
            raise PixelDataError(
                "The file is truncated: it ends before its data set is complete, "
                "so no image can be read."
            )
        raise PixelDataError("The file holds no DICOM data elements after its header.")
    if not _has_public_elements(ds):
        raise PixelDataError(
            "The file is not a readable DICOM data set: no standard DICOM elements were found "
            "(it may lack its header, be damaged, or be another kind of file)."
        )


def _guess_transfer_syntax(ds: Dataset) -> UID:
    """The syntax pydicom actually parsed the data set with (it sniffs when none is declared)."""
    implicit, little = ds.original_encoding
    if implicit is False and little is False:
        return ExplicitVRBigEndian
    if implicit is False:
        return ExplicitVRLittleEndian
    return ImplicitVRLittleEndian


def _ensure_transfer_syntax(ds: Dataset) -> None:
    """Fill in a missing Transfer Syntax UID so pydicom's decoders can run.

    Files without file meta (old ACR-NEMA style, e.g. the Fuji CR sample) are still native
    pixel data in the encoding the parser found; assume that encoding and remember we did.
    """
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = FileMetaDataset()
        ds.file_meta = meta
    if meta.get("TransferSyntaxUID"):
        return
    meta.TransferSyntaxUID = _guess_transfer_syntax(ds)
    object.__setattr__(ds, _ASSUMED_TS_ATTR, True)


def _assumed_ts(ds: Dataset) -> bool:
    return bool(getattr(ds, _ASSUMED_TS_ATTR, False))


def read_dataset(
    source: Source | Dataset,
    *,
    stop_before_pixels: bool = False,
    max_bytes: int | None = None,
) -> Dataset:
    """Read a whole DICOM object (path, bytes or binary file) the way an import should.

    * ``force=True`` so files without preamble or file meta are read; a missing Transfer
      Syntax UID is filled in with the encoding the parser detected (Implicit VR Little Endian
      for classic ACR-NEMA style files).
    * Reads never ask for more bytes than the file holds, so a corrupt length field cannot
      make the parser allocate gigabytes.
    * When the file itself is bigger than ``max_bytes`` (default :data:`MAX_DECODED_BYTES`)
      the header is parsed first and a declared image over the limit is refused before the
      pixel bytes are read. Smaller files are read in one pass (decoding checks again).
    * Anything unreadable raises :class:`PixelDataError`, never a pydicom internal.
    """
    if isinstance(source, Dataset):
        _ensure_transfer_syntax(source)
        return source
    with _binary_stream(source) as raw:
        start = raw.tell()
        raw.seek(0, os.SEEK_END)
        end = raw.tell()
        raw.seek(start)
        fp = _BoundedReader(raw, end)
        if not stop_before_pixels and end - start > _limit(max_bytes):
            header, _ = _dcmread(fp, stop_before_pixels=True)
            _refuse_oversize_header(header, max_bytes)
            raw.seek(start)
        ds, notes = _dcmread(fp, stop_before_pixels=stop_before_pixels)
    _validate_readable(ds, notes)
    _ensure_transfer_syntax(ds)
    return ds


class _BoundedReader:
    """File proxy whose read(n) never asks the OS for more than the bytes left.

    ``FileIO.read(n)`` allocates ``n`` bytes up front; a damaged element length of 0xFFFFFFF0
    would otherwise cost 4 GiB of memory while parsing a 1 kB file.
    """

    def __init__(self, fp: BinaryIO, end: int) -> None:
        self._fp = fp
        self._end = end

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            return self._fp.read()
        left = max(0, self._end - self._fp.tell())
        return self._fp.read(min(n, left))

    def __getattr__(self, name: str) -> object:
        return getattr(self._fp, name)


def _refuse_oversize_header(header: Dataset, max_bytes: int | None) -> None:
    if "Rows" not in header or "Columns" not in header:
        return
    try:
        geom = image_geometry(header)
    except PixelDataError:
        return  # incomplete headers are reported when someone asks for the pixels
    _check_declared_size(geom, geom.frames, max_bytes)


# --------------------------------------------------------------------------------------------
# Geometry and size checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageGeometry:
    """The Image Pixel module values, parsed leniently and validated once."""

    rows: int
    columns: int
    frames: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric: str
    planar_configuration: int | None = None

    @property
    def itemsize(self) -> int:
        """Bytes per decoded sample (1-bit data is unpacked to one byte per pixel)."""
        return max(1, self.bits_allocated // 8)

    @property
    def frame_decoded_bytes(self) -> int:
        return self.rows * self.columns * self.samples_per_pixel * self.itemsize

    @property
    def is_colour(self) -> bool:
        return self.samples_per_pixel > 1 or self.photometric == "PALETTE COLOR"

    def native_bytes(self, frames: int | None = None) -> int:
        """Bytes a native (uncompressed) encoding needs for ``frames`` frames."""
        n = self.frames if frames is None else frames
        bits = self.rows * self.columns * self.samples_per_pixel * self.bits_allocated * n
        if self.photometric == "YBR_FULL_422" and self.samples_per_pixel == 3:
            bits = bits * 2 // 3
        return math.ceil(bits / 8)

    def pixel_options(self) -> dict[str, object]:
        """Keyword overrides for pydicom's decoders, so lenient defaults are used there too."""
        opts: dict[str, object] = {
            "rows": self.rows,
            "columns": self.columns,
            "number_of_frames": self.frames,
            "samples_per_pixel": self.samples_per_pixel,
            "bits_allocated": self.bits_allocated,
            "bits_stored": self.bits_stored,
            "pixel_representation": self.pixel_representation,
            "photometric_interpretation": self.photometric,
        }
        if self.planar_configuration is not None:
            opts["planar_configuration"] = self.planar_configuration
        return opts


def _first_int(ds: Dataset, keyword: str) -> int | None:
    """First value of a US/IS element as int; None when absent or empty."""
    value = value_of(ds, keyword)  # ds[keyword].value without pydicom's per-lookup overhead
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple | MultiValue):
        # e.g. Rows "32768\\0" in a corrupted header: the first value is the declared one.
        if len(value) == 0:
            return None
        value = value[0]
    try:
        number = float(str(value).strip())
    except ValueError:
        raise PixelDataError(
            f"The {_spaced(keyword)} value '{value}' is not a number, so the image size is unknown."
        ) from None
    if not math.isfinite(number) or number != int(number):
        raise PixelDataError(
            f"The {_spaced(keyword)} value '{value}' is not a whole number, "
            "so the image size is unknown."
        )
    return int(number)


def _spaced(keyword: str) -> str:
    """'NumberOfFrames' -> 'Number of Frames' for messages."""
    words = re.findall(r"[A-Z][a-z]*|[a-z]+|\d+", keyword)
    small = {"Of", "Per", "And"}
    return " ".join(w.lower() if w in small else w for w in words)


def number_of_frames(ds: Dataset) -> int:
    """Number of Frames, 1 when absent/empty/zero; PixelDataError when it is garbage."""
    n = _first_int(ds, "NumberOfFrames")
    if n is None or n == 0:
        return 1
    if n < 0:
        raise PixelDataError(f"Number of Frames is negative ({n}), so the image is unusable.")
    return n


def image_geometry(ds: Dataset) -> ImageGeometry:
    """Parse and sanity-check the Image Pixel module (before any decoder sees it).

    Rows, Columns and Bits Allocated are mandatory; Bits Stored, Pixel Representation,
    Samples per Pixel and Photometric Interpretation get the defaults old files imply.
    """
    rows = _first_int(ds, "Rows")
    cols = _first_int(ds, "Columns")
    bits_allocated = _first_int(ds, "BitsAllocated")
    missing = [
        name
        for name, value in (("Rows", rows), ("Columns", cols), ("Bits Allocated", bits_allocated))
        if value is None
    ]
    if missing:
        listed = (
            missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
        )
        verb = "is" if len(missing) == 1 else "are"
        prefix = "The file declares no transfer syntax and its" if _assumed_ts(ds) else "The"
        raise PixelDataError(
            f"{prefix} image header is incomplete ({listed} {verb} missing), "
            "so the pixel data cannot be interpreted."
        )
    assert rows is not None and cols is not None and bits_allocated is not None
    if rows <= 0 or cols <= 0:
        raise PixelDataError(f"The image declares {rows} x {cols} pixels, which is empty.")
    if bits_allocated == 12:
        raise PixelDataError(
            "Bits Allocated is 12 (packed 12-bit pixels from old ACR-NEMA equipment), "
            "which cannot be decoded."
        )
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise PixelDataError(
            f"Bits Allocated is {bits_allocated}; only 1, 8, 16, 32 or 64 can be decoded."
        )
    samples = _first_int(ds, "SamplesPerPixel") or 1
    if samples not in (1, 3):
        raise PixelDataError(f"Samples per Pixel is {samples}; only 1 or 3 can be decoded.")
    bits_stored = _first_int(ds, "BitsStored") or bits_allocated
    if bits_stored > bits_allocated or bits_stored < 1:
        bits_stored = bits_allocated
    pixel_rep = _first_int(ds, "PixelRepresentation") or 0
    if pixel_rep not in (0, 1):
        pixel_rep = 0
    photometric = str(value_of(ds, "PhotometricInterpretation") or "").strip().upper()
    if not photometric:
        photometric = _MONO_DEFAULT if samples == 1 else _COLOUR_DEFAULT
    planar = _first_int(ds, "PlanarConfiguration") if samples > 1 else None
    return ImageGeometry(
        rows=rows,
        columns=cols,
        frames=number_of_frames(ds),
        samples_per_pixel=samples,
        bits_allocated=bits_allocated,
        bits_stored=bits_stored,
        pixel_representation=pixel_rep,
        photometric=photometric,
        planar_configuration=planar,
    )


def _limit(max_bytes: int | None) -> int:
    return MAX_DECODED_BYTES if max_bytes is None else int(max_bytes)


def _check_declared_size(geom: ImageGeometry, frames: int, max_bytes: int | None) -> None:
    limit = _limit(max_bytes)
    total = geom.frame_decoded_bytes * frames
    if total <= limit:
        return
    parts = f"{geom.rows} x {geom.columns} pixels"
    if frames > 1:
        parts += f" x {frames:,} frames"
    if geom.samples_per_pixel > 1:
        parts += f" x {geom.samples_per_pixel} samples"
    raise PixelDataError(
        f"Image declares {parts} ({_gib(total)}), more than the {_gib(limit)} limit; "
        "refusing to decode."
    )


def _pixel_element_keyword(ds: Dataset) -> str | None:
    return next((kw for kw in _PIXEL_KEYWORDS if kw in ds), None)


def check_pixel_size(
    ds: Dataset,
    available_bytes: int | None = None,
    *,
    frames: int | None = None,
    max_bytes: int | None = None,
) -> None:
    """Refuse an image before decoding when its header cannot be trusted.

    * The decoded size (rows x columns x frames x samples x bytes) must not exceed
      ``max_bytes`` (default :data:`MAX_DECODED_BYTES`); ``frames`` is how many frames the
      caller is about to decode (default: all).
    * For native (uncompressed) syntaxes the Pixel Data must hold at least what the header
      declares; ``available_bytes`` overrides the length found in ``ds`` (e.g. a file size).
    Nothing is allocated here; the check costs microseconds.
    """
    geom = image_geometry(ds)
    _check_declared_size(geom, geom.frames if frames is None else frames, max_bytes)
    ts = transfer_syntax(ds)
    if ts is not None and not (ts.is_transfer_syntax and not ts.is_compressed):
        return  # encapsulated (or unknown) syntaxes: only the codec can tell
    if available_bytes is None:
        keyword = _pixel_element_keyword(ds)
        if keyword is None:
            return
        value = ds[keyword].value
        available_bytes = 0 if value is None else len(value)
    expected = geom.native_bytes()
    if available_bytes < expected:
        raise PixelDataError(
            f"Pixel data is truncated: the header declares {expected:,} bytes "
            f"but the file holds {available_bytes:,}."
        )


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


def transfer_syntax(ds: Dataset) -> UID | None:
    """The dataset's Transfer Syntax UID (declared or assumed), or None."""
    meta = getattr(ds, "file_meta", None)
    # value_of(): meta.get() without pydicom's per-lookup overhead (the index asks per file).
    value = value_of(meta, "TransferSyntaxUID") if meta is not None else None
    return UID(str(value)) if value else None


def _ts_label(ts: UID) -> str:
    return ts.name if ts.name != str(ts) else f"{ts} (unknown)"


def _prepare(ds: Dataset) -> tuple[UID, ImageGeometry]:
    """Common pre-decode checks: pixel data present, transfer syntax known, header sane."""
    keyword = _pixel_element_keyword(ds)
    if keyword is None:
        raise PixelDataError(
            "The file has no pixel data (it may be a report, a presentation state or another "
            "non-image object)."
        )
    _ensure_transfer_syntax(ds)
    ts = transfer_syntax(ds)
    assert ts is not None
    if _assumed_ts(ds) and ds[keyword].is_undefined_length:
        raise PixelDataError(
            "The file declares no transfer syntax but its pixel data is compressed, "
            "so the codec cannot be determined."
        )
    geom = image_geometry(ds)
    return ts, geom


def check_codec(ts: UID) -> None:
    """Raise PixelDataError unless an installed codec can decode ``ts``.

    Shared by decoding and by the index, which refuses such files at import time.
    """
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise PixelDataError(
            f"Transfer syntax {_ts_label(ts)} cannot be decoded: no installed codec supports it."
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "no plug-in available"
        raise PixelDataError(
            f"Transfer syntax {_ts_label(ts)} cannot be decoded: the codec packages are not "
            f"installed ({missing})."
        )


def _decode(ds: Dataset, ts: UID, geom: ImageGeometry, index: int | None) -> np.ndarray:
    if index is not None and geom.photometric.startswith("MONOCHROME"):
        fast = native_frame(
            ds,
            ts,
            index,
            rows=geom.rows,
            columns=geom.columns,
            frames=geom.frames,
            samples=geom.samples_per_pixel,
            bits_allocated=geom.bits_allocated,
            bits_stored=geom.bits_stored,
            signed=bool(geom.pixel_representation),
        )
        if fast is not None:
            return fast
    check_codec(ts)
    try:
        arr = pixel_array(ds, index=index, raw=False, **geom.pixel_options())
    except Exception as exc:
        raise PixelDataError(
            f"The {_ts_label(ts)} pixel data could not be decoded: {_reason(exc)}."
        ) from exc
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def decode_frames(ds: Dataset, *, max_bytes: int | None = None) -> np.ndarray:
    """All frames as stored values: (frames, rows, cols) or (frames, rows, cols, samples).

    Size and truncation are checked first (:func:`check_pixel_size`). Colour data in
    YBR_FULL/YBR_FULL_422 comes back as RGB (pydicom's default conversion); PALETTE COLOR
    comes back as palette indices. Every decoder failure becomes a :class:`PixelDataError`
    naming the transfer syntax and the codec's reason.
    """
    ts, geom = _prepare(ds)
    check_pixel_size(ds, max_bytes=max_bytes)
    arr = _decode(ds, ts, geom, index=None)
    per_frame_ndim = 3 if geom.samples_per_pixel > 1 else 2
    if arr.ndim == per_frame_ndim:
        arr = arr[np.newaxis]
    return arr


def decode_frame(ds: Dataset, index: int = 0, *, max_bytes: int | None = None) -> np.ndarray:
    """One frame as stored values (2-D, or rows x cols x samples for colour).

    Only that frame is decoded (pydicom's ``index=``), so one slice of a big tomosynthesis
    object is fast and is checked against the limit on its own.
    """
    ts, geom = _prepare(ds)
    if not 0 <= index < geom.frames:
        raise FrameIndexError(
            f"Frame {index} does not exist: the image has {geom.frames} frame(s), numbered from 0."
        )
    check_pixel_size(ds, frames=1, max_bytes=max_bytes)
    arr = _decode(ds, ts, geom, index=index)
    per_frame_ndim = 3 if geom.samples_per_pixel > 1 else 2
    if arr.ndim == per_frame_ndim + 1:
        arr = arr[0]
    return arr


# --------------------------------------------------------------------------------------------
# Functional groups (enhanced multi-frame objects keep per-frame values there)
# --------------------------------------------------------------------------------------------


def functional_group_item(ds: Dataset, sequence_keyword: str, frame: int = 0) -> Dataset | None:
    """First item of ``sequence_keyword`` for ``frame``: per-frame group first, then shared.

    Enhanced MR/CT and breast tomosynthesis keep Pixel Measures, Frame VOI LUT and Pixel
    Value Transformation there instead of at the top level.
    """
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and 0 <= frame < len(per_frame):
        seq = per_frame[frame].get(sequence_keyword)
        if seq:
            return seq[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        seq = shared[0].get(sequence_keyword)
        if seq:
            return seq[0]
    return None
