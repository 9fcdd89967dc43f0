"""Temperature scaling and the measures of honest confidence: pure maths on (N, 10) probability arrays.

A network trained to minimise cross-entropy on MNIST ends up more sure than it is right, and more so on
pictures unlike MNIST.  One number fixes most of that (Guo et al., 2017): divide the logits by a temperature T
fitted to minimise the negative log-likelihood on digits the model never trained on.  Argmax, hence accuracy,
is unchanged.  The LiteRT models output softmax probabilities, so the logits are recovered as
log-probabilities (equal up to a constant per image, which the softmax ignores).  Where T is fitted:
`digitlib.evaluation.calibrate`.
"""

from __future__ import annotations

import numpy as np

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
    from scipy.optimize import (
        minimize_scalar,  # here: prediction imports this module, and SciPy's optimiser is slow to import
    )

    labels = np.asarray(labels, dtype=np.int64)
    low, high = np.log(TEMPERATURE_RANGE)
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(temper(probabilities, float(np.exp(log_t))), labels),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
    )
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
