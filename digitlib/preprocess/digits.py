"""Stage 3, finding digits: clean ink to marks, left to right, and the pieces digits may be made of.

Blobs of ink become marks; dust, specks, paper edges and marks too small beside the tallest digit
are dropped; strokes above one another (a 5's bar) are merged.  Which of the remaining marks belong
to one digit (a 4 in two strokes side by side, a 1 broken in three) and where touching digits part
is left to the network: a wide mark is cut at its necks into `Piece`s, and the reader scores
candidate digits made of neighbouring pieces (`reading.reader`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from digitlib.preprocess.decode import Picture
from digitlib.preprocess.ink import DUST_FRACTION, STROKE_EXTENT, Ink, extract_ink, grey_at
from digitlib.preprocess.strokes import stroke_width

QUICK_SIDE = 128  # a first look at this size: a drawing filling its canvas costs several times fewer pixels...
QUICK_MIN_HEIGHT = 40  # ...enough when every digit is this tall there; smaller ones would lose their shape
SATURATION = 0.6  # ink at 60% of the strongest strokes' level is full strength: a light pen reads as a firm one
# Junk, specks and what is no digit
EDGE_RUN = (
    0.5  # ink along half an edge of the picture is a paper edge or a shadow; a digit meets an edge for a short stretch
)
SPECK_FRACTION = 0.2  # marks under this fraction of the largest digit-like mark (in extent) are dust or noise
MIN_DIGIT_FRACTION = 0.3  # marks under this fraction of the tallest digit's height are stray marks, unless in the line
LINE_SLACK = 0.1  # ...where a small digit may poke out of its neighbours' rows by this much of its height; a comma more
MIN_HEIGHT_TO_WIDTH = 0.2  # even four touching zeros are taller than this fraction of their width; a dash is not
# Grouping and splitting
MERGE_OVERLAP = 0.5  # marks overlapping horizontally by half the narrower one are strokes of one digit (a 5's bar)
# A picture of one blob of ink almost always shows one digit; within a written number digits often touch.  So a
# mark alone is cut only at a clear neck, and a mark among others wherever digits may part...
LONE_NUMBER_ASPECT = 2.5  # ...as is a mark alone this much wider than tall: a whole number written in one blob (the
# single digits of realworld-train are at most 1.5 times as wide as tall)
SPLIT_ASPECT, LONE_SPLIT_ASPECT = 0.9, 1.2  # a mark wider than this times its height may be touching digits...
NECK_STROKES, LONE_NECK_STROKES = 3.0, 1.5  # ...joined where a column crosses at most this many pens (not a loop)...
DIGIT_ASPECT = 0.6  # ...or, among others, cut where digits this wide for their height would part...
DIVISION_SLACK = 0.1  # ...at the thinnest column within this fraction of the width
MIN_PIECE_PENS = 2  # each piece cut off is at least this many pens wide: a dot or a stroke's end is not cut


@dataclass
class Mark:
    """A connected blob of ink, or several merged into one digit."""

    labels: list[int]
    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def extent(self) -> int:
        return max(self.height, self.width)

    @property
    def is_dash(self) -> bool:
        """Far wider than tall: a dash, an underline, a ruled line's stub; no digit."""
        return self.height < MIN_HEIGHT_TO_WIDTH * self.width

    @property
    def centre_x(self) -> float:
        return (self.x0 + self.x1) / 2

    def strokes_of_one_digit(self, other: Mark) -> bool:
        """Overlapping horizontally by half the narrower one, and no farther apart vertically than the taller
        is high (a 5's bar over its body; not a line or a stain far below the digits)."""
        overlap = min(self.x1, other.x1) - max(self.x0, other.x0)
        gap = max(self.y0, other.y0) - min(self.y1, other.y1)
        return overlap > MERGE_OVERLAP * min(self.width, other.width) and gap < max(self.height, other.height)

    def shares_rows(self, other: Mark) -> bool:
        return min(self.y1, other.y1) > max(self.y0, other.y0)

    def touches_edge(self, shape: tuple[int, int]) -> bool:
        return self.x0 == 0 or self.y0 == 0 or self.y1 == shape[0] or self.x1 == shape[1]

    def merged(self, other: Mark) -> Mark:
        return Mark(
            self.labels + other.labels,
            min(self.y0, other.y0),
            min(self.x0, other.x0),
            max(self.y1, other.y1),
            max(self.x1, other.x1),
        )


