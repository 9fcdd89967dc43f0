"""load_classifier keeps what it loaded: the same files give the same classifier, from any thread; changed files
(retrained, recalibrated, replaced) give a fresh one."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from digitlib import ModelError, available_models, load_classifier
from digitlib.reading.classifier import MODELS_DIR, shipped_models_dir

pytestmark = pytest.mark.skipif(not available_models(), reason="no shipped model in models/ yet")


@pytest.fixture
def model_copy(tmp_path):
    directory = tmp_path / "copy"
    directory.mkdir()
    for name in ("model.tflite", "card.json"):
        shutil.copy(MODELS_DIR / available_models()[0] / name, directory / name)
    return directory


def test_the_same_files_give_the_same_loaded_classifier_by_name_or_path_and_from_many_threads(model_copy):
    name = available_models()[0]
    assert load_classifier(name) is load_classifier(MODELS_DIR / name)
    with ThreadPoolExecutor(8) as pool:
        loaded = list(pool.map(lambda _: load_classifier(model_copy), range(32)))
    assert all(classifier is loaded[0] for classifier in loaded)


def test_changed_files_are_loaded_afresh(model_copy):
    before = load_classifier(model_copy)
    card = json.loads((model_copy / "card.json").read_text())
    card["calibration"] = {"temperature": 1.5}
    (model_copy / "card.json").write_text(json.dumps(card))
    after = load_classifier(model_copy)
    assert after is not before and after.temperature == 1.5
    shutil.rmtree(model_copy)
    with pytest.raises(ModelError, match="model file not found"):
        load_classifier(model_copy)  # gone: the loaded copy is not handed out


def test_the_models_directory_setting_wins_over_the_repositorys(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITLIB_MODELS_DIR", str(tmp_path))
    assert shipped_models_dir() == tmp_path
    monkeypatch.delenv("DIGITLIB_MODELS_DIR")
    assert shipped_models_dir() == MODELS_DIR
