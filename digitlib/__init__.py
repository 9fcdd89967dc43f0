"""digitlib: read handwritten digits and numbers with a CNN trained on MNIST.

    from digitlib import load_classifier
    clf = load_classifier()          # the shipped default model
    clf.predict("photo.jpg").digit

    from digitlib import read_number
    read_number("number.png").text  # every digit, left to right, with confidences and boxes
"""

from digitlib.classifier import DEFAULT_MODEL, Classifier, ModelError, Prediction, available_models, load_classifier
from digitlib.data import DataError, load_mnist
from digitlib.preprocess import ImageError
from digitlib.reader import DigitReading, Reading, read_number

__all__ = [
    "DEFAULT_MODEL",
    "Classifier",
    "DataError",
    "DigitReading",
    "ImageError",
    "ModelError",
    "Prediction",
    "Reading",
    "available_models",
    "load_classifier",
    "load_mnist",
    "read_number",
]
