"""The computed "Full range" window: a robust value range of one frame.

Separate from ``display`` (which applies windows) because it is statistics, and because it
has a fast exact form for integer frames (issue 15): a ~1 Mpx subsample of a 12/16-bit frame
holds at most 65,536 distinct codes, so the histogram and the percentiles are taken over
(distinct value, count) pairs instead of 1.5 M floats, ~4x less work for the same numbers
(same bin of every value, same order statistics; ``tests/test_display_fastpaths.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["range_subsample", "robust_range", "robust_range_of_codes"]

NOTE = "0.5-99.5 percentile of the pixel values"


def range_subsample(values: np.ndarray) -> np.ndarray:
    """The strided ~1 Mpx subsample the robust range is computed from (a view, no copy).

    Modality LUTs are element-wise, so the modality values of this subsample of the *stored*
    values equal this subsample of the modality values: the range needs no full float frame.
    """
    arr = np.asarray(values)
    if arr.ndim >= 2:
        step = max(1, int(math.sqrt(arr.shape[-1] * arr.shape[-2] / 1_000_000)))
        arr = arr[..., ::step, ::step]
    return arr


def robust_range(values: np.ndarray, *, sampled: bool = False) -> tuple[float, float, str]:
    """0.5-99.5 percentile of a subsample, ignoring a dominant background mode at either end.

    Mammograms are half air: a histogram spike at the darkest (or, for MONOCHROME1, the
    brightest) end would otherwise steal half the grey levels from the breast. ``sampled``:
    ``values`` already are :func:`range_subsample` of the frame.
    """
    arr = np.asarray(values) if sampled else range_subsample(values)
    sample = arr.ravel().astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0, "no finite pixel values"
    lo, hi = float(sample.min()), float(sample.max())
    if hi <= lo:
        return lo - 0.5, lo + 0.5, "flat image"
    note = NOTE
    hist, edges = np.histogram(sample, bins=256, range=(lo, hi))
    peak = int(hist.argmax())
    if hist[peak] > 0.15 * sample.size and (peak <= 1 or peak >= 254):
        kept = sample[sample > edges[peak + 1]] if peak <= 1 else sample[sample < edges[peak]]
        if kept.size > 0.01 * sample.size:
            sample = kept
            note += ", background excluded"
    return (*_bounds(sample, float(sample.min()), float(sample.max())), note)


def robust_range_of_codes(
    stored: np.ndarray, to_values: Callable[[np.ndarray], np.ndarray]
) -> tuple[float, float, str]:
    """:func:`robust_range` of ``to_values(stored)`` for a <=16-bit integer frame, computed
    from the counts of its distinct codes (the same numbers, step by step)."""
    sample = range_subsample(stored)
    unsigned = np.dtype(f"u{sample.dtype.itemsize}")
    counts = np.bincount(sample.view(unsigned).ravel())
    present = np.flatnonzero(counts)
    codes = present.astype(unsigned).view(sample.dtype)
    vals = np.asarray(to_values(codes)).astype(np.float64)
    n = counts[present]
    finite = np.isfinite(vals)
    vals, n = vals[finite], n[finite]
    size = int(n.sum())
    if size == 0:
        return 0.0, 1.0, "no finite pixel values"
    lo, hi = float(vals.min()), float(vals.max())
    if hi <= lo:
        return lo - 0.5, lo + 0.5, "flat image"
    note = NOTE
    # Weighted bins: numpy bins each value exactly as in the unweighted call; integer counts
    # summed in float64 are exact.
    hist, edges = np.histogram(vals, bins=256, range=(lo, hi), weights=n)
    peak = int(hist.argmax())
    if hist[peak] > 0.15 * size and (peak <= 1 or peak >= 254):
        keep = vals > edges[peak + 1] if peak <= 1 else vals < edges[peak]
        if int(n[keep].sum()) > 0.01 * size:
            vals, n = vals[keep], n[keep]
            note += ", background excluded"
    # The subsample again as a sorted array (a permutation of the original: same percentiles).
    order = np.argsort(vals, kind="stable")
    ordered = np.repeat(vals[order], n[order])
    return (*_bounds(ordered, float(vals.min()), float(vals.max())), note)


def _bounds(values: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """0.5-99.5 percentiles of ``values``; their min-max (``lo``, ``hi``) when those coincide,
    and a 1-wide window around a single value."""
    p_lo, p_hi = (float(v) for v in np.percentile(values, [0.5, 99.5]))
    if p_hi <= p_lo:
        p_lo, p_hi = lo, hi
    if p_hi <= p_lo:
        p_lo, p_hi = p_lo - 0.5, p_lo + 0.5
    return p_lo, p_hi
