"""MNIST loading: both layouts, where it is looked for, and a clear DataError for every damaged file."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitlib import data
from digitlib.data import IDX_FILES, DataError, load_mnist


def tiny_mnist(seed: int = 0, n_train: int = 12, n_test: int = 5) -> dict[str, np.ndarray]:
    """Random MNIST-shaped arrays; the seed makes datasets distinguishable."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_idx_dir(directory: Path, arrays: dict[str, np.ndarray]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for key, name in IDX_FILES.items():
        data.write_idx(directory / name, arrays[key])
    return directory


def write_npz_dir(directory: Path, arrays: dict[str, np.ndarray]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(directory / "mnist.npz", **arrays)
    return directory


LAYOUTS = {"idx": write_idx_dir, "npz": write_npz_dir}


def assert_loaded(loaded, arrays: dict[str, np.ndarray]) -> None:
    (x_train, y_train), (x_test, y_test) = loaded
    for key, got in zip(IDX_FILES, (x_train, y_train, x_test, y_test)):
        assert got.dtype == np.uint8, key
        np.testing.assert_array_equal(got, arrays[key], err_msg=key)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_loads_each_layout_exactly(tmp_path, layout):
    arrays = tiny_mnist()
    assert_loaded(load_mnist(LAYOUTS[layout](tmp_path, arrays)), arrays)


def test_explicit_directory_wins_over_the_environment(tmp_path, monkeypatch):
    from_env, explicit = tiny_mnist(seed=1), tiny_mnist(seed=2)
    monkeypatch.setenv(data.ENV_VAR, str(write_idx_dir(tmp_path / "env", from_env)))
    assert_loaded(load_mnist(write_npz_dir(tmp_path / "explicit", explicit)), explicit)
    assert_loaded(load_mnist(), from_env)


def test_keras_cache_is_used_when_no_directory_is_given(tmp_path, monkeypatch):
    arrays = tiny_mnist(seed=3)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "KERAS_CACHE", write_npz_dir(tmp_path, arrays) / "mnist.npz")
    monkeypatch.setattr(data, "download_with_keras", lambda: pytest.fail("downloaded although the cache exists"))
    assert_loaded(load_mnist(), arrays)
    assert data.source_files() == [tmp_path / "mnist.npz"]


def test_download_is_the_last_resort(tmp_path, monkeypatch):
    arrays = tiny_mnist(seed=4)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path / "absent.npz")
    monkeypatch.setattr(data, "download_with_keras", lambda: load_mnist(write_npz_dir(tmp_path, arrays)))
    assert_loaded(load_mnist(), arrays)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_checksums_name_the_files_read(tmp_path, layout):
    directory = LAYOUTS[layout](tmp_path, tiny_mnist())
    checksums = data.file_checksums(directory)
    expected_names = set(IDX_FILES.values()) if layout == "idx" else {"mnist.npz"}
    assert set(checksums) == expected_names
    for name, md5 in checksums.items():
        assert md5 == hashlib.md5((directory / name).read_bytes()).hexdigest()


# --- damaged data: each case damages a valid directory and names the file the message must mention.


def replace_idx(key: str, array: np.ndarray):
    def damage(directory: Path) -> Path:
        return data.write_idx(directory / IDX_FILES[key], array)

    return damage


def rewrite_gz(key: str, transform):
    """Replace one IDX file's decompressed bytes with transform(bytes)."""

    def damage(directory: Path) -> Path:
        path = directory / IDX_FILES[key]
        path.write_bytes(gzip.compress(transform(gzip.decompress(path.read_bytes()))))
        return path

    return damage


