"""Who may do what: the owner's sign-in, and the limits that keep one visitor from starving
the others on a small shared server."""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections import deque
from collections.abc import Callable

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

OWNER_PASSWORD_VAR = "DIGITLIB_OWNER_PASSWORD"  # or `owner_password` in .streamlit/secrets.toml
MAX_PICTURES_PER_BATCH = 10  # pictures read at once: each costs CPU time on every rerun of the Upload tab
MAX_PICTURES_PER_MINUTE = 30  # new pictures per minute: a script can't keep the 2 cores busy for everyone
MAX_UPLOADED_MEGABYTES = 60  # bytes the upload widget holds in a visitor's session before it is emptied
MAX_OWNER_TRIES_PER_MINUTE = 5  # owner password guesses through one session
# ... and through all sessions together: a guesser who opens a new session for every five tries still gets at most
# this many wrong passwords per window, after which nobody may sign in (not even with the right password, which
# would otherwise tell the guesser they found it) until the oldest of them is a window old.
MAX_WRONG_OWNER_PASSWORDS = 20
WRONG_OWNER_PASSWORD_WINDOW = 600  # seconds


def secret(name: str, default=None):
    """A value from .streamlit/secrets.toml, or ``default`` when there is no such file or key."""
    try:
        return st.secrets.get(name, default)
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return default


def owner_password() -> str | None:
    """The app owner's password, from secrets or the environment; None means there is no owner mode at all."""
    return secret("owner_password") or os.environ.get(OWNER_PASSWORD_VAR) or None


def is_owner() -> bool:
    """Whether this session signed in with the owner password (and one is still configured)."""
    return bool(owner_password()) and st.session_state.get("owner", False)


def within_rate(kind: str, count: int, per_minute: int) -> bool:
    """Whether ``count`` more events of ``kind`` fit in the visitor's last minute; they are counted if they do."""
    now = time.monotonic()
    recent = [t for t in st.session_state.get(f"rate-{kind}", []) if now - t < 60]
    fits = len(recent) + count <= per_minute
    st.session_state[f"rate-{kind}"] = recent + [now] * count if fits else recent
    return fits


class WrongPasswords:
    """Wrong owner passwords given through every session of this server process, thread-safe (sessions run in
    threads of their own)."""

    def __init__(self, limit: int, window_seconds: float):
        self.limit, self.window = limit, window_seconds
        self.times: deque[float] = deque()
        self.lock = threading.Lock()

    def forget_old(self, now: float) -> None:
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()

    def locked(self) -> bool:
        """Whether enough wrong passwords came lately that sign-in is closed for everyone."""
        with self.lock:
            self.forget_old(time.monotonic())
            return len(self.times) >= self.limit

    def record(self) -> None:
        with self.lock:
            self.times.append(time.monotonic())


WRONG_OWNER_PASSWORDS = WrongPasswords(MAX_WRONG_OWNER_PASSWORDS, WRONG_OWNER_PASSWORD_WINDOW)


def owner_sign_in(wrong_passwords=None) -> None:
    """Sidebar: sign in as the app's owner (shared pool, models/, the default model); absent without a password.
    ``wrong_passwords`` counts the wrong ones (default: this process's WRONG_OWNER_PASSWORDS; the database's when
    several servers share one)."""
    wrong_passwords = wrong_passwords or WRONG_OWNER_PASSWORDS
    password = owner_password()
    if not password:
        return
    if is_owner():
        st.sidebar.success("Owner mode")
        if st.sidebar.button("Leave owner mode"):
            st.session_state.owner = False
            st.rerun()
        return
    with st.sidebar.expander("Owner"), st.form("owner-sign-in", clear_on_submit=True, border=False):
        given = st.text_input("Owner password", type="password")
        if st.form_submit_button("Sign in"):
            if not within_rate("owner-tries", 1, MAX_OWNER_TRIES_PER_MINUTE):
                st.error("Too many tries: wait a minute.")
            elif wrong_passwords.locked():
                st.error(
                    "Too many wrong passwords on this server lately: owner sign-in is closed for up to "
                    f"{WRONG_OWNER_PASSWORD_WINDOW // 60} minutes."
                )
            elif hmac.compare_digest(given.encode(), password.encode()):
                st.session_state.owner = True
                st.rerun()
            else:
                wrong_passwords.record()
                st.error("Wrong password.")


def admitted_uploads(pictures: list, on_too_much: Callable[[], None]) -> list:
    """The pictures (each with ``id`` and ``size``) this session may have read now, with a friendly message for any
    held back; ``on_too_much`` is called when they hold more megabytes than a visitor may keep here."""
    if sum(picture.size for picture in pictures) > MAX_UPLOADED_MEGABYTES * 2**20:
        st.session_state.uploader_version = st.session_state.get("uploader_version", 0) + 1  # frees the files
        on_too_much()
        st.warning(
            f"Together these pictures pass {MAX_UPLOADED_MEGABYTES} MB, more than one visitor may keep "
            "here: they were removed. Upload fewer or smaller pictures."
        )
        return []
    if len(pictures) > MAX_PICTURES_PER_BATCH:
        st.warning(
            f"Reading the first {MAX_PICTURES_PER_BATCH} of {len(pictures)} pictures: remove some to read the others."
        )
        pictures = pictures[:MAX_PICTURES_PER_BATCH]
    admitted = st.session_state.setdefault("admitted_uploads", {})
    new = [picture for picture in pictures if picture.id not in admitted]
    if new and not within_rate("pictures", len(new), MAX_PICTURES_PER_MINUTE):
        st.warning(
            f"At most {MAX_PICTURES_PER_MINUTE} new pictures a minute, so the app stays quick for everyone: "
            "the newest ones are read in a minute (touch any control to retry)."
        )
        pictures = [picture for picture in pictures if picture.id in admitted]
    admitted.update((picture.id, True) for picture in pictures if picture.id not in admitted)
    while len(admitted) > 4 * MAX_PICTURES_PER_MINUTE:  # oldest first: the memory of what was read stays small
        admitted.pop(next(iter(admitted)))
    return pictures


def uploader_key() -> str:
    """The upload widget's key; a new one (after too many megabytes) drops the files it held."""
    return f"uploads-{st.session_state.get('uploader_version', 0)}"
