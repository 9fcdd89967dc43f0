"""What the model looked at: occlusion sensitivity over the 28x28 input, on the LiteRT path.

Occlusion needs only forward passes, so it runs on the exported model without TensorFlow: every
patch of the image is blanked in turn (to the black MNIST background), the blanked copies go
through the network, and a pixel's saliency is the average drop in the predicted digit's
probability over the patches that cover it.  Ink the digit depends on lights up; empty paper
cannot, since blanking it changes nothing: patches without ink are not run at all.
"""

from __future__ import annotations

import json
import threading
import warnings
import weakref
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from digitlib.reading.classifier import FEW_IMAGES, Classifier
from digitlib.reading.temperature import temper

PATCH = 4  # pixels; about a stroke's width in MNIST
STRIDE = 2  # 13x13 patch positions, of which a drawn digit inks about 70


def as_unit_float(image28: np.ndarray) -> np.ndarray:
    """A (28, 28) MNIST-format image, uint8 0-255 or float in [0, 1], as float32 in [0, 1]."""
    image = np.asarray(image28)
    if image.shape != (28, 28):
        raise ValueError(f"expected a (28, 28) MNIST-format image, got shape {image.shape}")
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    image = image.astype(np.float32) / scale
    if not np.isfinite(image).all():
        raise ValueError("the image holds NaN or infinite values")
    return np.clip(image, 0.0, 1.0)


def patch_corners(patch: int = PATCH, stride: int = STRIDE) -> list[tuple[int, int]]:
    """Top-left corners of patches tiling 28x28 with overlap, the last row and column flush with the edge."""
    starts = sorted(set(range(0, 28 - patch + 1, stride)) | {28 - patch})
    return [(top, left) for top in starts for left in starts]


def saliency(
    classifier: Classifier, image28: np.ndarray, digit: int | None = None, patch: int = PATCH, stride: int = STRIDE
) -> np.ndarray:
    """(28, 28) float32 in [0, 1]: how much each pixel supports ``digit`` (default: the predicted one).

    1 marks the pixels whose blanking costs the most probability; all zeros means no patch
    mattered (e.g. an empty image).
    """
    if digit is not None and digit not in range(10):
        raise ValueError(f"digit must be 0-9, not {digit!r}")
    image = as_unit_float(image28)
    corners = [
        (top, left) for top, left in patch_corners(patch, stride) if image[top : top + patch, left : left + patch].any()
    ]  # blanking blank paper changes nothing
    batch = np.repeat(image[None], len(corners) + 1, axis=0)
    for i, (top, left) in enumerate(corners, start=1):
        batch[i, top : top + patch, left : left + patch] = 0.0
    # In runs of FEW_IMAGES, which predict_prepared reads one by one: a bigger batch is padded to a
    # whole chunk, ~0.1 s whatever the count, where ~70 single images take ~25 ms.
    probabilities = np.concatenate(
        [classifier.predict_prepared(batch[start : start + FEW_IMAGES]) for start in range(0, len(batch), FEW_IMAGES)]
    )
    target = int(probabilities[0].argmax()) if digit is None else digit
    drops = np.maximum(probabilities[0, target] - probabilities[1:, target], 0.0)

    total = np.zeros((28, 28), dtype=np.float32)
    cover = np.zeros((28, 28), dtype=np.float32)
    for top, left in patch_corners(patch, stride):
        cover[top : top + patch, left : left + patch] += 1.0
    for drop, (top, left) in zip(drops, corners):
        total[top : top + patch, left : left + patch] += drop
    heat = total / cover
    peak = heat.max()
    return heat / peak if peak > 0 else heat


