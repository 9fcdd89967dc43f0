"""Saliency: the right shape and range, concentrated on the strokes, ranking pixels by how much they matter.
Feature maps: every conv and pooling layer of the shipped models, in the Keras model's order and shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitlib import load_classifier
from digitlib.inside.explain import channel_grid, feature_maps, first_layer_filters, network_path, overlay, saliency
from tests.support.digit_pictures import brush_drawing


@pytest.fixture(scope="module")
def explained(tiny_classifier, sure_digits) -> list[tuple[np.ndarray, int, np.ndarray]]:
    """(image uint8, digit, saliency) for one surely-read test digit per class."""
    return [(image, digit, saliency(tiny_classifier, image)) for image, digit in sure_digits]


def test_saliency_is_a_28x28_map_in_unit_range(explained):
    for _, digit, heat in explained:
        assert heat.shape == (28, 28) and heat.dtype == np.float32, digit
        assert heat.min() >= 0 and heat.max() == pytest.approx(1.0), digit


def test_saliency_concentrates_on_the_strokes(explained):
    for image, digit, heat in explained:
        ink, empty = image > 76, image == 0
        border = np.zeros((28, 28), bool)
        border[:3], border[-3:], border[:, :3], border[:, -3:] = True, True, True, True
        assert heat[ink].mean() > 3 * heat[empty].mean(), digit
        assert heat[ink].mean() > heat[border & empty].mean() + 0.1, digit


def test_blanking_the_most_salient_ink_costs_more_than_blanking_the_least(tiny_classifier, explained):
    for image, digit, heat in explained:
        ink = np.flatnonzero(image.ravel() > 76)
        by_saliency = ink[np.argsort(heat.ravel()[ink])]
        fifth = max(1, len(ink) // 5)
        versions = np.repeat(image[None].astype(np.float32) / 255, 2, axis=0).reshape(2, -1)
        versions[0, by_saliency[-fifth:]] = 0  # the most salient fifth of the ink removed
        versions[1, by_saliency[:fifth]] = 0  # the least salient fifth removed
        probabilities = tiny_classifier.predict_prepared(versions.reshape(2, 28, 28))[:, digit]
        assert probabilities[0] < probabilities[1], digit


def test_uint8_and_float_inputs_agree_and_a_chosen_digit_can_be_explained(tiny_classifier, sure_digits):
    image, digit = sure_digits[3]
    heat = saliency(tiny_classifier, image)
    assert np.allclose(heat, saliency(tiny_classifier, image.astype(np.float32) / 255), atol=1e-5)
    other = saliency(tiny_classifier, image, digit=(digit + 1) % 10)
    assert other.shape == (28, 28) and not np.allclose(other, heat)


def test_an_empty_image_explains_nothing(tiny_classifier):
    assert not saliency(tiny_classifier, np.zeros((28, 28), np.float32)).any()


@pytest.mark.parametrize(
    ("image", "digit", "problem"),
    [(np.zeros((20, 28)), None, "shape"), (np.full((28, 28), np.nan), None, "NaN"), (np.zeros((28, 28)), 10, "0-9")],
)
def test_bad_input_is_refused(tiny_classifier, image, digit, problem):
    with pytest.raises(ValueError, match=problem):
        saliency(tiny_classifier, image, digit=digit)


def test_overlay_paints_heat_over_a_grey_digit(explained):
    image, _, heat = explained[0]
    picture = overlay(image, heat, scale=6)
    assert picture.shape == (168, 168, 3) and picture.dtype == np.uint8
    cold = np.argwhere(heat == 0)[0] * 6
    r, g, b = picture[cold[0], cold[1]].astype(int)
    assert r == g == b  # no heat: just the grey image
    hot = np.argwhere(heat == 1)[0] * 6
    r, g, b = picture[hot[0], hot[1]].astype(int)
    assert max(r, g, b) - min(r, g, b) > 60  # full heat: a strong colour
    assert np.array_equal(overlay(image, heat, scale=1), picture[::6, ::6])


def test_saliency_runs_without_tensorflow(tiny_run, sure_digits):
    image, _ = sure_digits[0]
    assert not imports_tensorflow(
        "from digitlib.inside.explain import saliency\n"
        f"heat = saliency(load_classifier({str(tiny_run.directory)!r}), np.array({image.tolist()}, np.uint8))\n"
        "assert heat.max() == 1.0\n"
    )


def imports_tensorflow(code: str) -> bool:
    """Whether ``code`` (run in a fresh process, with NumPy and load_classifier imported) imported TensorFlow."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, numpy as np\nfrom digitlib import load_classifier\n"
            f"{code}print('tensorflow' in sys.modules)\n",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "True"


