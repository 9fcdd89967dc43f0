"""What every tab shares: where models live, the cached classifier and store, whose data is whose (visitor or
owner), the limits that keep one session from starving the others, the model picker, small pictures."""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections import deque
from datetime import timedelta
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from platformdirs import user_data_path
from streamlit.errors import StreamlitSecretNotFoundError

from digitlib import ModelError, available_models, load_classifier
from digitlib import classifier as classifier_module
from digitlib.classifier import DEFAULT_MODEL, MODEL_FILE, Classifier
from digitlib.store import CorrectionStore, StoreError, default_location

ENLARGE = 6  # the 28x28 input shown as 168x168, pixel for pixel
OWNER_PASSWORD_VAR = "DIGITLIB_OWNER_PASSWORD"  # or `owner_password` in .streamlit/secrets.toml
DATABASE_SECRET = "digitlib"  # [connections.digitlib] url = "..." in secrets, as st.connection("digitlib", type="sql")
# A visitor's corrections and models belong to their browser tab, which can't come back for them once it closes;
# a day after they were made they are deleted, so the server doesn't keep strangers' handwriting (they can download
# it and upload it again later).
FORGET_SESSIONS_AFTER = timedelta(days=1)
# Limits per session, each protecting the other visitors on a small shared server:
MAX_SESSION_CORRECTIONS = 2000  # stored digits (~1.6 MB of rows): one session can't fill the database
MAX_SHARED_PER_SESSION = 500  # digits given to the shared pool: one visitor can't flood what everyone trains on
MAX_PICTURES_PER_BATCH = 10  # pictures read at once: each costs CPU time on every rerun of the Upload tab
MAX_PICTURES_PER_MINUTE = 30  # new pictures per minute: a script can't keep the 2 cores busy for everyone
MAX_UPLOADED_MEGABYTES = 60  # bytes the upload widget holds in this session's memory before it is emptied
MAX_OWNER_TRIES_PER_MINUTE = 5  # owner password guesses through one session
# ... and through all sessions together: a guesser who opens a new session for every five tries still gets at most
# this many wrong passwords per window, after which nobody may sign in (not even with the right password, which
# would otherwise tell the guesser they found it) until the oldest of them is a window old.
MAX_WRONG_OWNER_PASSWORDS = 20
WRONG_OWNER_PASSWORD_WINDOW = 600  # seconds
log = logging.getLogger(__name__)


def shipped_models_dir() -> Path:
    """The repository's models/ (read at call time, so tests can point it elsewhere)."""
    return classifier_module.MODELS_DIR


def secret(name: str, default=None):
    """A value from .streamlit/secrets.toml, or ``default`` when there is no such file or key."""
    try:
        return st.secrets.get(name, default)
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return default


def visitor_id() -> str:
    """This browser session's random owner id: its corrections and models are filed under it."""
    return st.session_state.setdefault("visitor_id", secrets.token_hex(16))


def owner_password() -> str | None:
    """The app owner's password, from secrets or the environment; None means there is no owner mode at all."""
    return secret("owner_password") or os.environ.get(OWNER_PASSWORD_VAR) or None


def is_owner() -> bool:
    """Whether this session signed in with the owner password (and one is still configured)."""
    return bool(owner_password()) and st.session_state.get("owner", False)


def within_rate(kind: str, count: int, per_minute: int) -> bool:
    """Whether ``count`` more events of ``kind`` fit in this session's last minute; they are counted if they do."""
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


def owner_sign_in() -> None:
    """Sidebar: sign in as the app's owner (shared pool, models/, the default model); absent without a password."""
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
            elif WRONG_OWNER_PASSWORDS.locked():
                st.error("Too many wrong passwords on this server lately: owner sign-in is closed for up to "
                         f"{WRONG_OWNER_PASSWORD_WINDOW // 60} minutes.")
            elif hmac.compare_digest(given.encode(), password.encode()):
                st.session_state.owner = True
                st.rerun()
            else:
                WRONG_OWNER_PASSWORDS.record()
                st.error("Wrong password.")


def trained_models_root() -> Path:
    """Models trained in the app go to the user's data directory (beside the corrections store), not into the
    repository, unless the owner asks to save into models/."""
    return Path(os.environ.get("DIGITLIB_TRAINED_MODELS_DIR", user_data_path("digitlib") / "models"))


def trained_models_dir() -> Path:
    """Where this session's training runs save: the owner's go beside every visitor's view, a visitor's into a
    folder of their own session, since a fine-tuned model carries something of their handwriting."""
    root = trained_models_root()
    return root if is_owner() else root / "sessions" / visitor_id()


def model_directories() -> list[Path]:
    """Shipped models first, then the owner's trained ones, then this session's (with those its runs made before a
    reload gave the page a new session: `training.my_run` lists them)."""
    shipped, root, own = shipped_models_dir(), trained_models_root(), trained_models_dir()
    trained = [path.parent for folder in dict.fromkeys([root, own]) if folder.is_dir()
               for path in sorted(folder.glob(f"*/{MODEL_FILE}"))]
    made = [Path(path) for path in st.session_state.get("models_made", []) if (Path(path) / MODEL_FILE).is_file()]
    return [shipped / name for name in available_models(shipped)] + list(dict.fromkeys(trained + made))


