"""Load benchmark: N visitors at once on one running app server, in real browser pages, with and without training.

Each visitor is a page in its own browser context (its own Streamlit session) of one headless Chromium.  Three in
four draw: a single-stroke digit with the mouse, then wait for the app to show it read, then Clear, again and again;
the fourth uploads a picture of a number and waits for its reading.  For ``--seconds`` every session works as fast
as the app answers.  Printed per N, without and with a training run in progress: readings made, errors (a reading
not shown within ``--timeout``, a wrong one, an exception on the page), p50/p99 latency from the stroke's mouse-up
(or the upload) to the reading on screen, the server's peak RSS (it and its child processes) and the CPU time its
process used (per reading: what the server itself costs, whatever else the machine is doing).

The training run is the app's own kind of job: a ``digitlib.jobs.Runner`` child (spawned, niced, the same
process the Train tab starts), training the ``fast`` preset long enough to outlast the measurement.  The browser shares the machine's cores with the
server, so latencies are upper bounds: the load average is printed with each row.

    python benchmarks/load_bench.py                          # N = 5, 10, 20, 60 s each, without and with training
    python benchmarks/load_bench.py --sessions 5 --seconds 20 --training without --out ''   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from browser_driver import stop_app  # noqa: E402
from test_browser import DIGIT_STROKES, number_picture  # noqa: E402 - the browser tests' strokes and pictures
from digitlib.jobs import Run, Runner  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DRAWN = ["1", "7"]  # single strokes the shipped models read surely; alternating them makes every reading new
UPLOADED = "2026"
HINT = "Draw a digit, or a whole number"


@dataclass
class Tally:
    """What the sessions of one measurement saw."""

    draw_seconds: list[float] = field(default_factory=list)
    upload_seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run` on loopback with its store and trained models in ``tmp``; waits until it answers."""
    port = free_port()
    env = os.environ | {"DIGITLIB_TRAINED_MODELS_DIR": str(tmp / "trained"),
                        "DIGITLIB_STORE": str(tmp / "corrections.sqlite3")}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=REPO, env=env, stdout=open(tmp / "streamlit.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer; see {tmp / 'streamlit.log'}")


def start_training(tmp: Path) -> tuple[Runner, Run]:
    """A training job as the Train tab starts one, long enough to outlast a measurement."""
    runner = Runner()
    return runner, runner.start("train", {"epochs": 30, "train_size": 54_000}, tmp / "background-run", preset="fast")


class ServerUse:
    """The server's largest resident memory (with its children), sampled four times a second, and its CPU time."""

    def __init__(self, pid: int):
        self.process, self.peak, self.running = psutil.Process(pid), 0, True
        self.cpu_at_start = self.cpu_seconds()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def sample(self) -> None:
        while self.running:
            try:
                family = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in family if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.25)

    def stop(self) -> tuple[int, float]:
        """(peak RSS in bytes, CPU seconds the server process used since the start)."""
        self.running = False
        self.thread.join()
        return self.peak, self.cpu_seconds() - self.cpu_at_start


async def canvas_version(page) -> int:
    return await page.evaluate("""() => Math.max(...[...document.querySelectorAll('[class*="st-key-canvas-"]')]
        .map(e => +e.className.match(/st-key-canvas-(\\d+)/)[1]))""")


async def draw(page, digit: str) -> None:
    box = await page.locator(f".st-key-canvas-{await canvas_version(page)} canvas.upper-canvas").bounding_box()
    left, top, size = 260, 30, 180
    for stroke in DIGIT_STROKES[digit]:
        points = [(box["x"] + left + x * size * 0.75 + size * 0.125, box["y"] + top + y * size) for x, y in stroke]
        await page.mouse.move(*points[0])
        await page.mouse.down()
        for point in points[1:]:
            await page.mouse.move(*point, steps=4)
        await page.mouse.up()


