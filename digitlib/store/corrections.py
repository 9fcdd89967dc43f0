"""The corrections users make, kept in a SQL database so the model can learn their handwriting.

One table, one row per corrected digit: who it belongs to (``owner``), the 28x28 image the network
saw (784 bytes), the right label, when, and optionally the original picture.  A store object is one
owner's view: an app session sees, deletes and exports only the rows of its own random owner id;
``SHARED`` is the pool that visitors contribute to on purpose and the app's owner manages.

The database is a SQLite file by default (WAL mode, a connection per operation, a busy timeout and
``BEGIN IMMEDIATE`` for writes, so many sessions, threads and processes write at once without losing
a row), or any SQLAlchemy URL, PostgreSQL being the reference for hosted deployments whose disk is
not kept.  A SQLite file is created only where no file or an empty one stands and used only if it
carries our application id; a server database only if its ``corrections`` table is ours.  Anything
else (a corrupt file, another program's database) is reported and never written to.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from digitlib.data import write_idx
from digitlib.store import StoreError
from digitlib.store.files import atomic_write, npz_bytes

ENV_VAR = "DIGITLIB_STORE"  # a file path or a SQLAlchemy URL
FILE_NAME = "corrections.sqlite3"
APPLICATION_ID = 0x44474C42  # "DGLB" in the SQLite header marks the file as a digitlib store
SCHEMA_VERSION = 2  # 2 added the owner column; version 1 files are upgraded, their rows joining the shared pool
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_SECONDS = 30.0
MAX_ORIGINAL_BYTES = 20 * 2**20
SHARED = "shared"  # the owner of the shared pool; session owners are random hex ids, never this word
CREATION_LOCK = 0x44474C42  # PostgreSQL advisory lock held while the tables are created

metadata = sa.MetaData()
corrections = sa.Table(
    "corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner", sa.String(64), nullable=False, index=True),
    sa.Column("label", sa.SmallInteger, sa.CheckConstraint("label BETWEEN 0 AND 9"), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("image", sa.LargeBinary, sa.CheckConstraint("length(image) = 784"), nullable=False),
    sa.Column("original", sa.LargeBinary),
    sqlite_autoincrement=True,
)
# Server databases have no application id: this one-row table says the tables are digitlib's, and which version.
schema_table = sa.Table("digitlib_schema", metadata, sa.Column("version", sa.Integer, nullable=False))
SQLITE_UPGRADE_FROM_1 = [
    f"ALTER TABLE corrections ADD COLUMN owner VARCHAR(64) NOT NULL DEFAULT '{SHARED}'",
    "CREATE INDEX ix_corrections_owner ON corrections (owner)",
]


@dataclass(frozen=True)
class Sample:
    id: int
    label: int
    created: str  # ISO 8601, UTC
    image: np.ndarray  # (28, 28) uint8, MNIST format
    original: bytes | None  # the image the user uploaded or drew, if it was kept


def default_location() -> str:
    """$DIGITLIB_STORE (a path or a URL), else corrections.sqlite3 in the user's data directory (never the
    repository)."""
    import platformdirs

    return os.environ.get(ENV_VAR) or str(Path(platformdirs.user_data_dir("digitlib")) / FILE_NAME)


def default_path() -> Path:
    return Path(default_location()).expanduser()


def is_url(location: str | os.PathLike) -> bool:
    return "://" in str(location)


def with_installed_driver(url: str) -> str:
    """Hosted PostgreSQL providers hand out postgres:// or postgresql:// URLs, which SQLAlchemy would open with
    psycopg2; this project installs psycopg (3)."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


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