def model_label(directory: Path) -> str:
    return f"{directory.name} ({'shipped' if directory.parent == shipped_models_dir() else 'trained here'})"


ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~])/(?:[\w.+-]+/)+([\w.+-]*)")  # /a/b/c (not a URL's //host/): c


def without_server_paths(message: str) -> str:
    """A message for visitors with this server's folders (models, repository, temp, home) cut down to names."""
    places = [(trained_models_dir(), ""), (trained_models_root(), ""), (shipped_models_dir(), "models/"),
              (Path.cwd(), ""), (Path(tempfile.gettempdir()), ""), (Path.home(), "")]
    for place, short in places:
        message = message.replace(f"{place}/", short).replace(str(place), short.rstrip("/") or "…")
    return ABSOLUTE_PATH.sub(r"\1", message)  # any other folder (a data directory, a database file): its name


def for_visitor(error: Exception) -> str:
    """An error's text as this visitor may see it: whole for the owner; for anyone else without server paths, and
    a database failure (its address, its driver's words) only in the server's log."""
    if is_owner():
        return str(error)
    if isinstance(error, StoreError):
        log.error("corrections database failed: %s", error)
        return "the corrections database is unavailable (the details are in the server's log)."
    return without_server_paths(str(error))


def default_model_file() -> Path:
    """Where the owner's choice of every visitor's default model is kept."""
    return trained_models_root() / "default-model.txt"


def app_default_model(directories: list[Path]) -> Path:
    """The owner's chosen default if it still exists, else the shipped default, else the first model."""
    try:
        chosen = Path(default_model_file().read_text().strip())
    except OSError:
        chosen = None
    for candidate in (chosen, shipped_models_dir() / DEFAULT_MODEL):
        if candidate in directories:
            return candidate
    return directories[0]


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def cached_classifier(directory: str, modified: float) -> Classifier:
    """One classifier per model file version, shared by every session."""
    return load_classifier(directory)


def classifier_for(directory: Path) -> Classifier:
    """The cached classifier of a model directory; raises ModelError with the reason."""
    try:
        modified = (directory / MODEL_FILE).stat().st_mtime
    except OSError:
        raise ModelError(f"{directory / MODEL_FILE}: model file not found. Pick another model or train one.") from None
    return cached_classifier(str(directory), modified)


def model_picker() -> Classifier | None:
    """Sidebar: the owner's sign-in, then choose the active model (default: the app's default) and load it, or say
    why not."""
    owner_sign_in()
    directories = model_directories()
    if not directories:
        st.sidebar.error("No trained model in models/. Train one on the Train tab.")
        return None
    if st.session_state.get("active_model") not in map(str, directories):
        default = app_default_model(directories)
        st.session_state.active_model = str(default)
        if default.name != DEFAULT_MODEL and default.parent == shipped_models_dir():
            st.sidebar.warning(f"The default model '{DEFAULT_MODEL}' is not in models/ yet; using '{default.name}'.")
    if st.session_state.get("model_choice") != Path(st.session_state.active_model):
        st.session_state.model_choice = Path(st.session_state.active_model)  # e.g. "make active" on the Train tab
    choice = st.sidebar.selectbox("Active model", directories, format_func=model_label, key="model_choice",
                                  on_change=lambda: st.session_state.update(active_model=str(st.session_state.model_choice)))
    try:
        clf = classifier_for(choice)
    except ModelError as exc:
        st.sidebar.error(without_server_paths(str(exc)))
        return None
    if "test_accuracy" in clf.card:
        st.sidebar.caption(f"MNIST test accuracy {clf.card['test_accuracy']:.2%}")
    if is_owner() and choice != app_default_model(directories):
        if st.sidebar.button("Make it every visitor's default", help="Saved on this server; sessions already open "
                             "keep their choice. Lost with the server's disk unless the model is in models/."):
            default_model_file().parent.mkdir(parents=True, exist_ok=True)
            default_model_file().write_text(str(choice))
    return clf


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


