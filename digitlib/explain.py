"""What the model looked at: occlusion sensitivity over the 28x28 input, on the LiteRT path.

Occlusion needs only forward passes, so it runs on the exported model without TensorFlow: every
patch of the image is blanked in turn (to the black MNIST background), the blanked copies go
through the network, and a pixel's saliency is the average drop in the predicted digit's
probability over the patches that cover it.  Ink the digit depends on lights up; empty paper
cannot, since blanking it changes nothing: patches without ink are not run at all.
"""

from __future__ import annotations

import numpy as np

from digitlib.classifier import FEW_IMAGES, Classifier

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


def saliency(classifier: Classifier, image28: np.ndarray, digit: int | None = None,
             patch: int = PATCH, stride: int = STRIDE) -> np.ndarray:
    """(28, 28) float32 in [0, 1]: how much each pixel supports ``digit`` (default: the predicted one).

    1 marks the pixels whose blanking costs the most probability; all zeros means no patch
    mattered (e.g. an empty image).
    """
    if digit is not None and digit not in range(10):
        raise ValueError(f"digit must be 0-9, not {digit!r}")
    image = as_unit_float(image28)
    corners = [(top, left) for top, left in patch_corners(patch, stride)
               if image[top : top + patch, left : left + patch].any()]  # blanking blank paper changes nothing
    batch = np.repeat(image[None], len(corners) + 1, axis=0)
    for i, (top, left) in enumerate(corners, start=1):
        batch[i, top : top + patch, left : left + patch] = 0.0
    # In runs of FEW_IMAGES, which predict_prepared reads one by one: a bigger batch is padded to a
    # whole chunk, ~0.1 s whatever the count, where ~70 single images take ~25 ms.
    probabilities = np.concatenate([classifier.predict_prepared(batch[start : start + FEW_IMAGES])
                                    for start in range(0, len(batch), FEW_IMAGES)])
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
