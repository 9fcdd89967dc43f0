"""The corrections store as the app uses it: one per database for the whole server, this visitor's share of it,
and forgetting visitors' data after KEEP_VISITOR_DATA; with a server database, the state every app server
on it shares."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta

import streamlit as st

from digitlib.app.access import MAX_WRONG_OWNER_PASSWORDS, WRONG_OWNER_PASSWORD_WINDOW, is_owner, secret
from digitlib.app.models import default_model_file
from digitlib.app.visitors import (
    KEEP_VISITOR_DATA,
    remember,
    trained_models_root,
    visitor_id,
    visitor_keys,
    visitor_record,
)
from digitlib.store.corrections import CorrectionStore, StoreError, default_location
from digitlib.store.shared import SharedState, TrainingLease, WrongPasswordsInDatabase

log = logging.getLogger(__name__)

DATABASE_SECRET = "digitlib"  # [connections.digitlib] url = "..." in secrets, as st.connection("digitlib", type="sql")
# Limits per visitor, each protecting the other visitors on a small shared server:
MAX_SESSION_CORRECTIONS = 2000  # stored digits (~1.6 MB of rows): one visitor can't fill the database
MAX_SHARED_PER_SESSION = 500  # digits given to the shared pool: one visitor can't flood what everyone trains on
MAX_SHARED_POOL = 50_000  # digits in the shared pool in all: many visitors together can't fill the database either
DEFAULT_MODEL_SETTING = "default-model"
MIRROR_EVERY = timedelta(seconds=5)  # how often a page asks the database for the owner's models other servers trained


@st.cache_resource(show_spinner=False)
def cached_store(location: str) -> CorrectionStore:
    """One store (and connection pool) per database for the whole server."""
    return CorrectionStore(location)


@st.cache_resource(show_spinner=False, ttl=timedelta(hours=1))
def forget_old_sessions(location: str) -> None:
    """At most once an hour: delete the visitors' corrections and models older than KEEP_VISITOR_DATA, and the keys
    of visitors who haven't come back for as long."""
    cached_store(location).forget_sessions(KEEP_VISITOR_DATA)
    forget_visitor_models(KEEP_VISITOR_DATA)
    visitor_keys().forget(KEEP_VISITOR_DATA)


def forget_visitor_models(older_than: timedelta) -> None:
    """Delete the visitors' models made longer than ``older_than`` ago."""
    cutoff = time.time() - older_than.total_seconds()
    for folder in (trained_models_root() / "sessions").glob("*/*"):
        if folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def database_location() -> str:
    """The database of [connections.digitlib] in secrets (a hosted deployment), else $DIGITLIB_STORE or SQLite."""
    return (secret("connections") or {}).get(DATABASE_SECRET, {}).get("url") or default_location()


def shared_store() -> CorrectionStore | None:
    """The whole corrections database seen as the shared pool, or None with a reason fit for a visitor."""
    try:
        forget_old_sessions(database_location())
        return cached_store(database_location())
    except StoreError as exc:
        log.error("corrections database unusable: %s", exc)
        detail = f": {exc}" if is_owner() else " (the details are in the server's log)."
        st.error(f"Corrections can't be kept right now: the corrections database is unavailable{detail}")
        return None


def my_corrections() -> CorrectionStore | None:
    """This visitor's own corrections: only their browser sees, deletes, downloads or fine-tunes on them."""
    store = shared_store()
    return None if store is None else store.for_owner(visitor_id())


@st.cache_resource(show_spinner=False)
def cached_shared_state(location: str) -> SharedState:
    return SharedState(cached_store(location))


def shared_state() -> SharedState | None:
    """The state the servers on a server database share (digitlib.store.shared); None on a SQLite file (one server:
    memory and its own folder hold it) or when the database can't be used (the corrections say why)."""
    location = database_location()
    if "://" not in location:
        return None
    try:
        return cached_shared_state(location)
    except StoreError as exc:
        log.error("shared state unusable: %s", exc)
        return None


def default_choice() -> str | None:
    """The owner's choice of every visitor's default model (a `model_key`): in the database the servers share,
    else in this server's folder; None when never made (or the database did not answer: the shipped default)."""
    state = shared_state()
    try:
        return state.setting(DEFAULT_MODEL_SETTING) if state else default_model_file().read_text().strip()
    except (OSError, StoreError) as exc:
        if isinstance(exc, StoreError):
            log.error("default model choice unreadable: %s", exc)
        return None


def save_default_choice(key: str) -> None:
    """Make a model every visitor's default, on every server (StoreError when the database fails)."""
    if (state := shared_state()) is not None:
        state.set_setting(DEFAULT_MODEL_SETTING, key)
        return
    default_model_file().parent.mkdir(parents=True, exist_ok=True)
    default_model_file().write_text(key)


def training_lease() -> TrainingLease | None:
    """One training run at a time across every server on the database."""
    state = shared_state()
    return None if state is None else TrainingLease(state)


def wrong_owner_passwords() -> WrongPasswordsInDatabase | None:
    """Wrong owner passwords counted across every server on the database (None: this process counts them)."""
    state = shared_state()
    return (
        None
        if state is None
        else WrongPasswordsInDatabase(state, MAX_WRONG_OWNER_PASSWORDS, WRONG_OWNER_PASSWORD_WINDOW)
    )


def publish_owner_model(run) -> None:
    """A model the owner trained, given to the other servers (called when its run has saved it)."""
    if (state := shared_state()) is not None:
        state.publish_model(run.out)


@st.cache_resource(show_spinner=False, ttl=MIRROR_EVERY)
def mirror_owner_models(location: str) -> None:
    """Copy the owner's models that other servers trained into this server's folder of trained models."""
    if (state := shared_state()) is not None:
        try:
            state.mirror_models(trained_models_root())
        except (StoreError, OSError) as exc:
            log.error("owner's models not mirrored: %s", exc)


def take_pool_share(count: int) -> bool:
    """Whether this visitor may give ``count`` more digits to the shared pool (MAX_SHARED_PER_SESSION in all); they
    are counted if so, in the database when servers share one (a visitor may come back through another server)."""
    if (state := shared_state()) is not None:
        return state.take_quota(f"pool:{visitor_id()}", count, MAX_SHARED_PER_SESSION)
    given = visitor_record().get("shared_digits", 0)
    if given + count > MAX_SHARED_PER_SESSION:
        return False
    remember(shared_digits=given + count)
    return True
