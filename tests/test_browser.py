"""The app in a real browser (Debian's Chromium driven by Playwright): draw with the mouse, upload files.

The server is started here on a free loopback port and stopped by its process id.  Screenshots go
to docs/.  The time from starting the server to the first prediction on screen is printed: a
measurement, not an assertion.  The real-world numbers come from ../shared/realworld-dev (or
$DIGITLIB_REALWORLD_DIR) when it is there.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlib import DEFAULT_MODEL, available_models

CHROMIUM = Path("/usr/bin/chromium")
REALWORLD = Path(os.environ.get("DIGITLIB_REALWORLD_DIR", Path(__file__).resolve().parents[2] / "shared" / "realworld-dev"))
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)"),
]

# Each digit as mouse strokes, in a unit box (x right, y down); a stroke is a polyline.
Stroke = list[tuple[float, float]]


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 24) -> Stroke:
    """Points on an ellipse from angle start to end (degrees, 0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, steps)]


DIGIT_STROKES: dict[str, list[Stroke]] = {
    "0": [arc(0.5, 0.5, 0.3, 0.42, -90, 270, 36)],
    "1": [[(0.5, 0.08), (0.5, 0.92)]],
    "2": [arc(0.5, 0.32, 0.28, 0.22, 190, 380) + [(0.22, 0.9), (0.82, 0.9)]],
    "3": [arc(0.48, 0.28, 0.27, 0.2, 210, 450) + arc(0.48, 0.7, 0.3, 0.22, -90, 150)],
    "4": [[(0.55, 0.08), (0.18, 0.62), (0.85, 0.62)], [(0.62, 0.3), (0.62, 0.94)]],
    "5": [[(0.78, 0.1), (0.3, 0.1), (0.26, 0.45)] + arc(0.5, 0.66, 0.3, 0.25, -120, 150)],
    "6": [[(0.7, 0.08)] + arc(0.52, 0.66, 0.28, 0.27, 200, 560)],
    "7": [[(0.15, 0.1), (0.85, 0.1), (0.42, 0.94)]],
    "8": [[(0.5 + 0.3 * math.sin(2 * t), 0.5 - 0.43 * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 48)]],
    "9": [arc(0.48, 0.32, 0.27, 0.24, 0, 360, 30) + [(0.74, 0.4), (0.7, 0.94)]],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(repo, tmp_path_factory, browser):
    """`streamlit run` on loopback; yields (url, time it was started).  The browser is up first, so the
    time measured from here is the app's own."""
    if not available_models():
        pytest.skip("no shipped model in models/ yet")
    tmp = tmp_path_factory.mktemp("app")
    port = free_port()
    env = os.environ | {"DIGITLIB_TRAINED_MODELS_DIR": str(tmp / "trained"),
                        "DIGITLIB_STORE": str(tmp / "corrections.sqlite3")}
    log = open(tmp / "streamlit.log", "w")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, tmp / "streamlit.log")
        print(f"\nstreamlit run -> server answering: {time.perf_counter() - started:.2f} s")
        yield url, started
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"streamlit did not answer within {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(server, browser):
    url, started = server
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_text("Draw a digit, or a whole number").wait_for()
    print(f"streamlit run -> canvas ready in the browser: {time.perf_counter() - started:.2f} s")
    yield page
    page.close()


def number_shown(page) -> str:
    """The "Number read" metric once it is on screen."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Number read").first
    metric.wait_for()
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def canvas_version(page) -> int:
    """The number in the canvas component's key (canvas-N): Clear counts it up to mount a fresh canvas."""
    return page.evaluate("""() => Math.max(...[...document.querySelectorAll('[class*="st-key-canvas-"]')]
        .map(e => +e.className.match(/st-key-canvas-(\\d+)/)[1]))""")


def drawing_canvas(page):
    """The canvas that takes the strokes: fabric.js's upper canvas inside the newest canvas component."""
    return page.locator(f".st-key-canvas-{canvas_version(page)} canvas.upper-canvas")


def draw(page, strokes: list[Stroke], left: float, top: float, size: float) -> None:
    """Draw strokes with the mouse inside a size x size box at (left, top) of the drawing canvas."""
    box = drawing_canvas(page).bounding_box()
    for stroke in strokes:
        points = [(box["x"] + left + x * size * 0.75 + size * 0.125, box["y"] + top + y * size) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=4)
        page.mouse.up()