def connected_marks(blobs: np.ndarray) -> list[Mark]:
    """Describe each blob of ink (`label_blobs`) by its box.

    Blobs with a tiny fraction of the largest one's area (dust, noise) are left out before any
    per-blob work, so a grainy photo with thousands of them stays fast.
    """
    areas = blobs[:, cv2.CC_STAT_AREA]
    marks = []
    for i in np.flatnonzero(areas >= max(1.0, DUST_FRACTION * areas.max())):
        x, y, width, height = (int(v) for v in blobs[i, :4])
        marks.append(Mark([int(i)], y, x, y + height, x + width))
    return marks


def drop_specks(marks: list[Mark]) -> list[Mark]:
    """Dust, sensor noise and stray dots: marks far smaller than the largest one that may be a digit (a line or a
    dash, far wider than tall, sets no scale: it is dropped later)."""
    upright = [m for m in marks if not m.is_dash] or marks
    largest = max((m.extent for m in upright), default=0)
    return [m for m in marks if m.extent >= SPECK_FRACTION * largest]


def drop_border_junk(marks: list[Mark], labels: np.ndarray) -> list[Mark]:
    """Paper edges, shadows and things beyond the frame, beside something else that is no speck next to them.

    Two kinds: blobs of ink running along half an edge of the picture (touching it all the way,
    not only where a digit's stroke ends there), and marks that enter at an edge but share no row
    with any mark at least as tall (the digits of a number share a line; a hand or the table in a
    corner below it does not).  A tightly cropped digit touches the edges too, so a mark is only
    junk beside another mark that is not a mere speck beside it (SPECK_FRACTION of its thickness).
    """
    shape = labels.shape
    edges = (labels[0], labels[-1], labels[:, 0], labels[:, -1])

    def runs_along_edge(m: Mark) -> bool:
        return any(np.count_nonzero(edge == m.labels[0]) > EDGE_RUN * edge.size for edge in edges)

    def off_the_line(m: Mark) -> bool:
        taller = [o for o in marks if o is not m and o.height >= m.height]
        return m.touches_edge(shape) and bool(taller) and not any(m.shares_rows(o) for o in taller)

    suspects = [m for m in marks if runs_along_edge(m) or off_the_line(m)]
    others = [m for m in marks if all(m is not s for s in suspects)]

    def beside_something(m: Mark) -> bool:  # measured by its thickness: a long thin line makes no digit a speck
        return any(o.extent >= SPECK_FRACTION * min(m.height, m.width) for o in others)

    return [m for m in marks if all(m is not s for s in suspects) or not beside_something(m)]


def group_into_digits(marks: list[Mark]) -> list[Mark]:
    """Merge marks that overlap horizontally (a 5's top bar, a 4 drawn in two strokes), left to right."""
    digits: list[Mark] = []
    for mark in sorted(marks, key=lambda m: m.x0):
        while (other := next((d for d in digits if mark.strokes_of_one_digit(d)), None)) is not None:
            digits.remove(other)  # merging widens the mark: look again until nothing overlaps
            mark = mark.merged(other)
        digits.append(mark)
    return sorted(digits, key=lambda m: m.x0)


def plausible_digits(marks: list[Mark]) -> list[Mark]:
    """Drop what is no digit: marks far smaller than the tallest digit unless written within the line between two
    digits (the small 0 of a hand-written "2019"), and dashes outside the digits' rows (an underline, a line's stub).

    A dash level with the digits stays: it may be a stroke of one of them (a 5's flag drawn apart, a 7's bar), and
    it is never read as a digit by itself.
    """
    digits = [d for d in marks if not d.is_dash]
    tallest = max((d.height for d in digits), default=0)
    tall = [d for d in digits if d.height >= MIN_DIGIT_FRACTION * tallest]
    small = [d for d in digits if d.height < MIN_DIGIT_FRACTION * tallest and written_between(d, tall)]
    strokes = [m for m in marks if m.is_dash and any(d.y0 <= (m.y0 + m.y1) / 2 <= d.y1 for d in tall)]
    return sorted(tall + small + strokes, key=lambda m: m.x0)


