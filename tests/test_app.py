"""The Streamlit app through Streamlit's AppTest: every tab, uploads good and bad, model switching, training."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from digitlib import available_models
from digitlib.app import visitors
from tests.support.apptest import open_tab, texts
from tests.support.digit_pictures import number_image, png_bytes

APP = "streamlit_app.py"
TABS = ["Draw", "Upload", "Inside", "Train", "Model", "Corrections"]


@pytest.fixture
def shipped_model():
    if not available_models():
        pytest.skip("no shipped model in models/ yet")
    return available_models()[0]


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_renders_without_exceptions(app, shipped_model, tab):
    at = open_tab(app.run(), tab)
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)


def test_app_starts_with_a_clear_message_when_no_model_exists(app, tmp_path, monkeypatch):
    import digitlib.reading.classifier

    monkeypatch.setattr(digitlib.reading.classifier, "MODELS_DIR", tmp_path / "no-models")
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
    assert any(
        "broken/model.tflite" in message and "not a usable LiteRT model" in message
        for message in texts(at.sidebar.error)
    )
    assert any("Pick a model" in message for message in texts(at.info))


def test_a_model_without_a_complete_card_says_what_is_missing(app, shipped_model, repo, tmp_path):
    (tmp_path / "trained" / "cardless").mkdir(parents=True)
    (tmp_path / "trained" / "cardless" / "model.tflite").write_bytes(
        (repo / "models" / shipped_model / "model.tflite").read_bytes()
    )
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
    at.file_uploader[0].set_value(
        [
            ("number.png", good, "image/png"),
            ("notes.png", b"this is text, not a picture", "image/png"),
            ("truncated.png", good[:120], "image/png"),
            ("digit.jpg", jpeg_bytes(number_image(mnist, "7")), "image/jpeg"),
        ]
    ).run()
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
    from digitlib.store.corrections import CorrectionStore

    at = open_tab(app.run(), "Upload")
    at.file_uploader[0].set_value(("seven.png", png_bytes(number_image(mnist, "7")), "image/png")).run()
    at.text_input(key="label-upload-0").set_value("1")
    next(button for button in at.button if button.label == "Save").click()
    at.run()
    assert not at.exception, at.exception
    assert any(message.startswith("Saved 1") for message in texts(at.success))
    mine = CorrectionStore(tmp_path / "corrections.sqlite3", owner=at.session_state["visitor_id"])
    assert mine.counts()[1] == 1
    at = open_tab(at, "Corrections")
    assert not at.exception, at.exception
    assert any(text.startswith("**1** corrected digit ") for text in texts(at.markdown))
    next(button for button in at.button if button.label == "Delete").click()
    at.run()
    assert mine.counts()[1] == 0


def test_no_corrections_is_a_sentence_not_an_empty_chart(app):
    at = open_tab(app.run(), "Corrections")
    assert not at.exception, at.exception
    assert any(message.startswith("No corrections yet") for message in texts(at.info))
    assert not at.get("vega_lite_chart")


def metric_values(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


@pytest.mark.parametrize("name", ["compact", "strong"])
def test_the_model_tab_tells_every_run_behind_a_polished_model(app, name):
    if name not in available_models():
        pytest.skip(f"{name} is not shipped")
    card = json.loads((Path("models") / name / "card.json").read_text())
    runs, run = [], card
    while run:
        runs.insert(0, run)
        run = run.get("initialised_from")
    assert len(runs) >= 2 and runs[0]["epochs"] == 15  # every shipped model began with 15 augmented epochs
    at = pick_model(open_tab(app.run(), "Model"), name)
    assert not at.exception, at.exception
    figures = metric_values(at)
    assert figures["Epochs"] == str(sum(run["epochs"] for run in runs))
    total_minutes = round(sum(run["training_seconds"] for run in runs) / 60)
    assert figures["Training time"] in (f"{total_minutes} min", f"{total_minutes // 60} h {total_minutes % 60:02d} min")
    table = next(text for text in texts(at.markdown) if text.startswith("| run |"))
    for number, run in enumerate(runs[:-1], start=1):
        again = " (an earlier version of it)" if run["name"] == name else ""  # two runs never read the same
        assert f"| {number}. `{run['name']}`{again} | {run['epochs']} |" in table
    assert f"| {len(runs)}. this model | {card['epochs']} |" in table
    assert "| all |" not in table  # a run on all of MNIST says how many images that was
    real = card["realworld"]  # both learnt real handwriting: the runs that did say how much, and from what
    assert f"| {card['training_images']:,} + {real['images']:,} real |" in table
    assert any(f"{real['pictures']:,} photos and drawings" in text for text in texts(at.caption))


def test_training_curves_have_a_legend_axis_titles_and_mark_each_run(app, shipped_model, tmp_path):
    """A card whose first run kept its history shows one curve across both runs, with a rule where the second began."""
    source = Path("models") / shipped_model
    polished = tmp_path / "trained" / "polished"
    polished.mkdir(parents=True)
    (polished / "model.tflite").write_bytes((source / "model.tflite").read_bytes())
    card = json.loads((source / "card.json").read_text())
    history = {
        "loss": [0.5, 0.3, 0.2],
        "val_loss": [0.4, 0.3, 0.25],
        "accuracy": [0.9, 0.95, 0.97],
        "val_accuracy": [0.92, 0.95, 0.96],
    }
    card |= {
        "name": "polished",
        "epochs": 2,
        "history": {metric: values[:2] for metric, values in history.items()},
        "initialised_from": {
            "name": "first-run",
            "epochs": 3,
            "training_seconds": 100.0,
            "history": history,
            "test_accuracy": 0.98,
            "config": {"learning_rate": 0.002},
        },
    }
    (polished / "card.json").write_text(json.dumps(card))
    at = pick_model(open_tab(app.run(), "Model"), "polished")
    assert not at.exception, at.exception
    assert metric_values(at)["Epochs"] == "5"
    curves = [spec for spec in chart_specs(at) if "layer" in spec and "strokeDash" in spec["layer"][0]["encoding"]]
    assert len(curves) == 2  # loss and accuracy
    for spec in curves:
        lines = spec["layer"][0]["encoding"]
        assert lines["color"]["scale"]["domain"] == ["training", "validation"] and lines["color"]["legend"]
        assert lines["x"]["title"] == "epoch" and lines["y"]["title"] in ("loss", "accuracy")
        assert sorted({point["epoch"] for point in spec["layer"][0]["data"]["values"]}) == [1, 2, 3, 4, 5]
        assert lines["x"]["axis"]["format"] == "d"  # whole epochs, never "1.000000"
        assert [rule["run"] for rule in spec["layer"][1]["data"]["values"]] == ["first-run", "polished"]


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


def until_the_run_ends(at: AppTest, timeout: float = 600) -> AppTest:
    """Rerun the page (as its polling fragment would) until it no longer shows a run in progress."""
    deadline = time.monotonic() + timeout
    while any(button.label == "Stop training" for button in at.button) or any(
        "in progress" in message for message in texts(at.info)
    ):
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.5)
        at.run()
    return at


def run_in_progress(at: AppTest, timeout: float = 300) -> AppTest:
    """Rerun the page until the run it follows reports training batches."""
    deadline = time.monotonic() + timeout
    while not any("batch" in (bar.proto.text or "") for bar in at.get("progress")):
        assert time.monotonic() < deadline, "no training progress shown"
        time.sleep(0.5)
        at.run()
    return at


@pytest.mark.slow
def test_fine_tuning_on_stored_corrections_runs_as_a_job_and_reports_before_and_after(
    app, shipped_model, mnist, tmp_path
):
    from digitlib.store.corrections import CorrectionStore

    (x_train, y_train), _ = mnist
    lightest = "compact" if "compact" in available_models() else shipped_model  # fine-tuned in a third of the time
    at = pick_model(app.run(), lightest)
    mine = CorrectionStore(tmp_path / "corrections.sqlite3", owner=at.session_state["visitor_id"])
    mine.add(list(x_train[:29]), "".join(map(str, y_train[:29])))
    at = open_tab(at, "Corrections")
    assert any(message.startswith("Fine-tuning needs at least 30") for message in texts(at.info))  # unmeasurable
    assert not any(button.label.startswith("Fine-tune") for button in at.button)
    mine.add(list(x_train[29:30]), str(y_train[29]))
    at.run()
    at.number_input(key="finetune_epochs").set_value(1)
    next(button for button in at.button if button.label.startswith("Fine-tune")).click()
    at = until_the_run_ends(at.run())
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    assert [metric.label for metric in at.metric] == ["MNIST test accuracy", "held-out corrections"]
    assert "n/a" not in [metric.value for metric in at.metric]  # some corrections were held out and measured
    assert any("Where the time went" in caption for caption in texts(at.caption))
    name = next(message.split("**")[1] for message in texts(at.success) if message.startswith("Saved"))
    next(button for button in at.button if button.label.startswith("Make")).click()
    at.run()
    directory = Path(at.session_state["active_model"])
    assert directory.name == name and tmp_path / "trained" in directory.parents  # the app's own place, not models/
    card = json.loads((directory / "card.json").read_text())
    assert card["finetune"]["after"]["mnist_test_accuracy"] > 0.9


def test_the_train_tab_starts_with_the_quick_recipe_on_all_training_images(app):
    at = open_tab(app.run(), "Train")
    assert at.selectbox(key="recipe").value == "quick"
    assert at.number_input(key="epochs").value == 1
    assert at.number_input(key="train_size").value == 60_000
    assert any(caption.startswith("Estimated time: about") for caption in texts(at.caption))


def start_training(at: AppTest, epochs: int, train_size: int) -> AppTest:
    """Press Start with the baseline CNN in batches of 32 (a run short enough for a test)."""
    at.selectbox(key="recipe").select("baseline")
    at.number_input(key="epochs").set_value(epochs)
    at.select_slider(key="batch_size").set_value(32)
    at.number_input(key="train_size").set_value(train_size)
    next(button for button in at.button if button.label == "Start training").click()
    return at.run()


def test_start_says_so_when_the_database_with_the_one_run_rule_is_down(app, tmp_path, monkeypatch):
    """A visitor pressing Start while the servers' shared database is unreachable gets a plain sentence (no address,
    no driver's words) and no run begins."""
    import sqlalchemy as sa

    from digitlib.store.corrections import CorrectionStore
    from digitlib.store.shared import SharedState, TrainingLease
    from digitlib.training.jobs import Runner

    state = SharedState(CorrectionStore(str(tmp_path / "shared.sqlite3")))
    state.store.engine = sa.create_engine("postgresql+psycopg://digitlib@127.0.0.1:1/digitlib?connect_timeout=2")
    runner = Runner(TrainingLease(state))  # the server's runner, its lease on the database that went away
    monkeypatch.setattr("digitlib.app.training.job_runner", lambda: runner)
    at = start_training(open_tab(app.run(), "Train"), epochs=1, train_size=500)
    assert not at.exception, at.exception
    unavailable = "the corrections database is unavailable (the details are in the server's log)."
    assert texts(at.error) == [f"Not started: {unavailable}"]
    assert not (tmp_path / "trained").exists() or not any((tmp_path / "trained").rglob("card.json"))


