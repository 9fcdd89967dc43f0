"""Two digits written so close that their strokes touch, framed as the reader frames one digit.

The reader cuts a number's ink into digits by what the network reads in each part (`reading.reader`): a cut
costs something, so one confident reading of the whole beats two readings of the halves.  A network that has
only seen single digits reads many touching pairs confidently as one digit (a "19" as a 4), and the pair is
read as that digit.  Shown such pairs with a uniform target (no digit more likely than another), it learns to
doubt them, and the cut into two digits wins.  The pairs are made from the training digits themselves and
framed by the reader's own `to_mnist_digit`, so the network sees what the reader hands it.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitlib.preprocess.mnist_format import to_mnist_digit

NOT_ONE_DIGIT = 10  # the label of a touching pair; its target is uniform over the ten digits
INK = 0.5  # a pixel this bright is ink when judging whether two digits touch
WANDER = 3  # the right digit sits up to this many pixels above or below the left one: a number's wavy line
PRESS = 2  # after first touching, the digits are pushed up to this many pixels further into each other
# Two slanted 1s can slide into each other before they touch and make one thick 1: a pair is two digits only when
# each shows at least half its width beside the other.
MAX_SHARED_WIDTH = 0.5
NEIGHBOURS = np.ones((3, 3), np.uint8)


def touching_pair(left: np.ndarray, right: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """The two 28x28 digits (floats in [0, 1]) side by side, moved together until their strokes first touch
    (and up to PRESS pixels further), as the 28x28 image the reader would make of that ink; None when the reader
    would make none."""
    drop = int(rng.integers(-WANDER, WANDER + 1))
    size = left.shape[0]
    height, width = size + 2 * WANDER, 3 * size
    left_reach = cv2.dilate((left >= INK).astype(np.uint8), NEIGHBOURS)
    right_ink = right >= INK
    for offset in range(size, 0, -1):  # the right digit's left edge, relative to the left digit's
        if touches(left_reach, right_ink, offset, drop):
            break
    else:
        return None
    offset = max(1, offset - int(rng.integers(0, PRESS + 1)))
    left_columns, right_columns = ink_columns(left), ink_columns(right)
    shared = left_columns[1] - (offset + right_columns[0])
    narrower = min(np.diff(left_columns)[0], np.diff(right_columns)[0])
    if shared > MAX_SHARED_WIDTH * narrower:
        return None
    canvas = np.zeros((height, width), np.float32)
    canvas[WANDER : WANDER + size, :size] = left
    top = WANDER + drop
    right_place = canvas[top : top + size, offset : offset + size]
    np.maximum(right_place, right, out=right_place)
    rows, columns = np.nonzero(canvas > 0.05)
    return to_mnist_digit(canvas[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1])


def ink_columns(digit: np.ndarray) -> np.ndarray:
    """The first and last column holding ink."""
    columns = np.flatnonzero((digit >= INK).any(axis=0))
    return np.array([columns[0], columns[-1] + 1])


def touches(left_reach: np.ndarray, right_ink: np.ndarray, offset: int, drop: int) -> bool:
    """Whether the right digit's ink, ``offset`` pixels right and ``drop`` down, meets the left digit's reach."""
    size = left_reach.shape[0]
    overlap = size - offset
    rows_left = slice(max(0, drop), size + min(0, drop))
    rows_right = slice(max(0, -drop), size - max(0, drop))
    return bool((left_reach[rows_left, offset:] & right_ink[rows_right, :overlap]).any())


def with_touching_pairs(
    x: np.ndarray, y: np.ndarray, seed: int = 0, share: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST uint8 images and labels plus ``share`` x len(x) touching pairs of random digits, labelled
    NOT_ONE_DIGIT (appended)."""
    count = round(len(x) * share)
    if not count:
        return x, y
    rng = np.random.default_rng(seed)
    pairs = []
    for first, second in rng.integers(0, len(x), size=(count, 2)):
        pair = touching_pair(x[first].astype(np.float32) / 255, x[second].astype(np.float32) / 255, rng)
        if pair is not None:
            pairs.append(np.round(pair * 255).astype(np.uint8))
    if not pairs:
        return x, y
    return np.concatenate([x, np.array(pairs)]), np.concatenate([y, np.full(len(pairs), NOT_ONE_DIGIT, y.dtype)])
