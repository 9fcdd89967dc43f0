"""What every stage measures: stroke geometry on an ink mask (how wide the pen is, how thick a region), the pixel
noise, and how far ink must stand from its ground."""

from __future__ import annotations

import cv2
import numpy as np

MIN_CONTRAST = 0.08  # ink must differ from the background by 8% of full scale, else a blank page reads as a digit...
MIN_SIGNAL_TO_NOISE = 4.0  # ...and by four standard deviations of the pixel noise, else sensor noise does


def median(values: np.ndarray, share: float = 0.5) -> float:
    """The middle value (the upper one of an even count), or the one `share` of the way up: a partial sort,
    several times cheaper than np.median on the small arrays here, where its overhead dominates."""
    values = values.ravel()
    middle = min(int(values.size * share), values.size - 1)
    return float(np.partition(values, middle)[middle])


def stroke_width(mask: np.ndarray, share: float = 0.5) -> float:
    """Pen width in pixels: twice the distance-to-background along the strokes' centre lines, minus one; the
    median, or the width that `share` of the centre lines stay under."""
    if not mask.any():
        return 0.0
    distance = distance_inside(mask)
    rows = np.maximum(np.maximum(distance[:-2], distance[1:-1]), distance[2:])  # 3x3 maximum by shifted views,
    around = np.maximum(np.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])  # a tenth of maximum_filter's cost
    centre = distance[1:-1, 1:-1]
    return 2.0 * median(centre[mask & (centre >= around)], share) - 1.0


def thickest(mask: np.ndarray, within: np.ndarray | None = None) -> float:
    """The widest disk that fits in the ink, as a width in pixels like `stroke_width`'s: a region's thickness,
    which a ragged outline (many short centre lines) cannot hide.  With `within`, only disks centred there count."""
    distance = distance_inside(mask)[1:-1, 1:-1]
    widest = float(distance[within].max(initial=0.0) if within is not None else distance.max(initial=0.0))
    return max(0.0, 2.0 * widest - 1.0)


def distance_inside(mask: np.ndarray) -> np.ndarray:
    """Each ink pixel's distance to the nearest background pixel, with a one-pixel frame of background around
    the mask (strokes at the edge end there)."""
    padded = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), dtype=np.uint8)
    padded[1:-1, 1:-1] = mask
    return cv2.distanceTransform(padded, cv2.DIST_L2, 5)  # 5x5 chamfer: within 2% of Euclidean, half the cost


def noise_level(image: np.ndarray) -> float:
    """Standard deviation of pixel noise: robust spread (MAD) of differences between neighbours.

    Smooth lighting leaves no difference, and stroke edges cover too few pixels to move the
    median; a sample of rows is enough.
    """
    rows = image[:: max(1, image.shape[0] // 64)]
    differences = (rows[:, 1:] - rows[:, :-1]).ravel()
    return 1.4826 * median(np.abs(differences)) / np.sqrt(2) if differences.size else 0.0
