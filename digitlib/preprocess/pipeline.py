"""The stages run in order: decode, ink, find digits, MNIST format; every intermediate image kept for display."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from digitlib.preprocess.decode import MAX_SIDE, Picture, load_picture
from digitlib.preprocess.digits import Segment, digit_crop, locate_digits, member_mask
from digitlib.preprocess.ink import Ink, grey_at
from digitlib.preprocess.mnist_format import CANVAS, to_mnist_digit


@dataclass
class Segmentation:
    """The digits found in a picture, left to right, and how they were found."""

    segments: list[Segment]
    size: tuple[int, int]  # (width, height) of the upright original picture
    upright: Picture = field(repr=False)  # the picture as it was read
    ink: Ink = field(repr=False)
    kept: list[int] = field(repr=False)  # the ink blobs that became digits

    @cached_property
    def steps(self) -> dict[str, np.ndarray]:
        """Named intermediate images in pipeline order, for display; made on first use (reading needs none)."""
        ink = self.ink
        return {"upright": self.upright, "grey": ink.grey, "ink": ink.ink, "flattened": ink.flat,
                "mask": ink.mask, "cleaned": ink.flat * member_mask(ink.labels, self.kept)}


def segment(source) -> Segmentation:
    """Find every digit in a picture, left to right, each in MNIST format with its box in the original."""
    picture, size = load_picture(source)
    ink, marks = locate_digits(picture, size)
    scale_x, scale_y = ink.size[0] / ink.grey.shape[1], ink.size[1] / ink.grey.shape[0]
    segments, digits = [], []
    for mark in marks:
        crop = digit_crop(ink, mark)
        image = to_mnist_digit(crop)
        if image is not None:
            digits.append(mark)
            box = (round(mark.x0 * scale_x), round(mark.y0 * scale_y),
                   round(mark.x1 * scale_x), round(mark.y1 * scale_y))
            segments.append(Segment(image, box, crop))
    return Segmentation(segments, ink.size, picture, ink, [label for d in digits for label in d.labels])


def to_mnist(source) -> np.ndarray:
    """Any image source -> one (28, 28) float32 MNIST-format image of all the ink in it, taken as one digit.

    Blank when there is no digit.  For pictures that may hold several digits use `segment` (or
    `digitlib.read_number`).
    """
    ink, marks = locate_digits(*load_picture(source))
    whole = marks[0] if marks else None
    for mark in marks[1:]:
        whole = whole.merged(mark)
    image = to_mnist_digit(digit_crop(ink, whole)) if whole else None
    return np.zeros((CANVAS, CANVAS), dtype=np.float32) if image is None else image


def load_grey(source) -> np.ndarray:
    """Any supported source -> its upright luminance at most MAX_SIDE (`grey_at`)."""
    return grey_at(load_picture(source)[0], MAX_SIDE)
