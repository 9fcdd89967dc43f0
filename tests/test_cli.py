"""`python -m digitlib` as a user runs it: train, evaluate, predict, and one clear line for every user error."""

from __future__ import annotations

import json

import pytest
from PIL import Image


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


@pytest.mark.slow
def test_train_a_tiny_model(cli, tmp_path):
    out = tmp_path / "cli-model"
    done = cli("train", "--preset", "baseline", "--epochs", "1", "--train-size", "1000", "--batch-size", "32",
               "--no-augment", "--out", out)
    assert done.returncode == 0, done.stderr
    card = json.loads((out / "card.json").read_text())
    assert card["architecture"] == "baseline" and card["epochs"] == 1 and card["training_images"] == 1000
    assert f"test accuracy {card['test_accuracy']:.4f}" in done.stdout
    assert card["test_accuracy"] > 0.5
    assert (out / "model.tflite").is_file() and (out / "curves.png").is_file()
    assert "epoch 1/1" in done.stderr  # the progress bar


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


def test_missing_data_directory_is_one_clear_line(cli, tmp_path):
    absent = tmp_path / "no-mnist-here"
    done = cli("train", "--preset", "baseline", "--epochs", "1", "--data-dir", absent, "--out", tmp_path / "model")
    assert_one_clear_error(done, str(absent), "--data-dir")
    assert not (tmp_path / "model").exists()


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


@pytest.mark.parametrize(
    "settings, named",
    [(["--epochs", "0"], "epochs"), (["--arch", "transformer"], "architecture")],
)
def test_nonsense_training_settings_are_one_clear_line(cli, tmp_path, settings, named):
    out = tmp_path / "never-written"
    done = cli("train", *settings, "--out", out)
    assert_one_clear_error(done, named)
    assert not out.exists()
