"""The corrections as files: the Keras-layout ``.npz`` a visitor downloads and may upload again later (checked
before a single digit of it is stored), and writing any export so that a failure never leaves half a file.

Apart from the database (``digitlib.store.corrections``), since the app reads and writes these bytes without a
store: the download is built from a session's rows, the upload is checked before it reaches one.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Write through a temporary sibling and rename, so a failed export never leaves a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def npz_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    """Keras mnist.npz layout: every sample in x_train/y_train, an empty test split."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=x, y_train=y, x_test=x[:0], y_test=y[:0])
    return buffer.getvalue()


def read_npz(data: bytes, max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The digits of an .npz this store exported (x_train uint8 (N, 28, 28), y_train 0-9), checked before use.

    Anything else raises ValueError saying what is wrong; members are sized from the zip directory
    before they are decompressed, so a small file can't expand into gigabytes.
    """
    problem = "is not a corrections .npz downloaded from this app"
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise ValueError(f"the file {problem} (it is not a NumPy .npz archive)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile) or not {"x_train", "y_train"} <= set(archive.files):
        raise ValueError(f"the file {problem}: it has no x_train and y_train arrays")
    limit = max_samples * 784 + 4096  # the images plus the .npy header
    too_many = ValueError(f"the file holds more than {max_samples} digits, more than one session keeps")
    if any(archive.zip.getinfo(f"{name}.npy").file_size > limit for name in ("x_train", "y_train")):
        raise too_many
    try:
        x, y = archive["x_train"], archive["y_train"]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"the file {problem}: its arrays can't be read ({exc})") from None
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"the file {problem}: x_train must be uint8 digits of 28x28, not {x.dtype} {x.shape}")
    if y.shape != (len(x),) or y.dtype.kind not in "iu" or (len(y) and not (0 <= y.min() and y.max() <= 9)):
        raise ValueError(f"the file {problem}: y_train must hold one label 0-9 per digit")
    if not len(x):
        raise ValueError("the file holds no digits")
    if len(x) > max_samples:
        raise too_many
    return x, y.astype(np.uint8)
