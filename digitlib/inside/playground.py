"""The robustness playground: one digit changed a little or a lot, read the naive way and by digitlib's pipeline.

The robustness table (`digitlib.evaluation.realworld`) measures whole conditions over a thousand digits; this lets a
person turn one change up slowly and watch where the naive resize-and-invert demo loses the digit and the pipeline does
not.  Both reads are the table's own: `realworld.naive_preprocess` and `preprocess.to_mnist`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from digitlib.evaluation.realworld import naive_preprocess
from digitlib.inside.explain import as_unit_float
from digitlib.preprocess import disk, to_mnist
from digitlib.reading.classifier import Classifier

RESOLUTION = 4  # the digit is changed at 4x MNIST's 28x28 (112x112): fine enough to thicken a stroke by 1/4 pixel


@dataclass(frozen=True)
class Change:
    """One slider: its range and the value that leaves the digit as it is; sizes are in MNIST pixels."""

    label: str
    low: float
    high: float
    neutral: float
    step: float


CHANGES = {
    # the digit stays whole while it moves off-centre: empty canvas is added above and to its left (56 px: the
    # robustness table's "shifted to a corner of 84x84")
    "shift": Change("off-centre: empty canvas added above and left (px)", 0.0, 56.0, 0.0, 4.0),
    "rotate": Change("rotate clockwise (degrees)", -90.0, 90.0, 0.0, 5.0),
    "scale": Change("scale (x)", 0.3, 2.0, 1.0, 0.05),
    "thickness": Change("thin (-) or thicken (+) the strokes (px)", -1.5, 3.0, 0.0, 0.25),
    "blur": Change("blur (sigma, px)", 0.0, 3.0, 0.0, 0.25),
    "noise": Change("noise (sigma)", 0.0, 1.0, 0.0, 0.05),
}
NEUTRAL = {name: change.neutral for name, change in CHANGES.items()}


def changed_picture(image28: np.ndarray, settings: dict[str, float], seed: int = 0) -> np.ndarray:
    """The digit as a white-on-black float picture after every change in ``settings`` (others neutral): 112x112,
    more when shifted.

    Scale and rotation are one resampling about the centre; the shift adds empty canvas; then the strokes are
    thickened or thinned with a round pen, blurred, and noise is added (the same seed gives the same noise).
    """
    unknown = set(settings) - set(CHANGES)
    if unknown:
        raise ValueError(f"unknown change {sorted(unknown)}; choose from {', '.join(CHANGES)}")
    s = NEUTRAL | settings
    if s["scale"] <= 0:
        raise ValueError(f"scale must be positive, not {s['scale']}")
    picture = np.clip(ndimage.zoom(as_unit_float(image28), RESOLUTION, order=1), 0, 1)
    angle = -np.deg2rad(s["rotate"])  # rows run down the picture: a positive angle turns it clockwise
    to_source = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) / s["scale"]
    centre = (np.array(picture.shape) - 1) / 2
    picture = ndimage.affine_transform(picture, to_source, offset=centre - to_source @ centre, order=1)
    margin = round(s["shift"] * RESOLUTION)
    picture = np.pad(picture, ((margin, 0), (margin, 0)))
    radius = round(abs(s["thickness"]) * RESOLUTION)
    if radius:
        pen = ndimage.grey_dilation if s["thickness"] > 0 else ndimage.grey_erosion
        picture = pen(picture, footprint=disk(radius))
    if s["blur"] > 0:
        picture = ndimage.gaussian_filter(picture, s["blur"] * RESOLUTION)
    if s["noise"] > 0:
        picture = picture + np.random.default_rng(seed).normal(0, s["noise"], picture.shape)
    return np.clip(picture, 0, 1).astype(np.float32)


@dataclass
class TwoReads:
    """What the naive demo and the pipeline hand the network for one picture, and what it reads from each."""

    naive_image: np.ndarray  # (28, 28) float
    pipeline_image: np.ndarray
    naive_probabilities: np.ndarray  # (10,)
    pipeline_probabilities: np.ndarray


def read_both_ways(classifier: Classifier, picture: np.ndarray) -> TwoReads:
    naive, pipeline = naive_preprocess(picture), to_mnist(picture)
    probabilities = classifier.predict_prepared(np.stack([naive, pipeline]))
    return TwoReads(naive, pipeline, probabilities[0], probabilities[1])


def strengths(change: str) -> np.ndarray:
    """Every slider position of a change, from its lowest to its highest."""
    spec = CHANGES[change]
    return np.arange(spec.low, spec.high + spec.step / 2, spec.step).round(4)


def sweep(
    classifier: Classifier, image28: np.ndarray, settings: dict[str, float], change: str, digit: int
) -> dict[str, list[float]]:
    """Confidence in ``digit``, naive and pipeline, as ``change`` runs over its range (the other changes held at
    ``settings``): columns "strength", "naive", "pipeline", ready for a line chart."""
    if change not in CHANGES:
        raise ValueError(f"unknown change {change!r}; choose from {', '.join(CHANGES)}")
    if digit not in range(10):
        raise ValueError(f"digit must be 0-9, not {digit!r}")
    table: dict[str, list[float]] = {"strength": [], "naive": [], "pipeline": []}
    for strength in strengths(change):
        reads = read_both_ways(classifier, changed_picture(image28, settings | {change: float(strength)}))
        table["strength"].append(round(float(strength), 4))
        table["naive"].append(float(reads.naive_probabilities[digit]))
        table["pipeline"].append(float(reads.pipeline_probabilities[digit]))
    return table
