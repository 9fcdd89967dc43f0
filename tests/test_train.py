"""Training: settings checks, a short real run, the model card and files it writes, and atomic saving."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlib.data import IDX_FILES
from digitlib.evaluation.evaluate import evaluate_probabilities
from digitlib.reading.classifier import load_classifier
from digitlib.training import model_dirs
from digitlib.training import train as train_module
from digitlib.training.config import TrainConfig, split_train_val
from tests.support.model_files import snapshot


@pytest.mark.parametrize(
    "setting, value, named",
    [
        ("epochs", 0, "epochs"),
        ("epochs", -3, "epochs"),
        ("epochs", 2.5, "epochs"),
        ("batch_size", 0, "batch size"),
        ("batch_size", -32, "batch size"),
        ("train_size", -100, "training-set size"),
        ("train_size", 0, "training-set size"),
        ("learning_rate", 0.0, "learning rate"),
        ("learning_rate", -1e-3, "learning rate"),
        ("val_fraction", -0.1, "validation fraction"),
        ("val_fraction", 0.5, "validation fraction"),
        ("arch", "transformer", "architecture"),
        ("label_smoothing", -0.1, "label smoothing"),
        ("label_smoothing", 0.5, "label smoothing"),
    ],
)
def test_nonsense_settings_are_rejected(setting, value, named):
    with pytest.raises(ValueError, match=named):
        TrainConfig(**{setting: value}).validate()


def test_default_settings_are_valid():
    TrainConfig().validate()


def test_split_is_disjoint_sized_and_reproducible():
    images = labels = np.arange(60_000)
    cfg = TrainConfig(train_size=2000, val_fraction=0.1, seed=7)
    (fit_x, _), (val_x, _) = split_train_val(images, labels, cfg)
    assert len(fit_x) == 2000 and len(val_x) == 222
    assert not set(fit_x) & set(val_x)
    (again, _), _ = split_train_val(images, labels, cfg)
    np.testing.assert_array_equal(fit_x, again)


# --- the test run's tiny training run (conftest.tiny_run): 2 epochs of the baseline CNN on 2,000 real digits.

CARD_FIELDS = {
    "name",
    "architecture",
    "parameters",
    "epochs",
    "training_seconds",
    "data_checksums_md5",
    "library_versions",
    "test_accuracy",
    "per_class_accuracy",
    "confusion_matrix",
    "history",
    "training_images",
    "validation_images",
}


def test_short_run_beats_chance_by_far(tiny_run):
    assert tiny_run.card["test_accuracy"] > 0.8


def test_card_describes_the_run(tiny_run, mnist):
    card, cfg = tiny_run.card, tiny_run.config
    assert CARD_FIELDS <= set(card)
    assert json.loads((tiny_run.directory / "card.json").read_text()) == card
    assert card["name"] == "tiny" and card["architecture"] == "baseline"
    assert card["parameters"] == 225_034
    assert card["epochs"] == cfg.epochs and card["training_images"] == cfg.train_size == 2000
    assert card["validation_images"] == 222
    assert card["training_seconds"] > 0
    assert {"python", "tensorflow", "keras", "numpy"} <= set(card["library_versions"])
    for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(card["history"][metric]) == cfg.epochs, metric


def test_card_checksums_are_the_data_files_used(tiny_run):
    data_dir = Path(os.environ["DIGITLIB_DATA_DIR"])
    expected = {name: hashlib.md5((data_dir / name).read_bytes()).hexdigest() for name in IDX_FILES.values()}
    assert tiny_run.card["data_checksums_md5"] == expected


def test_card_figures_match_a_fresh_evaluation(tiny_run, tiny_classifier, mnist):
    """Accuracy, per-class accuracy and confusion matrix in the card are what the saved model really scores."""
    _, (x_test, y_test) = mnist
    fresh = evaluate_probabilities(tiny_classifier.predict_batch(x_test), y_test)
    card = tiny_run.card
    assert card["test_accuracy"] == pytest.approx(fresh.accuracy, abs=1e-6)
    assert card["per_class_accuracy"] == pytest.approx(fresh.per_class_accuracy, abs=1e-6)
    assert card["confusion_matrix"] == fresh.confusion_matrix
    confusion = np.array(card["confusion_matrix"])
    assert confusion.sum() == len(y_test) and np.trace(confusion) / confusion.sum() == pytest.approx(fresh.accuracy)


def test_run_writes_every_artefact_and_replaces_the_old_directory(tiny_run):
    names = {p.name for p in tiny_run.directory.iterdir()}
    assert {"model.keras", "model.tflite", "card.json", "curves.png", "confusion.png", "misclassified.png"} <= names
    assert "left-by-an-older-run.txt" not in names
    for png in ("curves.png", "confusion.png", "misclassified.png"):
        with Image.open(tiny_run.directory / png) as image:
            assert image.format == "PNG" and min(image.size) > 100
    leftovers = [p.name for p in tiny_run.directory.parent.iterdir() if p.is_dir() and p != tiny_run.directory]
    assert leftovers == []


def test_litert_export_reads_like_the_keras_model_with_8_bit_weights(tiny_run, tiny_classifier, mnist):
    """The reader's file holds 8-bit weights (several times faster on one core) and reads what Keras reads."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    _, (x_test, _) = mnist
    images = x_test[:500]
    keras_probabilities = keras.saving.load_model(tiny_run.directory / "model.keras").predict(
        images[..., None].astype(np.float32) / 255.0, verbose=0
    )
    litert_probabilities = tiny_classifier.predict_prepared(images / np.float32(255), calibrated=False)
    agree = (litert_probabilities.argmax(axis=1) == keras_probabilities.argmax(axis=1)).mean()
    assert agree >= 0.99
    assert np.abs(litert_probabilities - keras_probabilities).mean() < 0.01
    weights = Interpreter(model_path=str(tiny_run.directory / "model.tflite")).get_tensor_details()
    assert any(tensor["dtype"] == np.int8 for tensor in weights)
    assert tiny_run.card["litert"] == train_module.LITERT_EXPORT


