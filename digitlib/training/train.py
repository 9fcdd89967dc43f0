"""Train a model on MNIST, export it for LiteRT, and save it atomically with its model card.

One progress hook reports every step (batches, epochs, evaluation, saving); the CLI renders it as a progress bar,
the app (through `jobs`, which runs it in a child process) as progress plus live curves.  Everything is written into
a temporary sibling directory first and swapped into place only when complete, under a lock (`model_dirs`), so an
interrupted or concurrent run never leaves a broken model where the old one stood.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from digitlib import data
from digitlib.evaluation import plots
from digitlib.evaluation.evaluate import evaluate_probabilities
from digitlib.reading.classifier import (
    CARD_FILE,
    MODEL_FILE,
    MODELS_DIR,
    Classifier,
    ModelError,
    load_classifier,
    model_dir,
    read_card,
)
from digitlib.training.config import TrainConfig, split_train_val
from digitlib.training.model_dirs import atomic_replace_dir, remove_stale_staging
from digitlib.training.realworld_data import load_realworld
from digitlib.training.tensorflow_startup import quiet_tensorflow_startup

quiet_tensorflow_startup()  # whatever imports TensorFlow first (Keras, augment), its start-up notices stay off stderr


@dataclass
class Progress:
    """What the hook receives: ``phase`` is "batch", "epoch", "evaluate", "save" or "done"."""

    phase: str
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    logs: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    message: str = ""


ProgressHook = Callable[[Progress], None]


def make_callback(hook: ProgressHook, epochs: int, batches: int):
    """A Keras callback that forwards progress to the hook (built lazily: keras is heavy).

    A callback with a synchronous batch hook makes Keras wait for every step's metrics, which costs
    up to a third of the training speed here; this one is ``async_safe`` instead: Keras' worker thread
    only records the latest batch, and the hook runs on the training thread at the next batch's start
    (Streamlit elements can only be updated from the script's own thread).
    """
    import keras

    class HookCallback(keras.callbacks.Callback):
        async_safe = True

        def __init__(self):
            super().__init__()
            self.history: dict[str, list[float]] = {}
            self.epoch = 0
            self.finished_batch: tuple[int, dict] | None = None  # set by Keras' worker thread
            self.reported = 0

        def report_batch(self) -> None:
            finished = self.finished_batch
            if finished is not None and finished[0] > self.reported:
                self.reported = finished[0]
                hook(Progress("batch", self.epoch, epochs, finished[0], batches, finished[1], self.history))

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1
            self.finished_batch, self.reported = None, 0

        def on_train_batch_begin(self, batch, logs=None):
            self.report_batch()

        def on_train_batch_end(self, batch, logs=None):
            self.finished_batch = (batch + 1, dict(logs or {}))

        def on_epoch_end(self, epoch, logs=None):
            self.report_batch()  # Keras has waited for the worker thread: this is the epoch's last batch
            logs = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
            for key, value in logs.items():
                self.history.setdefault(key, []).append(value)
            hook(Progress("epoch", epoch + 1, epochs, batches, batches, logs, self.history))

    return HookCallback()


def make_dataset(x: np.ndarray, y: np.ndarray, cfg: TrainConfig, training: bool):
    """Batches of (N, 28, 28, 1) float images in [0, 1] and their targets.

    The images stay uint8 until batched: a quarter of the memory to copy and shuffle, which is most of the
    dataset's cost and of a short run's peak memory (figures in docs/speed.md).
    """
    import tensorflow as tf

    def scaled(images, labels):
        targets = tf.one_hot(labels, 10) if cfg.label_smoothing else labels  # smoothing needs one-hot targets
        return tf.cast(images, tf.float32)[..., None] / 255.0, targets

    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    if training:
        ds = ds.shuffle(len(x), seed=cfg.seed, reshuffle_each_iteration=True)
    ds = ds.batch(cfg.batch_size).map(scaled, num_parallel_calls=tf.data.AUTOTUNE)
    if training and cfg.augment:
        from digitlib.training.augment import augment_batch

        ds = ds.map(lambda images, labels: (augment_batch(images), labels), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def one_cycle(cfg: TrainConfig, steps: int):
    """Warm up to the peak learning rate over the first 15% of steps, then cosine-decay to ~0."""
    import keras

    warmup = max(1, int(0.15 * steps))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10,
        decay_steps=max(1, steps - warmup),
        alpha=0.01,
        warmup_target=cfg.learning_rate,
        warmup_steps=warmup,
    )


def ema_momentum(steps: int) -> float:
    """Average over about the last tenth of the run (at most ~100 steps): Keras starts the average at the
    first step's weights, so a fixed 0.99 would leave a short run's average close to the untrained network."""
    return max(0.0, min(0.99, 1 - 10 / steps))


def settle_batch_norm(model, steps: int) -> None:
    """Let BatchNorm's moving statistics follow about the last tenth of a short run.

    With momentum 0.9 they need ~50 steps to forget their initial values: a run of a few dozen
    steps (a quick app run on a few thousand images) would otherwise be scored and saved with
    statistics that fit no data (measured, `strong` after 24 steps: 63% test accuracy, 86% settled).
    """
    import keras

    from digitlib.zoo.architectures import BN_MOMENTUM

    def batch_norms(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            yield layer
        for inner in getattr(layer, "layers", []):
            yield from batch_norms(inner)

    for layer in batch_norms(model):
        layer.momentum = min(BN_MOMENTUM, ema_momentum(steps))


def library_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def compile_and_fit(
    model, cfg: TrainConfig, fit_data: data.Split, val_data: data.Split, hook: ProgressHook, callbacks: Sequence = ()
) -> tuple[dict, float]:
    """Fit ``model`` with Adam on the one-cycle schedule, reporting to the hook; returns (history, seconds).

    Shared by training from scratch and fine-tuning, which differ only in where the model comes from.
    """
    import keras

    (x_fit, y_fit), (x_val, y_val) = fit_data, val_data
    steps = -(-len(x_fit) // cfg.batch_size)
    total_steps = steps * cfg.epochs
    settle_batch_norm(model, total_steps)
    model.compile(
        optimizer=keras.optimizers.Adam(
            one_cycle(cfg, total_steps), use_ema=cfg.ema, ema_momentum=ema_momentum(total_steps)
        ),
        loss=(
            keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
            if cfg.label_smoothing
            else "sparse_categorical_crossentropy"
        ),
        metrics=["accuracy"],
        jit_compile=False,  # Keras' "auto" picks XLA, which trains these CNNs 2-4x slower on CPU (`bench`)
    )
    started = time.perf_counter()
    callback = make_callback(hook, cfg.epochs, steps)
    # With EMA, validation and the callbacks after this one see the averaged weights at each epoch's end.
    swap = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if cfg.ema else []
    warnings.filterwarnings("ignore", message=".*shuffle=True.*")  # tf.data shuffles already
    model.fit(
        make_dataset(x_fit, y_fit, cfg, training=True),
        validation_data=make_dataset(x_val, y_val, cfg, training=False) if len(x_val) else None,
        epochs=cfg.epochs,
        callbacks=[callback, *swap, *callbacks],
        verbose=0,
    )
    return callback.history, time.perf_counter() - started


def load_keras_model(directory: Path):
    """A model's trainable Keras file (the LiteRT export cannot be trained)."""
    import keras

    path = directory / "model.keras"
    if not path.is_file():
        raise ModelError(
            f"{path}: not found; further training needs the Keras model that `python -m digitlib train` saves."
        )
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a damaged file
        raise ModelError(
            f"{path}: not a loadable Keras model ({exc}). Retrain it with `python -m digitlib train`."
        ) from None


def fit(cfg: TrainConfig, hook: ProgressHook, mnist=None, callbacks: Sequence = (), realworld=None):
    """Build and train the model; returns (keras model, history dict, seconds, split sizes).

    Extra Keras ``callbacks`` watch the run (the benchmark scores the test set after each epoch).  ``realworld``
    (a `RealworldSet`, default: loaded from ``cfg.realworld_dir`` when set) joins the training images."""
    import keras

    from digitlib.zoo.architectures import build

    keras.utils.set_random_seed(cfg.seed)
    (x_train, y_train), _ = mnist or data.load_mnist(cfg.data_dir)
    (x_fit, y_fit), (x_val, y_val) = split_train_val(x_train, y_train, cfg)
    mnist_images = len(x_fit)
    if cfg.conventions:
        from digitlib.training.conventions import with_conventions

        x_fit, y_fit = with_conventions(x_fit, y_fit, cfg.seed, cfg.conventions)
    with_mnist = len(x_fit)
    if realworld is None and cfg.realworld_dir:
        realworld = load_realworld(cfg.realworld_dir)
    if realworld is not None and len(realworld):
        from digitlib.training.realworld_mix import oversampled

        x_real, y_real = oversampled(realworld, cfg.realworld_repeat, vary=not cfg.augment)
        x_fit, y_fit = np.concatenate([x_fit, x_real]), np.concatenate([y_fit, y_real])
    model = load_keras_model(model_dir(cfg.init_from)) if cfg.init_from else build(cfg.arch)
    history, seconds = compile_and_fit(model, cfg, (x_fit, y_fit), (x_val, y_val), hook, callbacks)
    return (
        model,
        history,
        seconds,
        {
            "train": mnist_images,
            "validation": len(x_val),
            "conventions": with_mnist - mnist_images,
            "realworld": len(x_fit) - with_mnist,
        },
    )


def write_figures(
    directory: Path,
    name: str,
    history: dict,
    evaluation,
    x_test: np.ndarray,
    y_test: np.ndarray,
    probabilities: np.ndarray,
) -> None:
    plots.save(plots.training_curves(history), directory / "curves.png")
    plots.save_test_figures(directory, name, evaluation, x_test, y_test, probabilities)


LITERT_EXPORT = "8-bit weights, activations quantised as they are computed (LiteRT dynamic-range quantisation)"


def export_litert(model, path: Path) -> None:
    """The LiteRT file the reader runs, its weights in 8 bits.

    LiteRT's XNNPACK kernels run such a model several times faster on one core (`strong`: 0.44 -> 0.13 ms an
    image, docs/speed.md) and it reads as the float model does (MNIST test, folds and dev sets, docs/models.md);
    inputs and outputs stay float, so nothing that feeds or reads the network changes.
    """
    import tensorflow as tf

    model.export(str(path), format="litert", verbose=False, optimizations=[tf.lite.Optimize.DEFAULT])


def save_model(
    model,
    out: Path,
    card: dict,
    history: dict,
    test: data.Split,
    hook: ProgressHook,
    scores: Callable[[Classifier], dict] = lambda classifier: {},
) -> dict:
    """Export ``model``, evaluate it on the test set and swap it into ``out`` atomically; returns its card.

    ``card`` holds what the caller knows (architecture, config, data used); every card also gets the
    parameter count, library versions, test-set figures, history, and ``scores`` of the exported model.
    """
    x_test, y_test = test
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a model directory should be readable like any other
    try:
        hook(Progress("save", message="exporting the model for LiteRT"))
        model.save(staging / "model.keras")
        export_litert(model, staging / MODEL_FILE)
        hook(Progress("evaluate", message="evaluating on the test set"))
        classifier = load_classifier(staging)
        probabilities = classifier.predict_batch(x_test)
        evaluation = evaluate_probabilities(probabilities, y_test)
        card = {
            "name": out.name,
            "parameters": int(model.count_params()),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            **card,
            "litert": LITERT_EXPORT,
            "library_versions": library_versions(),
            "test_images": evaluation.count,
            "test_accuracy": round(evaluation.accuracy, 6),
            "per_class_accuracy": evaluation.per_class_accuracy,
            "confusion_matrix": evaluation.confusion_matrix,
            **scores(classifier),
            # this process's so far; a re-export keeps the training run's own
            "peak_memory_mb": card.get("peak_memory_mb")
            or round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "history": {k: [round(v, 6) for v in values] for k, values in history.items()},
        }
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2))
        write_figures(staging, out.name, history, evaluation, x_test, y_test, probabilities)
        atomic_replace_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    hook(Progress("done", message=f"saved {out} (test accuracy {card['test_accuracy']:.2%})", history=history))
    return card