def reading_shown(page, text: str, within=None):
    """The "Number read" value once it is exactly ``text``."""
    scope = within or page
    return (scope.locator('[data-testid="stMetric"]').filter(has_text="Number read").first
            .locator('[data-testid="stMetricValue"]').filter(has_text=re.compile(f"^{text}$")))


async def ink_on_canvas(page) -> bool:
    """Whether the newest canvas holds a drawing: tells a stroke the canvas lost from a reading the server owes."""
    return await page.evaluate("""() => {
        const canvases = [...document.querySelectorAll('[class*="st-key-canvas-"] canvas.lower-canvas')];
        const canvas = canvases[canvases.length - 1];
        if (!canvas) return false;
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < pixels.length; i += 4) if (pixels[i] < 128 && pixels[i + 3] > 0) return true;
        return false;
    }""")


async def clear(page) -> None:
    old = await canvas_version(page)
    await page.get_by_role("button", name="Clear").click()
    await page.locator(f".st-key-canvas-{old + 1} canvas.upper-canvas").wait_for()
    await page.locator(f".st-key-canvas-{old}").wait_for(state="detached")
    await page.get_by_text(HINT).wait_for()
    await wait_until_still(page.locator(f".st-key-canvas-{old + 1} canvas.upper-canvas"))


async def wait_until_still(locator, timeout: float = 10) -> None:
    """Until the element keeps its place for 0.3 s: strokes drawn while the layout still moves can miss the canvas."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        box = await locator.bounding_box()
        if box is not None and box == last:
            return
        last = box
        await asyncio.sleep(0.3)


async def drawer(page, deadline: float, timeout: float, tally: Tally) -> None:
    turn = 0
    while time.monotonic() < deadline:
        digit = DRAWN[turn % len(DRAWN)]
        turn += 1
        try:
            await draw(page, digit)
            began = time.monotonic()
            await reading_shown(page, digit).wait_for(timeout=timeout * 1000)
            tally.draw_seconds.append(time.monotonic() - began)
            await clear(page)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and named
            shown = await page.locator('[data-testid="stMetricValue"]').all_inner_texts()
            what = f"showing {shown[0]!r}" if shown else "the hint still shown" if await page.get_by_text(HINT).count() \
                else "nothing shown"
            what += ", ink on the canvas" if await ink_on_canvas(page) else ", no ink on the canvas"
            tally.errors.append(f"draw {digit}: {type(exc).__name__} ({what})")
            await page.reload()
            await page.get_by_text(HINT).wait_for(timeout=120_000)


async def uploader(page, deadline: float, timeout: float, tally: Tally, picture: bytes) -> None:
    await page.get_by_role("tab", name="Upload").click()
    await page.get_by_text("Upload one or more images").wait_for()
    turn = 0
    while time.monotonic() < deadline:
        turn += 1
        name = f"year-{turn}.png"
        try:
            began = time.monotonic()
            await page.locator('input[type="file"]').set_input_files(
                [{"name": name, "mimeType": "image/png", "buffer": picture}])
            result = page.locator('[class*="st-key-upload-"]').filter(has_text=name).first
            await reading_shown(page, UPLOADED, within=result).wait_for(timeout=timeout * 1000)
            tally.upload_seconds.append(time.monotonic() - began)
            await page.wait_for_timeout(2500)  # a person looks at it (and stays under the app's pictures per minute)
            for remove in await page.locator('[data-testid="stFileUploaderDeleteBtn"] button').all():
                await remove.click()
            await page.locator('[class*="st-key-upload-"]').first.wait_for(state="detached")
        except Exception as exc:  # noqa: BLE001
            tally.errors.append(f"upload: {type(exc).__name__}")


async def measure(browser, url: str, sessions: int, seconds: float, timeout: float, picture: bytes) -> Tally:
    tally = Tally()
    contexts = [await browser.new_context(viewport={"width": 1280, "height": 1400}) for _ in range(sessions)]
    pages = [await context.new_page() for context in contexts]
    for page in pages:
        page.set_default_timeout(120_000)  # opening N pages at once on a busy machine
        page.on("pageerror", lambda exc: tally.errors.append(f"page error: {exc}"))
    await asyncio.gather(*(page.goto(url) for page in pages))
    await asyncio.gather(*(page.get_by_text(HINT).wait_for(timeout=120_000) for page in pages))
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(uploader(page, deadline, timeout, tally, picture) if index % 4 == 3
                           else drawer(page, deadline, timeout, tally) for index, page in enumerate(pages)))
    for page in pages:
        if await page.locator('[data-testid="stException"]').count():
            tally.errors.append("an exception is shown on a page")
    for context in contexts:
        await context.close()
    return tally


def percentile(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.2f}" if values else "n/a"


async def main_async(args) -> list[str]:
    from playwright.async_api import async_playwright

    from digitlib.data import load_mnist

    picture = number_picture(load_mnist(), UPLOADED)
    rows = []
    with tempfile.TemporaryDirectory(prefix="digitlib-load-") as tmp:
        tmp = Path(tmp)
        server, url = start_server(tmp)
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run"])
                await measure(browser, url, 1, 5, args.timeout, picture)  # warm-up: model and components loaded
                for training in args.training:
                    runner, trainer = start_training(tmp) if training == "with" else (None, None)
                    if trainer:
                        await asyncio.sleep(args.training_warmup)  # TensorFlow imported, MNIST loaded, epochs running
                    try:
                        for sessions in args.sessions:
                            load_before = os.getloadavg()[0]
                            use = ServerUse(server.pid)
                            tally = await measure(browser, url, sessions, args.seconds, args.timeout, picture)
                            peak, cpu = use.stop()
                            readings = len(tally.draw_seconds) + len(tally.upload_seconds)
                            alive = trainer is None or trainer.active
                            row = (f"| {sessions} | {training} training{'' if alive else ' (run had ended!)'} | "
                                   f"{len(tally.draw_seconds)} | {len(tally.upload_seconds)} | {len(tally.errors)} | "
                                   f"{percentile(tally.draw_seconds, 50)} | {percentile(tally.draw_seconds, 99)} | "
                                   f"{percentile(tally.upload_seconds, 50)} | {percentile(tally.upload_seconds, 99)} | "
                                   f"{peak / 2**20:.0f} | {cpu:.0f} ({1000 * cpu / max(readings, 1):.0f}) | "
                                   f"{load_before:.1f} → {os.getloadavg()[0]:.1f} |")
                            print(row, flush=True)
                            for error in sorted(set(tally.errors)):
                                print(f"    {tally.errors.count(error)} x {error}", flush=True)
                            rows.append(row)
                    finally:
                        if trainer:
                            runner.stop(trainer.token)
                await browser.close()
        finally:
            stop_app(server)
    return rows


HEADER = ["| sessions | training | drawings read | uploads read | errors | draw p50 s | draw p99 s | upload p50 s | "
          "upload p99 s | server peak RSS MB | server CPU s (ms per reading) | load average (1 min) before → after |",
          "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--training", nargs="+", choices=["without", "with"], default=["without", "with"])
    parser.add_argument("--training-warmup", type=float, default=25, help="seconds between starting training and "
                        "measuring")
    parser.add_argument("--timeout", type=float, default=20, help="seconds a reading may take before it is an error")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "load_results.md"), help="markdown table ('' for none)")
    args = parser.parse_args()
    print("\n".join(HEADER), flush=True)
    rows = asyncio.run(main_async(args))
    if args.out:
        command = "python benchmarks/load_bench.py " + " ".join(sys.argv[1:])
        Path(args.out).write_text(
            f"# Load benchmark\n\n`{command.strip()}` on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"each row {args.seconds:.0f} s. Latency: mouse-up of the stroke (or the upload) to the reading on "
            "screen, browser included (it runs on the same cores).\n\n" + "\n".join(HEADER + rows) + "\n")


if __name__ == "__main__":
    main()
