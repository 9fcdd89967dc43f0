"""Handwriting conventions made by editing MNIST strokes: the intended shape, and the label kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitlib.reading.classifier import load_classifier
from digitlib.training.config import from_preset
from digitlib.training.conventions import (
    CONVENTIONS,
    INK,
    STYLES,
    closed_four,
    continental_one,
    crossed_seven,
    flagged_footed_one,
    has_hole,
    loops,
    mnist_frame,
    open_top_eight,
    straight_nine,
    straight_six,
    style_accuracy,
    with_conventions,
)


def drawn(*strokes: tuple[tuple[int, int], tuple[int, int]], width: int = 2) -> np.ndarray:
    """A 28x28 digit drawn from straight strokes, framed like MNIST."""
    image = np.zeros((28, 28), np.float32)
    for start, end in strokes:
        cv2.line(image, start, end, 1.0, width)
    return mnist_frame(image)


PLAIN_ONE = drawn(((14, 4), (14, 23)))
OPEN_FOUR = drawn(((9, 4), (6, 16)), ((5, 16), (23, 16)), ((18, 4), (18, 24)))
SEVEN = drawn(((6, 5), (21, 5)), ((21, 5), (12, 24)))


def curved_nine() -> np.ndarray:
    """A loop with a tail that bends down to the left, like most of MNIST's 9s."""
    image = np.zeros((28, 28), np.float32)
    cv2.circle(image, (13, 9), 5, 1.0, 2)
    cv2.line(image, (18, 10), (16, 17), 1.0, 2)
    cv2.line(image, (16, 17), (10, 24), 1.0, 2)
    return mnist_frame(image)


def ink_columns(image: np.ndarray, rows: slice) -> np.ndarray:
    return np.flatnonzero((image[rows] >= INK).any(axis=0))


def stem_edge(image: np.ndarray) -> int:
    """The 1's stem's right edge, between the flag's reach and the base (the stem is the rightmost stroke there)."""
    rows = np.flatnonzero((image >= INK).any(axis=1))
    height = rows[-1] - rows[0]
    return int(ink_columns(image, slice(rows[0] + round(0.6 * height), rows[0] + round(0.85 * height))).max())


@pytest.mark.parametrize("seed", range(6))
def test_continental_one_gets_a_flag_falling_left_from_its_top(seed):
    one = continental_one(PLAIN_ONE, np.random.default_rng(seed))
    first = np.flatnonzero((one >= INK).any(axis=1))[0]
    top = slice(first, first + 8)
    assert ink_columns(PLAIN_ONE, top).min() >= stem_edge(PLAIN_ONE) - 3  # a bare stroke...
    assert ink_columns(one, top).min() <= stem_edge(one) - 5  # ...now flagged at the top left
    assert ink_columns(one, slice(first, first + 3)).max() <= stem_edge(one) + 1  # not a 7's bar to the right


def test_continental_one_has_a_base_in_some_variants():
    bases = []
    for seed in range(12):
        one = continental_one(PLAIN_ONE, np.random.default_rng(seed))
        bottom = np.flatnonzero((one >= INK).any(axis=1))[-1]
        columns = ink_columns(one, slice(bottom - 1, bottom + 1))
        bases.append(columns.max() - columns.min() > 6)
    assert any(bases) and not all(bases)


def test_crossed_seven_gets_a_bar_through_its_stem():
    seven = crossed_seven(SEVEN, np.random.default_rng(0))
    middle = slice(11, 17)

    def widest_run(image):
        return max(len(ink_columns(image, slice(r, r + 1))) for r in range(middle.start, middle.stop))

    assert widest_run(SEVEN) <= 4
    assert widest_run(seven) >= 7


def test_closed_four_closes_the_open_top():
    assert not has_hole(OPEN_FOUR)
    four = closed_four(OPEN_FOUR, np.random.default_rng(0))
    assert four is not None and has_hole(four)
    assert closed_four(four, np.random.default_rng(0)) is None  # already closed: nothing to do


def test_straight_nine_hangs_a_vertical_stem_from_its_loop():
    curved = curved_nine()
    nine = straight_nine(curved, np.random.default_rng(0))
    assert nine is not None and has_hole(nine)

    def tail_columns(image):
        rows = np.flatnonzero((image >= INK).any(axis=1))
        return [ink_columns(image, slice(r, r + 1)).mean() for r in range(rows[-1] - 6, rows[-1] + 1)]

    assert np.ptp(tail_columns(curved)) >= 4  # the tail sweeps left...
    assert np.ptp(tail_columns(nine)) <= 1.5  # ...the new stem stands straight


def test_edits_that_do_not_fit_the_shape_are_skipped():
    assert straight_nine(PLAIN_ONE, np.random.default_rng(0)) is None  # no loop
    assert closed_four(PLAIN_ONE, np.random.default_rng(0)) is None  # no open top


