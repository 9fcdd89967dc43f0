"""The state several app servers share through one database: models, wrong passwords, the training lease, quotas.

Each test runs on SQLite and on a real PostgreSQL database (tests/databases.py); racing servers are threads with
their own connections, as two server processes would be.
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from digitlib import load_classifier
from digitlib.reading.classifier import MODELS_DIR, available_models
from digitlib.store import StoreError
from digitlib.store.corrections import CorrectionStore
from digitlib.store.shared import SharedState, TrainingLease, WrongPasswordsInDatabase
from digitlib.training.jobs import Busy, Runner


@pytest.fixture
def two_servers(store_location):
    """Two servers' views of one database, each with its own connections."""
    return SharedState(CorrectionStore(store_location)), SharedState(CorrectionStore(store_location))


@pytest.fixture
def trained(tmp_path) -> Path:
    """A model directory as a run leaves it (a shipped model's two files)."""
    if not available_models():
        pytest.skip("no shipped model in models/ yet")
    out = tmp_path / "server-a" / "fast-20261206-120000"
    out.mkdir(parents=True)
    for name in ("model.tflite", "card.json"):
        shutil.copy(MODELS_DIR / available_models()[0] / name, out / name)
    return out


def test_a_model_published_on_one_server_is_mirrored_whole_on_the_other_and_loads(two_servers, trained, tmp_path):
    a, b = two_servers
    a.publish_model(trained)
    mirrored = b.mirror_models(tmp_path / "server-b")
    assert [path.name for path in mirrored] == [trained.name]
    assert (mirrored[0] / "model.tflite").read_bytes() == (trained / "model.tflite").read_bytes()
    assert load_classifier(mirrored[0]).card == load_classifier(trained).card
    assert b.mirror_models(tmp_path / "server-b") == []  # already there: nothing fetched again
    assert a.mirror_models(trained.parent) == []  # the server that trained it keeps its original
    assert not [p for p in (tmp_path / "server-b").iterdir() if p.name.startswith(".")]  # no staging left


def test_a_republished_model_replaces_the_mirrored_copy(two_servers, trained, tmp_path):
    a, b = two_servers
    a.publish_model(trained)
    b.mirror_models(tmp_path / "server-b")
    (trained / "card.json").write_text('{"name": "retrained"}')
    time.sleep(0.01)
    a.publish_model(trained)
    assert b.mirror_models(tmp_path / "server-b") == [tmp_path / "server-b" / trained.name]
    assert (tmp_path / "server-b" / trained.name / "card.json").read_text() == '{"name": "retrained"}'


@pytest.mark.parametrize("name", [".hidden", "with space", "naïve", "x" * 201])
def test_a_model_name_other_servers_could_not_use_as_a_plain_folder_name_is_refused(two_servers, trained, name):
    a, _ = two_servers
    odd = trained.parent / name
    shutil.copytree(trained, odd)
    with pytest.raises(ValueError, match="not a model name"):
        a.publish_model(odd)
    assert a.model_versions() == {}


def test_wrong_passwords_given_through_either_server_close_sign_in_on_both(two_servers):
    a, b = (WrongPasswordsInDatabase(state, limit=5, window_seconds=600) for state in two_servers)
    for _ in range(3):
        a.record()
    for _ in range(2):
        assert not a.locked() and not b.locked()
        b.record()
    assert a.locked() and b.locked()


def test_wrong_passwords_older_than_the_window_no_longer_count(two_servers):
    a = WrongPasswordsInDatabase(two_servers[0], limit=2, window_seconds=0.2)
    a.record()
    a.record()
    assert a.locked()
    time.sleep(0.3)
    assert not a.locked()


def test_one_of_many_racing_claims_wins_the_lease_and_it_frees_on_release_or_expiry(two_servers):
    a, b = two_servers
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda i: (a if i % 2 else b).claim("training", f"run-{i}", 30, f"run {i}"), range(8)))
    winners = [i for i, outcome in enumerate(outcomes) if outcome is None]
    assert len(winners) == 1
    winner = f"run-{winners[0]}"
    assert {outcome.holder for outcome in outcomes if outcome is not None} == {winner}
    assert a.claim("training", winner, 30, "renewed") is None  # the holder renews
    assert b.holding("training").note == "renewed"
    b.release("training", "someone-else")  # only the holder gives it back
    assert a.holding("training").holder == winner
    a.release("training", winner)
    assert b.claim("training", "short", 0.2, "") is None
    time.sleep(0.3)
    assert a.claim("training", "after-expiry", 30, "") is None  # a holder that stopped renewing lost it


def test_quota_counts_across_servers_and_never_passes_its_limit(two_servers):
    a, b = two_servers
    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(lambda i: (a if i % 2 else b).take_quota("pool:visitor", 3, 10), range(8)))
    assert taken.count(True) == 3  # 3 x 3 = 9 fits in 10, a fourth would not
    assert not a.take_quota("pool:visitor", 2, 10)
    assert b.take_quota("pool:visitor", 1, 10)
    assert a.take_quota("pool:another", 10, 10)


def test_a_runner_refuses_to_start_while_another_servers_run_holds_the_lease(two_servers, tmp_path):
    a, b = two_servers
    TrainingLease(a).claim("a-run-elsewhere", 30, "train: epoch 1/3")
    runner = Runner(TrainingLease(b))
    with pytest.raises(Busy, match="on another server .train: epoch 1/3."):
        runner.start("train", {"epochs": 1, "train_size": 500}, tmp_path / "refused", preset="baseline")
    assert runner.active() is None
    assert not (tmp_path / "refused").exists()


def test_a_runner_starts_nothing_when_the_database_with_the_lease_is_down(tmp_path):
    """The one-run rule lives in the database: unreachable, Start says so (StoreError, which the app words for the
    visitor) and no run begins, rather than a run no other server would know about."""
    state = SharedState(CorrectionStore(f"sqlite:///{tmp_path / 'shared.db'}"))
    state.store.engine = sa.create_engine("postgresql+psycopg://digitlib@127.0.0.1:1/digitlib?connect_timeout=2")
    runner = Runner(TrainingLease(state))  # the database went away after the server started
    with pytest.raises(StoreError, match="corrections database failed"):
        runner.start("train", {"epochs": 1, "train_size": 500}, tmp_path / "refused", preset="baseline")
    assert runner.active() is None
    assert not (tmp_path / "refused").exists()
