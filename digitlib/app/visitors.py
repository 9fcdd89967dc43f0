"""Who a visitor is, without accounts: a random key the browser keeps in a cookie, checked against the keys this
server issued.

The server keeps only a hash of each key (a file named after it, touched on every visit), and files a visitor's
corrections, models and training run under that hash.  A reload or a new tab of the same browser sends the cookie
and finds them again; another browser or device has no key and starts empty.  A key the server never issued (made
up, guessed, or expired) is ignored: its holder gets a new key and an empty identity, never someone else's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from datetime import timedelta
from pathlib import Path

import streamlit as st
from platformdirs import user_data_path

COOKIE = "digitlib_visitor"
# How long a visitor's corrections and models are kept after they were made, and how long the browser keeps its
# key after the last visit: long enough to come back another day, short enough that the server doesn't hoard
# strangers' handwriting.
KEEP_VISITOR_DATA = timedelta(days=7)
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): anything else is not one of ours
RECORD_FIELDS = ("run", "shared_digits", "restored")  # what the server remembers per visitor besides the key


def trained_models_root() -> Path:
    """Models trained in the app go to the user's data directory (beside the corrections store), not into the
    repository, unless the owner asks to save into models/; the visitors' keys are kept there too."""
    return Path(os.environ.get("DIGITLIB_TRAINED_MODELS_DIR", user_data_path("digitlib") / "models"))


class VisitorKeys:
    """The keys this server issued, each as a small JSON file named after its SHA-256 (the visitor's id)."""

    def __init__(self, folder: Path):
        self.folder = folder

    @staticmethod
    def id_of(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def path(self, visitor: str) -> Path:
        return self.folder / f"{visitor}.json"

    def issue(self) -> str:
        """A new key; only its hash is written down."""
        key = secrets.token_urlsafe(32)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path(self.id_of(key)).write_text("{}")
        return key

    def known(self, key: str | None) -> bool:
        """Whether ``key`` is one this server issued and hasn't forgotten; the visit is counted if it is."""
        if not key or not KEY_PATTERN.fullmatch(key):
            return False
        path = self.path(self.id_of(key))
        try:
            if time.time() - path.stat().st_mtime > KEEP_VISITOR_DATA.total_seconds():
                return False
            path.touch()
        except OSError:
            return False
        return True

    def record(self, visitor: str) -> dict:
        """What the server remembers for this visitor (their run's token, digits given to the pool...)."""
        try:
            return json.loads(self.path(visitor).read_text())
        except (OSError, ValueError):
            return {}

    def remember(self, visitor: str, **fields) -> None:
        unknown = set(fields) - set(RECORD_FIELDS)
        if unknown:
            raise ValueError(f"not a visitor record field: {', '.join(sorted(unknown))}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path(visitor).write_text(json.dumps(self.record(visitor) | fields))

    def forget(self, older_than: timedelta) -> None:
        """Drop the keys of visitors who haven't come back for ``older_than``."""
        cutoff = time.time() - older_than.total_seconds()
        for path in self.folder.glob("*.json") if self.folder.is_dir() else []:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)


def visitor_keys() -> VisitorKeys:
    return VisitorKeys(trained_models_root() / "visitors")


def cookie_key() -> str | None:
    """The key the browser sent with the visitor's connection, if any (AppTest has no cookies: a stand-in)."""
    key = st.context.cookies.get(COOKIE)
    return key if isinstance(key, str) else None


def visitor_id() -> str:
    """This visitor's id, the same for every tab and reload of their browser: their data is filed under it."""
    if "visitor_id" not in st.session_state:
        keys, key = visitor_keys(), cookie_key()
        if not keys.known(key):
            key = keys.issue()
        st.session_state.visitor_key = key
        st.session_state.visitor_id = keys.id_of(key)
    return st.session_state.visitor_id


def visitor_record() -> dict:
    return visitor_keys().record(visitor_id())


def remember(**fields) -> None:
    visitor_keys().remember(visitor_id(), **fields)


def keep_key_in_browser() -> None:
    """Hand the browser its key as a cookie (again on every visit, so it lasts KEEP_VISITOR_DATA after the last)."""
    visitor_id()
    seconds = int(KEEP_VISITOR_DATA.total_seconds())
    st.html(
        f"""<script>
document.cookie = "{COOKIE}={st.session_state.visitor_key}; Max-Age={seconds}; Path=/; SameSite=Strict"
    + (location.protocol === "https:" ? "; Secure" : "");
</script>""",
        unsafe_allow_javascript=True,
    )
