"""Read a whole number from a picture: find the digits, classify each, say how sure we are.

    from digitlib import read_number
    r = read_number("photo.jpg")
    r.text, r.confidence, r.low_confidence, [d.top3 for d in r.digits]
    r.digit                         # the digit when the picture holds exactly one, else None
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from digitlib.preprocess import Segment, Segmentation, segment
from digitlib.preprocess.digits import split_candidates, split_segment
from digitlib.reading.classifier import Classifier, load_classifier
from digitlib.reading.temperature import temper

# A digit read with less (calibrated) probability than this is flagged and the UI offers its top 3.  On held-out
# synthetic numbers (calibrated compact, its card's calibration table) 0.9 flags 82% of the wrong digits and 5.1% of
# the right ones; 0.8 flags only 68% of the wrong ones.
LOW_CONFIDENCE = 0.9
SPLIT_CONFIDENCE = 0.9  # a wide mark is cut into touching digits when both read at least this well...
# ...or better than the mark read whole


def top3(probabilities: np.ndarray) -> list[tuple[int, float]]:
    """The three likeliest digits with their probabilities, likeliest first."""
    order = np.argsort(-probabilities)[:3]
    return [(int(d), float(probabilities[d])) for d in order]


@dataclass
class DigitReading:
    """One digit read: what, how sure, where, and the 28x28 image the network saw."""

    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False)  # (10,) float32, sums to 1
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in pixels of the upright original picture
    image: np.ndarray = field(repr=False)  # (28, 28) float32 in [0, 1]

    @property
    def top3(self) -> list[tuple[int, float]]:
        return top3(self.probabilities)


@dataclass
class Reading:
    """The digits in a picture, left to right, with the preprocessing steps that found them."""

    digits: list[DigitReading]
    segmentation: Segmentation = field(repr=False)  # how the digits were found
    size: tuple[int, int]  # (width, height) of the upright original picture: the frame of the boxes

    @property
    def steps(self) -> dict[str, np.ndarray]:
        """Named intermediate images in pipeline order (`Segmentation.steps`)."""
        return self.segmentation.steps

    @property
    def text(self) -> str:
        return "".join(str(d.digit) for d in self.digits)

    @property
    def confidence(self) -> float:
        """The weakest digit's confidence: a number is only as certain as its least certain digit."""
        return min((d.confidence for d in self.digits), default=0.0)

    @property
    def is_empty(self) -> bool:
        return not self.digits

    @property
    def low_confidence(self) -> bool:
        return any(d.confidence < LOW_CONFIDENCE for d in self.digits)

    @property
    def digit(self) -> int | None:
        """The digit when exactly one was read; None for a number (never reduced to one of its digits) or nothing."""
        return self.digits[0].digit if len(self.digits) == 1 else None

    @property
    def weakest(self) -> DigitReading | None:
        """The least sure digit: its probabilities, image and top 3 speak for the whole reading."""
        return min(self.digits, key=lambda d: d.confidence, default=None)

    @property
    def probabilities(self) -> np.ndarray:
        """The weakest digit's 10 probabilities (uniform when nothing was read)."""
        return self.weakest.probabilities if self.digits else np.full(10, 0.1, np.float32)

    @property
    def image(self) -> np.ndarray:
        """The 28x28 image the network saw for the weakest digit (blank when nothing was read)."""
        return self.weakest.image if self.digits else np.zeros((28, 28), np.float32)

    @property
    def top3(self) -> list[tuple[int, float]]:
        return top3(self.probabilities)


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    """The shipped default model, loaded once per process."""
    return load_classifier()


def read_segment(piece: Segment, classifier: Classifier) -> list[tuple[Segment, np.ndarray]]:
    """Classify one mark; a too-wide one is cut at the neck where both halves read best (touching digits).

    Cuts are judged on the network's own probabilities (SPLIT_CONFIDENCE was set on them), so a model's
    calibration changes how sure a reading says it is, never which digits are found; the caller calibrates.
    """
    probabilities = classifier.predict_prepared(piece.image[None], calibrated=False)[0]
    best, best_score = None, min(float(probabilities.max()), SPLIT_CONFIDENCE)
    for column in split_candidates(piece.crop):
        halves = split_segment(piece, column)
        if halves is None:
            continue
        score = float(classifier.predict_prepared(np.array([h.image for h in halves]), calibrated=False)
                      .max(axis=1).min())
        if score > best_score:
            best, best_score = halves, score
    if best is None:
        return [(piece, probabilities)]
    return [read for half in best for read in read_segment(half, classifier)]


def read_number(image, classifier: Classifier | None = None) -> Reading:
    """Read every digit in a picture (PIL image, numpy array, path or bytes), left to right.

    Raises preprocess.ImageError with a one-line message when the input is not a readable image.
    """
    segmentation = segment(image)
    classifier = classifier or default_classifier()
    found = [read for piece in segmentation.segments for read in read_segment(piece, classifier)]
    calibrated = temper(np.array([p for _, p in found], np.float32).reshape(-1, 10), classifier.temperature)
    digits = [DigitReading(int(p.argmax()), float(p.max()), p, s.box, s.image) for (s, _), p in zip(found, calibrated)]
    return Reading(digits, segmentation, segmentation.size)
