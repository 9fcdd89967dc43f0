"""Lined and squared paper: ruled lines removed from the ink's mask, a digit's own bar kept."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

RULED_LINE_FRACTION = 0.8  # a row (column) filled with ink across 80% of the picture, gaps allowed, is a ruled line...
LINE_FRINGE_FRACTION = 0.5  # ...with the half-filled rows beside it as its blurred fringe, not strokes...
LINE_FRINGE_ROWS = 2  # ...and fainter bits within two rows of it (a turned photo's line made level has more)
LINE_LENGTH = 1.5  # ...if this many times longer than the other ink is tall: a tightly cropped 7's bar is not...
LINE_MARGIN_FRACTION = 0.05  # ...and the other ink keeps this far from both its ends (or the line runs on past it):
# a cropped 7's stem does not...
LONG_LINE = 3.0  # ...or the line is this many times longer than the other ink is tall: a number written to the edge
STUB_LENGTH, STUB_HEIGHT_TO_WIDTH = 0.2, 0.1  # a piece of line from an edge: a fifth of the width, far wider than tall
GRID_SLACK = 1.5  # a line of squared paper lies within this many pixels of where the grid's pitch puts it...
BROKEN_LINE_FRACTION = 0.3  # ...and, reaching the picture's edge, is a line when ink fills it across 30%: a digit
# standing exactly there and as tall is rare, a grid line broken by faint printing or a shadow is not
MIN_RULED_SIDE = 8  # in a picture narrower than this every stroke runs across it: no line can be told from a digit
MAX_TILT, TILT_STEPS = 0.125, 25  # a photo of a page is seldom turned more than 7 degrees: lines are sought that far


def drop_ruled_lines(mask: np.ndarray) -> np.ndarray:
    """Remove lines running across the picture (`drop_level_lines`), also when the photo is turned a little: the
    mask is sheared until its longest lines run level (`tilt`), then sideways until a squared paper's columns,
    turned with the page, stand upright too; cleared, and sheared back.  Lines are filled across the part of the
    sheared canvas that holds the picture."""
    slope = tilt(mask)
    if not slope:
        return drop_level_lines(mask)
    level, within = shear(mask, slope), shear(np.ones_like(mask), slope)
    upright = tilt(level.T, mask.shape[0])
    squared, within = (shear(level.T, upright).T, shear(within.T, upright).T) if upright else (level, within)
    cleared = drop_level_lines(squared, within)
    if cleared is squared:
        return mask
    if upright:
        cleared = shear(cleared.T, -upright, level.shape[1]).T
    return shear(cleared, -slope, mask.shape[0])


def tilt(mask: np.ndarray, length: int | None = None) -> float:
    """The slope (rows per column) at which ink lines up best across the picture, when some slope other than level
    fills a row across RULED_LINE_FRACTION of the width (or of the `length` of a picture sheared wider) and level
    does not; else 0."""
    height, width = mask.shape[0], length or mask.shape[1]
    if min(height, width) < MIN_RULED_SIDE:
        return 0.0
    if np.count_nonzero(mask.any(axis=0)) < RULED_LINE_FRACTION * width:
        return 0.0  # no ink across most of the width: no line, at any slope
    ys, xs = np.nonzero(mask)

    def counts(slope: float) -> np.ndarray:
        rows = ys - np.round(xs * slope).astype(np.int64)
        return np.bincount(rows - rows.min())

    def sharpness(slope: float) -> float:  # ink piled into the fewest rows: the slope at which a line runs level
        return float(np.square(counts(slope).astype(np.float64)).sum())

    def fill(slope: float) -> int:
        return int(counts(slope).max())

    step = MAX_TILT / TILT_STEPS
    best = max(np.arange(-TILT_STEPS, TILT_STEPS + 1) * step, key=sharpness)
    best = max(best + np.arange(-4, 5) * step / 8, key=sharpness)  # then finer: a line's rows must line up to the pixel
    level = fill(0.0)
    return float(best) if fill(best) >= RULED_LINE_FRACTION * width > level else 0.0


def shear(mask: np.ndarray, slope: float, height: int | None = None) -> np.ndarray:
    """Each column moved up by `slope` rows per column (down for a negative slope), on a canvas tall enough to keep
    every pixel; with `height`, shearing back, the original rows are cut out again."""
    width = mask.shape[1]
    shifts = np.round(np.arange(width) * slope).astype(np.int64)
    shifts -= shifts.min()
    if height is None:
        out = np.zeros((mask.shape[0] + int(shifts.max()), width), dtype=bool)
        for x in np.flatnonzero(mask.any(axis=0)):
            out[int(shifts.max()) - shifts[x] : int(shifts.max()) - shifts[x] + mask.shape[0], x] = mask[:, x]
        return out
    out = np.zeros((height, width), dtype=bool)
    for x in range(width):
        out[:, x] = mask[shifts[x] : shifts[x] + height, x]
    return out


def drop_level_lines(mask: np.ndarray, within: np.ndarray | None = None) -> np.ndarray:
    """Remove lines running level across the picture (lined or squared paper), but not a digit's own bar; the mask
    itself when there are none.  Rows and columns are filled across their part `within` the picture (all of it).

    A row (column) that ink fills across most of the picture, gaps and blur allowed, is a ruled
    line only if it runs from edge to edge while the rest of the ink keeps clear of both edges (or it
    runs on past the rest at both sides), and the line is far longer than the rest is tall: a tightly
    cropped 7 has its bar across the whole width too, but its other strokes reach the edges, or it is
    no longer than the digit is tall; a 2's long foot starts within the digit.  Where a stroke
    crosses a line, the line's bit is put back.
    """
    height, width = mask.shape
    if min(height, width) < MIN_RULED_SIDE:
        return mask
    row_length = width if within is None else np.maximum(np.count_nonzero(within, axis=1), 1)
    column_length = height if within is None else np.maximum(np.count_nonzero(within, axis=0), 1)
    row_fill = np.count_nonzero(mask, axis=1) / row_length
    column_fill = np.count_nonzero(mask, axis=0) / column_length
    line_rows, line_columns = ruled(row_fill), ruled(column_fill)
    if not line_rows.any() and not line_columns.any():
        return mask
    # Columns only on squared (or margined lined) paper, with more than one line: a tightly cropped 4 has a bar and
    # a stem across it.  The rest of the ink is judged without the lines' blurred fringes, which reach their ends.
    squared = line_groups(line_columns) > 1 or (line_groups(line_columns) and line_groups(line_rows) > 1)
    if line_groups(line_columns) > 1:
        line_columns |= on_the_grid(column_fill, line_columns) & (mask[0] | mask[-1])
    columns = line_columns if squared else np.zeros(width, dtype=bool)
    rest = without_stubs(mask & ~near(line_rows)[:, None] & ~near(columns)[None, :])
    tall = span(without_stubs(mask & ~line_rows[:, None] & ~columns[None, :]))
    margin = LINE_MARGIN_FRACTION * width
    lines = mask[line_rows].any(axis=0)
    clear = (
        (clear_of_ends(rest.any(axis=0), margin) and edge_to_edge(lines, margin))
        or reaches_past(mask[line_rows], rest)
        or width >= LONG_LINE * tall
    )
    if not clear or width < LINE_LENGTH * tall:
        line_rows[:] = False  # a digit's bar (a 7's, a 2's), not a line
    # A grid (two ruled rows at least) is no digit's strokes even where the digits reach its top or bottom
    grid = line_groups(line_rows) > 1 or clear_of_ends(rest.any(axis=1), LINE_MARGIN_FRACTION * height)
    if not squared or not grid or not line_rows.any():
        line_columns[:] = False
    if not line_rows.any() and not line_columns.any():
        return mask
    rest = mask & ~line_rows[:, None] & ~line_columns[None, :]
    rejoined = rejoin_crossings(rest, mask, line_thickness(line_rows), axis=0)
    return rejoin_crossings(rejoined, mask, line_thickness(line_columns), axis=1)


def without_stubs(rest: np.ndarray) -> np.ndarray:
    """The ink without stubs of other ruled lines: thin level pieces entering at the left or right edge (a line half
    lost in a shadow, or running off a turned page), which would make the digits seem to reach the edges and span
    several lines' height.  A digit's bar or foot is joined to its digit, so it is no piece of its own."""
    labels, count = ndimage.label(rest)
    if count == 0:
        return rest
    width = rest.shape[1]
    stubs = [
        i + 1
        for i, (rows, cols) in enumerate(ndimage.find_objects(labels))
        if (cols.start == 0 or cols.stop == width)
        and cols.stop - cols.start >= STUB_LENGTH * width
        and rows.stop - rows.start < STUB_HEIGHT_TO_WIDTH * (cols.stop - cols.start)
    ]
    return rest & ~np.isin(labels, stubs) if stubs else rest


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


def on_the_grid(filled: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Columns (rows) filled across BROKEN_LINE_FRACTION that lie on the grid the ruled ones make, at the pitch of the
    closest two: a squared paper's line broken by faint printing, texture or shadow is still a line there."""
    positions = np.flatnonzero(lines)
    centres = [group.mean() for group in np.split(positions, np.flatnonzero(np.diff(positions) > 1) + 1)]
    pitch = float(np.min(np.diff(centres)))
    phase = (np.arange(filled.size) - centres[0]) % pitch
    return (filled >= BROKEN_LINE_FRACTION) & (np.minimum(phase, pitch - phase) <= GRID_SLACK)


