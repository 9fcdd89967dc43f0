"""The deploy/ recipe as it runs: deploy/run-local.sh starts two app servers behind nginx on one PostgreSQL, and
visitors through the proxy each stay on one server (their readings, their pictures and their uploads reach the
server that holds their session), while the visitors as a whole are spread evenly over both servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import numpy as np
import psutil
import pytest
import requests

from digitlib import available_models
from tests.support.browser_driver import DIGIT_STROKES, free_port
from tests.support.databases import fresh_database, server_url
from tests.support.digit_pictures import number_picture
from tests.support.streamlit_client import AppSession, drawn_digit  # the load benchmark's client

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not available_models(), reason="no shipped model in models/ yet"),
]

VISITORS = 12  # an even spread: servers chosen at random would be more than 7 to 5 apart two times in five


@pytest.fixture(scope="module")
def proxy(repo, tmp_path_factory):
    """The recipe's proxy URL and its two servers' process ids."""
    url, drop = fresh_database(server_url())
    folder = tmp_path_factory.mktemp("deploy")
    script = repo / "deploy" / "run-local.sh"
    port = free_port()
    started = subprocess.run(
        ["bash", script, "--start", folder, "2", str(port)],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHON": sys.executable, "DIGITLIB_STORE": url},
        timeout=240,
    )
    try:
        assert started.returncode == 0, started.stderr
        yield started.stdout.strip(), [int(pid) for pid in (folder / "servers.pid").read_text().split()]
    finally:
        subprocess.run(["bash", script, "--stop", folder], timeout=120)
        drop()


def sessions_per_server(server_pids: list[int]) -> list[int]:
    """Open connections from the proxy each server holds (a visitor's WebSocket is one; its own connections to the
    database are not counted)."""
    counts = []
    for pid in server_pids:
        connections = psutil.Process(pid).net_connections("tcp")
        listening = {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}
        counts.append(sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port in listening for c in connections))
    return counts


def test_visitors_through_the_proxy_stay_on_one_server_each_and_fill_both(proxy, mnist):
    url, server_pids = proxy
    picture = number_picture(mnist, "2026")

    async def visitor(index: int, arrived: list[asyncio.Event], opened: asyncio.Event, done: asyncio.Event):
        await arrived[index].wait()  # one after another, as visitors come: each finds the others' tabs open
        session = AppSession(url)
        await session.open()
        arrived[index + 1].set()
        digit = "17"[index % 2]
        stroke, paths = drawn_digit(DIGIT_STROKES[digit], np.random.default_rng(index))
        drawn = await session.draw(session.newest("canvas-"), stroke, paths)
        await session.fetch_media(drawn)  # the reading's pictures live on the session's server only
        await session.choose("page", "Upload")
        uploaded, urls = await session.upload("uploads-0", f"year-{index}.png", picture)
        await session.fetch_media(uploaded)
        opened.set()
        await done.wait()
        await session.close()
        return digit, drawn, uploaded

    async def everyone():
        arrived = [asyncio.Event() for _ in range(VISITORS + 1)]
        arrived[0].set()
        opened = [asyncio.Event() for _ in range(VISITORS)]
        done = asyncio.Event()
        running = [asyncio.create_task(visitor(i, arrived, opened[i], done)) for i in range(VISITORS)]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in opened)), 200)
        spread = await asyncio.to_thread(sessions_per_server, server_pids)
        done.set()
        return await asyncio.gather(*running), spread

    results, spread = asyncio.run(everyone())
    for digit, drawn, uploaded in results:
        assert not drawn.exceptions and drawn.metrics.get("Number read") == digit
        assert not uploaded.exceptions and uploaded.metrics.get("Number read") == "2026"
    assert sum(spread) >= VISITORS and max(spread) - min(spread) <= 2, spread


def test_a_cookie_naming_no_server_of_the_proxy_is_a_new_visitor(proxy):
    """The cookie is the browser's to change: naming the proxy itself (or any address not in its list) must not make
    nginx connect there; the request goes to a server, and the answer names that server."""
    url, _ = proxy
    servers = {f"127.0.0.1:{int(url.rsplit(':', 1)[1]) + i}" for i in (1, 2)}
    for forged in (url.removeprefix("http://"), "127.0.0.1:22", "example.com:80", "127.0.0.1:1, 127.0.0.1:2"):
        answer = requests.get(f"{url}/_stcore/health", cookies={"digitlib_server": forged}, timeout=30)
        assert answer.status_code == 200, (forged, answer.status_code)
        assert answer.cookies.get("digitlib_server") in servers, (forged, answer.cookies)
