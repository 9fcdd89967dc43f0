"""Temperature scaling: fitted on held-out digits, stored in the card, applied to every prediction."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from digitlib import ModelError, load_classifier, read_number
from digitlib.__main__ import main
from digitlib.evaluation.calibrate import (
    Calibration,
    calibrate,
    calibrate_model,
    held_out_digits,
    unsure_table,
    write_calibration,
)
from digitlib.reading.classifier import MODELS_DIR
from digitlib.reading.temperature import confident_errors, expected_calibration_error, fit_temperature, temper


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def overconfident():
    """Labels drawn from softmax(z), probabilities reported as softmax(2z): twice too sure."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2.5, (20000, 10))
    truth = softmax(logits)
    labels = np.array([rng.choice(10, p=p) for p in truth])
    return softmax(2 * logits).astype(np.float32), labels, truth


def test_temper_keeps_the_ranking_and_softens_or_sharpens(overconfident):
    probabilities, _, _ = overconfident
    assert temper(probabilities, 1.0) is probabilities
    soft, sharp = temper(probabilities, 2.0), temper(probabilities, 0.5)
    assert np.array_equal(soft.argmax(1), probabilities.argmax(1))
    assert np.allclose(soft.sum(1), 1, atol=1e-5)
    assert (soft.max(1) <= probabilities.max(1) + 1e-6).all() and (sharp.max(1) >= probabilities.max(1) - 1e-6).all()
    assert np.allclose(temper(soft, 0.5), probabilities, atol=1e-4)  # undone by the inverse temperature


def test_fit_temperature_recovers_how_overconfident_a_model_is(overconfident):
    probabilities, labels, truth = overconfident
    assert fit_temperature(probabilities, labels) == pytest.approx(2.0, rel=0.08)
    assert fit_temperature(truth, labels) == pytest.approx(1.0, rel=0.08)


def test_expected_calibration_error():
    ten_sure = np.tile(np.r_[0.9, np.full(9, 0.1 / 9)], (10, 1))
    assert expected_calibration_error(ten_sure, [0] * 9 + [1]) == pytest.approx(0.0, abs=1e-6)  # 90% sure, 90% right
    assert expected_calibration_error(ten_sure, [0] * 5 + [1] * 5) == pytest.approx(0.4)  # 90% sure, 50% right
    assert expected_calibration_error(np.zeros((0, 10)), []) == 0.0


def test_calibration_lowers_the_error_and_counts_confident_mistakes(overconfident):
    probabilities, labels, _ = overconfident
    c = calibrate(probabilities, labels, "a test")
    assert c.ece_after < c.ece_before / 3 and c.nll_after < c.nll_before
    assert confident_errors(temper(probabilities, c.temperature), labels) < confident_errors(probabilities, labels)
    assert confident_errors(np.eye(10)[[1, 2, 3]], [1, 2, 4]) == 1


@pytest.fixture
def model_copy(tmp_path):
    directory = tmp_path / "compact"
    shutil.copytree(MODELS_DIR / "compact", directory)
    return directory


def test_the_classifier_applies_the_cards_temperature(model_copy, mnist):
    x = mnist[1][0][:300]
    write_calibration(model_copy, Calibration(1.0, "none", 0, 0.0, 0.0, 0.0, 0.0))
    raw = load_classifier(model_copy).predict_batch(x)
    write_calibration(model_copy, Calibration(2.0, "a test", 10, 0.1, 0.1, 0.1, 0.1))
    clf = load_classifier(model_copy)
    assert clf.temperature == 2.0
    tempered = clf.predict_batch(x)
    assert np.array_equal(tempered.argmax(1), raw.argmax(1))
    assert np.allclose(tempered, temper(raw, 2.0), atol=1e-5)
    assert read_number(x[0], clf).confidence == pytest.approx(float(tempered[0].max()), abs=0.02)


@pytest.mark.parametrize("temperature", [0, -1, "hot", 1e9])
def test_a_nonsense_temperature_is_a_model_error(model_copy, temperature):
    card = json.loads((model_copy / "card.json").read_text())
    card["calibration"] = {"temperature": temperature}
    (model_copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="temperature"):
        load_classifier(model_copy)


def test_held_out_digits_are_the_training_runs_validation_split(mnist):
    (x_train, _), _ = mnist
    x_val, y_val = held_out_digits({"config": {"seed": 0, "val_fraction": 0.1}})
    assert len(x_val) == len(y_val) == len(x_train) // 10
    for card in (
        {"config": {"seed": 0, "val_fraction": 0.0}},  # trained on every image
        {"config": {"seed": 0, "val_fraction": 0.1}, "initialised_from": {"config": {"seed": 1, "val_fraction": 0.1}}},
        {"config": {"seed": 0, "holdout_fraction": 0.25}},
    ):  # a fine-tune's card
        with pytest.raises(ValueError, match="held-out validation split"):
            held_out_digits(card)


def test_calibrate_cli_stores_the_temperature_and_evaluate_reports_the_ece(model_copy, capsys):
    assert main(["calibrate", "--model", str(model_copy), "--count", "30"]) == 0
    assert "temperature" in capsys.readouterr().out
    stored = json.loads((model_copy / "card.json").read_text())["calibration"]
    assert 0.25 <= stored["temperature"] <= 10 and stored["images"] > 30
    assert load_classifier(model_copy).temperature == pytest.approx(stored["temperature"])

    assert main(["evaluate", "--model", str(model_copy), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["temperature"] == pytest.approx(stored["temperature"])
    assert 0 <= result["ece"] < 0.05 and 0 <= result["ece_uncalibrated"] < 0.05


def test_calibrate_model_refits_from_untempered_probabilities(model_copy):
    """Calibrating twice gives the same temperature: the second fit does not temper the tempered."""
    first = calibrate_model(load_classifier(model_copy), 30).temperature
    second = calibrate_model(load_classifier(model_copy), 30).temperature
    assert second == pytest.approx(first, rel=1e-3)


def test_unsure_table_shows_what_a_warning_threshold_catches():
    probabilities = np.array(
        [[0.95, 0.05] + [0] * 8, [0.55, 0.45] + [0] * 8, [0.85, 0.15] + [0] * 8, [0.65, 0.35] + [0] * 8]
    )
    table = unsure_table(probabilities, [0, 0, 1, 1])  # right at 95% and 55%, wrong at 85% and 65%
    assert table["0.7"] == {"errors_flagged": 0.5, "correct_flagged": 0.5}
    assert table["0.9"] == {"errors_flagged": 1.0, "correct_flagged": 0.5}
    assert table["0.5"] == {"errors_flagged": 0.0, "correct_flagged": 0.0}
