"""The synthetic number benchmark: deterministic pictures that hold the labelled digits, and honest scoring."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from digitlib import load_classifier
from digitlib.__main__ import main
from digitlib.evaluation.evaluate import edit_distance
from digitlib.evaluation.synthetic import (
    CONDITIONS,
    SPACING,
    STROKE,
    Tally,
    compose_line,
    evaluate_synthetic,
    make_sample,
    matched_digits,
)


@pytest.fixture(scope="module")
def test_digits(mnist):
    return mnist[1]


def test_pictures_are_deterministic_per_seed_and_index(test_digits):
    x, y = test_digits
    a, b = make_sample(x, y, 7, 3), make_sample(x, y, 7, 3)
    assert a.label == b.label and a.conditions == b.conditions and np.array_equal(a.image, b.image)
    other = make_sample(x, y, 7, 4)
    assert (other.label, other.image.shape) != (a.label, a.image.shape)
    assert make_sample(x, y, 8, 3).label != a.label


def test_pictures_hold_2_to_10_digits_under_consistent_conditions(test_digits):
    x, y = test_digits
    for index in range(40):
        sample = make_sample(x, y, 0, index)
        assert 2 <= len(sample.label) <= 10 and sample.label.isdigit()
        assert sample.image.dtype == np.uint8 and sample.image.ndim == 3 and sample.image.shape[2] == 3
        assert sum(c in SPACING for c in sample.conditions) == 1 and sum(c in STROKE for c in sample.conditions) == 1
        assert set(sample.conditions) <= set(SPACING) | set(STROKE) | set(CONDITIONS)
        if "light on dark" in sample.conditions:
            assert "paper texture" not in sample.conditions and "ruled lines" not in sample.conditions
        grey = cv2.GaussianBlur(sample.image.mean(axis=2), (0, 0), 1.0)  # no lone noisy pixel counts
        assert np.ptp(grey) > 60  # the ink stands out from its ground


def test_light_on_dark_pictures_have_a_dark_ground(test_digits):
    x, y = test_digits
    dark = make_sample(x, y, 0, 1, ["wide spacing", "normal stroke", "light on dark"])
    light = make_sample(x, y, 0, 1, ["wide spacing", "normal stroke"])
    assert np.median(dark.image) < 80 < np.median(light.image)
    assert dark.label == light.label


def blocks(count: int) -> list[np.ndarray]:
    """Stand-ins for MNIST digits: solid 20x12 blocks, so the line's column profile shows every gap."""
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 8:20] = 255
    return [digit] * count


def ink_runs(line: np.ndarray) -> int:
    columns = line.max(axis=0) > 0.1
    return int(np.count_nonzero(np.diff(np.concatenate([[0], columns.astype(np.int8)])) == 1))


def test_spacing_ranges_from_wide_to_touching():
    rng = np.random.default_rng(0)
    wide = compose_line(blocks(6), ["wide spacing", "normal stroke"], rng)
    touching = compose_line(blocks(6), ["touching", "normal stroke"], rng)
    assert ink_runs(wide) == 6
    assert ink_runs(touching) < 6


def test_edit_distance_counts_misread_dropped_and_extra_digits():
    assert edit_distance("2019", "2019") == 0
    assert edit_distance("2019", "219") == 1
    assert edit_distance("12345678", "0") == 8
    assert edit_distance("796", "7966") == 1
    assert edit_distance("", "12") == 2


def test_tally_rates():
    tally = Tally()
    for label, read, confidence in [("2019", "2019", 0.99), ("2019", "219", 0.95), ("12", "", 0.0), ("7", "1", 0.6)]:
        tally.add(label, read, confidence)
    assert (tally.pictures, tally.exact, tally.confident_errors) == (4, 1, 1)
    assert tally.exact_rate == pytest.approx(1 / 4)
    assert tally.digit_error_rate == pytest.approx(4 / 11)


def test_digits_are_matched_to_labels_only_when_every_digit_was_found():
    class Read:  # the two attributes matched_digits uses
        def __init__(self, *digits):
            self.digits = [type("Digit", (), {"probabilities": np.eye(10)[d]})() for d in digits]

    matched = matched_digits("2019", Read(2, 0, 7, 9))
    assert [label for _, label in matched] == [2, 0, 1, 9]
    assert [int(p.argmax()) for p, _ in matched] == [2, 0, 7, 9]
    assert matched_digits("2019", Read(2, 1, 9)) == []  # "219": which digit went missing is unknown


def test_clean_well_spaced_numbers_are_read_exactly(test_digits):
    """The generator's easiest pictures are plain numbers: the shipped model reads them."""
    x, y = test_digits
    clf = load_classifier()
    from digitlib.reading.reader import read_number

    for index in range(5):
        sample = make_sample(x, y, 0, index, ["wide spacing", "normal stroke"])
        assert read_number(sample.image, clf).text == sample.label


def test_evaluation_is_the_same_whatever_the_count(test_digits):
    x, y = test_digits
    clf = load_classifier()
    seen: dict[int, str] = {}
    evaluation = evaluate_synthetic(clf, x, y, 4, seed=2, on_sample=lambda i, s, text: seen.setdefault(i, s.label))
    assert evaluation.overall.pictures == 4 and sorted(seen) == [0, 1, 2, 3]
    assert [make_sample(x, y, 2, i).label for i in range(4)] == [seen[i] for i in range(4)]
    assert sum(t.pictures for t in evaluation.by_length.values()) == 4
    assert len(evaluation.failures) == 4 - evaluation.overall.exact


def test_evaluate_synthetic_cli(tmp_path, capsys):
    assert (
        main(["evaluate-synthetic", "--count", "3", "--json", "--examples", str(tmp_path), "--example-count", "2"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["overall"]["pictures"] == 3 and result["count"] == 3 and result["seed"] == 0
    assert 0 <= result["overall"]["exact_rate"] <= 1 and result["overall"]["digit_error_rate"] >= 0
    assert 0 <= result["digits_matched"] <= 30 and 0 <= result["digit_ece"] <= 1
    assert len(list(tmp_path.glob("*.png"))) == 2

    assert main(["evaluate-synthetic", "--count", "2"]) == 0
    text = capsys.readouterr().out
    assert "synthetic numbers read exactly" in text and "| all | 2 |" in text
