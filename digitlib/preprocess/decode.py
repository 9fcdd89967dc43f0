"""Stage 1, decoding: any source (path, bytes, file, PIL image, array) to an upright picture of bounded size.

Input limits live here: a file over MAX_BYTES or an image over MAX_PIXELS is refused before it is
decoded (decompression bombs), and everything larger than MAX_SIDE is shrunk before any other work.
Every unreadable input raises `ImageError` with a one-line reason.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

MAX_SIDE = 1024  # photos are reduced to this first: digits stay >100 px tall, work stays fast
MAX_PIXELS = 50_000_000  # decoded pixels per picture (a 48 MP phone photo fits); more is refused before decoding
MAX_BYTES = 50 * 2**20  # bytes per image file: a bigger file is refused before it is read


class ImageError(ValueError):
    """The input is not an image we can read; the message says why in one line."""


def open_image(source) -> tuple[Image.Image, tuple[int, int]]:
    """Open a path, bytes, file-like or PIL image, upright (EXIF orientation); also its full upright size.

    Only the first frame of an animation or page of a TIFF is read.  JPEGs much larger than
    MAX_SIDE are decoded at reduced size (Pillow's draft mode); anything whose decoded size
    would still exceed MAX_PIXELS is refused before decoding (decompression bombs).
    """
    if isinstance(source, Image.Image):
        image = source
    else:
        data = encoded_bytes(source)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS decides, below
                image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise ImageError(f"image is too large (limit {MAX_PIXELS:,} pixels)") from None
        except Exception:  # noqa: BLE001 - Pillow raises many types for what it can't identify
            raise ImageError(unsupported_format(data) or f"not a readable image: {FORMATS_READ}, or damaged") from None
    size = image.size
    try:
        image.draft(image.mode, (MAX_SIDE, MAX_SIDE))
        if image.width * image.height > MAX_PIXELS:
            raise ImageError(f"image of {size[0]}x{size[1]} pixels is too large (limit {MAX_PIXELS:,} pixels)")
        image.load()
        decoded = image.size
        if image is source:  # the caller's image is turned on a copy, never changed
            image = ImageOps.exif_transpose(image)
        else:  # in place: a copy of the picture would cost as much as decoding it
            ImageOps.exif_transpose(image, in_place=True)
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated and corrupt files fail only when decoded
        raise ImageError(f"not a readable image: damaged or cut short ({exc})".splitlines()[0]) from None
    turned = image.size != decoded
    return image, (size[1], size[0]) if turned else size


FORMATS_READ = "expected PNG, JPEG, WebP, GIF, BMP or TIFF"


def encoded_bytes(source) -> bytes:
    """The file behind a path, bytes or file-like object; refused when empty or over MAX_BYTES."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{path}: file not found")
        if path.stat().st_size > MAX_BYTES:
            raise ImageError(f"{path}: file is too large (limit {MAX_BYTES // 2**20} MB)")
        data = path.read_bytes()
    elif hasattr(source, "read"):
        data = source.read(MAX_BYTES + 1)
    else:
        raise ImageError(
            f"{type(source).__name__} is not an image: pass a path, bytes, a file, a PIL image or an array"
        )
    if not data:
        raise ImageError("the file is empty (0 bytes)")
    if len(data) > MAX_BYTES:
        raise ImageError(f"file is too large (limit {MAX_BYTES // 2**20} MB)")
    return data


def unsupported_format(data: bytes) -> str | None:
    """What to tell someone who uploads a format people often mistake for an image file Pillow reads."""
    start = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"%pdf"):
        return "PDF is not supported: export the page as PNG or JPEG"
    if start.startswith((b"<?xml", b"<svg", b"<!doctype svg")) and b"<svg" in start:
        return "SVG is not supported: export it as PNG"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"mif1"):
        return "HEIC photos are not supported: export the photo as JPEG"
    return None


