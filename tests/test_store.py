"""The corrections store: what goes in comes back out, under concurrency too, and foreign files stay untouched."""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from digitlib import data
from digitlib.store import APPLICATION_ID, ENV_VAR, CorrectionStore, StoreError, default_path


def digit_image(seed: int) -> np.ndarray:
    """A distinct (28, 28) uint8 image per seed."""
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


@pytest.fixture
def store(tmp_path) -> CorrectionStore:
    return CorrectionStore(tmp_path / "corrections.sqlite3")


def test_new_store_is_a_versioned_wal_database(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not name.startswith("sqlite_")] == ["corrections"]


def test_add_browse_delete(store):
    float_image = np.linspace(0, 1, 784, dtype=np.float32).reshape(28, 28)
    ids = store.add([digit_image(1), float_image, digit_image(2)], "407", original=b"the photo")
    more = store.add([digit_image(3)], "7")

    assert len(store) == 4
    assert store.counts() == {0: 1, 1: 0, 2: 0, 3: 0, 4: 1, 5: 0, 6: 0, 7: 2, 8: 0, 9: 0}
    newest_first = store.samples()
    assert [s.id for s in newest_first] == more + ids[::-1]
    assert [s.label for s in newest_first] == [7, 7, 0, 4]
    assert np.array_equal(newest_first[-1].image, digit_image(1))
    assert np.array_equal(newest_first[2].image, (float_image * 255).round().astype(np.uint8))
    assert newest_first[-1].original == b"the photo" and newest_first[0].original is None
    assert newest_first[0].created.endswith("+00:00")
    assert [s.id for s in store.samples(digit=7)] == [more[0], ids[2]]
    assert [s.id for s in store.samples(limit=2, offset=1)] == [ids[2], ids[1]]

    assert store.delete(ids[1]) is True
    assert store.delete(ids[1]) is False
    assert store.counts()[0] == 0 and len(store) == 3


@pytest.mark.parametrize(
    ("images", "label", "problem"),
    [
        ([digit_image(0)], "12", "3 digit"),
        ([digit_image(0)], "x", "digits 0-9"),
        ([digit_image(0)], "", "1 digit"),
        ([np.zeros((20, 20))], "1", "shape"),
        ([np.full((28, 28), np.nan)], "1", "NaN"),
    ],
)
def test_bad_corrections_are_refused_whole(store, images, label, problem):
    store.add([digit_image(9)], "9")
    with pytest.raises(ValueError, match=problem):
        store.add([digit_image(1), *images], "1" + label)
    assert len(store) == 1


def test_export_round_trips_through_the_data_loaders(store, tmp_path):
    images = [digit_image(i) for i in range(5)]
    store.add(images, "31415")
    x, y = store.arrays()
    assert x.dtype == np.uint8 and x.shape == (5, 28, 28)
    assert np.array_equal(x, np.stack(images)) and y.tolist() == [3, 1, 4, 1, 5]

    image_file, label_file = store.export_idx(tmp_path / "idx")
    assert np.array_equal(data.read_idx(image_file), x)
    assert np.array_equal(data.read_idx(label_file), y)

    npz_dir = tmp_path / "npz"
    store.export_npz(npz_dir / "mnist.npz")
    (x_train, y_train), (x_test, y_test) = data.load_mnist(npz_dir)
    assert np.array_equal(x_train, x) and np.array_equal(y_train, y)
    assert x_test.shape == (0, 28, 28) and y_test.shape == (0,)


def test_empty_store_exports_empty_arrays(store, tmp_path):
    x, y = store.arrays()
    assert x.shape == (0, 28, 28) and y.shape == (0,)
    assert data.read_idx(store.export_idx(tmp_path)[0]).shape == (0, 28, 28)


def test_many_threads_adding_at_once_lose_nothing(store):
    def add_many(worker: int) -> list[int]:
        return [i for n in range(20) for i in store.add([digit_image(worker * 100 + n)], str(n % 10))]

    with ThreadPoolExecutor(16) as pool:
        ids = [i for chunk in pool.map(add_many, range(16)) for i in chunk]
    assert len(ids) == len(set(ids)) == 16 * 20
    assert len(store) == 320 and sum(store.counts().values()) == 320


def add_from_another_process(path: str, worker: int) -> int:
    fresh = CorrectionStore(path)  # each process opens (and races to create) the store itself
    return len([fresh.add([digit_image(worker * 100 + n)], "5") for n in range(15)])


def test_many_processes_creating_and_adding_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "shared.sqlite3")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        added = pool.starmap(add_from_another_process, [(path, w) for w in range(6)])
    assert sum(added) == 90
    assert CorrectionStore(path).counts()[5] == 90


def foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('my shopping list')")
    conn.commit()
    conn.close()


def future_store(path: Path) -> None:
    CorrectionStore(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()


def corrupt_store(path: Path) -> None:
    CorrectionStore(path).add([digit_image(1)], "1")
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # the schema page overwritten: a damaged disk or a bad copy
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("just some notes, not a database\n"), "not a SQLite database"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)), "not a SQLite database"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8), "cannot read it"),
        (foreign_sqlite, "another program"),
        (future_store, "schema version 99"),
        (corrupt_store, "not a digitlib corrections database"),
    ],
    ids=["text", "png", "sqlite-header-then-junk", "other-program-db", "newer-schema", "damaged-store"],
)
def test_corrupt_or_foreign_file_is_reported_and_left_untouched(tmp_path, make, message):
    path = tmp_path / "corrections.sqlite3"
    make(path)
    for leftover in tmp_path.glob("corrections.sqlite3-*"):  # WAL side files of the setup's own connection
        leftover.unlink()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=message) as error:
        CorrectionStore(path)
    assert str(path) in str(error.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrections.sqlite3"]


def test_readers_do_not_create_a_store_behind_a_mistyped_path(tmp_path):
    with pytest.raises(StoreError, match="no corrections database here yet"):
        CorrectionStore(tmp_path / "typo.sqlite3", create=False)
    assert not list(tmp_path.iterdir())


def test_a_directory_is_not_a_store(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        CorrectionStore(tmp_path)


def test_path_comes_from_argument_then_environment_then_user_data_dir(tmp_path, monkeypatch, repo):
    import platformdirs

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env.sqlite3"))
    assert CorrectionStore().path == tmp_path / "from-env.sqlite3"
    assert CorrectionStore(tmp_path / "given.sqlite3").path == tmp_path / "given.sqlite3"
    monkeypatch.delenv(ENV_VAR)
    assert default_path().parent == Path(platformdirs.user_data_dir("digitlib"))
    assert repo not in default_path().parents


def test_cli_counts_exports_and_refuses_a_foreign_file(cli, tmp_path):
    store = CorrectionStore(tmp_path / "c.sqlite3")
    store.add([digit_image(1), digit_image(2)], "38")
    done = cli("corrections", "--store", store.path, "--npz", tmp_path / "out" / "mnist.npz", "--idx", tmp_path / "idx")
    assert done.returncode == 0, done.stderr
    assert "2 corrections" in done.stdout and "3: 1" in done.stdout and "8: 1" in done.stdout
    (x_train, y_train), _ = data.load_mnist(tmp_path / "out")
    assert y_train.tolist() == [3, 8]
    assert data.read_idx(tmp_path / "idx" / "corrections-labels-idx1-ubyte.gz").tolist() == [3, 8]

    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    refused = cli("corrections", "--store", notes)
    assert refused.returncode == 2
    assert "not a SQLite database" in refused.stderr and "Traceback" not in refused.stderr
    assert notes.read_text() == "not a database"
