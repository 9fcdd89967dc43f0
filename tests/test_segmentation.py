"""Which ink makes one digit, decided by what the network reads: one kind of difficulty per test.

Each kind comes from real pictures that were misread (a 4 in two strokes read "11", touching digits
read as one, a number on a notebook's ruled line read as nothing, a bold digit cropped tight read as
nothing); the pictures here are built in code, so they test the kind.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from digitlib import load_classifier, read_number
from digitlib.preprocess import ruling
from tests.support.digit_pictures import enlarge, in_a_row, ink_columns, on_paper, one_per_class, touching


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


@pytest.fixture(scope="module")
def digits(mnist, classifier) -> dict[int, np.ndarray]:
    images, labels = one_per_class(mnist, classifier)
    return {int(label): image for image, label in zip(images, labels, strict=True)}


def pen_drawing(strokes: list[list[tuple[int, int]]], width: int = 12) -> np.ndarray:
    """Round-tipped black strokes (polylines) on a white 200x200 page: grey uint8."""
    page = Image.new("L", (200, 200), 255)
    draw = ImageDraw.Draw(page)
    for line in strokes:
        draw.line(line, fill=0, width=width, joint="curve")
        for x, y in (line[0], line[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=0)
    return np.asarray(page)


@pytest.mark.parametrize("stem_top", [60, 75])
def test_a_four_in_two_strokes_that_do_not_touch_is_one_digit(classifier, stem_top):
    """The open angle and the stem side by side, a gap between them, the stem lower: each reads as a 1 alone, but
    taken together they make a 4 far likelier, and the two do not stand on one line as two digits would."""
    four = pen_drawing([[(80, 25), (45, 115), (100, 115)], [(118, stem_top), (118, 185)]])
    assert ndimage.label(four < 128, structure=np.ones((3, 3)))[1] == 2  # two separate strokes
    assert read_number(four, classifier).text == "4"


def test_a_five_whose_flag_stands_apart_is_one_digit(classifier):
    five = pen_drawing(
        [[(60, 45), (55, 100), (90, 90), (115, 115), (110, 160), (80, 175), (50, 165)], [(88, 38), (160, 30)]]
    )
    assert ndimage.label(five < 128, structure=np.ones((3, 3)))[1] == 2
    assert read_number(five, classifier).text == "5"


@pytest.mark.parametrize("flag_end", [(185, 63), (170, 70)])
def test_a_five_whose_long_flag_is_cut_apart_like_touching_digits_is_still_one_digit(classifier, flag_end):
    """The flag, rising to the right well past the body, is a mark wider than tall beside another: it is cut into
    stretches where digits could part.  Read alone it looked like a 2 ("52"); whole, it joins the body."""
    five = pen_drawing(
        [[(55, 80), (50, 125), (80, 117), (100, 140), (96, 180), (70, 195), (45, 185)], [(85, 95), flag_end]]
    )
    assert ndimage.label(five < 128, structure=np.ones((3, 3)))[1] == 2
    assert read_number(five, classifier).text == "5"


def test_a_one_broken_in_three_is_one_digit(classifier):
    """A slanted 1 whose faint pen skipped twice: three short strokes, none above the next enough to be merged by
    position alone; read apart each may look like a 5 or a 2."""
    one = pen_drawing([[(112, 25), (102, 80)], [(100, 92), (90, 140)], [(88, 152), (78, 195)]], width=8)
    assert ndimage.label(one < 128, structure=np.ones((3, 3)))[1] == 3
    assert read_number(one, classifier).text == "1"


def marks(image: np.ndarray) -> int:
    return ndimage.label(image > 0.3, structure=np.ones((3, 3)))[1]


def pushed_together(digits: dict[int, np.ndarray], number: str) -> np.ndarray:
    """The number's digits pushed together, each until it touches the one before, however their sides are shaped."""
    picture = enlarge(digits[int(number[0])], 3)
    for digit in number[1:]:
        right = enlarge(digits[int(digit)], 3)
        for overlap in range(4, 9):
            pair = touching(picture, right, overlap)
            if marks(pair) < marks(picture) + marks(right):
                break
        picture = pair[10:-10, 10:-10]
    return np.pad(picture, 10)


