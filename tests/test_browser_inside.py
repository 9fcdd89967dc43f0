"""The Inside tab and the Model tab's downloads in a real browser: a digit drawn with the mouse followed through
the network, pushed off-centre in the playground, read by every model; screenshots go to docs/.

Reuses test_browser's server, browser and drawing helpers (each test module starts its own server).
"""

from __future__ import annotations

import pytest
from browser_driver import DIGIT_STROKES, download, draw, wait_for_number
from test_browser import browser, page, pytestmark, server  # noqa: F401 - fixtures used by name

from digitlib import DEFAULT_MODEL, available_models
from digitlib.app.model_card import DOWNLOADS

VIEWPORT = {"width": 1280, "height": 1000}


def settle(page) -> None:
    """Until the script run is over and its charts are drawn."""
    page.locator('[data-testid^="stStatusWidgetRunning"]').first.wait_for(state="hidden")
    page.wait_for_timeout(1000)


def shot(page, path, top_of=None) -> None:
    """A laptop-sized screenshot, scrolled so that ``top_of`` (a locator) starts near the top."""
    settle(page)
    if top_of is not None:
        top_of.scroll_into_view_if_needed()
        box = top_of.bounding_box()
        page.mouse.wheel(0, box["y"] - 80)
        page.wait_for_timeout(500)
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path))


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


def test_the_drawing_is_followed_through_every_layer(drawn, repo):
    page = drawn
    for name in ("conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2", "dense", "softmax"):
        heading(page, name).wait_for()
    page.get_by_text("the filters that made these maps").wait_for()
    page.set_viewport_size({"width": 1280, "height": 1300})  # the input, the first layer's maps and its filters
    shot(page, repo / "docs" / "inside-layers.png", top_of=page.get_by_text("Follow one digit through the network"))
    page.set_viewport_size(VIEWPORT)
    shot(page, repo / "docs" / "inside-deeper-layers.png", top_of=heading(page, "conv2d_1"))
    shot(page, repo / "docs" / "inside-outputs.png", top_of=heading(page, "conv2d_2"))


def test_the_playground_shows_the_naive_demo_losing_an_off_centre_digit(drawn, repo):
    page = drawn
    view(page, "Playground")
    assert metric_value(page, "naive resize-and-invert") == "reads 4"
    thumb = page.locator('.st-key-play_shift input[type="range"]')
    thumb.focus()
    for _ in range(10):  # 4 px a step: 40 px of empty canvas above and left of the digit
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    settle(page)
    assert metric_value(page, "digitlib's pipeline") == "reads 4"
    assert metric_value(page, "naive resize-and-invert") != "reads 4"
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    shot(page, repo / "docs" / "inside-playground.png", top_of=page.get_by_text("Most digit demos resize"))
    assert page.locator('[data-testid="stVegaLiteChart"]').first.bounding_box()["y"] < VIEWPORT["height"] - 200


def test_every_model_reads_the_drawing_side_by_side(drawn, repo):
    page = drawn
    view(page, "Compare models")
    for name in available_models():
        page.get_by_text(name, exact=True).first.wait_for()
    page.locator('[data-testid="stDataFrame"]').wait_for()
    page.locator('[data-testid="stVegaLiteChart"]').nth(len(available_models()) - 1).wait_for()
    shot(page, repo / "docs" / "inside-compare.png", top_of=page.get_by_text("Every model shipped or trained here"))


@pytest.mark.parametrize(("file", "label"), [(file, label) for file, label, _ in DOWNLOADS])
def test_the_model_tab_downloads_the_active_models_files(drawn, repo, file, label):
    page = drawn
    page.get_by_role("tab", name="Model").click()
    page.get_by_text("Downloads", exact=True).wait_for()
    settle(page)
    received = download(page, page.get_by_role("button", name=label))
    name = DEFAULT_MODEL if DEFAULT_MODEL in available_models() else available_models()[0]
    assert received.suggested_filename == f"{name}-{file}"
    assert open(received.path(), "rb").read() == (repo / "models" / name / file).read_bytes()
