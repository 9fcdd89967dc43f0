"""Straight strokes on the app's own canvas read "1" from a 28x28 image that holds the ink (property tests).

The app's canvas is 640x240, black ink on white (or on a transparent ground), brush 6-40 px, and
st_canvas returns it as an RGBA uint8 array.  A straight stroke taller than half the canvas once
came out as an all-black 28x28 image that was classified anyway (a blank reads "1" at 81%).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from digitlib import read_number
from digitlib.app.draw import BRUSH_RANGE as BRUSHES
from digitlib.app.draw import CANVAS_HEIGHT, CANVAS_WIDTH
from digitlib.preprocess import mnist_format, segment

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def canvas_stroke(
    brush: int, height: int, angle: float, transparent: bool, rounded_by: str, shift: int = 0
) -> np.ndarray:
    """A straight stroke with round caps through the canvas centre, `height` px tall between its end points'
    centres, leaning `angle` degrees: RGBA uint8 as st_canvas returns it."""
    dx, dy = np.sin(np.radians(angle)) * height / 2, np.cos(np.radians(angle)) * height / 2
    cx, cy = CANVAS_WIDTH / 2 + shift, CANVAS_HEIGHT / 2
    start, end = (cx - dx, cy - dy), (cx + dx, cy + dy)
    ground = (0, 0, 0, 0) if transparent else (255, 255, 255, 255)
    if rounded_by == "opencv":  # anti-aliased, round caps
        picture = np.zeros((CANVAS_HEIGHT, CANVAS_WIDTH, 4), np.uint8)
        picture[:] = ground
        cv2.line(
            picture,
            tuple(round(v) for v in start),
            tuple(round(v) for v in end),
            (0, 0, 0, 255),
            brush,
            lineType=cv2.LINE_AA,
        )
        return picture
    image = Image.new("RGBA", (CANVAS_WIDTH, CANVAS_HEIGHT), ground)
    draw = ImageDraw.Draw(image)
    draw.line([start, end], fill=(0, 0, 0, 255), width=brush)
    for x, y in (start, end):
        draw.ellipse((x - brush / 2, y - brush / 2, x + brush / 2, y + brush / 2), fill=(0, 0, 0, 255))
    return np.asarray(image)


@st.composite
def straight_strokes(draw) -> np.ndarray:
    """Any brush of the app, any height from 2.5x the brush to the canvas' height, leaning up to 25 degrees."""
    brush = draw(st.integers(*BRUSHES))
    height = draw(st.integers(round(2.5 * brush), CANVAS_HEIGHT - brush - 4))
    angle = draw(st.floats(-25, 25))
    return canvas_stroke(
        brush,
        height,
        angle,
        draw(st.booleans()),
        draw(st.sampled_from(["pillow", "opencv"])),
        draw(st.integers(-250, 250)),
    )


@EXAMPLES
@given(straight_strokes())
def test_every_straight_stroke_reads_one_from_an_image_holding_ink(classifier, stroke):
    reading = read_number(stroke, classifier)
    assert reading.text == "1"
    image = reading.digits[0].image
    assert image.max() == pytest.approx(1.0) and image.sum() > 10  # a stroke, not a blank or a dot


@pytest.mark.parametrize("brush", [6, 10, 18, 25, 40])
@pytest.mark.parametrize("height_per_brush", [2.5, 4, 8])
@pytest.mark.parametrize("transparent", [False, True])
def test_vertical_strokes_of_every_brush_hold_ink(brush, height_per_brush, transparent):
    """Upright strokes, the case that went blank: the segment's 28x28 image holds a full-strength stroke."""
    height = min(round(height_per_brush * brush), CANVAS_HEIGHT - brush - 4)
    for rounded_by in ("pillow", "opencv"):
        segments = segment(canvas_stroke(brush, height, 0.0, transparent, rounded_by)).segments
        assert len(segments) == 1
        assert segments[0].image.max() == pytest.approx(1.0)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_a_digit_fitted_one_to_three_pixels_wide_keeps_its_ink_when_centred(width):
    """OpenCV's moments take a two-column array for a list of points: centring must still see its ink."""
    bar = np.ones((20, width), np.float32)
    centred = mnist_format.centre_by_mass(bar)
    assert centred.sum() == pytest.approx(bar.sum())
    rows, columns = np.nonzero(centred)
    assert abs(rows.mean() - 13.5) <= 0.5 and abs(columns.mean() - 13.5) <= 0.5


def test_a_mark_whose_image_holds_no_ink_is_never_classified(monkeypatch, classifier):
    """Whatever goes wrong before the 28x28 image is made, a blank image is dropped, not read."""
    stroke = canvas_stroke(18, 150, 10.0, False, "pillow")
    assert read_number(stroke, classifier).text == "1"
    monkeypatch.setattr(mnist_format, "fit_box", lambda detail: np.zeros((20, 4), np.float32))
    reading = read_number(stroke, classifier)
    assert reading.is_empty and reading.text == ""