def rewrite_file(name: str, transform):
    def damage(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(transform(path.read_bytes()))
        return path

    return damage


def corrupt_deflate_stream(gz: bytes) -> bytes:
    """Break the first deflate block header (right after gzip's plain 10-byte header): zlib's own error."""
    damaged = bytearray(gzip.compress(gzip.decompress(gz)))
    for i in range(10, 14):
        damaged[i] ^= 0xFF
    return bytes(damaged)


def remove(name: str):
    def damage(directory: Path) -> Path:
        (directory / name).unlink()
        return directory / name

    return damage


def replace_npz(**changes):
    def damage(directory: Path) -> Path:
        arrays = {k: v for k, v in (tiny_mnist() | changes).items() if v is not None}
        np.savez(directory / "mnist.npz", **arrays)
        return directory / "mnist.npz"

    return damage


IDX_DAMAGE = {
    "bad magic": rewrite_gz("x_train", lambda raw: b"\x00\x00\x12\x34" + raw[4:]),
    "truncated images": rewrite_gz("x_test", lambda raw: raw[:-100]),
    "extra bytes": rewrite_gz("y_train", lambda raw: raw + b"\0"),
    "truncated header": rewrite_gz("x_train", lambda raw: raw[:12]),
    "empty file": rewrite_gz("y_test", lambda raw: b""),
    "not gzip": rewrite_file(IDX_FILES["x_train"], lambda gz: b"plain text, not gzip"),
    "truncated gzip": rewrite_file(IDX_FILES["x_test"], lambda gz: gz[: len(gz) // 2]),
    "corrupt gzip stream": rewrite_file(IDX_FILES["x_train"], corrupt_deflate_stream),
    "27x28 images": replace_idx("x_train", np.zeros((12, 27, 28), np.uint8)),
    "labels above 9": replace_idx("y_train", np.full(12, 10, np.uint8)),
    "label count differs": replace_idx("y_test", np.zeros(4, np.uint8)),
    "labels in image file": replace_idx("x_test", np.zeros(5, np.uint8)),
    "missing file": remove(IDX_FILES["y_test"]),
}

NPZ_DAMAGE = {
    "missing key": replace_npz(y_test=None),
    "wrong shape": replace_npz(x_test=np.zeros((5, 28), np.uint8)),
    "labels above 9": replace_npz(y_train=np.arange(12)),
    "negative labels": replace_npz(y_test=-np.ones(5, np.int64)),
    "float images": replace_npz(x_train=np.zeros((12, 28, 28), np.float32)),
    "truncated": rewrite_file("mnist.npz", lambda raw: raw[: len(raw) // 2]),
    "not a zip": rewrite_file("mnist.npz", lambda raw: b"<html>404</html>"),
    "bare .npy": rewrite_file("mnist.npz", lambda raw: npy_bytes(np.zeros(3))),
}


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("damage", IDX_DAMAGE.values(), ids=IDX_DAMAGE.keys())
def test_damaged_idx_file_is_named(tmp_path, damage):
    bad_file = damage(write_idx_dir(tmp_path, tiny_mnist()))
    assert_names_file(bad_file, tmp_path)


@pytest.mark.parametrize("damage", NPZ_DAMAGE.values(), ids=NPZ_DAMAGE.keys())
def test_damaged_npz_is_named(tmp_path, damage):
    bad_file = damage(write_npz_dir(tmp_path, tiny_mnist()))
    assert_names_file(bad_file, tmp_path)


def assert_names_file(bad_file: Path, directory: Path) -> None:
    """Loading fails with one line of DataError that gives the damaged file's full path."""
    with pytest.raises(DataError, match=re.escape(str(bad_file))) as raised:
        load_mnist(directory)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "make_dir", [lambda p: p / "absent", lambda p: p], ids=["directory does not exist", "directory is empty"]
)
def test_unusable_directory_says_what_to_do(tmp_path, make_dir):
    directory = make_dir(tmp_path)
    with pytest.raises(DataError, match=f"{directory}.*--data-dir"):
        load_mnist(directory)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(min_value=0), flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=4)
)
def test_any_damage_to_a_gzip_file_is_a_data_error(tmp_path, cut, flips):
    """Truncation and random byte flips anywhere give DataError (or, if harmless, the data), never another error."""
    directory = write_idx_dir(tmp_path / "fuzz", tiny_mnist())
    path = directory / IDX_FILES["y_train"]
    raw = bytearray(path.read_bytes())
    raw = raw[: cut % (len(raw) + 1)]
    for position, mask in flips:
        if raw:
            raw[position % len(raw)] ^= mask
    path.write_bytes(bytes(raw))
    try:
        load_mnist(directory)
    except DataError as exc:
        assert path.name in str(exc)


def test_genuine_mnist_loads_from_the_environment(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    assert x_train.dtype == np.uint8 and 200 < x_train.max() <= 255
