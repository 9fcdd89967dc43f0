"""Two app servers on one PostgreSQL database, each with its own disk, as the deploy/ recipe runs them: what one
server's visitors do to the common state, the other's see.

Visitors are websocket sessions speaking Streamlit's protocol (tests/support/streamlit_client.py).  The owner trains a
small model on server A; a visitor of B can't start a second run meanwhile (nor one of A), then finds the model
in B's list and reads with it; wrong owner passwords given on both servers add up to the one limit.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from digitlib import available_models
from digitlib.app.access import MAX_OWNER_TRIES_PER_MINUTE, MAX_WRONG_OWNER_PASSWORDS
from digitlib.store.corrections import CorrectionStore
from digitlib.store.shared import SharedState
from tests.support.browser_driver import DIGIT_STROKES, start_app, stop_app
from tests.support.databases import fresh_database, server_url
from tests.support.streamlit_client import AppSession, WidgetState, drawn_digit  # the load benchmark's client

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not available_models(), reason="no shipped model in models/ yet"),
]

PASSWORD = "correct horse battery staple"
READING = "Number read"


@pytest.fixture(scope="module")
def database():
    url, drop = fresh_database(server_url())
    yield url
    drop()


@pytest.fixture(scope="module")
def servers(repo, database, tmp_path_factory, mnist):
    """Servers A and B: one database, a folder of trained models each (separate machines share no disk)."""
    started = []
    try:
        for name in "ab":
            tmp = tmp_path_factory.mktemp(f"server-{name}")
            started.append(
                start_app(
                    repo,
                    {
                        "DIGITLIB_STORE": database,
                        "DIGITLIB_OWNER_PASSWORD": PASSWORD,
                        "DIGITLIB_TRAINED_MODELS_DIR": str(tmp / "trained"),
                    },
                    tmp / "streamlit.log",
                )
            )
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            stop_app(process)


async def visitor(url: str, page: str | None = None) -> tuple[AppSession, object]:
    session = AppSession(url)
    shown = await session.open()
    if page:
        shown = await session.choose("page", page)
    return session, shown


async def sign_in(session: AppSession, password: str):
    session.hold(WidgetState(id=session.widget(label="Owner password"), string_value=password))
    return await session.press("Sign in")


async def start_training(session: AppSession, **numbers: float):
    for key, value in numbers.items():
        session.hold(WidgetState(id=session.widget(key=key), double_value=value))
    return await session.press("Start training")


def wait_for_published(database: str, timeout: float = 400) -> str:
    """The name of the first model the database holds, once the run that trained it has published it (the run
    holds the training lease until then)."""
    state = SharedState(CorrectionStore(database))
    deadline = time.monotonic() + timeout
    while not (names := list(state.model_versions())):
        assert state.holding("training") is not None, "the run ended without publishing a model"
        assert time.monotonic() < deadline, "the owner's model never reached the database"
        time.sleep(0.5)
    return names[0]


def test_a_model_the_owner_trains_on_one_server_is_refused_a_rival_and_then_usable_on_the_other(servers, database):
    a, b = servers

    async def scenario():
        owner, _ = await visitor(a)
        assert "Owner mode" in " ".join((await sign_in(owner, PASSWORD)).alerts)
        await owner.choose("page", "Train")
        started = await start_training(owner, epochs=1, train_size=500)
        assert not started.exceptions
        on_b, _ = await visitor(b, "Train")
        refused_on_b = await on_b.press("Start training")
        _, seen_on_a = await visitor(a, "Train")
        return refused_on_b, seen_on_a

    refused_on_b, seen_on_a = asyncio.run(scenario())
    assert any("Not started" in alert and "another server" in alert for alert in refused_on_b.alerts), (
        refused_on_b.alerts
    )
    assert any("run is in progress on this server" in alert for alert in seen_on_a.alerts), seen_on_a.alerts

    name = wait_for_published(database)

    async def use_on_b():
        deadline = time.monotonic() + 30
        while True:  # the other server looks for new models every few seconds
            session, shown = await visitor(b)
            label = next((option for option in shown.options.get("Active model", []) if option.startswith(name)), None)
            if label or time.monotonic() > deadline:
                break
            await session.close()
            await asyncio.sleep(1)
        assert label, f"{name} is not among B's models: {shown.options}"
        chosen = await session.choose(session.newest("model-choice-"), label)
        picture, paths = drawn_digit(DIGIT_STROKES["1"], np.random.default_rng(0))
        drawn = await session.draw(session.newest("canvas-"), picture, paths)
        await session.close()
        return chosen, drawn

    chosen, drawn = asyncio.run(use_on_b())
    assert not chosen.exceptions
    assert not drawn.exceptions
    assert drawn.metrics.get(READING)  # the mirrored model read the drawing on B


def test_wrong_owner_passwords_on_both_servers_add_up_to_one_limit(servers):
    a, b = servers
    per_session = MAX_OWNER_TRIES_PER_MINUTE

    async def guesses(url: str, count: int) -> None:
        session, _ = await visitor(url)
        for _ in range(count):
            assert "Wrong password." in (await sign_in(session, "guess")).alerts
        await session.close()

    async def scenario():
        left = MAX_WRONG_OWNER_PASSWORDS - 1
        turn = 0
        while left:  # sessions on A and B in turn, each as many wrong passwords as one session may give
            count = min(per_session, left)
            await guesses((a, b)[turn % 2], count)
            left -= count
            turn += 1
        one_short, _ = await visitor(b)
        still_open = await sign_in(one_short, PASSWORD)  # one short of the limit: the right password still works
        await guesses(a, 1)  # the limit's last one, on A
        closed_session, _ = await visitor(b)
        closed = await sign_in(closed_session, PASSWORD)
        return still_open, closed

    still_open, closed = asyncio.run(scenario())
    assert "Owner mode" in still_open.alerts
    assert any("Too many wrong passwords" in alert for alert in closed.alerts), closed.alerts
    assert "Owner mode" not in closed.alerts
