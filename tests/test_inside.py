"""The Inside tab (layers, playground, model comparison) through AppTest, the playground's changes, and the Model
tab's downloads."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import streamlit as st
from scipy import ndimage
from streamlit.testing.v1 import AppTest

from digitlib import load_classifier
from digitlib.inside.explain import feature_maps, network_path
from digitlib.inside.playground import CHANGES, RESOLUTION, changed_picture, read_both_ways, strengths, sweep
from digitlib.preprocess import to_mnist
from tests.support.apptest import open_tab, texts
from tests.support.digit_pictures import brush_drawing, png_bytes


@pytest.fixture(scope="module")
def drawn_four() -> np.ndarray:
    """A brush-drawn 4 as the Draw tab leaves it in session state: the pipeline's 28x28 float image."""
    return to_mnist(brush_drawing(4))


def inside(app: AppTest, digit: np.ndarray | None = None) -> AppTest:
    at = app.run()
    if digit is not None:
        at.session_state["drawn_digits"] = ("?", [digit])
    return open_tab(at, "Inside")


def layer_headings(at: AppTest) -> list[str]:
    """The layer names of the Layers view, in the order shown (headings read '**name** · kind · shape')."""
    return [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**") and " · " in m.value]


# ---------------------------------------------------------------- the playground's changes


def test_unchanged_picture_is_the_digit_at_four_times_the_size(drawn_four):
    picture = changed_picture(drawn_four, {})
    assert picture.shape == (28 * RESOLUTION, 28 * RESOLUTION) and picture.dtype == np.float32
    assert np.allclose(picture, np.clip(ndimage.zoom(drawn_four, RESOLUTION, order=1), 0, 1), atol=1e-5)
    reads = read_both_ways(load_classifier("compact"), picture)
    assert reads.naive_probabilities.argmax() == reads.pipeline_probabilities.argmax() == 4


def test_rotation_is_clockwise_and_scale_shrinks_about_the_centre():
    dot = np.zeros((28, 28), np.float32)
    dot[4:8, 12:16] = 1.0  # at the top, centred
    turned = changed_picture(dot, {"rotate": 90})
    row, column = ndimage.center_of_mass(turned)
    assert abs(row - 55.5) < 3 and column > 80  # clockwise: the top comes round to the right
    small = changed_picture(dot, {"scale": 0.5})
    assert 30 < ndimage.center_of_mass(small)[0] < 40 and small.sum() < 0.3 * changed_picture(dot, {}).sum()


def test_shift_adds_empty_canvas_so_the_digit_stays_whole(drawn_four):
    shifted = changed_picture(drawn_four, {"shift": 28})
    assert shifted.shape == (56 * RESOLUTION, 56 * RESOLUTION)
    assert np.array_equal(shifted[28 * RESOLUTION :, 28 * RESOLUTION :], changed_picture(drawn_four, {}))
    assert not shifted[: 28 * RESOLUTION].any()


def test_thickness_blur_and_noise_change_the_strokes_as_named(drawn_four):
    plain = changed_picture(drawn_four, {})
    assert changed_picture(drawn_four, {"thickness": 1}).sum() > 1.3 * plain.sum()
    assert changed_picture(drawn_four, {"thickness": -0.5}).sum() < 0.8 * plain.sum()
    blurred = changed_picture(drawn_four, {"blur": 2})
    assert blurred.max() < plain.max() and (blurred > 0.05).sum() > (plain > 0.05).sum()
    noisy = changed_picture(drawn_four, {"noise": 0.3})
    assert np.array_equal(noisy, changed_picture(drawn_four, {"noise": 0.3}))  # same seed, same noise
    assert not np.array_equal(noisy, changed_picture(drawn_four, {"noise": 0.3}, seed=1))
    assert np.abs(noisy - plain)[plain == 0].mean() > 0.05


@pytest.mark.parametrize(("settings", "problem"), [({"twist": 3}, "unknown change"), ({"scale": 0}, "positive")])
def test_nonsense_changes_are_refused(drawn_four, settings, problem):
    with pytest.raises(ValueError, match=problem):
        changed_picture(drawn_four, settings)


def test_a_digit_moved_off_centre_defeats_the_naive_demo_not_the_pipeline(drawn_four):
    """The robustness table's first lesson, for one digit: the curve has one point per slider position."""
    table = sweep(load_classifier("compact"), drawn_four, {}, "shift", 4)
    assert table["strength"] == list(strengths("shift")) and table["strength"][0] == CHANGES["shift"].low
    assert len(table["naive"]) == len(table["pipeline"]) == len(table["strength"])
    assert table["naive"][0] > 0.9 and table["pipeline"][0] > 0.9
    assert table["naive"][-1] < 0.2 < 0.9 < table["pipeline"][-1]
    with pytest.raises(ValueError, match="0-9"):
        sweep(load_classifier("compact"), drawn_four, {}, "shift", 12)


# ---------------------------------------------------------------- the Inside tab: layers


def test_without_a_drawing_a_typed_digit_is_followed_through_every_layer(app):
    at = inside(app)
    assert not at.exception, at.exception
    assert at.radio(key="inside_source").value == "A typed digit"
    typed = load_classifier()  # the app shows the default model
    path = network_path(typed, np.zeros((28, 28)))
    assert layer_headings(at) == ["input", *(stage.name for stage in path)]
    assert [stage.kind for stage in path][-2:] == ["dense", "output"] and path[-1].name == "softmax"
    captions = texts(at.caption)
    assert any("learned filters slide over the 28x28 input" in c for c in captions)
    assert any("strongest response in every 2x2 block" in c for c in captions)
    assert any("probabilities that add up to 1" in c for c in captions)
    assert any("3x3 weights" in c for c in captions)  # the first layer's filters


def test_the_drawing_from_the_draw_tab_is_shown_by_default_for_the_active_model(app, drawn_four):
    at = inside(app, drawn_four)
    assert not at.exception, at.exception
    assert at.radio(key="inside_source").value == "Your drawing"
    picker = at.sidebar.selectbox[0]
    at = picker.select(next(option for option in picker.options if option.startswith("strong"))).run()
    assert not at.exception, at.exception
    names = [name for name, _ in feature_maps(load_classifier("strong"), drawn_four)]
    assert layer_headings(at) == ["input", *names, "dense", "dense_1", "softmax"]


def test_your_drawing_without_one_says_where_to_draw(app):
    at = inside(app)
    at.radio(key="inside_source").set_value("Your drawing").run()
    assert not at.exception
    assert any("Draw a digit on the Draw tab" in message for message in texts(at.info))
    assert not layer_headings(at)


def test_the_upload_tabs_pictures_are_offered_and_a_bad_one_named(app, mnist):
    at = inside(app)
    at.radio(key="inside_source").set_value("A picture").run()
    assert any("Upload a picture on the Upload tab first" in message for message in texts(at.info))
    _, (x_test, y_test) = mnist
    seven = 255 - np.kron(x_test[np.flatnonzero(y_test == 7)[0]], np.ones((5, 5), np.uint8))  # a scan: dark on white
    at = open_tab(at, "Upload")
    at.file_uploader[0].set_value(
        [("notes.png", b"not a picture", "image/png"), ("seven.png", png_bytes(seven), "image/png")]
    ).run()
    at = open_tab(at, "Inside")
    at.radio(key="inside_source").set_value("A picture").run()
    picker = at.selectbox(key="inside_picture")
    assert list(picker.options) == ["notes.png", "seven.png"]  # the Upload tab's, kept for Inside
    at.selectbox(key="inside_picture").select_index(0).run()
    assert not at.exception
    assert [e for e in texts(at.error) if e.startswith("notes.png:")]
    assert not layer_headings(at)
    at.selectbox(key="inside_picture").select_index(1).run()
    assert not at.exception and not at.error
    assert layer_headings(at)[:2] == ["input", "conv2d"]
    probabilities = at.get("vega_lite_chart")[-1].proto.spec
    assert '"probability"' in probabilities


def test_a_drawn_number_says_which_of_its_digits_is_shown(app, drawn_four):
    at = app.run()
    at.session_state["drawn_digits"] = ("41", [drawn_four, drawn_four[:, ::-1].copy()])
    at = open_tab(at, "Inside")
    chooser = at.get("button_group")[0]
    assert chooser.proto.label == "Your drawing reads 41: which digit?"
    assert layer_headings(at)[:1] == ["input"]


def test_layers_are_computed_once_per_digit_and_model(app, drawn_four, monkeypatch):
    import digitlib.app.inside as inside_module

    calls = []
    real = inside_module.network_path
    monkeypatch.setattr(inside_module, "network_path", lambda clf, image: calls.append(1) or real(clf, image))
    st.cache_data.clear()
    at = inside(app, drawn_four)
    at.checkbox(key="every_channel").check().run()
    at.checkbox(key="every_channel").uncheck().run()
    assert not at.exception
    assert len(calls) == 1
    at.session_state["drawn_digits"] = ("?", [drawn_four[:, ::-1].copy()])  # a new drawing is computed afresh
    at.run()
    assert len(calls) == 2


# ---------------------------------------------------------------- the Inside tab: playground and comparison


def playground(app: AppTest, digit: np.ndarray) -> AppTest:
    at = inside(app, digit)
    return at.segmented_control(key="inside_view").set_value("Playground").run()


def readings(at: AppTest) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.delta) for metric in at.metric}


