"""The screenshots in docs/: the app started with `streamlit run`, driven in Debian's Chromium as a person would.

    python benchmarks/screenshots.py              # every picture, into docs/
    python benchmarks/screenshots.py --out /tmp/shots

Laptop pictures are 1280x800 (the Inside tab's 1280x1000, its layers 1280x1300), the phone 390x844 with a finger
drawing.  Each picture is taken once the app has finished running and its charts are drawn; a step that doesn't
show what it should stops the script with Playwright's timeout, so no picture of a broken page is written.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from a checkout, where digitlib and tests.support are not installed

from digitlib import available_models  # noqa: E402
from digitlib.data import load_mnist  # noqa: E402
from tests.support import browser_driver as driver  # noqa: E402
from tests.support.digit_pictures import number_picture  # noqa: E402

INSIDE_VIEWPORT = {"width": 1280, "height": 1000}


def save(page, path: Path, top_of=None) -> None:
    """What a person sees once the run is over, scrolled so that ``top_of`` (a locator) starts near the top."""
    driver.settled(page)
    if top_of is not None:
        top_of.scroll_into_view_if_needed()
        page.mouse.wheel(0, top_of.bounding_box()["y"] - 80)
        page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    print(path)


def draw_tab(page, phone, out: Path) -> None:
    driver.draw(page, driver.DIGIT_STROKES["1"])
    driver.wait_for_number(page, "1")
    save(page, out / "draw.png")
    for device, number, name in ((page, "4071", "draw-number.png"), (phone, "4071", "draw-phone.png")):
        driver.clear_canvas(device)
        driver.draw_number(device, number)
        driver.wait_for_number(device, number)
        save(device, out / name)


def upload_and_model_tabs(page, out: Path) -> None:
    driver.open_upload_tab(page)
    page.locator('input[type="file"]').set_input_files(
        [
            {"name": "year.png", "mimeType": "image/png", "buffer": number_picture(load_mnist(), "2026")},
            {"name": "broken.png", "mimeType": "image/png", "buffer": b"not an image at all"},
        ]
    )
    page.get_by_text("broken.png: not a readable image").wait_for()
    page.locator('[class*="st-key-upload-"]').filter(has_text="year.png").first.locator(
        '[data-testid="stMetricValue"]'
    ).first.wait_for()
    save(page, out / "upload.png")
    page.get_by_role("tab", name="Model").click()
    page.get_by_text("Misclassified test digits").wait_for()
    save(page, out / "model.png")


# Real photos of numbers (measured on, never trained on): an 8-digit photo and a 28x28 pixel-art number.
REALWORLD_MULTI = REPO.parent / "shared" / "realworld-dev2" / "multi"
EIGHT_DIGITS = "12345678__MuztaghAta__handwirtten-digit-recognization__IMG_1703.jpg"
PIXEL_ART = "862__Eduard195__Handwrited_numbers__number4.png"


def real_photos_and_train_tab(page, phone, out: Path) -> None:
    """Each device: the 8-digit photo and the 28x28 number read on the Upload tab, the Model and Train tabs."""
    for device, suffix in ((page, ""), (phone, "-phone")):
        driver.open_upload_tab(device)
        device.locator('input[type="file"]').set_input_files(
            [REALWORLD_MULTI / EIGHT_DIGITS, REALWORLD_MULTI / PIXEL_ART]
        )
        for index in range(2):
            device.locator(f".st-key-upload-{index} [data-testid='stMetricValue']").first.wait_for()
        save(device, out / f"upload-photo{suffix}.png", top_of=device.locator(".st-key-upload-0"))
        save(device, out / f"upload-small{suffix}.png", top_of=device.locator(".st-key-upload-1"))
        if device is phone:
            device.get_by_role("tab", name="Model").click()
            device.get_by_text("Misclassified test digits").wait_for()
            save(device, out / "model-phone.png")
        device.get_by_role("tab", name="Train").click()
        device.get_by_text("Estimated time").wait_for()
        save(device, out / f"train{suffix}.png")


def layer_heading(page, name: str):
    """A layer's heading in the Layers view ('name · kind · shape')."""
    return page.locator('[data-testid="stMarkdownContainer"]').filter(has_text=f"{name} ·").first


def inside_view(page, name: str) -> None:
    """Pick one of the Inside tab's views (a segmented control)."""
    page.locator(".st-key-inside_view button").filter(has_text=name).click()


def inside_tab(page, out: Path) -> None:
    """A 4 drawn on the Draw tab followed through the network, pushed off-centre, read by every model."""
    page.set_viewport_size(INSIDE_VIEWPORT)
    driver.draw(page, driver.DIGIT_STROKES["4"])
    driver.wait_for_number(page, "4")
    page.get_by_role("tab", name="Inside").click()
    layer_heading(page, "conv2d_2").wait_for()
    page.get_by_text("the filters that made these maps").wait_for()
    page.set_viewport_size({"width": 1280, "height": 1300})  # the input, the first layer's maps and its filters
    save(page, out / "inside-layers.png", top_of=page.get_by_text("Follow one digit through the network"))
    page.set_viewport_size(INSIDE_VIEWPORT)
    save(page, out / "inside-deeper-layers.png", top_of=layer_heading(page, "conv2d_1"))
    save(page, out / "inside-outputs.png", top_of=layer_heading(page, "conv2d_2"))

    inside_view(page, "Playground")
    slider = page.locator('.st-key-play_shift input[type="range"]')
    slider.focus()
    for _ in range(10):  # 4 px a step: 40 px of empty canvas above and left of the digit
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    save(page, out / "inside-playground.png", top_of=page.get_by_text("Most digit demos resize"))

    inside_view(page, "Compare models")
    for name in available_models():
        page.get_by_text(name, exact=True).first.wait_for()
    page.locator('[data-testid="stVegaLiteChart"]').nth(len(available_models()) - 1).wait_for()
    save(page, out / "inside-compare.png", top_of=page.get_by_text("Every model shipped or trained here"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the PNG files (default: docs/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        tmp = Path(tmp)  # the app's writable places, so the pictures show a fresh install
        env = {"DIGITLIB_TRAINED_MODELS_DIR": str(tmp / "trained"), "DIGITLIB_STORE": str(tmp / "corrections.sqlite3")}
        browser = driver.launch_chromium(playwright)
        process, url = driver.start_app(REPO, env, tmp / "streamlit.log")
        try:
            page, phone = driver.open_app(browser, url, driver.DESKTOP), driver.open_app(browser, url, driver.PHONE)
            draw_tab(page, phone, args.out)
            upload_and_model_tabs(page, args.out)
            if REALWORLD_MULTI.is_dir():
                real_photos_and_train_tab(
                    driver.open_app(browser, url, driver.DESKTOP), driver.open_app(browser, url, driver.PHONE), args.out
                )
            inside_tab(driver.open_app(browser, url, driver.DESKTOP), args.out)
        finally:
            driver.stop_app(process)
            browser.close()


if __name__ == "__main__":
    main()
