"""Speed benchmark behind ``python -m digitlib bench [--json] [--quick]``.

One run on one machine measures every path a user waits on, for each shipped model: single-image
latency split into decode / preprocessing / inference, batch throughput against the bare LiteRT
interpreter, Keras as a plain Keras script would call it, a fresh process's first prediction and memory,
training throughput and time-to-accuracy.  Whatever imports TensorFlow runs in a child process
(``python -m digitlib.evaluation.bench WORKER ARGS_JSON``) so it can neither slow down nor bloat the LiteRT
measurements.  The load average is recorded at both ends: figures from a busy machine are noise.
`digitlib.evaluation.bench_report` prints the result.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from digitlib import data, preprocess
from digitlib.evaluation.bench_inputs import CANVAS_PNG, INPUTS
from digitlib.reading.classifier import (
    BATCH_CHUNK,
    MODEL_FILE,
    MODELS_DIR,
    Classifier,
    ModelError,
    available_models,
    load_classifier,
)
from digitlib.reading.reader import read_number
from digitlib.training.tensorflow_startup import quiet_tensorflow_startup

PACKAGE_PARENT = Path(__file__).resolve().parents[2]
TARGET_ACCURACY = 0.995
GOALS = {
    "canvas_end_to_end_p50_ms": 1.0,
    "batch_ratio_vs_bare_litert": 0.8,
    "first_prediction_seconds": 1.0,
    "first_prediction_peak_rss_mb": 300.0,
    "time_to_accuracy_seconds": 300.0,
}


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does; ``QUICK`` only proves the benchmark runs."""

    single_repeats: int = 500
    batch_images: int = 10_000
    batch_repeats: int = 5
    keras_repeats: int = 50
    fresh_processes: int = 5
    train_images: int = 6_000
    archs: tuple[str, ...] | None = None  # None: every architecture
    tta_overrides: tuple[tuple[str, int], ...] = ()  # time-to-accuracy: settings replacing the preset's


FULL = Sizes()
QUICK = Sizes(
    single_repeats=5,
    batch_images=300,
    batch_repeats=1,
    keras_repeats=2,
    fresh_processes=1,
    train_images=256,
    archs=("fast",),
    tta_overrides=(("train_size", 300), ("epochs", 1)),
)


# ---------------------------------------------------------------------------------------------
# Measurements in this process (LiteRT only).


def milliseconds(seconds: list[float]) -> dict[str, float]:
    return {"p50_ms": float(np.percentile(seconds, 50) * 1e3), "p99_ms": float(np.percentile(seconds, 99) * 1e3)}


def latency(call: Callable[[], object], repeats: int) -> dict[str, float]:
    """p50/p99 of ``call`` after a warm-up, so one-off allocations don't count."""
    for _ in range(min(5, repeats)):
        call()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return milliseconds(seconds)


def single_image(clf: Classifier, source: bytes | np.ndarray, repeats: int) -> dict[str, dict[str, float] | None]:
    """The stages of ``read_number`` timed one by one, plus the real call end to end.

    Decoding is the file format's cost (bytes -> upright PIL image); preprocessing is everything
    from there to the 28x28 MNIST-format digits (``segment``); inference is the LiteRT calls for
    those digits.  An array has nothing to decode (None).
    """
    decoded = preprocess.open_image(source)[0] if isinstance(source, bytes) else source
    digits = np.array([s.image for s in preprocess.segment(decoded).segments])
    return {
        "decode": latency(lambda: preprocess.open_image(source), repeats) if isinstance(source, bytes) else None,
        "preprocess": latency(lambda: preprocess.segment(decoded), repeats),
        "inference": latency(lambda: clf.predict_prepared(digits), repeats),
        "end_to_end": latency(lambda: read_number(source, clf), repeats),
    }


def throughput(call: Callable[[], object], images: int, repeats: int) -> float:
    """Images per second of the fastest of ``repeats`` runs (the least disturbed one)."""
    call()
    best = min(timed(call) for _ in range(repeats))
    return images / best


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def bare_litert(model_path: Path, images: np.ndarray, chunk: int) -> Callable[[], None]:
    """The plain LiteRT loop over ready float32 chunks: what the network costs with no wrapper."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), num_threads=os.cpu_count() or 1)
    index_in = interpreter.get_input_details()[0]["index"]
    index_out = interpreter.get_output_details()[0]["index"]
    interpreter.resize_tensor_input(index_in, [chunk, 28, 28, 1])
    interpreter.allocate_tensors()
    padded = np.zeros((-(-len(images) // chunk) * chunk, 28, 28, 1), np.float32)
    padded[: len(images), ..., 0] = images / np.float32(255)
    chunks = np.split(padded, len(padded) // chunk)

    def run() -> None:
        for part in chunks:
            interpreter.set_tensor(index_in, part)
            interpreter.invoke()
            interpreter.get_tensor(index_out)

    return run


def batch(clf: Classifier, images: np.ndarray, repeats: int) -> dict[str, float]:
    ours = throughput(lambda: clf.predict_batch(images), len(images), repeats)
    bare = throughput(bare_litert(clf.directory / MODEL_FILE, images, BATCH_CHUNK), len(images), repeats)
    return {"images": len(images), "ours_images_per_s": ours, "bare_litert_images_per_s": bare, "ratio": ours / bare}


# ---------------------------------------------------------------------------------------------
# Child processes: a fresh interpreter for start-up, TensorFlow for Keras and training.

# Peak RSS is read from VmHWM: ru_maxrss of a forked child counts the parent's pages too.
FIRST_PREDICTION = """
import json, sys
from digitlib import load_classifier, read_number
result = read_number(sys.argv[2], load_classifier(sys.argv[1]))
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"text": result.text, "tensorflow_imported": "tensorflow" in sys.modules,
                  "keras_imported": "keras" in sys.modules,
                  "peak_rss_mb": int(status["VmHWM"].split()[0]) / 1024}), flush=True)
