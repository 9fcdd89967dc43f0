"""Fine-tune a trained model on MNIST plus the user's corrections, so it learns their handwriting.

A few dozen corrections next to 60,000 MNIST digits would be drowned out, so they are repeated
(oversampled) to make up a fixed share of every epoch; a random MNIST sample fills the rest, seen
as the base model saw it (augmented or not), so the model does not forget MNIST, and a low
learning rate keeps the change small.  Part of the corrections is held out and
never trained on: the before/after accuracy on it says whether the model learned the handwriting
rather than memorised the samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from digitlib import data
from digitlib.evaluation.evaluate import evaluate_probabilities
from digitlib.reading.classifier import DEFAULT_MODEL, MODELS_DIR, Classifier, load_classifier, model_dir
from digitlib.store.corrections import SHARED, CorrectionStore
from digitlib.training.config import TrainConfig
from digitlib.training.train import Progress, ProgressHook, compile_and_fit, load_keras_model, save_model


@dataclass
class FinetuneConfig:
    store_path: str | None = None  # a file or database URL; None: $DIGITLIB_STORE or the user's default store
    store_owner: str = SHARED  # whose corrections: the shared pool, or one app session's
    base_model: str = DEFAULT_MODEL  # a model name in models/ or a model directory
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 3e-4  # peak of the one-cycle schedule; ~1/7 of training from scratch
    store_share: float = 0.2  # fraction of each epoch's images that are (repeated) corrections
    mnist_images: int = 12000  # MNIST training images mixed in, so MNIST is not forgotten
    holdout_fraction: float = 0.25  # corrections kept aside to measure before/after
    augment: bool | None = None  # None: as the base model was trained (its card says)
    seed: int = 0
    data_dir: str | None = None

    def validate(self) -> None:
        """Reject nonsense settings before any work starts."""
        problems = []
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= 100:
            problems.append(f"epochs must be a whole number from 1 to 100, not {self.epochs!r}")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= 8192:
            problems.append(f"batch size must be a whole number from 1 to 8192, not {self.batch_size!r}")
        if not 0 < self.learning_rate <= 0.1:
            problems.append(f"learning rate must be in (0, 0.1], not {self.learning_rate!r}")
        if not 0 < self.store_share < 1:
            problems.append(f"share of corrections per epoch must be in (0, 1), not {self.store_share!r}")
        if not isinstance(self.mnist_images, int) or self.mnist_images < 100:
            problems.append(f"MNIST images mixed in must be at least 100, not {self.mnist_images!r}")
        if not 0 <= self.holdout_fraction <= 0.5:
            problems.append(f"held-out fraction must be in [0, 0.5], not {self.holdout_fraction!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def training_config(self, arch: str, augment: bool) -> TrainConfig:
        """The settings train.py's data pipeline and schedule read."""
        return TrainConfig(
            arch=arch,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            val_fraction=0.0,
            augment=augment,
            seed=self.seed,
            data_dir=self.data_dir,
        )


def split_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held out), the fraction taken from each digit, every digit keeping one sample to train on."""
    rng = np.random.default_rng(seed)
    held = [
        rng.permutation(indices)[: min(round(len(indices) * fraction), len(indices) - 1)]
        for indices in (np.flatnonzero(labels == digit) for digit in np.unique(labels))
    ]
    held_out = np.sort(np.concatenate(held)).astype(np.int64) if held else np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(len(labels)), held_out), held_out


def mix(mnist: data.Split, corrections: data.Split, cfg: FinetuneConfig) -> tuple[data.Split, int]:
    """A random MNIST sample plus the corrections repeated to ``store_share`` of the whole; returns (mix, repeats)."""
    rng = np.random.default_rng(cfg.seed)
    (x_mnist, y_mnist), (x_own, y_own) = mnist, corrections
    chosen = rng.permutation(len(x_mnist))[: cfg.mnist_images]
    copies = max(len(x_own), round(len(chosen) * cfg.store_share / (1 - cfg.store_share)))
    repeated = np.resize(rng.permutation(len(x_own)), copies)
    x = np.concatenate([x_mnist[chosen], x_own[repeated]])
    y = np.concatenate([y_mnist[chosen], y_own[repeated]])
    return (x, y), copies


def accuracy(classifier: Classifier, split: data.Split) -> float | None:
    x, y = split
    return round(evaluate_probabilities(classifier.predict_batch(x), y).accuracy, 6) if len(x) else None


def finetune(cfg: FinetuneConfig, out: Path | None = None, hook: ProgressHook = lambda p: None, mnist=None) -> dict:
    """Fine-tune ``cfg.base_model`` on MNIST plus the stored corrections and save it atomically as ``out``.

    Returns the new model card; its ``finetune`` entry holds MNIST test accuracy and held-out
    correction accuracy before and after.
    """
    cfg.validate()
    store = CorrectionStore(cfg.store_path, create=False, owner=cfg.store_owner)
    x_own, y_own = store.arrays()
    if len(x_own) == 0:
        raise ValueError("no corrections stored yet; correct a few readings first.")
    base_dir = model_dir(cfg.base_model)
    base = load_classifier(base_dir)
    out = Path(out) if out else MODELS_DIR / f"{base_dir.name}-finetuned"
    (x_train, y_train), test = mnist or data.load_mnist(cfg.data_dir)
    train_idx, held_idx = split_holdout(y_own, cfg.holdout_fraction, cfg.seed)
    held = (x_own[held_idx], y_own[held_idx])

    hook(Progress("evaluate", message="measuring the base model before fine-tuning"))
    before = {"mnist_test_accuracy": accuracy(base, test), "held_out_accuracy": accuracy(base, held)}
    import keras  # late: every mistake above is reported without waiting for TensorFlow

    from digitlib.training.augment import AugmentConfig

    keras.utils.set_random_seed(cfg.seed)
    model = load_keras_model(base_dir)
    arch = base.card.get("architecture", base_dir.name)
    # MNIST as the base model saw it: augmenting a model trained on plain MNIST costs it accuracy
    augment = cfg.augment if cfg.augment is not None else bool(base.card.get("config", {}).get("augment", False))
    (x_fit, y_fit), copies = mix((x_train, y_train), (x_own[train_idx], y_own[train_idx]), cfg)
    history, seconds = compile_and_fit(model, cfg.training_config(arch, augment), (x_fit, y_fit), held, hook)

    def scores(tuned: Classifier) -> dict:
        after = {"mnist_test_accuracy": accuracy(tuned, test), "held_out_accuracy": accuracy(tuned, held)}
        return {"finetune": {"held_out_corrections": len(held_idx), "before": before, "after": after}}

    card = {
        "architecture": arch,
        "base_model": base.name,
        "config": asdict(cfg) | {"data_dir": None, "store_path": None, "store_owner": None, "augment": augment},
        "augmentation": AugmentConfig().as_dict() if augment else None,
        "training_images": len(x_fit),
        "correction_images": len(train_idx),
        "correction_repeats": copies,
        "validation_images": len(held_idx),  # validation curves are on the held-out corrections
        "epochs": cfg.epochs,
        "training_seconds": round(seconds, 1),
        "data_checksums_md5": data.file_checksums(cfg.data_dir),
    }
    return save_model(model, out, card, history, test, hook, scores)
