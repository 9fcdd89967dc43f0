"""Digits cut by the picture's edge, made at training time from MNIST digits.

A crop of a form's field, a scanned grid cell or a phone photo taken close often cuts a digit's tail or top off at
the picture's side (42 of realworld-train's 683 single digits touch the picture's edge).  The reader frames the ink
that is left like any other, stretched to the 20x20 box: a shape MNIST, written in a larger field, never shows.
Each copy made here loses a slice of its ink box at one side and is then framed by the reader's own
`to_mnist_digit`, so the network learns what the reader hands it for such a picture.
"""

from __future__ import annotations

import numpy as np

from digitlib.preprocess.mnist_format import to_mnist_digit

INK = 0.2  # a pixel this bright belongs to the digit's box (MNIST's faint anti-aliased fringe does not)
# Slice of the ink box cut off, as a share of its height or width.  Beyond a fifth a cut 7 loses its bar and reads
# as a 1 to a person too: the label would teach a guess.
CUT_SHARE = (0.06, 0.16)
SIDES = ("top", "bottom", "left", "right")


def cut_by_the_edge(image: np.ndarray, side: str, share: float) -> np.ndarray | None:
    """A float MNIST digit (values in [0, 1]) with ``share`` of its ink box cut off at ``side``, framed as the
    reader frames ink; None when too little is left to be a stroke."""
    rows = np.flatnonzero((image >= INK).any(axis=1))
    columns = np.flatnonzero((image >= INK).any(axis=0))
    if not rows.size:
        return None
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    if side in ("top", "bottom"):
        cut = round((bottom - top) * share)
        top, bottom = (top + cut, bottom) if side == "top" else (top, bottom - cut)
    else:
        cut = round((right - left) * share)
        left, right = (left + cut, right) if side == "left" else (left, right - cut)
    return to_mnist_digit(image[top:bottom, left:right])


def edge_cuts(x: np.ndarray, y: np.ndarray, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Copies of ``share`` of the MNIST uint8 images, each cut at a random side, and their labels."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(x), size=round(len(x) * share), replace=False)
    added, labels = [], []
    for index in chosen:
        cut = cut_by_the_edge(x[index].astype(np.float32) / 255, str(rng.choice(SIDES)), rng.uniform(*CUT_SHARE))
        if cut is not None:
            added.append(np.round(cut * 255).astype(np.uint8))
            labels.append(y[index])
    return np.array(added, dtype=np.uint8).reshape(-1, 28, 28), np.array(labels, dtype=y.dtype)
