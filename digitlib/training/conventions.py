"""Handwriting conventions MNIST lacks, made at training time by editing MNIST strokes.

MNIST was written by American census staff and students: its 1 is a bare stroke, its 7 has no bar,
most 4s are open at the top and most 9s have a curved tail.  Much of the world writes a 1 with a
long flag (and often a base), crosses its 7, closes its 4 and hangs a straight stem from its 9; the
real pictures' largest single cause of errors was such a 1 read as 7.  Each function here takes one
MNIST digit of the right class and draws the missing stroke in the same pen (width measured on the
digit, drawn at 4x and area-averaged so its edges are as soft as MNIST's), then frames the result
the MNIST way (20x20 box, centre of mass in the middle).  A digit whose shape doesn't allow the
edit (a 4 with no open top, a 9 with no loop) gives None and is simply not used.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

DETAIL = 4  # strokes are drawn at 4x resolution and area-averaged down: soft edges like MNIST's
INK = 0.5  # a pixel at half intensity or more is ink when measuring a digit's shape
MNIST_BOX = 20  # MNIST digits fill a 20x20 box centred by mass in 28x28

Point = tuple[float, float]  # (x, y) in pixels of the 28x28 image


def stroke_width(image: np.ndarray) -> float:
    """Pen width from area and outline: a stroke of length L and width w has area Lw and outline ~2L."""
    ink = (image >= INK).astype(np.uint8)
    contours, _ = cv2.findContours(ink, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    outline = sum(cv2.arcLength(c, True) for c in contours)
    return float(np.clip(2 * ink.sum() / max(outline, 1.0), 1.5, 4.0))


def draw_strokes(image: np.ndarray, strokes: list[tuple[Point, Point]], width: float) -> np.ndarray:
    """The image with straight strokes added in the same pen (float in [0, 1])."""
    size = image.shape[0] * DETAIL
    canvas = np.zeros((size, size), np.uint8)
    for (x0, y0), (x1, y1) in strokes:
        start = (round((x0 + 0.5) * DETAIL), round((y0 + 0.5) * DETAIL))
        end = (round((x1 + 0.5) * DETAIL), round((y1 + 0.5) * DETAIL))
        cv2.line(canvas, start, end, 255, max(1, round(width * DETAIL)), cv2.LINE_AA)
    drawn = cv2.resize(canvas, image.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return np.maximum(image, drawn)


def mnist_frame(image: np.ndarray) -> np.ndarray:
    """Scale the ink to fit a 20x20 box and centre it by mass in 28x28, as MNIST was made."""
    ys, xs = np.nonzero(image > 0.05)
    crop = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = MNIST_BOX / max(crop.shape)
    height, width = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    fitted = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    moments = cv2.moments(fitted)
    cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    shift = np.float32([[1, 0, 13.5 - cx], [0, 1, 13.5 - cy]])
    return np.clip(cv2.warpAffine(fitted, shift, (28, 28), flags=cv2.INTER_LINEAR), 0, 1)


def extent(ink: np.ndarray) -> tuple[int, int]:
    """First and last row holding ink."""
    rows = np.flatnonzero(ink.any(axis=1))
    return int(rows[0]), int(rows[-1])


def row_centre(ink: np.ndarray, row: int) -> float:
    return float(np.flatnonzero(ink[row]).mean())


def continental_one(image: np.ndarray, rng: np.random.Generator, base: bool | None = None) -> np.ndarray | None:
    """A 1 with a long flag falling to the left from its top, and a base (a foot) half the time or as asked."""
    ink = image >= INK
    top, bottom = extent(ink)
    height = bottom - top
    if height < 10:
        return None
    x_top, x_bottom = row_centre(ink, top), row_centre(ink, bottom)
    # The flag falls 25-60 degrees below the horizontal (flatter is a 7's bar) and leaves at least 30 degrees
    # between itself and the stem (closer, it merges into a slanted 1's stroke): a stem leaning like "/" by
    # `lean` degrees leaves room only up to 60 - lean; a 1 leaning too far has no room for a flag.
    lean = np.degrees(np.arctan2(x_top - x_bottom, height))
    steepest = min(60.0, 60.0 - lean)
    if steepest < 30:
        return None
    angle = np.radians(rng.uniform(25, steepest))
    flag = np.array([-np.cos(angle), np.sin(angle)])
    end = np.array([x_top, top]) + flag * height * rng.uniform(0.3, 0.7)  # real flags reach up to 3/4 down
    strokes = [((float(end[0]), float(end[1])), (x_top, float(top)))]
    if rng.random() < 0.5 if base is None else base:
        half = height * rng.uniform(0.2, 0.35)
        strokes.append(((x_bottom - half, bottom), (x_bottom + half, bottom)))
    return mnist_frame(draw_strokes(image, strokes, stroke_width(image)))


def crossed_seven(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A 7 with a short bar through the middle of its stem."""
    ink = image >= INK
    top, bottom = extent(ink)
    height = bottom - top
    row = round(top + height * rng.uniform(0.45, 0.6))
    if height < 10 or not ink[row].any():
        return None
    x = float(np.flatnonzero(ink[row])[0])  # the stem's left edge: the top bar's end may share the row
    half, tilt = height * rng.uniform(0.17, 0.27), height * rng.uniform(-0.05, 0.05)
    strokes = [((x - half, row + tilt), (x + half, row - tilt))]
    return mnist_frame(draw_strokes(image, strokes, stroke_width(image)))