def test_export_again_keeps_the_models_story_and_measures_it_anew(tiny_run, mnist, tmp_path, monkeypatch):
    """A model exported before (float weights, calibrated) is exported with 8-bit weights: its training facts stay,
    its card records the export, and its test figures and temperature are measured again on the new file."""
    from digitlib.evaluation.calibrate import calibrate_model
    from digitlib.reading.classifier import FLOAT_WEIGHTS
    from digitlib.training.reexport import reexport

    monkeypatch.setattr(train_module.data, "load_mnist", lambda data_dir=None: mnist)  # the calibration's digits
    older = tmp_path / "older"
    shutil.copytree(tiny_run.directory, older)
    card = json.loads((older / "card.json").read_text())
    del card["litert"]
    card["test_accuracy"], card["peak_memory_mb"] = 0.5, 12_345
    card["calibration"] = {"temperature": 9.0, "fitted_on": "an older fit"}
    (older / "card.json").write_text(json.dumps(card))

    new = reexport(str(older), calibration_count=30, mnist=mnist)

    assert {key: new[key] for key in ("created", "epochs", "training_seconds", "history", "peak_memory_mb")} == {
        key: card[key] for key in ("created", "epochs", "training_seconds", "history", "peak_memory_mb")
    }
    assert new["litert"] == train_module.LITERT_EXPORT
    assert new["exports"][-1]["before"] == {"litert": FLOAT_WEIGHTS, "test_accuracy": 0.5, "temperature": 9.0}
    assert new["test_accuracy"] == pytest.approx(tiny_run.card["test_accuracy"], abs=0.01)
    assert json.loads((older / "card.json").read_text()) == new
    assert "30 synthetic numbers" in new["calibration"]["fitted_on"]
    assert new["calibration"]["temperature"] == pytest.approx(
        calibrate_model(load_classifier(older), 30).temperature, rel=1e-3
    )


def test_progress_hook_reports_every_phase_in_order(tiny_run):
    epochs = tiny_run.config.epochs
    phases = [p.phase for p in tiny_run.progress]
    collapsed = [phase for i, phase in enumerate(phases) if i == 0 or phase != phases[i - 1]]
    assert collapsed == ["batch", "epoch"] * epochs + ["save", "evaluate", "done"]
    epoch_ends = [p for p in tiny_run.progress if p.phase == "epoch"]
    assert [p.epoch for p in epoch_ends] == list(range(1, epochs + 1))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epoch_ends[-1].logs)
    last_batch = [p for p in tiny_run.progress if p.phase == "batch"][-1]
    assert last_batch.batch == last_batch.batches == -(-2000 // tiny_run.config.batch_size)


def test_progress_hook_runs_on_the_calling_thread_with_batches_in_order(tiny_run):
    # Keras runs batch-end callbacks on a worker thread when they are async-safe; Streamlit can only
    # update its elements from the script's thread, so the hook must be called on the training thread.
    assert tiny_run.hook_threads == {threading.current_thread().name}
    batches = [(p.epoch, p.batch) for p in tiny_run.progress if p.phase == "batch"]
    assert batches == sorted(set(batches))
    assert len(batches) > tiny_run.config.epochs  # progress within epochs, not only at their ends


@pytest.mark.slow
def test_batch_norm_statistics_settle_in_a_short_run(mnist):
    """24 steps (1,500 images, 2 epochs: a quick app run) leave BatchNorm's moving statistics fitting the data,
    so the network reads in inference as well as it trained (with the fixed momentum 0.9 it read 63%)."""
    from digitlib.training.train import fit

    model, *_ = fit(TrainConfig(arch="strong", epochs=2, train_size=1500), lambda p: None, mnist)
    (x_test, y_test) = mnist[1]
    predicted = model.predict(x_test[:2000, ..., None] / 255.0, verbose=0).argmax(axis=1)
    assert (predicted == y_test[:2000]).mean() > 0.8


@pytest.mark.slow
def test_fast_preset_saves_the_averaged_weights_it_validated(mnist, tmp_path):
    """The fast recipe's label smoothing and weight averaging (EMA) train, export, and what is saved is
    the averaged model that the last validation scored, not the last step's weights."""
    from digitlib import load_classifier
    from digitlib.training.config import from_preset
    from digitlib.training.train import train

    cfg = from_preset("fast", epochs=2, train_size=5000, val_fraction=0.1)
    assert cfg.label_smoothing > 0 and cfg.ema
    card = train(cfg, tmp_path / "fast", mnist=mnist)
    assert card["test_accuracy"] > 0.9
    _, (x_val, y_val) = split_train_val(*mnist[0], cfg)
    saved = (load_classifier(tmp_path / "fast").predict_batch(x_val).argmax(axis=1) == y_val).mean()
    assert saved == pytest.approx(card["history"]["val_accuracy"][-1], abs=1.5 / len(y_val))


# --- atomic save: a failure at any step leaves the previous model untouched and no staging directory behind.


def fail(*args, **kwargs):
    raise RuntimeError("injected failure")


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def fail_final_rename(monkeypatch):
    real_rename = os.rename

    def rename(src, dst):
        if ".tmp-" in Path(src).name:  # the staging directory moving into place
            raise OSError("injected failure during the swap")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)