@pytest.mark.parametrize("number", ["427", "753"])
def test_digits_touching_along_a_stroke_are_cut_apart(classifier, digits, number):
    """Digits pushed together until their strokes overlap: where two touch along a stroke no thin neck joins them,
    and the cut is sought where digits of a usual width would part; the network says which cuts make digits."""
    picture = pushed_together(digits, number)
    assert marks(picture) < len(number)  # some of them touch
    assert read_number(picture, classifier).text == number


@pytest.mark.parametrize("number", ["3580", "5830"])
def test_a_number_written_in_one_blob_is_read_digit_by_digit(classifier, digits, number):
    """Every digit touching the next: one mark alone in the picture, but far wider than any one digit, so it is cut
    wherever digits may part, as a mark among others is (a mark alone is otherwise cut only at a clear neck)."""
    picture = pushed_together(digits, number)
    assert marks(picture) == 1
    assert read_number(picture, classifier).text == number


def wide_zero(gap: int) -> np.ndarray:
    """A 0 far wider than tall, slanted, its outline left open by `gap` of its 40 points."""
    turns = np.linspace(0, 2 * np.pi, 40)[gap:]
    return pen_drawing(
        [[(int(100 + 80 * np.cos(a) - 20 * np.sin(a)), int(100 + 40 * np.sin(a))) for a in turns]], width=6
    )


@pytest.mark.parametrize(
    "picture, digit",
    [
        (pen_drawing([[(40, 70), (65, 45), (100, 45), (112, 75), (60, 150), (110, 140), (190, 105)]], width=6), "2"),
        (wide_zero(0), "0"),
        (wide_zero(3), "0"),
    ],
)
def test_a_lone_wide_digit_is_not_cut(classifier, picture, digit):
    """A 2 with a long tail, a wide open 0: alone in the picture a blob is cut only at a clear neck, though its
    halves may each read well (a 6 and a 1) and the whole is wider than its digit usually is."""
    assert read_number(picture, classifier).text == digit


