"""Touching pairs: two digits whose strokes meet, framed as the reader frames one digit, to be doubted as one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitlib.training.config import from_preset
from digitlib.training.touching import NOT_ONE_DIGIT, touching_pair, with_touching_pairs


def ring() -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    cv2.ellipse(image, (14, 14), (6, 9), 0, 0, 360, 1.0, 2)
    return image


def stroke(top: tuple[int, int], bottom: tuple[int, int]) -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    cv2.line(image, top, bottom, 1.0, 2)
    return image


def pieces(image: np.ndarray) -> int:
    count, _ = cv2.connectedComponents((image >= 0.5).astype(np.uint8))
    return count - 1


@pytest.mark.parametrize("seed", range(5))
def test_a_pair_is_one_mark_about_twice_as_wide_as_either_digit(seed):
    pair = touching_pair(ring(), ring(), np.random.default_rng(seed))
    assert pair is not None and pair.shape == (28, 28)
    assert pieces(pair) == 1  # the strokes meet: the reader finds them as one mark
    columns = np.flatnonzero((pair >= 0.5).any(axis=0))
    rows = np.flatnonzero((pair >= 0.5).any(axis=1))
    # a lone ring is 2/3 as wide as it is tall; two side by side are wider than tall
    assert columns[-1] - columns[0] > rows[-1] - rows[0]


def test_two_parallel_slanted_ones_that_slide_into_each_other_are_no_pair():
    slanted = stroke((18, 4), (10, 24))
    assert touching_pair(slanted, slanted, np.random.default_rng(0)) is None


def test_pairs_are_appended_with_the_not_one_digit_label(mnist):
    (x, y), _ = mnist
    x, y = x[:2000], y[:2000]
    more_x, more_y = with_touching_pairs(x, y, seed=0, share=0.05)
    assert np.array_equal(more_x[: len(x)], x) and np.array_equal(more_y[: len(y)], y)
    added = more_y[len(y) :]
    assert 80 <= len(added) <= 100 and set(added.tolist()) == {NOT_ONE_DIGIT}
    assert more_x.dtype == np.uint8 and more_x.shape[1:] == (28, 28)
    assert with_touching_pairs(x, y, share=0.0)[0] is x


def test_a_run_with_pairs_trains_towards_uniform_targets_for_them():
    import tensorflow as tf

    from digitlib.training.train import make_dataset

    cfg = from_preset("fast", touching=0.05, augment=False, batch_size=4)
    images = np.zeros((4, 28, 28), np.uint8)
    _, targets = next(iter(make_dataset(images, np.array([3, NOT_ONE_DIGIT, 0, NOT_ONE_DIGIT]), cfg, False)))
    targets = tf.convert_to_tensor(targets).numpy()
    np.testing.assert_allclose(targets[0], np.eye(10)[3])
    np.testing.assert_allclose(targets[1], np.full(10, 0.1), rtol=1e-6)
    np.testing.assert_allclose(targets[3], np.full(10, 0.1), rtol=1e-6)


def test_the_touching_share_is_checked_before_any_work():
    with pytest.raises(ValueError, match="touching-pairs share"):
        from_preset("compact", touching=0.9).validate()