def keras_method(name: str, error):
    def inject(monkeypatch):
        import keras

        monkeypatch.setattr(keras.Model, name, error)

    return inject


FAILURES = {
    "saving model.keras": keras_method("save", fail),
    "exporting to LiteRT": keras_method("export", fail),
    "Ctrl-C while exporting": keras_method("export", interrupt),
    "evaluating the export": lambda mp: mp.setattr(train_module, "load_classifier", fail),
    "drawing figures": lambda mp: mp.setattr(train_module, "write_figures", fail),
    "swapping into place": fail_final_rename,
}


@pytest.mark.parametrize("inject", FAILURES.values(), ids=FAILURES.keys())
def test_failed_save_leaves_previous_model_untouched(inject, tiny_run, mnist, tmp_path, monkeypatch):
    from digitlib.zoo.architectures import build

    out = tmp_path / "models" / "tiny"
    shutil.copytree(tiny_run.directory, out)
    before = snapshot(out)
    untrained = build("baseline")  # saving is under test, not fitting: skip straight to it
    history = {"loss": [2.3], "accuracy": [0.1]}
    monkeypatch.setattr(
        train_module, "fit", lambda *args: (untrained, history, 0.1, {"train": 100, "conventions": 0, "validation": 0})
    )
    (x_train, y_train), (x_test, y_test) = mnist
    small = (x_train[:100], y_train[:100]), (x_test[:300], y_test[:300])
    inject(monkeypatch)

    with pytest.raises((RuntimeError, OSError, KeyboardInterrupt)):
        train_module.train(TrainConfig(arch="baseline", epochs=1, augment=False), out, mnist=small)

    assert snapshot(out) == before
    assert [p for p in out.parent.iterdir() if p.is_dir()] == [out]
    load_classifier(out)  # still a working model


def test_stale_staging_of_dead_runs_is_removed(tmp_path):
    dead = tmp_path / ".strong.tmp-999999999-abc"
    alive = tmp_path / f".strong.tmp-{os.getpid()}-abc"
    for staging in (dead, alive):
        staging.mkdir()
    model_dirs.remove_stale_staging(tmp_path)
    assert not dead.exists() and alive.exists()


def test_model_left_aside_by_a_killed_swap_is_put_back(tmp_path):
    """A kill between the swap's two renames leaves models/NAME empty and the old model in .NAME.old-*."""
    old = tmp_path / ".strong.old-abc"
    (old / "strong").mkdir(parents=True)
    (old / "strong" / "card.json").write_text("{}")
    model_dirs.remove_stale_staging(tmp_path)
    assert (tmp_path / "strong" / "card.json").read_text() == "{}"
    assert not old.exists()


def test_augmentation_keeps_shape_and_range_but_changes_digits(mnist):
    import tensorflow as tf

    from digitlib.training.augment import augment_batch

    (x_train, _), _ = mnist
    images = x_train[:16, ..., None].astype(np.float32) / 255.0
    tf.random.set_seed(0)
    augmented = augment_batch(tf.constant(images)).numpy()
    assert augmented.shape == images.shape and augmented.dtype == np.float32
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0
    assert np.abs(augmented - images).mean() > 0.01
