"""Accuracy figures from predicted probabilities: overall, per class, confusion, mistakes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Evaluation:
    accuracy: float
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]  # rows: true digit, columns: predicted digit
    misclassified: list[int]  # indices into the evaluated set, most confident mistakes first
    count: int

    def as_dict(self, with_misclassified: bool = False) -> dict:
        data = asdict(self)
        if not with_misclassified:
            data.pop("misclassified")
        return data


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Score (N, 10) probabilities against (N,) integer labels."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.zeros(10), where=totals > 0)
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]])]
    return Evaluation(
        accuracy=float((predicted == labels).mean()) if len(labels) else 0.0,
        per_class_accuracy=[round(float(a), 6) for a in per_class],
        confusion_matrix=confusion.tolist(),
        misclassified=wrong.tolist(),
        count=int(len(labels)),
    )


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: digits inserted, dropped or misread."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]
