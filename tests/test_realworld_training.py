"""Real pictures for training: the loader on a small constructed folder, and the repository folds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitlib.__main__ import main
from digitlib.data import DataError
from digitlib.evaluation.folds import baseline, format_report, split_repos
from digitlib.preprocess import segment
from digitlib.reading.classifier import model_dir
from digitlib.training.config import TrainConfig
from digitlib.training.realworld_data import ENV_VAR, load_realworld
from digitlib.training.realworld_mix import oversampled

HEADER = "file\tlabel\tkind\trepo\tnotes\n"


def page(draw_ink) -> Image.Image:
    """A white 120x120 page with black ink drawn by ``draw_ink``."""
    picture = Image.new("L", (120, 120), 255)
    draw_ink(ImageDraw.Draw(picture))
    return picture


def one(draw):
    draw.line([(60, 15), (60, 105)], fill=0, width=9)


def zero(draw):
    draw.ellipse([30, 15, 90, 105], outline=0, width=9)


def two_blobs(draw):
    draw.ellipse([5, 40, 45, 80], outline=0, width=7)
    draw.ellipse([75, 40, 115, 80], outline=0, width=7)


@pytest.fixture
def folder(tmp_path):
    """Four usable single digits from three repositories, a blank page, a two-piece picture and a number."""
    root = tmp_path / "realworld"
    pictures = {
        "single/1_a.png": (one, "1", "single", "ann/digits"),
        "single/0_a.png": (zero, "0", "single", "ann/digits"),
        "single/1_b.png": (one, "1", "single", "bob/mnist-app"),
        "single/0_c.png": (zero, "0", "single", "cy/ocr"),
        "single/7_blank.png": (lambda draw: None, "7", "single", "cy/ocr"),
        "single/8_two.png": (two_blobs, "8", "single", "bob/mnist-app"),
        "multi/10_a.png": (two_blobs, "10", "multi", "ann/digits"),
    }
    lines = []
    for name, (draw_ink, label, kind, repo) in pictures.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        page(draw_ink).save(root / name)
        lines.append(f"{name}\t{label}\t{kind}\t{repo}\tdrawn by the test\n")
    (root / "manifest.tsv").write_text(HEADER + "".join(lines))
    return root


def test_single_digits_become_what_the_reader_classifies(folder, tmp_path):
    loaded = load_realworld(folder, cache_dir=None)
    assert loaded.images.shape == (4, 28, 28) and loaded.images.dtype == np.uint8
    assert loaded.files == [
        "single/1_a.png",
        "single/0_a.png",
        "single/1_b.png",
        "single/0_c.png",
    ]
    assert loaded.labels.tolist() == [1, 0, 1, 0]
    assert loaded.groups.tolist() == [
        "ann/digits",
        "ann/digits",
        "bob/mnist-app",
        "cy/ocr",
    ]
    assert loaded.skipped == {
        "no digit found": 1,
        "several pieces found": 1,
        "whole numbers": 1,
    }
    seen = segment(folder / "single/0_c.png").segments[0].image
    assert np.abs(loaded.images[3] / 255.0 - seen).max() <= 0.5 / 255 + 1e-6
    summary = loaded.summary()
    assert (summary["pictures"], summary["repositories"], summary["per_class"]) == (
        4,
        3,
        {"0": 2, "1": 2},
    )
    assert len(summary["manifest_md5"]) == 32
    assert loaded.without(["ann/digits"]).groups.tolist() == ["bob/mnist-app", "cy/ocr"]


def test_a_cached_load_gives_the_same_arrays(folder, tmp_path):
    first = load_realworld(folder, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    again = load_realworld(folder, cache_dir=tmp_path / "cache")
    assert np.array_equal(first.images, again.images) and again.files == first.files
    assert again.skipped == first.skipped and again.manifest_md5 == first.manifest_md5


def test_the_folder_comes_from_the_environment_or_a_clear_error(folder, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(folder))
    assert len(load_realworld(cache_dir=None)) == 4
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(DataError, match="--realworld DIR"):
        load_realworld(cache_dir=None)
    with pytest.raises(DataError, match="does not exist"):
        load_realworld(tmp_path / "nowhere", cache_dir=None)
    with pytest.raises(DataError, match="no manifest.tsv"):
        load_realworld(tmp_path, cache_dir=None)


@pytest.mark.parametrize(
    "manifest, message",
    [
        ("file\tlabel\tkind\n", "missing column"),
        (HEADER + "single/1_a.png\t12\tsingle\tann/digits\t\n", "not a single digit"),
        (HEADER + "single/1_a.png\t1\tdrawing\tann/digits\t\n", "kind must be"),
        (HEADER + "single/1_a.png\t1\tsingle\t\t\n", "no repo"),
        (
            HEADER + "single/missing.png\t1\tsingle\tann/digits\t\n",
            "missing.png not found",
        ),
        (HEADER, "lists no pictures"),
    ],
)
def test_a_bad_manifest_is_named(folder, manifest, message):
    (folder / "manifest.tsv").write_text(manifest)
    with pytest.raises(DataError, match=message):
        load_realworld(folder, cache_dir=None)


def test_copies_repeat_the_pictures_and_labels(folder):
    loaded = load_realworld(folder, cache_dir=None)
    images, labels = oversampled(loaded, 3, vary=False)
    assert images.shape == (12, 28, 28) and labels.tolist() == loaded.labels.tolist() * 3
    assert np.array_equal(images[8:], loaded.images)


def test_repeat_must_be_sensible():
    with pytest.raises(ValueError, match="real-world repeat"):
        TrainConfig(realworld_repeat=0).validate()


def test_folds_keep_repositories_apart_and_cover_all():
    counts = {f"owner{i}/repo": 1 + (i * 7) % 25 for i in range(77)}
    folds = split_repos(counts, 5)
    assert len(folds) == 5 and all(folds)
    dealt = [repo for fold in folds for repo in fold]
    assert sorted(dealt) == sorted(counts) and len(set(dealt)) == len(dealt)
    sizes = [sum(counts[r] for r in fold) for fold in folds]
    assert max(sizes) - min(sizes) <= max(counts.values())
    assert split_repos(dict(reversed(list(counts.items()))), 5) == folds
    with pytest.raises(ValueError, match="folds must be"):
        split_repos(counts, 1)


def test_the_baseline_reads_every_picture_once_across_folds(folder):
    result = baseline("compact", folder, folds=2)
    assert [f["fold"] for f in result["folds"]] == [0, 1]
    assert sorted(r for f in result["folds"] for r in f["repositories"]) == ["ann/digits", "bob/mnist-app", "cy/ocr"]
    assert result["pooled"]["single_count"] == 6 and result["pooled"]["multi_count"] == 1
    assert sum(f["single_count"] for f in result["folds"]) == 6
    failed = {f["file"] for f in result["pooled"]["failures"]}
    assert {"7_blank.png", "8_two.png"} <= failed  # a blank page reads as nothing, two rings as two digits
    report = format_report(result)
    assert "| pooled | 6 |" in report and "7_blank.png 7→nothing" in report


def test_fold_models_each_read_their_own_folds_pictures(folder, tmp_path):
    """`--fold-models ROOT`: fold K is read by ROOT/fold-K alone, as if that model had been scored by itself."""
    root = tmp_path / "folds"
    root.mkdir()
    for index, model in enumerate(("compact", "strong")):
        (root / f"fold-{index}").symlink_to(model_dir(model))
    per_fold = baseline(str(root), folder, folds=2, per_fold=True)["folds"]
    assert per_fold[0] == baseline("compact", folder, folds=2)["folds"][0]
    assert per_fold[1] == baseline("strong", folder, folds=2)["folds"][1]


def test_the_command_line_names_a_missing_folder(tmp_path, capsys):
    assert main(["train", "--realworld", str(tmp_path / "nowhere")]) == 2
    assert "real-world training folder does not exist" in capsys.readouterr().err
    assert main(["realworld-folds", "--realworld", str(tmp_path), "--baseline", "compact"]) == 2
    assert "no manifest.tsv" in capsys.readouterr().err
