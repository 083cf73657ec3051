"""Decode images for display in worker processes.

JPEG 2000 mammograms take 1-2 s each to decode and the decoders hold the GIL, so threads do not
help (shared/reference/env-notes.md 4a); a small process pool does, and keeps the GUI responsive.
The pool is started once and reused; callers get ``concurrent.futures.Future`` objects.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import OrderedDict, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from auditdesk.dicom.calibration import Calibration, calibration
from auditdesk.dicom.classify import is_mammography
from auditdesk.dicom.display import (
    DisplayImage,
    VOIPreset,
    to_display,
    voi_presets,
)
from auditdesk.dicom.display_scale import display_reduction
from auditdesk.dicom.orientation import MammoTransform, dataset_mammo_transform
from auditdesk.dicom.pixels import PixelDataError, image_geometry, number_of_frames, read_dataset
from auditdesk.dicom.reduced import reduced_display
from auditdesk.dicom.sources import Location, open_location
from auditdesk.dicom.stored_file import region_of


@dataclass
class LoadedImage:
    """Everything a viewport needs for one frame, computed off the GUI thread."""

    location: Location
    display: DisplayImage
    presets: list[VOIPreset]
    calibration: Calibration
    patient_orientation: tuple[str, ...]
    n_frames: int
    # How to hang a mammogram (chest wall side, head up); identity for other images.
    transform: MammoTransform
    modality: str = ""  # DICOM Modality ("MG", "MR"): user window presets are filed by it
    # A JPEG 2000 preview (dicom/reduced.py): ``display`` is resolution level ``reduce_level``
    # (each side / 2**level, rounded up) of a frame whose full size is ``full_shape`` (rows,
    # columns); 0 for the full decode. Calibration and measurements stay in full-size pixels.
    reduce_level: int = 0
    full_shape: tuple[int, int] | None = None

    @property
    def is_preview(self) -> bool:
        return self.reduce_level > 0


def load_for_display(loc: Location, frame: int = 0, voi_name: str | None = None) -> LoadedImage:
    """Read, decode and window one frame (runs in a worker process).

    A frame much bigger than a hanging viewport is rendered reduced (``display.reduction``;
    the stored values stay full size for measuring and for the viewer's full render on zoom).
    """
    with open_location(loc) as fp:
        ds = read_dataset(fp)
    try:
        geom = image_geometry(ds)
        reduction = display_reduction(geom.rows, geom.columns)
    except PixelDataError:
        reduction = 1  # to_display reports the problem in its own words
    image = to_display(ds, frame=frame, reduction=reduction)
    if loc.member is None and frame == 0:
        image.stored_region = region_of(loc.path, ds, image.stored)
    # The file's own windows first; then the robust range of the pixels (the per-modality
    # default: mammograms with the air background left out), which to_display has already
    # chosen as the default when the file has no window of its own.
    if image.voi.kind == "range":
        presets = [image.voi]
    else:
        presets = voi_presets(ds, frame=frame)
        if not image.is_colour and image.stored is not None:
            presets.append(image.range_preset())
    if voi_name:
        chosen = next((p for p in presets if p.name == voi_name), None)
        if chosen is not None and chosen != image.voi:
            image = image.rewindow(chosen)
    return _loaded(loc, ds, frame, image, presets)


def _loaded(
    loc: Location,
    ds: Dataset,
    frame: int,
    image: DisplayImage,
    presets: list[VOIPreset],
    reduce_level: int = 0,
    full_shape: tuple[int, int] | None = None,
) -> LoadedImage:
    """What every viewport needs beside the pixels, read from the same header."""
    transform = (
        dataset_mammo_transform(ds)
        if is_mammography(ds)
        else MammoTransform(flip_left_right=False, flip_up_down=False)
    )
    return LoadedImage(
        location=loc,
        display=image,
        presets=presets,
        calibration=calibration(ds, frame=frame),
        patient_orientation=tuple(str(v) for v in (ds.get("PatientOrientation") or ())),
        n_frames=number_of_frames(ds),
        transform=transform,
        modality=str(ds.get("Modality") or "").upper(),
        reduce_level=reduce_level,
        full_shape=full_shape,
    )


def result_of(future: Future[LoadedImage]) -> LoadedImage | Exception:
    """The loaded image, or the exception that explains why not (a PixelDataError sentence)."""
    try:
        return future.result()
    except Exception as exc:
        return exc


def display_aspect(cal: Calibration, transform: MammoTransform) -> float:
    """Displayed row spacing / column spacing (non-square pixels), after a possible transpose."""
    if not (cal.row_mm and cal.col_mm):
        return 1.0
    aspect = cal.row_mm / cal.col_mm
    return 1.0 / aspect if transform.transpose else aspect


def loaded_nbytes(image: LoadedImage) -> int:
    """Memory a cached image holds: the rendered frame plus the stored values kept for
    re-windowing (at their stored bit depth: no float copy is ever kept)."""
    display = image.display
    total = display.array.nbytes
    if display.stored is not None:
        total += display.stored.nbytes
    return total


#: Decoded images kept for "next exam" and going back when no budget is given: about two
#: 4-view mammography exams (a 4096x3328 frame holds ~41 MB: 14 MB rendered + 27 MB stored
#: values). The application passes the ``decode_cache_bytes`` setting (runtime.app_settings).
DEFAULT_CACHE_BYTES = 384 * 1024 * 1024
#: How many recent prefetch requests CacheStats remembers (for tests and benchmarks).
PREFETCH_HISTORY = 64

CacheKey = tuple[Location, int, "str | None"]


@dataclass
class CacheStats:
    """Counters for tests and benchmarks (hits include requests for an image still decoding)."""

    hits: int = 0
    misses: int = 0
    evicted: int = 0
    cancelled: int = 0
    bytes: int = 0
    #: The most the finished cached images ever held (after eviction), for tests/benchmarks.
    peak_bytes: int = 0
    entries: int = 0
    #: The latest prefetch requests, oldest first (bounded: a day of audits must not grow it).
    prefetched: deque[Location] = field(default_factory=lambda: deque(maxlen=PREFETCH_HISTORY))


#: Longest side of a preview when the caller does not say (a quarter of a 1080p screen is less).
PREVIEW_TARGET = 1024
#: Previews kept: two 4-view exams (a 1024 x 832 preview holds ~2.6 MB).
PREVIEW_CACHE_ENTRIES = 8


class DisplayLoader:
    """A reusable pool of decode processes (``spawn``: safe next to Qt's threads) with a
    bounded cache of decoded images.

    ``submit`` returns the cached future when the same frame was asked for before (done or
    still decoding), so "next exam" draws at once when :meth:`prefetch` asked for its images in
    the background. The cache holds at most ``cache_bytes`` of finished images, least recently
    used first out; images still decoding are never evicted. Failed decodes are not cached.
    """

    def __init__(self, workers: int = 2, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        self.cache_bytes = cache_bytes
        self._lock = threading.Lock()
        self._cache: OrderedDict[CacheKey, Future[LoadedImage]] = OrderedDict()
        self._sizes: dict[CacheKey, int] = {}
        self._prefetch_only: set[CacheKey] = set()
        self.stats = CacheStats()
        self._previews: OrderedDict[tuple[Location, int, int], Future[LoadedImage | None]] = (
            OrderedDict()
        )

    def submit(
        self, loc: Location, frame: int = 0, voi_name: str | None = None
    ) -> Future[LoadedImage]:
        """The decoded frame as a future, from the cache when it is there."""
        return self._get((loc, frame, voi_name), wanted=True)

    def prefetch(self, items: list[Location] | list[tuple[Location, int]]) -> None:
        """Start decoding these (a location means its frame 0; default window) so a later
        submit finds them."""
        for item in items:
            loc, frame = item if isinstance(item, tuple) else (item, 0)
            self._get((loc, frame, None), wanted=False)

    def cancel_prefetch(self) -> int:
        """Drop prefetches that have not started (the user went elsewhere); returns how many."""
        with self._lock:
            pending = [self._cache.get(key) for key in self._prefetch_only]
            self._prefetch_only.clear()
        # Outside the lock: cancel() runs the done callback (_finished) in this thread, and
        # that removes the cancelled entry from the cache.
        cancelled = sum(1 for future in pending if future is not None and future.cancel())
        with self._lock:
            self.stats.cancelled += cancelled
        return cancelled

    def cached(self, loc: Location, frame: int = 0, voi_name: str | None = None) -> bool:
        """True when the frame is decoded and waiting in the cache."""
        with self._lock:
            future = self._cache.get((loc, frame, voi_name))
        return future is not None and future.done() and not future.cancelled()

    def set_cache_bytes(self, cache_bytes: int) -> None:
        """Change the budget now (e.g. from the settings dialog); evicts what no longer fits."""
        with self._lock:
            self.cache_bytes = int(cache_bytes)
            self._evict()
            self._update_stats()

    def clear_cache(self) -> None:
        with self._lock:
            self._previews.clear()
            self._cache.clear()
            self._sizes.clear()
            self._prefetch_only.clear()
            self._update_stats()

    def _get(self, key: CacheKey, *, wanted: bool) -> Future[LoadedImage]:
        with self._lock:
            future = self._cache.get(key)
            if future is not None and not future.cancelled():
                self._cache.move_to_end(key)
                if wanted:
                    self.stats.hits += 1
                    self._prefetch_only.discard(key)
                return future
            if wanted:
                self.stats.misses += 1
            else:
                self.stats.prefetched.append(key[0])
                self._prefetch_only.add(key)
            future = self._pool.submit(load_for_display, *key)
            self._cache[key] = future
        future.add_done_callback(lambda fut: self._finished(key, fut))
        return future

    def _finished(self, key: CacheKey, future: Future[LoadedImage]) -> None:
        with self._lock:
            if self._cache.get(key) is not future:
                return  # cleared or replaced meanwhile
            if future.cancelled() or future.exception() is not None:
                del self._cache[key]  # a later request tries again (and reports the error)
                self._prefetch_only.discard(key)
            else:
                self._sizes[key] = loaded_nbytes(future.result())
                self._evict()
            self._update_stats()

    def _evict(self) -> None:
        total = sum(self._sizes.values())
        for key in list(self._cache):
            if total <= self.cache_bytes or len(self._sizes) <= 1:
                break
            if key not in self._sizes:
                continue  # still decoding
            total -= self._sizes.pop(key)
            del self._cache[key]
            self._prefetch_only.discard(key)
            self.stats.evicted += 1

    def _update_stats(self) -> None:
        self._sizes = {k: v for k, v in self._sizes.items() if k in self._cache}
        self.stats.bytes = sum(self._sizes.values())
        self.stats.peak_bytes = max(self.stats.peak_bytes, self.stats.bytes)
        self.stats.entries = len(self._cache)

    def submit_preview(
        self, loc: Location, frame: int = 0, target: int = PREVIEW_TARGET
    ) -> Future[LoadedImage | None]:
        """A reduced-resolution JPEG 2000 first paint (None when the file has none: non-J2K,
        signed, ...), decoded ahead of anything submitted later. Previews sit in their own small
        count-bounded cache (a 1024 px preview is ~2.5 MB) and never count against the full
        images' byte budget."""
        key = (loc, frame, int(target))
        with self._lock:
            future = self._previews.get(key)
            if future is not None and not future.cancelled():
                self._previews.move_to_end(key)
                return future
            future = self._pool.submit(load_preview, loc, frame, int(target))
            self._previews[key] = future
            while len(self._previews) > PREVIEW_CACHE_ENTRIES:
                self._previews.popitem(last=False)
        return future

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def load_preview(loc: Location, frame: int = 0, target: int = PREVIEW_TARGET) -> LoadedImage | None:
    """The frame at the coarsest JPEG 2000 resolution level with >= ``target`` pixels on its
    longest side, windowed like :func:`load_for_display` (runs in a worker process); None when
    only the full decode gives the right data or no level is smaller (see dicom/reduced.py)."""
    with open_location(loc) as fp:
        ds = read_dataset(fp)
    found = reduced_display(ds, frame, target)
    if found is None:
        return None
    image, reduced = found
    presets = voi_presets(ds, frame=frame)
    if image.voi.kind == "range" or not presets:
        presets = [image.voi]
    else:
        presets.append(image.range_preset())
    return _loaded(loc, ds, frame, image, presets, reduced.level, reduced.full_shape)
