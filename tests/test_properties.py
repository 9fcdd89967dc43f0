"""Property tests (hypothesis): whatever a caller passes, preprocessing gives MNIST-format images or one ImageError.

The documented contract of digitlib.preprocess: every digit image is (28, 28) float32 with values
in [0, 1]; anything that is not a readable image raises ImageError (a ValueError) with a one-line
message.  No other exception type, no NaN, no out-of-range pixel, whatever the shape, dtype or
values of an array, the mode of a PIL image, or the bytes of a file.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from digitlib.preprocess import ImageError, segment, to_mnist

pytestmark = pytest.mark.timeout(600)
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(),
    hnp.complex_number_dtypes(),
    hnp.byte_string_dtypes(max_len=2),
    st.just(np.dtype(object)),
)
ANY_ARRAY = hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40))


@st.composite
def drawings(draw) -> np.ndarray:
    """Strokes (filled rectangles) of one level on a background of another, in a random dtype and scale:
    arrays that hold something digit-like, so the digit-finding path runs too, not only the "no digit" one."""
    height, width = draw(st.integers(1, 120)), draw(st.integers(1, 120))
    background, ink = draw(st.floats(0, 1)), draw(st.floats(0, 1))
    image = np.full((height, width), background, np.float64)
    for _ in range(draw(st.integers(0, 4))):
        y0, x0 = draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))
        image[y0 : y0 + draw(st.integers(1, height)), x0 : x0 + draw(st.integers(1, 12))] = ink
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    if channels:
        image = np.repeat(image[..., None], channels, axis=2)
    scale, dtype = draw(
        st.sampled_from(
            [(1.0, np.float32), (1.0, np.float64), (255, np.uint8), (255, np.int64), (65535, np.uint16), (1.0, bool)]
        )
    )
    return (image * scale).astype(dtype)


def assert_mnist_format(image: np.ndarray) -> None:
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0


def assert_contract(source) -> None:
    """to_mnist and segment either give valid MNIST-format images with boxes inside the picture, or ImageError."""
    try:
        single = to_mnist(source)
        found = segment(source)
    except ImageError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert_mnist_format(single)
    width, height = found.size
    for piece in found.segments:
        assert_mnist_format(piece.image)
        x0, y0, x1, y1 = piece.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, (piece.box, found.size)


@EXAMPLES
@given(ANY_ARRAY)
def test_any_array_gives_mnist_images_or_an_image_error(array):
    assert_contract(array)


@EXAMPLES
@given(drawings())
def test_any_drawing_gives_mnist_images_or_an_image_error(array):
    assert_contract(array)


MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "I;16", "F", "YCbCr"]


@EXAMPLES
@given(drawings(), st.sampled_from(MODES))
def test_a_pil_image_of_any_mode_gives_mnist_images_or_an_image_error(array, mode):
    grey = np.asarray(array, np.float64)
    grey = grey if grey.ndim == 2 else grey[..., 0]
    assert_contract(Image.fromarray((grey / max(grey.max(), 1) * 255).astype(np.uint8)).convert(mode))


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


GOOD_FILE = png(np.pad(np.full((40, 8), 255, np.uint8), 20))


@EXAMPLES
@given(st.binary(max_size=4096))
def test_any_bytes_give_mnist_images_or_an_image_error(data):
    assert_contract(data)


@EXAMPLES
@given(
    st.lists(st.tuples(st.integers(0, len(GOOD_FILE) - 1), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(1, len(GOOD_FILE)),
)
def test_a_damaged_png_gives_mnist_images_or_an_image_error(changes, length):
    damaged = bytearray(GOOD_FILE)
    for position, value in changes:
        damaged[position] = value
    assert_contract(bytes(damaged[:length]))