def test_the_playground_shows_both_reads_and_where_the_naive_one_breaks(app, drawn_four):
    at = playground(app, drawn_four)
    assert not at.exception, at.exception
    assert next(box for box in at.selectbox if box.label == "The digit it really is").value == 4
    assert readings(at) == {
        "naive resize-and-invert": ("reads 4", "100% sure it is 4"),
        "digitlib's pipeline": ("reads 4", "100% sure it is 4"),
    }
    at.slider(key="play_shift").set_value(56).run()
    assert not at.exception
    naive, pipeline = readings(at)["naive resize-and-invert"], readings(at)["digitlib's pipeline"]
    assert naive[0] != "reads 4" and pipeline[0] == "reads 4"
    chart = [c for c in at.get("vega_lite_chart") if '"type": "line"' in c.proto.spec]
    assert len(chart) == 1 and "off-centre" in chart[0].proto.spec


def test_the_plot_follows_the_chosen_change_and_reset_restores_the_digit(app, drawn_four):
    at = playground(app, drawn_four)
    at.slider(key="play_rotate").set_value(90).run()
    at.selectbox(key="sweep_change").set_value("rotate").run()
    assert not at.exception
    spec = next(c.proto.spec for c in at.get("vega_lite_chart") if '"type": "line"' in c.proto.spec)
    assert "rotate clockwise" in spec
    next(button for button in at.button if button.label == "Reset sliders").click().run()
    assert not at.exception
    assert at.slider(key="play_rotate").value == 0
    assert readings(at)["digitlib's pipeline"][0] == "reads 4"


