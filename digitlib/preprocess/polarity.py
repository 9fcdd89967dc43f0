"""Polarity: pen on paper or chalk on a board, judged before any ink is looked for.

A stroke is a thin line departing from the ground around it; lighting, the edges of the paper and shadows are not.
Which side's thin lines lead decides; a digital drawing (an exact ground) tells itself by counting.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from digitlib.preprocess.lighting import GRAINY_SIDE, blurred
from digitlib.preprocess.strokes import MIN_CONTRAST, MIN_SIGNAL_TO_NOISE, noise_level

DIGITAL_GROUND = 0.5  # half the pixels at exactly the lightest (darkest) level: a digital drawing, no lighting to model
POLARITY_SIDE = 128  # polarity is judged on a copy this size (4x when unclear): strokes show, filters cost little
POLARITY_MARGIN = 2.0  # thin lines on one side must be this much stronger to decide; else a thick brush may fool it
WEAK_POLARITY_MARGIN = 1.2  # ...or this much when the border can't tell either: its middle half spans more than
SPLIT_BORDER = 0.15  # this much of full scale, a hard shadow's edge crossing it (`shadow_splits_border`)
STRONGEST_LINES = 100  # the strongest pixel in 100 of thin lines: a number's strokes cover more, an artefact less...
FINEST_LINES = 1000  # ...overturned by the strongest in 1,000: a fine pen on a small sheet in a wide photo covers less,
# and the sheet's paper between the strokes, lighter than the desk, passes for light lines at 1 in 100 (the slivers of
# paper beside a bold 1 cropped tight pass for light lines at 1 in 1,000: alone, that count decides nothing)
FAINTEST_LINE = 0.01  # ...but lines within 1% of full scale of their ground, such as the filters see where a smooth
# lighting gradient meets the picture's edge, decide nothing even in a noise-free picture


def border_ring(image: np.ndarray) -> np.ndarray:
    """The pixels along the edges: background in almost any picture of a digit."""
    width = max(1, min(image.shape) // 20)
    return np.concatenate(
        [image[:width].ravel(), image[-width:].ravel(), image[:, :width].ravel(), image[:, -width:].ravel()]
    )


def dark_on_light(grey: np.ndarray) -> bool:
    """True for pen on paper, False for chalk-style light strokes on a dark ground.

    A stroke is a thin line that departs from the ground around it (`thin_extremes`); lighting is
    neither thin nor a line: a vignetted photo's dark corners and the edges of the paper or of a
    shadow are no ink.  When neither side clearly dominates (a brush so thick that it is no thin
    line at this scale), the background is the border's median and the ink whichever extreme lies
    farther from it; unless a shadow splits the border, when the thin lines' lead decides after all, or the extremes
    lie about as far on either side (a light pen in a grainy photo lit from one side), when the lines seen through
    the grain decide first.  A fine pen's strokes cover little of a wide photo: the very strongest lines
    (FINEST_LINES) may overturn the judgement.
    """
    looks = []
    for side in (POLARITY_SIDE, POLARITY_SIDE * 4):  # small writing in a large photo shows only when closer
        lines, finest, noise = thin_extremes(grey, side)
        floor = lines_floor(noise)
        if (dark_lead := leads(*lines, POLARITY_MARGIN, floor)) is not None:
            finer = leads(*finest, POLARITY_MARGIN, floor)  # may overturn it, never decide alone (FINEST_LINES)
            return dark_lead if finer is None else finer
        looks.append((side, *lines, noise))
        if side >= max(grey.shape):
            break
    lower, background, upper = np.percentile(border_ring(grey), [25, 50, 75])
    if upper - lower > SPLIT_BORDER and shadow_splits_border(grey, (lower + upper) / 2):
        for _, dark, light, noise in looks:
            floor = max(MIN_SIGNAL_TO_NOISE * noise, FAINTEST_LINE)
            if (dark_lead := leads(dark, light, WEAK_POLARITY_MARGIN, floor)) is not None:
                return dark_lead
    extremes = background - float(grey.min()), float(grey.max()) - background
    if leads(*extremes, WEAK_POLARITY_MARGIN, 0.0) is None:  # as far either side: the lighting's and the grain's
        if (seen := lines_through_the_grain(grey, looks)) is not None:
            return seen
    return extremes[0] > extremes[1]


def lines_through_the_grain(grey: np.ndarray, looks: list[tuple[int, float, float, float]]) -> bool | None:
    """The thin lines' clear lead in the looks (side, dark, light, noise) of a grainy picture, seen through a slight
    blur (`thin_extremes`): a light pen's strokes then stand clear of the noise, which had hidden their lead.  None
    when the picture shows no grain or no clear lead, or is a crop under GRAINY_SIDE, as `lighting.through_the_grain`
    never blurs: there the paper beside a bold stroke, smoothed, passes for light lines."""
    if min(grey.shape) < GRAINY_SIDE:
        return None
    for side, _, _, noise in looks:
        if MIN_SIGNAL_TO_NOISE * noise > MIN_CONTRAST / 2:  # grain to see through
            lines, _, less = thin_extremes(grey, side, smooth=True)
            if (dark_lead := leads(*lines, POLARITY_MARGIN, lines_floor(less))) is not None:
                return dark_lead
    return None


def lines_floor(noise: float) -> float:
    """Lines in the noise, or fainter than half an ink's least contrast (a page's rounding), decide nothing."""
    return max(MIN_SIGNAL_TO_NOISE * noise, MIN_CONTRAST / 2)


def leads(dark: float, light: float, margin: float, floor: float) -> bool | None:
    """Whether the dark lines lead (True) or the light ones (False), by `margin` times the other and above `floor`;
    None when neither does."""
    return dark > light if max(dark, light) > max(margin * min(dark, light), floor) else None


def shadow_splits_border(grey: np.ndarray, level: float) -> bool:
    """True when the picture's edge, followed all round, is darker than `level` along one stretch and lighter along
    the rest: a shadow's edge crosses it twice.  Strokes cropped tight cross it more often; ruled lines, too thin
    to count, are smoothed away first."""
    edge = np.concatenate([grey[0], grey[:, -1], grey[-1, ::-1], grey[::-1, 0]])
    smooth = ndimage.median_filter(edge, size=max(3, edge.size // 50) | 1, mode="wrap")
    above = smooth > level
    return np.count_nonzero(above != np.roll(above, 1)) == 2


def thin_extremes(
    grey: np.ndarray, side: int = POLARITY_SIDE, smooth: bool = False
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """How far the strongest thin dark and thin light lines depart from their ground, at most `side` px, and the
    pixel noise there (`noise_level`): a difference lost in the noise decides nothing.  With `smooth`, seen through
    a slight blur (`lighting.blurred`).

    A pixel counts by the smaller of two measures: its departure from the local median (a window
    far wider than a pen: it keeps lighting and steps, and the paper between strokes is at the
    median) and the top-hat (a line lies below the closing or above the opening; a step does not).
    """
    height, width = grey.shape
    factor = max(1, max(height, width) // side)
    small = cv2.resize(
        np.asarray(grey, np.float32), (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA
    )
    noise = noise_level(small)
    if smooth:  # seen through the grain, as `lighting.through_the_grain` sees ink
        small, noise = blurred(small, noise)
    side = min(255, max(3, min(small.shape) // 4) | 1)  # OpenCV's median takes odd windows up to 255 on uint8
    level = np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)
    departure = small - cv2.medianBlur(level, side).astype(np.float32) * np.float32(1 / 255)
    window = np.ones((side, side), np.uint8)
    dark = np.minimum(-departure, cv2.morphologyEx(small, cv2.MORPH_BLACKHAT, window)).ravel()
    light = np.minimum(departure, cv2.morphologyEx(small, cv2.MORPH_TOPHAT, window)).ravel()
    (dark_lines, dark_finest), (light_lines, light_finest) = strongest(dark), strongest(light)
    return (dark_lines, light_lines), (dark_finest, light_finest), noise


def strongest(departures: np.ndarray) -> tuple[float, float]:
    """The levels the strongest pixel in STRONGEST_LINES and in FINEST_LINES of the departures reach: one partial
    sort of them all, the second of the strongest alone."""
    count, finest = max(3, departures.size // STRONGEST_LINES), max(3, departures.size // FINEST_LINES)
    top = np.partition(departures, -count)[-count:]
    return float(top[0]), float(np.partition(top, -finest)[-finest])


def digital_polarity(grey: np.ndarray) -> bool | None:
    """For a digital drawing, whether its strokes are dark on a light ground; None for anything else.

    A digital drawing has a ground with no lighting and no noise: half the pixels share exactly the
    lightest (or the darkest) level.  Telling it so costs two counts, not `dark_on_light`'s filters.
    """
    if np.count_nonzero(grey == grey.max()) > DIGITAL_GROUND * grey.size:
        return True
    if np.count_nonzero(grey == grey.min()) > DIGITAL_GROUND * grey.size:
        return False
    return None
