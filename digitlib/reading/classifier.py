"""Inference on the exported LiteRT model: (N, 28, 28) MNIST-format images -> (N, 10) probabilities.

Fast to load, fast to run, no TensorFlow import; finding the digits in a picture is the reader's job.

A model lives in ``models/<name>/`` as ``model.tflite`` plus ``card.json`` (written by train.py).  The shipped
models are the repository's top-level ``models/``; an installed wheel carries their two files as
``digitlib/models/`` (pyproject maps the folder into the package), and ``$DIGITLIB_MODELS_DIR`` overrides both.
LiteRT interpreters are not thread-safe, so each one is guarded by a lock; one interpreter is
kept at batch size 1 for interactive predictions and another at a fixed chunk size for batches,
so neither pays for re-allocating tensors.  The batch one is built on first use: an app that only
predicts single images starts faster and holds ~25 MB less without it.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from digitlib.reading.temperature import TEMPERATURE_RANGE, temper

MODELS_DIR_VAR = "DIGITLIB_MODELS_DIR"
# The model that reads best the hands it never saw (realworld-train's leave-repositories-out folds, 682 of 683
# against compact's 681, and no confident error against one: docs/realworld-training.md), at 3x compact's cost
DEFAULT_MODEL = "strong"
MODEL_FILE, CARD_FILE = "model.tflite", "card.json"
FLOAT_WEIGHTS = "float32 weights"  # what a file holds whose card names no "litert" format (exported before 8 bits)
BATCH_CHUNK = 256
BATCH_THREADS: int | None = None  # LiteRT threads of the batch interpreter; None: every core (a worker pool sets 1)
FEW_IMAGES = 16  # up to this many images run one by one on the batch-1 interpreter
LOADED_KEPT = 32  # classifiers kept loaded by load_classifier (each ~1-10 MB); the app has a few models, not more


def shipped_models_dir() -> Path:
    """$DIGITLIB_MODELS_DIR, else the models inside an installed wheel, else the repository's models/."""
    if os.environ.get(MODELS_DIR_VAR):
        return Path(os.environ[MODELS_DIR_VAR])
    package = Path(__file__).resolve().parents[1]
    installed = package / "models"
    return installed if installed.is_dir() else package.parent / "models"


MODELS_DIR = shipped_models_dir()


class ModelError(Exception):
    """A model is missing or damaged; the message names the file and what to do."""


def model_dir(name_or_path: str | os.PathLike | None = None) -> Path:
    """A shipped model's name (``"baseline"``) or a path to a model directory."""
    name_or_path = name_or_path or DEFAULT_MODEL
    path = Path(name_or_path)
    return path if path.is_dir() or os.sep in str(name_or_path) else MODELS_DIR / str(name_or_path)


def available_models(models_dir: Path = MODELS_DIR) -> list[str]:
    """Names of model directories that hold an exported model."""
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir() if (p / MODEL_FILE).is_file() and not p.name.startswith("."))


def read_card(directory: Path) -> dict:
    path = directory / CARD_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"{path}: model card is not valid JSON ({exc}). Retrain with `python -m digitlib train`."
        ) from None


def weights_format(card: dict) -> str:
    """How the model's LiteRT file holds its weights, as its card says (FLOAT_WEIGHTS for an older card)."""
    return card.get("litert", FLOAT_WEIGHTS)


def card_temperature(card: dict, directory: Path) -> float:
    """The calibration temperature stored in a model card (1: an uncalibrated model's own probabilities)."""
    temperature = (card.get("calibration") or {}).get("temperature", 1.0)
    low, high = TEMPERATURE_RANGE  # what `calibrate` can fit
    if not isinstance(temperature, (int, float)) or not low <= temperature <= high:
        raise ModelError(
            f"{directory / CARD_FILE}: calibration temperature {temperature!r} is not a sensible positive "
            "number. Recalibrate with `python -m digitlib calibrate`."
        )
    return float(temperature)


class LockedInterpreter:
    """One LiteRT interpreter at a fixed batch size, safe to call from many threads."""

    def __init__(self, model_bytes: bytes, batch: int, threads: int, source: Path):
        try:
            self.interpreter = Interpreter(model_content=model_bytes, num_threads=threads)
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self.interpreter.resize_tensor_input(self.input["index"], [batch, 28, 28, 1])
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError, IndexError) as exc:
            raise ModelError(
                f"{source}: not a usable LiteRT model ({exc}). Re-export it with `python -m digitlib train`."
            ) from None
        if self.output["shape"][-1] != 10:
            raise ModelError(f"{source}: model outputs {self.output['shape']} instead of 10 digit probabilities.")
        self.batch = batch
        self.lock = threading.Lock()

    def run(self, x: np.ndarray) -> np.ndarray:
        """x: (batch, 28, 28, 1) float32 -> (batch, 10)."""
        with self.lock:
            self.interpreter.set_tensor(self.input["index"], x)
            self.interpreter.invoke()
            return self.interpreter.get_tensor(self.output["index"]).copy()