def has_hole(image: np.ndarray) -> bool:
    """True when some background is enclosed by ink (a loop)."""
    return bool(holes(image >= INK).any())


def holes(ink: np.ndarray) -> np.ndarray:
    """Background pixels that the border's background can't reach (4-connected)."""
    count, labels = cv2.connectedComponents((~ink).astype(np.uint8), connectivity=4)
    outside = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    return ~ink & ~np.isin(labels, list(outside))


def closed_four(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A closed-top 4: the open left arm replaced by a diagonal from the stem's top to the bar's left end."""
    ink = image >= INK
    if holes(ink).any():
        return None  # already closed
    top, bottom = extent(ink)
    row = round(top + (bottom - top) * 0.25)
    runs = np.flatnonzero(np.diff(np.concatenate([[0], ink[row].astype(np.int8), [0]])))
    if len(runs) < 4:  # fewer than two separate strokes cross the upper quarter
        return None
    split = int(np.ceil((runs[1] + runs[2]) / 2))  # between the left arm and the stem
    bar = top + (bottom - top) // 3 + int(np.argmax(ink[top + (bottom - top) // 3 : bottom].sum(axis=1)))
    below = min(bottom, bar + 4)  # under the bar only the stem is left
    if not ink[below].any() or np.flatnonzero(ink[bar])[-1] < np.flatnonzero(ink[below])[-1] + 2:
        return None  # the bar stops at the stem: closed, this 4 would have a 9's shape
    width = stroke_width(image)
    edited = image.copy()
    edited[: max(top, bar - round(width)), :split] = 0  # the open arm goes; the bar stays
    bar_left = float(np.flatnonzero(ink[bar])[0])
    stem = ink.copy()
    stem[:, :split] = False
    stem_top = extent(stem)[0]
    strokes = [((row_centre(stem, stem_top), float(stem_top)), (bar_left, float(bar)))]
    closed = mnist_frame(draw_strokes(edited, strokes, width))
    return closed if has_hole(closed) else None


def straight_nine(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A 9 whose tail is replaced by a straight vertical stem from the right of its loop."""
    ink = image >= INK
    loop = holes(ink)
    if not loop.any():
        return None
    top, bottom = extent(ink)
    loop_top, loop_bottom = extent(loop)
    if loop_bottom > top + 0.7 * (bottom - top):
        return None  # the loop is not at the top: not a 9's shape
    width = stroke_width(image)
    cut = min(bottom, round(loop_bottom + width + 1))
    middle = (loop_top + loop_bottom) // 2
    right = np.flatnonzero(ink[middle])
    x = float(right[-1]) - width / 2 + 0.5
    edited = image.copy()
    edited[cut + 1 :] = 0
    stem_end = (x + rng.uniform(-1, 1), float(bottom))
    return mnist_frame(draw_strokes(edited, [((x, float(middle)), stem_end)], width))


def loops(ink: np.ndarray) -> list[np.ndarray]:
    """Each enclosed hole as its own mask, top to bottom."""
    count, labels = cv2.connectedComponents(holes(ink).astype(np.uint8), connectivity=4)
    found = [labels == i for i in range(1, count)]
    return sorted(found, key=lambda hole: extent(hole)[0])


def open_top_eight(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """An 8 whose upper loop is left open at the top (the pen stopped short of where it started)."""
    ink = image >= INK
    found = loops(ink)
    if len(found) != 2:
        return None  # not an 8 with two loops
    upper = found[0]
    hole_top = extent(upper)[0]
    columns = np.flatnonzero(upper.any(axis=0))
    # The gap sits from the loop's middle to its right side, where a writer ends the stroke; a third to half as wide
    middle = (columns[0] + columns[-1]) / 2
    start = round(middle + (columns[-1] - middle) * rng.uniform(-0.3, 0.5))
    gap = max(2, round((columns[-1] - columns[0] + 1) * rng.uniform(0.35, 0.55)))
    edited = image.copy()
    edited[: hole_top + 1, start : start + gap] = 0
    opened = mnist_frame(edited)
    return opened if len(loops(opened >= INK)) == 1 else None


def straight_six(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A 6 whose curved upper stroke is a straight stem rising from the left of its loop to the top right."""
    ink = image >= INK
    found = loops(ink)
    if len(found) != 1:
        return None
    top, bottom = extent(ink)
    loop_top, loop_bottom = extent(found[0])
    loop_columns = np.flatnonzero(found[0].any(axis=0))
    if loop_columns[-1] - loop_columns[0] > 1.5 * (loop_bottom - loop_top):
        return None  # a flat loop trailing its stroke far to the right: no room left for a stem
    if loop_top < top + 0.35 * (bottom - top):
        return None  # the loop is not at the bottom: not a 6's shape
    width = stroke_width(image)
    edited = image.copy()
    edited[: max(0, loop_top - round(width) - 1)] = 0  # only the loop and its rim stay
    start = round(loop_top + 0.25 * (loop_bottom - loop_top))  # the loop's upper left, where a 6's stem joins it
    left = float(np.flatnonzero(ink[start])[0]) + width / 2
    reach = loop_columns[-1] + (loop_columns[-1] - loop_columns[0]) * rng.uniform(-0.2, 0.4)
    stem = ((left, float(start)), (float(reach), float(top)))
    return mnist_frame(draw_strokes(edited, [stem], width))


def flagged_footed_one(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    return continental_one(image, rng, base=True)


# label -> (edit, share of that digit's training images that get an edited copy)
CONVENTIONS: dict[int, tuple[Callable[[np.ndarray, np.random.Generator], np.ndarray | None], float]] = {
    1: (continental_one, 0.3),  # the real pictures' commonest error: a flagged 1 read as 7
    4: (closed_four, 0.15),  # fewer: a closed 4 whose bar barely crosses its stem is close to a 9
    7: (crossed_seven, 0.2),
    9: (straight_nine, 0.2),
}

# Styles the trained models are checked on (`style_accuracy`): the conventions above, and shapes MNIST holds rarely
# that the models already read from MNIST alone (over 99% of edited test digits), so they are not trained on.
STYLES: dict[str, tuple[int, Callable[[np.ndarray, np.random.Generator], np.ndarray | None]]] = {
    "1 with a flag": (1, continental_one),
    "1 with a flag and a foot": (1, flagged_footed_one),
    "closed 4": (4, closed_four),
    "6 with a straight stem": (6, straight_six),
    "crossed 7": (7, crossed_seven),
    "8 open at the top": (8, open_top_eight),
    "9 with a straight stem": (9, straight_nine),
}


def with_conventions(
    x: np.ndarray, y: np.ndarray, seed: int = 0, strength: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST uint8 images and labels plus edited copies in the world's conventions (appended, labels kept).

    ``strength`` scales each convention's share (0 adds nothing)."""
    rng = np.random.default_rng(seed)
    added, labels = [], []
    for label, (edit, share) in CONVENTIONS.items():
        candidates = np.flatnonzero(y == label)
        chosen = rng.choice(
            candidates, size=min(len(candidates), round(len(candidates) * share * strength)), replace=False
        )
        for index in chosen:
            edited = edit(x[index].astype(np.float32) / 255, rng)
            if edited is not None:
                added.append(np.round(edited * 255).astype(np.uint8))
                labels.append(label)
    if not added:
        return x, y
    return np.concatenate([x, np.array(added)]), np.concatenate([y, np.array(labels, dtype=y.dtype)])


def style_accuracy(classifier, x: np.ndarray, y: np.ndarray, seed: int = 0) -> dict[str, tuple[float, int]]:
    """Per style (`STYLES`): the share of MNIST digits of its class, edited into that style, that the classifier
    reads right, and how many could be edited."""
    rng = np.random.default_rng(seed)
    results = {}
    for name, (label, edit) in STYLES.items():
        edited = [e for image in x[y == label] if (e := edit(image.astype(np.float32) / 255, rng)) is not None]
        predicted = classifier.predict_prepared(np.array(edited)).argmax(axis=1) if edited else np.array([])
        results[name] = (float(np.mean(predicted == label)) if edited else 0.0, len(edited))
    return results