@pytest.mark.slow
def test_a_tiny_training_run_goes_on_in_a_child_and_gives_a_usable_model(app, repo, mnist, tmp_path, monkeypatch):
    tensorflow_before = "tensorflow" in sys.modules  # other tests in this process may have imported it themselves
    at = until_the_run_ends(start_training(open_tab(app.run(), "Train"), epochs=2, train_size=500))
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    if not tensorflow_before:
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
    success = next(message for message in texts(at.success) if "test accuracy" in message)
    assert any("training process peaked at" in caption for caption in texts(at.caption))
    line_charts = [chart for chart in at.get("vega_lite_chart") if '"type": "line"' in chart.proto.spec]
    assert len(line_charts) >= 2  # loss and accuracy

    monkeypatch.setattr(visitors, "cookie_key", lambda: at.session_state["visitor_key"])  # the browser's key...
    reloaded = open_tab(AppTest.from_file(str(repo / APP), default_timeout=60).run(), "Train")  # ...in a reload
    next(button for button in reloaded.button if button.label.startswith("Make")).click()
    reloaded.run()
    reloaded.run()
    assert Path(reloaded.session_state["active_model"]).name == success.split("**")[1]  # ...using its run's model

    next(button for button in at.button if button.label.startswith("Make")).click()
    at.run()
    trained_dir = Path(at.session_state["active_model"])
    assert trained_dir.name == success.split("**")[1] and tmp_path / "trained" in trained_dir.parents
    card = json.loads((trained_dir / "card.json").read_text())
    assert len(card["history"]["loss"]) == 2
    assert card["peak_memory_mb"] > 300  # the child's memory (TensorFlow) is in the card
    at = open_tab(at, "Model")
    assert not at.exception
    assert at.subheader[0].value.startswith(trained_dir.name)
    assert card["test_accuracy"] > 0.3  # a few hundred images already beat chance (0.1) by far
    at = open_tab(at, "Upload")
    at.file_uploader[0].set_value(("digit.png", png_bytes(number_image(mnist, "1")), "image/png")).run()
    assert not at.exception
    assert [metric.label for metric in at.metric][:1] == ["Number read"]