def clear_canvas(page) -> None:
    """Press Clear and wait until the fresh canvas has taken the old one's place (the layout is settled)."""
    old = canvas_version(page)
    page.get_by_role("button", name="Clear").click()
    page.locator(f".st-key-canvas-{old + 1} canvas.upper-canvas").wait_for()
    page.locator(f".st-key-canvas-{old}").wait_for(state="detached")
    page.get_by_text("Draw a digit, or a whole number").wait_for()
    wait_until_still(drawing_canvas(page))


def wait_until_still(locator, timeout: float = 10) -> None:
    """Until the element keeps its place for 0.3 s: strokes drawn while the layout still moves can miss the canvas."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        box = locator.bounding_box()
        if box is not None and box == last:
            return
        last = box
        time.sleep(0.3)


def wait_for_number(page, expected: str, timeout: float = 15) -> str:
    """The number shown once it settles on `expected`, or whatever it shows when time is up."""
    deadline = time.monotonic() + timeout
    shown = number_shown(page)
    while shown != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        shown = number_shown(page)
    return shown


def screenshot(page, path: Path) -> None:
    """What a person sees once the app has finished running and its charts are drawn."""
    page.locator('[data-testid^="stStatusWidgetRunning"]').first.wait_for(state="hidden")
    page.wait_for_timeout(1000)  # charts render just after the script run ends
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path))


def test_a_vertical_stroke_reads_1_and_start_to_first_prediction_is_timed(server, page, repo, capsys):
    _, started = server
    draw(page, DIGIT_STROKES["1"], left=260, top=30, size=180)
    assert wait_for_number(page, "1") == "1"
    with capsys.disabled():  # shown even without -s: the figure is this test's report
        print(f"\nstreamlit run -> first prediction shown in the browser: {time.perf_counter() - started:.2f} s "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    screenshot(page, repo / "docs" / "draw.png")


@pytest.mark.parametrize("digit", list(DIGIT_STROKES))
def test_each_digit_drawn_with_the_mouse_is_read(page, digit):
    clear_canvas(page)
    draw(page, DIGIT_STROKES[digit], left=230, top=30, size=180)
    assert wait_for_number(page, digit) == digit


def test_a_number_drawn_in_a_row_is_read_with_a_box_per_digit(page, repo):
    clear_canvas(page)
    for position, digit in enumerate("407"):
        draw(page, DIGIT_STROKES[digit], left=70 + 170 * position, top=40, size=160)
    assert wait_for_number(page, "407") == "407"
    screenshot(page, repo / "docs" / "draw-number.png")


def number_picture(mnist, number: str) -> bytes:
    """MNIST test digits side by side as dark ink on white paper, saved as PNG."""
    _, (x_test, y_test) = mnist
    row = np.hstack([np.pad(x_test[np.flatnonzero(y_test == int(d))[0]], ((12, 12), (6, 6))) for d in number])
    buffer = io.BytesIO()
    Image.fromarray(255 - row).resize((row.shape[1] * 5, row.shape[0] * 5), Image.BILINEAR).save(buffer, "PNG")
    return buffer.getvalue()


def open_upload_tab(page) -> None:
    page.get_by_role("tab", name="Upload").click()
    page.get_by_text("Upload one or more images").wait_for()


def test_an_uploaded_image_is_read_as_a_number(page, mnist, repo):
    open_upload_tab(page)
    page.locator('input[type="file"]').set_input_files(
        [{"name": "year.png", "mimeType": "image/png", "buffer": number_picture(mnist, "2026")},
         {"name": "broken.png", "mimeType": "image/png", "buffer": b"not an image at all"}])
    result = page.locator('[class*="st-key-upload-"]').filter(has_text="year.png").first
    result.locator('[data-testid="stMetricValue"]').first.wait_for()
    assert result.locator('[data-testid="stMetricValue"]').first.inner_text().strip() == "2026"
    page.get_by_text("broken.png: not a readable image").wait_for()
    screenshot(page, repo / "docs" / "upload.png")


def test_the_model_tab_shows_the_active_model_card(page, repo):
    name = DEFAULT_MODEL if DEFAULT_MODEL in available_models() else available_models()[0]
    card = json.loads((repo / "models" / name / "card.json").read_text())
    page.get_by_role("tab", name="Model").click()
    accuracy = page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy")
    accuracy.wait_for()
    assert accuracy.locator('[data-testid="stMetricValue"]').inner_text() == f"{card['test_accuracy']:.2%}"
    page.get_by_text("Misclassified test digits").wait_for()
    screenshot(page, repo / "docs" / "model.png")


@pytest.mark.skipif(not (REALWORLD / "multi").is_dir(), reason=f"{REALWORLD}/multi not present")
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