def sqlite_engine(path: Path) -> sa.Engine:
    """SQLite through SQLAlchemy, with SQLite's own transactions: reads BEGIN, writes BEGIN IMMEDIATE (the write
    lock up front, so two writers never deadlock upgrading a read lock) and DDL inside transactions."""
    engine = sa.create_engine(
        sa.URL.create("sqlite", database=str(path)), poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}
    )

    @sa.event.listens_for(engine, "connect")
    def driver_leaves_transactions_alone(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


class CorrectionStore:
    """One owner's corrected digits in a SQL database: add, count, browse, delete, export as MNIST data."""

    def __init__(self, location: str | os.PathLike | None = None, create: bool = True, owner: str = SHARED):
        """Open the store at ``location``, a SQLite file path or a SQLAlchemy URL (default: see `default_location`);
        ``create=False`` for readers that should not leave an empty database behind a mistyped path."""
        location = location or default_location()
        self.owner = owner
        self.url = str(location) if is_url(location) else None
        self.path = None if self.url else Path(location).expanduser()
        if self.path is not None:
            self.location = str(self.path)  # what messages name: the file, or the URL without its password
            self.engine = self.open_sqlite(create)
        else:
            try:
                self.engine = sa.create_engine(with_installed_driver(self.url), pool_pre_ping=True)
            except (sa.exc.ArgumentError, ImportError) as exc:
                raise StoreError(f"{self.url.split('://')[0]}://…: not a usable database URL ({exc}).") from None
            self.location = self.engine.url.render_as_string(hide_password=True)
            self.url = self.engine.url.render_as_string(hide_password=False)
            self.prepare_server(create)
        self.address = self.url or self.location  # what another process opens; may hold a password: never show it

    def __repr__(self) -> str:
        return f"CorrectionStore({self.location!r}, owner={self.owner!r})"

    def for_owner(self, owner: str) -> CorrectionStore:
        """The same database (and connections), seen as another owner's rows."""
        view = copy.copy(self)
        view.owner = owner
        return view

    @contextmanager
    def connection(self, write: bool = False) -> Iterator[sa.Connection]:
        """One transaction; database errors become StoreError naming the database (never its password)."""
        engine = self.engine.execution_options(write=True) if write else self.engine
        try:
            with engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"{self.location}: corrections database failed ({getattr(exc, 'orig', None) or exc})."
            ) from None

    def foreign(self, detail: str) -> StoreError:
        return StoreError(
            f"{self.location}: {detail}, so it is not a digitlib corrections database. It was left untouched; "
            f"move it away or choose another database (--store PATH_OR_URL or ${ENV_VAR})."
        )

    def wrong_version(self, version: int) -> StoreError:
        return StoreError(
            f"{self.location}: corrections database has schema version {version}, this digitlib reads "
            f"version {SCHEMA_VERSION}. Upgrade digitlib, or export it with the version that wrote it."
        )

    def open_sqlite(self, create: bool) -> sa.Engine:
        """Check that the file is ours (or create it, or upgrade it), then switch it to WAL mode."""
        path = self.path
        if not create and not path.exists():
            raise StoreError(
                f"{path}: no corrections database here yet; correct a reading in the app first "
                f"or give the right path (--store PATH or ${ENV_VAR})."
            )
        if path.is_dir():
            raise StoreError(f"{path}: is a directory; give the path of a database file instead.")
        try:
            with open(path, "rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except FileNotFoundError:
            head = b""
        except OSError as exc:
            raise StoreError(f"{path}: cannot be read ({exc}).") from None
        if head and head != SQLITE_MAGIC:
            raise self.foreign("the file is not a SQLite database (corrupt, or some other kind of file)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path.parent}: cannot create the folder for the corrections database ({exc}).") from None

        engine = sqlite_engine(path)
        try:
            with engine.execution_options(write=not head).begin() as conn:
                application_id, version, tables = self.sqlite_identity(conn)
                if (application_id, version, tables) == (0, 0, 0) and not head:  # brand new: make it ours
                    metadata.create_all(conn, tables=[corrections])
                    conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    application_id, version = APPLICATION_ID, SCHEMA_VERSION
            if application_id != APPLICATION_ID:
                raise self.foreign("it belongs to another program (its SQLite application id is not digitlib's)")
            if version == 1:
                self.upgrade_sqlite_from_1(engine)
            elif version != SCHEMA_VERSION:
                raise self.wrong_version(version)
            with engine.connect() as conn:  # outside any transaction, where SQLite allows the switch
                conn.connection.driver_connection.execute("PRAGMA journal_mode = WAL")
        except sa.exc.DBAPIError as exc:
            if getattr(exc.orig, "sqlite_errorname", None) not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise StoreError(f"{path}: corrections database failed ({exc.orig}).") from None
            raise self.foreign(f"SQLite cannot read it ({exc.orig})") from None
        return engine

    @staticmethod
    def sqlite_identity(conn: sa.Connection) -> tuple[int, int, int]:
        """(application id, schema version, number of tables): all zero for a brand-new file."""
        return (
            conn.exec_driver_sql("PRAGMA application_id").scalar(),
            conn.exec_driver_sql("PRAGMA user_version").scalar(),
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar(),
        )

    def upgrade_sqlite_from_1(self, engine: sa.Engine) -> None:
        """Version 1 had no owner: its rows were everyone's, so they join the shared pool."""
        with engine.execution_options(write=True).begin() as conn:
            if conn.exec_driver_sql("PRAGMA user_version").scalar() == 1:  # not upgraded by another process meanwhile
                for statement in SQLITE_UPGRADE_FROM_1:
                    conn.exec_driver_sql(statement)
                conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def prepare_server(self, create: bool) -> None:
        """Create the tables if none are there (one creator at a time), else check they are ours and current."""
        with self.connection(write=True) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATION_LOCK})
            tables = set(sa.inspect(conn).get_table_names())
            if schema_table.name not in tables:
                if corrections.name in tables:
                    raise self.foreign("it already has a 'corrections' table that digitlib did not make")
                if not create:
                    raise StoreError(f"{self.location}: no corrections stored in this database yet.")
                metadata.create_all(conn)
                conn.execute(schema_table.insert().values(version=SCHEMA_VERSION))
            version = conn.execute(sa.select(schema_table.c.version)).scalar()
        if version != SCHEMA_VERSION:
            raise self.wrong_version(version)

    def mine(self) -> sa.ColumnElement[bool]:
        return corrections.c.owner == self.owner

    def add(
        self, images28: list[np.ndarray], label: str, original: bytes | None = None, at_most: int | None = None
    ) -> list[int]:
        """Store corrected digits, one label digit per image, all or none; returns their ids.

        ``at_most`` caps this owner's rows: a batch that would pass it is refused whole (ValueError).
        """
        digits = parse_label(label, len(images28))
        pixels = [to_uint8(image).tobytes() for image in images28]
        if original is not None:
            original = bytes(original)
            if len(original) > MAX_ORIGINAL_BYTES:
                raise ValueError(
                    f"the original image is {len(original) / 2**20:.1f} MB; at most "
                    f"{MAX_ORIGINAL_BYTES / 2**20:.0f} MB is kept"
                )
        return self.insert(digits, pixels, original, at_most)

    def add_arrays(self, x: np.ndarray, y: np.ndarray, at_most: int | None = None) -> list[int]:
        """Store MNIST-style arrays (e.g. from `read_npz`), all or none."""
        return self.insert([int(label) for label in y], [to_uint8(image).tobytes() for image in x], None, at_most)

    def insert(self, digits: list[int], pixels: list[bytes], original: bytes | None, at_most: int | None) -> list[int]:
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self.connection(write=True) as conn:
            if at_most is not None:
                # Checked in the same transaction (on PostgreSQL two racing inserts may pass it by one batch).
                held = conn.execute(sa.select(sa.func.count()).where(self.mine())).scalar()
                if held + len(digits) > at_most:
                    raise ValueError(
                        f"at most {at_most} digits are kept per visitor and {held} already are; "
                        "download them and delete some first"
                    )
            return [
                conn.execute(
                    corrections.insert().values(
                        owner=self.owner, label=digit, created=created, image=image, original=original
                    )
                ).inserted_primary_key[0]
                for digit, image in zip(digits, pixels, strict=True)
            ]

    def __len__(self) -> int:
        with self.connection() as conn:
            return conn.execute(sa.select(sa.func.count()).where(self.mine())).scalar()

    def counts(self) -> dict[int, int]:
        """Samples collected per digit, all ten digits present."""
        query = sa.select(corrections.c.label, sa.func.count()).where(self.mine()).group_by(corrections.c.label)
        with self.connection() as conn:
            found = dict(conn.execute(query).all())
        return {digit: found.get(digit, 0) for digit in range(10)}

    def samples(self, limit: int = 100, offset: int = 0, digit: int | None = None) -> list[Sample]:
        """A page of samples, newest first, optionally of one digit only."""
        c = corrections.c
        query = sa.select(c.id, c.label, c.created, c.image, c.original).where(self.mine())
        if digit is not None:
            query = query.where(c.label == int(digit))
        with self.connection() as conn:
            rows = conn.execute(query.order_by(c.id.desc()).limit(int(limit)).offset(int(offset))).all()
        return [
            Sample(i, label, created, np.frombuffer(image, np.uint8).reshape(28, 28), original)
            for i, label, created, image, original in rows
        ]

    def delete(self, sample_id: int) -> bool:
        """Remove one of this owner's samples; False if this owner has none with that id."""
        with self.connection(write=True) as conn:
            deleted = conn.execute(corrections.delete().where(self.mine(), corrections.c.id == int(sample_id)))
            return deleted.rowcount > 0

    def forget_sessions(self, older_than: timedelta) -> int:
        """Delete every session's rows (not the shared pool) older than ``older_than``; returns how many.
        A session's owner id dies with its browser tab, so its rows could never be seen again."""
        cutoff = (datetime.now(UTC) - older_than).isoformat(timespec="seconds")
        with self.connection(write=True) as conn:
            return conn.execute(
                corrections.delete().where(corrections.c.owner != SHARED, corrections.c.created < cutoff)
            ).rowcount

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All of this owner's samples, oldest first, as MNIST-style arrays: x uint8 (N, 28, 28), y uint8 (N,)."""
        query = sa.select(corrections.c.label, corrections.c.image).where(self.mine()).order_by(corrections.c.id)
        with self.connection() as conn:
            rows = conn.execute(query).all()
        x = np.frombuffer(b"".join(image for _, image in rows), np.uint8).reshape(-1, 28, 28)
        return x.copy(), np.array([label for label, _ in rows], dtype=np.uint8)

    def export_npz(self, path: str | os.PathLike) -> Path:
        """Keras mnist.npz layout: every sample in x_train/y_train, an empty test split."""
        data = npz_bytes(*self.arrays())
        return atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))

    def export_idx(self, directory: str | os.PathLike, prefix: str = "corrections") -> tuple[Path, Path]:
        """An MNIST IDX pair, ``PREFIX-images-idx3-ubyte.gz`` and ``PREFIX-labels-idx1-ubyte.gz``."""
        x, y = self.arrays()
        directory = Path(directory)
        return (
            atomic_write(directory / f"{prefix}-images-idx3-ubyte.gz", lambda tmp: write_idx(tmp, x)),
            atomic_write(directory / f"{prefix}-labels-idx1-ubyte.gz", lambda tmp: write_idx(tmp, y)),
        )
