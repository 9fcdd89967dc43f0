"""Honest confidence: temperature scaling, and the expected calibration error that measures it.

A network trained to minimise cross-entropy on MNIST ends up more sure than it is right, and more
so on pictures unlike MNIST: half the real-world misreadings came with 90% confidence or more.  One
number fixes most of that (Guo et al., 2017): divide the logits by a temperature T fitted to minimise
the negative log-likelihood on digits the model never trained on.  Argmax, hence accuracy, is
unchanged.  The LiteRT models output softmax probabilities, so the logits are recovered as
log-probabilities (equal up to a constant per image, which the softmax ignores).

What should "90% sure" mean?  On MNIST itself the shipped models are already honest (ECE ~0.15%,
temperature ~1.03), yet on real pictures they were wrong at 90% confidence half the time they were
wrong: the gap is the pictures, not the network.  So the temperature is fitted on digits read the
way real pictures are read: synthetic numbers (`synthetic.py`) built from the training run's own
held-out validation digits (MNIST training images the model never saw: `train.split_train_val` with
the card's seed and fraction), rendered over photo-like grounds and found by the real pipeline.
It is stored in the model card under ``calibration``; `Classifier` applies it to every prediction.
Never fitted on the real dev pictures: they only measure.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # classifier imports this module to apply the temperature: a runtime import would be circular
    from digitlib.classifier import Classifier

ECE_BINS = 15  # the usual choice (Guo et al.): fine enough to see overconfidence, coarse enough for 6,000 digits
CONFIDENT = 0.9  # a wrong reading this sure is a confident error: the app shows no doubt, so the user gets none
TEMPERATURE_RANGE = (0.25, 10.0)  # search bounds: far beyond any temperature a trained digit model needs


def temper(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax(log p / T) of (N, 10) probabilities: T > 1 softens, T < 1 sharpens, 1 changes nothing.

    Computed as p^(1/T), renormalised: the same thing in two array operations (a reading's budget is
    under a millisecond), and exact zeros stay zeros instead of passing through log(0)."""
    if temperature == 1.0:
        return probabilities
    tempered = np.power(probabilities, 1.0 / temperature, dtype=np.float32)
    return tempered / tempered.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1.0)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the true labels."""
    from scipy.optimize import minimize_scalar  # here: prediction imports this module, and SciPy's optimiser is slow to import

    labels = np.asarray(labels, dtype=np.int64)
    low, high = np.log(TEMPERATURE_RANGE)
    result = minimize_scalar(lambda log_t: negative_log_likelihood(temper(probabilities, float(np.exp(log_t))), labels),
                             bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by the bins' sizes."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def confident_errors(probabilities: np.ndarray, labels: np.ndarray, threshold: float = CONFIDENT) -> int:
    """How many wrong readings came with at least ``threshold`` confidence."""
    wrong = probabilities.argmax(axis=1) != np.asarray(labels)
    return int((wrong & (probabilities.max(axis=1) >= threshold)).sum())


UNSURE_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def unsure_table(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, float]]:
    """For each threshold, the share of wrong and of right digits read with less confidence: what an
    "unsure" warning below it would catch, and how often it would cry wolf."""
    confidence = probabilities.max(axis=1)
    wrong = probabilities.argmax(axis=1) != np.asarray(labels)
    return {f"{t:.1f}": {"errors_flagged": round(float((confidence[wrong] < t).mean()) if wrong.any() else 0.0, 4),
                         "correct_flagged": round(float((confidence[~wrong] < t).mean()) if (~wrong).any() else 0.0, 4)}
            for t in UNSURE_THRESHOLDS}


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
    return Calibration(temperature, fitted_on, int(len(labels)),
                       negative_log_likelihood(raw_probabilities, labels), negative_log_likelihood(tempered, labels),
                       expected_calibration_error(raw_probabilities, labels),
                       expected_calibration_error(tempered, labels), unsure_table(tempered, labels))


def held_out_digits(card: dict, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST training images that the card's training runs held out for validation (never trained on).

    Every run in the card's chain (``initialised_from``) must have held out the same split; a fine-tuned
    model, which samples MNIST training images its own way, can't say which digits it never saw."""
    from digitlib import data
    from digitlib.train import TrainConfig, split_train_val

    splits, run = set(), card
    while run:
        config = run.get("config") or {}
        splits.add((config.get("seed"), config.get("val_fraction"), config.get("train_size")))
        run = run.get("initialised_from")
    seed, val_fraction, train_size = next(iter(splits))
    if len(splits) != 1 or not isinstance(seed, int) or not val_fraction:
        raise ValueError("this model's card does not name one held-out validation split for all its training runs: "
                         "there are no digits it surely never trained on to calibrate with")
    (x_train, y_train), _ = data.load_mnist(data_dir)
    _, (x_val, y_val) = split_train_val(x_train, y_train, TrainConfig(seed=seed, val_fraction=val_fraction,
                                                                      train_size=train_size))
    return x_val, y_val


def read_synthetic_digits(classifier: Classifier, x: np.ndarray, y: np.ndarray, count: int,
                          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Untempered probabilities and labels of the digits in ``count`` synthetic numbers made from (x, y).

    Only numbers where the pipeline found as many digits as were written count: then the i-th digit
    read is the i-th written, and its label is known."""
    from digitlib.reader import read_number
    from digitlib.synthetic import make_sample, matched_digits

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
    calibration = calibrate(probabilities, labels, f"digits found in {count} synthetic numbers (seed "
                            f"{CALIBRATION_SEED}) written with the {len(x_val)} MNIST training images held out "
                            "from training")
    write_calibration(classifier.directory, calibration)
    classifier.temperature = calibration.temperature
    return calibration


def write_calibration(directory: Path, calibration: Calibration) -> None:
    """Store the calibration in the model card, atomically (a reader never sees half a card)."""
    from digitlib.classifier import CARD_FILE, read_card

    card = read_card(directory) | {"calibration": calibration.as_dict()}
    staging = directory / f".{CARD_FILE}.{os.getpid()}.tmp"
    staging.write_text(json.dumps(card, indent=2))
    os.replace(staging, directory / CARD_FILE)
