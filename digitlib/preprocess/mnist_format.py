"""Stage 4, MNIST format: one digit's ink to the 28x28 image the network reads.

MNIST recipe (LeCun et al.): white ink on black, each digit fitted into 20x20 keeping its aspect
ratio with anti-aliasing, then placed in 28x28 so that its centre of mass is at the centre.  Pens
far thinner and brushes far thicker than MNIST's are first brought to its stroke width.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitlib.preprocess.decode import resize
from digitlib.preprocess.strokes import median, stroke_width

BOX, CANVAS = 20, 28  # MNIST: digit fitted into 20x20, centred in 28x28
DETAIL = 4  # stroke widths are measured and normalised at 4x the final 20x20 resolution
# MNIST's pen width in pixels of the 20x20 box, measured by `stroke_width` on 1000 training digits:
# median 2.25, 10th percentile 1.55, 90th 3.25.  Strokes outside that range are brought to the median.
TARGET_STROKE, MIN_STROKE, MAX_STROKE = 2.25, 1.5, 3.3
# MNIST's ink is saturated: in the median training digit the brightest 30% of the inked pixels are at full
# strength (its 70th percentile is 0.99 of 1000 digits' median).  A photo's strokes are not: lighter where the pen
# pressed less or the focus was soft, and scaled to their brightest pixel the lighter parts of a digit (a blurred
# 9's loop) fade for the network.  Scaled so that this share reaches full strength, they look like MNIST's.
SATURATED_SHARE = 0.3
MIN_LENGTH_TO_WIDTH = 2.5  # a digit is a stroke several times longer than it is wide; a dot is not
FULL_STRENGTH = 0.5  # a 28x28 image with no pixel this bright holds no stroke: never classified (`holds_ink`)


def disk(radius: int) -> np.ndarray:
    """A round footprint: a pen's tip, the same in every direction."""
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


def to_detail(crop: np.ndarray) -> np.ndarray:
    """The digit scaled (aspect kept) so its longer side is DETAIL x 20 px: fine enough to reshape strokes."""
    height, width = crop.shape
    scale = BOX * DETAIL / max(height, width)
    return resize(crop, (max(1, round(width * scale)), max(1, round(height * scale))))


def normalise_stroke_width(detail: np.ndarray, width: float) -> np.ndarray:
    """Thicken hairlines and thin heavy brushes towards MNIST's pen width.

    The network was trained on MNIST's ~2.25 px strokes: a 1 px pen on a large drawing would
    shrink to a faint trace, a 30 px brush on a small one to a blob.  At DETAIL times the final
    resolution a grey dilation or erosion by a disk changes the width in fine steps.
    """
    width /= DETAIL
    if MIN_STROKE <= width <= MAX_STROKE:
        return detail
    radius = round(abs(TARGET_STROKE - width) * DETAIL / 2)
    if not radius:
        return detail
    # OpenCV's min/max over the disk with SciPy's border (reflect) is SciPy's grey erosion/dilation, value for
    # value, at a tenth of its cost: a number's candidate digits each pass through here.
    operation = cv2.dilate if width < MIN_STROKE else cv2.erode
    return operation(detail, disk(radius).astype(np.uint8), borderType=cv2.BORDER_REFLECT)


def fit_box(detail: np.ndarray) -> np.ndarray:
    """Anti-aliased reduction to the 20x20 box, the strongest SATURATED_SHARE of the inked pixels at full
    strength (1.0), as in MNIST."""
    size = (max(1, round(detail.shape[1] / DETAIL)), max(1, round(detail.shape[0] / DETAIL)))
    small = resize(detail, size)
    inked = small[small > 0]
    top = median(inked, 1.0 - SATURATED_SHARE) if inked.size else 0.0
    return np.minimum(small * np.float32(1 / top), 1.0) if top > 0 else small


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place the fitted digit (values in [0, 1]) in 28x28 with its centre of mass at the centre (whole-pixel
    shift, no blur).

    OpenCV takes an array exactly two columns wide for a list of points: a straight stroke fitted
    two pixels wide had no mass and came out blank.  An empty third column changes no moment.
    """
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    moments = cv2.moments(np.pad(digit, ((0, 0), (0, 1))) if digit.shape[1] == 2 else digit)
    if moments["m00"] <= 0:
        return canvas
    height, width = digit.shape
    top = min(max(round((CANVAS - 1) / 2 - moments["m01"] / moments["m00"]), 0), CANVAS - height)
    left = min(max(round((CANVAS - 1) / 2 - moments["m10"] / moments["m00"]), 0), CANVAS - width)
    canvas[top : top + height, left : left + width] = digit
    return canvas


def to_mnist_digit(crop: np.ndarray) -> np.ndarray | None:
    """One digit's ink, cropped tight (`digit_crop`, `trim`) -> (28, 28) MNIST format; None when it is a dot
    rather than a stroke, or when no ink reached the 28x28 image (nothing there to classify)."""
    detail = to_detail(crop)
    width = stroke_width(detail > 0.5)
    if width <= 0 or BOX * DETAIL < MIN_LENGTH_TO_WIDTH * width:
        return None
    image = centre_by_mass(fit_box(normalise_stroke_width(detail, width)))
    return image if holds_ink(image) else None


def holds_ink(image: np.ndarray) -> bool:
    """True when a 28x28 digit image shows a stroke: some pixel at MNIST's full-strength level.

    The guard against classifying a blank (a network reads "1" in an empty image): whatever went
    wrong upstream, an image without a full-strength stroke is never shown to the model.
    """
    return float(image.max(initial=0.0)) >= FULL_STRENGTH
