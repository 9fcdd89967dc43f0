"""Stage 2, ink: a picture's grey levels to clean ink, bright on dark, labelled in blobs.

Polarity (pen on paper or chalk on a board, `polarity.py`), transparency (drawing canvases), uneven lighting
and paper texture (`lighting.py`), pixel noise, regions beyond the paper, and ruled lines (`ruling.py`)
are dealt with here, before digits are looked for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from digitlib.preprocess.decode import Picture, reduce_size
from digitlib.preprocess.lighting import GRAINY_SIDE, SHADOW_PENS, flatten_background, through_the_grain
from digitlib.preprocess.polarity import dark_on_light, digital_polarity
from digitlib.preprocess.ruling import drop_ruled_lines
from digitlib.preprocess.strokes import MIN_CONTRAST, MIN_SIGNAL_TO_NOISE, median, noise_level, stroke_width, thickest

# Lighting is followed as closely as the pen allows (`lighting.py`), shadows too:
THIN_SHARE = 0.25  # the pen of the thinner quarter of the strokes' cores, so a shadow taken for ink can't widen it...
SHADOW_WINDOW = 0.5  # ...when SHADOW_PENS of them are under half the picture; a window wider gains nothing
PEAK_WINDOW = 0.15  # a stroke's core is measured against its own peak, sought this far (of the picture's shorter
# side) around: wider than a stroke, narrower than a pen's pressure changes along a digit
# What counts as ink
STROKE_START, STROKE_EXTENT = 0.5, 0.25  # hysteresis, of the ink's strength: cores; faint ends, but not noise
PAPER_SHARE = 0.25  # a photo's ink stands MIN_SIGNAL_TO_NOISE deviations clear of its paper's level, a quarter of
# the way up the flattened picture (the lighting estimate lies below a noisy page, whose grain then stands above zero;
# strokes never cover three quarters of a picture, even a bold digit's cropped tight), and of the noise as flattening
# left it when more (dividing by dark paper strengthens it)
GRAINY = 20.0  # ink fewer noise deviations than this clear of the paper is seen through the grain (GRAINY_SIDE);
# cleaner ink is not (a blur joins close digits)
DUST_FRACTION = 0.01  # blobs under 1% of the largest blob's area are dust: never worth a closer look (grainy photos)
MIN_REGION_SIDE = 64  # in a smaller picture (a crop a few pens across) a digit's stroke is as thick as any region
EDGE_REGION_THICKNESS = 3.0  # a blob entering at the picture's edge this many pens thick is a table, hand or shadow
LONE_REGION_SHARE = 0.4  # ...or, with no other ink, this thick for the picture (a bold digit cropped tight: 0.22)
DOT_FILL = 0.7  # a blob filling this much of its squarish box is a dot (a disc fills 0.79): no pen to compare with
EDGE_BAND = 2 * EDGE_REGION_THICKNESS  # ...there, within this many pens of the edge: digits joined to the edge by a
# squared paper's thin line are as thick as their pen there
MAX_INK_FRACTION = 0.5  # strokes' cores never cover half the picture (a bold digit cropped tight comes close, its
# blurred fringe beyond): that is noise or a photo of a surface


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """Luminance in [0, 1].  Transparent pixels (drawing canvases) become a backdrop contrasting with the strokes."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        return pixels
    colour, alpha = (pixels[..., :-1], pixels[..., -1]) if pixels.shape[2] in (2, 4) else (pixels, None)
    grey = colour[..., 0] if colour.shape[2] == 1 else colour @ np.array([0.299, 0.587, 0.114], np.float32)
    if alpha is None or alpha.min() > 0.98:
        return grey
    return over_backdrop(grey * alpha, alpha)


