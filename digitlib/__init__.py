"""digitlib: read handwritten digits and numbers with a CNN trained on MNIST.

from digitlib import load_classifier, read_number
reading = read_number("number.png")            # the shipped default model
reading.text, reading.confidence               # every digit, left to right; the weakest digit's confidence
[(d.digit, d.top3, d.box) for d in reading.digits]
read_number("seven.jpg", load_classifier("strong")).digit   # another model; .digit for a single digit
"""

from digitlib.data import DataError, load_mnist
from digitlib.preprocess import ImageError
from digitlib.reading.classifier import DEFAULT_MODEL, Classifier, ModelError, available_models, load_classifier
from digitlib.reading.reader import DigitReading, Reading, read_number

__all__ = [
    "DEFAULT_MODEL",
    "Classifier",
    "DataError",
    "DigitReading",
    "ImageError",
    "ModelError",
    "Reading",
    "available_models",
    "load_classifier",
    "load_mnist",
    "read_number",
]
