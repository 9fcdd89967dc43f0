"""Whole numbers and honest uncertainty through `read_number`, `Classifier.predict` and the predict CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitlib import read_number
from digitlib.__main__ import main
from digitlib.reading.reader import LOW_CONFIDENCE
from tests.support.digit_pictures import brush_drawing, enlarge, in_a_row, one_per_class, photographed, touching


@pytest.fixture(scope="module")
def digits(mnist, classifier):
    return one_per_class(mnist, classifier)[0]


class FixedClassifier:
    """Stands in for a model so the uncertainty logic can be checked with exact probabilities."""

    temperature = 1.0  # the probabilities given are the calibrated ones

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, np.float32)

    def predict_prepared(self, images, calibrated=True):
        return np.repeat(self.probabilities[None], len(images), axis=0)


def test_several_digits_in_a_row(classifier, digits):
    picture = in_a_row([enlarge(digits[d], 4) for d in (2, 0, 1, 9)])
    reading = read_number(picture, classifier)
    assert reading.text == "2019"
    boxes = [d.box for d in reading.digits]
    assert all(a[2] <= b[0] for a, b in zip(boxes, boxes[1:]))  # left to right, not overlapping
    assert reading.confidence == min(d.confidence for d in reading.digits)


def test_digits_of_varying_sizes_on_a_photo(classifier, digits):
    strip = in_a_row([enlarge(digits[4], 5), enlarge(digits[7], 3), enlarge(digits[3], 4)], gap=20)
    photo = photographed(strip[::6, ::6])  # photographed() enlarges 6x again
    assert read_number(photo, classifier).text == "473"


@pytest.mark.parametrize("left, right, overlap", [(4, 7, 3), (3, 8, 4)])
def test_touching_digits_are_cut_apart(classifier, digits, left, right, overlap):
    pair = touching(enlarge(digits[left], 3), enlarge(digits[right], 3), overlap)
    assert ndimage.label(pair > 0.3, structure=np.ones((3, 3)))[1] == 1  # one blob of ink
    reading = read_number(pair, classifier)
    assert reading.text == f"{left}{right}"
    assert reading.digits[0].box[2] <= reading.digits[1].box[2]


@pytest.mark.parametrize("pair", ["13", "19", "15", "42", "86", "70"])
def test_tiny_pictures_holding_two_digits(classifier, digits, pair):
    """28x28 pictures of two squeezed digits, black on white: the one touching the side edge is a digit,
    not a paper edge, and neither is dropped."""
    side_by_side = np.hstack([digits[int(d)][:, 4:24] for d in pair])
    tiny = Image.fromarray((255 - side_by_side * 255).astype(np.uint8)).resize((28, 28), Image.BILINEAR)
    assert read_number(tiny, classifier).text == pair


def test_number_drawn_in_separate_strokes(classifier):
    canvas = Image.new("RGBA", (560, 280), (0, 0, 0, 0))
    canvas.alpha_composite(brush_drawing(5, width=16, transparent=True), (0, 0))
    canvas.alpha_composite(brush_drawing(4, width=16, transparent=True), (280, 0))
    reading = read_number(np.asarray(canvas), classifier)
    assert reading.text == "54"
    assert reading.digits[1].box[0] >= 280


def test_empty_canvas_is_empty(classifier):
    reading = read_number(np.zeros((280, 280, 4), np.uint8), classifier)
    assert reading.is_empty and reading.text == "" and reading.confidence == 0.0 and not reading.low_confidence
    assert list(reading.steps)[:3] == ["upright", "grey", "ink"]


def test_uncertainty_is_reported_with_top3(digits):
    unsure = FixedClassifier([0.05, 0.0, 0.0, 0.45, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0])
    reading = read_number(enlarge(digits[3], 3), unsure)
    assert reading.text == "8" and reading.confidence == pytest.approx(0.5)
    assert reading.low_confidence and 0.5 < LOW_CONFIDENCE
    assert [d for d, _ in reading.digits[0].top3] == [8, 3, 0]
    sure = FixedClassifier(np.eye(10)[3])
    assert not read_number(enlarge(digits[3], 3), sure).low_confidence


def test_a_number_is_not_reduced_to_one_digit(classifier, digits):
    single = read_number(enlarge(digits[6], 3), classifier)
    assert single.digit == 6 and single.text == "6"
    several = read_number(in_a_row([digits[1], digits[2], digits[3]]), classifier)
    assert several.digit is None and several.text == "123"
    assert several.confidence == pytest.approx(min(d.confidence for d in several.digits))
    blank = read_number(np.zeros((50, 50), np.uint8), classifier)
    assert blank.digit is None and blank.text == "" and blank.confidence == 0.0


def test_predict_cli_reports_the_whole_number(digits, tmp_path, capsys):
    path = tmp_path / "number.png"
    Image.fromarray((255 - in_a_row([enlarge(digits[d], 3) for d in (4, 0, 5)]) * 255).astype(np.uint8)).save(path)
    assert main(["predict", str(path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["prediction"] == "405" and [d["digit"] for d in record["digits"]] == [4, 0, 5]
