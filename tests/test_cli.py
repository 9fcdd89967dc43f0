"""`python -m digitlib` as a user runs it: train, evaluate, predict, and one clear line for every user error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlib.store.corrections import CorrectionStore

# `python -m digitlib ARGS` that says on stdout, as it exits, whether TensorFlow (or Keras) was ever imported.
TENSORFLOW_REPORTING_CLI = (
    "-c",
    """import atexit, runpy, sys
atexit.register(lambda: print("tensorflow imported:", bool({"tensorflow", "keras"} & set(sys.modules))))
runpy.run_module("digitlib", run_name="__main__", alter_sys=True)
""",
)


@pytest.fixture()
def digit_files(sure_digits, tmp_path):
    """Three PNGs of real digits as (path, label)."""
    files = []
    for image, label in sure_digits[:3]:
        path = tmp_path / f"digit-{label}.png"
        Image.fromarray(image).save(path)
        files.append((path, label))
    return files


def assert_one_clear_error(done, *mentions: str) -> None:
    """Exit code 2 and a single 'error: ...' line on stderr naming what went wrong, no traceback."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for mention in mentions:
        assert mention in lines[0]


@pytest.fixture(scope="module")
def cli_training(cli, tmp_path_factory):
    """A tiny training run through the CLI: (its output directory, the finished process)."""
    out = tmp_path_factory.mktemp("cli") / "cli-model"
    done = cli(
        "train",
        "--preset",
        "baseline",
        "--epochs",
        "1",
        "--train-size",
        "1000",
        "--batch-size",
        "32",
        "--no-augment",
        "--out",
        out,
    )
    return out, done


@pytest.mark.slow
def test_train_a_tiny_model(cli_training):
    out, done = cli_training
    assert done.returncode == 0, done.stderr
    card = json.loads((out / "card.json").read_text())
    assert card["architecture"] == "baseline" and card["epochs"] == 1 and card["training_images"] == 1000
    assert f"test accuracy {card['test_accuracy']:.4f}" in done.stdout
    assert card["test_accuracy"] > 0.5
    assert (out / "model.tflite").is_file() and (out / "curves.png").is_file()
    assert "epoch 1/1" in done.stderr  # the progress bar


@pytest.mark.slow
def test_training_prints_no_tensorflow_start_up_notices(cli_training):
    """On Intel Xeons TensorFlow's import logs oneDNN and absl notices to stderr; the user must not see them."""
    _, done = cli_training
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()  # the progress bar's carriage returns split lines too
    notices = [line for line in lines if "oneDNN" in line or "absl::" in line or re.match(r"[IW]\d{4} ", line)]
    assert not notices, done.stderr


