"""The corrections users make, kept in SQLite so the model can learn their handwriting.

One table, one row per corrected digit: the 28x28 image the network saw (784 bytes), the right
label, when, and the original upload.  WAL mode, a connection per operation and a busy timeout
let many app sessions, threads and processes write at once without losing a row.  A file is
created only where no file or an empty one stands, and used only if it carries our application
id; anything else (a corrupt file, another program's database) is reported and never written to.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from digitlib.data import write_idx

ENV_VAR = "DIGITLIB_STORE"
FILE_NAME = "corrections.sqlite3"
APPLICATION_ID = 0x44474C42  # "DGLB" in the SQLite header marks the file as a digitlib store
SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_SECONDS = 30.0
MAX_ORIGINAL_BYTES = 20 * 2**20

SCHEMA = """
CREATE TABLE corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    created TEXT NOT NULL,
    image BLOB NOT NULL CHECK (length(image) = 784),
    original BLOB
)
"""


class StoreError(Exception):
    """The corrections database can't be used; the message names the file and what to do."""


@dataclass(frozen=True)
class Sample:
    id: int
    label: int
    created: str  # ISO 8601, UTC
    image: np.ndarray  # (28, 28) uint8, MNIST format
    original: bytes | None  # the image the user uploaded or drew, if it was kept


def default_path() -> Path:
    """$DIGITLIB_STORE, else corrections.sqlite3 in the user's data directory (never inside the repository)."""
    import platformdirs

    chosen = os.environ.get(ENV_VAR)
    return Path(chosen).expanduser() if chosen else Path(platformdirs.user_data_dir("digitlib")) / FILE_NAME


