"""Shared fixtures: tests read MNIST from DIGITLIB_DATA_DIR, defaulting to ../shared/mnist beside the repo.

The browser fixtures (a Chromium, the app's server, a laptop page, a phone) are in tests/support/browser_fixtures.py;
helpers that are not fixtures are in tests/support/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.support import REPO
from tests.support.databases import BACKENDS, fresh_database, server_url

pytest_plugins = ["tests.support.browser_fixtures"]
os.environ.setdefault("DIGITLIB_DATA_DIR", str(REPO.parent / "shared" / "mnist"))


def pytest_collection_modifyitems(items):
    """Everything that needs the test run's trained model is slow, wherever it is."""
    for item in items:
        if "tiny_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist():
    """The genuine MNIST arrays; skipped with a reason when the data directory is absent (a failure under CI)."""
    from digitlib.data import DataError, load_mnist

    try:
        return load_mnist()
    except DataError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"MNIST must be available in CI: {exc}")
        pytest.skip(f"MNIST not available: {exc}")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def app(repo, tmp_path, monkeypatch):
    """The app (an AppTest of streamlit_app.py) with its writable places (trained models, corrections) in a
    temporary directory."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DIGITLIB_TRAINED_MODELS_DIR", str(tmp_path / "trained"))
    monkeypatch.setenv("DIGITLIB_STORE", str(tmp_path / "corrections.sqlite3"))
    monkeypatch.chdir(repo)
    return AppTest.from_file(str(repo / "streamlit_app.py"), default_timeout=60)


@pytest.fixture(scope="session")
def classifier():
    """The shipped default model, loaded once for every test that reads pictures with it."""
    from digitlib import load_classifier

    return load_classifier()


@pytest.fixture(params=BACKENDS)
def store_location(request, tmp_path):
    """A place for a new store: a SQLite file path, or the URL of an empty PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "corrections.sqlite3")
        return
    url, drop = fresh_database(server_url())
    yield url
    drop()


@dataclass
class TrainedRun:
    """A model trained once per test run, with what the training run reported."""

    directory: Path
    config: object  # the digitlib.training.config.TrainConfig it was trained with
    card: dict
    progress: list  # every digitlib.training.train.Progress the hook received, in order
    hook_threads: set[str]  # names of the threads the hook was called on


@pytest.fixture(scope="session")
def tiny_run(mnist, tmp_path_factory) -> TrainedRun:
    """The baseline CNN trained for two epochs on 2,000 real MNIST digits, saved over an older model directory.

    Shared by the training, classifier and CLI tests so the suite trains only once in-process.
    """
    from digitlib.training.config import TrainConfig
    from digitlib.training.train import train

    out = tmp_path_factory.mktemp("models") / "tiny"
    out.mkdir()
    (out / "left-by-an-older-run.txt").write_text("the new model must replace the whole directory")
    progress, threads = [], set()

    def hook(p) -> None:
        progress.append(p)
        threads.add(threading.current_thread().name)

    cfg = TrainConfig(arch="baseline", epochs=2, batch_size=32, train_size=2000, augment=False)
    card = train(cfg, out, hook, mnist=mnist)
    return TrainedRun(out, cfg, card, progress, threads)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_run):
    from digitlib import load_classifier

    return load_classifier(tiny_run.directory)


@pytest.fixture(scope="session")
def sure_digits(tiny_classifier, mnist) -> list[tuple[np.ndarray, int]]:
    """One test digit per class (28x28 uint8, white on black) that the tiny model reads right and surely."""
    _, (x_test, y_test) = mnist
    probabilities = tiny_classifier.predict_batch(x_test[:2000])
    chosen = []
    for digit in range(10):
        sure = np.flatnonzero(
            (y_test[:2000] == digit) & (probabilities.argmax(1) == digit) & (probabilities.max(1) > 0.95)
        )
        assert sure.size, f"the tiny model reads no {digit} surely; it is too weak for the classifier tests"
        chosen.append((x_test[sure[0]], digit))
    return chosen


def run_cli(
    *args: str, env: dict | None = None, cwd: Path = REPO, entry: tuple[str, ...] = ("-m", "digitlib")
) -> subprocess.CompletedProcess:
    """Run ``python -m digitlib ARGS`` as a user would (or ``python ENTRY ARGS``), capturing its output."""
    return subprocess.run(
        [sys.executable, *entry, *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )


@pytest.fixture(scope="session")
def cli():
    return run_cli