def overlay(image28: np.ndarray, heat: np.ndarray, scale: int = 8, colormap: str = "viridis") -> np.ndarray:
    """An RGB uint8 picture (28*scale, 28*scale, 3): the digit in grey with the saliency as a heat map on top.

    Nearest-neighbour upscaling keeps the network's pixels visible as pixels; viridis reads the same to
    colour-blind eyes and in greyscale (dark = no influence, yellow = most).
    """
    from matplotlib import colormaps  # lazy: only displays need it

    grey = as_unit_float(image28)[..., None]
    heat = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    if heat.shape != (28, 28):
        raise ValueError(f"expected a (28, 28) saliency map, got shape {heat.shape}")
    colours = colormaps[colormap](heat)[..., :3]
    alpha = 0.75 * heat[..., None]
    rgb = (1 - alpha) * 0.6 * grey + alpha * colours
    rgb = (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)
    return np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)


# ---------------------------------------------------------------- inside the network: every layer's activations
#
# LiteRT keeps intermediate tensors when asked (``experimental_preserve_all_tensors``), so one forward pass on
# the exported model yields every layer's output, still without TensorFlow.  The .tflite file knows its ops but
# not the Keras layer names; those come from the ``config.json`` inside ``model.keras``, matched op for layer in
# order (conv, batch norm and ReLU are fused into one op on export, so one conv op is one Keras Conv2D).

STAGE_KINDS = {
    "CONV_2D": "conv",
    "MAX_POOL_2D": "pool",
    "AVERAGE_POOL_2D": "pool",
    "FULLY_CONNECTED": "dense",
    "SOFTMAX": "output",
}
KERAS_CLASSES = {"conv": "Conv2D", "pool": "MaxPooling2D", "dense": "Dense"}


@dataclass(frozen=True)
class Stage:
    """One step on the path from the 28x28 input to the ten probabilities."""

    name: str  # the Keras layer's name ("conv2d_1"), or "conv 2" when model.keras can't tell
    kind: str  # "conv", "pool", "dense" or "output"
    activation: np.ndarray  # (H, W, C) for conv and pool, (units,) for dense and output


def keras_layer_names(directory: Path) -> dict[str, list[str]]:
    """Kind -> the Keras layer names of that kind in network order, from model.keras; empty when unknown.

    Only Sequential models: their layers are listed in the order they run, which is what matching by order needs.
    """
    try:
        with zipfile.ZipFile(directory / "model.keras") as archive:
            config = json.loads(archive.read("config.json"))
        layers = config["config"]["layers"] if config["class_name"] == "Sequential" else []
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return {}
    return {
        kind: [layer["config"]["name"] for layer in layers if layer["class_name"] == keras_class]
        for kind, keras_class in KERAS_CLASSES.items()
    }


