"""Fine-tuning on stored corrections: the model learns a handwriting it misread, without forgetting MNIST."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy import ndimage

from digitlib import load_classifier
from digitlib.reading.classifier import ModelError
from digitlib.store.corrections import CorrectionStore
from digitlib.training.finetune import FinetuneConfig, finetune, mix, split_holdout

STYLE_DIGITS = (0, 1, 6, 9)  # the digits a strong backward slant makes the tiny model misread most


def backward_slant(images: np.ndarray) -> np.ndarray:
    """One writer's consistent style: every digit leaning hard to the left (shear about the centre)."""
    return np.stack([ndimage.affine_transform(im, [[1, 0], [-0.7, 1]], offset=[0, 0.7 * 14], order=1) for im in images])


def slanted(x: np.ndarray, y: np.ndarray, per_digit: int) -> tuple[np.ndarray, np.ndarray]:
    chosen = np.concatenate([np.flatnonzero(y == d)[:per_digit] for d in STYLE_DIGITS])
    return backward_slant(x[chosen]), y[chosen]


@pytest.fixture(scope="module")
def handwriting(mnist, tmp_path_factory):
    """A store of 48 slanted digits (12 each of 0, 1, 6, 9) and 400 more in the same style, never stored."""
    _, (x_test, y_test) = mnist
    store = CorrectionStore(tmp_path_factory.mktemp("store") / "corrections.sqlite3")
    x_own, y_own = slanted(x_test[:5000], y_test[:5000], 12)
    for image, label in zip(x_own, y_own):
        store.add([image], str(label))
    return store, slanted(x_test[5000:8000], y_test[5000:8000], 100)


@pytest.fixture(scope="module")
def tuned(tiny_run, mnist, handwriting, tmp_path_factory):
    store, _ = handwriting
    (x_train, y_train), (x_test, y_test) = mnist
    progress = []
    out = tmp_path_factory.mktemp("models") / "mine"
    cfg = FinetuneConfig(store_path=str(store.path), base_model=str(tiny_run.directory), epochs=3, mnist_images=2000)
    card = finetune(cfg, out, progress.append, mnist=((x_train, y_train), (x_test[8000:], y_test[8000:])))
    return out, card, progress


def style_accuracy(classifier, style) -> float:
    x, y = style
    return float((classifier.predict_batch(x).argmax(1) == y).mean())


def test_model_learns_the_handwriting_without_forgetting_mnist(tiny_run, handwriting, tuned):
    _, style = handwriting
    out, card, _ = tuned
    before, after = card["finetune"]["before"], card["finetune"]["after"]
    assert card["finetune"]["held_out_corrections"] == 12  # 3 of each digit's 12, never trained on
    assert after["held_out_accuracy"] > before["held_out_accuracy"]
    assert after["mnist_test_accuracy"] >= before["mnist_test_accuracy"] - 0.02
    assert before["mnist_test_accuracy"] > 0.8

    was, now = style_accuracy(load_classifier(tiny_run.directory), style), style_accuracy(load_classifier(out), style)
    assert was < 0.7, "the style must be one the base model gets wrong, or the test proves nothing"
    assert now > was + 0.25


def test_finetuned_model_is_saved_with_its_card_and_reported_progress(tiny_run, tuned):
    out, card, progress = tuned
    for name in ("model.keras", "model.tflite", "card.json", "curves.png", "confusion.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "card.json").read_text()) == card
    assert card["base_model"] == tiny_run.directory.name and card["architecture"] == "baseline"
    assert card["config"]["store_path"] is None and card["config"]["augment"] is False  # as the base was trained
    assert card["correction_images"] == 36 and card["training_images"] == 2000 + card["correction_repeats"]
    assert len(card["history"]["val_accuracy"]) == 3  # validation curves: the held-out corrections
    assert [p.epoch for p in progress if p.phase == "epoch"] == [1, 2, 3]
    assert progress[0].phase == "evaluate" and progress[-1].phase == "done"
    assert load_classifier(tiny_run.directory).card == tiny_run.card  # the base model is untouched


def test_holdout_split_keeps_every_digit_trainable():
    labels = np.array([0] * 8 + [1] * 4 + [2] * 1 + [3] * 2)
    train, held = split_holdout(labels, 0.25, seed=0)
    assert sorted([*train, *held]) == list(range(len(labels)))
    assert np.bincount(labels[held], minlength=4).tolist() == [2, 1, 0, 0]
    assert set(labels[train]) == {0, 1, 2, 3}
    assert split_holdout(labels, 0.0, seed=0)[1].size == 0


def test_mix_repeats_corrections_to_their_share():
    mnist = (np.zeros((1000, 28, 28), np.uint8), np.zeros(1000, np.uint8))
    own = (np.full((10, 28, 28), 255, np.uint8), np.full(10, 7, np.uint8))
    (x, y), copies = mix(mnist, own, FinetuneConfig(mnist_images=800, store_share=0.2))
    assert copies == 200 and len(x) == 1000
    assert (y == 7).sum() == 200 and (x.reshape(1000, -1).max(1) == 255).sum() == 200


@pytest.mark.parametrize(
    "settings",
    [
        {"epochs": 0},
        {"batch_size": 0},
        {"learning_rate": -1.0},
        {"store_share": 1.0},
        {"mnist_images": 10},
        {"holdout_fraction": 0.9},
    ],
)
def test_nonsense_settings_are_refused(settings):
    with pytest.raises(ValueError):
        FinetuneConfig(**settings).validate()


def test_empty_store_and_untrainable_base_are_reported(tiny_run, handwriting, tmp_path):
    empty = CorrectionStore(tmp_path / "empty.sqlite3")
    with pytest.raises(ValueError, match="no corrections"):
        finetune(FinetuneConfig(store_path=str(empty.path), base_model=str(tiny_run.directory)), tmp_path / "out")

    exported_only = tmp_path / "exported-only"
    shutil.copytree(tiny_run.directory, exported_only)
    (exported_only / "model.keras").unlink()
    store, _ = handwriting
    with pytest.raises(ModelError, match="model.keras"):
        finetune(FinetuneConfig(store_path=str(store.path), base_model=str(exported_only)), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_fine_tunes_and_reports_before_and_after(cli, tiny_run, handwriting, tmp_path):
    store, _ = handwriting
    done = cli(
        "finetune",
        "--store",
        store.path,
        "--base",
        tiny_run.directory,
        "--epochs",
        "1",
        "--mnist-images",
        "500",
        "--out",
        tmp_path / "mine",
    )
    assert done.returncode == 0, done.stderr
    assert "MNIST test accuracy" in done.stdout and "held-out corrections (12)" in done.stdout
    assert (tmp_path / "mine" / "model.tflite").is_file()

    refused = cli("finetune", "--store", store.path, "--base", tiny_run.directory, "--epochs", "0")
    assert refused.returncode == 2 and "epochs" in refused.stderr and "Traceback" not in refused.stderr
    missing = cli("finetune", "--store", tmp_path / "typo.sqlite3", "--base", tiny_run.directory)
    assert missing.returncode == 2 and "no corrections database" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "typo.sqlite3").exists()
