"""The corrections store: what goes in comes back out, per owner, under concurrency too, on SQLite and on a real
PostgreSQL server; foreign files and databases stay untouched; uploads of earlier downloads are checked."""

from __future__ import annotations

import io
import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from digitlib import data
from digitlib.store.corrections import APPLICATION_ID, ENV_VAR, CorrectionStore, StoreError, default_path
from digitlib.store.files import npz_bytes, read_npz
from tests.support.databases import fresh_database, server_url


def digit_image(seed: int) -> np.ndarray:
    """A distinct (28, 28) uint8 image per seed."""
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


@pytest.fixture
def store(store_location) -> CorrectionStore:
    return CorrectionStore(store_location)


@pytest.fixture
def sqlite_store(tmp_path) -> CorrectionStore:
    return CorrectionStore(tmp_path / "corrections.sqlite3")


def test_new_store_is_a_versioned_wal_database(sqlite_store):
    conn = sqlite3.connect(sqlite_store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert [
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith("sqlite_")
    ] == ["corrections"]


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
    """16 sessions writing at once, each as its own owner, as the app's sessions share one store object."""

    def add_many(worker: int) -> list[int]:
        mine = store.for_owner(f"session-{worker}")
        return [i for n in range(20) for i in mine.add([digit_image(worker * 100 + n)], str(n % 10))]

    with ThreadPoolExecutor(16) as pool:
        ids = [i for chunk in pool.map(add_many, range(16)) for i in chunk]
    assert len(ids) == len(set(ids)) == 16 * 20
    assert [len(store.for_owner(f"session-{w}")) for w in range(16)] == [20] * 16
    assert [sum(store.for_owner(f"session-{w}").counts().values()) for w in range(16)] == [20] * 16


def add_from_another_process(location: str, worker: int) -> int:
    fresh = CorrectionStore(location, owner=f"session-{worker % 2}")  # each opens (and races to create) the store
    return len([fresh.add([digit_image(worker * 100 + n)], "5") for n in range(15)])


def test_many_processes_creating_and_adding_at_once_lose_nothing(store_location):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        added = pool.starmap(add_from_another_process, [(store_location, w) for w in range(6)])
    assert sum(added) == 90
    store = CorrectionStore(store_location)
    assert [store.for_owner(f"session-{n}").counts()[5] for n in (0, 1)] == [45, 45]
    assert len(store) == 0  # nothing leaked into the shared pool


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


def test_readers_do_not_create_tables_in_an_empty_server_database():
    url, drop = fresh_database(server_url())
    try:
        with pytest.raises(StoreError, match="no corrections stored"):
            CorrectionStore(url, create=False)
        assert sa.inspect(sa.create_engine(url)).get_table_names() == []
    finally:
        drop()


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
    CorrectionStore(store.path, owner="a-visitor").add([digit_image(3)], "1")  # not the shared pool's: not counted
    assert "2 corrections" in cli("corrections", "--store", store.path).stdout

    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    refused = cli("corrections", "--store", notes)
    assert refused.returncode == 2
    assert "not a SQLite database" in refused.stderr and "Traceback" not in refused.stderr
    assert notes.read_text() == "not a database"


def test_each_owner_sees_counts_exports_and_deletes_only_their_own_rows(store, tmp_path):
    alice, bob = store.for_owner("alice"), store.for_owner("bob")
    alice_ids = alice.add([digit_image(1), digit_image(2)], "12")
    bob.add([digit_image(3)], "3")
    store.add([digit_image(4)], "4")  # the shared pool

    assert (len(alice), len(bob), len(store)) == (2, 1, 1)
    assert bob.counts()[1] == bob.counts()[2] == 0 and bob.counts()[3] == 1
    assert [s.id for s in bob.samples()] != alice_ids and not set(s.id for s in bob.samples()) & set(alice_ids)
    assert bob.arrays()[1].tolist() == [3] and alice.arrays()[1].tolist() == [1, 2]
    assert bob.delete(alice_ids[0]) is False and store.delete(alice_ids[0]) is False
    assert len(alice) == 2
    (x, y), _ = data.load_mnist(bob.export_npz(tmp_path / "bob" / "mnist.npz").parent)
    assert y.tolist() == [3] and np.array_equal(x[0], digit_image(3))
    assert alice.delete(alice_ids[0]) is True and len(alice) == 1


def test_a_cap_per_owner_refuses_the_whole_batch_that_would_pass_it(store):
    visitor = store.for_owner("visitor")
    visitor.add([digit_image(1), digit_image(2)], "12", at_most=3)
    with pytest.raises(ValueError, match="at most 3 digits"):
        visitor.add([digit_image(3), digit_image(4)], "34", at_most=3)
    assert len(visitor) == 2
    store.for_owner("someone-else").add([digit_image(5), digit_image(6)], "56", at_most=3)  # caps are per owner


def test_old_sessions_are_forgotten_but_the_shared_pool_is_kept(store):
    store.for_owner("gone").add([digit_image(1)], "1")
    store.add([digit_image(2)], "2")
    assert store.forget_sessions(timedelta(hours=1)) == 0
    assert store.forget_sessions(timedelta(seconds=-5)) == 1  # everything is older than five seconds from now
    assert len(store.for_owner("gone")) == 0 and len(store) == 1


def test_a_download_uploaded_again_restores_the_same_digits(store):
    visitor = store.for_owner("visitor")
    visitor.add([digit_image(i) for i in range(4)], "2718")
    x, y = read_npz(npz_bytes(*visitor.arrays()), max_samples=10)
    later = store.for_owner("the-same-person-next-week")
    later.add_arrays(x, y)
    assert np.array_equal(later.arrays()[0], visitor.arrays()[0]) and later.arrays()[1].tolist() == [2, 7, 1, 8]


def npz_of(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def npy_of(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


GOOD_X, GOOD_Y = np.stack([digit_image(1), digit_image(2)]), np.array([3, 4], np.uint8)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"just some text", "not a NumPy .npz"),
        (b"", "not a NumPy .npz"),
        (npz_of(x_train=GOOD_X, y_train=GOOD_Y)[:200], "not a NumPy .npz|can't be read"),
        (npy_of(GOOD_X), "no x_train"),
        (npz_of(images=GOOD_X, labels=GOOD_Y), "no x_train"),
        (npz_of(x_train=GOOD_X.astype(np.float32), y_train=GOOD_Y), "must be uint8 digits of 28x28"),
        (npz_of(x_train=GOOD_X[:, :20], y_train=GOOD_Y), "must be uint8 digits of 28x28"),
        (npz_of(x_train=GOOD_X, y_train=np.array([3, 12])), "one label 0-9"),
        (npz_of(x_train=GOOD_X, y_train=GOOD_Y[:1]), "one label 0-9"),
        (npz_of(x_train=GOOD_X, y_train=np.array(["3", "4"])), "one label 0-9"),
        (npz_of(x_train=np.array([None, 1], dtype=object), y_train=GOOD_Y), "can't be read"),
        (npz_of(x_train=GOOD_X[:0], y_train=GOOD_Y[:0]), "no digits"),
        (npz_of(x_train=np.zeros((11, 28, 28), np.uint8), y_train=np.zeros(11, np.uint8)), "more than 10 digits"),
        (
            npz_of(x_train=np.zeros((100_000, 28, 28), np.uint8), y_train=np.zeros(100_000, np.uint8)),
            "more than 10 digits",
        ),  # 78 MB of zeros in a 76 kB file: refused before decompression
    ],
    ids=[
        "text",
        "empty",
        "truncated",
        "npy",
        "other-keys",
        "float",
        "20x28",
        "label-12",
        "labels-short",
        "label-strings",
        "pickled-objects",
        "no-digits",
        "too-many",
        "zip-bomb",
    ],
)
def test_a_bad_upload_of_a_download_is_refused_with_a_reason(upload, message):
    with pytest.raises(ValueError, match=message):
        read_npz(upload, max_samples=10)


