"""Fitting a model's temperature: which digits to fit it on, and storing it in the model card.

What should "90% sure" mean?  On MNIST itself the shipped models are already honest (ECE ~0.15%, temperature
~1.03), yet untempered, half their errors on real pictures come at 90% confidence or more: the gap is the
pictures, not the network.  So the temperature (`digitlib.reading.temperature`) is fitted on digits read the way
real pictures are read: synthetic numbers (`synthetic.py`) built from the training run's own held-out validation
digits (MNIST training images the model never saw: `split_train_val` with the card's seed and fraction), rendered
over photo-like grounds and found by the real pipeline.  It is stored in the model card under ``calibration``;
`Classifier` applies it to every prediction.  Never fitted on the real dev pictures: they only measure.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from digitlib import data
from digitlib.evaluation.synthetic import make_sample, matched_digits
from digitlib.reading.classifier import CARD_FILE, Classifier, read_card
from digitlib.reading.reader import read_number
from digitlib.reading.temperature import expected_calibration_error, fit_temperature, negative_log_likelihood, temper
from digitlib.training.config import TrainConfig, split_train_val

UNSURE_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def unsure_table(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, float]]:
    """For each threshold, the share of wrong and of right digits read with less confidence: what an
    "unsure" warning below it would catch, and how often it would cry wolf."""
    confidence = probabilities.max(axis=1)
    wrong = probabilities.argmax(axis=1) != np.asarray(labels)
    return {
        f"{t:.1f}": {
            "errors_flagged": round(float((confidence[wrong] < t).mean()) if wrong.any() else 0.0, 4),
            "correct_flagged": round(float((confidence[~wrong] < t).mean()) if (~wrong).any() else 0.0, 4),
        }
        for t in UNSURE_THRESHOLDS
    }


@dataclass
class Calibration:
    temperature: float
    fitted_on: str  # which images, in words
    images: int
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float
    unsure: dict = field(default_factory=dict)  # unsure_table of the calibrated probabilities

    def as_dict(self) -> dict:
        return {key: round(value, 6) if isinstance(value, float) else value for key, value in asdict(self).items()}


def calibrate(raw_probabilities: np.ndarray, labels: np.ndarray, fitted_on: str) -> Calibration:
    """Fit the temperature on untempered probabilities and report what it changes."""
    temperature = fit_temperature(raw_probabilities, labels)
    tempered = temper(raw_probabilities, temperature)
    return Calibration(
        temperature,
        fitted_on,
        int(len(labels)),
        negative_log_likelihood(raw_probabilities, labels),
        negative_log_likelihood(tempered, labels),
        expected_calibration_error(raw_probabilities, labels),
        expected_calibration_error(tempered, labels),
        unsure_table(tempered, labels),
    )


def held_out_digits(card: dict, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST training images that the card's training runs held out for validation (never trained on).

    Every run in the card's chain (``initialised_from``) must have held out the same split; a fine-tuned
    model, which samples MNIST training images its own way, can't say which digits it never saw."""

    splits, run = set(), card
    while run:
        config = run.get("config") or {}
        splits.add((config.get("seed"), config.get("val_fraction"), config.get("train_size")))
        run = run.get("initialised_from")
    seed, val_fraction, train_size = next(iter(splits))
    if len(splits) != 1 or not isinstance(seed, int) or not val_fraction:
        raise ValueError(
            "this model's card does not name one held-out validation split for all its training runs: "
            "there are no digits it surely never trained on to calibrate with"
        )
    (x_train, y_train), _ = data.load_mnist(data_dir)
    _, (x_val, y_val) = split_train_val(
        x_train, y_train, TrainConfig(seed=seed, val_fraction=val_fraction, train_size=train_size)
    )
    return x_val, y_val


def read_synthetic_digits(
    classifier: Classifier, x: np.ndarray, y: np.ndarray, count: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Untempered probabilities and labels of the digits in ``count`` synthetic numbers made from (x, y).

    Only numbers where the pipeline found as many digits as were written count: then the i-th digit
    read is the i-th written, and its label is known."""

    probabilities, labels = [], []
    for index in range(count):
        sample = make_sample(x, y, seed, index)
        for tempered, digit in matched_digits(sample.label, read_number(sample.image, classifier)):
            probabilities.append(temper(tempered[None], 1 / classifier.temperature)[0])
            labels.append(digit)
    return np.array(probabilities, np.float32).reshape(-1, 10), np.array(labels, np.int64)


CALIBRATION_SEED = 1  # the synthetic numbers' seed for calibration (the benchmark's default is 0)


def calibrate_model(classifier: Classifier, count: int = 1500, data_dir: str | None = None) -> Calibration:
    """Fit the model's temperature on synthetic numbers of its held-out digits and store it in its card."""
    x_val, y_val = held_out_digits(classifier.card, data_dir)
    probabilities, labels = read_synthetic_digits(classifier, x_val, y_val, count, CALIBRATION_SEED)
    calibration = calibrate(
        probabilities,
        labels,
        f"digits found in {count} synthetic numbers (seed "
        f"{CALIBRATION_SEED}) written with the {len(x_val)} MNIST training images held out "
        "from training",
    )
    write_calibration(classifier.directory, calibration)
    classifier.temperature = calibration.temperature
    return calibration


def write_calibration(directory: Path, calibration: Calibration) -> None:
    """Store the calibration in the model card, atomically (a reader never sees half a card)."""

    card = read_card(directory) | {"calibration": calibration.as_dict()}
    staging = directory / f".{CARD_FILE}.{os.getpid()}.tmp"
    staging.write_text(json.dumps(card, indent=2))
    os.replace(staging, directory / CARD_FILE)
