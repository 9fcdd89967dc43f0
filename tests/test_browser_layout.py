"""The app on a 390x844 phone in Chromium: long file names stay on one line, wide tables scroll inside their own box
rather than the page, the Train tab's controls fit; and the canvas offers no editing tool that would turn strokes
into selections."""

from __future__ import annotations

import pytest

from digitlib import available_models
from tests.support.browser_driver import DESKTOP, NEEDS_CHROMIUM, PHONE, app_server, open_app, settled
from tests.support.digit_pictures import number_picture

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600), NEEDS_CHROMIUM]
LONG_NAME = "a_photo_of_my_handwritten_house_number_taken_on_my_phone_2026-12-06_12-34-56.png"


@pytest.fixture(scope="module")
def layout_server(repo, tmp_path_factory):
    if not available_models():
        pytest.skip("no shipped model in models/ yet")
    with app_server(repo, tmp_path_factory.mktemp("layout")) as url:
        yield url


def page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def test_on_a_phone_nothing_sticks_out_and_long_names_keep_one_line(layout_server, browser, mnist):
    page = open_app(browser, layout_server, PHONE)
    page.get_by_role("tab", name="Upload").click()
    page.locator('input[type="file"]').set_input_files(
        [{"name": LONG_NAME, "mimeType": "image/png", "buffer": number_picture(mnist, "31")}]
    )
    name = page.locator('[class*="st-key-picture-name-"] p').first
    name.wait_for()
    settled(page)
    line = page.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)", name.element_handle())
    assert name.bounding_box()["height"] <= 1.5 * line  # one line, cut with an ellipsis
    assert page_width(page) <= 390

    page.get_by_role("tab", name="Model").click()
    page.get_by_text("How it was trained").wait_for()
    settled(page)
    assert page_width(page) <= 390
    table = page.locator('[data-testid="stMarkdownContainer"] table').first
    assert table.evaluate("e => getComputedStyle(e).overflowX") == "auto"  # it scrolls within its own box
    assert table.bounding_box()["x"] + table.bounding_box()["width"] <= 390

    page.get_by_role("tab", name="Train").click()
    recipe = page.locator('[data-testid="stSelectbox"]').filter(has_text="Recipe")
    recipe.wait_for()
    settled(page)
    box = recipe.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    value = recipe.locator("input").first
    assert value.evaluate("e => e.scrollWidth <= e.clientWidth")  # the chosen recipe is shown whole
    assert page_width(page) <= 390
    page.context.close()


def test_the_canvas_toolbar_has_no_editing_tools(layout_server, browser):
    page = open_app(browser, layout_server, DESKTOP)
    page.locator(".st-key-drawing-area").hover()
    page.get_by_role("button", name="Undo").first.wait_for()
    page.wait_for_timeout(1000)  # the page's script hides them within 0.3 s of the canvas appearing
    for tool in ("Edit", "Bring forward", "Send backward", "Delete selected"):
        assert page.get_by_role("button", name=tool, exact=True).is_hidden(), tool
    page.context.close()