def test_every_model_reads_the_digit_side_by_side(app, drawn_four, tmp_path, repo):
    trained = tmp_path / "trained"
    shutil.copytree(repo / "models" / "baseline", trained / "my-baseline")
    (trained / "broken").mkdir()
    (trained / "broken" / "model.tflite").write_bytes(b"not a model")
    at = inside(app, drawn_four)
    at.segmented_control(key="inside_view").set_value("Compare models").run()
    assert not at.exception, at.exception
    errors = texts(at.error)
    assert len(errors) == 1 and errors[0].startswith("broken:")
    assert "not a usable LiteRT model" in errors[0]
    table = at.dataframe[0].value
    assert list(table["model"]) == ["baseline", "compact", "strong", "my-baseline"]
    assert list(table["digit"]) == [4] * 4
    assert (table["confidence"] > 0.5).all() and (table["confidence"] <= 1).all()
    assert (table["inference (ms)"] > 0).all()
    assert list(table["parameters"]) == [
        load_classifier(name).card["parameters"] for name in ("baseline", "compact", "strong", "baseline")
    ]
    assert texts(at.main.caption)[-4:] == list(table["model"])
    assert len([c for c in at.get("vega_lite_chart") if '"probability"' in c.proto.spec]) == 4


# ---------------------------------------------------------------- the Model tab's downloads


def test_the_model_tab_offers_its_files_without_showing_server_paths(app, repo):
    at = open_tab(app.run(), "Model")
    assert not at.exception
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == ["Keras model (.keras)", "LiteRT model (.tflite)", "Model card (.json)"]
    shown = " ".join(texts(at.markdown) + texts(at.caption) + [b.proto.label + b.proto.help for b in buttons])
    assert str(repo) not in shown and "/models/" not in shown