def written_between(mark: Mark, digits: list[Mark]) -> bool:
    """True when the mark lies between two digits, within the rows they span: where a digit of the number goes.

    A comma or a full stop hangs below the line, a stain or a note sits above it: neither is within it.
    """
    left = max((d for d in digits if d.centre_x < mark.centre_x), key=lambda d: d.centre_x, default=None)
    right = min((d for d in digits if d.centre_x > mark.centre_x), key=lambda d: d.centre_x, default=None)
    if left is None or right is None:
        return False
    slack = LINE_SLACK * mark.height
    return min(left.y0, right.y0) - slack <= mark.y0 and mark.y1 <= max(left.y1, right.y1) + slack


@dataclass
class Segment:
    """One digit found in a picture."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], MNIST format: what the network sees
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in pixels of the upright original picture
    crop: np.ndarray = field(repr=False)  # the digit's ink at working size, spanning `box`


@dataclass(frozen=True)
class Piece:
    """A mark, or the stretch of it between two necks where touching digits may part: what digits are made of."""

    mark: Mark
    start: int  # the columns it spans, at working size
    stop: int

    @property
    def height(self) -> int:
        return self.mark.height

    @property
    def extent(self) -> int:
        return max(self.mark.height, self.stop - self.start)

    @property
    def is_cut(self) -> bool:
        """Only part of its mark."""
        return self.stop - self.start < self.mark.width


# ---------------------------------------------------------------- loading


def digit_crop(ink: Ink, digit: Mark) -> np.ndarray:
    """A mark's own ink taken as one digit (`pieces_crop`)."""
    return pieces_crop(ink, [Piece(digit, digit.x0, digit.x1)])[0]


def member_mask(labels: np.ndarray, members: list[int]) -> np.ndarray:
    """Pixels whose label is one of `members` (a lookup table: faster than np.isin)."""
    if len(members) == 1:
        return labels == members[0]
    table = np.zeros(int(labels.max(initial=0)) + 1, dtype=bool)
    table[[m for m in members if m < len(table)]] = True
    return table[labels]