def admitted_uploads(files: list) -> list:
    """The uploaded files this session may have read now, with a friendly message for any held back."""
    if sum(file.size for file in files) > MAX_UPLOADED_MEGABYTES * 2**20:
        st.session_state.uploader_version = st.session_state.get("uploader_version", 0) + 1  # frees the files
        st.warning(f"Together these pictures pass {MAX_UPLOADED_MEGABYTES} MB, more than one visitor may keep "
                   "here: they were removed. Upload fewer or smaller pictures.")
        return []
    if len(files) > MAX_PICTURES_PER_BATCH:
        st.warning(f"Reading the first {MAX_PICTURES_PER_BATCH} of {len(files)} pictures: remove some to read "
                   "the others.")
        files = files[:MAX_PICTURES_PER_BATCH]
    admitted = st.session_state.setdefault("admitted_uploads", {})
    new = [file for file in files if file.file_id not in admitted]
    if new and not within_rate("pictures", len(new), MAX_PICTURES_PER_MINUTE):
        st.warning(f"At most {MAX_PICTURES_PER_MINUTE} new pictures a minute, so the app stays quick for everyone: "
                   "the newest ones are read in a minute (touch any control to retry).")
        files = [file for file in files if file.file_id in admitted]
    admitted.update((file.file_id, True) for file in files if file.file_id not in admitted)
    while len(admitted) > 4 * MAX_PICTURES_PER_MINUTE:  # oldest first: the memory of what was read stays small
        admitted.pop(next(iter(admitted)))
    return files


def uploader_key() -> str:
    """The upload widget's key; a new one (after too many megabytes) drops the files it held."""
    return f"uploads-{st.session_state.get('uploader_version', 0)}"


def as_picture(array: np.ndarray) -> np.ndarray:
    """Any intermediate image (bool, float in [0, 1], uint8) as uint8 for st.image."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    return (np.clip(array.astype(np.float32), 0, 1) * 255).astype(np.uint8)


def enlarged(image28: np.ndarray) -> Image.Image:
    """The 28x28 input scaled up pixel for pixel, so its pixels stay visible."""
    return Image.fromarray(as_picture(image28)).resize((28 * ENLARGE, 28 * ENLARGE), Image.NEAREST)


def percent(share: float) -> str:
    """A probability or accuracy as people read it: 98.1%, never "100.0%" for 0.9996 nor "0.0%" for 0.0004."""
    if 0.999 <= share < 1:
        return "> 99.9%"
    if 0 < share < 0.001:
        return "< 0.1%"
    return f"{share:.1%}"


def duration(seconds: float | None) -> str:
    """Seconds as people say them: "45 s", "38 min", "1 h 13 min"."""
    if seconds is None:
        return "n/a"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


SERIES = {"training": ("#0072B2", [1, 0]), "validation": ("#E69F00", [6, 3])}  # colour-blind-safe, and dashed


def show_curves(history: dict[str, list[float]], runs: list[tuple[str, int]] = ()) -> None:
    """Loss and accuracy per epoch, training (solid blue) and validation (dashed orange), with a legend and
    axis titles; ``runs`` (name, epochs) marks where each run of a model trained in several runs began."""
    epochs = len(history.get("loss", []))
    boundaries, first_epoch = [], 1
    for name, run_epochs in runs:
        boundaries.append({"epoch": first_epoch - 0.5, "run": name})
        first_epoch += run_epochs
    for column, (metric, axis_format) in zip(st.columns(2), (("loss", ".3f"), ("accuracy", ".1%"))):
        values = [{"epoch": epoch, metric: value, "series": name}
                  for prefix, name in (("", "training"), ("val_", "validation"))
                  if len(history.get(prefix + metric, [])) == epochs
                  for epoch, value in enumerate(history[prefix + metric], start=1)]
        lines = {
            "data": {"values": values},  # inside a layer, so Streamlit sends it as it is, not through Arrow
            "mark": {"type": "line", "point": epochs < 30},
            "encoding": {
                "x": {"field": "epoch", "type": "quantitative", "title": "epoch", "axis": {"tickMinStep": 1}},
                "y": {"field": metric, "type": "quantitative", "title": metric, "scale": {"zero": False},
                      "axis": {"format": axis_format}},
                "color": {"field": "series", "type": "nominal", "title": None,
                          "legend": {"orient": "top", "symbolType": "stroke", "symbolStrokeWidth": 3},
                          "scale": {"domain": list(SERIES), "range": [c for c, _ in SERIES.values()]}},
                "strokeDash": {"field": "series", "type": "nominal", "legend": None,
                               "scale": {"domain": list(SERIES), "range": [d for _, d in SERIES.values()]}},
                "tooltip": [{"field": "series"}, {"field": "epoch"}, {"field": metric, "format": axis_format}],
            },
        }
        layers = [lines]
        if len(boundaries) > 1:  # a rule and the run's name where each run began
            layers.append({"data": {"values": boundaries}, "mark": {"type": "rule", "color": "grey", "strokeDash": [2, 2]},
                           "encoding": {"x": {"field": "epoch", "type": "quantitative"}}})
            layers.append({"data": {"values": boundaries},
                           "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 3, "y": 2, "color": "grey"},
                           "encoding": {"x": {"field": "epoch", "type": "quantitative"}, "text": {"field": "run"}}})
        last = {name: history[prefix + metric][-1] for prefix, name in (("", "training"), ("val_", "validation"))
                if history.get(prefix + metric)}
        column.vega_lite_chart({"layer": layers}, height=240, width="stretch",
                               alt=f"{metric} per epoch over {epochs} epochs; last epoch: " + ", ".join(
                                   f"{name} {value:{axis_format}}" for name, value in last.items()))
