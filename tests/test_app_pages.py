"""What the pages say, through AppTest: a number's digits each with their top 3, small pictures boxed without hiding
their digits, corrections that keep what was typed and say what is wrong, runs told about on their own tab, and a
one-epoch run described rather than plotted."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from digitlib import available_models, load_classifier, read_number
from digitlib.app import training, visitors
from digitlib.app.reading import BOX_COLOUR, MIN_BOXED_WIDTH, with_boxes
from digitlib.training.jobs import Run
from digitlib.zoo.registry import APP_PRESETS, PRESETS
from tests.support.apptest import open_tab, texts
from tests.support.digit_pictures import number_image, png_bytes
from tests.test_app import pick_model

pytestmark = pytest.mark.skipif(not available_models(), reason="no shipped model in models/ yet")


def upload(at, mnist, number: str):
    at = open_tab(at, "Upload")
    at.file_uploader[0].set_value((f"{number}.png", png_bytes(number_image(mnist, number)), "image/png")).run()
    assert not at.exception, at.exception
    return at


def test_each_digit_of_a_number_has_a_row_with_its_top_three(app, mnist):
    at = upload(app.run(), mnist, "2026")
    table = next(element.proto.body for element in at.get("html") if "class='top3'" in element.proto.body)
    rows = re.findall(r"<tr><th scope='row'>(\w+)</th><td class=first><b>(\d)</b>", table)
    assert rows == [("1st", "2"), ("2nd", "0"), ("3rd", "2"), ("4th", "6")]
    assert table.count("<td") == 4 * 3  # three readings per digit, the likeliest first


def test_a_small_picture_is_enlarged_and_its_labels_sit_outside_the_boxes(mnist):
    _, (x_test, y_test) = mnist
    tiny = 255 - np.hstack([x_test[np.flatnonzero(y_test == d)[0]] for d in (8, 6)])  # 56x28, dark on white
    reading = read_number(tiny, load_classifier(available_models()[0]))
    picture = np.asarray(with_boxes(reading))
    assert picture.shape[1] >= MIN_BOXED_WIDTH
    scale = picture.shape[1] / reading.size[0]
    band = picture.shape[0] - round(reading.size[1] * scale)
    assert band > 0  # room for the labels above the picture
    marked = np.all(picture == BOX_COLOUR, axis=2)
    for digit in reading.digits:
        x0, y0, x1, y1 = (round(v * scale) for v in digit.box)
        inside = marked[y0 + band + 2 : y1 + band - 1, x0 + 2 : x1 - 1]
        assert not inside.any()  # nothing drawn over the digit itself


def test_a_correction_that_does_not_fit_keeps_what_was_typed_and_says_why(app, mnist):
    at = upload(app.run(), mnist, "31")
    field = at.text_input(key="label-upload-0")
    assert field.proto.placeholder == "2 digits"  # not the reading: an empty field looks empty
    save = next(button for button in at.button if button.label == "Save")
    save.click()
    at.run()
    assert "Not saved: type the right number first (2 digits were found)." in texts(at.error)
    at.text_input(key="label-upload-0").set_value("311")
    next(button for button in at.button if button.label == "Save").click()
    at.run()
    assert "Not saved: 2 digits were found, so type 2 digits (you typed 3)." in texts(at.error)
    assert at.text_input(key="label-upload-0").value == "311"  # kept, to be mended
    at.text_input(key="label-upload-0").set_value("3 1")
    next(button for button in at.button if button.label == "Save").click()
    at.run()
    assert "Not saved: type digits 0-9 only, one for each digit found (2 digits were found)." in texts(at.error)
    at.text_input(key="label-upload-0").set_value("71")
    next(button for button in at.button if button.label == "Save").click()
    at.run()
    assert any(message.startswith("Saved 71") for message in texts(at.success))
    assert at.text_input(key="label-upload-0").value == ""  # saved: the field is ready for the next one


def test_a_stopped_training_run_is_told_on_the_train_tab_only(app, monkeypatch, tmp_path):
    at = app.run()
    run = Run("stopped-run", "train", tmp_path / "never-made")
    run.stop_requested = True
    run.end(-15, "")
    monkeypatch.setitem(training.job_runner()._runs, run.token, run)
    visitors.visitor_keys().remember(at.session_state["visitor_id"], run=run.token)
    corrections = open_tab(at, "Corrections")
    assert not any(message.startswith("Stopped after") for message in texts(corrections.info))
    train = open_tab(corrections, "Train")
    assert any(message.startswith("Stopped after") for message in texts(train.info))


def test_the_train_tab_describes_the_default_recipe_in_the_registrys_words(app):
    at = open_tab(app.run(), "Train")
    intro = next(text for text in texts(at.markdown) if text.startswith("Train a CNN"))
    assert PRESETS[APP_PRESETS[0]].summary in intro
    assert at.selectbox(key="recipe").options == APP_PRESETS  # short options: a phone shows them whole
    assert PRESETS[APP_PRESETS[0]].summary in texts(at.caption)


def test_a_one_epoch_model_is_described_in_words_not_as_dots(app, repo, tmp_path):
    model = tmp_path / "trained" / "one-epoch"
    shutil.copytree(repo / "models" / available_models()[0], model)
    card = json.loads((model / "card.json").read_text())
    card |= {"name": "one-epoch", "epochs": 1, "history": {"loss": [0.31], "accuracy": [0.969]}}
    card.pop("initialised_from", None)
    (model / "card.json").write_text(json.dumps(card))
    at = pick_model(open_tab(app.run(), "Model"), "one-epoch")
    assert not at.exception, at.exception
    assert not [chart for chart in at.get("vega_lite_chart") if "strokeDash" in chart.proto.spec]  # no curves
    summary = next(text for text in texts(at.caption) if text.startswith("One epoch, so no curves"))
    assert "96.9%" in summary and "lower than the test accuracy" in summary and "held out" not in summary
