"""Find and load MNIST without surprises.

Lookup order: an explicit directory (``--data-dir`` / ``DIGITLIB_DATA_DIR``), the Keras cache
(``~/.keras/datasets/mnist.npz``), then a Keras download when online.  Every file is checked
(magic number, shape, count, label range) so a truncated or foreign file is named in one clear
message instead of surfacing later as a confusing traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from digitlib.training.tensorflow_startup import quiet_tensorflow_startup

ENV_VAR = "DIGITLIB_DATA_DIR"
KERAS_CACHE = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801

Split = tuple[np.ndarray, np.ndarray]

HOW_TO_FIX = (
    f"Point digitlib at a folder holding the four MNIST IDX .gz files ({', '.join(IDX_FILES.values())}) "
    f"or a Keras-layout mnist.npz: pass --data-dir DIR or set {ENV_VAR}=DIR. "
    "When online, leaving both unset downloads MNIST with Keras."
)


class DataError(Exception):
    """MNIST could not be found or a file is damaged; the message says which file and what to do."""


def read_idx(path: Path) -> np.ndarray:
    """Parse one gzip (or raw) IDX file of images (N,rows,cols) or labels (N,) as uint8."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found. {HOW_TO_FIX}") from None
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError; a corrupt stream is zlib.error
        raise DataError(f"{path}: not a readable gzip IDX file ({exc}). Replace it with a fresh copy.") from None
    if len(raw) < 8:
        raise DataError(f"{path}: too short to be an IDX file ({len(raw)} bytes). Replace it with a fresh copy.")
    magic, count = struct.unpack(">II", raw[:8])
    if magic == IMAGE_MAGIC:
        if len(raw) < 16:
            raise DataError(f"{path}: image header is truncated. Replace it with a fresh copy.")
        rows, cols = struct.unpack(">II", raw[8:16])
        shape, offset = (count, rows, cols), 16
    elif magic == LABEL_MAGIC:
        shape, offset = (count,), 8
    else:
        raise DataError(f"{path}: magic number {magic:#010x} is not an MNIST IDX image or label file.")
    expected = int(np.prod(shape))
    if len(raw) - offset != expected:
        raise DataError(
            f"{path}: header promises {expected} bytes of data but the file holds {len(raw) - offset}; "
            "it is truncated or damaged. Replace it with a fresh copy."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write uint8 images (N, rows, cols) or labels (N,) as a gzip IDX file, the inverse of `read_idx`."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim == 3:
        header = struct.pack(">IIII", IMAGE_MAGIC, *array.shape)
    elif array.ndim == 1:
        header = struct.pack(">II", LABEL_MAGIC, len(array))
    else:
        raise ValueError(f"IDX holds images (N, rows, cols) or labels (N,), not shape {array.shape}")
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())
    return path


def validate(x: np.ndarray, y: np.ndarray, name: str, source: str, labels_source: str | None = None) -> Split:
    """Check that images and labels look like MNIST so training never starts on junk.

    ``source`` names where the images came from, ``labels_source`` the labels when they are a separate file.
    """
    labels_source = labels_source or source
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DataError(f"{source}: {name} images have shape {x.shape}, expected (N, 28, 28).")
    if not np.issubdtype(x.dtype, np.integer):
        raise DataError(f"{source}: {name} images must hold integer pixels 0-255, found {x.dtype}.")
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise DataError(f"{labels_source}: {name} labels must be a list of integers, found {y.dtype} {y.shape}.")
    if len(y) != len(x):
        both = source if labels_source == source else f"{source} and {labels_source}"
        raise DataError(f"{both}: {name} has {len(x)} images but {len(y)} labels.")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{labels_source}: {name} labels must be digits 0-9, found {int(y.min())}..{int(y.max())}.")
    return x.astype(np.uint8, copy=False), y.astype(np.uint8, copy=False)


def load_idx_dir(directory: Path) -> tuple[Split, Split]:
    paths = {key: directory / name for key, name in IDX_FILES.items()}
    arrays = {key: read_idx(path) for key, path in paths.items()}
    return (
        validate(arrays["x_train"], arrays["y_train"], "training set", str(paths["x_train"]), str(paths["y_train"])),
        validate(arrays["x_test"], arrays["y_test"], "test set", str(paths["x_test"]), str(paths["y_test"])),
    )


def load_npz(path: Path) -> tuple[Split, Split]:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in IDX_FILES}
    except KeyError as exc:
        raise DataError(f"{path}: missing array {exc}; expected x_train, y_train, x_test, y_test.") from None
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile, zlib.error) as exc:  # TypeError: a bare .npy
        raise DataError(f"{path}: not a readable .npz file ({exc}). Replace it with a fresh copy.") from None
    return (
        validate(arrays["x_train"], arrays["y_train"], "training set", str(path)),
        validate(arrays["x_test"], arrays["y_test"], "test set", str(path)),
    )


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The directory the user asked for: argument first, then the environment variable."""
    chosen = data_dir or os.environ.get(ENV_VAR)
    return Path(chosen).expanduser() if chosen else None


def source_files(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The files `load_mnist` would read, for checksums in model cards."""
    directory = resolve_data_dir(data_dir)
    if directory is None:
        return [KERAS_CACHE] if KERAS_CACHE.exists() else []
    if all((directory / name).exists() for name in IDX_FILES.values()):
        return [directory / name for name in IDX_FILES.values()]
    return [directory / "mnist.npz"]


def load_mnist(data_dir: str | os.PathLike | None = None) -> tuple[Split, Split]:
    """Return ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, or raise DataError."""
    directory = resolve_data_dir(data_dir)
    if directory is not None:
        if not directory.is_dir():
            raise DataError(f"{directory}: data directory does not exist. {HOW_TO_FIX}")
        if any((directory / name).exists() for name in IDX_FILES.values()):
            return load_idx_dir(directory)
        if (directory / "mnist.npz").exists():
            return load_npz(directory / "mnist.npz")
        raise DataError(f"{directory}: holds neither the MNIST IDX files nor mnist.npz. {HOW_TO_FIX}")
    if KERAS_CACHE.exists():
        return load_npz(KERAS_CACHE)
    return download_with_keras()


def download_with_keras() -> tuple[Split, Split]:
    """Last resort: Keras' own download (needs TensorFlow and the internet)."""
    quiet_tensorflow_startup()
    try:
        from keras.datasets import mnist  # lazy: pulls in the training stack

        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no network / no keras"
        raise DataError(f"MNIST is not on this machine and the Keras download failed ({exc}). {HOW_TO_FIX}") from None
    return validate(x_train, y_train, "training set", "keras"), validate(x_test, y_test, "test set", "keras")


def file_checksums(data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """md5 of each data file used, so a model card says exactly which MNIST it was trained on."""
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in source_files(data_dir) if p.exists()}
