"""The stages run in order: decode, ink, find digits, MNIST format; every intermediate image kept for display."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from digitlib.preprocess.decode import MAX_SIDE, Picture, load_picture
from digitlib.preprocess.digits import (
    QUICK_SIDE,
    Mark,
    Piece,
    Segment,
    cut_into_pieces,
    digit_crop,
    locate_digits,
    member_mask,
    pieces_crop,
)
from digitlib.preprocess.ink import Ink, grey_at
from digitlib.preprocess.mnist_format import CANVAS, to_mnist_digit


@dataclass
class Segmentation:
    """The ink of a picture in marks, left to right, the pieces digits may be made of, and how they were found."""

    marks: list[Mark]  # blobs of ink, strokes above one another merged; dashes level with the digits included
    size: tuple[int, int]  # (width, height) of the upright original picture
    upright: Picture = field(repr=False)  # the picture as it was read
    ink: Ink = field(repr=False)

    @cached_property
    def pieces(self) -> list[Piece]:
        """The marks, wide ones cut at their necks, left to right (`cut_into_pieces`)."""
        return cut_into_pieces(self.ink, self.marks)

    @property
    def at_a_glance(self) -> bool:
        """Read at the first look's coarse size (`locate_digits`), not the picture's full working size."""
        return max(self.ink.grey.shape) <= QUICK_SIDE < max(self.upright.shape[:2])

    def to_original(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A box at working size in pixels of the upright original picture."""
        scale_x, scale_y = self.ink.size[0] / self.ink.grey.shape[1], self.ink.size[1] / self.ink.grey.shape[0]
        x0, y0, x1, y1 = box
        return round(x0 * scale_x), round(y0 * scale_y), round(x1 * scale_x), round(y1 * scale_y)

    def candidate(self, pieces: list[Piece]) -> tuple[Segment, tuple[int, int, int, int]] | None:
        """Some pieces taken as one digit, in MNIST format, with its box at working size; None when they make no
        stroke (a dot)."""
        crop, box = pieces_crop(self.ink, pieces)
        image = to_mnist_digit(crop)
        return None if image is None else (Segment(image, self.to_original(box), crop), box)

    @cached_property
    def segments(self) -> list[Segment]:
        """Each mark that may be a digit by itself, in MNIST format (dashes and dots left out)."""
        found = (self.candidate([Piece(m, m.x0, m.x1)]) for m in self.marks if not m.is_dash)
        return [f[0] for f in found if f is not None]

    def whole_digit(self) -> np.ndarray | None:
        """All the marks taken as one digit, in MNIST format (`to_mnist_digit`); None when there are none."""
        if not self.marks:
            return None
        whole = self.marks[0]
        for mark in self.marks[1:]:
            whole = whole.merged(mark)
        return to_mnist_digit(digit_crop(self.ink, whole))

    def closer(self) -> Segmentation:
        """The same picture looked at closer, at its full working size (`locate_digits`)."""
        return segmentation_of(self.upright, self.size, closer=True)

    def in_the_other_polarity(self) -> Segmentation | None:
        """The same picture looked at closer in the other polarity, when its ink there stands clear
        (`Ink.stands_clear`): a bold digit on paper lit from one side shows only so.  None when no ink showed here."""
        if not self.ink.strength:
            return None
        other = segmentation_of(self.upright, self.size, closer=True, dark_ink=not self.ink.dark_ink)
        return other if other.ink.stands_clear else None

    @cached_property
    def steps(self) -> dict[str, np.ndarray]:
        """Named intermediate images in pipeline order, for display; made on first use (reading needs none)."""
        ink = self.ink
        kept = [label for m in self.marks for label in m.labels]
        return {
            "upright": self.upright,
            "grey": ink.grey,
            "ink": ink.ink,
            "flattened": ink.flat,
            "mask": ink.mask,
            "cleaned": ink.flat * member_mask(ink.labels, kept),
        }


def segment(source, closer: bool = False, dark_ink: bool | None = None) -> Segmentation:
    """Find the ink of every digit in a picture: marks left to right, and the pieces digits may be made of (at full
    working size when `closer`, else first at a glance, `locate_digits`; the polarity judged unless `dark_ink` says
    it)."""
    return segmentation_of(*load_picture(source), closer, dark_ink)


def segmentation_of(
    picture: Picture, size: tuple[int, int], closer: bool = False, dark_ink: bool | None = None
) -> Segmentation:
    """`segment` of a picture already decoded (`load_picture`)."""
    ink, marks = locate_digits(picture, size, closer, dark_ink)
    return Segmentation(marks, ink.size, picture, ink)


def to_mnist(source) -> np.ndarray:
    """Any image source -> one (28, 28) float32 MNIST-format image of all the ink in it, taken as one digit.

    Blank when there is no digit.  For pictures that may hold several digits use `segment` (or
    `digitlib.read_number`).
    """
    segmentation = segment(source)
    image = segmentation.whole_digit()
    if image is None and (other := segmentation.in_the_other_polarity()):  # as in `read_number`
        image = other.whole_digit()
    return np.zeros((CANVAS, CANVAS), dtype=np.float32) if image is None else image


def load_grey(source) -> np.ndarray:
    """Any supported source -> its upright luminance at most MAX_SIDE (`grey_at`)."""
    return grey_at(load_picture(source)[0], MAX_SIDE)
