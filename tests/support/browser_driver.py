"""Driving the app in Debian's Chromium with Playwright, shared by the browser tests, the benchmarks and the
screenshots script.

Start the app on a free loopback port, draw digits on the canvas with the mouse or with a finger (touch events
through the Chrome DevTools Protocol, as a phone sends them), and time a stroke's release to the reading on
screen inside the page itself, so the test's own polling adds nothing to the figure.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Every browser test carries this mark: without Chromium they skip on a developer's machine, but under CI (which
# installs it) they run and fail loudly, as MNIST and PostgreSQL do, rather than pass green by skipping.
NEEDS_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"), reason=f"{CHROMIUM} not installed (apt-get install chromium)"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "has_touch": True, "is_mobile": True}
HINT = "Draw a digit, or a whole number"

# Each digit as strokes in a unit box (x right, y down); a stroke is a polyline.
Stroke = list[tuple[float, float]]


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 24) -> Stroke:
    """Points on an ellipse from angle start to end (degrees, 0 = right, 90 = down)."""
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in np.linspace(start, end, steps)
    ]


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


def start_app(repo: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run` headless on a free loopback port; returns the process and its URL once it answers."""
    port = free_port()
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "streamlit_app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=repo,
            env=os.environ | env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.05)
    stop_app(process)
    raise RuntimeError(f"streamlit did not answer within 60 s:\n{log.read_text()}")


def stop_app(process: subprocess.Popen) -> None:
    """Stop the server started here, by its own process id."""
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


# Every WebSocket frame's time, so a stroke's wait can be split: the canvas sending it, the server's first answer.
RECORD_SOCKET = """(() => {
    window.__socket = [];
    const Native = window.WebSocket;
    window.WebSocket = function (...args) {
        const socket = new Native(...args);
        const send = socket.send.bind(socket);
        socket.send = data => { window.__socket.push(["sent", performance.now()]); return send(data); };
        socket.addEventListener("message", () => window.__socket.push(["answer", performance.now()]));
        return socket;
    };
    window.WebSocket.prototype = Native.prototype;
})();"""


def open_app(browser, url: str, device: dict):
    """A fresh page on the app, once its canvas is ready to draw on."""
    context = browser.new_context(**device)
    context.add_init_script(RECORD_SOCKET)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_text(HINT).wait_for()
    wait_until_still(drawing_canvas(page))
    return page


def canvas_version(page) -> int:
    """The number in the canvas component's key (canvas-N): Clear counts it up to mount a fresh canvas."""
    return page.evaluate("""() => Math.max(...[...document.querySelectorAll('[class*="st-key-canvas-"]')]
        .map(e => +(e.className.match(/st-key-canvas-(\\d+)/) || [0, -1])[1]))""")


def drawing_canvas(page):
    """The canvas that takes the strokes: fabric.js's upper canvas inside the newest canvas component.

    Waits for a canvas component first: the hint text is drawn before the component mounts, and on a busy server
    the gap can last seconds, in which there is no version to name."""
    page.locator('[class*="st-key-canvas-"] canvas.upper-canvas').first.wait_for()
    return page.locator(f".st-key-canvas-{canvas_version(page)} canvas.upper-canvas")


def stroke_points(page, strokes: list[Stroke], left: float, top: float, size: float) -> list[list[tuple[float, float]]]:
    """Strokes in page coordinates, inside a box of `size` at (left, top) of the canvas as shown; all four are
    fractions of the canvas' on-screen height, so a drawing keeps its shape on a canvas scaled to a phone."""
    box = drawing_canvas(page).bounding_box()
    scale = box["height"]
    return [
        [
            (box["x"] + scale * (left + x * size * 0.75 + size * 0.125), box["y"] + scale * (top + y * size))
            for x, y in stroke
        ]
        for stroke in strokes
    ]


def draw_with_mouse(page, strokes: list[Stroke], left: float, top: float, size: float, before_lift=None) -> None:
    """`before_lift` is called just before the last stroke's release."""
    points = stroke_points(page, strokes, left, top, size)
    for number, stroke in enumerate(points, start=1):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*point, steps=4)
        if before_lift and number == len(points):
            before_lift()
        page.mouse.up()


def draw_with_finger(page, strokes: list[Stroke], left: float, top: float, size: float, before_lift=None) -> None:
    """Touch events as a phone's browser receives them (Playwright's touchscreen only taps)."""
    cdp = page.context.new_cdp_session(page)
    points = stroke_points(page, strokes, left, top, size)
    for number, stroke in enumerate(points, start=1):
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": stroke[0][0], "y": stroke[0][1]}]}
        )
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            for step in range(1, 5):
                x, y = x0 + (x1 - x0) * step / 4, y0 + (y1 - y0) * step / 4
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        if before_lift and number == len(points):
            before_lift()
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def draw(
    page, strokes: list[Stroke], left: float = 0.95, top: float = 0.12, size: float = 0.76, before_lift=None
) -> None:
    """With a finger on a touch page, else with the mouse."""
    touch = page.evaluate("() => navigator.maxTouchPoints > 0")
    (draw_with_finger if touch else draw_with_mouse)(page, strokes, left, top, size, before_lift)


