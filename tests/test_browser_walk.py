"""A walk through every tab in Chromium leaves nothing in the browser console or the server log; and the camera,
fed a picture of a handwritten number through Chromium's fake camera, takes a photo that the app reads."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from digitlib import available_models
from tests.support.browser_driver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    HINT,
    NEEDS_CHROMIUM,
    app_server,
    draw_number,
    launch_chromium,
    open_app,
    settled,
    wait_for_number,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900), NEEDS_CHROMIUM]
# A picture replaced by a rerun is removed from the server while the browser may still be fetching it: Streamlit's
# media race (streamlit/streamlit#4825), harmless when the page then shows the new picture.  Such a 404 is let pass
# only if no picture on the page is left broken.
SUPERSEDED = re.compile(r"^404: (http://[^ ]+/media/[0-9a-f]+\.(?:jpg|png))$")
MEDIA_FAILURE = "error: Failed to load resource: the server responded with a status of 404 (Not Found)"
# Server log lines that are not a problem: LiteRT's greeting and Streamlit's own start-up lines.
QUIET = re.compile(
    r"INFO: Created TensorFlow Lite XNNPACK delegate|Uvicorn server started|You can now view|URL: http|"
    r"Stopping\.\.\.|^\s*$"
)


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    if not available_models():
        pytest.skip("no shipped model in models/ yet")
    with sync_playwright() as playwright:
        yield playwright


def scan_of(mnist, number: str, size: tuple[int, int] | None = None) -> Image.Image:
    """MNIST test digits side by side as dark ink on white paper, enlarged like a photo of a page."""
    _, (x_test, y_test) = mnist
    row = np.hstack([np.pad(x_test[np.flatnonzero(y_test == int(d))[1]], ((14, 14), (8, 8))) for d in number])
    page = Image.fromarray(255 - row).resize((row.shape[1] * 5, row.shape[0] * 5), Image.BILINEAR)
    if size is None:
        return page
    paper = Image.new("L", size, 255)
    paper.paste(page, ((size[0] - page.width) // 2, (size[1] - page.height) // 2))
    return paper


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def settled_and_whole(page, broken: list[str]) -> None:
    """Wait until the page is settled, then note every picture on it that the browser could not load."""
    settled(page)
    broken += page.evaluate("Array.from(document.images).filter(i => i.complete && !i.naturalWidth).map(i => i.src)")


def without_superseded_media(console: list[str]) -> list[str]:
    """The console lines less each superseded picture's 404 and the browser's and Streamlit's lines about it."""
    superseded = [match.group(1) for line in console if (match := SUPERSEDED.match(line))]
    about_them = {f"error: Client Error: Image source error - {url}" for url in superseded}
    rest = [line for line in console if not SUPERSEDED.match(line) and line not in about_them]
    for _ in superseded:
        if MEDIA_FAILURE in rest:
            rest.remove(MEDIA_FAILURE)
    return rest


def test_a_walk_through_every_tab_leaves_no_warning_in_the_console_or_the_log(playwright, repo, mnist, tmp_path):
    browser = launch_chromium(playwright)
    broken = []
    with app_server(repo, tmp_path) as url:
        page = open_app(browser, url, DESKTOP)
        console = []
        page.on(
            "console",
            lambda message: console.append(f"{message.type}: {message.text}")
            if message.type in ("warning", "error")
            else None,
        )
        page.on("pageerror", lambda error: console.append(f"page error: {error}"))
        page.on(  # which resource a "Failed to load resource" line is about
            "response",
            lambda response: console.append(f"{response.status}: {response.url}") if response.status >= 400 else None,
        )

        draw_number(page, "407")
        assert wait_for_number(page, "407") == "407"
        settled_and_whole(page, broken)
        page.get_by_role("tab", name="Upload").click()
        page.locator('input[type="file"]').set_input_files(
            [{"name": "year.png", "mimeType": "image/png", "buffer": png(scan_of(mnist, "2026"))}]
        )
        page.get_by_label("Wrong? The right number:").fill("2027")
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_text("Saved 2027").wait_for()
        page.get_by_label("Wrong? The right number:").fill("12")
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_text("Not saved: 4 digits were found").wait_for()
        settled_and_whole(page, broken)
        page.get_by_role("tab", name="Inside").click()
        page.get_by_text("Your drawing reads 407").wait_for()
        settled_and_whole(page, broken)
        for view in ("Playground", "Compare models"):
            page.locator(".st-key-inside_view button").filter(has_text=view).click()
            page.get_by_text("Reset sliders" if view == "Playground" else "Every model shipped").first.wait_for()
            settled_and_whole(page, broken)
            if view == "Playground":
                page.get_by_role("button", name="Reset sliders").click()
                settled_and_whole(page, broken)
        page.get_by_text("A picture").click()
        page.get_by_text("Picture (from the Upload tab)").wait_for()
        settled_and_whole(page, broken)
        for tab, ready in (
            ("Train", "Estimated time"),
            ("Model", "Misclassified test digits"),
            ("Corrections", "Carry on from a download"),
            ("Draw", "Number read"),
        ):
            page.get_by_role("tab", name=tab).click()
            page.get_by_text(ready).first.wait_for()
            settled_and_whole(page, broken)
        page.get_by_role("button", name="Clear").click()
        page.get_by_text(HINT).wait_for()
        settled_and_whole(page, broken)
        page.context.close()
    browser.close()
    assert broken == []
    assert without_superseded_media(console) == [], "\n".join(console)
    log = [line for line in (tmp_path / "streamlit.log").read_text().splitlines() if not QUIET.search(line)]
    assert log == []


def y4m(picture: Image.Image, frames: int = 10) -> bytes:
    """A greyscale picture as an uncompressed Y4M video (4:2:0, grey chroma), what Chromium's fake camera plays."""
    grey = np.asarray(picture.convert("L"), np.uint8)
    height, width = grey.shape
    chroma = np.full((height // 2) * (width // 2), 128, np.uint8).tobytes()
    frame = b"FRAME\n" + grey.tobytes() + chroma + chroma
    return f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames


def test_a_photo_taken_with_the_camera_is_read(playwright, repo, mnist, tmp_path):
    video = tmp_path / "number.y4m"
    video.write_bytes(y4m(scan_of(mnist, "385", size=(640, 480))))
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    with app_server(repo, tmp_path) as url:
        context = browser.new_context(**DESKTOP, permissions=["camera"])
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.get_by_role("tab", name="Upload").click()
        page.get_by_text("Use the camera").click()
        take = page.get_by_role("button", name="Take Photo")
        take.wait_for()
        page.wait_for_function("() => [...document.querySelectorAll('video')].some(v => v.readyState >= 2)")
        take.click()
        result = page.locator('[class*="st-key-upload-"]').first
        result.locator('[data-testid="stMetricValue"]').first.wait_for()
        assert result.locator('[data-testid="stMetricValue"]').first.inner_text().strip() == "385"
        context.close()
    browser.close()
