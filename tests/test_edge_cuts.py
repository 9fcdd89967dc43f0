"""Digits cut by the picture's edge, as training copies."""

from __future__ import annotations

import numpy as np

from digitlib.training.edge_cuts import SIDES, cut_by_the_edge, edge_cuts


def test_a_cut_digit_is_framed_as_the_reader_frames_ink(mnist):
    (x, _), _ = mnist
    digit = x[0].astype(np.float32) / 255
    for side in SIDES:
        framed = cut_by_the_edge(digit, side, 0.15)
        rows, columns = np.flatnonzero((framed > 0.2).any(axis=1)), np.flatnonzero((framed > 0.2).any(axis=0))
        assert framed.shape == (28, 28) and max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 >= 16
        assert not np.allclose(framed, cut_by_the_edge(digit, side, 0.0))  # the cut changed the shape


def test_edge_cuts_copy_a_share_of_the_digits_with_their_labels(mnist):
    (x, y), _ = mnist
    x, y = x[:1000], y[:1000]
    cut_x, cut_y = edge_cuts(x, y, 0.2, seed=3)
    assert 190 <= len(cut_x) == len(cut_y) <= 200 and cut_x.dtype == np.uint8 and cut_x.shape[1:] == (28, 28)
    assert set(cut_y.tolist()) == set(range(10))
    again_x, again_y = edge_cuts(x, y, 0.2, seed=3)
    assert np.array_equal(again_x, cut_x) and np.array_equal(again_y, cut_y)
    assert len(edge_cuts(x, y, 0.0)[0]) == 0


def test_train_cli_rejects_a_nonsense_edge_cut_share(tmp_path, capsys):
    from digitlib.__main__ import main

    assert main(["train", "--edge-cuts", "2", "--out", str(tmp_path / "never")]) == 2
    assert "edge-cut share must be in [0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
