"""The corrections store as the app uses it: one per database for the whole server, this visitor's share of it,
and forgetting visitors' data after a day."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta

import streamlit as st

from digitlib.app.access import is_owner, secret, visitor_id
from digitlib.app.models import trained_models_root
from digitlib.store.corrections import CorrectionStore, StoreError, default_location

log = logging.getLogger(__name__)

DATABASE_SECRET = "digitlib"  # [connections.digitlib] url = "..." in secrets, as st.connection("digitlib", type="sql")
# A visitor's corrections and models belong to their browser tab, which can't come back for them once it closes;
# a day after they were made they are deleted, so the server doesn't keep strangers' handwriting (they can download
# it and upload it again later).
FORGET_SESSIONS_AFTER = timedelta(days=1)
# Limits per session, each protecting the other visitors on a small shared server:
MAX_SESSION_CORRECTIONS = 2000  # stored digits (~1.6 MB of rows): one session can't fill the database
MAX_SHARED_PER_SESSION = 500  # digits given to the shared pool: one visitor can't flood what everyone trains on


@st.cache_resource(show_spinner=False)
def cached_store(location: str) -> CorrectionStore:
    """One store (and connection pool) per database for the whole server."""
    return CorrectionStore(location)


@st.cache_resource(show_spinner=False, ttl=timedelta(hours=1))
def forget_old_sessions(location: str) -> None:
    """At most once an hour: delete the sessions' corrections and models older than FORGET_SESSIONS_AFTER."""
    cached_store(location).forget_sessions(FORGET_SESSIONS_AFTER)
    forget_session_models(FORGET_SESSIONS_AFTER)


def forget_session_models(older_than: timedelta) -> None:
    """Delete the models of visitor sessions whose folders are older than ``older_than``."""
    sessions = trained_models_root() / "sessions"
    cutoff = time.time() - older_than.total_seconds()
    for folder in sessions.glob("*") if sessions.is_dir() else []:
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
    """This session's own corrections: only this browser tab sees, deletes, downloads or fine-tunes on them."""
    store = shared_store()
    return None if store is None else store.for_owner(visitor_id())