def notebook_photo(digits, where: str, turned: float) -> np.ndarray:
    """A photo of "274" on paper with a dark ruled line under the digits (their feet on it), through them or just
    below them, the photo turned by `turned` degrees so the line runs across rows."""
    strip = in_a_row([enlarge(digits[d], 4) for d in (2, 7, 4)], gap=8)
    photo = on_paper(strip, margin=0.4).astype(np.float32)
    feet = round(0.4 * strip.shape[0]) + strip.shape[0] - 14  # in_a_row pads 10 px; MNIST digits end ~4 px higher
    row = {"under": feet, "through": feet - strip.shape[0] // 3, "near": feet + 6}[where]
    line = np.zeros(photo.shape[:2])
    line[row : row + 3] = 1.0
    photo[ndimage.rotate(line, turned, reshape=False, order=0) > 0.5] *= 0.55
    return photo.astype(np.uint8)


@pytest.mark.parametrize("where", ["under", "through", "near"])
@pytest.mark.parametrize("turned", [0.0, 1.5, -2.5, 5.5, -6.5])
def test_digits_on_and_crossed_by_a_ruled_line(classifier, digits, where, turned):
    assert read_number(notebook_photo(digits, where, turned), classifier).text == "274"


def test_a_turned_line_is_made_level_and_removed():
    mask = np.zeros((120, 300), bool)
    rows = np.round(40 + np.arange(300) * 0.03).astype(int)
    mask[rows, np.arange(300)] = True
    mask[rows + 1, np.arange(300)] = True
    assert ruling.tilt(mask) == pytest.approx(0.03, abs=0.004)
    mask[20:100, 140:146] = True  # a 1 crossing it
    kept = ruling.drop_ruled_lines(mask)
    assert kept[20:100, 140:146].all()  # the stroke stays, where it crosses the line too
    assert not kept[:, :130].any() and not kept[:, 160:].any()


def test_a_tightly_cropped_four_keeps_its_bar_and_stem():
    """In a 28x28 crop a 4's bar and stem run across the whole picture, as lines of squared paper would: one of
    each is no paper."""
    four = np.zeros((28, 28), bool)
    four[15:19, 1:27] = True
    four[3:28, 14:17] = True
    for row in range(3, 15):
        four[row, 13 - row // 2 : 16 - row // 2] = True
    assert ruling.drop_ruled_lines(four).sum() == four.sum()


def test_a_long_foot_is_no_ruled_line(classifier):
    """A 2 whose foot runs on to the picture's edge fills its row as a ruled line would, but it starts within the
    digit: a page's line runs from edge to edge, or on past the writing at both sides."""
    two = pen_drawing([[(30, 70), (55, 45), (85, 45), (95, 75), (40, 150), (195, 150)]], width=6)
    assert read_number(two, classifier).text == "2"


@pytest.mark.parametrize("stub", [0.3, 0.6])
def test_a_ruled_line_beside_a_line_half_gone(digits, stub):
    """The line under the writing shows only from the left edge part of the way (half lost in a shadow, or the
    page's corner): that stub is no digit's ink, so it neither makes the digits seem to reach the edge nor to span
    two lines' height, and the line through the digits is still a ruled line."""
    strip = in_a_row([enlarge(digits[int(d)], 2) for d in "3907"], gap=6) > 0.3
    mask = np.pad(strip, ((20, 50), (10, 10)))
    height, width = mask.shape
    through = 20 + strip.shape[0] // 2
    mask[through : through + 2] = True
    mask[height - 6 : height - 4, : round(stub * width)] = True
    kept = ruling.drop_ruled_lines(mask)
    assert not kept[through : through + 2].all(axis=1).any()  # the line through the digits is gone...
    assert kept[20:through].sum() == strip[: through - 20].sum()  # ...the digits above it untouched


def behind_the_frame(number: np.ndarray, left: np.ndarray) -> np.ndarray:
    """A number with `left` before it, the picture's left side running through `left`'s first column."""
    row = np.zeros((number.shape[0], left.shape[1] + 12), np.float32)
    row[10 : 10 + left.shape[0], : left.shape[1]] = left
    return np.hstack([row, number[:, 4:]])  # the number's own margin trimmed: `left` starts the picture


@pytest.mark.parametrize("cut_off", [0, 3, 5])
def test_ink_cut_by_the_frame_is_read_only_when_sure(classifier, digits, cut_off):
    """The end of the word before a form's field, cut by the picture's side: a fragment the network half reads as
    a digit is left out, while a whole digit at the side is read."""
    number = in_a_row([enlarge(digits[d], 4) for d in (3, 5, 0)])
    whole = ink_columns(enlarge(digits[cut_off], 4))
    fragment = whole[:, round(0.6 * whole.shape[1]) :]  # its right two fifths
    assert read_number(behind_the_frame(number, fragment), classifier).text == "350"
    assert read_number(behind_the_frame(number, whole), classifier).text == f"{cut_off}350"


def test_a_speck_beside_a_digit_is_no_digit(classifier, digits):
    picture = in_a_row([enlarge(digits[7], 4)])
    picture[60:66, 125:131] = 1.0  # a dot a fifth of the digit's height, level with it
    assert read_number(picture, classifier).text == "7"


def test_a_bold_digit_cropped_tight_is_read(classifier, digits):
    """Its strokes cover nearly half the picture and their blurred fringe more: still a digit, not a surface."""
    bold = ndimage.grey_dilation(enlarge(digits[2], 4), footprint=np.ones((9, 9)))
    ys, xs = np.nonzero(bold > 0.3)
    reading = read_number(bold[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], classifier)
    assert reading.text == "2" and not reading.reason


@pytest.mark.parametrize(
    "picture, reason",
    [
        (np.full((60, 60), 255, np.uint8), "no ink"),
        (np.pad(np.full((3, 3), 0, np.uint8), 40, constant_values=255), "no digit-like ink"),
    ],
)
def test_an_empty_reading_says_why(classifier, picture, reason):
    reading = read_number(picture, classifier)
    assert reading.is_empty and reading.reason.startswith(reason)


def test_predict_cli_says_why_nothing_was_read(tmp_path, capsys):
    from digitlib.__main__ import main

    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((60, 60), 255, np.uint8)).save(blank)
    main(["predict", str(blank)])
    assert "no digit found (no ink" in capsys.readouterr().out
