"""Write a saved model's LiteRT file again from its Keras model, the way `train` exports today (`export_litert`).

A model trained before the export changed keeps its whole story: its card keeps every training fact and gains an
``exports`` entry (when, the file's format and test accuracy before); the test figures are measured again on the
new file, and a calibrated model is calibrated again, because its probabilities may move.
"""

from __future__ import annotations

from datetime import UTC, datetime

from digitlib import data
from digitlib.evaluation.calibrate import calibrate_model
from digitlib.reading.classifier import load_classifier, model_dir, read_card, weights_format
from digitlib.training.train import LITERT_EXPORT, ProgressHook, load_keras_model, save_model

# what `save_model` writes afresh, and the calibration fitted again below
MEASURED = ("test_images", "test_accuracy", "per_class_accuracy", "confusion_matrix", "calibration", "history")


def reexport(
    name_or_path: str,
    hook: ProgressHook = lambda p: None,
    data_dir: str | None = None,
    calibration_count: int = 1500,
    mnist: tuple | None = None,
) -> dict:
    """Re-export the model's LiteRT file in place (atomically) and return its new card.  ``mnist``: the arrays when
    already loaded (the command line loads them first, to report a missing folder before TensorFlow's import)."""
    directory = model_dir(name_or_path)
    card = read_card(directory)
    model = load_keras_model(directory)
    test = (mnist or data.load_mnist(data_dir))[1]
    export = {
        "exported": datetime.now(UTC).isoformat(timespec="seconds"),
        "litert": LITERT_EXPORT,
        "before": {
            "litert": weights_format(card),
            "test_accuracy": card.get("test_accuracy"),
            "temperature": card.get("calibration", {}).get("temperature"),
        },
    }
    kept = {key: value for key, value in card.items() if key not in MEASURED}
    kept["exports"] = [*card.get("exports", []), export]
    new_card = save_model(model, directory, kept, card.get("history", {}), test, hook)
    if "calibration" in card:
        calibrate_model(load_classifier(directory), calibration_count, data_dir)
        new_card = read_card(directory)
    return new_card
