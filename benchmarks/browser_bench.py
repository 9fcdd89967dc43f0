"""Stroke → reading in a real browser, on a laptop and on a phone (not part of the test suite).

    .venv/bin/python benchmarks/browser_bench.py [--rounds 3] [--out benchmarks/browser_results.md]  # appends a run

Starts the app (`streamlit run`, headless, a free loopback port) with DIGITLIB_TIMING_LOG set, so the Draw tab
logs each stroke's server time.  Debian's Chromium draws every digit 0-9, `--rounds` times, with the mouse at
1280x800 and with a finger (touch events) as a 390x844 phone.  Prints, per device: the p50/p95 time from releasing
the last stroke to the right digit painted as "Number read" (timed inside the page), the server time per stroke
split into reading the canvas and building the page, and from `streamlit run` to a canvas ready to draw on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from a checkout, where digitlib and tests.support are not installed

from tests.support.browser_driver import (  # noqa: E402
    DESKTOP,
    DIGIT_STROKES,
    PHONE,
    clear_canvas,
    launch_chromium,
    open_app,
    start_app,
    stop_app,
    stroke_timeline,
    timed_drawing,
)


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {np.percentile(values, 50):.0f} ms, p95 {np.percentile(values, 95):.0f} ms"


def server_times(log: Path, since: int) -> list[dict]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [json.loads(line) for line in lines[since:]]


# Chrome's trace of the page's tasks (with the thread time of each) and of the marks timed_drawing leaves.
TRACE_CATEGORIES = ["toplevel", "blink.user_timing"]
AFTER_READING_MS = 300  # the pause after each reading, in which the bars, the canvas, the form and details follow


def main_thread_cpu(trace: bytes) -> tuple[list[float], list[float]]:
    """Per stroke, the CPU time of the page's main thread from the release to the reading painted, and in the
    AFTER_READING_MS after it: the sum of the thread time of its tasks, which a busy machine does not inflate."""
    events = json.loads(trace)["traceEvents"]
    marks = {
        name: sorted((e["ts"], e["pid"], e["tid"]) for e in events if e.get("name") == name)
        for name in ("stroke-released", "stroke-read")
    }
    if not marks["stroke-read"]:
        return [], []
    main = marks["stroke-read"][0][1:]  # the renderer's main thread, where the marks were made
    tasks = sorted(
        (e["ts"], e["dur"], e.get("tdur", 0))
        for e in events
        if e.get("name") == "ThreadControllerImpl::RunTask" and e.get("ph") == "X" and (e["pid"], e["tid"]) == main
    )
    outermost, end = [], 0
    for start, duration, cpu in tasks:
        if start >= end:
            outermost.append((start, cpu))
            end = start + duration

    def cpu_between(start: float, stop: float) -> float:
        return sum(cpu for at, cpu in outermost if start <= at < stop) / 1000

    until, after = [], []
    for (released, *_), (read, *_) in zip(marks["stroke-released"], marks["stroke-read"]):
        until.append(cpu_between(released, read))
        after.append(cpu_between(read, read + 1000 * AFTER_READING_MS))
    return until, after


def run_device(browser, url: str, device: dict, rounds: int, log: Path) -> dict:
    """Every digit drawn `rounds` times on a fresh page; the reading and server times of each last stroke."""
    page = open_app(browser, url, device)
    fresh = timed_drawing(page, DIGIT_STROKES["1"], "1")  # the page fetches the metric and chart code first
    latencies, misses, server, timelines = [], [], [], []
    browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    for _ in range(rounds):
        for digit, strokes in DIGIT_STROKES.items():
            clear_canvas(page)
            logged = len(server_times(log, 0))
            latency = timed_drawing(page, strokes, digit)
            if latency is None:
                misses.append(digit)
                continue
            latencies.append(latency)
            timelines.append(stroke_timeline(page))
            time.sleep(AFTER_READING_MS / 1000)  # the rest follows the reading, and its time is logged
            strokes_logged = [entry for entry in server_times(log, logged) if entry["text"] == digit]
            if strokes_logged:
                server.append(strokes_logged[-1])
    cpu_until, cpu_after = main_thread_cpu(browser.stop_tracing())
    page.context.close()
    return {
        "fresh": fresh,
        "latencies": latencies,
        "misses": misses,
        "server": server,
        "timelines": timelines,
        "cpu_until": cpu_until,
        "cpu_after": cpu_after,
    }


def report(name: str, result: dict) -> list[str]:
    server = result["server"]
    reading = [entry["reading_ms"] for entry in server]
    before = [entry["canvas_ms"] + entry["reading_ms"] + entry["glance_ms"] for entry in server]
    building = [entry["total_ms"] - entry["reading_ms"] for entry in server]
    after = [entry["after_reading_ms"] for entry in server]
    fresh = "not read" if result["fresh"] is None else f"{result['fresh']:.0f} ms"
    misread = ", ".join(result["misses"]) or "none"
    sent = [t["sent"] for t in result["timelines"] if t["sent"] is not None]
    answer = [t["answer"] for t in result["timelines"] if t["answer"] is not None]
    cpu_shown = [entry["cpu_until_shown_ms"] for entry in server]
    cpu_total = [entry["cpu_total_ms"] for entry in server]
    return [
        f"### {name}",
        "",
        f"- stroke → reading on screen: **{percentiles(result['latencies'])}** over {len(result['latencies'])} "
        f"digits drawn (not read as drawn: {misread})",
        f"- in the page: release → drawing sent {percentiles(sent)}; "
        f"→ the server's first answer {percentiles(answer)}; the rest is the browser rendering the answer",
        f"- CPU time, which the machine's load does not inflate: the page's main thread from the release to the "
        f"reading painted {percentiles(result['cpu_until'])}, in the {AFTER_READING_MS} ms after it (the bars, canvas, "
        f"form and details) {percentiles(result['cpu_after'])} (Chrome's trace); "
        f"the server's script thread until the reading was sent {percentiles(cpu_shown)}, "
        f"for the whole page {percentiles(cpu_total)}",
        f"- the first stroke on a fresh page, which loads the code of the metric and the chart: {fresh}",
        f"- server, reading the canvas: {percentiles(reading)}",
        f"- server, building the page: {percentiles(building)} (of which after the reading was sent: the bars, "
        f"canvas, form and per-digit details: {percentiles(after)})",
        f"- server, from the stroke's arrival to the reading sent: {percentiles(before)}",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each digit 0-9 is drawn per device")
    parser.add_argument("--out", default="", help="also append the report (Markdown) to this file ('': don't)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        tmp = Path(tmp)
        log = tmp / "timing.jsonl"
        env = {
            "DIGITLIB_TIMING_LOG": str(log),
            "DIGITLIB_TRAINED_MODELS_DIR": str(tmp / "trained"),
            "DIGITLIB_STORE": str(tmp / "corrections.sqlite3"),
        }
        browser = launch_chromium(playwright)  # up first: the start-up figure is the app's own
        started = time.perf_counter()
        process, url = start_app(REPO, env, tmp / "streamlit.log")
        try:
            answering = time.perf_counter() - started
            page = open_app(browser, url, DESKTOP)
            ready = time.perf_counter() - started
            first = timed_drawing(page, DIGIT_STROKES["1"], "1")
            time.sleep(0.5)
            first_server = server_times(log, 0)[0]
            page.context.close()
            results = {
                name: run_device(browser, url, device, args.rounds, log)
                for name, device in (("Desktop, mouse, 1280x800", DESKTOP), ("Phone, touch, 390x844", PHONE))
            }
        finally:
            stop_app(process)
        browser.close()
    load_after = os.getloadavg()
    shown_ms = first_server["canvas_ms"] + first_server["reading_ms"] + first_server["glance_ms"]
    lines = [
        f"## Draw tab in Chromium — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`.venv/bin/python benchmarks/browser_bench.py --rounds {args.rounds}` "
        f"on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        "(the machine is shared: browser-side figures include waiting for the CPU).",
        "",
        f"- `streamlit run` → server answering: {answering:.2f} s; → canvas ready to draw on: {ready:.2f} s",
        f"- first stroke after start → reading on screen: {first:.0f} ms; its server time: reading "
        f"{first_server['reading_ms']:.0f} ms, reading shown after {shown_ms:.0f} ms, "
        f"whole page {first_server['total_ms']:.0f} ms "
        f"(CPU: {first_server['cpu_until_shown_ms']:.0f} ms to the reading, "
        f"{first_server['cpu_total_ms']:.0f} ms whole page)",
        "",
        *[line for name, result in results.items() for line in report(name, result)],
    ]
    print("\n".join(lines))
    if args.out:
        with open(args.out, "a") as out:
            out.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
