"""Turn any picture of handwriting into MNIST-format digits.

MNIST recipe (LeCun et al.): white ink on black, each digit fitted into 20x20 keeping its aspect
ratio with anti-aliasing, then placed in 28x28 so that its centre of mass is at the centre.
Real drawings and photos need more before that recipe applies: a canvas may be transparent,
paper is lit unevenly, a pen is far thinner than MNIST's strokes and a brush far thicker, and
one picture may hold a whole number.  Each step below is one small function; `segment` runs
them in order and keeps every intermediate image (`Segmentation.steps`) so the app can show
what happened.

Everything works on float32 arrays in [0, 1] and is vectorised (NumPy, SciPy, Pillow, and
OpenCV for the steps every picture takes: labelling blobs, the distance transform, resizing,
whose kernels cost a few microseconds where SciPy's and Pillow's cost tens); huge photos are
reduced to `MAX_SIDE` before any work is done, and a drawing that fills its canvas is read at
128 px (`locate_digits`).
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

MAX_SIDE = 1024  # photos are reduced to this first: digits stay >100 px tall, work stays fast
QUICK_SIDE, QUICK_MIN_HEIGHT = 128, 40  # first look at 128 px, enough when every digit is 40+ px tall there
MAX_PIXELS = 50_000_000  # decoded pixels per picture (a 48 MP phone photo fits); more is refused before decoding
MAX_BYTES = 50 * 2**20  # bytes per image file: a bigger file is refused before it is read
STROKE_START, STROKE_EXTENT = 0.5, 0.25  # hysteresis thresholds, as fractions of the ink's strength
SATURATION = 0.6  # ink at 60% of the strongest strokes' level counts as a full-strength stroke
DIGITAL_GROUND = 0.5  # when half the pixels share exactly the lowest ink level, the ground is flat: no lighting to remove
PAPER_TOLERANCE = 0.05  # coarse pixels this close to the opened background are paper (for the lighting fit)
MIN_CONTRAST = 0.08  # ink must differ from the background by 8% of full scale, else "no digit"...
MIN_SIGNAL_TO_NOISE = 4.0  # ...and by four standard deviations of the pixel noise
DUST_FRACTION = 0.01  # blobs with 1% of the largest blob's area are dust
SPECK_FRACTION = 0.2  # marks smaller than this fraction of the largest mark (in extent) are noise
MIN_DIGIT_FRACTION = 0.3  # a digit is at least this fraction of the tallest digit's height
MIN_LENGTH_TO_WIDTH = 2.5  # a digit is a stroke several times longer than it is wide; a dot is not
MIN_HEIGHT_TO_WIDTH = 0.2  # even four touching zeros are taller than this fraction of their width; a dash is not
MAX_INK_FRACTION = 0.5  # handwriting never covers half the picture: that is noise or a photo of a surface
SPLIT_ASPECT = 1.2  # a mark wider than this times its height may be touching digits...
NECK_STROKES = 1.5  # ...joined where a column crosses at most this many stroke widths of ink
MIN_PIECE_HEIGHT = 0.6  # each digit cut from such a mark spans this much of its height
MERGE_OVERLAP = 0.5  # marks overlapping horizontally by half the narrower one are strokes of one digit
RULED_LINE_FRACTION = 0.9  # a horizontal run across 90% of the width is a ruled line...
LINE_MARGIN_FRACTION = 0.05  # ...when the remaining ink keeps this far from both side edges
BOX, CANVAS = 20, 28  # MNIST: digit fitted into 20x20, centred in 28x28
DETAIL = 4  # stroke widths are measured and normalised at 4x the final 20x20 resolution
# MNIST's pen width in pixels of the 20x20 box, measured by `stroke_width` on 1000 training digits:
# median 2.25, 10th percentile 1.55, 90th 3.25.  Strokes outside that range are brought to the median.
TARGET_STROKE, MIN_STROKE, MAX_STROKE = 2.25, 1.5, 3.3


class ImageError(ValueError):
    """The input is not an image we can read; the message says why in one line."""


@dataclass
class Segment:
    """One digit found in a picture."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], MNIST format: what the network sees
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in pixels of the upright original picture
    crop: np.ndarray = field(repr=False)  # the digit's ink at working size, spanning `box`


# ---------------------------------------------------------------- loading


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
        raise ImageError(f"{type(source).__name__} is not an image: pass a path, bytes, a file, a PIL image or an array")
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


