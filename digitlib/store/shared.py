"""What several app servers on one database must agree on, kept in that database: the owner's trained models, the
wrong owner passwords, the one training run at a time, and the visitors' gifts to the shared pool.

One app server is one process, and Streamlit keeps a visitor's session on one of them (the proxy is sticky), so a
session's own state may stay in memory; what every visitor of every server sees or is limited by may not.  A
:class:`SharedState` adds a few tables beside the corrections (the same database, the same connections) and is used
only when the store is a server database: a SQLite file stays the single-server default, where memory and the
server's folder are the one truth.

Times are the servers' wall clocks (``time.time()``): the servers of one deployment keep their clocks in step.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from digitlib.store.corrections import CREATION_LOCK, CorrectionStore

MODEL_FILE, CARD_FILE = "model.tflite", "card.json"  # the files a model directory needs (digitlib.reading.classifier)
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # a folder name, never a path: it becomes one on disk
MAX_MODEL_BYTES = 64 * 2**20  # the largest shipped model is 2.2 MB; a bigger blob is refused, not stored

metadata = sa.MetaData()
models = sa.Table(
    "digitlib_models",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("card", sa.Text, nullable=False),
    sa.Column("model", sa.LargeBinary, nullable=False),
)
events = sa.Table(
    "digitlib_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
)
leases = sa.Table(
    "digitlib_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
)
quotas = sa.Table(
    "digitlib_quotas",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
)

settings = sa.Table(
    "digitlib_settings",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class Holding:
    """Who holds a lease, until when, and what they said they are doing."""

    holder: str
    expires: float
    note: str


class SharedState:
    """The shared tables of one database, through a corrections store's connections."""

    def __init__(self, store: CorrectionStore):
        self.store = store
        with store.connection(write=True) as conn:
            if conn.dialect.name == "postgresql":  # one creator at a time, as for the corrections table
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATION_LOCK})
            metadata.create_all(conn, checkfirst=True)

    def __repr__(self) -> str:
        return f"SharedState({self.store.location!r})"

    @staticmethod
    def insert(conn: sa.Connection, table: sa.Table):
        """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL and SQLite both do)."""
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif conn.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            raise NotImplementedError(f"shared state on {conn.dialect.name}: PostgreSQL or SQLite only")
        return insert(table)

    def upsert(self, conn: sa.Connection, table: sa.Table, values: dict) -> None:
        """Insert the row, or update the one with the same primary key (one statement, no race between servers)."""
        keys = [column.name for column in table.primary_key]
        statement = self.insert(conn, table).values(**values)
        changes = {name: statement.excluded[name] for name in values if name not in keys}
        conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=changes))

    def locked_row(self, conn: sa.Connection, table: sa.Table, key: str, blank: dict):
        """The row with primary key ``key``, created as ``blank`` if absent, locked until the transaction ends: the
        read-then-write of two servers can't interleave (a missing row could not be locked, hence the blank)."""
        primary = table.primary_key.columns[0]
        conn.execute(self.insert(conn, table).values({primary.name: key, **blank}).on_conflict_do_nothing())
        return conn.execute(sa.select(table).where(primary == key).with_for_update()).first()

    # ------------------------------------------------------------------------------------------- the owner's models

    def publish_model(self, directory: Path) -> None:
        """Store a trained model's files, so that every server can list and load it (replacing one of its name)."""
        directory = Path(directory)
        if not MODEL_NAME.fullmatch(directory.name):
            raise ValueError(f"{directory.name!r} is not a model name other servers can use as a folder name")
        model = (directory / MODEL_FILE).read_bytes()
        if len(model) > MAX_MODEL_BYTES:
            raise ValueError(
                f"{directory / MODEL_FILE}: {len(model) / 2**20:.0f} MB is more than the "
                f"{MAX_MODEL_BYTES / 2**20:.0f} MB kept in the database"
            )
        card = (directory / CARD_FILE).read_text()
        json.loads(card)  # a damaged card is refused here, not found later by every other server
        with self.store.connection(write=True) as conn:
            self.upsert(conn, models, {"name": directory.name, "created": time.time(), "card": card, "model": model})

    def model_versions(self) -> dict[str, float]:
        """Every stored model's name and when it was stored."""
        with self.store.connection() as conn:
            return dict(conn.execute(sa.select(models.c.name, models.c.created)).all())

    def mirror_models(self, into: Path) -> list[Path]:
        """Write every stored model that ``into`` lacks (or holds an older copy of) as a model directory there;
        returns the directories written.  Each appears whole or not at all (a staging folder renamed into place)."""
        into = Path(into)
        written = []
        for name, created in self.model_versions().items():
            target = into / name
            stamp = target / ".published"
            if stamp.is_file() and stamp.read_text() == repr(created):
                continue
            if target.exists() and not stamp.is_file():
                continue  # this server trained it: its own copy is the original
            with self.store.connection() as conn:
                row = conn.execute(sa.select(models.c.card, models.c.model).where(models.c.name == name)).first()
            if row is None:  # replaced or removed meanwhile
                continue
            staging = into / f".{name}.tmp-{os.getpid()}-mirror"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            (staging / MODEL_FILE).write_bytes(row.model)
            (staging / CARD_FILE).write_text(row.card)
            (staging / ".published").write_text(repr(created))
            old = into / f".{name}.old-{os.getpid()}-mirror"
            if target.exists():
                os.rename(target, old)
            os.rename(staging, target)
            shutil.rmtree(old, ignore_errors=True)
            written.append(target)
        return written

    # ------------------------------------------------------------------------------------------------------ events

    def record_event(self, kind: str, keep_seconds: float) -> None:
        """Count one event of ``kind`` now; events of that kind older than ``keep_seconds`` are dropped."""
        now = time.time()
        with self.store.connection(write=True) as conn:
            conn.execute(events.delete().where(events.c.kind == kind, events.c.at < now - keep_seconds))
            conn.execute(events.insert().values(kind=kind, at=now))

    def count_events(self, kind: str, within_seconds: float) -> int:
        with self.store.connection() as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(events.c.kind == kind, events.c.at > time.time() - within_seconds)
            ).scalar()

    # ---------------------------------------------------------------------------------------------------- settings

    def setting(self, name: str) -> str | None:
        """A choice the owner made for every server (e.g. the default model), or None if never made."""
        with self.store.connection() as conn:
            return conn.execute(sa.select(settings.c.value).where(settings.c.name == name)).scalar()

    def set_setting(self, name: str, value: str) -> None:
        with self.store.connection(write=True) as conn:
            self.upsert(conn, settings, {"name": name, "value": value})

    # ------------------------------------------------------------------------------------------------------ leases

    def claim(self, name: str, holder: str, seconds: float, note: str = "") -> Holding | None:
        """Take or extend the lease ``name`` for ``seconds``; None if it was taken, else who holds it.

        The row is locked while it is read and written (``FOR UPDATE`` on PostgreSQL, SQLite's write lock), so two
        servers claiming at once can't both win.  A holder that stops renewing (its server died) loses the lease
        when it expires.
        """
        now = time.time()
        with self.store.connection(write=True) as conn:
            held = self.locked_row(conn, leases, name, {"holder": "", "expires": 0.0, "note": ""})
            if held.holder != holder and held.expires > now:
                return Holding(held.holder, held.expires, held.note)
            conn.execute(
                leases.update().where(leases.c.name == name).values(holder=holder, expires=now + seconds, note=note)
            )
        return None

    def release(self, name: str, holder: str) -> None:
        """Give the lease back, if ``holder`` still has it."""
        with self.store.connection(write=True) as conn:
            conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))

    def holding(self, name: str) -> Holding | None:
        """Who holds the lease now, if anyone."""
        with self.store.connection() as conn:
            held = conn.execute(sa.select(leases).where(leases.c.name == name, leases.c.expires > time.time())).first()
        return None if held is None else Holding(held.holder, held.expires, held.note)

    # ------------------------------------------------------------------------------------------------------ quotas

    def take_quota(self, key: str, amount: int, limit: int) -> bool:
        """Count ``amount`` more against ``key`` if the total stays within ``limit``; False (and nothing counted)
        if it would not.  Checked and counted in one locked transaction, so racing servers can't pass the limit."""
        with self.store.connection(write=True) as conn:
            used = self.locked_row(conn, quotas, key, {"used": 0}).used
            if used + amount > limit:
                return False
            conn.execute(quotas.update().where(quotas.c.key == key).values(used=used + amount))
        return True


class WrongPasswordsInDatabase:
    """Wrong owner passwords given through every session of every server on the database: the same questions as
    the app's in-process counter (``digitlib.app.access.WrongPasswords``)."""

    KIND = "wrong-owner-password"

    def __init__(self, state: SharedState, limit: int, window_seconds: float):
        self.state, self.limit, self.window = state, limit, window_seconds

    def locked(self) -> bool:
        """Whether enough wrong passwords came lately that sign-in is closed for everyone."""
        return self.state.count_events(self.KIND, self.window) >= self.limit

    def record(self) -> None:
        self.state.record_event(self.KIND, self.window)


class TrainingLease:
    """The one-run-at-a-time rule across servers: the run that holds the lease trains (``digitlib.training.jobs``)."""

    NAME = "training"

    def __init__(self, state: SharedState):
        self.state = state

    def claim(self, holder: str, seconds: float, note: str) -> Holding | None:
        return self.state.claim(self.NAME, holder, seconds, note)

    def release(self, holder: str) -> None:
        self.state.release(self.NAME, holder)
