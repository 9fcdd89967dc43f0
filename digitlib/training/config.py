"""A training run's settings, checked before any work starts, and the presets that name them.

No TensorFlow here: the CLI and the app check settings instantly; `train.py` does the heavy work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from digitlib.zoo.registry import ARCHITECTURES, PRESETS


@dataclass
class TrainConfig:
    arch: str = "compact"
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 2e-3
    train_size: int | None = None  # None: all training images; smaller for quick runs
    val_fraction: float = 0.1
    augment: bool = True
    label_smoothing: float = (
        0.0  # targets of 1 - s for the true digit: less overconfidence, better accuracy in few epochs
    )
    ema: bool = False  # score and save an exponential moving average of the weights (smoother than the last step's)
    conventions: float = (
        0.0  # add edited copies in handwriting conventions MNIST lacks (conventions.py); 1 = its shares
    )
    seed: int = 0
    data_dir: str | None = None
    init_from: str | None = None  # continue training this model (name or directory) instead of a fresh network
    realworld_dir: str | None = None  # also learn from the single-digit pictures of this folder (realworld_data.py)
    realworld_repeat: int = 10  # each real picture this many times per epoch: 683 of them would vanish among 54,000

    def validate(self) -> None:
        """Reject nonsense settings before any work starts."""
        problems = []
        if self.arch not in ARCHITECTURES:
            problems.append(f"architecture must be one of {', '.join(ARCHITECTURES)}, not {self.arch!r}")
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= 500:
            problems.append(f"epochs must be a whole number from 1 to 500, not {self.epochs!r}")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= 8192:
            problems.append(f"batch size must be a whole number from 1 to 8192, not {self.batch_size!r}")
        if not 0 < self.learning_rate <= 1:
            problems.append(f"learning rate must be in (0, 1], not {self.learning_rate!r}")
        if self.train_size is not None and (not isinstance(self.train_size, int) or self.train_size < 100):
            problems.append(f"training-set size must be at least 100 images, not {self.train_size!r}")
        if not 0 <= self.val_fraction < 0.5:
            problems.append(f"validation fraction must be in [0, 0.5), not {self.val_fraction!r}")
        if not 0 <= self.label_smoothing < 0.5:
            problems.append(f"label smoothing must be in [0, 0.5), not {self.label_smoothing!r}")
        if not 0 <= self.conventions <= 3:
            problems.append(f"conventions strength must be in [0, 3], not {self.conventions!r}")
        if not isinstance(self.realworld_repeat, int) or not 1 <= self.realworld_repeat <= 100:
            problems.append(f"real-world repeat must be a whole number from 1 to 100, not {self.realworld_repeat!r}")
        if problems:
            raise ValueError("; ".join(problems))


def from_preset(name: str, **overrides) -> TrainConfig:
    """The named recipe (`zoo.registry.PRESETS`) with every setting that is not None replaced (CLI flags, app
    widgets)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, not {name!r}")
    settings = PRESETS[name].settings | {key: value for key, value in overrides.items() if value is not None}
    return replace(TrainConfig(), **settings)


def split_train_val(x: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> tuple[tuple, tuple]:
    """((x, y) to fit, (x, y) held out): the same seed gives the same split, so calibration finds the held-out
    digits again."""
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(x))
    if cfg.train_size is not None:
        order = order[: int(cfg.train_size / (1 - cfg.val_fraction))]
    n_val = int(len(order) * cfg.val_fraction)
    return (x[order[n_val:]], y[order[n_val:]]), (x[order[:n_val]], y[order[:n_val]])
