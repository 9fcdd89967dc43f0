"""Model builders: every architecture builds and maps 28x28 digits to 10 probabilities; baseline is the plain
two-convolution CNN, layer for layer."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib.reading.classifier import DEFAULT_MODEL
from digitlib.training.config import from_preset
from digitlib.zoo.architectures import ARCHITECTURES, build


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_each_architecture_outputs_ten_probabilities(name):
    model = build(name)
    batch = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    probabilities = np.asarray(model(batch, training=False))
    assert probabilities.shape == (3, 10)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def describe(layer) -> tuple:
    """A layer reduced to what defines the baseline: kind, width, kernel or pool size, activation."""
    config = layer.get_config()
    kind = type(layer).__name__
    if kind == "Conv2D":
        return kind, config["filters"], tuple(config["kernel_size"]), config["activation"]
    if kind == "MaxPooling2D":
        return kind, tuple(config["pool_size"])
    if kind == "Dense":
        return kind, config["units"], config["activation"]
    return (kind,)


def test_baseline_is_exactly_the_plain_two_conv_cnn():
    model = build("baseline")
    assert [describe(layer) for layer in model.layers] == [
        ("Conv2D", 32, (3, 3), "relu"),
        ("MaxPooling2D", (2, 2)),
        ("Conv2D", 64, (3, 3), "relu"),
        ("MaxPooling2D", (2, 2)),
        ("Flatten",),
        ("Dense", 128, "relu"),
        ("Dense", 10, "softmax"),
    ]
    assert [layer.count_params() for layer in model.layers] == [320, 0, 18496, 0, 0, 204928, 1290]
    assert model.count_params() == 225_034


def test_default_model_is_regularised():
    """The default architecture uses batch norm and dropout, as the product's accuracy target needs."""
    assert DEFAULT_MODEL in ARCHITECTURES
    kinds = {type(layer).__name__ for layer in build(DEFAULT_MODEL).layers}
    assert {"BatchNormalization", "Dropout"} <= kinds


def test_unknown_architecture_lists_the_choices():
    with pytest.raises(ValueError, match="compact.*strong"):
        build("transformer")


def test_the_registry_names_every_builder_and_nothing_else():
    from digitlib.zoo import registry

    assert list(registry.ARCHITECTURES) == list(ARCHITECTURES)
    assert {from_preset(name).arch for name in registry.PRESETS} <= set(ARCHITECTURES)
