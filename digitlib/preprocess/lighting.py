"""Uneven lighting, paper texture and shadows: what lies under the strokes, estimated and taken away.

A picture's light varies slowly (a gradient, a vignette) or steps (the hard edge of a shadow); strokes are thin.
Everything broader than the strokes is the background, removed before ink is told from paper (`ink.py`).  A dim
photo's grain is finer than the strokes: a slight blur takes it away (`through_the_grain`).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from digitlib.preprocess.decode import resize

PAPER_TOLERANCE = 0.05  # coarse pixels this close to the opened background are paper: strokes stay out of the fit
SHADOW_PENS = 8  # lighting is what is broader than this many pens: a stroke never is, a shadow always
SHADOW_STEPS = 8  # the opening works on a copy where its window spans this many pixels: fine enough for a step
LIT_BOARD = 0.05  # a board (chalk, light on dark) this bright where lit shows its lighting: in a shadow, strokes are
SHADE_FLOOR = 0.25  # ...as much fainter as the board is darker, and are strengthened up to 1 / SHADE_FLOOR times...
MIN_BOARD_SIDE = 64  # ...in a picture at least this large: a smaller one (a noisy crop) shows strokes, not a board
DENOISE_SIGMA = 1.0  # px: a grainy photo's strokes are wider, its noise is not (`through_the_grain`)
GRAINY_SIDE = 64  # ...except in a crop under this size, whose strokes are as thin as the grain: never blurred


def flatten_background(ink: np.ndarray, reflective: bool, pen: float = 0.0) -> np.ndarray:
    """Remove uneven lighting and paper texture: ink minus a background estimate (`smooth_lighting`, or
    `shadowed_lighting` when the pen's width is known).  For pen on paper the ink is also divided by the
    local paper brightness, for chalk on a board multiplied by how much darker the board is than where it is
    brightest: either way strokes in a shadow are as strong as strokes in the light.  (Only when the pen is known,
    in a picture large enough to show a board (MIN_BOARD_SIDE): without a pen, the smooth background of a bold
    digit cropped tight holds some of its strokes; in a small noisy crop the board's "lighting" is noise.)"""
    background = shadowed_lighting(ink, pen) if pen else smooth_lighting(ink)
    flat = ink - background
    if reflective:
        flat /= np.maximum(1.0 - background, 0.1)
    elif pen and min(ink.shape) >= MIN_BOARD_SIDE and (lit := float(background.max())) > LIT_BOARD:
        flat *= lit / np.maximum(background, SHADE_FLOOR * lit)
    return np.clip(flat, 0.0, 1.0)


def through_the_grain(ink: np.ndarray, reflective: bool, noise: float) -> tuple[np.ndarray, np.ndarray, float]:
    """A grainy photo's ink seen through a slight blur (`blurred`), flattened (`flatten_background`), and its noise
    then: faint strokes in a dim photo stand clear of the grain; noise alone, blurred, stands out no more than
    before."""
    smooth, less = blurred(ink, noise)
    return smooth, flatten_background(smooth, reflective), less


def blurred(image: np.ndarray, noise: float) -> tuple[np.ndarray, float]:
    """The picture through a slight blur (DENOISE_SIGMA) and its white noise's deviation then: strokes wider than the
    blur keep their level while the noise falls to 28% of it."""
    return cv2.GaussianBlur(image, (0, 0), DENOISE_SIGMA), noise / (2 * DENOISE_SIGMA * np.sqrt(np.pi))


def smooth_lighting(ink: np.ndarray) -> np.ndarray:
    """The background when nothing is known of the strokes: smooth, and wider than any brush.

    Lighting varies slowly, so the background is estimated on a coarse copy.  A grey opening
    erases every stroke narrower than its window (half the picture: wider than any brush) and
    follows the lighting, but falls short near the edges; there a quadratic surface through the
    paper is exact for smooth lighting, so the higher of the two is taken.
    """
    height, width = ink.shape
    factor = max(1, min(height, width) // 32)
    coarse = resize(ink, (max(1, width // factor), max(1, height // factor)))
    window = max(3, min(coarse.shape) // 2)
    opened = ndimage.uniform_filter(ndimage.grey_opening(coarse, size=window), window, mode="nearest")
    paper = coarse - opened < PAPER_TOLERANCE
    uneven = np.ptp(opened) > PAPER_TOLERANCE and paper.sum() >= 6  # drawings on a flat ground need no fit
    background = np.maximum(opened, lighting_surface(coarse, paper)) if uneven else opened
    return resize(background, (width, height))


def shadowed_lighting(ink: np.ndarray, pen: float) -> np.ndarray:
    """The background when the pen's width is known: everything broader than a few pens (SHADOW_PENS).

    A grey opening keeps a step in the lighting where it is, so the hard edge of a shadow across
    the writing leaves no band of false ink, as a window half the picture wide would.
    """
    height, width = ink.shape
    window = SHADOW_PENS * pen
    factor = max(1, int(window // SHADOW_STEPS))
    coarse = resize(ink, (max(1, width // factor), max(1, height // factor)))
    size = max(3, round(window / factor))
    # Lighting that keeps darkening into the picture's edge (a vignette) would fall short there, as an opening
    # takes each pixel from a window inside the picture: extended past the edge by odd reflection it does not.  But
    # odd reflection turns strokes near the edge into dips, which the opening would take for lighting (a band of
    # false ink along the edge, read as a 1): where a plain mirror is higher, its mirrored strokes are kept instead,
    # to be opened away.
    odd = np.pad(coarse, size, mode="reflect", reflect_type="odd")
    extended = np.maximum(odd, np.pad(coarse, size, mode="reflect"))
    opened = cv2.morphologyEx(extended, cv2.MORPH_OPEN, np.ones((size, size), np.uint8))[size:-size, size:-size]
    # Enlarging blends the two sides of a step: a band of false ink along the shadow's edge.  The darker
    # side's level, spread by one coarse pixel first, covers it (strokes lose at most that pixel there).
    return resize(cv2.dilate(opened, np.ones((3, 3), np.uint8)), (width, height))


def lighting_surface(coarse: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Least-squares quadratic surface through the paper pixels: smooth lighting, right up to the edges."""
    rows, cols = np.mgrid[-1 : 1 : coarse.shape[0] * 1j, -1 : 1 : coarse.shape[1] * 1j]
    terms = np.stack([np.ones_like(rows), cols, rows, cols * cols, cols * rows, rows * rows], axis=-1)
    coefficients = np.linalg.lstsq(terms[paper], coarse[paper], rcond=None)[0]
    return (terms @ coefficients).astype(np.float32)
