"""`evaluate-real` on a small constructed folder laid out like realworld-dev, and the robustness table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from digitlib import load_classifier
from digitlib.__main__ import main
from digitlib.evaluation.realworld import (
    CONDITIONS,
    SIDES,
    SMALL_SIDE,
    cut_off,
    find_cases,
    format_table,
    lit_from_one_side,
    on_a_page,
    robustness_table,
)
from tests.support.digit_pictures import enlarge, in_a_row, one_per_class


def save_ink_on_paper(ink: np.ndarray, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(((1.0 - ink) * 255).astype(np.uint8)).save(path)


@pytest.fixture(scope="module")
def folder(mnist, tmp_path_factory):
    """Three single digits, one of them a blank page labelled 5 (a failure), and two numbers."""
    digits, _ = one_per_class(mnist, load_classifier())
    root = tmp_path_factory.mktemp("realworld")
    save_ink_on_paper(enlarge(digits[3], 4), root / "single" / "3" / "three.png")
    save_ink_on_paper(enlarge(digits[7], 2), root / "single" / "7" / "seven.png")
    save_ink_on_paper(np.zeros((60, 60), np.float32), root / "single" / "5" / "blank.png")
    save_ink_on_paper(in_a_row([enlarge(digits[d], 3) for d in (1, 8)]), root / "multi" / "18__pen.png")
    save_ink_on_paper(in_a_row([digits[d] for d in (6, 0, 2)]), root / "multi" / "602__small.png")
    (root / "multi" / "notes.txt").write_text("not a picture")
    return root


def test_cases_follow_the_folder_layout(folder, tmp_path):
    cases = find_cases(folder)
    assert sorted((c.kind, c.label) for c in cases) == [
        ("multi", "18"),
        ("multi", "602"),
        ("single", "3"),
        ("single", "5"),
        ("single", "7"),
    ]
    with pytest.raises(ValueError, match="no pictures"):
        find_cases(tmp_path)


def test_evaluate_real_cli(folder, tmp_path, capsys):
    gallery = tmp_path / "failures.png"
    assert main(["evaluate-real", str(folder), "--gallery", str(gallery), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["single_count"] == 3 and result["single_accuracy"] == pytest.approx(2 / 3)
    assert result["per_class_accuracy"] == {"3": 1.0, "5": 0.0, "7": 1.0}
    assert (result["multi_exact"], result["multi_count"]) == (2, 2)
    assert [f["label"] for f in result["failures"]] == ["5"] and result["failures"][0]["read"] == ""
    assert Image.open(gallery).size[0] > 100

    assert main(["evaluate-real", str(folder), "--gallery", str(gallery)]) == 0
    text = capsys.readouterr().out
    assert "single-digit accuracy 66.67%" in text and "multi-digit numbers read exactly: 2/2" in text


def test_each_picture_made_small_on_a_plain_page(folder, tmp_path, capsys):
    """--on-a-page N: the picture at most SMALL_SIDE in the middle of a page N times its size, of its border's
    colour; the same folder is read as before, and a page size out of range is refused."""
    picture = np.asarray(Image.open(folder / "single" / "3" / "three.png"))
    page = on_a_page(folder / "single" / "3" / "three.png", 4)
    assert page.shape == (4 * picture.shape[0], 4 * picture.shape[1])
    assert (page[:10] == 255).all() and page.min() == picture.min()
    big = np.asarray(Image.fromarray(picture).resize((3 * SMALL_SIDE, 3 * SMALL_SIDE)))
    Image.fromarray(big).save(tmp_path / "big.png")
    assert max(on_a_page(tmp_path / "big.png", 2).shape) == 2 * SMALL_SIDE
    assert main(["evaluate-real", str(folder), "--on-a-page", "5", "--gallery", str(tmp_path / "g.png"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["per_class_accuracy"] == {"3": 1.0, "5": 0.0, "7": 1.0} and result["multi_exact"] == 2
    with pytest.raises(SystemExit):
        main(["evaluate-real", str(folder), "--on-a-page", "1"])
    assert "from 2 to 10" in capsys.readouterr().err


def test_each_picture_lit_from_one_side(folder, tmp_path, capsys):
    """--lighting-gradient DARKEST: the picture as it was at its left side, DARKEST of its brightness at its right,
    transparency kept; the folder reads as before, and a DARKEST outside (0, 1) is refused."""
    grey = np.full((4, 5), 200, np.uint8)
    assert lit_from_one_side(grey, 0.5)[:, 0].tolist() == [200] * 4 and lit_from_one_side(grey, 0.5)[0, -1] == 100
    rgba = np.full((2, 3, 4), 200, np.uint8)
    assert lit_from_one_side(rgba, 0.25)[0, -1].tolist() == [50, 50, 50, 200]
    command = ["evaluate-real", str(folder), "--gallery", str(tmp_path / "g.png"), "--lighting-gradient", "0.4"]
    assert main([*command, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["per_class_accuracy"] == {"3": 1.0, "5": 0.0, "7": 1.0} and result["multi_exact"] == 2
    assert main(command) == 0
    assert "lit from the left to 40% at the right" in capsys.readouterr().out
    for wrong in ("1", "0", "dark", "nan"):
        with pytest.raises(SystemExit):
            main(["evaluate-real", str(folder), "--lighting-gradient", wrong])
        assert "between 0 and 1" in capsys.readouterr().err


def test_evaluate_real_counts_digit_errors_and_confident_mistakes(mnist, tmp_path, capsys):
    """A clear 3 filed as an 8 and a clear number missing a digit are confident errors; a blank page is not."""
    digits, _ = one_per_class(mnist, load_classifier())
    save_ink_on_paper(enlarge(digits[3], 4), tmp_path / "single" / "8" / "a-clear-three.png")
    save_ink_on_paper(enlarge(digits[4], 4), tmp_path / "single" / "4" / "four.png")
    save_ink_on_paper(np.zeros((60, 60), np.float32), tmp_path / "single" / "5" / "blank.png")
    save_ink_on_paper(in_a_row([enlarge(digits[d], 3) for d in (2, 5)]), tmp_path / "multi" / "295__a-digit-short.png")
    assert main(["evaluate-real", str(tmp_path), "--gallery", str(tmp_path / "g.png"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["multi_exact"] == 0 and result["multi_exact_rate"] == 0.0
    assert result["digit_error_rate"] == pytest.approx(3 / 6)  # misread, missing, dropped 9, over 6 digits
    assert result["confident_errors"] == 2
    assert {f["label"]: f["read"] for f in result["failures"]} == {"8": "3", "5": "", "295": "25"}
    assert main(["evaluate-real", str(tmp_path), "--gallery", str(tmp_path / "g.png")]) == 0
    text = capsys.readouterr().out
    assert "read exactly: 0/1 (0.0%)" in text and "digit error rate 50.00%" in text
    assert "confident errors (read wrong at 90% or more): 2 of 3 errors" in text


def test_evaluate_real_on_a_folder_without_pictures(tmp_path, capsys):
    assert main(["evaluate-real", str(tmp_path)]) == 2
    assert "no pictures" in capsys.readouterr().err


def test_robustness_table(mnist):
    _, (x_test, y_test) = mnist
    classifier = load_classifier()
    rows = robustness_table([classifier], x_test[:30], y_test[:30])
    assert [r.condition for r in rows] == list(CONDITIONS)
    by_condition = {r.condition: r.accuracy[classifier.name] for r in rows}
    assert by_condition["clean"]["pipeline"] >= 0.9
    assert by_condition["inverted (black on white)"]["pipeline"] >= 0.9
    shifted = by_condition["shifted to a corner of 84x84"]
    assert shifted["naive"] < shifted["pipeline"]
    assert format_table(rows).count("\n") == len(CONDITIONS) + 1


def block() -> np.ndarray:
    """A solid block of ink in rows 4-23 and columns 8-17 of a 28x28 field."""
    image = np.zeros((28, 28), np.float32)
    image[4:24, 8:18] = 1.0
    return image


def ink_box(image: np.ndarray) -> tuple[int, int, int, int]:
    rows, columns = np.flatnonzero((image > 0.2).any(axis=1)), np.flatnonzero((image > 0.2).any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1


@pytest.mark.parametrize(
    ("side", "kept_box", "shape"),
    [
        ("bottom", (4, 18, 8, 18), (18, 28)),  # 30% of 20 rows: 6 rows gone, the picture ends at the cut
        ("top", (0, 14, 8, 18), (18, 28)),
        ("left", (4, 24, 0, 7), (28, 17)),  # 30% of 10 columns: 3 gone
        ("right", (4, 24, 8, 15), (28, 15)),
    ],
)
def test_cut_off_removes_a_share_of_the_ink_at_one_side_and_keeps_the_other_margins(side, kept_box, shape):
    cut = cut_off(block(), side, 0.3)
    assert cut.shape == shape
    assert ink_box(cut) == kept_box


def test_cut_off_leaves_a_blank_picture_alone():
    blank = np.zeros((28, 28), np.float32)
    assert cut_off(blank, "top", 0.2) is blank


def test_robustness_cut_conditions_leave_ink_on_the_cut_side(mnist):
    _, (x_test, _) = mnist
    digit = x_test[0].astype(np.float32) / 255
    rng = np.random.default_rng(0)
    for side in SIDES:
        (picture,) = [make(digit, rng) for name, make in CONDITIONS.items() if f"picture's {side} edge" in name]
        edge = {"top": picture[0], "bottom": picture[-1], "left": picture[:, 0], "right": picture[:, -1]}[side]
        assert edge.max() > 0.2, side
