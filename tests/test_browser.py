"""The app in a real browser (Debian's Chromium driven by Playwright): draw with the mouse at 1280x800 and with
a finger as a 390x844 phone, upload files, read the model's story.

The server is started on a free loopback port and stopped by its process id (tests/support/browser_fixtures.py).
Screenshots are benchmarks/screenshots.py's job.  The time from starting the server to the first prediction on
screen is printed: a measurement, not an assertion (benchmarks/browser_bench.py measures the speed).  The
real-world numbers come from ../shared/realworld-dev (or $DIGITLIB_REALWORLD_DIR) when it is there.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from digitlib import DEFAULT_MODEL, available_models
from tests.support.browser_driver import (
    DIGIT_STROKES,
    HINT,
    NEEDS_CHROMIUM,
    clear_canvas,
    draw,
    draw_number,
    drawing_canvas,
    open_upload_tab,
    settled,
    wait_for_number,
)
from tests.support.digit_pictures import number_picture

REALWORLD = Path(
    os.environ.get("DIGITLIB_REALWORLD_DIR", Path(__file__).resolve().parents[2] / "shared" / "realworld-dev")
)
pytestmark = [
    pytest.mark.browser,
    NEEDS_CHROMIUM,
]


def box_of(page, selector: str, text: str | None = None) -> dict:
    locator = page.locator(selector)
    if text:
        locator = locator.filter(has_text=text)
    return locator.first.bounding_box()


def test_a_vertical_stroke_reads_1_and_start_to_first_prediction_is_timed(server, page, capsys):
    _, started = server
    draw(page, DIGIT_STROKES["1"])
    assert wait_for_number(page, "1") == "1"
    with capsys.disabled():  # shown even without -s: the figure is this test's report
        print(
            f"\nstreamlit run -> first prediction shown in the browser: {time.perf_counter() - started:.2f} s "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
        )


def test_on_a_laptop_the_reading_sits_beside_the_canvas_above_the_fold(page):
    """Number, confidence and the ten bars at 1280x800 without scrolling, right of the canvas; the drawing is not
    shown a second time (the only pictures are the per-digit details)."""
    clear_canvas(page)
    draw(page, DIGIT_STROKES["7"])
    assert wait_for_number(page, "7") == "7"
    settled(page)
    canvas = drawing_canvas(page).bounding_box()
    number = box_of(page, '[data-testid="stMetric"]', "Number read")
    confidence = box_of(page, '[data-testid="stMetric"]', "Confidence")
    bars = box_of(page, '[data-testid="stVegaLiteChart"]')
    for shown in (number, confidence, bars):
        assert shown["x"] >= canvas["x"] + canvas["width"], shown  # beside the canvas
        assert shown["y"] + shown["height"] <= 800, shown  # above the fold
    assert number["y"] < canvas["y"] + canvas["height"]
    assert page.locator('[data-testid="stImage"]').count() == 1  # the 7's details, no copy of the drawing
    alt = page.locator('[data-testid="stImage"] img').first.get_attribute("alt")
    assert "read as 7" in alt


def test_on_a_phone_the_canvas_fits_the_screen_and_the_layout_stacks(phone):
    canvas = drawing_canvas(phone).bounding_box()
    assert canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= 390, canvas
    assert canvas["width"] / canvas["height"] == pytest.approx(640 / 240, rel=0.02)  # the drawing keeps its shape
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    hint = box_of(phone, '[data-testid="stAlert"]', HINT)
    assert hint["y"] >= canvas["y"] + canvas["height"]  # the reading's place is under the canvas


@pytest.mark.parametrize("device", ["page", "phone"])  # the mouse on a laptop, a finger on a phone
@pytest.mark.parametrize("digit", list(DIGIT_STROKES))
def test_each_digit_drawn_is_read(request, device, digit):
    page = request.getfixturevalue(device)
    clear_canvas(page)
    draw(page, DIGIT_STROKES[digit])
    assert wait_for_number(page, digit) == digit


@pytest.mark.parametrize(("device", "number"), [("page", "407"), ("phone", "29")])
def test_a_number_drawn_in_a_row_is_read_with_its_digits_in_detail(request, device, number):
    page = request.getfixturevalue(device)
    clear_canvas(page)
    draw_number(page, number)
    assert wait_for_number(page, number) == number
    settled(page)  # the details follow the reading
    assert page.locator('[data-testid="stImage"]').count() == len(number)  # one picture pair per digit


def test_an_uploaded_image_is_read_as_a_number(page, mnist):
    open_upload_tab(page)
    page.locator('input[type="file"]').set_input_files(
        [
            {"name": "year.png", "mimeType": "image/png", "buffer": number_picture(mnist, "2026")},
            {"name": "broken.png", "mimeType": "image/png", "buffer": b"not an image at all"},
        ]
    )
    result = page.locator('[class*="st-key-upload-"]').filter(has_text="year.png").first
    result.locator('[data-testid="stMetricValue"]').first.wait_for()
    assert result.locator('[data-testid="stMetricValue"]').first.inner_text().strip() == "2026"
    page.get_by_text("broken.png: not a readable image").wait_for()


def test_the_model_tab_shows_the_active_model_card(page, repo):
    name = DEFAULT_MODEL if DEFAULT_MODEL in available_models() else available_models()[0]
    card = json.loads((repo / "models" / name / "card.json").read_text())
    page.get_by_role("tab", name="Model").click()
    accuracy = page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy")
    accuracy.wait_for()
    assert accuracy.locator('[data-testid="stMetricValue"]').inner_text() == f"{card['test_accuracy']:.2%}"
    page.get_by_text("Misclassified test digits").wait_for()


@pytest.mark.skipif(
    not (REALWORLD / "multi").is_dir() and not os.environ.get("CI"),
    reason=f"{REALWORLD}/multi not present (CI has ../shared beside the clone)",
)
def test_the_real_world_numbers_upload_and_read_right(page):
    page.reload(wait_until="networkidle")
    open_upload_tab(page)
    pictures = sorted((REALWORLD / "multi").iterdir())
    page.locator('input[type="file"]').set_input_files([str(p) for p in pictures])
    read = {}
    for picture in pictures:
        result = page.locator('[class*="st-key-upload-"]').filter(has_text=picture.name).first
        value = result.locator('[data-testid="stMetricValue"]').first
        value.wait_for()
        read[picture.name] = value.inner_text().strip()
    expected = {p.name: re.match(r"\d+", p.name).group() for p in pictures}
    assert read == expected