def train(
    cfg: TrainConfig, out: Path | None = None, hook: ProgressHook = lambda p: None, mnist=None, realworld=None
) -> dict:
    """Train, evaluate on the test set, export and save ``out`` atomically; returns the model card.

    ``realworld`` as in `fit`; the card records its counts and manifest checksum, never its pictures."""
    from digitlib.training.augment import AugmentConfig
    from digitlib.training.conventions import CONVENTIONS

    cfg.validate()
    out = Path(out) if out else MODELS_DIR / cfg.arch
    mnist = mnist or data.load_mnist(cfg.data_dir)
    base = read_card(model_dir(cfg.init_from)) if cfg.init_from else None
    if realworld is None and cfg.realworld_dir:
        realworld = load_realworld(cfg.realworld_dir)
    model, history, seconds, sizes = fit(cfg, hook, mnist, (), realworld)
    card = {
        "architecture": base["architecture"] if base else cfg.arch,
        "initialised_from": base
        and {
            key: base.get(key)
            for key in (
                "name",
                "epochs",
                "training_seconds",
                "augmentation",
                "conventions",
                "training_images",
                "convention_images",
                "realworld",
                "test_accuracy",
                "config",
                "history",
                "initialised_from",
            )
        },
        "config": asdict(cfg) | {"data_dir": None, "realworld_dir": None},
        "augmentation": AugmentConfig().as_dict() if cfg.augment else None,
        "conventions": {
            str(label): {"edit": edit.__name__, "share": share * cfg.conventions}
            for label, (edit, share) in CONVENTIONS.items()
        }
        if cfg.conventions
        else None,
        "training_images": sizes["train"],
        "convention_images": sizes["conventions"],  # edited copies added to the training images
        "validation_images": sizes["validation"],
        "realworld": realworld.summary()
        | {"repeat": cfg.realworld_repeat, "images": sizes["realworld"], "varied_copies": not cfg.augment}
        if realworld is not None
        else None,
        "epochs": cfg.epochs,
        "training_seconds": round(seconds, 1),
        "data_checksums_md5": data.file_checksums(cfg.data_dir),
    }
    return save_model(model, out, card, history, mnist[1], hook)
