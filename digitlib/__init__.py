"""digitlib: read handwritten digits and numbers with a CNN trained on MNIST.

    from digitlib import load_classifier
    clf = load_classifier()          # the shipped default model
    clf.predict("photo.jpg").digit
"""

from digitlib.classifier import DEFAULT_MODEL, Classifier, ModelError, Prediction, available_models, load_classifier
from digitlib.data import DataError, load_mnist
from digitlib.preprocess import ImageError

__all__ = [
    "DEFAULT_MODEL",
    "Classifier",
    "DataError",
    "ImageError",
    "ModelError",
    "Prediction",
    "available_models",
    "load_classifier",
    "load_mnist",
]
