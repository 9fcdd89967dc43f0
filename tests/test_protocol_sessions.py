"""Visitors on the real server without a browser: websocket sessions speaking Streamlit's protocol, as the load
benchmark's clients do (tests/support/streamlit_client.py), each see their own drawing's and upload's reading.

This also keeps the load benchmark honest: if the app's canvas, Clear button, tabs or reading change so that the
protocol client no longer gets readings, this fails instead of the benchmark counting errors.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from digitlib import available_models
from tests.support.browser_driver import DIGIT_STROKES, start_app, stop_app
from tests.support.digit_pictures import number_picture
from tests.support.streamlit_client import AppSession, FetchFailed, drawn_digit

pytestmark = [
    pytest.mark.skipif(not available_models(), reason="no shipped model in models/ yet"),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def server(repo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("protocol")
    process, url = start_app(
        repo,
        {"DIGITLIB_TRAINED_MODELS_DIR": str(tmp / "trained"), "DIGITLIB_STORE": str(tmp / "corrections.sqlite3")},
        tmp / "streamlit.log",
    )
    yield url
    stop_app(process)


def test_sessions_drawing_at_once_each_get_their_own_reading_then_a_clear_canvas(server):
    rng = np.random.default_rng(0)

    async def visitor(digit: str) -> tuple[str | None, list[str], list[str]]:
        session = AppSession(server)
        await session.open()
        canvas = session.newest("canvas-")
        picture, paths = drawn_digit(DIGIT_STROKES[digit], rng)
        drawn = await session.draw(canvas, picture, paths)
        cleared = await session.press("Clear")
        await session.close()
        return drawn.metrics.get("Number read"), drawn.exceptions, cleared.alerts

    async def both():
        return await asyncio.gather(visitor("1"), visitor("7"))

    for digit, (shown, exceptions, after_clear) in zip("17", asyncio.run(both())):
        assert not exceptions
        assert shown == digit
        assert any(alert.startswith("Draw a digit") for alert in after_clear)  # the empty canvas' hint again


def test_an_uploaded_picture_is_read_and_removing_it_empties_the_tab(server, mnist):
    async def upload():
        session = AppSession(server)
        await session.open()
        await session.choose("page", "Upload")
        read, urls = await session.upload("uploads-0", "year.png", number_picture(mnist, "2026"))
        pictures = [await session.fetch(path) for path in read.media]  # as a browser would, on one connection
        with pytest.raises(FetchFailed, match="404"):
            await session.fetch("/media/" + "0" * 56 + ".png")
        removed = await session.remove_uploads("uploads-0", urls)
        await session.close()
        return read, pictures, removed

    read, pictures, removed = asyncio.run(upload())
    assert not read.exceptions
    assert read.metrics.get("Number read") == "2026"
    assert read.media and all(picture.startswith((b"\x89PNG", b"\xff\xd8")) for picture in pictures)
    assert "Number read" not in removed.metrics
    assert any(alert.startswith("Upload one or more images") for alert in removed.alerts)