def line_groups(lines: np.ndarray) -> int:
    """How many separate lines the rows (columns) marked as ruled make."""
    positions = np.flatnonzero(lines)
    return int(positions.size > 0) + int((np.diff(positions) > 1).sum())


def near(lines: np.ndarray) -> np.ndarray:
    """The ruled rows (columns) and those beside them, where a blurred line's faint fringe lies."""
    return ndimage.binary_dilation(lines, iterations=LINE_FRINGE_ROWS) if lines.any() else lines


def span(mask: np.ndarray) -> int:
    """How many rows the mask's ink spans, top to bottom."""
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def clear_of_ends(used: np.ndarray, margin: float) -> bool:
    """True when the used positions (rows or columns holding ink) keep `margin` away from both ends."""
    positions = np.flatnonzero(used)
    return positions.size > 0 and positions[0] >= margin and positions[-1] < used.size - margin


def edge_to_edge(used: np.ndarray, margin: float) -> bool:
    """True when the used positions (columns holding a line's ink) reach within `margin` of both ends."""
    positions = np.flatnonzero(used)
    return positions.size > 0 and positions[0] < margin and positions[-1] >= used.size - margin


def reaches_past(lines: np.ndarray, rest: np.ndarray) -> bool:
    """True when the lines' ink runs on past the rest of the ink at both sides: a number written close to the edge
    of a page, whose lines still run to the edge; a 2's long foot starts within the digit."""
    line_columns, rest_columns = np.flatnonzero(lines.any(axis=0)), np.flatnonzero(rest.any(axis=0))
    return bool(
        line_columns.size
        and rest_columns.size
        and line_columns[0] < rest_columns[0]
        and line_columns[-1] > rest_columns[-1]
    )


def line_thickness(lines: np.ndarray) -> int:
    """Rows (columns) per ruled line, rounded up; 0 when there is none."""
    return -(-np.count_nonzero(lines) // line_groups(lines)) if lines.any() else 0


def rejoin_crossings(rest: np.ndarray, mask: np.ndarray, thickness: int, axis: int) -> np.ndarray:
    """Put back the bits of removed lines where a stroke crosses them (ink on both sides, along `axis`)."""
    if thickness == 0:
        return rest
    bridge = np.ones((thickness + 3, 1) if axis == 0 else (1, thickness + 3), dtype=bool)
    return rest | (ndimage.binary_closing(rest, structure=bridge) & mask)
