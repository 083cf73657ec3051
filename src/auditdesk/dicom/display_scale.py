"""How much smaller than the stored frame a first render may be (issue 15).

A 4096x3328 mammogram hung 2x2 is shown in about 1,000 screen rows, so rendering all 13.6 Mpx
costs a 65,536-entry gather per pixel (~10 ms) for detail the screen cannot show. The first
render therefore takes every n-th stored row and column, n chosen so that the reduced frame
still has at least as many rows and columns as a 2x2 viewport of a 5 MP portrait mammography
monitor (2048 x 2560: 1280 x 1024 each). The viewer places it over the full-resolution grid
(measurements stay in stored pixels) and renders the full frame from the stored values as
soon as the zoom shows more than the reduced frame holds. Smaller images are never reduced.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DISPLAY_COLS", "DISPLAY_ROWS", "display_reduction", "every_nth"]

#: Rows and columns of the largest 2x2 hanging viewport a reduced render must fill.
DISPLAY_ROWS = 1280
DISPLAY_COLS = 1024


def display_reduction(rows: int, columns: int) -> int:
    """The step n (1 = full resolution) whose reduced frame still covers a 2x2 viewport."""
    return max(1, min(int(rows) // DISPLAY_ROWS, int(columns) // DISPLAY_COLS))


def every_nth(stored: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th row and column (a view; the frame itself when ``step`` is 1)."""
    return stored if step <= 1 else stored[::step, ::step]
