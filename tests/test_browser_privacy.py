"""Two strangers in a real browser (two Chromium contexts, two Streamlit sessions on one server): A's correction
is shown to A, with its delete and download buttons, and never to B.  The server and browser are
tests/support/browser_fixtures.py's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digitlib.store.files import read_npz
from tests.support.browser_driver import NEEDS_CHROMIUM, open_upload_tab
from tests.support.digit_pictures import number_picture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    NEEDS_CHROMIUM,
]


@pytest.fixture
def strangers(server, browser):
    """Two pages, each in its own browser context (no shared cookies or storage): two visitors."""
    url, _ = server
    contexts = [browser.new_context(viewport={"width": 1280, "height": 1400}) for _ in range(2)]
    pages = [context.new_page() for context in contexts]
    for page in pages:
        page.set_default_timeout(60_000)
        page.goto(url)
        page.get_by_text("Draw a digit, or a whole number").wait_for()
    yield pages
    for context in contexts:
        context.close()


def open_corrections_tab(page) -> None:
    """Open the tab and wait until its script run has finished, so what is absent is really absent."""
    page.get_by_role("tab", name="Corrections").click()
    page.get_by_text(re.compile("corrected digits? of yours")).wait_for()
    page.get_by_text("Carry on from a download").wait_for()
    page.locator('[data-testid^="stStatusWidgetRunning"]').first.wait_for(state="hidden")
    page.wait_for_timeout(500)


def test_a_correction_is_seen_deleted_and_downloaded_only_by_its_author(strangers, mnist):
    alice, bob = strangers
    open_upload_tab(alice)
    alice.locator('input[type="file"]').set_input_files(
        [{"name": "seven.png", "mimeType": "image/png", "buffer": number_picture(mnist, "7")}]
    )
    alice.get_by_label("Wrong? The right number:").fill("1")
    alice.get_by_role("button", name="Save", exact=True).click()
    alice.get_by_text("Saved 1 (only you see it)").wait_for()

    open_corrections_tab(alice)
    open_corrections_tab(bob)
    assert alice.get_by_text("1 corrected digit of yours").is_visible()
    alice.get_by_role("button", name="Download as .npz").wait_for()
    assert alice.get_by_role("button", name="Delete").count() == 1
    assert alice.get_by_role("button", name="Download as .npz").count() == 1
    assert bob.get_by_text("0 corrected digits of yours").is_visible()
    assert bob.get_by_role("button", name="Delete").count() == 0
    assert bob.get_by_role("button", name="Download as .npz").count() == 0
    assert bob.get_by_role("button", name="Download as MNIST IDX (zip)").count() == 0

    with alice.expect_download() as download:
        alice.get_by_role("button", name="Download as .npz").click()
    assert download.value.suggested_filename == "corrections-mine.npz"
    x, y = read_npz(Path(download.value.path()).read_bytes(), max_samples=10)
    assert y.tolist() == [1] and x.shape == (1, 28, 28)
    bob.reload()
    open_corrections_tab(bob)  # a fresh page of B's changes nothing: still none of A's
    assert bob.get_by_text("0 corrected digits of yours").is_visible()
    assert bob.get_by_role("button", name="Delete").count() == 0
