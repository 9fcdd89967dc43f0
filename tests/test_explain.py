"""Saliency: the right shape and range, concentrated on the strokes, ranking pixels by how much they matter."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from digitlib.explain import overlay, saliency


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
    code = (
        "import sys, numpy as np\n"
        "from digitlib import load_classifier\n"
        "from digitlib.explain import saliency\n"
        f"heat = saliency(load_classifier({str(tiny_run.directory)!r}), np.array({image.tolist()}, np.uint8))\n"
        "assert heat.max() == 1.0\n"
        "print('tensorflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_skipping_blank_patches_gives_the_map_every_patch_gives_in_small_runs(mnist):
    """Only inked patches go through the network, in runs the one-image interpreter takes (a padded batch of
    256 costs ~0.1 s whatever its size); the map equals blanking every patch position."""
    from digitlib import load_classifier
    from digitlib.classifier import FEW_IMAGES
    from digitlib.explain import PATCH, patch_corners

    classifier = load_classifier()
    _, (x_test, _) = mnist
    calls = []
    original = classifier.predict_prepared

    def counted(images):
        calls.append(len(images))
        return original(images)

    classifier.predict_prepared = counted
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
