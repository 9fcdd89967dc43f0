"""Turn any picture of handwriting into MNIST-format digits.

Real drawings and photos need more than MNIST's recipe: a canvas may be transparent, paper is lit
unevenly, a pen is far thinner than MNIST's strokes and a brush far thicker, and one picture may
hold a whole number.  The work is split by stage, one module each, run in order by `segment`
(`pipeline`), which keeps every intermediate image (`Segmentation.steps`) so the app can show
what happened:

1. `decode`: any source to an upright picture; input limits; `ImageError`.
2. `ink`: grey, polarity (`polarity`), lighting and shadows, noise, what lies beyond the paper: clean
   ink in blobs; `ruling` takes out the lines of lined and squared paper.
3. `digits`: blobs to one mark per digit, left to right; touching digits split.
4. `mnist_format`: stroke width, 20x20 fit, centre of mass in 28x28.

`strokes` holds what all of them measure (pen width, a region's thickness, pixel noise).

Everything works on float32 arrays in [0, 1] and is vectorised (NumPy, SciPy, Pillow, and OpenCV
for the steps every picture takes: labelling blobs, the distance transform, resizing, whose
kernels cost a few microseconds where SciPy's and Pillow's cost tens); huge photos are reduced to
`MAX_SIDE` before any work is done, and a drawing that fills its canvas is read at 128 px.
"""

from digitlib.preprocess.decode import MAX_BYTES, MAX_PIXELS, MAX_SIDE, ImageError, open_image
from digitlib.preprocess.digits import Segment
from digitlib.preprocess.mnist_format import disk
from digitlib.preprocess.pipeline import Segmentation, load_grey, segment, to_mnist

__all__ = [
    "MAX_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "ImageError",
    "Segment",
    "Segmentation",
    "disk",
    "load_grey",
    "open_image",
    "segment",
    "to_mnist",
]
