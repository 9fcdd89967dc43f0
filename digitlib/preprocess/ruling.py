"""Lined and squared paper: ruled lines removed from the ink's mask, a digit's own bar kept."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

RULED_LINE_FRACTION = 0.8  # a row (column) filled with ink across 80% of the picture, gaps allowed, is a ruled line...
LINE_FRINGE_FRACTION = 0.5  # ...with the half-filled rows beside it as its blurred fringe, not strokes...
LINE_LENGTH = 1.5  # ...if this many times longer than the other ink is tall: a tightly cropped 7's bar is not...
LINE_MARGIN_FRACTION = 0.05  # ...and the other ink keeps this far from both its ends: a cropped 7's stem does not
MIN_RULED_SIDE = 8  # in a picture narrower than this every stroke runs across it: no line can be told from a digit


def drop_ruled_lines(mask: np.ndarray) -> np.ndarray:
    """Remove lines running across the picture (lined or squared paper), but not a digit's own bar; the mask
    itself when there are none.

    A row (column) that ink fills across most of the picture, gaps and blur allowed, is a ruled
    line only if the rest of the ink keeps clear of both ends of it and the line is far longer than
    the rest is tall: a tightly cropped 7 or 2 has its bar across the whole width too, but its
    other strokes reach the edges, or it is no longer than the digit is tall.  Where a stroke
    crosses a line, the line's bit is put back.
    """
    height, width = mask.shape
    if min(height, width) < MIN_RULED_SIDE:
        return mask
    line_rows = ruled(np.count_nonzero(mask, axis=1) / width)
    line_columns = ruled(np.count_nonzero(mask, axis=0) / height)
    if not line_rows.any() and not line_columns.any():
        return mask
    rest = mask & ~line_rows[:, None] & ~line_columns[None, :]
    if not clear_of_ends(rest.any(axis=0), LINE_MARGIN_FRACTION * width) or width < LINE_LENGTH * span(rest):
        line_rows[:] = False  # a digit's bar (a 7's, a 2's), not a line
    if not clear_of_ends(rest.any(axis=1), LINE_MARGIN_FRACTION * height) or not line_rows.any():
        line_columns[:] = False  # columns only on squared paper: a tightly cropped 1 or 4 has a stem that tall
    if not line_rows.any() and not line_columns.any():
        return mask
    rest = mask & ~line_rows[:, None] & ~line_columns[None, :]
    rejoined = rejoin_crossings(rest, mask, line_thickness(line_rows), axis=0)
    return rejoin_crossings(rejoined, mask, line_thickness(line_columns), axis=1)


def ruled(filled: np.ndarray) -> np.ndarray:
    """Which rows (columns) are ruled lines, given the share of each that ink fills: those filled across
    RULED_LINE_FRACTION, and beside them the blurred line's fringe, filled across LINE_FRINGE_FRACTION."""
    lines = filled >= RULED_LINE_FRACTION
    for _ in range(2 if lines.any() else 0):  # a blurred line has a fringe of a pixel or two on each side
        beside = np.zeros_like(lines)
        beside[1:] |= lines[:-1]
        beside[:-1] |= lines[1:]
        lines |= beside & (filled >= LINE_FRINGE_FRACTION)
    return lines


def span(mask: np.ndarray) -> int:
    """How many rows the mask's ink spans, top to bottom."""
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def clear_of_ends(used: np.ndarray, margin: float) -> bool:
    """True when the used positions (rows or columns holding ink) keep `margin` away from both ends."""
    positions = np.flatnonzero(used)
    return positions.size > 0 and positions[0] >= margin and positions[-1] < used.size - margin


def line_thickness(lines: np.ndarray) -> int:
    """Rows (columns) per ruled line, rounded up; 0 when there is none."""
    positions = np.flatnonzero(lines)
    return -(-positions.size // (1 + int((np.diff(positions) > 1).sum()))) if positions.size else 0


def rejoin_crossings(rest: np.ndarray, mask: np.ndarray, thickness: int, axis: int) -> np.ndarray:
    """Put back the bits of removed lines where a stroke crosses them (ink on both sides, along `axis`)."""
    if thickness == 0:
        return rest
    bridge = np.ones((thickness + 3, 1) if axis == 0 else (1, thickness + 3), dtype=bool)
    return rest | (ndimage.binary_closing(rest, structure=bridge) & mask)
