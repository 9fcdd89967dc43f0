"""The models shipped in models/: they exist, reach their targets on the genuine MNIST test set, and match their cards.

A missing shipped model is a failure, never a skip: the app cannot start without them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from digitlib import DEFAULT_MODEL, available_models, load_classifier
from digitlib.classifier import MODELS_DIR
from digitlib.data import IDX_FILES

TARGETS = {"baseline": 0.990, "strong": 0.996, DEFAULT_MODEL: 0.996}  # test accuracy each shipped model must reach
ARTEFACTS = ("model.tflite", "model.keras", "card.json", "curves.png", "confusion.png", "misclassified.png")


def card_of(name: str) -> dict:
    return json.loads((MODELS_DIR / name / "card.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name, target", TARGETS.items())
def test_shipped_model_reaches_its_target_and_its_card(name, target, cli, mnist, tmp_path):
    done = cli("evaluate", "--model", name, "--json", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    assert measured["count"] == 10_000
    assert measured["accuracy"] >= target
    card = card_of(name)
    assert card["test_images"] == 10_000
    assert measured["accuracy"] == pytest.approx(card["test_accuracy"], abs=1e-4)  # at most one digit differs
    assert card["test_accuracy"] >= target


@pytest.mark.parametrize("name", TARGETS)
def test_shipped_model_is_complete_and_trained_on_genuine_mnist(name, mnist):
    directory = MODELS_DIR / name
    missing = [artefact for artefact in ARTEFACTS if not (directory / artefact).is_file()]
    assert not missing, f"{directory} lacks {missing}"
    card = card_of(name)
    assert card["name"] == name and card["architecture"] == name
    assert card["training_images"] + card["validation_images"] == 60_000
    data_dir = Path(os.environ["DIGITLIB_DATA_DIR"])
    genuine = {file: hashlib.md5((data_dir / file).read_bytes()).hexdigest() for file in IDX_FILES.values()}
    assert card["data_checksums_md5"] == genuine
    assert len(card["history"]["val_accuracy"]) == card["epochs"]


def test_baseline_is_the_seed_architecture():
    assert card_of("baseline")["parameters"] == 225_034


def test_default_model_loads_without_naming_it():
    assert set(TARGETS) <= set(available_models())
    assert load_classifier().name == DEFAULT_MODEL
