"""The pictures the speed benchmark reads, made in code so that every run measures the same thing."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def canvas_png() -> bytes:
    """A '4' as drawn on the 280x280 app canvas: black round-capped strokes on transparent RGBA."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    ink = (0, 0, 0, 255)
    draw.line([(170, 40), (70, 170), (215, 170)], fill=ink, width=18, joint="curve")
    draw.line([(170, 40), (172, 250)], fill=ink, width=18)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def photo_jpeg(seed: int = 0) -> bytes:
    """A 1000x1000 phone-photo-like '7': pen on off-white paper, lighting gradient, grain, JPEG."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:1000, 0:1000] / 1000.0
    light = 150 + 80 * (0.6 * xx + 0.4 * (1 - yy))
    paper = np.stack([light * 1.0, light * 0.97, light * 0.9], axis=-1) + rng.normal(0, 6, (1000, 1000, 3))
    image = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.line([(330, 300), (660, 290), (470, 760)], fill=(35, 35, 60), width=22, joint="curve")
    image = image.filter(ImageFilter.GaussianBlur(2))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def canvas_array() -> np.ndarray:
    """The same drawing as the app receives it from st_canvas: an RGBA uint8 array, nothing to decode."""
    return np.asarray(Image.open(io.BytesIO(canvas_png())))


def app_canvas_array() -> np.ndarray:
    """A number '42' on the app's own 640x240 canvas (black 18 px brush on white), as st_canvas gives it."""
    image = Image.new("RGBA", (640, 240), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    ink = (0, 0, 0, 255)
    draw.line([(290, 30), (200, 160), (330, 160)], fill=ink, width=18, joint="curve")
    draw.line([(290, 30), (292, 215)], fill=ink, width=18)
    draw.line([(370, 60), (410, 30), (460, 50), (455, 100), (370, 210), (470, 210)], fill=ink, width=18, joint="curve")
    return np.asarray(image)


CANVAS_PNG = "canvas 280x280 RGBA PNG"
CANVAS_ARRAY = "canvas 280x280 RGBA array (as st_canvas gives it)"
INPUTS: dict[str, Callable[[], bytes | np.ndarray]] = {
    CANVAS_PNG: canvas_png,
    CANVAS_ARRAY: canvas_array,
    "app canvas 640x240 RGBA array, two digits": app_canvas_array,
    "photo 1000x1000 JPEG": photo_jpeg,
}
