"""Reading many pictures on every core: one worker process per core, results in the order of the input.

A reading is mostly Python and OpenCV work on one picture (finding the digits), so threads would wait on each
other; processes don't.  Each worker loads the model once and runs LiteRT on one thread (the cores are the
workers').  Workers start from a fork server that has imported the reader already, so a pool is up in a fraction
of a second and never inherits the caller's threads.  A picture that can't be read gives a record with its error,
and the batch goes on.

    from digitlib.reading.batch import read_many
    for record in read_many(["a.png", "b.jpg"], jobs=2):
        print(record["path"], record.get("prediction"), record.get("error"))
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

import cv2

from digitlib.reading import classifier as classifier_module
from digitlib.reading.classifier import Classifier, load_classifier, model_dir
from digitlib.reading.reader import Reading, read_number

PICTURES_PER_TASK = 4  # sent to a worker at once: fewer round trips, while the last worker still finishes soon

_worker_classifier: Classifier | None = None


def reading_record(path: str, reading: Reading) -> dict:
    """What a reading says, as plain JSON-ready values."""
    return {
        "path": path,
        "prediction": reading.text,
        "confidence": round(reading.confidence, 6),
        "probabilities": [round(float(p), 6) for p in reading.probabilities],
        "low_confidence": reading.low_confidence,
        "reason": reading.reason,
        "digits": [
            {
                "digit": d.digit,
                "confidence": round(d.confidence, 6),
                "box": d.box,
                "top3": [[digit, round(p, 6)] for digit, p in d.top3],
            }
            for d in reading.digits
        ],
    }


def read_one(path: str, classifier: Classifier) -> dict:
    """One picture's record; a picture that can't be read gets an ``error`` instead of a prediction."""
    try:
        return reading_record(path, read_number(path, classifier))
    except Exception as exc:  # noqa: BLE001 - any failure is this picture's, named in its record; the batch goes on
        return {"path": path, "error": str(exc) or type(exc).__name__}


def start_worker(directory: str) -> None:
    global _worker_classifier
    classifier_module.BATCH_THREADS = 1  # one core per worker: LiteRT's own threads would fight the other workers
    cv2.setNumThreads(1)  # ... and so would OpenCV's
    _worker_classifier = Classifier(model_dir(directory))


def read_in_worker(path: str) -> dict:
    return read_one(path, _worker_classifier)


def read_many(
    paths: Iterable[str | os.PathLike], model: str | os.PathLike | None = None, jobs: int | None = None
) -> Iterator[dict]:
    """Read every picture, ``jobs`` at a time (default: one per core); yields one record per path, in order.

    The model is loaded here first, so a missing or damaged one raises ModelError before any worker starts.
    """
    paths = [str(path) for path in paths]
    classifier = load_classifier(model)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    if jobs == 1:
        yield from (read_one(path, classifier) for path in paths)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["digitlib.reading.reader"])
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=start_worker, initargs=(str(classifier.directory),)
    ) as pool:
        yield from pool.map(read_in_worker, paths, chunksize=PICTURES_PER_TASK)