def split_candidates(crop: np.ndarray, alone: bool = False) -> list[int]:
    """Columns where a wide mark may be touching digits: necks of ink that cut through no loop, and (unless the
    mark is `alone` in the picture) where digits of a usual width would part.

    Where two digits touch, one or two strokes join them; a column through a 0, 6, 8 or 9 crosses
    a hole, and a cut there would break a loop, so such columns are never candidates.
    """
    height, width = crop.shape
    ink = crop > 0.5
    counts = ink.sum(axis=0)
    pen = max(stroke_width(ink), 1.0)
    neck = (LONE_NECK_STROKES if alone else NECK_STROKES) * pen
    through_loop = (ndimage.binary_fill_holes(ink) & ~ink).any(axis=0)
    columns = np.arange(width)
    slivers = (columns < MIN_PIECE_PENS * pen) | (columns > width - MIN_PIECE_PENS * pen)
    no_cut = through_loop | slivers
    candidates = np.flatnonzero(
        (columns >= 0.2 * width)
        & (columns <= 0.8 * width)
        & (counts <= neck)
        & ~no_cut
        & (counts <= ndimage.minimum_filter1d(counts, max(3, height // 4)))
    )
    runs = np.split(candidates, np.flatnonzero(np.diff(candidates) > 1) + 1) if candidates.size else []
    # Digits touching along a stroke leave no neck: the thinnest column near where each would part if all were
    # equally wide is a candidate too (for as many digits as the mark is wide).
    parts = 1 if alone else max(2, round(width / (DIGIT_ASPECT * height)))
    divisions = []
    for count in range(2, parts + 1):
        for i in range(1, count):
            near = np.flatnonzero((np.abs(columns - i * width / count) <= DIVISION_SLACK * width) & ~no_cut)
            if near.size:
                divisions.append(int(near[np.argmin(counts[near])]))
    cuts: list[int] = []
    for column in sorted({int(run.mean()) for run in runs} | set(divisions)):
        if not cuts or column - cuts[-1] >= height // 6:  # slivers between close cuts are no digits
            cuts.append(column)
    return cuts


def cut_into_pieces(ink: Ink, marks: list[Mark]) -> list[Piece]:
    """Every mark as one piece, a wide one cut where digits may part (`split_candidates`), left to right."""
    single = sum(not m.is_dash for m in marks) == 1
    pieces = []
    for mark in marks:
        alone = single and mark.width < LONE_NUMBER_ASPECT * mark.height
        wide = mark.width >= (LONE_SPLIT_ASPECT if alone else SPLIT_ASPECT) * mark.height and not mark.is_dash
        cuts = split_candidates(digit_crop(ink, mark), alone) if wide else []
        edges = [mark.x0, *(mark.x0 + c for c in cuts), mark.x1]
        pieces += [Piece(mark, a, b) for a, b in zip(edges, edges[1:], strict=False)]
    return sorted(pieces, key=lambda p: (p.start, p.mark.x0))


def pieces_box(pieces: list[Piece]) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) the pieces span together, at working size."""
    return (
        min(p.start for p in pieces),
        min(p.mark.y0 for p in pieces),
        max(p.stop for p in pieces),
        max(p.mark.y1 for p in pieces),
    )


def pieces_crop(ink: Ink, pieces: list[Piece]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The ink of some pieces taken as one digit (`digit_crop`'s profile), cropped tight, and its box (x0, y0, x1, y1)
    at working size."""
    x0, y0, x1, y1 = pieces_box(pieces)
    own = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for p in pieces:
        own[p.mark.y0 - y0 : p.mark.y1 - y0, p.start - x0 : p.stop - x0] |= member_mask(
            ink.labels[p.mark.y0 : p.mark.y1, p.start : p.stop], p.mark.labels
        )
    # MNIST's stroke profile: ink at the faint edge of the mask (STROKE_EXTENT of the strength) maps to 0 and ink
    # from SATURATION up to 1, so a pen pressed lightly reads like a firm one and the halo of a blurred photo stays a
    # thin soft edge instead of fattening the strokes.
    level = ink.flat[y0:y1, x0:x1] / ink.strength
    crop = np.clip((level - STROKE_EXTENT) / (SATURATION - STROKE_EXTENT), 0.0, 1.0) * own
    rows, cols = np.flatnonzero(crop.any(axis=1)), np.flatnonzero(crop.any(axis=0))
    if not rows.size:
        return crop.astype(np.float32), (x0, y0, x1, y1)
    box = (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)
    return crop[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32), box


# ---------------------------------------------------------------- the pipeline


def find_digits(ink: Ink) -> list[Mark]:
    """Connected marks -> specks and border junk dropped -> grouped into digits, left to right."""
    marks = drop_specks(drop_border_junk(connected_marks(ink.blobs), ink.labels))
    return plausible_digits(group_into_digits(marks))


def locate_digits(
    picture: Picture, size: tuple[int, int], closer: bool = False, dark_ink: bool | None = None
) -> tuple[Ink, list[Mark]]:
    """Clean ink and the digits' marks, at the coarsest size that shows every digit well.

    A first look at QUICK_SIDE suffices when each digit found is at least QUICK_MIN_HEIGHT
    tall (a drawing filling a canvas): several times fewer pixels to process.  Otherwise the
    picture is read again, just fine enough for the smallest digit found to be that tall (the app's
    wide canvas), or at full working size when none was found (small digits in a large photo) or when
    asked to look `closer` (what the first look found held no digit: a shadow taken for ink).  The polarity is
    judged (`extract_ink`) unless `dark_ink` says it.
    """
    longest = max(picture.shape[:2])
    ink = extract_ink(grey_at(picture, QUICK_SIDE), size, dark_ink)
    marks = find_digits(ink)
    smallest = min((m.height for m in marks if not m.is_dash), default=0)
    if longest > QUICK_SIDE and (smallest < QUICK_MIN_HEIGHT or closer):
        quick_factor = -(-longest // QUICK_SIDE)
        factor = 1 if closer else max(1, smallest * quick_factor // QUICK_MIN_HEIGHT)  # none found: 1, full size
        ink = extract_ink(grey_at(picture, -(-longest // factor)), size, dark_ink)  # at most MAX_SIDE
        marks = find_digits(ink)
    return ink, marks
