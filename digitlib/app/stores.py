"""The corrections store as the app uses it: one per database for the whole server, this visitor's share of it,
and forgetting visitors' data after KEEP_VISITOR_DATA."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta

import streamlit as st

from digitlib.app.access import is_owner, secret
from digitlib.app.visitors import KEEP_VISITOR_DATA, trained_models_root, visitor_id, visitor_keys
from digitlib.store.corrections import CorrectionStore, StoreError, default_location

log = logging.getLogger(__name__)

DATABASE_SECRET = "digitlib"  # [connections.digitlib] url = "..." in secrets, as st.connection("digitlib", type="sql")
# Limits per visitor, each protecting the other visitors on a small shared server:
MAX_SESSION_CORRECTIONS = 2000  # stored digits (~1.6 MB of rows): one visitor can't fill the database
MAX_SHARED_PER_SESSION = 500  # digits given to the shared pool: one visitor can't flood what everyone trains on
MAX_SHARED_POOL = 50_000  # digits in the shared pool in all: many visitors together can't fill the database either


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
