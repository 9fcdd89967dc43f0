"""Training from the Train tab in a real browser: the default run, Stop, a second visitor, a reload.

The default run's accuracy is asserted; its wall time (click to model ready), where that time went, the estimate
shown beforehand and the server's memory before and at its peak during the run are printed, not asserted.  The
server and browser are tests/support/browser_fixtures.py's.
"""

from __future__ import annotations

import os
import re
import threading
import time
from urllib.parse import urlparse

import psutil
import pytest

from tests.support.browser_driver import NEEDS_CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    NEEDS_CHROMIUM,
]
PROGRESS = re.compile(r"epoch \d/5, batch \d+")
RUN_TIMEOUT_MS = 300_000  # a run on a busy shared machine; the default one takes well under a minute when quiet


def server_process(url: str) -> psutil.Process:
    """The streamlit process serving ``url`` (a child of this test process)."""
    port = str(urlparse(url).port)
    return next(
        child
        for child in psutil.Process().children(recursive=True)
        if "streamlit" in " ".join(child.cmdline()) and port in child.cmdline()
    )


class PeakMemory:
    """Samples a process's resident memory on a thread until stopped; ``peak`` is the largest seen."""

    def __init__(self, process: psutil.Process, every: float = 0.1):
        self.process, self.every = process, every
        self.before = self.peak = process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.every)

    def stop(self) -> None:
        self.running = False
        self.thread.join()


def train_tab(browser, url: str):  # noqa: F811 - the fixture's value, passed in
    """A fresh visitor (own browser context, own session) on the Train tab."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("tab", name="Train").click()
    page.get_by_text("Estimated time: about").wait_for()
    return page


def training_children(process: psutil.Process) -> list[psutil.Process]:
    return [
        child for child in process.children(recursive=True) if "digitlib.training.jobs" in " ".join(child.cmdline())
    ]


def default_run(page) -> tuple[float, float, str, str]:
    """Press Start with the defaults; (test accuracy %, seconds from the click to the model shown, the estimate
    shown before, where the time went)."""
    estimate = page.get_by_text("Estimated time: about").inner_text().split(". ")[0]
    started = time.perf_counter()
    page.get_by_role("button", name="Start training").click()
    saved = page.get_by_text(re.compile(r"Saved quick-.* test accuracy"))
    saved.wait_for(timeout=RUN_TIMEOUT_MS)
    seconds = time.perf_counter() - started
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", saved.inner_text()).group(1))
    return accuracy, seconds, estimate, page.get_by_text("Where the time went").inner_text()


def warned(message, seen: list) -> None:
    """Keep the browser console's warnings and errors."""
    if message.type in ("warning", "error"):
        seen.append(message.text)


def test_the_default_run_reaches_98_5_percent_and_the_server_never_loads_tensorflow(server, browser, capsys):  # noqa: F811
    """Twice: the first estimate rests on the figures measured beforehand, the second on the first run."""
    url, _ = server
    streamlit = server_process(url)
    for attempt in (1, 2):
        page = train_tab(browser, url)
        console = []  # the live loss chart, redrawn on every poll, once filled the console with Vega warnings
        page.on("console", lambda message, seen=console: warned(message, seen))
        memory = PeakMemory(streamlit)
        accuracy, seconds, estimate, where = default_run(page)
        memory.stop()
        assert console == []
        with capsys.disabled():
            print(
                f"\ndefault run {attempt} in the browser: test accuracy {accuracy:.2f}%, click to model shown "
                f"{seconds:.1f} s; {estimate.lower()} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
                f"cores)\n{where}\nserver RSS {memory.before / 2**20:.0f} MB before, {memory.peak / 2**20:.0f} MB "
                f"at its peak (+{(memory.peak - memory.before) / 2**20:.0f} MB)"
            )
        assert accuracy >= 98.5
        assert not any("tensorflow" in m.path for m in streamlit.memory_maps()), "the server loaded TensorFlow"
        assert not training_children(streamlit)
        page.context.close()


def test_a_second_visitor_sees_the_run_a_reload_reconnects_and_stop_ends_it(server, browser, capsys):  # noqa: F811
    url, _ = server
    streamlit = server_process(url)
    owner = train_tab(browser, url)
    owner.get_by_label("Epochs").fill("5")  # long enough to be still running after the other visitor and the reload
    owner.get_by_label("Epochs").press("Enter")
    owner.get_by_text("Estimated time: about").wait_for()
    owner.get_by_role("button", name="Start training").click()
    owner.get_by_text(PROGRESS).first.wait_for(timeout=RUN_TIMEOUT_MS)

    other = train_tab(browser, url)
    other.get_by_text("A train run is in progress on this server").wait_for()
    assert other.get_by_role("button", name="Start training").is_disabled()
    assert other.get_by_role("button", name="Stop training").count() == 0

    owner.reload()
    owner.get_by_text(PROGRESS).first.wait_for()  # the page opens on the Train tab, with the owner's view
    stop = owner.get_by_role("button", name="Stop training")
    children = training_children(streamlit)
    assert len(children) == 1
    started = time.perf_counter()
    stop.click()
    psutil.wait_procs(children, timeout=60)
    gone = time.perf_counter() - started
    owner.get_by_text(re.compile("Stopped after")).wait_for()
    shown = time.perf_counter() - started
    assert not training_children(streamlit)
    other.get_by_role("button", name="Start training").wait_for()
    deadline = time.monotonic() + 10  # the other page's next poll re-enables its button
    while other.get_by_role("button", name="Start training").is_disabled() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert other.get_by_role("button", name="Start training").is_enabled()
    other.get_by_text("The other run has ended: you can start yours now.").wait_for()  # said, not just gone
    with capsys.disabled():
        print(
            f"\nStop clicked → training process gone {gone:.2f} s, 'Stopped' shown {shown:.2f} s "
            f"(load average {os.getloadavg()[0]:.1f})"
        )
    for page in (owner, other):
        page.context.close()
