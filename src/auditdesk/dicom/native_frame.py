"""One frame of native (uncompressed) little-endian grayscale pixel data, without a copy.

pydicom's ``pixel_array`` copies the Pixel Data bytes into a new array and then masks the
unused high bits in a second pass, ~11 ms per 4096x3328 mammogram on top of reading the
file. For the common case the frame *is* the bytes already read: a read-only
``np.frombuffer`` view gives the same values for free (issue 15: uncompressed display within
3x the raw read). Anything unusual (big endian, colour, signed data with unused bits, float
pixel data, odd sizes) returns None and goes through pydicom as before.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

__all__ = ["native_frame"]

_LITTLE_NATIVE = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def native_frame(
    ds: Dataset,
    ts: UID,
    index: int,
    *,
    rows: int,
    columns: int,
    frames: int,
    samples: int,
    bits_allocated: int,
    bits_stored: int,
    signed: bool,
) -> np.ndarray | None:
    """Frame ``index`` as stored values identical to pydicom's, or None when not this case.

    Unsigned data whose unused high bits are set is masked (a new array), as pydicom does;
    otherwise the result is a read-only view of the dataset's Pixel Data bytes (a copy of the
    one frame for multi-frame objects, so one slice never keeps the whole object alive).
    """
    if ts not in _LITTLE_NATIVE or samples != 1 or bits_allocated not in (8, 16):
        return None
    if signed and bits_stored < bits_allocated:
        return None  # needs sign extension: pydicom does it
    value = ds.get("PixelData")
    if not isinstance(value, bytes | bytearray):
        return None
    itemsize = bits_allocated // 8
    per_frame = rows * columns
    if len(value) < per_frame * frames * itemsize or not 0 <= index < frames:
        return None
    dtype = np.dtype(f"<{'i' if signed else 'u'}{itemsize}")
    arr = np.frombuffer(value, dtype=dtype, count=per_frame, offset=index * per_frame * itemsize)
    arr = arr.reshape(rows, columns)
    if frames > 1:
        arr = arr.copy()
    if not signed and bits_stored < bits_allocated and int(arr.max()) >> bits_stored:
        arr = arr & np.array((1 << bits_stored) - 1, dtype=dtype)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr
