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
from digitlib.preprocess.digits import Piece
from digitlib.reading.classifier import Classifier, load_classifier
from digitlib.reading.temperature import temper

# A digit read with less (calibrated) probability than this is flagged and the UI offers its top 3.  On held-out
# synthetic numbers (the calibrated default model, its card's calibration table) 0.9 flags 73% of the wrong digits
# and 3.8% of the right ones; 0.8 flags only 61% of the wrong ones.
LOW_CONFIDENCE = 0.9
# Which ink makes one digit is chosen by the network: every way of grouping neighbouring pieces into digits is scored
# by the log-probability of each digit read (the network's own, uncalibrated) plus these priors (log-odds units).
MAX_PIECES = 3  # a digit is made of at most this many marks: a 1 broken in three, a 4 in two strokes
DIGIT_COST = 0.3  # each digit costs this much: two confident halves must beat one confident whole clearly
# Width to height of each digit's ink in MNIST's training set (ink above 80/255): mean and spread of its logarithm.
# A candidate wider than its digit usually is (two digits taken as one 6 or 0) pays for the excess, in spreads
# widened ASPECT_SPREAD times for slant and real writing; narrower costs nothing (a 1 drawn as a bare line).
# MNIST's 1 is a bare stroke; a 1 with a flag and a foot is as wide as a 7, so a 1 is let be as wide as a 7.
ASPECT_LOG_MEAN = np.array([-0.109, -0.272, -0.074, -0.242, -0.248, -0.077, -0.335, -0.272, -0.289, -0.404])
ASPECT_LOG_SPREAD = np.array([0.201, 0.467, 0.223, 0.215, 0.216, 0.265, 0.22, 0.218, 0.224, 0.207])
ASPECT_SPREAD = 1.5
CUT_COST = 0.35  # a digit cut from a connected mark: touching digits are rarer than digits written in one stroke
SHORT_HEIGHT, SHORT_COST = 0.6, 15.0  # per line height a cut digit falls short of SHORT_HEIGHT: a 2's tail cut off
GAP_COST = 12.0  # per line height of empty space between pieces taken as one digit: digits stand apart, strokes don't
SIDE_BY_SIDE, SIDE_BY_SIDE_COST = 0.8, 2.0  # marks side by side each this much of their whole height are digits (11)
HOPELESS = 5.0  # marks GAP_COST this high apart are not read together: alone they would have to read dreadfully
SKIP_COST = 6.0  # per line height of a piece's extent left unread: specks cost little, plain ink a lot
CUT_BY_FRAME = 0.1  # ...a tenth of that when the picture's side cuts through it: the end of the word before a
# form's field, or of a neighbour's digit, is read only when the network is sure of a digit there
LINE_COST, LINE_SLACK = 3.0, 0.15  # per line height neighbours' feet (or tops) differ beyond LINE_SLACK


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
    reason: str = ""  # why nothing was read, for the user (empty when digits were)

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


@dataclass
class Candidate:
    """Some neighbouring pieces taken as one digit, what the network reads in them, and the priors' verdict."""

    first: int  # pieces[first:stop]
    stop: int
    segment: Segment
    rows: tuple[int, int]  # its ink's first and last row + 1 at working size
    aspect: float  # its ink's width to height
    prior: float
    probabilities: np.ndarray = field(default=None, repr=False)  # the network's own (uncalibrated)

    @property
    def score(self) -> float:
        """How likely this ink is one digit: the likeliest digit's log-probability and the log-prior of a digit of
        that kind this wide, plus the shape prior."""
        excess = np.maximum(0.0, np.log(max(self.aspect, 1e-3)) - ASPECT_LOG_MEAN) / (ASPECT_SPREAD * ASPECT_LOG_SPREAD)
        return float(np.max(np.log(np.maximum(self.probabilities, 1e-6)) - excess**2 / 2)) + self.prior


def shape_prior(pieces: list[Piece], box: tuple[int, int, int, int], line_height: float) -> float:
    """Log-prior of a digit's shape (its box at working size) whatever digit it is: its height beside the line's (a
    2's tail cut off is short), empty space between its pieces (strokes of one digit meet or nearly so), and pieces
    that each span the whole height (two 1s side by side are no one digit's strokes)."""
    height = max(box[3] - box[1], 1)
    prior = -DIGIT_COST - gap_cost(pieces, line_height)
    marks = {id(p.mark): p.mark for p in pieces if not p.mark.is_dash}.values()
    if sum(m.height >= SIDE_BY_SIDE * height for m in marks) > 1:
        prior -= SIDE_BY_SIDE_COST
    if pieces[0].start > pieces[0].mark.x0 or pieces[-1].stop < pieces[-1].mark.x1:  # only part of a mark
        # (a whole mark was judged by its size already, `plausible_digits`)
        prior -= CUT_COST + SHORT_COST * max(0.0, SHORT_HEIGHT - height / line_height)
    return prior


def gap_cost(pieces: list[Piece], line_height: float) -> float:
    """GAP_COST for the empty columns between pieces taken as one digit."""
    cost, reach = 0.0, pieces[0].stop
    for piece in pieces[1:]:
        cost += GAP_COST * max(0, piece.start - reach) / line_height
        reach = max(reach, piece.stop)
    return cost


def misalignment(left: Candidate, right: Candidate, line_height: float) -> float:
    """How far two neighbouring digits stray from one line: digits of a number share their foot (or, of mixed sizes,
    their top) within LINE_SLACK of the line's height; the strokes of one digit need not."""
    offset = min(abs(left.rows[0] - right.rows[0]), abs(left.rows[1] - right.rows[1])) / line_height
    return max(0.0, offset - LINE_SLACK)


def line_height(pieces: list[Piece]) -> int:
    """The tallest piece that may be a digit sets the line's height (at working size)."""
    return max((p.height for p in pieces if not p.mark.is_dash), default=1)


def candidates(segmentation: Segmentation) -> list[Candidate]:
    """Every run of neighbouring pieces that may make a digit, with its prior: up to MAX_PIECES whole marks (not
    dashes alone), or stretches of one mark between its necks (a cut mark's stretch joins no other mark: where
    digits touch, a stray stroke beside them rarely belongs to the cut).  A mark cut into stretches joins others
    whole: a 5's long flag written apart is wider than tall, and is cut like touching digits."""
    pieces = segmentation.pieces
    height = line_height(pieces)
    found = []
    for first in range(len(pieces)):
        for stop in range(first + 1, len(pieces) + 1):
            run = pieces[first:stop]
            marks = {id(p.mark): p.mark for p in run}.values()
            if len(marks) > 1:
                if len(marks) > MAX_PIECES or gap_cost(run, height) > HOPELESS:
                    break
                if any(sum(p.stop - p.start for p in run if p.mark is m) < m.width for m in marks):
                    continue  # part of a cut mark: only the whole of it joins another
            if all(p.mark.is_dash for p in run) or (made := segmentation.candidate(run)) is None:
                continue
            segment, box = made
            aspect = (box[2] - box[0]) / max(box[3] - box[1], 1)
            prior = shape_prior(run, box, height)
            found.append(Candidate(first, stop, segment, (box[1], box[3]), aspect, prior))
    return found


def skip_cost(piece: Piece, height: float, width: int) -> float:
    """What leaving a piece unread costs: SKIP_COST per line height of its extent, less when the picture's left or
    right side cuts through it (CUT_BY_FRAME), nothing for a dash.  Only a whole mark counts as cut by the frame: a
    ruled line left in joins the digits to the sides, and the digit at the end of such a mark is no fragment."""
    if piece.mark.is_dash:
        return 0.0
    cut_by_frame = (piece.mark.x0 == 0 or piece.mark.x1 == width) and not piece.is_cut
    return SKIP_COST * piece.extent / height * (CUT_BY_FRAME if cut_by_frame else 1.0)


def best_reading(pieces: list[Piece], found: list[Candidate], width: int) -> list[Candidate]:
    """The digits, left to right, that maximise the total score over the pieces (dynamic programming over the last
    digit read): each digit's score, LINE_COST for neighbours off one line, `skip_cost` for a piece left unread
    (pieces span columns of a picture `width` wide).  At least one digit whenever a candidate exists: ink that is
    plainly there is never read as nothing."""
    height = line_height(pieces)
    skipped = np.concatenate([[0.0], np.cumsum([skip_cost(p, height, width) for p in pieces])])
    ordered = sorted(found, key=lambda c: c.stop)
    value: list[float] = []
    previous: list[int | None] = []
    for i, candidate in enumerate(ordered):
        best, before = -skipped[candidate.first], None
        for j in range(i):
            other = ordered[j]
            if other.stop <= candidate.first:
                total = (
                    value[j]
                    - (skipped[candidate.first] - skipped[other.stop])
                    - LINE_COST * misalignment(other, candidate, height)
                )
                if total > best:
                    best, before = total, j
        value.append(best + candidate.score)
        previous.append(before)
    if not ordered:
        return []
    last = max(range(len(ordered)), key=lambda i: value[i] - (skipped[-1] - skipped[ordered[i].stop]))
    chosen = []
    while last is not None:
        chosen.append(ordered[last])
        last = previous[last]
    return chosen[::-1]


def read_number(image, classifier: Classifier | None = None) -> Reading:
    """Read every digit in a picture (PIL image, numpy array, path or bytes), left to right.

    Which ink makes one digit (strokes that do not touch, touching digits, specks) is decided by what the network
    reads in each candidate grouping (`best_reading`).  Nothing is read only when no digit shows, looked at closer
    and in either polarity (ink that stands clear, `Ink.stands_clear`).  Raises preprocess.ImageError with a
    one-line message when the input is not a readable image.
    """
    segmentation = segment(image)
    classifier = classifier or default_classifier()
    found = candidates(segmentation)
    if not found and segmentation.at_a_glance:  # ink plainly there may show its digits only when looked at closer
        segmentation = segmentation.closer()
        found = candidates(segmentation)
    if not found and (other := segmentation.in_the_other_polarity()) and (other_found := candidates(other)):
        segmentation, found = other, other_found  # ...or only in the other polarity
    if found:
        probabilities = classifier.predict_prepared(np.array([c.segment.image for c in found]), calibrated=False)
        for candidate, p in zip(found, probabilities, strict=True):
            candidate.probabilities = p
    chosen = best_reading(segmentation.pieces, found, segmentation.ink.labels.shape[1])
    calibrated = temper(np.array([c.probabilities for c in chosen], np.float32).reshape(-1, 10), classifier.temperature)
    digits = [
        DigitReading(int(p.argmax()), float(p.max()), p, c.segment.box, c.segment.image)
        for c, p in zip(chosen, calibrated, strict=True)
    ]
    return Reading(digits, segmentation, segmentation.size, "" if digits else nothing_read(segmentation))


def nothing_read(segmentation: Segmentation) -> str:
    """Why a picture gave no digit, in words for the user."""
    if not segmentation.ink.strength:
        return "no ink: the picture is blank, or too faint or noisy for any stroke to stand out"
    if not segmentation.marks:
        return "no digit-like ink: only dust, specks or lines along the edges"
    return "no digit-like ink: only dots or dashes, no stroke long enough for a digit"
