"""The one list of architectures and training presets: the CLI, the app and training all read it.

Plain data, no Keras: checking a setting or listing the recipes answers at once instead of after
TensorFlow's multi-second import.  The Keras builders live in `architectures.py` (a test keeps the two
lists equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Architecture:
    name: str
    summary: str  # one line for menus and help


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("compact", "small batch-norm CNN, one conv at 28x28, 14x14 and 7x7, ~0.13M parameters"),
        Architecture("strong", "VGG-style conv pairs with batch norm and dropout, ~0.55M parameters"),
        Architecture("baseline", "a plain CNN: two convs, two pools, a dense layer, ~0.23M parameters"),
        Architecture("fast", "small batch-norm CNN, ~0.16M parameters"),
        Architecture("quick", "a strided conv and one more, ~0.04M parameters"),
        Architecture("resnet", "a small residual network"),
    )
}


@dataclass(frozen=True)
class Preset:
    """A named training recipe: settings that override `TrainConfig`'s defaults."""

    name: str
    summary: str  # what it reaches, for menus and help
    settings: dict = field(default_factory=dict)
    # Seconds of training per training image per epoch on a busy 2-core machine, for the app's time estimate
    # (None: not offered in the app).  "quick": 60,000 images in 10.8 s; "fast": 1 / its 559 images/s in
    # benchmarks/results.md; "compact": 15 augmented epochs of 54,000 images in 2,134 s on one core; the others from
    # digitlib.training.train.fit on 3,000 images.
    seconds_per_image: float | None = None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        # The app's default run: aims at >= 98.5% test accuracy within 30 s of the click on 2 cores, TensorFlow's
        # import, export and scoring included (one epoch of all 60,000 images reached 99.14%: docs/speed.md).
        Preset(
            "quick",
            "one epoch, about 99% in half a minute",
            dict(
                arch="quick",
                epochs=1,
                learning_rate=1e-2,
                val_fraction=0.0,
                augment=False,
                label_smoothing=0.1,
                ema=True,
            ),
            0.00018,
        ),
        # How the shipped models are trained: the augmented recipe with the handwriting conventions, then two clean
        # "polish" epochs at a low learning rate (docs/models.md).
        Preset(
            "compact",
            "augmentation and handwriting conventions, about 99.6%; the shipped one also learnt real handwriting",
            dict(arch="compact", conventions=1.0),
            0.0026,
        ),
        # Tuned for wall time to 99.5% MNIST test accuracy on 2 CPU cores (`python -m digitlib bench` measures it).
        Preset(
            "fast",
            "the quickest to 99.5%: three clean epochs",
            dict(
                arch="fast",
                epochs=3,
                learning_rate=3e-3,
                val_fraction=0.0,
                augment=False,
                label_smoothing=0.1,
                ema=True,
            ),
            0.0018,
        ),
        Preset(
            "baseline",
            "the plain reference CNN, 12 clean epochs, about 99.2%",
            dict(arch="baseline", epochs=12, augment=False),
            0.0017,
        ),
        Preset(
            "strong",
            "the largest model with augmentation and conventions, 99.7%; the default, three times slower than compact",
            dict(arch="strong", conventions=1.0),
            0.0107,
        ),
    )
}

APP_PRESETS = [name for name, preset in PRESETS.items() if preset.seconds_per_image is not None]
