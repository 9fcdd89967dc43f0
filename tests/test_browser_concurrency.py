"""Several visitors at once in a real browser: each session sees its own drawing's or upload's reading.

Three pages in one Chromium, each its own browser context (its own Streamlit session), all acting
before any result is looked at, so their reruns overlap on the server.  The server and browser are
tests/support/browser_fixtures.py's.
"""

from __future__ import annotations

import pytest

from tests.support.browser_driver import (
    DIGIT_STROKES,
    HINT,
    NEEDS_CHROMIUM,
    clear_canvas,
    draw,
    drawing_canvas,
    open_upload_tab,
    wait_for_number,
    wait_until_still,
)
from tests.support.digit_pictures import number_picture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    NEEDS_CHROMIUM,
]
DRAWN = ["1", "7"]  # one drawer page per digit; a third page uploads a number
UPLOADED = "2026"


@pytest.fixture
def visitors(server, browser):
    """One page per drawing plus one for uploading, each in its own browser context, the canvas ready."""
    url, _ = server
    contexts = [browser.new_context(viewport={"width": 1280, "height": 1400}) for _ in range(len(DRAWN) + 1)]
    pages = [context.new_page() for context in contexts]
    for page in pages:
        page.set_default_timeout(60_000)
        page.goto(url)
    for page in pages:
        page.get_by_text(HINT).wait_for()
        wait_until_still(drawing_canvas(page))
    yield pages
    for context in contexts:
        context.close()


def test_three_visitors_at_once_each_see_their_own_reading(visitors, mnist):
    *drawers, uploader = visitors
    open_upload_tab(uploader)
    uploader.locator('input[type="file"]').set_input_files(
        [{"name": "year.png", "mimeType": "image/png", "buffer": number_picture(mnist, UPLOADED)}]
    )
    for page, digit in zip(drawers, DRAWN):
        draw(page, DIGIT_STROKES[digit])

    assert [wait_for_number(page, digit) for page, digit in zip(drawers, DRAWN)] == DRAWN
    result = uploader.locator('[class*="st-key-upload-"]').filter(has_text="year.png").first
    value = result.locator('[data-testid="stMetricValue"]').first
    value.wait_for()
    assert value.inner_text().strip() == UPLOADED

    # A second round, the other way round: each drawer draws the other's digit on a cleared canvas.
    for page in drawers:
        clear_canvas(page)
    for page, digit in zip(drawers, reversed(DRAWN)):
        draw(page, DIGIT_STROKES[digit])
    assert [wait_for_number(page, digit) for page, digit in zip(drawers, reversed(DRAWN))] == DRAWN[::-1]