@pytest.mark.slow
def test_others_see_a_run_in_progress_a_reload_reconnects_and_stop_ends_it(app, repo, monkeypatch):
    owner = run_in_progress(start_training(open_tab(app.run(), "Train"), epochs=10, train_size=5000))
    assert not owner.query_params  # the address carries nothing that would stop the run

    other = open_tab(AppTest.from_file(str(repo / APP), default_timeout=60).run(), "Train")
    assert any("A train run is in progress on this server (epoch" in message for message in texts(other.info))
    assert next(button for button in other.button if button.label == "Start training").disabled
    assert not any(button.label == "Stop training" for button in other.button)

    monkeypatch.setattr(visitors, "cookie_key", lambda: owner.session_state["visitor_key"])  # the owner's browser
    reloaded = run_in_progress(AppTest.from_file(str(repo / APP), default_timeout=60).run())  # opens on Train
    next(button for button in reloaded.button if button.label == "Stop training").click()
    reloaded.run()
    assert any(message.startswith("Stopped after") for message in texts(reloaded.info))
    owner.run()
    assert any(message.startswith("Stopped after") for message in texts(owner.info))
    other.run()
    assert not next(button for button in other.button if button.label == "Start training").disabled
    assert "The other run has ended: you can start yours now." in texts(other.success)