"""


def child(args: list[str]) -> tuple[dict, float]:
    """Run ``python ARGS`` from the package's parent; returns its first JSON line and the seconds
    from spawning it to that line (interpreter start included, exit excluded)."""
    with tempfile.TemporaryFile("w+") as stderr:  # a file, not a pipe: chatty TensorFlow can't block it
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=PACKAGE_PARENT, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        answer = next((line for line in proc.stdout if line.startswith("{")), "")
        seconds = time.perf_counter() - started
        proc.communicate()
        stderr.seek(0)
        errors = stderr.read()
    if proc.returncode != 0 or not answer:
        tail = " | ".join(errors.strip().splitlines()[-3:])
        return {"error": f"child process failed (exit {proc.returncode}): {tail}"}, seconds
    return json.loads(answer), seconds


def worker(name: str, **kwargs) -> dict:
    """Run one of the ``WORKERS`` below in a fresh Python process."""
    result, _ = child(["-m", "digitlib.evaluation.bench", name, json.dumps(kwargs)])
    return result


def first_prediction(model: Path, image: Path, runs: int) -> dict:
    """Fresh ``python`` -> import digitlib -> load the model -> predict a canvas PNG, ``runs`` times."""
    results = [child(["-c", FIRST_PREDICTION, str(model), str(image)]) for _ in range(runs)]
    failed = [r for r, _ in results if "error" in r]
    if failed:
        return failed[0]
    return {
        "runs": runs,
        "median_seconds": float(np.median([s for _, s in results])),
        "max_seconds": max(s for _, s in results),
        "peak_rss_mb": max(r["peak_rss_mb"] for r, _ in results),
        "tensorflow_imported": any(r["tensorflow_imported"] or r["keras_imported"] for r, _ in results),
    }


def keras_worker(model_dir: str, images_file: str, single_file: str, repeats: int) -> dict:
    """Keras as a plain Keras script would use it: ``model.predict`` and ``model(x)``, single and batch."""
    started = time.perf_counter()
    import keras

    imported = time.perf_counter()
    model = keras.saving.load_model(Path(model_dir) / "model.keras")
    loaded = time.perf_counter()
    images = np.load(images_file)[..., None].astype(np.float32) / 255
    single = np.load(single_file)[None, ..., None].astype(np.float32)

    def call_in_chunks() -> None:
        for start in range(0, len(images), BATCH_CHUNK):
            model(images[start : start + BATCH_CHUNK], training=False).numpy()

    return {
        "import_seconds": imported - started,
        "load_seconds": loaded - imported,
        "predict_single": latency(lambda: model.predict(single, verbose=0), repeats),
        "call_single": latency(lambda: model(single, training=False).numpy(), repeats),
        "predict_batch_images_per_s": throughput(
            lambda: model.predict(images, batch_size=BATCH_CHUNK, verbose=0), len(images), 2
        ),
        "call_batch_images_per_s": throughput(call_in_chunks, len(images), 2),
    }


def training_worker(archs: list[str] | None, train_images: int, data_dir: str | None) -> dict:
    """Images/s of one steady-state epoch per architecture (the second: the first pays for tracing)."""
    from digitlib.training.config import TrainConfig
    from digitlib.training.train import fit
    from digitlib.zoo.architectures import ARCHITECTURES, build

    mnist = data.load_mnist(data_dir)
    results = {}
    for arch in archs or ARCHITECTURES:
        for augment in (True, False):
            ends: list[float] = []
            cfg = TrainConfig(arch=arch, epochs=2, train_size=train_images, val_fraction=0.0, augment=augment)
            fit(cfg, lambda p, ends=ends: ends.append(time.perf_counter()) if p.phase == "epoch" else None, mnist)
            results.setdefault(arch, {"parameters": build(arch).count_params(), "batch_size": cfg.batch_size})
            results[arch]["augmented_images_per_s" if augment else "plain_images_per_s"] = train_images / (
                ends[1] - ends[0]
            )
    return results


def time_to_accuracy_worker(preset: str, overrides: dict, data_dir: str | None, target: float) -> dict:
    """Train ``preset`` (some settings overridden), scoring the test set after every epoch; stop at ``target``."""
    started = time.perf_counter()
    import keras

    from digitlib.training.config import from_preset
    from digitlib.training.train import fit

    cfg = from_preset(preset, **overrides, data_dir=data_dir)
    mnist = data.load_mnist(data_dir)
    _, (x_test, y_test) = mnist
    x_test = x_test[..., None].astype(np.float32) / 255

    class TestAccuracy(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs: list[dict] = []

        def on_train_begin(self, logs=None):
            self.fit_started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            accuracy = float((self.model.predict(x_test, batch_size=1024, verbose=0).argmax(1) == y_test).mean())
            now = time.perf_counter()
            self.epochs.append(
                {
                    "epoch": epoch + 1,
                    "test_accuracy": accuracy,
                    "training_seconds": now - self.fit_started,
                    "process_seconds": now - started,
                }
            )
            self.model.stop_training = accuracy >= target

    scores = TestAccuracy()
    fit(cfg, lambda p: None, mnist, callbacks=[scores])
    reached = next((e for e in scores.epochs if e["test_accuracy"] >= target), None)
    return {
        "preset": preset,
        "config": asdict(cfg) | {"data_dir": None},
        "target": target,
        "reached": reached is not None,
        "first_at_target": reached,
        "epochs": scores.epochs,
    }


WORKERS: dict[str, Callable[..., dict]] = {
    "keras": keras_worker,
    "training": training_worker,
    "time-to-accuracy": time_to_accuracy_worker,
}


# ---------------------------------------------------------------------------------------------
# The whole run.


def version(*distributions: str) -> str | None:
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    packages = {
        "numpy": ("numpy",),
        "pillow": ("pillow",),
        "scipy": ("scipy",),
        "opencv": ("opencv-python-headless",),
        "ai-edge-litert": ("ai-edge-litert",),
        "tensorflow": ("tensorflow-cpu", "tensorflow"),
        "keras": ("keras",),
    }
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(ram, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {key: version(*names) for key, names in packages.items()},
    }


def no_models() -> list[str]:
    raise ModelError(
        f"no models in {MODELS_DIR} to measure: train one with `python -m digitlib train` "
        "or name model directories with --models."
    )


def benchmark_model(clf: Classifier, images: np.ndarray, sizes: Sizes, workdir: Path, log) -> dict:
    inputs = {label: make() for label, make in INPUTS.items()}
    log(f"{clf.name}: single-image latency")
    result = {
        "name": clf.name,
        "parameters": clf.card.get("parameters"),
        "test_accuracy": clf.card.get("test_accuracy"),
        "single_image": {label: single_image(clf, source, sizes.single_repeats) for label, source in inputs.items()},
    }
    log(f"{clf.name}: batch throughput")
    result["batch"] = batch(clf, images, sizes.batch_repeats)
    log(f"{clf.name}: fresh process -> first prediction")
    canvas_file = workdir / "canvas.png"
    canvas_file.write_bytes(inputs[CANVAS_PNG])
    result["first_prediction"] = first_prediction(clf.directory, canvas_file, sizes.fresh_processes)
    log(f"{clf.name}: Keras reference (child process)")
    np.save(workdir / "images.npy", images)
    np.save(workdir / "single.npy", preprocess.segment(inputs[CANVAS_PNG]).segments[0].image)
    result["keras"] = worker(
        "keras",
        model_dir=str(clf.directory),
        images_file=str(workdir / "images.npy"),
        single_file=str(workdir / "single.npy"),
        repeats=sizes.keras_repeats,
    )
    return result


def run(
    models: list[str] | None = None,
    quick: bool = False,
    data_dir: str | None = None,
    training: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """Every measurement, as one JSON-ready dict (see ``report`` for the human view)."""
    sizes = QUICK if quick else FULL
    load_before = os.getloadavg()
    _, (x_test, _) = data.load_mnist(data_dir)
    images = np.resize(x_test, (sizes.batch_images, 28, 28))
    result = {"quick": quick, "machine": machine(), "sizes": asdict(sizes), "goals": GOALS, "models": []}
    with tempfile.TemporaryDirectory(prefix="digitlib-bench-") as workdir:
        for name in models or available_models() or no_models():
            result["models"].append(benchmark_model(load_classifier(name), images, sizes, Path(workdir), log))
    if training:
        log("training throughput per architecture (child process)")
        result["training"] = worker("training", archs=sizes.archs, train_images=sizes.train_images, data_dir=data_dir)
        log("time to 99.5% test accuracy with the fast preset (child process)")
        result["time_to_accuracy"] = worker(
            "time-to-accuracy",
            preset="fast",
            overrides=dict(sizes.tta_overrides),
            data_dir=data_dir,
            target=TARGET_ACCURACY,
        )
    result["load_average"] = {"start": load_before, "end": os.getloadavg()}
    return result


if __name__ == "__main__":
    quiet_tensorflow_startup()  # the Keras and training workers: their stderr is shown when they fail
    name, arguments = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(WORKERS[name](**arguments)), flush=True)
