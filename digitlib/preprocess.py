"""Turn any image into the MNIST format the network was trained on.

MNIST recipe: white ink on black, the digit fitted into 20x20 keeping its aspect ratio, then
placed in 28x28 so that its centre of mass is at the centre.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage


class ImageError(ValueError):
    """The input is not an image we can read; the message says why."""


def load_image(source) -> Image.Image:
    """Open a path, bytes, file-like, PIL image or numpy array as an upright PIL image."""
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, np.ndarray):
        return Image.fromarray(np.asarray(source))
    else:
        if isinstance(source, (bytes, bytearray)):
            source = io.BytesIO(source)
        elif isinstance(source, (str, os.PathLike)):
            source = Path(source)
        try:
            image = Image.open(source)
            image.load()
        except FileNotFoundError:
            raise ImageError(f"{source}: file not found") from None
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
            raise ImageError(f"not a readable image ({exc})") from None
    return ImageOps.exif_transpose(image)


def to_grey_ink(image: Image.Image) -> np.ndarray:
    """Float image in [0, 1] with ink bright and background dark, whatever the input's polarity."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        if alpha.min() < 0.99:  # transparent background: the strokes are where alpha is
            return alpha
    grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return 1.0 - grey if np.median(border) > 0.5 else grey


def fit_20x20_centred(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink, fit into 20x20 with anti-aliasing, centre by centre of mass in 28x28."""
    rows, cols = np.nonzero(ink > 0.1 * ink.max()) if ink.max() > 0 else (np.array([]), np.array([]))
    if rows.size == 0:
        return np.zeros((28, 28), dtype=np.float32)
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = 20.0 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray((crop / crop.max() * 255).astype(np.uint8)).resize(size, Image.LANCZOS))
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - size[1]) // 2, (28 - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = small / 255.0
    cy, cx = ndimage.center_of_mass(canvas)
    shifted = ndimage.shift(canvas, (13.5 - cy, 13.5 - cx), order=1, mode="constant")
    return np.clip(shifted, 0.0, 1.0).astype(np.float32)


def to_mnist(source) -> np.ndarray:
    """Any image source -> (28, 28) float32 in [0, 1], MNIST style."""
    return fit_20x20_centred(to_grey_ink(load_image(source)))