def to_uint8(image28: np.ndarray) -> np.ndarray:
    """A (28, 28) MNIST-format image (uint8, or float in [0, 1]) as uint8 0-255."""
    image = np.asarray(image28)
    if image.shape != (28, 28):
        raise ValueError(f"a correction must be a (28, 28) MNIST-format image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float64)
    if not np.isfinite(image).all():
        raise ValueError("a correction image holds NaN or infinite values")
    return (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)


def parse_label(label: str, count: int) -> list[int]:
    """One digit per image: "42" labels two images, 4 then 2."""
    label = str(label).strip()
    if not (label.isascii() and label.isdigit()):
        raise ValueError(f"the right answer must be digits 0-9, not {label!r}")
    if len(label) != count:
        raise ValueError(f"{label!r} has {len(label)} digit(s) but {count} digit image(s) were given")
    return [int(d) for d in label]


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


class CorrectionStore:
    """Corrected digits in a SQLite file: add, count, browse, delete, export as MNIST data."""

    def __init__(self, path: str | os.PathLike | None = None, create: bool = True):
        """Open the store at ``path`` (default: see `default_path`); ``create=False`` for readers that
        should not leave an empty database behind a mistyped path."""
        self.path = Path(path).expanduser() if path else default_path()
        if not create and not self.path.exists():
            raise StoreError(f"{self.path}: no corrections database here yet; correct a reading in the app first "
                             f"or give the right path (--store PATH or ${ENV_VAR}).")
        self.prepare()

    def __repr__(self) -> str:
        return f"CorrectionStore({str(self.path)!r})"

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection per operation: safe across threads and processes; sqlite errors become StoreError."""
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)) as conn:
                yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: corrections database failed ({exc}).") from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (no deadlock upgrading a read lock)."""
        with self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def foreign(self, detail: str) -> StoreError:
        return StoreError(
            f"{self.path}: {detail}, so it is not a digitlib corrections database. It was left untouched; "
            f"move it away or choose another file (--store PATH or ${ENV_VAR})."
        )

    def prepare(self) -> None:
        """Check that the file is ours (or create it), then switch it to WAL mode."""
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory; give the path of a database file instead.")
        try:
            with open(self.path, "rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except FileNotFoundError:
            head = b""
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot be read ({exc}).") from None
        if head and head != SQLITE_MAGIC:
            raise self.foreign("the file is not a SQLite database (corrupt, or some other kind of file)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create the folder for the corrections database ({exc}).") from None

        with self.connection() as conn:
            try:
                if not head:  # no file yet, or an empty one: make it ours
                    conn.execute("BEGIN IMMEDIATE")
                    if self.identity(conn) == (0, 0, 0):  # no other process created it meanwhile
                        conn.execute(SCHEMA)
                        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    conn.execute("COMMIT")
                application_id, version, _ = self.identity(conn)
            except sqlite3.DatabaseError as exc:
                if exc.sqlite_errorname not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                    raise  # e.g. busy or unwritable: reported as a failure, not as a foreign file
                raise self.foreign(f"SQLite cannot read it ({exc})") from None
            if application_id != APPLICATION_ID:
                raise self.foreign("it belongs to another program (its SQLite application id is not digitlib's)")
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: corrections database has schema version {version}, this digitlib reads "
                    f"version {SCHEMA_VERSION}. Upgrade digitlib, or export it with the version that wrote it."
                )
            conn.execute("PRAGMA journal_mode = WAL")

    @staticmethod
    def identity(conn: sqlite3.Connection) -> tuple[int, int, int]:
        """(application id, schema version, number of tables): all zero for a brand-new file."""
        return (
            conn.execute("PRAGMA application_id").fetchone()[0],
            conn.execute("PRAGMA user_version").fetchone()[0],
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0],
        )

    def add(self, images28: list[np.ndarray], label: str, original: bytes | None = None) -> list[int]:
        """Store corrected digits, one label digit per image, all or none; returns their ids."""
        digits = parse_label(label, len(images28))
        pixels = [to_uint8(image).tobytes() for image in images28]
        if original is not None:
            original = bytes(original)
            if len(original) > MAX_ORIGINAL_BYTES:
                raise ValueError(f"the original image is {len(original) / 2**20:.1f} MB; at most "
                                 f"{MAX_ORIGINAL_BYTES / 2**20:.0f} MB is kept")
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self.transaction() as conn:
            return [
                conn.execute("INSERT INTO corrections (label, created, image, original) VALUES (?, ?, ?, ?)",
                             (digit, created, image, original)).lastrowid
                for digit, image in zip(digits, pixels)
            ]

    def __len__(self) -> int:
        with self.connection() as conn:
            return conn.execute("SELECT count(*) FROM corrections").fetchone()[0]

    def counts(self) -> dict[int, int]:
        """Samples collected per digit, all ten digits present."""
        with self.connection() as conn:
            found = dict(conn.execute("SELECT label, count(*) FROM corrections GROUP BY label").fetchall())
        return {digit: found.get(digit, 0) for digit in range(10)}

    def samples(self, limit: int = 100, offset: int = 0, digit: int | None = None) -> list[Sample]:
        """A page of samples, newest first, optionally of one digit only."""
        where, args = ("WHERE label = ?", [int(digit)]) if digit is not None else ("", [])
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT id, label, created, image, original FROM corrections {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                [*args, int(limit), int(offset)],
            ).fetchall()
        return [Sample(i, label, created, np.frombuffer(image, np.uint8).reshape(28, 28), original)
                for i, label, created, image, original in rows]

    def delete(self, sample_id: int) -> bool:
        """Remove one sample; False if there was none with that id."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM corrections WHERE id = ?", (int(sample_id),)).rowcount > 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All samples, oldest first, as MNIST-style arrays: x uint8 (N, 28, 28), y uint8 (N,)."""
        with self.connection() as conn:
            rows = conn.execute("SELECT label, image FROM corrections ORDER BY id").fetchall()
        x = np.frombuffer(b"".join(image for _, image in rows), np.uint8).reshape(-1, 28, 28)
        return x.copy(), np.array([label for label, _ in rows], dtype=np.uint8)

    def export_npz(self, path: str | os.PathLike) -> Path:
        """Keras mnist.npz layout: every sample in x_train/y_train, an empty test split."""
        x, y = self.arrays()

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, x_train=x, y_train=y, x_test=x[:0], y_test=y[:0])

        return atomic_write(Path(path), write)

    def export_idx(self, directory: str | os.PathLike, prefix: str = "corrections") -> tuple[Path, Path]:
        """An MNIST IDX pair, ``PREFIX-images-idx3-ubyte.gz`` and ``PREFIX-labels-idx1-ubyte.gz``."""
        x, y = self.arrays()
        directory = Path(directory)
        return (
            atomic_write(directory / f"{prefix}-images-idx3-ubyte.gz", lambda tmp: write_idx(tmp, x)),
            atomic_write(directory / f"{prefix}-labels-idx1-ubyte.gz", lambda tmp: write_idx(tmp, y)),
        )
