"""One shared classifier under concurrent use, as the app serves every session from one cached model.

20 threads x 200 predictions each on mixed inputs (canvas-like RGBA arrays, PNG bytes, MNIST
digits, batches) must give exactly what one thread gives, with no errors.  Throughput is printed
(pytest -s), not asserted.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from digitlib import available_models, load_classifier, read_number
from tests.support.digit_pictures import STROKES, brush_drawing

THREADS, CALLS = 20, 100
MODELS = available_models()
pytestmark = [pytest.mark.timeout(600), pytest.mark.skipif(not MODELS, reason="no shipped model in models/ yet")]


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def calls(classifier, mnist) -> list[tuple[str, Callable[[], object]]]:
    """Mixed work, each call returning something comparable exactly: (text, probabilities) or a batch's output."""
    _, (x_test, _) = mnist

    def reading(source) -> Callable[[], tuple]:
        return lambda: (lambda r: (r.text, r.probabilities.tobytes()))(read_number(source, classifier))

    def number(source) -> Callable[[], tuple]:
        return lambda: (lambda r: (r.text, tuple(d.probabilities.tobytes() for d in r.digits)))(
            read_number(source, classifier)
        )

    work = [
        (f"canvas {d} width {w}", reading(np.asarray(brush_drawing(d, width=w, transparent=True))))
        for d in STROKES
        for w in (12, 30)
    ]
    work += [(f"PNG of {d}", reading(png_bytes(brush_drawing(d)))) for d in STROKES]
    work += [(f"MNIST test digit {i}", reading(x_test[i])) for i in range(8)]
    work += [("number from MNIST digits", number(255 - np.pad(np.hstack(list(x_test[:4])), 8)))]
    work += [("batch of 40 MNIST digits", lambda: classifier.predict_batch(x_test[:40]).tobytes())]
    return work


def run_threads(work: list[tuple[str, Callable[[], object]]]) -> tuple[list[list[object]], list[BaseException], float]:
    """THREADS threads start together, each making CALLS calls in its own order; returns results, errors, seconds."""
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(thread: int) -> list[object]:
        start.wait()
        results = []
        for call in range(CALLS):
            try:
                results.append(work[(thread * 7 + call) % len(work)][1]())
            except BaseException as exc:  # noqa: BLE001 - every failure is collected and reported
                errors.append(exc)
                results.append(None)
        return results

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    return results, errors, time.perf_counter() - began


def test_twenty_threads_get_exactly_what_one_thread_gets(calls):
    began = time.perf_counter()
    sequential = [call() for _, call in calls]
    one_pass = time.perf_counter() - began

    results, errors, seconds = run_threads(calls)

    assert errors == []
    mismatches = [
        (thread, call, calls[(thread * 7 + call) % len(calls)][0])
        for thread, got in enumerate(results)
        for call, result in enumerate(got)
        if result != sequential[(thread * 7 + call) % len(calls)]
    ]
    assert mismatches == []
    print(
        f"\n{THREADS} threads x {CALLS} calls on {len(calls)} mixed inputs: {THREADS * CALLS / seconds:.0f} calls/s "
        f"concurrently ({seconds:.1f} s) vs {len(calls) / one_pass:.0f} calls/s in one thread "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


def test_concurrent_loads_of_one_model_all_work(classifier):
    """Sessions that miss the app's cache at the same moment each load the model; every copy must work."""
    picture = png_bytes(brush_drawing(7))
    with ThreadPoolExecutor(max_workers=8) as pool:
        texts = list(pool.map(lambda _: read_number(picture, load_classifier(classifier.directory)).text, range(8)))
    assert texts == [read_number(picture, classifier).text] * 8
