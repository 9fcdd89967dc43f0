"""The Streamlit app through Streamlit's AppTest: every tab, uploads good and bad, model switching, training."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from digitlib import available_models

APP = "streamlit_app.py"
TABS = ["Draw", "Upload", "Train", "Model", "Corrections"]


@pytest.fixture
def app(repo, tmp_path, monkeypatch) -> AppTest:
    """The app with its writable places (trained models, corrections) in a temporary directory."""
    monkeypatch.setenv("DIGITLIB_TRAINED_MODELS_DIR", str(tmp_path / "trained"))
    monkeypatch.setenv("DIGITLIB_STORE", str(tmp_path / "corrections.sqlite3"))
    monkeypatch.chdir(repo)
    return AppTest.from_file(str(repo / APP), default_timeout=60)


@pytest.fixture
def shipped_model():
    if not available_models():
        pytest.skip("no shipped model in models/ yet")
    return available_models()[0]


def open_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["page"] = tab
    return at.run()


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def number_image(mnist, number: str) -> np.ndarray:
    """MNIST test digits side by side, dark ink on white paper, scaled up like a scan."""
    _, (x_test, y_test) = mnist
    digits = [x_test[np.flatnonzero(y_test == int(d))[0]] for d in number]
    gap = np.zeros((28, 10), np.uint8)
    row = np.hstack([part for digit in digits for part in (gap, digit)] + [gap])
    paper = 255 - np.pad(row, 10)
    return np.asarray(Image.fromarray(paper).resize((paper.shape[1] * 4, paper.shape[0] * 4), Image.BILINEAR))


def texts(elements) -> list[str]:
    return [str(element.value) for element in elements]


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_renders_without_exceptions(app, shipped_model, tab):
    at = open_tab(app.run(), tab)
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)


def test_app_starts_with_a_clear_message_when_no_model_exists(app, tmp_path, monkeypatch):
    import digitlib.classifier

    monkeypatch.setattr(digitlib.classifier, "MODELS_DIR", tmp_path / "no-models")
    at = app.run()
    assert not at.exception
    assert any("No trained model" in message for message in texts(at.sidebar.error))
    assert any("Pick a model" in message for message in texts(at.info))


def pick_model(at: AppTest, name: str) -> AppTest:
    picker = at.sidebar.selectbox[0]
    return picker.select(next(option for option in picker.options if option.startswith(name))).run()


def test_a_damaged_model_is_named_and_the_app_carries_on(app, shipped_model, tmp_path):
    (tmp_path / "trained" / "broken").mkdir(parents=True)
    (tmp_path / "trained" / "broken" / "model.tflite").write_bytes(b"not a model")
    at = pick_model(open_tab(app.run(), "Draw"), "broken")
    assert not at.exception, at.exception
    assert any("broken/model.tflite" in message and "not a usable LiteRT model" in message
               for message in texts(at.sidebar.error))
    assert any("Pick a model" in message for message in texts(at.info))


def test_a_model_without_a_complete_card_says_what_is_missing(app, shipped_model, repo, tmp_path):
    (tmp_path / "trained" / "cardless").mkdir(parents=True)
    (tmp_path / "trained" / "cardless" / "model.tflite").write_bytes(
        (repo / "models" / shipped_model / "model.tflite").read_bytes())
    at = pick_model(open_tab(app.run(), "Model"), "cardless")
    assert not at.exception, at.exception
    assert any("lacks test_accuracy" in message for message in texts(at.warning))


def test_empty_canvas_shows_a_hint_not_a_prediction(app, shipped_model):
    at = open_tab(app.run(), "Draw")
    assert any("Draw a digit" in message for message in texts(at.info))
    assert not at.metric


def test_upload_reads_good_files_and_names_each_bad_one(app, shipped_model, mnist):
    at = open_tab(app.run(), "Upload")
    good = png_bytes(number_image(mnist, "2026"))
    at.file_uploader[0].set_value([
        ("number.png", good, "image/png"),
        ("notes.png", b"this is text, not a picture", "image/png"),
        ("truncated.png", good[:120], "image/png"),
        ("digit.jpg", jpeg_bytes(number_image(mnist, "7")), "image/jpeg"),
    ]).run()
    assert not at.exception, at.exception
    errors = texts(at.error)
    assert len(errors) == 2
    assert any(error.startswith("notes.png:") for error in errors)
    assert any(error.startswith("truncated.png:") for error in errors)
    numbers = [metric.value for metric in at.metric if metric.label == "Number read"]
    assert numbers == ["2026", "7"]


def jpeg_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_a_correction_is_stored_and_shown_on_the_corrections_tab(app, shipped_model, mnist, tmp_path):
    from digitlib.store import CorrectionStore

    at = open_tab(app.run(), "Upload")
    at.file_uploader[0].set_value(("seven.png", png_bytes(number_image(mnist, "7")), "image/png")).run()
    at.text_input(key="label-upload-0").set_value("1")
    next(button for button in at.button if button.label == "Save correction").click()
    at.run()
    assert not at.exception, at.exception
    assert any(message.startswith("Saved 1") for message in texts(at.success))
    mine = CorrectionStore(tmp_path / "corrections.sqlite3", owner=at.session_state["visitor_id"])
    assert mine.counts()[1] == 1
    at = open_tab(at, "Corrections")
    assert not at.exception, at.exception
    assert any(text.startswith("**1** corrected digits") for text in texts(at.markdown))
    next(button for button in at.button if button.label == "Delete").click()
    at.run()
    assert mine.counts()[1] == 0


def test_switching_models_changes_the_model_shown(app):
    models = available_models()
    if len(models) < 2:
        pytest.skip("needs two shipped models")
    at = open_tab(app.run(), "Model")
    for name in models[:2]:
        pick_model(at, name)
        assert not at.exception
        assert at.subheader[0].value.startswith(name)
        assert at.session_state["active_model"].endswith(name)


@pytest.mark.slow
def test_fine_tuning_on_stored_corrections_reports_before_and_after(app, shipped_model, mnist, tmp_path):
    from digitlib.store import CorrectionStore

    (x_train, y_train), _ = mnist
    at = app.run()
    CorrectionStore(tmp_path / "corrections.sqlite3", owner=at.session_state["visitor_id"]).add(
        list(x_train[:12]), "".join(map(str, y_train[:12])))
    at = open_tab(at, "Corrections")
    at.number_input(key="finetune_epochs").set_value(1)
    next(button for button in at.button if button.label.startswith("Fine-tune")).click()
    at.run(timeout=600)
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    assert [metric.label for metric in at.metric] == ["MNIST test accuracy", "held-out corrections"]
    directory, card = at.session_state["finetuned"]
    assert card["finetune"]["after"]["mnist_test_accuracy"] > 0.9
    next(button for button in at.button if button.label.startswith("Make")).click()
    at.run()
    assert at.session_state["active_model"] == str(directory)


@pytest.mark.slow
def test_a_tiny_training_run_shows_live_curves_and_gives_a_usable_model(app, mnist):
    at = open_tab(app.run(), "Train")
    at.selectbox(key="recipe").select("baseline")
    at.number_input(key="epochs").set_value(1)
    at.select_slider(key="batch_size").set_value(32)
    at.number_input(key="train_size").set_value(500)
    next(button for button in at.button if button.label == "Start training").click()
    at.run(timeout=600)
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    assert any("test accuracy" in message for message in texts(at.success))
    trained_dir, card = at.session_state["trained"]
    assert len(card["history"]["loss"]) == 1
    line_charts = [chart for chart in at.get("vega_lite_chart") if '"type": "line"' in chart.proto.spec]
    assert len(line_charts) >= 2  # loss and accuracy

    next(button for button in at.button if button.label.startswith("Make")).click()
    at.run()
    assert at.session_state["active_model"] == str(trained_dir)
    at = open_tab(at, "Model")
    assert not at.exception
    assert at.subheader[0].value.startswith(trained_dir.name)
    assert card["test_accuracy"] > 0.3  # a few hundred images already beat chance (0.1) by far
    at = open_tab(at, "Upload")
    at.file_uploader[0].set_value(("digit.png", png_bytes(number_image(mnist, "1")), "image/png")).run()
    assert not at.exception
    assert [metric.label for metric in at.metric][:1] == ["Number read"]