def test_with_conventions_appends_edited_copies_with_their_labels(mnist):
    (x, y), _ = mnist
    x, y = x[:3000], y[:3000]
    more_x, more_y = with_conventions(x, y, seed=0)
    assert np.array_equal(more_x[: len(x)], x) and np.array_equal(more_y[: len(y)], y)
    added = more_y[len(y) :]
    assert set(added.tolist()) == set(CONVENTIONS)
    for label, (_, share) in CONVENTIONS.items():
        assert 0.3 * share * (y == label).sum() <= (added == label).sum() <= share * (y == label).sum() + 1
    assert more_x.dtype == np.uint8 and more_x.shape[1:] == (28, 28)


def flag_reach(image: np.ndarray) -> float:
    """How far left of its topmost point the ink reaches in the top 40%."""
    ink = image >= INK
    rows = np.flatnonzero(ink.any(axis=1))
    top, quarter = rows[0], max(2, round(0.4 * (rows[-1] - rows[0])))
    return float(np.flatnonzero(ink[top]).mean() - np.flatnonzero(ink[top : top + quarter].any(axis=0)).min())


def test_mnist_ones_get_their_flag(mnist):
    (x, y), _ = mnist
    rng = np.random.default_rng(0)
    ones = [image.astype(np.float32) / 255 for image in x[y == 1][:50]]
    gained = [flag_reach(continental_one(one, rng)) - flag_reach(mnist_frame(one)) for one in ones]
    assert np.mean(np.array(gained) >= 2) > 0.8  # a few thick-topped 1s hide a short flag in their blob


def test_with_conventions_at_strength_zero_adds_nothing(mnist):
    (x, y), _ = mnist
    more_x, more_y = with_conventions(x[:500], y[:500], strength=0)
    assert len(more_x) == 500 and len(more_y) == 500


def test_shipped_presets_train_with_the_conventions():
    assert from_preset("compact").conventions == 1.0 and from_preset("strong").conventions == 1.0
    assert from_preset("fast").conventions == 0.0
    with pytest.raises(ValueError, match="conventions"):
        from_preset("compact", conventions=5.0).validate()


def test_train_cli_takes_the_conventions_strength(tmp_path, capsys):
    from digitlib.__main__ import main

    assert main(["train", "--conventions", "5", "--out", str(tmp_path / "never")]) == 2
    assert "conventions strength must be in [0, 3]" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def eight() -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    cv2.circle(image, (14, 8), 5, 1.0, 2)
    cv2.circle(image, (14, 19), 6, 1.0, 2)
    return mnist_frame(image)


def round_six() -> np.ndarray:
    """A loop at the bottom with a curved stroke rising from its left to the top right."""
    image = np.zeros((28, 28), np.float32)
    cv2.circle(image, (14, 18), 6, 1.0, 2)
    cv2.ellipse(image, (20, 18), (12, 14), 0, 180, 260, 1.0, 2)
    return mnist_frame(image)


def test_open_top_eight_opens_the_upper_loop_and_keeps_the_lower():
    closed = eight()
    assert len(loops(closed >= INK)) == 2
    for seed in range(4):
        opened = open_top_eight(closed, np.random.default_rng(seed))
        assert opened is not None and len(loops(opened >= INK)) == 1
        lower = loops(opened >= INK)[0]
        assert np.flatnonzero(lower.any(axis=1)).mean() > 14  # the loop left is the lower one
    assert open_top_eight(PLAIN_ONE, np.random.default_rng(0)) is None


def test_straight_six_keeps_its_loop_under_a_straight_stem():
    six = straight_six(round_six(), np.random.default_rng(0))
    assert six is not None and len(loops(six >= INK)) == 1
    rows = np.flatnonzero((six >= INK).any(axis=1))
    upper = [ink_columns(six, slice(r, r + 1)).mean() for r in range(rows[0], rows[0] + 6)]
    assert np.all(np.diff(upper) <= 0.5)  # the stem climbs to the right as it rises: straight, no hook
    assert straight_six(eight(), np.random.default_rng(0)) is None  # two loops: no 6


def test_one_with_flag_and_foot_always_has_its_foot():
    for seed in range(6):
        one = flagged_footed_one(PLAIN_ONE, np.random.default_rng(seed))
        bottom = np.flatnonzero((one >= INK).any(axis=1))[-1]
        columns = ink_columns(one, slice(bottom - 1, bottom + 1))
        assert columns.max() - columns.min() > 6


def test_style_accuracy_reads_each_style_with_the_classifier(mnist):
    _, (x, y) = mnist
    results = style_accuracy(load_classifier(), x[:600], y[:600])
    assert set(results) == set(STYLES)
    assert all(count > 0 and 0.0 <= accuracy <= 1.0 for accuracy, count in results.values())
    assert results["crossed 7"][0] > 0.8  # the shipped model was trained on crossed 7s