def test_a_version_1_file_is_upgraded_and_its_rows_join_the_shared_pool(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE corrections (id INTEGER PRIMARY KEY AUTOINCREMENT, label INTEGER NOT NULL, "
        "created TEXT NOT NULL, image BLOB NOT NULL, original BLOB)"
    )
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO corrections (label, created, image) VALUES (7, '2026-01-01T00:00:00+00:00', ?)",
        (digit_image(7).tobytes(),),
    )
    conn.commit()
    conn.close()
    store = CorrectionStore(path)
    assert store.counts()[7] == 1 and store.for_owner("visitor").counts()[7] == 0
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    store.for_owner("visitor").add([digit_image(1)], "1")
    assert len(CorrectionStore(path)) == 1


def test_a_server_database_with_someone_elses_corrections_table_is_left_untouched():
    url, drop = fresh_database(server_url())
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE corrections (note TEXT)")
            conn.exec_driver_sql("INSERT INTO corrections VALUES ('theirs')")
        with pytest.raises(StoreError, match="did not make"):
            CorrectionStore(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT note FROM corrections").all() == [("theirs",)]
            assert sa.inspect(conn).get_table_names() == ["corrections"]
    finally:
        engine.dispose()
        drop()


def test_a_server_database_of_a_newer_schema_is_refused():
    url, drop = fresh_database(server_url())
    try:
        CorrectionStore(url)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE digitlib_schema SET version = 99")
        engine.dispose()
        with pytest.raises(StoreError, match="schema version 99"):
            CorrectionStore(url)
    finally:
        drop()


def test_messages_never_show_the_database_password():
    with pytest.raises(StoreError) as error:  # no server needed: nothing listens on port 9
        CorrectionStore("postgresql://digitlib:s3cret-pw@127.0.0.1:9/digitlib")
    assert "s3cret-pw" not in str(error.value) and "***" in str(error.value)


def test_a_plain_postgresql_url_uses_the_installed_driver():
    url, drop = fresh_database(server_url())
    try:
        plain = CorrectionStore(url.replace("postgresql+psycopg://", "postgres://"), owner="visitor")
        plain.add([digit_image(1)], "1")
        assert plain.engine.dialect.driver == "psycopg" and len(CorrectionStore(url, owner="visitor")) == 1
        plain.engine.dispose()
    finally:
        drop()