Picture = np.ndarray  # 8-bit content as uint8 HxW, HxWx3 or HxWx4 (cheap to shrink), the rest float32 in [0, 1]
UINT8_CHANNELS = ((), (3,), (4,))  # the uint8 layouts kept as they are: grey, RGB, RGBA


def upright_picture(image: Image.Image) -> Picture:
    """A decoded image at most MAX_SIDE: uint8 grey, RGB or RGBA pixels, or float32 for 16-bit and float modes.

    8-bit images larger than MAX_SIDE are reduced by Pillow (box filter, fast) before any array
    of a huge photo exists.
    """
    if image.mode.startswith("I;16"):  # 16-bit greyscale: 0-65535 whatever its brightest pixel
        return reduce_size(np.asarray(image).astype(np.float32) * np.float32(1 / 65535))
    if image.mode in ("I", "F"):
        return reduce_size(array_pixels(np.asarray(image)))
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    mode = "RGBA" if has_alpha else "L" if image.mode in ("1", "L") else "RGB"
    image = image if image.mode == mode else image.convert(mode)
    factor = -(-max(image.size) // MAX_SIDE)
    return np.asarray(image.reduce(factor) if factor > 1 else image)


def array_pixels(array: np.ndarray) -> np.ndarray:
    """Validate a numpy image (HxW, HxWx1|2|3|4; bool, int or float) and scale it to float32 in [0, 1].

    Floats are taken as [0, 1] unless they exceed 1, then as 0-255; 16-bit integers as 0-65535.
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise ImageError(f"array of shape {array.shape} is not an image (expected HxW, HxWx3 or HxWx4)")
    if min(array.shape[:2]) < 1:
        raise ImageError(f"array of shape {array.shape} has no pixels")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageError(f"array of shape {array.shape} is too large (limit {MAX_PIXELS:,} pixels)")
    if array.dtype == bool:
        return array.astype(np.float32)
    if array.dtype == np.uint8:  # the common case (canvas, decoded files): one pass
        return array.astype(np.float32) * np.float32(1 / 255)
    if np.issubdtype(array.dtype, np.integer):
        top = 255.0 if array.max(initial=0) <= 255 else 65535.0
        return np.clip(array.astype(np.float32) / top, 0.0, 1.0)
    if not np.issubdtype(array.dtype, np.floating):
        raise ImageError(f"array of dtype {array.dtype} is not an image")
    with np.errstate(over="ignore"):  # beyond float32's range becomes infinite, refused just below
        array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ImageError("array holds NaN or infinite values")
    return np.clip(array / 255.0 if array.max() > 1.0 else array, 0.0, 1.0)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float image (and its channels) to (width, height): averaging the pixels each new one covers
    when shrinking (anti-aliased), bilinear when enlarging."""
    interpolation = cv2.INTER_AREA if size[0] < image.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image, dtype=np.float32), size, interpolation=interpolation)


def reduce_size(pixels: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Shrink (with anti-aliasing) so the longer side is at most max_side: photos need no more detail."""
    height, width = pixels.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return pixels
    return resize(pixels, (max(1, round(width * scale)), max(1, round(height * scale))))


def load_picture(source) -> tuple[Picture, tuple[int, int]]:
    """Any supported source -> (upright picture at most MAX_SIDE, (width, height) of the upright original)."""
    if isinstance(source, np.ndarray):
        size = (source.shape[1], source.shape[0]) if source.ndim >= 2 else (0, 0)
        kept = source.dtype == np.uint8 and source.ndim in (2, 3) and source.shape[2:] in UINT8_CHANNELS
        if kept and min(size) > 0 and size[0] * size[1] <= MAX_PIXELS:  # a canvas: kept as it is, no copy
            source = np.ascontiguousarray(source)
            return (source if max(size) <= MAX_SIDE else upright_picture(Image.fromarray(source))), size
        return reduce_size(array_pixels(source)), size
    image, size = open_image(source)
    return upright_picture(image), size