def test_evaluate_json_matches_the_model_card(cli, tiny_run, tmp_path):
    done = cli("evaluate", "--model", tiny_run.directory, "--json", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["count"] == 10_000
    assert result["accuracy"] == pytest.approx(tiny_run.card["test_accuracy"], abs=1e-6)
    assert result["per_class_accuracy"] == pytest.approx(tiny_run.card["per_class_accuracy"], abs=1e-6)
    assert result["confusion_matrix"] == tiny_run.card["confusion_matrix"]
    assert (tmp_path / "confusion.png").is_file() and (tmp_path / "misclassified.png").is_file()


def test_evaluate_prints_a_readable_summary(cli, tiny_run, tmp_path):
    done = cli("evaluate", "--model", tiny_run.directory, "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"test accuracy {tiny_run.card['test_accuracy']:.4f} on 10000 images" in done.stdout


def test_predict_json_reports_each_file_and_survives_bad_ones(cli, tiny_run, digit_files, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_text("this is not a picture")
    missing = tmp_path / "missing.png"
    paths = [digit_files[0][0], junk, missing, *(path for path, _ in digit_files[1:])]

    done = cli("predict", "--model", tiny_run.directory, "--json", *paths)

    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["path"] for r in records] == [str(p) for p in paths]
    for record, label in zip([records[0], *records[3:]], [label for _, label in digit_files]):
        assert record["prediction"] == str(label)
        assert 0 <= record["confidence"] <= 1
        assert len(record["probabilities"]) == 10 and sum(record["probabilities"]) == pytest.approx(1, abs=1e-4)
    for record in records[1:3]:
        assert record["error"] and "prediction" not in record


def test_predict_plain_prints_one_line_per_file(cli, tiny_run, digit_files, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG broken")
    paths = [path for path, _ in digit_files] + [junk]
    done = cli("predict", "--model", tiny_run.directory, *paths)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(paths)
    for line, (path, label) in zip(lines, digit_files):
        assert line.startswith(f"{path}: {label} ")
    assert lines[-1].startswith(f"{junk}: error")


def test_predict_fails_when_no_file_could_be_read(cli, tiny_run, tmp_path):
    done = cli("predict", "--model", tiny_run.directory, tmp_path / "a.png", tmp_path / "b.png")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr


def test_missing_data_directory_from_the_environment_is_one_clear_line(cli, tiny_run, tmp_path):
    absent = tmp_path / "no-mnist-here"
    done = cli("evaluate", "--model", tiny_run.directory, env={"DIGITLIB_DATA_DIR": str(absent)})
    assert_one_clear_error(done, str(absent), "DIGITLIB_DATA_DIR")


def test_damaged_data_file_is_one_clear_line(cli, tiny_run, tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"truncated download")
    done = cli("evaluate", "--model", tiny_run.directory, "--data-dir", tmp_path)
    assert_one_clear_error(done, str(tmp_path / "mnist.npz"))


@pytest.mark.parametrize("command", [["predict", "x.png"], ["evaluate"]])
def test_missing_model_is_one_clear_line(cli, tmp_path, command):
    model = tmp_path / "no-model"
    done = cli(*command, "--model", model)
    assert_one_clear_error(done, str(model / "model.tflite"))


@pytest.fixture()
def places(tmp_path) -> dict[str, str]:
    """Paths for the commands below: a store holding one correction (enough for fine-tuning to get past its
    store check), a data folder with a damaged mnist.npz, an empty folder, the test's folder, an output path."""
    store = CorrectionStore(tmp_path / "corrections.sqlite3")
    store.add([np.zeros((28, 28), np.uint8)], "3")
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "mnist.npz").write_bytes(b"truncated download")
    (tmp_path / "empty").mkdir()
    return {
        "store": str(store.path),
        "damaged": str(tmp_path / "damaged"),
        "empty": str(tmp_path / "empty"),
        "tmp": str(tmp_path),
        "out": str(tmp_path / "never-written"),
    }


# Every mistake a command can report before it needs TensorFlow (most never need it): arguments, then what
# the error line names.  {out} is a path that must not be written.
MISTAKES = {
    "train, missing data directory": (
        "train --preset baseline --epochs 1 --data-dir {tmp}/no-mnist-here --out {out}",
        "{tmp}/no-mnist-here",
        "--data-dir",
    ),
    "train, damaged data file": ("train --data-dir {damaged} --out {out}", "{damaged}/mnist.npz"),
    "train, folder without MNIST": ("train --data-dir {empty} --out {out}", "{empty}", "neither"),
    "train, zero epochs": ("train --epochs 0 --out {out}", "epochs"),
    "train, unknown architecture": ("train --arch transformer --out {out}", "architecture"),
    "train, unknown preset": ("train --preset huge --out {out}", "preset"),
    "train, missing model to continue": (
        "train --init-from {tmp}/gone --out {out}",
        "{tmp}/gone/model.keras",
        "--init-from",
    ),
    "export, missing model": ("export {tmp}/gone", "{tmp}/gone/model.keras", "`export`"),
    "export, missing data directory": ("export compact --data-dir {tmp}/none", "{tmp}/none", "--data-dir"),
    "finetune, zero epochs": ("finetune --store {store} --epochs 0 --out {out}", "epochs"),
    "finetune, missing base model": (
        "finetune --store {store} --base {tmp}/gone --out {out}",
        "{tmp}/gone/model.keras",
        "--base",
    ),
    "finetune, missing data directory": (
        "finetune --store {store} --data-dir {tmp}/none --out {out}",
        "{tmp}/none",
        "--data-dir",
    ),
    "finetune, missing store": (
        "finetune --store {tmp}/typo.sqlite3 --out {out}",
        "{tmp}/typo.sqlite3",
        "no corrections database",
    ),
    "evaluate, missing data directory": ("evaluate --data-dir {tmp}/none --out {out}", "{tmp}/none", "--data-dir"),
    "robustness, missing data directory": ("robustness --data-dir {tmp}/none", "{tmp}/none", "--data-dir"),
    "robustness, no digits": ("robustness --count 0", "--count"),
    "evaluate-real, folder without pictures": ("evaluate-real {empty} --gallery {out}", "{empty}", "no pictures"),
    "bench, missing data directory": ("bench --quick --skip-training --data-dir {tmp}/none", "{tmp}/none"),
    "corrections, missing store": ("corrections --store {tmp}/typo.sqlite3 --npz {out}", "{tmp}/typo.sqlite3"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_mistakes_are_one_clear_line_before_tensorflow_is_imported(cli, places, mistake):
    """Importing TensorFlow takes seconds: a typo must be answered at once, without it and without writing anything."""
    arguments, *mentions = (text.format(**places) for text in MISTAKES[mistake])
    done = cli(*arguments.split(), entry=TENSORFLOW_REPORTING_CLI)
    assert_one_clear_error(done, *mentions)
    assert done.stdout == "tensorflow imported: False\n"
    assert not Path(places["out"]).exists()
