"""Matplotlib figures shared by the CLI (saved as PNG) and the app (shown with st.pyplot)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: servers and CI have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def training_curves(history: dict[str, list[float]]) -> Figure:
    """Loss and accuracy per epoch, training against validation."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, metric in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + metric)
            if values:
                epochs = range(1, len(values) + 1)
                ax.plot(epochs, values, style, marker="o", label=("validation " if prefix else "training ") + metric)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(matrix: Sequence[Sequence[int]], title: str = "Confusion matrix") -> Figure:
    """Counts with the diagonal dimmed so the mistakes stand out."""
    counts = np.asarray(matrix)
    off_diagonal = counts * (1 - np.eye(10, dtype=counts.dtype))
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    image = ax.imshow(off_diagonal, cmap="Reds")
    for true in range(10):
        for pred in range(10):
            value = counts[true, pred]
            if value:
                ax.text(
                    pred,
                    true,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="grey" if true == pred else "black",
                )
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, label="mistakes")
    fig.tight_layout()
    return fig


def gallery(images: Sequence[np.ndarray], captions: Sequence[str], columns: int = 10, title: str = "") -> Figure:
    """A grid of small grey images with a caption under each."""
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.imshow(image, cmap="gray", vmin=0, vmax=image.max() if image.max() > 1 else 1)
        ax.set_title(caption, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_test_figures(
    directory: Path, name: str, evaluation, x_test: np.ndarray, y_test: np.ndarray, probabilities: np.ndarray
) -> None:
    """A model's test-set confusion matrix and its 40 surest mistakes, as training and `evaluate` both write them."""
    save(confusion_matrix(evaluation.confusion_matrix, f"{name}: test-set confusion"), directory / "confusion.png")
    worst = evaluation.misclassified[:40]
    captions = [f"{y_test[i]}→{probabilities[i].argmax()} ({probabilities[i].max():.0%})" for i in worst]
    save(
        gallery([x_test[i] for i in worst], captions, title="Misclassified test digits (true→predicted)"),
        directory / "misclassified.png",
    )
