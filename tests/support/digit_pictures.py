"""Pictures of digits built by the tests: MNIST digits staged like real drawings and photos, and brush strokes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

# Brush strokes of simple digits on a 280x280 canvas, as polylines (x, y): what a user draws with a mouse.
STROKES = {
    1: [[(140, 40), (140, 240)]],
    4: [[(170, 40), (80, 170), (210, 170)], [(170, 40), (170, 250)]],  # two strokes, like most people write it
    5: [[(190, 40), (100, 40)], [(100, 40), (95, 130), (140, 115), (185, 140), (190, 200), (150, 240), (95, 225)]],
    7: [[(70, 50), (210, 50), (120, 250)]],
}


def one_per_class(mnist, classifier) -> tuple[np.ndarray, np.ndarray]:
    """One test digit of each class 0-9 (float, white ink on black) that the model reads surely as it is.

    The tests check that preprocessing keeps a digit readable; a digit the model misreads even in
    MNIST form would test the model instead.
    """
    _, (x_test, y_test) = mnist
    images = x_test[:500].astype(np.float32) / 255.0
    probabilities = classifier.predict_prepared(images)
    sure = (probabilities.argmax(axis=1) == y_test[:500]) & (probabilities.max(axis=1) > 0.99)
    indices = [int(np.flatnonzero(sure & (y_test[:500] == d))[0]) for d in range(10)]
    return images[indices], y_test[indices]


def enlarge(digit: np.ndarray, factor: int) -> np.ndarray:
    return np.clip(ndimage.zoom(digit, factor, order=1), 0.0, 1.0)


def in_a_row(digits: list[np.ndarray], gap: int = 6) -> np.ndarray:
    """Digits side by side on one black strip, bottoms aligned, with a gap between them."""
    height = max(d.shape[0] for d in digits)
    parts = []
    for d in digits:
        padded = np.zeros((height, d.shape[1]), np.float32)
        padded[height - d.shape[0] :] = d
        parts += [padded, np.zeros((height, gap), np.float32)]
    return np.pad(np.hstack(parts[:-1]), 10)


def ink_columns(digit: np.ndarray) -> np.ndarray:
    """The digit's columns from its first ink to its last."""
    columns = np.flatnonzero(digit.max(axis=0) > 0.1)
    return digit[:, columns[0] : columns[-1] + 1]


def touching(left: np.ndarray, right: np.ndarray, overlap: int) -> np.ndarray:
    """Two digits pushed together until their ink overlaps by `overlap` columns: they touch."""
    left, right = ink_columns(left), ink_columns(right)
    width = left.shape[1] + right.shape[1] - overlap
    pair = np.zeros((max(left.shape[0], right.shape[0]), width), np.float32)
    pair[: left.shape[0], : left.shape[1]] = left
    overlapped = pair[: right.shape[0], width - right.shape[1] :]
    overlapped[:] = np.maximum(overlapped, right)
    return np.pad(pair, 10)


def photographed(digit: np.ndarray, seed: int = 0) -> np.ndarray:
    """Dark pen on paper lit from one corner (bright to dim), slightly blurred, with sensor noise: RGB uint8."""
    big = enlarge(digit, 6)
    yy, xx = np.mgrid[0 : big.shape[0], 0 : big.shape[1]] / big.shape[0]
    light = 0.95 - 0.5 * (xx + yy) / 2
    photo = light * (1.0 - 0.75 * big)
    photo = ndimage.gaussian_filter(photo, 1.2) + np.random.default_rng(seed).normal(0, 0.02, photo.shape)
    tinted = np.clip(photo, 0, 1)[..., None] * np.array([1.0, 0.97, 0.9])
    return (tinted * 255).astype(np.uint8)


def brush_drawing(digit: int, width: int = 30, size: int = 280, transparent: bool = False) -> Image.Image:
    """A digit drawn with a round brush: black on white, or black on a transparent canvas (RGBA)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    for line in STROKES[digit]:
        draw.line(line, fill=(0, 0, 0, 255), width=width, joint="curve")
        for x, y in (line[0], line[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=(0, 0, 0, 255))
    return image


def on_paper(
    ink: np.ndarray,
    colour=(0.1, 0.1, 0.12),
    margin: float | tuple[float, float] = 0.5,
    vignette: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A phone photo of `ink` (white on black, [0, 1]) written with a pen of `colour` (RGB in [0, 1]) in the middle
    of a white sheet `margin` of its size wider on every side (or (vertical, horizontal) margins); lit brightest
    at the centre and darker by `vignette` in the corners, slightly blurred, with sensor noise: RGB uint8."""
    height, width = ink.shape
    vertical, horizontal = margin if isinstance(margin, tuple) else (margin, margin)
    top, left = round(vertical * height), round(horizontal * width)
    sheet = np.pad(ink, ((top, top), (left, left)))
    yy, xx = np.mgrid[-1 : 1 : sheet.shape[0] * 1j, -1 : 1 : sheet.shape[1] * 1j]
    light = 0.95 - vignette * (xx**2 + yy**2) / 2
    photo = light[..., None] * (1.0 - sheet[..., None] * (1.0 - np.asarray(colour, np.float64)))
    photo = ndimage.gaussian_filter(photo, (1.0, 1.0, 0)) + np.random.default_rng(seed).normal(0, 0.015, photo.shape)
    return (np.clip(photo, 0, 1) * 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def number_image(mnist, number: str) -> np.ndarray:
    """MNIST test digits side by side, dark ink on white paper, scaled up like a scan."""
    _, (x_test, y_test) = mnist
    digits = [x_test[np.flatnonzero(y_test == int(d))[0]] for d in number]
    gap = np.zeros((28, 10), np.uint8)
    row = np.hstack([part for digit in digits for part in (gap, digit)] + [gap])
    paper = 255 - np.pad(row, 10)
    return np.asarray(Image.fromarray(paper).resize((paper.shape[1] * 4, paper.shape[0] * 4), Image.BILINEAR))


def number_picture(mnist, number: str) -> bytes:
    """MNIST test digits side by side as dark ink on white paper, saved as PNG."""
    _, (x_test, y_test) = mnist
    row = np.hstack([np.pad(x_test[np.flatnonzero(y_test == int(d))[0]], ((12, 12), (6, 6))) for d in number])
    buffer = io.BytesIO()
    Image.fromarray(255 - row).resize((row.shape[1] * 5, row.shape[0] * 5), Image.BILINEAR).save(buffer, "PNG")
    return buffer.getvalue()
