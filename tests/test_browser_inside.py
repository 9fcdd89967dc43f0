"""The Inside tab and the Model tab's downloads in a real browser: a digit drawn with the mouse, pushed off-centre
in the playground, and the active model's files downloaded.  The server and browser are
tests/support/browser_fixtures.py's (each test module starts its own server).
"""

from __future__ import annotations

import pytest

from digitlib import DEFAULT_MODEL, available_models
from digitlib.app.model_card import DOWNLOADS
from tests.support.browser_driver import DIGIT_STROKES, NEEDS_CHROMIUM, download, draw, settled, wait_for_number

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

VIEWPORT = {"width": 1280, "height": 1000}


def heading(page, name: str):
    """A layer's heading in the Layers view ('name · kind · shape')."""
    return page.locator('[data-testid="stMarkdownContainer"]').filter(has_text=f"{name} ·").first


def view(page, name: str) -> None:
    """Pick one of the Inside tab's views (a segmented control)."""
    page.locator(".st-key-inside_view button").filter(has_text=name).click()


def metric_value(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    metric.wait_for()
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


@pytest.fixture(scope="module")
def drawn(page):
    """A 4 drawn on the Draw tab, then the Inside tab opened on it."""
    page.set_viewport_size(VIEWPORT)
    draw(page, DIGIT_STROKES["4"])
    assert wait_for_number(page, "4") == "4"
    page.get_by_role("tab", name="Inside").click()
    heading(page, "conv2d").wait_for()
    return page


def test_the_playground_shows_the_naive_demo_losing_an_off_centre_digit(drawn):
    page = drawn
    view(page, "Playground")
    assert metric_value(page, "naive resize-and-invert") == "reads 4"
    thumb = page.locator('.st-key-play_shift input[type="range"]')
    thumb.focus()
    for _ in range(10):  # 4 px a step: 40 px of empty canvas above and left of the digit
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    settled(page)
    assert metric_value(page, "digitlib's pipeline") == "reads 4"
    assert metric_value(page, "naive resize-and-invert") != "reads 4"
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    intro = page.get_by_text("Most digit demos resize").bounding_box()
    chart = page.locator('[data-testid="stVegaLiteChart"]').first.bounding_box()
    assert chart["y"] - intro["y"] < VIEWPORT["height"] - 280  # on the same screen as the playground's first line


@pytest.mark.parametrize(("file", "label"), [(file, label) for file, label, _ in DOWNLOADS])
def test_the_model_tab_downloads_the_active_models_files(drawn, repo, file, label):
    page = drawn
    page.get_by_role("tab", name="Model").click()
    page.get_by_text("Downloads", exact=True).wait_for(timeout=120_000)  # a busy machine slows the first draw
    received = download(page, page.get_by_role("button", name=label))
    name = DEFAULT_MODEL if DEFAULT_MODEL in available_models() else available_models()[0]
    assert received.suggested_filename == f"{name}-{file}"
    assert open(received.path(), "rb").read() == (repo / "models" / name / file).read_bytes()