def draw_number(page, number: str) -> None:
    """The digits of `number` side by side across the canvas, in slots of 0.8 canvas heights (the canvas is 2.67
    heights wide, so up to three fit at that size)."""
    slot = 2.4 / max(len(number), 3)
    first = 0.13 + (2.4 - slot * len(number)) / 2
    for position, digit in enumerate(number):
        draw(page, DIGIT_STROKES[digit], left=first + slot * position, top=0.16, size=min(0.7, slot))


def number_shown(page) -> str:
    """The "Number read" metric once it is on screen."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Number read").first
    metric.wait_for()
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def wait_for_number(page, expected: str, timeout: float = 15) -> str:
    """The number shown once it settles on `expected`, or whatever it shows when time is up."""
    deadline = time.monotonic() + timeout
    shown = number_shown(page)
    while shown != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        shown = number_shown(page)
    return shown


WATCH_READING = """expected => {
    window.__released = null; window.__read = null;
    const release = () => { if (window.__released === null) window.__released = performance.now(); };
    for (const type of ["pointerup", "touchend", "mouseup"]) window.addEventListener(type, release, {capture: true});
    const shown = () => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .filter(m => m.textContent.includes("Number read"))
        .map(m => m.querySelector('[data-testid="stMetricValue"]').textContent.trim())[0];
    const observer = new MutationObserver(() => {
        if (window.__released !== null && shown() === expected) {
            observer.disconnect(); window.__committed = performance.now();
            requestAnimationFrame(() => { window.__read = performance.now(); });
        }
    });
    observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def timed_drawing(page, strokes: list[Stroke], expected: str, timeout: float = 15, **where) -> float | None:
    """Draw; milliseconds from the last stroke's release to `expected` painted as the number read (measured in
    the page), or None when it never shows.  Both moments are also marked in the page's performance timeline
    ("stroke-released", "stroke-read"), so a Chrome trace can tell what the page did in between."""
    draw(page, strokes[:-1], **where)
    page.evaluate(WATCH_READING, expected)
    page.evaluate("() => { window.__socket = []; }")
    draw(page, strokes[-1:], **where)
    try:
        page.wait_for_function("() => window.__read !== null", timeout=timeout * 1000, polling="raf")
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError: the reading never showed
        return None
    return page.evaluate("""() => {
        performance.mark("stroke-released", {startTime: window.__released});
        performance.mark("stroke-read", {startTime: window.__read});
        return window.__read - window.__released;
    }""")


def stroke_timeline(page) -> dict[str, float]:
    """After timed_drawing: milliseconds from the release to the drawing sent and to the server's first answer."""
    return page.evaluate("""() => {
        const sent = window.__socket.find(([kind, at]) => kind === "sent" && at >= window.__released);
        const answer = sent && window.__socket.find(([kind, at]) => kind === "answer" && at >= sent[1]);
        window.__socket = [];
        return {sent: sent ? sent[1] - window.__released : null, answer: answer ? answer[1] - window.__released : null};
    }""")


def clear_canvas(page) -> None:
    """Press Clear and wait until the fresh canvas has taken the old one's place (the layout is settled)."""
    old = canvas_version(page)
    page.get_by_role("button", name="Clear").click()
    page.locator(f".st-key-canvas-{old + 1} canvas.upper-canvas").wait_for()
    page.locator(f".st-key-canvas-{old}").wait_for(state="detached")
    page.get_by_text(HINT).wait_for()
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


def settled(page) -> None:
    """Once the app has finished running and its charts are drawn."""
    page.locator('[data-testid^="stStatusWidgetRunning"]').first.wait_for(state="hidden")
    page.wait_for_timeout(1000)  # charts render just after the script run ends


def open_upload_tab(page) -> None:
    page.get_by_role("tab", name="Upload").click()
    page.get_by_text("Upload one or more images").wait_for()


def ink_on_canvas(page) -> float:
    """The share of the newest canvas' pixels that are ink (dark), as the canvas shows them."""
    return page.locator(f".st-key-canvas-{canvas_version(page)} canvas.dc-canvas.lower-canvas").evaluate("""canvas => {
        const {data} = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
        let dark = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && data[i] < 128) dark++;
        return dark / (canvas.width * canvas.height);
    }""")


@contextlib.contextmanager
def app_server(repo: Path, folder: Path, env: dict[str, str] | None = None):
    """The app on a free loopback port, its writable places (trained models, corrections) and its log in ``folder``;
    yields its URL."""
    places = {
        "DIGITLIB_TRAINED_MODELS_DIR": str(folder / "trained"),
        "DIGITLIB_STORE": str(folder / "corrections.sqlite3"),
    }
    process, url = start_app(repo, places | (env or {}), folder / "streamlit.log")
    try:
        yield url
    finally:
        stop_app(process)


def download(page, button, attempts: int = 3, seconds_each: float = 90):
    """Click ``button`` until the browser receives the file it serves; returns Playwright's Download.

    On a loaded machine a click can land while the page is being redrawn and be lost, and the server may take long
    to produce the file: each try waits for the page to be idle first, then gives the download time to arrive.
    """
    for attempt in range(1, attempts + 1):
        page.locator('[data-testid^="stStatusWidgetRunning"]').first.wait_for(state="hidden", timeout=120_000)
        button.wait_for(timeout=120_000)
        try:
            with page.expect_download(timeout=seconds_each * 1000) as started:
                button.click(timeout=seconds_each * 1000)
            return started.value
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: try again, unless this was the last try
            if attempt == attempts:
                raise
