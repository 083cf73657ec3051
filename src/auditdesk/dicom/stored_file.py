"""Stored values that cross from a decode process to the window as a file region (issue 15).

A decoded 4096x3328 frame is 27 MB of uint16; pickling it back from the worker costs a dumps,
a pipe transfer and a loads (~4 copies, several times the raw read of the file). When the frame
is native pixel data of a plain file, used as-is (no unused bits masked), the window can read
the same bytes itself: the worker sends where they are, and unpickling (in the pool's result
thread, not the GUI thread) reads them with one ``np.fromfile``. If the file changed meanwhile
(size or modification time), the frame is decoded again from the file as it is now.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

__all__ = ["StoredRegion", "read_region", "region_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredRegion:
    """Where a frame's stored values lie in its file, and the file as it was when read."""

    path: str
    offset: int
    dtype: str
    shape: tuple[int, int]
    size: int
    mtime_ns: int


def _is_view_of_bytes(arr: np.ndarray) -> bool:
    base: object = arr
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, bytes | bytearray)


def region_of(path: str, ds: Dataset, stored: np.ndarray | None) -> StoredRegion | None:
    """The file region ``stored`` is a view of (single-frame native data), else None."""
    if stored is None or stored.ndim != 2 or not _is_view_of_bytes(stored):
        return None
    if "NumberOfFrames" in ds and str(ds.NumberOfFrames).strip() not in ("", "1", "0"):
        return None
    offset = getattr(ds["PixelData"], "file_tell", None) if "PixelData" in ds else None
    if not isinstance(offset, int) or offset <= 0:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return StoredRegion(
        path=path,
        offset=offset,
        dtype=stored.dtype.str,
        shape=(int(stored.shape[0]), int(stored.shape[1])),
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
    )


def read_region(region: StoredRegion) -> np.ndarray | None:
    """The stored values again (native byte order), or None when the file changed or is gone.

    Never raises: it runs while a decode result is unpickled, where an exception would break
    the whole process pool.
    """
    try:
        stat = os.stat(region.path)
        if (stat.st_size, stat.st_mtime_ns) != (region.size, region.mtime_ns):
            return _decode_again(region)
        count = region.shape[0] * region.shape[1]
        arr = np.fromfile(region.path, dtype=region.dtype, count=count, offset=region.offset)
        if arr.size != count:
            return _decode_again(region)
        arr = arr.reshape(region.shape)
        return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))
    except Exception as exc:
        log.warning("Stored values could not be read again: %s", type(exc).__name__)
        return None


def _decode_again(region: StoredRegion) -> np.ndarray | None:
    from auditdesk.dicom.pixels import decode_frame, read_dataset

    try:
        arr = decode_frame(read_dataset(region.path), 0)
    except Exception as exc:
        log.warning("Changed file could not be decoded again: %s", type(exc).__name__)
        return None
    return arr if arr.shape == region.shape else None