def load_grey(source) -> np.ndarray:
    """Any supported source -> its upright luminance at most MAX_SIDE (`grey_at`)."""
    return grey_at(load_picture(source)[0], MAX_SIDE)


# ---------------------------------------------------------------- ink


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """Luminance in [0, 1].  Transparent pixels (drawing canvases) become a backdrop contrasting with the strokes."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        return pixels
    colour, alpha = (pixels[..., :-1], pixels[..., -1]) if pixels.shape[2] in (2, 4) else (pixels, None)
    grey = colour[..., 0] if colour.shape[2] == 1 else colour @ np.array([0.299, 0.587, 0.114], np.float32)
    if alpha is None or alpha.min() > 0.98:
        return grey
    return over_backdrop(grey * alpha, alpha)


def over_backdrop(premultiplied: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite grey strokes (premultiplied by their alpha) over white, or over black when the strokes are light."""
    coverage = alpha.sum()
    strokes_are_light = coverage > 0 and premultiplied.sum() / coverage > 0.5
    return premultiplied if strokes_are_light else premultiplied + (1.0 - alpha)


def grey_at(picture: Picture, max_side: int) -> np.ndarray:
    """The picture's luminance (`to_grey`) as float32 in [0, 1], its longer side at most ``max_side``.

    An 8-bit picture is made grey and shrunk by OpenCV in uint8 (averaging whole blocks of pixels),
    one band at a time, before it is converted to float: no float copy of the full picture is made.
    Transparency is shrunk premultiplied (transparent pixels lend no colour) and composited small;
    a drawing in one colour (a canvas: black strokes on transparent black) is its alpha band alone.
    """
    if picture.dtype != np.uint8:
        return reduce_size(to_grey(picture), max_side)
    factor = -(-max(picture.shape[:2]) // max_side)
    if picture.ndim == 2:
        return shrink(picture, factor)
    grey = cv2.cvtColor(picture, cv2.COLOR_RGBA2GRAY if picture.shape[2] == 4 else cv2.COLOR_RGB2GRAY)
    alpha = cv2.extractChannel(picture, 3) if picture.shape[2] == 4 else None
    if alpha is None or cv2.minMaxLoc(alpha)[0] > 250:
        return shrink(grey, factor)
    darkest, lightest = cv2.minMaxLoc(grey)[:2]
    coverage = shrink(alpha, factor)
    if darkest == lightest:  # one colour: `over_backdrop` worked out, without the sums
        colour = darkest / 255
        return coverage * np.float32(colour) if colour > 0.5 else 1 - coverage * np.float32(1 - colour)
    return over_backdrop(shrink(cv2.multiply(grey, alpha, scale=1 / 255), factor), coverage)


def shrink(band: np.ndarray, factor: int) -> np.ndarray:
    """A uint8 band averaged over whole factor x factor blocks, as float32 in [0, 1].

    A sliver narrower than a block at the right or bottom edge is left out: averaging whole
    blocks is OpenCV's fast path, two to three times quicker than resizing by a fractional factor.
    (Boxes mapped back to the picture may then sit up to one block short of its far edges.)
    """
    if factor > 1:
        height, width = band.shape
        rows = height - height % factor if height >= factor else height
        columns = width - width % factor if width >= factor else width
        size = (max(1, columns // factor), max(1, rows // factor))
        band = cv2.resize(band[:rows, :columns], size, interpolation=cv2.INTER_AREA)
    return band.astype(np.float32) * np.float32(1 / 255)


def border_ring(image: np.ndarray) -> np.ndarray:
    """The pixels along the edges: background in almost any picture of a digit."""
    width = max(1, min(image.shape) // 20)
    return np.concatenate([image[:width].ravel(), image[-width:].ravel(), image[:, :width].ravel(),
                           image[:, -width:].ravel()])


def median(values: np.ndarray) -> float:
    """The middle value (the upper one of an even count): a partial sort, several times cheaper than np.median
    on the small arrays here, where its overhead dominates."""
    values = values.ravel()
    middle = values.size // 2
    return float(np.partition(values, middle)[middle])


def dark_on_light(grey: np.ndarray) -> bool:
    """True for pen on paper, False for chalk-style light strokes on a dark ground.

    The background is the border's median; the ink is whichever extreme lies farther from it.
    """
    background = median(border_ring(grey))
    return background - float(grey.min()) > float(grey.max()) - background


def lighting_surface(coarse: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Least-squares quadratic surface through the paper pixels: smooth lighting, right up to the edges."""
    rows, cols = np.mgrid[-1 : 1 : coarse.shape[0] * 1j, -1 : 1 : coarse.shape[1] * 1j]
    terms = np.stack([np.ones_like(rows), cols, rows, cols * cols, cols * rows, rows * rows], axis=-1)
    coefficients = np.linalg.lstsq(terms[paper], coarse[paper], rcond=None)[0]
    return (terms @ coefficients).astype(np.float32)


def is_digital(ink: np.ndarray) -> bool:
    """A digital drawing: half the pixels share exactly the lowest ink level, a ground with no lighting and no noise."""
    return np.count_nonzero(ink == ink.min()) > DIGITAL_GROUND * ink.size


def flatten_background(ink: np.ndarray, reflective: bool) -> np.ndarray:
    """Remove uneven lighting and paper texture: ink minus a smooth background estimate.

    Lighting varies slowly, so the background is estimated on a coarse copy.  A grey opening
    erases every stroke narrower than its window (half the picture: wider than any brush) and
    follows the lighting, but falls short near the edges; there a quadratic surface through the
    paper is exact for smooth lighting, so the higher of the two is taken.  For pen on paper the
    ink is also divided by the local paper brightness, so strokes in a shadow are as strong as
    strokes in the light.
    """
    height, width = ink.shape
    factor = max(1, min(height, width) // 32)
    coarse = resize(ink, (max(1, width // factor), max(1, height // factor)))
    window = max(3, min(coarse.shape) // 2)
    opened = ndimage.uniform_filter(ndimage.grey_opening(coarse, size=window), window, mode="nearest")
    paper = coarse - opened < PAPER_TOLERANCE
    uneven = np.ptp(opened) > PAPER_TOLERANCE and paper.sum() >= 6  # drawings on a flat ground need no fit
    background = np.maximum(opened, lighting_surface(coarse, paper)) if uneven else opened
    background = resize(background, (width, height))
    flat = ink - background
    if reflective:
        flat /= np.maximum(1.0 - background, 0.1)
    return np.clip(flat, 0.0, 1.0)


def noise_level(image: np.ndarray) -> float:
    """Standard deviation of pixel noise: robust spread (MAD) of differences between neighbours.

    Smooth lighting leaves no difference, and stroke edges cover too few pixels to move the
    median; a sample of rows is enough.
    """
    rows = image[:: max(1, image.shape[0] // 64)]
    differences = (rows[:, 1:] - rows[:, :-1]).ravel()
    return 1.4826 * median(np.abs(differences)) / np.sqrt(2) if differences.size else 0.0


def robust_max(image: np.ndarray) -> float:
    """The brightest level reached by two neighbouring pixels (across or down): a lone hot pixel does not count."""
    across = np.minimum(image[:, 1:], image[:, :-1]).max(initial=0.0)
    down = np.minimum(image[1:], image[:-1]).max(initial=0.0)
    return float(max(across, down))


def ink_blobs(flat: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Where the ink is, as numbered blobs (`label_blobs`: labels and each one's box and area, both 0 for
    weak ink that is no stroke), and how strong it is (0 when there is none).

    Hysteresis threshold: pixels at half the ink's strength start strokes, connected pixels down
    to a quarter of it complete them (faint ends of pen strokes), while paper noise below that never
    counts.  Lone noisy pixels cannot set the ink's strength (`robust_max`); ink that does not
    stand well clear of the pixel noise is no ink (a photo of a blank page, pure noise).  The blobs
    of weak ink that hold a seed are the ink's blobs: labelling once serves both.
    """
    strength = robust_max(flat)
    if strength < max(MIN_CONTRAST, MIN_SIGNAL_TO_NOISE * noise):
        return *label_blobs(np.zeros(flat.shape, dtype=bool)), 0.0
    labels, blobs = label_blobs(flat > STROKE_EXTENT * strength)
    seeded = np.zeros(len(blobs), dtype=bool)
    seeded[labels[flat > STROKE_START * strength]] = True
    if not seeded[1:].all():
        labels = labels * seeded[labels]
        blobs[~seeded, cv2.CC_STAT_AREA] = 0
    return labels, blobs, strength


def label_blobs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected blobs (a stroke drawn diagonally is one blob): each pixel's blob number (0: none), and
    per number its box and area, one row of OpenCV's x, y, width, height, area (row 0 has area 0)."""
    _, labels, blobs, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    blobs[0, cv2.CC_STAT_AREA] = 0
    return labels, blobs


def drop_ruled_lines(mask: np.ndarray) -> np.ndarray:
    """Remove horizontal lines running across the picture (lined paper), but not a digit's own bar.

    A run across most of the width is a ruled line only if the rest of the ink keeps clear of
    both side edges; a tightly cropped 7 or 5 has its bar across the whole width too, but its
    other strokes reach the edges.
    """
    height, width = mask.shape
    length = int(RULED_LINE_FRACTION * width)
    if length < 8 or mask.sum(axis=1).max(initial=0) < length:  # no row holds enough ink for a line
        return mask
    run = ndimage.uniform_filter1d(mask.astype(np.float32), length, axis=1, mode="constant") > 0.999
    if not run.any():
        return mask
    lines = ndimage.maximum_filter1d(run, length + 2, axis=1) & mask  # +2: reach both ends of the run
    rest = mask & ~lines
    columns = np.flatnonzero(rest.any(axis=0))
    margin = LINE_MARGIN_FRACTION * width
    if columns.size == 0 or columns[0] < margin or columns[-1] >= width - margin:
        return mask
    rows = np.flatnonzero(lines.any(axis=1))
    thickness = -(-rows.size // (1 + int((np.diff(rows) > 1).sum())))  # rows per line, rounded up
    return rejoin_crossings(rest, mask, thickness)


def rejoin_crossings(rest: np.ndarray, mask: np.ndarray, thickness: int) -> np.ndarray:
    """Put back the bits of a removed line where a stroke crosses it (ink just above and below)."""
    bridge = np.ones((thickness + 3, 1), dtype=bool)
    return rest | (ndimage.binary_closing(rest, structure=bridge) & mask)


# ---------------------------------------------------------------- finding the digits


@dataclass
class Mark:
    """A connected blob of ink, or several merged into one digit."""

    labels: list[int]
    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    def overlaps_horizontally(self, other: Mark) -> bool:
        overlap = min(self.x1, other.x1) - max(self.x0, other.x0)
        return overlap > MERGE_OVERLAP * min(self.width, other.width)

    def merged(self, other: Mark) -> Mark:
        return Mark(self.labels + other.labels, min(self.y0, other.y0), min(self.x0, other.x0),
                    max(self.y1, other.y1), max(self.x1, other.x1))


def connected_marks(blobs: np.ndarray) -> list[Mark]:
    """Describe each blob of ink (`label_blobs`) by its box.

    Blobs with a tiny fraction of the largest one's area (dust, noise) are left out before any
    per-blob work, so a grainy photo with thousands of them stays fast.
    """
    areas = blobs[:, cv2.CC_STAT_AREA]
    marks = []
    for i in np.flatnonzero(areas >= max(1.0, DUST_FRACTION * areas.max())):
        x, y, width, height = (int(v) for v in blobs[i, :4])
        marks.append(Mark([int(i)], y, x, y + height, x + width))
    return marks


def drop_specks(marks: list[Mark]) -> list[Mark]:
    """Dust, sensor noise and stray dots: marks far smaller than the largest one."""
    if not marks:
        return marks
    largest = max(max(m.height, m.width) for m in marks)
    return [m for m in marks if max(m.height, m.width) >= SPECK_FRACTION * largest]


def drop_border_junk(marks: list[Mark], shape: tuple[int, int]) -> list[Mark]:
    """Paper edges and shadows: marks running along half an edge of the picture, when other marks remain.

    A tightly cropped digit may touch the edges too, so a mark is only junk beside something else.
    """
    height, width = shape

    def runs_along_edge(m: Mark) -> bool:
        horizontal = m.width > 0.5 * width and (m.y0 == 0 or m.y1 == height)
        vertical = m.height > 0.5 * height and (m.x0 == 0 or m.x1 == width)
        return horizontal or vertical

    kept = [m for m in marks if not runs_along_edge(m)]
    return kept if kept else marks


def group_into_digits(marks: list[Mark]) -> list[Mark]:
    """Merge marks that overlap horizontally (a 5's top bar, a 4 drawn in two strokes), left to right."""
    digits: list[Mark] = []
    for mark in sorted(marks, key=lambda m: m.x0):
        while (other := next((d for d in digits if mark.overlaps_horizontally(d)), None)) is not None:
            digits.remove(other)  # merging widens the mark: look again until nothing overlaps
            mark = mark.merged(other)
        digits.append(mark)
    return sorted(digits, key=lambda m: m.x0)


def stroke_width(mask: np.ndarray) -> float:
    """Pen width in pixels: twice the distance-to-background along the strokes' centre lines, minus one."""
    if not mask.any():
        return 0.0
    padded = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), dtype=np.uint8)  # strokes at the edge end there
    padded[1:-1, 1:-1] = mask
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 5)  # 5x5 chamfer: within 2% of Euclidean, half the cost
    rows = np.maximum(np.maximum(distance[:-2], distance[1:-1]), distance[2:])  # 3x3 maximum by shifted views,
    around = np.maximum(np.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])  # a tenth of maximum_filter's cost
    centre = distance[1:-1, 1:-1]
    return 2.0 * median(centre[mask & (centre >= around)]) - 1.0


def plausible_digits(digits: list[Mark]) -> list[Mark]:
    """Drop what is no digit: a dash or stray line (far wider than tall), marks far smaller than the tallest digit."""
    digits = [d for d in digits if d.height >= MIN_HEIGHT_TO_WIDTH * d.width]
    tallest = max((d.height for d in digits), default=0)
    return [d for d in digits if d.height >= MIN_DIGIT_FRACTION * tallest]


# ---------------------------------------------------------------- MNIST format


def disk(radius: int) -> np.ndarray:
    """A round footprint: a pen's tip, the same in every direction."""
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


def to_detail(crop: np.ndarray) -> np.ndarray:
    """The digit scaled (aspect kept) so its longer side is DETAIL x 20 px: fine enough to reshape strokes."""
    height, width = crop.shape
    scale = BOX * DETAIL / max(height, width)
    return resize(crop, (max(1, round(width * scale)), max(1, round(height * scale))))


def normalise_stroke_width(detail: np.ndarray, width: float) -> np.ndarray:
    """Thicken hairlines and thin heavy brushes towards MNIST's pen width.

    The network was trained on MNIST's ~2.25 px strokes: a 1 px pen on a large drawing would
    shrink to a faint trace, a 30 px brush on a small one to a blob.  At DETAIL times the final
    resolution a grey dilation or erosion by a disk changes the width in fine steps.
    """
    width /= DETAIL
    if MIN_STROKE <= width <= MAX_STROKE:
        return detail
    radius = round(abs(TARGET_STROKE - width) * DETAIL / 2)
    operation = ndimage.grey_dilation if width < MIN_STROKE else ndimage.grey_erosion
    return operation(detail, footprint=disk(radius)) if radius else detail


def fit_box(detail: np.ndarray) -> np.ndarray:
    """Anti-aliased reduction to the 20x20 box, strokes at full strength (1.0)."""
    size = (max(1, round(detail.shape[1] / DETAIL)), max(1, round(detail.shape[0] / DETAIL)))
    small = resize(detail, size)
    top = small.max()
    return small / top if top > 0 else small


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place the fitted digit (values in [0, 1]) in 28x28 with its centre of mass at the centre (whole-pixel
    shift, no blur)."""
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    moments = cv2.moments(digit)
    if moments["m00"] <= 0:
        return canvas
    height, width = digit.shape
    top = min(max(round((CANVAS - 1) / 2 - moments["m01"] / moments["m00"]), 0), CANVAS - height)
    left = min(max(round((CANVAS - 1) / 2 - moments["m10"] / moments["m00"]), 0), CANVAS - width)
    canvas[top : top + height, left : left + width] = digit
    return canvas


def digit_crop(ink: Ink, digit: Mark) -> np.ndarray:
    """The digit's own ink (neighbours' ink removed) with MNIST's stroke profile: saturated core, soft edge.

    Ink at the faint edge of the mask (STROKE_EXTENT of the strength) maps to 0 and ink from
    SATURATION up to 1, so a pen pressed lightly reads like a firm one and the halo of a blurred
    photo stays a thin soft edge instead of fattening the strokes.
    """
    own = member_mask(ink.labels[digit.y0 : digit.y1, digit.x0 : digit.x1], digit.labels)
    level = ink.flat[digit.y0 : digit.y1, digit.x0 : digit.x1] / ink.strength
    return (np.clip((level - STROKE_EXTENT) / (SATURATION - STROKE_EXTENT), 0.0, 1.0) * own).astype(np.float32)


def member_mask(labels: np.ndarray, members: list[int]) -> np.ndarray:
    """Pixels whose label is one of `members` (a lookup table: faster than np.isin)."""
    if len(members) == 1:
        return labels == members[0]
    table = np.zeros(int(labels.max(initial=0)) + 1, dtype=bool)
    table[[m for m in members if m < len(table)]] = True
    return table[labels]


def trim(crop: np.ndarray) -> np.ndarray:
    """Cut away empty rows and columns around the ink, as MNIST's box is fitted to the ink itself."""
    rows, cols = np.flatnonzero(crop.any(axis=1)), np.flatnonzero(crop.any(axis=0))
    return crop[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] if rows.size else crop


def to_mnist_digit(crop: np.ndarray) -> np.ndarray | None:
    """One digit's ink, cropped tight (`digit_crop`, `trim`) -> (28, 28) MNIST format; None when it is a dot
    rather than a stroke."""
    detail = to_detail(crop)
    width = stroke_width(detail > 0.5)
    if width <= 0 or BOX * DETAIL < MIN_LENGTH_TO_WIDTH * width:
        return None
    return centre_by_mass(fit_box(normalise_stroke_width(detail, width)))


def split_candidates(crop: np.ndarray) -> list[int]:
    """Columns where a too-wide mark may be touching digits: necks of ink that cut through no loop.

    Where two digits touch, one or two strokes join them; a column through a 0, 6, 8 or 9 crosses
    a hole, and a cut there would break a loop, so such columns are never candidates.
    """
    height, width = crop.shape
    if width < SPLIT_ASPECT * height:
        return []
    ink = crop > 0.5
    counts = ink.sum(axis=0)
    neck = NECK_STROKES * max(stroke_width(ink), 1.0)
    through_loop = (ndimage.binary_fill_holes(ink) & ~ink).any(axis=0)
    columns = np.arange(width)
    candidates = np.flatnonzero((columns >= 0.2 * width) & (columns <= 0.8 * width) & (counts <= neck)
                                & ~through_loop & (counts <= ndimage.minimum_filter1d(counts, max(3, height // 4))))
    runs = np.split(candidates, np.flatnonzero(np.diff(candidates) > 1) + 1) if candidates.size else []
    return [int(run.mean()) for run in runs]


def split_segment(segment: Segment, column: int) -> list[Segment] | None:
    """Cut a segment's ink at a column into two digits, or None when a piece is not digit-tall (a 2's tail)."""
    x0, y0, x1, y1 = segment.box
    height, width = segment.crop.shape
    pieces = []
    for start, stop in ((0, column), (column, width)):
        part = segment.crop[:, start:stop]
        rows = np.flatnonzero(part.max(axis=1) > 0.5)
        if rows.size == 0 or rows[-1] - rows[0] + 1 < MIN_PIECE_HEIGHT * height:
            return None
        part = part[rows[0] : rows[-1] + 1]
        image = to_mnist_digit(trim(part))
        if image is None:
            return None
        box = (x0 + round(start * (x1 - x0) / width), y0 + round(rows[0] * (y1 - y0) / height),
               x0 + round(stop * (x1 - x0) / width), y0 + round((rows[-1] + 1) * (y1 - y0) / height))
        pieces.append(Segment(image, box, part))
    return pieces


# ---------------------------------------------------------------- the pipeline


@dataclass
class Ink:
    """A picture reduced to clean ink: the stages before digits are looked for."""

    size: tuple[int, int]  # (width, height) of the upright original
    grey: np.ndarray  # the picture in grey at the size it was read (`locate_digits`)
    ink: np.ndarray  # bright ink on dark
    flat: np.ndarray  # ink with the background removed
    labels: np.ndarray  # the ink's blobs, numbered (`label_blobs`); 0 where there is no ink
    blobs: np.ndarray  # per blob number: box and area (`label_blobs`)
    strength: float  # ink level of full-strength strokes in `flat` (0: no ink)

    @property
    def mask(self) -> np.ndarray:
        return self.labels > 0


def extract_ink(grey: np.ndarray, size: tuple[int, int]) -> Ink:
    """Polarity, background removal, threshold, ruled lines: the steps before digits are looked for."""
    reflective = dark_on_light(grey)
    ink = 1.0 - grey if reflective else grey
    if is_digital(ink):  # one exact ground level: subtracted, no lighting to model and no noise to measure
        floor = ink.min()
        flat = (ink - floor) / max(1.0 - floor, 0.1) if reflective else ink - floor
        labels, blobs, strength = ink_blobs(flat, 0.0)
    else:
        flat = flatten_background(ink, reflective)
        labels, blobs, strength = ink_blobs(flat, noise_level(ink))
    mask = labels > 0
    if np.count_nonzero(mask) > MAX_INK_FRACTION * mask.size:
        (labels, blobs), strength = label_blobs(np.zeros_like(mask)), 0.0
    elif (lined := drop_ruled_lines(mask)) is not mask:  # lines removed: the rest falls into new blobs
        labels, blobs = label_blobs(lined)
    return Ink(size, grey, ink, flat, labels, blobs, strength)


@dataclass
class Segmentation:
    """The digits found in a picture, left to right, and how they were found."""

    segments: list[Segment]
    size: tuple[int, int]  # (width, height) of the upright original picture
    upright: Picture = field(repr=False)  # the picture as it was read
    ink: Ink = field(repr=False)
    kept: list[int] = field(repr=False)  # the ink blobs that became digits

    @cached_property
    def steps(self) -> dict[str, np.ndarray]:
        """Named intermediate images in pipeline order, for display; made on first use (reading needs none)."""
        ink = self.ink
        return {"upright": self.upright, "grey": ink.grey, "ink": ink.ink, "flattened": ink.flat,
                "mask": ink.mask, "cleaned": ink.flat * member_mask(ink.labels, self.kept)}


def find_digits(ink: Ink) -> list[Mark]:
    """Connected marks -> specks and border junk dropped -> grouped into digits, left to right."""
    marks = drop_border_junk(drop_specks(connected_marks(ink.blobs)), ink.labels.shape)
    return plausible_digits(group_into_digits(marks))


def locate_digits(picture: Picture, size: tuple[int, int]) -> tuple[Ink, list[Mark]]:
    """Clean ink and the digits' marks, at the coarsest size that shows every digit well.

    A first look at QUICK_SIDE suffices when each digit found is at least QUICK_MIN_HEIGHT
    tall (a drawing filling a canvas): several times fewer pixels to process.  Otherwise (small
    digits in a large picture) the picture is read again at full working size.
    """
    ink = extract_ink(grey_at(picture, QUICK_SIDE), size)
    marks = find_digits(ink)
    if max(picture.shape[:2]) > QUICK_SIDE and (not marks or min(m.height for m in marks) < QUICK_MIN_HEIGHT):
        ink = extract_ink(grey_at(picture, MAX_SIDE), size)
        marks = find_digits(ink)
    return ink, marks


def segment(source) -> Segmentation:
    """Find every digit in a picture, left to right, each in MNIST format with its box in the original."""
    picture, size = load_picture(source)
    ink, marks = locate_digits(picture, size)
    scale_x, scale_y = ink.size[0] / ink.grey.shape[1], ink.size[1] / ink.grey.shape[0]
    segments, digits = [], []
    for mark in marks:
        crop = digit_crop(ink, mark)
        image = to_mnist_digit(crop)
        if image is not None:
            digits.append(mark)
            box = (round(mark.x0 * scale_x), round(mark.y0 * scale_y),
                   round(mark.x1 * scale_x), round(mark.y1 * scale_y))
            segments.append(Segment(image, box, crop))
    return Segmentation(segments, ink.size, picture, ink, [label for d in digits for label in d.labels])


def to_mnist(source) -> np.ndarray:
    """Any image source -> one (28, 28) float32 MNIST-format image of all the ink in it, taken as one digit.

    Blank when there is no digit.  For pictures that may hold several digits use `segment` (or
    `digitlib.read_number`).
    """
    ink, marks = locate_digits(*load_picture(source))
    whole = marks[0] if marks else None
    for mark in marks[1:]:
        whole = whole.merged(mark)
    image = to_mnist_digit(digit_crop(ink, whole)) if whole else None
    return np.zeros((CANVAS, CANVAS), dtype=np.float32) if image is None else image