# ---------------------------------------------------------------- feature maps and first-layer filters

SHIPPED = ["compact", "strong", "baseline"]

KERAS_LAYERS = """
import json, sys
import keras
report = {}
for directory in sys.argv[1:]:
    model = keras.saving.load_model(directory + "/model.keras", compile=False)
    layers = [(layer.name, list(layer.output.shape[1:])) for layer in model.layers
              if type(layer).__name__ in ("Conv2D", "MaxPooling2D")]
    first = next(layer for layer in model.layers if type(layer).__name__ == "Conv2D")
    report[directory] = {"layers": layers, "kernel": first.kernel.numpy().tolist(),
                         "has_batch_norm": any(type(l).__name__ == "BatchNormalization" for l in model.layers)}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def keras_layers(repo) -> dict:
    """Per shipped model: the Keras conv and pooling layers' (name, output shape), the first kernel; read in a
    child process, so this process never imports TensorFlow."""
    directories = [str(repo / "models" / name) for name in SHIPPED]
    done = subprocess.run(
        [sys.executable, "-c", KERAS_LAYERS, *directories], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {Path(directory).name: facts for directory, facts in report.items()}


@pytest.fixture(scope="module")
def drawn_digit() -> np.ndarray:
    """A brush-drawn 4 as the pipeline hands it to the network."""
    from digitlib.preprocess import to_mnist

    return to_mnist(brush_drawing(4))


@pytest.mark.parametrize("name", SHIPPED)
def test_feature_maps_follow_the_keras_layers_in_order_and_shape(name, keras_layers, drawn_digit):
    maps = feature_maps(load_classifier(name), drawn_digit)
    assert [(layer, list(activation.shape)) for layer, activation in maps] == [
        (layer, shape) for layer, shape in keras_layers[name]["layers"]
    ]
    assert all(activation.dtype == np.float32 for _, activation in maps)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_drawn_digit_lights_up_every_layer(name, drawn_digit):
    for layer, activation in feature_maps(load_classifier(name), drawn_digit):
        assert (activation > 0).any(), layer
        assert (activation >= 0).all(), layer  # every shown conv ends in ReLU; pooling keeps the sign
    blank = feature_maps(load_classifier(name), np.zeros((28, 28), np.float32))
    assert not all(np.allclose(a, b) for (_, a), (_, b) in zip(blank, feature_maps(load_classifier(name), drawn_digit)))


@pytest.mark.parametrize("name", SHIPPED)
def test_the_path_ends_in_the_classifiers_own_probabilities(name, drawn_digit):
    clf = load_classifier(name)
    path = network_path(clf, drawn_digit)
    assert [stage.kind for stage in path][-2:] == ["dense", "output"]
    assert path[-2].activation.shape == (10,)
    assert np.allclose(path[-1].activation, clf.predict_prepared(drawn_digit[None])[0], atol=1e-5)
    assert int(path[-1].activation.argmax()) == 4


@pytest.mark.parametrize("name", SHIPPED)
def test_first_layer_filters_have_the_keras_kernel_shape(name, keras_layers):
    filters = first_layer_filters(load_classifier(name))
    kernel = np.array(keras_layers[name]["kernel"], np.float32)
    assert filters.shape == kernel.shape == (3, 3, 1, 32)
    if keras_layers[name]["has_batch_norm"]:  # folded in: each filter scaled by its channel's normalisation
        ratios = (filters / np.where(kernel == 0, np.nan, kernel)).reshape(-1, 32)
        assert np.nanmax(np.abs(ratios - np.nanmedian(ratios, axis=0)), axis=0).max() < 1e-3
    else:
        assert np.allclose(filters, kernel, atol=1e-6)


def test_without_model_keras_the_layers_get_plain_names(tmp_path, drawn_digit, repo):
    (tmp_path / "model.tflite").write_bytes((repo / "models" / "compact" / "model.tflite").read_bytes())
    maps = feature_maps(load_classifier(tmp_path), drawn_digit)
    assert [layer for layer, _ in maps] == ["conv 1", "pool 1", "conv 2", "pool 2", "conv 3"]


def test_channel_grid_puts_the_strongest_channel_first_on_one_scale():
    maps = np.zeros((5, 5, 3), np.float32)
    maps[..., 0], maps[2, 2, 1], maps[1, 1, 2] = 0.2, 1.0, 0.5  # a faint glow all over; a strong spot; a weaker one
    grid, order = channel_grid(maps, columns=2, scale=3, gap=1)
    assert order == [1, 2, 0]
    assert grid.shape == (2 * 15 + 1, 2 * 15 + 1, 3) and grid.dtype == np.uint8
    strong_spot, weak_spot = grid[7, 7], grid[4, 16 + 4]
    assert strong_spot.sum() > weak_spot.sum() > grid[0, 0].sum()  # one scale: the weaker spot is dimmer
    assert (grid[:, 15] == 255).all()  # the gap between the tiles
    assert channel_grid(maps, limit=1)[1] == [1]
    assert channel_grid(maps, order=[0, 2])[1] == [0, 2]
    filters, _ = channel_grid(np.array([[[-1.0, 0.0, 1.0]]]), scale=1, order=[0, 1, 2], signed=True, gap=1)
    blue, white, red = filters[0, 0], filters[0, 2], filters[0, 4]
    assert blue[2] > blue[0] and red[0] > red[2] and white.min() > 230


def test_feature_maps_refuse_a_bad_image():
    with pytest.raises(ValueError, match="shape"):
        feature_maps(load_classifier("compact"), np.zeros((28, 27)))


def test_feature_maps_run_without_tensorflow(drawn_digit):
    assert not imports_tensorflow(
        "from digitlib.inside.explain import feature_maps, first_layer_filters\n"
        "clf = load_classifier('compact')\n"
        f"maps = feature_maps(clf, np.array({drawn_digit.tolist()}, np.float32))\n"
        "assert len(maps) == 5 and first_layer_filters(clf).shape == (3, 3, 1, 32)\n"
    )


def test_skipping_blank_patches_gives_the_map_every_patch_gives_in_small_runs(mnist, monkeypatch):
    """Only inked patches go through the network, in runs the one-image interpreter takes (a padded batch of
    256 costs ~0.1 s whatever its size); the map equals blanking every patch position."""
    from digitlib import load_classifier
    from digitlib.inside.explain import PATCH, patch_corners
    from digitlib.reading.classifier import FEW_IMAGES

    classifier = load_classifier()
    _, (x_test, _) = mnist
    calls = []
    original = classifier.predict_prepared

    def counted(images):
        calls.append(len(images))
        return original(images)

    monkeypatch.setattr(classifier, "predict_prepared", counted)  # the loaded model is shared: put it back after
    for image in x_test[:5]:
        calls.clear()
        heat = saliency(classifier, image)
        unit = image.astype(np.float32) / 255
        corners = patch_corners()
        every = np.repeat(unit[None], len(corners) + 1, axis=0)
        for i, (top, left) in enumerate(corners, start=1):
            every[i, top : top + PATCH, left : left + PATCH] = 0
        probabilities = original(every)
        target = probabilities[0].argmax()
        total, cover = np.zeros((28, 28)), np.zeros((28, 28))
        for drop, (top, left) in zip(np.maximum(probabilities[0, target] - probabilities[1:, target], 0), corners):
            total[top : top + PATCH, left : left + PATCH] += drop
            cover[top : top + PATCH, left : left + PATCH] += 1
        assert np.allclose(heat, total / cover / (total / cover).max(), atol=1e-5)
        inked = sum(unit[top : top + PATCH, left : left + PATCH].any() for top, left in corners)
        assert sum(calls) == inked + 1 < len(corners) and max(calls) <= FEW_IMAGES
