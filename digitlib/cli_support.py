"""What the command line's commands share: the options several of them take (argparse parent parsers), the
training progress bar, and the checks that answer before TensorFlow's import."""

from __future__ import annotations

import argparse
import sys

from digitlib import data
from digitlib.reading.classifier import DEFAULT_MODEL, ModelError, model_dir, read_card


def option(*flags: str, **settings) -> argparse.ArgumentParser:
    """A parent parser holding one option, for `add_parser(..., parents=[...])`."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(*flags, **settings)
    return parent


DATA_DIR = option(
    "--data-dir",
    help=f"folder with the MNIST IDX .gz files or mnist.npz (default: ${data.ENV_VAR}, then the Keras cache)",
)
MODEL = option(
    "--model", default=DEFAULT_MODEL, help=f"model name in models/ or a model directory (default: {DEFAULT_MODEL})"
)
JSON = option("--json", action="store_true", help="print JSON instead of text")
STORE = option(
    "--store",
    help="corrections database: a SQLite file or a SQLAlchemy URL such as postgresql+psycopg://... "
    "(default: $DIGITLIB_STORE, then the user's data directory); the shared pool's digits are used",
)
SEED = option("--seed", type=int)


def whole_number(low: int, high: int | None = None, of: str = ""):
    """An argparse type: a whole number from ``low`` (to ``high``), refused with the range it must be in."""
    wanted = f"a whole number{of}{', ' if of else ' '}" + (
        f"from {low} to {high}" if high is not None else f"at least {low}"
    )

    def parse(value: str) -> int:
        if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
            raise argparse.ArgumentTypeError(f"must be {wanted}, not {value!r}")
        return int(value)

    return parse


def fraction_between(low: float, high: float):
    """An argparse type: a number strictly between ``low`` and ``high``, refused with the range it must be in."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not low < number < high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"must be a number between {low:g} and {high:g}, not {value!r}")
        return number

    return parse


def progress_bar():
    """Render training progress as one tqdm bar per epoch."""
    from tqdm import tqdm

    bar = None

    def hook(p) -> None:
        nonlocal bar
        if p.phase == "batch":
            if bar is None:
                bar = tqdm(total=p.batches, desc=f"epoch {p.epoch}/{p.epochs}", unit="batch", leave=True)
            bar.update(p.batch - bar.n)
            bar.set_postfix(loss=f"{p.logs.get('loss', 0):.4f}", acc=f"{p.logs.get('accuracy', 0):.4f}")
        elif p.phase == "epoch" and bar is not None:
            bar.set_postfix({k: f"{v:.4f}" for k, v in p.logs.items()})
            bar.close()
            bar = None
        elif p.message:
            print(p.message, file=sys.stderr)

    return hook


def require_keras_model(name: str | None, option: str) -> None:
    """Further training needs the model's Keras file: say so now, not after TensorFlow's import."""
    directory = model_dir(name)
    read_card(directory)  # a damaged card fails here too
    if not (directory / "model.keras").is_file():
        raise ModelError(
            f"{directory / 'model.keras'}: not found; {option} needs a model saved by `python -m digitlib train`."
        )