def over_backdrop(premultiplied: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite grey strokes (premultiplied by their alpha) over white, or over black when the strokes are light."""
    coverage = alpha.sum()
    strokes_are_light = coverage > 0 and premultiplied.sum() / coverage > 0.5
    return premultiplied if strokes_are_light else premultiplied + (1.0 - alpha)


def grey_at(picture: Picture, max_side: int) -> np.ndarray:
    """The picture's luminance (`to_grey`) as float32 in [0, 1], its longer side at most ``max_side``.

    An 8-bit picture is made grey and shrunk by OpenCV in uint8 (averaging whole blocks of pixels),
    one band at a time, before it is converted to float: no float copy of the full picture is made.
    Transparency is shrunk premultiplied (transparent pixels lend no colour) and composited small;
    a drawing in one colour (a canvas: black strokes on transparent black) is its alpha band alone.
    """
    if picture.dtype != np.uint8:
        return reduce_size(to_grey(picture), max_side)
    factor = -(-max(picture.shape[:2]) // max_side)
    if picture.ndim == 2:
        return shrink(picture, factor)
    grey = cv2.cvtColor(picture, cv2.COLOR_RGBA2GRAY if picture.shape[2] == 4 else cv2.COLOR_RGB2GRAY)
    alpha = cv2.extractChannel(picture, 3) if picture.shape[2] == 4 else None
    if alpha is None or cv2.minMaxLoc(alpha)[0] > 250:
        return shrink(grey, factor)
    darkest, lightest = cv2.minMaxLoc(grey)[:2]
    coverage = shrink(alpha, factor)
    if darkest == lightest:  # one colour: `over_backdrop` worked out, without the sums
        colour = darkest / 255
        return coverage * np.float32(colour) if colour > 0.5 else 1 - coverage * np.float32(1 - colour)
    return over_backdrop(shrink(cv2.multiply(grey, alpha, scale=1 / 255), factor), coverage)


def shrink(band: np.ndarray, factor: int) -> np.ndarray:
    """A uint8 band averaged over whole factor x factor blocks, as float32 in [0, 1].

    A sliver narrower than a block at the right or bottom edge is left out: averaging whole
    blocks is OpenCV's fast path, two to three times quicker than resizing by a fractional factor.
    (Boxes mapped back to the picture may then sit up to one block short of its far edges.)
    """
    if factor > 1:
        height, width = band.shape
        rows = height - height % factor if height >= factor else height
        columns = width - width % factor if width >= factor else width
        size = (max(1, columns // factor), max(1, rows // factor))
        band = cv2.resize(band[:rows, :columns], size, interpolation=cv2.INTER_AREA)
    return band.astype(np.float32) * np.float32(1 / 255)


def stroke_cores(flat: np.ndarray, blobs: np.ndarray, strength: float) -> np.ndarray:
    """Where the ink's blobs reach half their own peak nearby (PEAK_WINDOW), near ink at half the strongest: the
    strokes' cores, whose width is the pen.  Half the strongest stroke's level would leave a blurred photo of a pen
    pressed unevenly only specks a pixel wide, and lighting followed that closely takes its strokes' bodies away;
    faint lines far from any strong ink (a squared paper's grid) have peaks of their own but are no strokes."""
    side = max(3, round(PEAK_WINDOW * min(flat.shape)))
    peak = cv2.dilate(flat, np.ones((side, side), np.uint8))
    return blobs & (flat > STROKE_START * peak) & (peak > STROKE_START * strength)


def pen_width(cores: np.ndarray) -> float:
    """The pen of the thinner strokes' cores (THIN_SHARE), ruled lines left out.  The cores are opened by 2x2 first:
    the ragged rim of textured strokes and grains of paper would pass for a pen one pixel wide (a hairline drawing,
    which the opening erases, is measured as it is)."""
    cores = drop_ruled_lines(cores)
    opened = cv2.morphologyEx(cores.view(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)).view(bool)
    return stroke_width(opened if opened.any() else cores, THIN_SHARE)


def robust_max(image: np.ndarray) -> float:
    """The brightest level reached by two neighbouring pixels (across or down): a lone hot pixel does not count."""
    across = np.minimum(image[:, 1:], image[:, :-1]).max(initial=0.0)
    down = np.minimum(image[1:], image[:-1]).max(initial=0.0)
    return float(max(across, down))


def ink_blobs(flat: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Where the ink is, as numbered blobs (`label_blobs`: labels and each one's box and area, both 0 for
    weak ink that is no stroke), and how strong it is (0 when there is none).

    Hysteresis threshold: pixels at half the ink's strength start strokes, connected pixels down
    to a quarter of it complete them (faint ends of pen strokes), while paper noise below that never
    counts.  Lone noisy pixels cannot set the ink's strength (`robust_max`); ink that does not
    stand well clear of the paper and its noise is no ink (a photo of a blank page, pure noise).  The blobs
    of weak ink that hold a seed are the ink's blobs: labelling once serves both.
    """
    strength, paper = robust_max(flat), 0.0
    if noise:  # a photo (a digital drawing's ground is exact): its paper's level and noise after flattening
        rows = flat[:: max(1, flat.shape[0] // 64)]  # a sample of rows, as `noise_level` takes, is enough
        paper, noise = median(rows, PAPER_SHARE), max(noise, noise_level(flat))
    if strength - paper < max(MIN_CONTRAST, MIN_SIGNAL_TO_NOISE * noise):
        return *label_blobs(np.zeros(flat.shape, dtype=bool)), 0.0
    labels, blobs = label_blobs(flat > STROKE_EXTENT * strength)
    seeded = np.zeros(len(blobs), dtype=bool)
    seeded[labels[flat > STROKE_START * strength]] = True
    if not seeded[1:].all():
        labels = labels * seeded[labels]
        blobs[~seeded, cv2.CC_STAT_AREA] = 0
    return labels, blobs, strength


def edge_regions(labels: np.ndarray, blobs: np.ndarray) -> np.ndarray:
    """Per blob number, True for what lies beyond the paper: a table, a hand, a shadow's edge.

    Such a region enters the picture at its edge and near it (EDGE_BAND) is far thicker than the pen that
    wrote the rest of the ink (EDGE_REGION_THICKNESS).  A tightly cropped digit touches the edges
    too, but with strokes as thick as the others'; with nothing else to compare, only a region filling
    much of the picture (LONE_REGION_SHARE) tells itself, and in a picture too small to show paper and
    what lies beyond it (MIN_REGION_SIDE) nothing is a region.
    """
    height, width = labels.shape
    x, y, w, h, area = (blobs[:, i] for i in range(5))
    regions = np.zeros(len(blobs), dtype=bool)
    candidates = (area >= max(1, DUST_FRACTION * area.max(initial=0))) & (
        (x == 0) | (y == 0) | (x + w == width) | (y + h == height)
    )
    dots = (area >= DOT_FILL * w * h) & (np.maximum(w, h) <= 2 * np.minimum(w, h))
    rest = (area > 0) & ~candidates & ~dots
    if not candidates.any() or min(height, width) < MIN_REGION_SIDE:
        return regions
    lone = not rest.any()  # all the ink enters at the edge: only a region far thicker than any stroke tells itself
    pen = 1.0 if lone else max(1.0, stroke_width(rest[labels]))
    band = EDGE_BAND * pen
    for i in np.flatnonzero(candidates):
        own = labels[y[i] : y[i] + h[i], x[i] : x[i] + w[i]] == i
        if lone:
            regions[i] = thickest(own) > LONE_REGION_SHARE * min(height, width)
            continue
        rows, columns = np.arange(y[i], y[i] + h[i]), np.arange(x[i], x[i] + w[i])
        near_edge = (np.minimum(rows, height - 1 - rows) < band)[:, None] | (
            np.minimum(columns, width - 1 - columns) < band
        )[None, :]
        regions[i] = thickest(own, near_edge) > EDGE_REGION_THICKNESS * pen
    return regions


def without_regions(flat: np.ndarray, labels: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """The ink with the regions beyond the paper removed, their fainter rims included.

    The rims lie below the threshold that the regions' own strength set; once the regions are gone
    that threshold falls to the strokes' level, and the rims would become blobs of their own.
    """
    region = regions[labels]
    strength = robust_max(np.where(region, 0.0, flat))
    rims, _ = label_blobs(drop_ruled_lines(flat > STROKE_EXTENT * strength))  # a line would join digits to a rim
    touched = np.zeros(int(rims.max(initial=0)) + 1, dtype=bool)
    touched[rims[region]] = True
    touched[0] = False
    return np.where(touched[rims] | region, 0.0, flat).astype(np.float32)


def label_blobs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected blobs (a stroke drawn diagonally is one blob): each pixel's blob number (0: none), and
    per number its box and area, one row of OpenCV's x, y, width, height, area (row 0 has area 0)."""
    _, labels, blobs, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    blobs[0, cv2.CC_STAT_AREA] = 0
    return labels, blobs


# ---------------------------------------------------------------- the stage


@dataclass
class Ink:
    """A picture reduced to clean ink: the stages before digits are looked for."""

    size: tuple[int, int]  # (width, height) of the upright original
    grey: np.ndarray  # the picture in grey at the size it was read (`locate_digits`)
    ink: np.ndarray  # bright ink on dark
    flat: np.ndarray  # ink with the background removed
    labels: np.ndarray  # the ink's blobs, numbered (`label_blobs`); 0 where there is no ink
    blobs: np.ndarray  # per blob number: box and area (`label_blobs`)
    strength: float  # ink level of full-strength strokes in `flat` (0: no ink)
    noise: float = 0.0  # the pixel noise's standard deviation in `ink` (a digital drawing has none)
    dark_ink: bool = True  # the polarity read: pen on paper (or chalk on a board)

    @property
    def mask(self) -> np.ndarray:
        return self.labels > 0

    @property
    def stands_clear(self) -> bool:
        """Plain strokes: ink GRAINY noise deviations clear of the paper, as a blank page's grain and texture never
        are, nor lighting or paper taken for ink in the wrong polarity."""
        return self.strength >= GRAINY * self.noise and self.strength > 0


def extract_ink(grey: np.ndarray, size: tuple[int, int], dark_ink: bool | None = None) -> Ink:
    """Polarity (judged, unless `dark_ink` says it), background removal, threshold, ruled lines: the steps before
    digits are looked for."""
    digital = digital_polarity(grey)
    if dark_ink is not None and dark_ink != digital:  # told: read as a photo of that polarity
        return finished_ink(*photo_ink(grey, size, dark_ink))
    if digital is not None:  # one exact ground level: subtracted, no lighting to model and no noise to measure
        ink = 1.0 - grey if digital else grey
        floor = ink.min()
        flat = (ink - floor) / max(1.0 - floor, 0.1) if digital else ink - floor
        labels, blobs, strength = ink_blobs(flat, 0.0)
        mask = labels > 0
        unruled = without_ruled_lines(mask, labels, blobs)
        # ...unless a region lies beyond the paper: an overexposed photo's paper is all at the lightest level too,
        # and the shadow across it is lighting to follow, as in any photo
        if not edge_regions(*unruled).any():
            return finished_ink(Ink(size, grey, ink, flat, *unruled, strength, 0.0, digital), mask)
    reflective = dark_on_light(grey) if digital is None else digital
    ink, mask = photo_ink(grey, size, reflective)
    # Strokes never cover the picture (a dark board in a light frame), and ink is never nothing when the other
    # polarity shows plain strokes, far clear of the noise (a fine pen on a small white sheet, whose paper between the
    # strokes looks like light lines on a darker page; a blank page's grain and texture are not): the polarity was
    # misjudged
    if not ink.strength or covers_the_picture(ink, mask):
        flipped, flipped_mask = photo_ink(grey, size, not reflective)
        plain = flipped.stands_clear or bool(ink.strength and flipped.strength)
        if plain and not covers_the_picture(flipped, flipped_mask):
            return flipped
    return finished_ink(ink, mask)


def photo_ink(grey: np.ndarray, size: tuple[int, int], reflective: bool) -> tuple[Ink, np.ndarray]:
    """The ink of a photo or scan of the given polarity, lighting followed and regions beyond the paper removed, and
    the mask of its blobs before ruled lines were dropped (`finished_ink`)."""
    ink = 1.0 - grey if reflective else grey
    flat, noise = flatten_background(ink, reflective), noise_level(ink)
    labels, blobs, strength = ink_blobs(flat, noise)
    if strength < GRAINY * noise and min(ink.shape) >= GRAINY_SIDE:  # a grainy photo (`lighting.through_the_grain`)
        smooth, smooth_flat, less = through_the_grain(ink, reflective, noise)
        if (seen := ink_blobs(smooth_flat, less))[2] >= GRAINY * less:  # noise alone, blurred, stands no clearer
            ink, flat, noise, (labels, blobs, strength) = smooth, smooth_flat, less, seen
    # The pen of the thinner strokes' cores (SHADOW_PENS), ruled lines left out: they are thinner than any pen
    # (no ink at all: no pen to measure, and a blank picture's noise is not worth a second look)
    pen = pen_width(stroke_cores(flat, labels > 0, strength)) if strength else 0.0
    if 0 < SHADOW_PENS * pen < SHADOW_WINDOW * min(ink.shape):  # a fine pen: lighting followed closer, shadows too
        flat = flatten_background(ink, reflective, pen)
        labels, blobs, strength = ink_blobs(flat, noise)
    # Regions are told on the ink without its ruled lines: a line through the digits joins them to the picture's
    # edge, and where a stroke crosses it the ink is thick enough to pass for a shadow
    mask = labels > 0
    unruled = without_ruled_lines(mask, labels, blobs)
    if (regions := edge_regions(*unruled)).any():  # strength judged without them: again
        flat = without_regions(flat, unruled[0], regions)
        labels, blobs, strength = ink_blobs(flat, noise)
        mask = labels > 0
        unruled = without_ruled_lines(mask, labels, blobs)
    return Ink(size, grey, ink, flat, *unruled, strength, noise, reflective), mask


def without_ruled_lines(mask: np.ndarray, labels: np.ndarray, blobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The blobs (labels, boxes) of the ink without its ruled lines: the rest falls into new blobs; the same blobs
    when there are no lines."""
    lined = drop_ruled_lines(mask)
    return (labels, blobs) if lined is mask else label_blobs(lined)


def covers_the_picture(ink: Ink, mask: np.ndarray) -> bool:
    """True when the cores of ``mask`` (the ink's blobs before ruled lines were dropped) cover more of the picture
    than strokes ever do (MAX_INK_FRACTION)."""
    return np.count_nonzero(mask & (ink.flat > STROKE_START * ink.strength)) > MAX_INK_FRACTION * mask.size


def finished_ink(ink: Ink, mask: np.ndarray) -> Ink:
    """The ink, or none when it covers the picture (`covers_the_picture`)."""
    if covers_the_picture(ink, mask):
        labels, blobs = label_blobs(np.zeros_like(mask))
        return replace(ink, labels=labels, blobs=blobs, strength=0.0)
    return ink
