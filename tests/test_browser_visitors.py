"""A visitor's work in Chromium: it survives a reload, a new tab and a trip to another tab; another browser, or a
made-up key, sees none of it; and the active model changes only when the visitor picks one."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import pytest

from digitlib import DEFAULT_MODEL, available_models
from digitlib.app.visitors import COOKIE
from tests.support.browser_driver import (
    DESKTOP,
    HINT,
    NEEDS_CHROMIUM,
    PHONE,
    app_server,
    draw,
    draw_number,
    ink_on_canvas,
    open_app,
    settled,
    wait_for_number,
)
from tests.support.digit_pictures import number_picture

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900), NEEDS_CHROMIUM]
REALWORLD_NUMBER = "12345678"


@pytest.fixture(scope="module")
def visitors_server(repo, tmp_path_factory):
    """The app on a free loopback port; yields its URL and the folder it keeps visitors' models in."""
    if DEFAULT_MODEL not in available_models():
        pytest.skip(f"{DEFAULT_MODEL} is not in models/")
    tmp = tmp_path_factory.mktemp("visitors")
    with app_server(repo, tmp) as url:
        yield url, tmp / "trained"


def visitor_key(page) -> str:
    return next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == COOKIE)


def open_tab(page, name: str, ready: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.get_by_text(ready).first.wait_for()
    settled(page)


def corrections_count(page) -> str:
    open_tab(page, "Corrections", "Carry on from a download")
    return page.get_by_text(re.compile(r"^\d+ corrected digits? of yours")).inner_text().split()[0]


def sidebar_models(page) -> list[str]:
    """The names the sidebar's model picker offers."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return [option.strip() for option in options]


def save_a_correction(page, mnist_picture: bytes) -> None:
    open_tab(page, "Upload", "Upload one or more images")
    page.locator('input[type="file"]').set_input_files(
        [{"name": "seven.png", "mimeType": "image/png", "buffer": mnist_picture}]
    )
    page.get_by_label("Wrong? The right number:").fill("1")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved 1 (only you see it)").wait_for()


def test_a_reload_and_a_new_tab_keep_corrections_and_models_others_see_none(visitors_server, browser, mnist, repo):
    url, trained = visitors_server
    page = open_app(browser, url, DESKTOP)
    save_a_correction(page, number_picture(mnist, "7"))
    key = visitor_key(page)
    mine = trained / "sessions" / hashlib.sha256(key.encode()).hexdigest() / "my-model"  # as a run of theirs saves
    shutil.copytree(repo / "models" / DEFAULT_MODEL, mine)

    page.reload()
    page.get_by_text(HINT).wait_for()
    assert visitor_key(page) == key
    assert corrections_count(page) == "1"
    assert "my-model" in sidebar_models(page)
    second_tab = page.context.new_page()  # the same browser: the same visitor
    second_tab.goto(url)
    second_tab.get_by_text(HINT).wait_for()
    assert corrections_count(second_tab) == "1" and "my-model" in sidebar_models(second_tab)

    stranger = open_app(browser, url, DESKTOP)  # another browser: nothing of the first
    forger = browser.new_context(**DESKTOP)
    forger.add_cookies([{"name": COOKIE, "value": key[:-4] + ("AAAA" if key[-4:] != "AAAA" else "BBBB"), "url": url}])
    forged = forger.new_page()
    forged.goto(url)
    forged.get_by_text(HINT).wait_for()
    for other in (stranger, forged):
        assert corrections_count(other) == "0"
        assert "my-model" not in sidebar_models(other)
        assert visitor_key(other) != key
    for context in (page.context, stranger.context, forger):
        context.close()


def canvas_brush(page) -> str:
    return page.locator('[data-testid="stSlider"] input[type="range"]').first.input_value()


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["laptop", "phone"])
def test_the_drawing_its_reading_and_the_brush_survive_other_tabs(visitors_server, browser, device):
    page = open_app(browser, visitors_server[0], device)
    page.locator('[data-testid="stSlider"] input[type="range"]').first.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    settled(page)
    draw_number(page, "4071")
    assert wait_for_number(page, "4071") == "4071"
    for tab, ready in (
        ("Model", "Test accuracy"),
        ("Upload", "Upload one or more images"),
        ("Inside", "Your drawing reads 4071"),
    ):
        open_tab(page, tab, ready)
        open_tab(page, "Draw", "Number read")
        assert wait_for_number(page, "4071") == "4071"  # the reading is back...
        assert ink_on_canvas(page) > 0.02  # ...with the strokes on the canvas...
        assert canvas_brush(page) == "22"  # ...and the brush as it was
    draw(page, [[(0.5, 0.1), (0.5, 0.9)]], left=2.2, top=0.16, size=0.6)  # a stroke more joins the kept ones
    assert wait_for_number(page, "40711") == "40711"
    page.get_by_role("button", name="Clear").click()
    page.get_by_text(HINT).wait_for()
    open_tab(page, "Model", "Test accuracy")
    open_tab(page, "Draw", HINT)  # cleared stays cleared
    assert ink_on_canvas(page) == 0
    page.context.close()


def test_uploaded_pictures_survive_other_tabs_and_can_be_removed(visitors_server, browser, mnist):
    page = open_app(browser, visitors_server[0], DESKTOP)
    open_tab(page, "Upload", "Upload one or more images")
    page.locator('input[type="file"]').set_input_files(
        [
            {"name": f"{number}.png", "mimeType": "image/png", "buffer": number_picture(mnist, number)}
            for number in ("2026", "31")
        ]
    )
    for number in ("2026", "31"):
        page.locator(".st-key-upload-0, .st-key-upload-1").filter(has_text=f"{number}.png").first.wait_for()
    open_tab(page, "Draw", HINT)
    open_tab(page, "Upload", "2026.png")
    values = page.locator('[class*="st-key-upload-"] [data-testid="stMetricValue"]').all_inner_texts()
    assert values[0::2] == ["2026", "31"]
    page.locator(".st-key-upload-1").get_by_role("button", name="Remove").click()
    page.get_by_text("31.png").wait_for(state="detached")
    open_tab(page, "Draw", HINT)
    open_tab(page, "Upload", "2026.png")
    assert page.get_by_text("31.png").count() == 0
    page.context.close()


def test_the_active_model_stays_put_when_tabs_are_clicked_as_the_page_appears(visitors_server, browser, repo):
    """A tab clicked in the first moments of a new visitor's page once switched the app to the first model listed
    (1 load in 10 here, on the code before the fix: 10 loads catch it two times in three)."""
    accuracy = f"{json.loads((repo / 'models' / DEFAULT_MODEL / 'card.json').read_text())['test_accuracy']:.2%}"
    tabs = ["Model", "Upload", "Inside", "Train", "Corrections"]
    for attempt in range(10):
        context = browser.new_context(**(PHONE if attempt % 2 else DESKTOP))
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(visitors_server[0], wait_until="commit")
        page.get_by_role("tab", name=tabs[attempt % len(tabs)]).click()  # as soon as it is there
        page.get_by_role("tab", name="Model").click()
        for _ in range(2):  # the model tab as it first shows, and again after another rerun
            shown = page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy")
            shown.wait_for()
            settled(page)
            picked = page.locator('[data-testid="stSidebar"] input[role="combobox"]').input_value()
            assert DEFAULT_MODEL in picked, (attempt, picked)
            assert shown.locator('[data-testid="stMetricValue"]').inner_text() == accuracy, attempt
            page.get_by_role("tab", name="Draw").click()
            page.get_by_text(HINT).wait_for()
            page.get_by_role("tab", name="Model").click()
        context.close()
