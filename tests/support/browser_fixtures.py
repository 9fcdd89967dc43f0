"""Browser fixtures for the tests that drive the app in Chromium (a pytest plugin that tests/conftest.py loads).

Each test module that uses them gets its own Chromium and its own `streamlit run` server on a free loopback port.
"""

from __future__ import annotations

import time

import pytest

from digitlib import available_models
from tests.support.browser_driver import DESKTOP, PHONE, launch_chromium, open_app, start_app, stop_app


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(repo, tmp_path_factory, browser):
    """`streamlit run` on loopback; yields (url, time it was started).  The browser is up first, so the
    time measured from here is the app's own."""
    if not available_models():
        pytest.skip("no shipped model in models/ yet")
    tmp = tmp_path_factory.mktemp("app")
    env = {"DIGITLIB_TRAINED_MODELS_DIR": str(tmp / "trained"), "DIGITLIB_STORE": str(tmp / "corrections.sqlite3")}
    started = time.perf_counter()
    try:
        process, url = start_app(repo, env, tmp / "streamlit.log")
    except RuntimeError as exc:
        pytest.fail(str(exc))
    print(f"\nstreamlit run -> server answering: {time.perf_counter() - started:.2f} s")
    yield url, started
    stop_app(process)


@pytest.fixture(scope="module")
def page(server, browser):
    """The app on a laptop's screen, 1280x800, drawn on with the mouse."""
    url, started = server
    page = open_app(browser, url, DESKTOP)
    print(f"streamlit run -> canvas ready in the browser: {time.perf_counter() - started:.2f} s")
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def phone(server, browser):
    """The app on a 390x844 phone with a touch screen, drawn on with a finger."""
    page = open_app(browser, server[0], PHONE)
    yield page
    page.context.close()