class LayerProbe:
    """A batch-1 interpreter that keeps every intermediate tensor, with the ops worth showing, in order."""

    def __init__(self, classifier: Classifier):
        with warnings.catch_warnings():  # the warning is about memory: a few hundred kB for these networks
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")
            self.interpreter = Interpreter(
                model_content=classifier.model_bytes,
                num_threads=1,
                experimental_preserve_all_tensors=True,
                # without the default XNNPACK delegate, every op runs on its own and writes its own output
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.interpreter.resize_tensor_input(self.input, [1, 28, 28, 1])
        self.interpreter.allocate_tensors()
        ops = [op for op in self.interpreter._get_ops_details() if op["op_name"] in STAGE_KINDS]  # noqa: SLF001
        kinds = [STAGE_KINDS[op["op_name"]] for op in ops]
        names = keras_layer_names(classifier.directory)
        if any(len(names.get(kind, [])) != kinds.count(kind) for kind in KERAS_CLASSES):
            names = {kind: [f"{kind} {i}" for i in range(1, kinds.count(kind) + 1)] for kind in KERAS_CLASSES}
        names["output"] = ["softmax"]
        taken = {kind: iter(names[kind]) for kind in names}
        self.stages = [(next(taken[kind]), kind, int(op["outputs"][0])) for kind, op in zip(kinds, ops)]
        self.first_filters = int(ops[kinds.index("conv")]["inputs"][1]) if "conv" in kinds else None
        self.lock = threading.Lock()

    def run(self, image: np.ndarray) -> list[Stage]:
        with self.lock:
            self.interpreter.set_tensor(self.input, image.reshape(1, 28, 28, 1))
            self.interpreter.invoke()
            return [
                Stage(name, kind, self.interpreter.get_tensor(index)[0].copy()) for name, kind, index in self.stages
            ]


_probes: weakref.WeakKeyDictionary[Classifier, LayerProbe] = weakref.WeakKeyDictionary()
_probes_lock = threading.Lock()


def layer_probe(classifier: Classifier) -> LayerProbe:
    """One probe per loaded classifier, built on first use and dropped with it."""
    with _probes_lock:
        if classifier not in _probes:
            _probes[classifier] = LayerProbe(classifier)
        return _probes[classifier]


def network_path(classifier: Classifier, image28: np.ndarray) -> list[Stage]:
    """Every conv, pooling and dense layer's output for one MNIST-format image, then the ten probabilities (with
    the model's calibration temperature, as every reading shows them)."""
    *layers, output = layer_probe(classifier).run(as_unit_float(image28))
    return [*layers, replace(output, activation=temper(output.activation[None], classifier.temperature)[0])]


def feature_maps(classifier: Classifier, image28: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(layer name, activations of shape (H, W, C)) for every convolution and pooling layer, in network order."""
    return [
        (stage.name, stage.activation) for stage in network_path(classifier, image28) if stage.kind in ("conv", "pool")
    ]


def first_layer_filters(classifier: Classifier) -> np.ndarray:
    """The first convolution's kernels as (height, width, input channels, filters), Keras' layout.

    Exported with batch norm folded in, so each filter is scaled by its channel's normalisation: the shapes
    are the learned ones, the contrast between filters is what the network actually applies.
    """
    probe = layer_probe(classifier)
    if probe.first_filters is None:
        raise ValueError(f"{classifier.directory}: the model has no convolution layer")
    with probe.lock:
        return np.transpose(probe.interpreter.get_tensor(probe.first_filters), (1, 2, 3, 0)).copy()


def channel_grid(
    maps: np.ndarray,
    columns: int = 8,
    limit: int | None = None,
    scale: int = 4,
    order: list[int] | None = None,
    signed: bool = False,
    gap: int = 2,
) -> tuple[np.ndarray, list[int]]:
    """(H, W, C) activations as one RGB picture of tiles, the strongest channel first (or in ``order``), and the
    channels shown.

    Channels rank by their peak: a stroke detector that fires hard on the digit comes before one that glows
    faintly over the whole background (ranking by the mean put those first).  All tiles share one scale (the
    layer's strongest response), so a dim tile is a weak channel, not a stretched one; ``gap`` white pixels keep
    the tiles apart.  ``signed`` (for weights) maps -peak..peak to blue..red with white for zero; otherwise
    0..peak runs black to yellow.
    """
    from matplotlib import colormaps  # lazy: only displays need it

    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"expected (height, width, channels) maps, got shape {maps.shape}")
    if order is None:
        order = [int(c) for c in np.argsort(-maps.max(axis=(0, 1)), kind="stable")]
    order = order[:limit]
    peak = max(float(np.abs(maps).max()), 1e-12)
    levels = (maps / peak + 1) / 2 if signed else np.clip(maps / peak, 0, 1)
    colormap = colormaps["RdBu_r" if signed else "magma"]
    height, width = maps.shape[0] * scale, maps.shape[1] * scale
    rows = -(-len(order) // columns)
    grid = np.ones((rows * (height + gap) - gap, min(columns, len(order)) * (width + gap) - gap, 3), np.float32)
    for position, channel in enumerate(order):
        tile = colormap(levels[..., channel])[..., :3]
        top, left = (position // columns) * (height + gap), (position % columns) * (width + gap)
        grid[top : top + height, left : left + width] = np.kron(tile, np.ones((scale, scale, 1)))
    return (grid * 255).round().astype(np.uint8), order