class Classifier:
    """A trained digit model ready for predictions; see ``load_classifier``."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.name = directory.name
        path = directory / MODEL_FILE
        try:
            model_bytes = path.read_bytes()
        except FileNotFoundError:
            raise ModelError(
                f"{path}: model file not found. Train it with `python -m digitlib train --out {directory}` "
                f"or pick one of: {', '.join(available_models()) or 'none shipped'}."
            ) from None
        except OSError as exc:
            raise ModelError(
                f"{path}: model file cannot be read ({exc.strerror}). Replace it, or retrain it with "
                f"`python -m digitlib train --out {directory}`."
            ) from None
        if not model_bytes:
            raise ModelError(
                f"{path}: model file is empty. Retrain it with `python -m digitlib train --out {directory}`."
            )
        self.card = read_card(directory)
        self.temperature = card_temperature(self.card, directory)
        self.model_bytes = model_bytes
        self.single = LockedInterpreter(model_bytes, 1, 1, path)

    @cached_property
    def batched(self) -> LockedInterpreter:
        """The interpreter for batches, all cores at BATCH_CHUNK images per call (built on first use)."""
        threads = BATCH_THREADS or os.cpu_count() or 1
        return LockedInterpreter(self.model_bytes, BATCH_CHUNK, threads, self.directory / MODEL_FILE)

    def predict_prepared(self, images: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """(N, 28, 28) float32 images in [0, 1], already MNIST-format -> (N, 10) calibrated probabilities (or the
        network's own, which decisions tuned on them use: the calibration must not change what is read)."""
        x = np.ascontiguousarray(images, dtype=np.float32).reshape(-1, 28, 28, 1)
        out = np.empty((len(x), 10), dtype=np.float32)
        chunk = BATCH_CHUNK
        for start in range(0, len(x), chunk):
            part = x[start : start + chunk]
            if len(part) <= FEW_IMAGES:  # a handful (a number's digits): padding a whole chunk would cost more
                out[start : start + len(part)] = [self.single.run(image[None])[0] for image in part]
                continue
            if len(part) < chunk:
                part = np.concatenate([part, np.zeros((chunk - len(part), 28, 28, 1), np.float32)])
            out[start : start + chunk] = self.batched.run(part)[: len(x) - start]
        return temper(out, self.temperature) if calibrated else out

    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        """(N, 28, 28) MNIST-format images (uint8 0-255, or float in [0, 1]) -> (N, 10) probabilities."""
        x = np.asarray(x)
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"predict_batch expects (N, 28, 28) images, got shape {x.shape}")
        if len(x) == 0:
            return np.zeros((0, 10), dtype=np.float32)
        scale = 255.0 if np.issubdtype(x.dtype, np.integer) else 1.0  # int64 pixels are 0-255 too
        return self.predict_prepared(x.astype(np.float32) / scale)


_loaded: OrderedDict[Path, tuple[tuple, Classifier]] = OrderedDict()
_loading = threading.Lock()


def file_versions(directory: Path) -> tuple:
    """What tells one version of a model's files from another: inode, size and modification time of each."""
    stamps = []
    for name in (MODEL_FILE, CARD_FILE):
        try:
            found = (directory / name).stat()
            stamps.append((found.st_ino, found.st_size, found.st_mtime_ns))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


def load_classifier(name_or_path: str | os.PathLike | None = None) -> Classifier:
    """The shipped default model, a shipped model by name (``"baseline"``), or a model directory.

    The same files give the same loaded classifier (thread-safe, no new interpreter): building one costs more than a
    whole reading.  A retrained or recalibrated model (new files) is loaded afresh.
    """
    directory = model_dir(name_or_path)
    key = directory.resolve()
    with _loading:
        version = file_versions(directory)
        kept = _loaded.get(key)
        if kept is not None and kept[0] == version:
            _loaded.move_to_end(key)
            return kept[1]
        classifier = Classifier(directory)
        _loaded[key] = (version, classifier)
        _loaded.move_to_end(key)
        while len(_loaded) > LOADED_KEPT:
            _loaded.popitem(last=False)
        return classifier
