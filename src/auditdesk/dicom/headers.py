"""Header-only reading for the index: fast, tolerant of real-world files, and honest about why a
file cannot be used.

The index never decodes pixels (a JPEG 2000 mammogram costs 1-2 s), but it must still refuse files
whose pixel data is missing or truncated, so that the import summary names them instead of the
viewer failing later. After a header-only read the file position sits on the Pixel Data tag; the
element header there (and, for encapsulated data, the chain of item headers) tells whether the
file holds what the header declares, without reading the pixel bytes.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import read_dataset
from pydicom.uid import UID

from auditdesk.dicom.pixels import transfer_syntax
from auditdesk.dicom.tag_access import value_of

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
UNDEFINED_LENGTH = 0xFFFFFFFF
DEFLATED = "1.2.840.10008.1.2.1.99"
_LONG_VRS = {
    b"OB",
    b"OW",
    b"OF",
    b"OD",
    b"OL",
    b"OV",
    b"SQ",
    b"UC",
    b"UR",
    b"UT",
    b"UN",
    b"SV",
    b"UV",
}


class HeaderError(Exception):
    """A file that cannot be indexed; ``str(err)`` is one sentence saying why."""


@dataclass(frozen=True)
class PixelLayout:
    """What the file holds for pixel data, found without reading it."""

    present: bool
    encapsulated: bool = False
    length: int | None = None  # bytes of native pixel data (None if encapsulated)
    fragments: int = 0


def _stop_at_pixels(tag: int, _vr: str | None, _length: int) -> bool:
    return int(tag) in PIXEL_TAGS


def _sniff_raw(fp: BinaryIO) -> Dataset | None:
    """Read a dataset that has no preamble and no file meta by trying the encodings.

    pydicom's ``force=True`` guesses from the first bytes; when a file also happens to contain the
    bytes 'DICM' at offset 128 inside its data (a real Siemens header seen in dcm4che's tests) the
    guess goes wrong, so we parse from offset 0 with each encoding and keep the parse that yields
    the most elements (an identifiable object wins outright).
    """
    best: Dataset | None = None
    for implicit, little in ((True, True), (False, True), (False, False)):
        fp.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = read_dataset(fp, implicit, little, stop_when=_stop_at_pixels)
                ds.set_original_encoding(implicit, little)
                len(ds.get("SOPInstanceUID") or "")  # force the value to parse
        except Exception:
            continue
        if best is None or len(ds) > len(best) or ds.get("SOPInstanceUID"):
            best, best_pos = ds, fp.tell()
            if ds.get("SOPInstanceUID"):
                break
    if best is None or len(best) < 4:
        return None
    implicit, little = best.original_encoding
    best.file_meta = FileMetaDataset()
    best.file_meta.TransferSyntaxUID = UID(
        "1.2.840.10008.1.2"
        if implicit
        else ("1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2")
    )
    fp.seek(best_pos)
    return best


#: A deflated DICOM dataset is inflated whole by pydicom; beyond this it is refused unread.
MAX_INFLATED_BYTES = 1024**3
_DEFLATED_BYTES = DEFLATED.encode()


def _refuse_deflate_bomb(fp: BinaryIO, start: bytes) -> None:
    """For a Deflated Explicit VR file, measure the inflated size in chunks first (HeaderError
    past ``MAX_INFLATED_BYTES``), so a small file cannot make the reader allocate gigabytes.

    ``start``: the file's first 2,048 bytes (already read by the caller)."""
    if _DEFLATED_BYTES not in start:
        return
    import zlib

    from pydicom.filereader import _read_file_meta_info, read_preamble

    try:
        read_preamble(fp, True)
        _read_file_meta_info(fp)
        inflater, total = zlib.decompressobj(-zlib.MAX_WBITS), 0
        while chunk := inflater.unconsumed_tail or fp.read(65536):
            total += len(inflater.decompress(chunk, 1024 * 1024))
            if total > MAX_INFLATED_BYTES:
                raise HeaderError(
                    "The deflated DICOM dataset would inflate to more than "
                    f"{MAX_INFLATED_BYTES // 1024**2:,} MiB; refused without reading it."
                )
            if inflater.eof:
                break
    except (zlib.error, ValueError, OSError, EOFError):
        pass  # damaged: the normal reader below says why
    finally:
        fp.seek(0)


def read_header(fp: BinaryIO) -> Dataset:
    """Read everything before the pixel data; leaves ``fp`` positioned at the Pixel Data tag.

    Raises HeaderError with a one-sentence reason for files that are not DICOM or are broken.
    """
    head = fp.read(2048)  # one read serves the DICM marker and the deflate check
    if len(head) < 8:
        raise HeaderError("The file is empty or too short to be DICOM.")
    fp.seek(0)
    has_marker = head[128:132] == b"DICM"
    _refuse_deflate_bomb(fp, head)
    ds: Dataset | None = None
    error: Exception | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(fp, stop_before_pixels=True, force=True)
    except Exception as exc:  # pydicom raises OSError, ValueError, struct.error, ...
        error = exc
    if ds is None or not value_of(ds, "SOPInstanceUID"):
        position = fp.tell()
        sniffed = _sniff_raw(fp)
        if sniffed is not None and (ds is None or len(sniffed) > len(ds)):
            return sniffed
        fp.seek(position)
        if ds is None:
            raise HeaderError(f"The DICOM header is damaged and cannot be read ({error}).")
        if not has_marker and len(ds) <= 2:
            raise HeaderError("Not a DICOM file (no 'DICM' marker and no readable DICOM header).")
    if transfer_syntax(ds) == DEFLATED:
        # The header was read from an inflated stream: the file position says nothing about the
        # pixel data, so read the (small, rare) deflated file whole instead.
        fp.seek(0)
        ds = dcmread(fp, force=True)
    return ds


def pixel_layout(fp: BinaryIO, ds: Dataset, file_size: int) -> PixelLayout:
    """Inspect the Pixel Data element at the current position of ``fp`` (after read_header)."""
    ts = transfer_syntax(ds)
    if ts == DEFLATED:
        element = ds.get("PixelData")
        if element is None:
            return PixelLayout(present=False)
        return PixelLayout(present=True, length=len(element))
    start = fp.tell()
    implicit, little = ds.original_encoding
    if implicit is None:
        implicit, little = True, True
    endian = "<" if little else ">"
    raw = fp.read(12)
    if len(raw) < 8:
        return PixelLayout(present=False)
    group, element = struct.unpack(endian + "HH", raw[:4])
    if (group << 16 | element) not in PIXEL_TAGS:
        return PixelLayout(present=False)
    if implicit:
        (length,) = struct.unpack(endian + "L", raw[4:8])
        value_start = start + 8
    elif raw[4:6] in _LONG_VRS:
        if len(raw) < 12:
            raise HeaderError("Pixel data is truncated: the file ends inside its element header.")
        (length,) = struct.unpack(endian + "L", raw[8:12])
        value_start = start + 12
    else:
        (length,) = struct.unpack(endian + "H", raw[6:8])
        value_start = start + 8
    if length != UNDEFINED_LENGTH:
        available = file_size - value_start
        if length > available:
            raise HeaderError(
                f"Pixel data is truncated: the element declares {length:,} bytes "
                f"but the file holds only {max(available, 0):,}."
            )
        return PixelLayout(present=True, encapsulated=False, length=length)
    layout = _walk_fragments(fp, value_start, file_size, endian)
    if ts is None or not UID(ts).is_compressed:
        name = UID(ts).name if ts else "the default (Implicit VR Little Endian)"
        raise HeaderError(
            f"The pixel data is stored as compressed fragments, but the transfer syntax "
            f"({name}) declares uncompressed pixels: the file is inconsistent and cannot be shown."
        )
    return layout


def _walk_fragments(fp: BinaryIO, pos: int, file_size: int, endian: str) -> PixelLayout:
    """Follow the item headers of encapsulated pixel data to its sequence delimiter."""
    fragments = 0
    while True:
        fp.seek(pos)
        raw = fp.read(8)
        if len(raw) < 8:
            raise HeaderError(
                "Compressed pixel data is truncated: the file ends before the last fragment."
            )
        group, element, length = struct.unpack(endian + "HHL", raw)
        tag = group << 16 | element
        if tag == 0xFFFEE0DD:  # sequence delimitation item
            if fragments <= 1:
                raise HeaderError("Compressed pixel data has no image fragments.")
            return PixelLayout(present=True, encapsulated=True, fragments=fragments - 1)
        if tag != 0xFFFEE000:
            raise HeaderError(
                f"Compressed pixel data is damaged: unexpected tag ({group:04X},{element:04X}) "
                f"at byte {pos:,}."
            )
        pos += 8 + length
        if pos > file_size:
            raise HeaderError(
                "Compressed pixel data is truncated: a fragment runs past the end of the file."
            )
        fragments += 1
