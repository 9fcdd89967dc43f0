"""Keras model builders, one function per architecture, plain Keras top to bottom.

Every model takes a (28, 28, 1) float image in [0, 1] (white ink on black, MNIST style) and
returns 10 softmax probabilities.  BatchNorm uses momentum 0.9: Keras' default 0.99 leaves the
moving statistics unsettled after short runs and inference goes wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)
BN_MOMENTUM = 0.9


def baseline() -> keras.Model:
    """The seed project's CNN, exactly as its README gives it."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="baseline",
    )


def conv_bn(filters: int, kernel: int = 3, padding: str = "same") -> list[layers.Layer]:
    return [
        layers.Conv2D(filters, kernel, padding=padding, use_bias=False),
        layers.BatchNormalization(momentum=BN_MOMENTUM),
        layers.ReLU(),
    ]


def strong() -> keras.Model:
    """The default model: VGG-style pairs of conv+BN, dropout, a BN dense head (~0.55M params)."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            *conv_bn(32),
            *conv_bn(32),
            layers.MaxPooling2D(),
            layers.Dropout(0.1),
            *conv_bn(64),
            *conv_bn(64),
            layers.MaxPooling2D(),
            layers.Dropout(0.2),
            *conv_bn(128, padding="valid"),
            layers.Flatten(),
            layers.Dense(128, use_bias=False),
            layers.BatchNormalization(momentum=BN_MOMENTUM),
            layers.ReLU(),
            layers.Dropout(0.4),
            layers.Dense(10, activation="softmax"),
        ],
        name="strong",
    )


def fast() -> keras.Model:
    """The quickest to 99.5% on 2 CPU cores (`bench`, preset "fast"): one conv at full size, a conv pair at
    14x14, a valid conv at 7x7 (~0.16M params).  A second 28x28 conv, as in `strong`, would double the cost."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            *conv_bn(32),
            layers.MaxPooling2D(),
            *conv_bn(64),
            *conv_bn(64),
            layers.MaxPooling2D(),
            *conv_bn(128, padding="valid"),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ],
        name="fast",
    )


def compact() -> keras.Model:
    """`fast` with a single conv at 14x14: a third of `strong`'s inference time, for an instant canvas (~0.13M params)."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            *conv_bn(32),
            layers.MaxPooling2D(),
            *conv_bn(64),
            layers.MaxPooling2D(),
            *conv_bn(128, padding="valid"),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ],
        name="compact",
    )


def separable_bn(filters: int, padding: str = "same") -> list[layers.Layer]:
    return [
        layers.SeparableConv2D(filters, 3, padding=padding, use_bias=False),
        layers.BatchNormalization(momentum=BN_MOMENTUM),
        layers.ReLU(),
    ]


def separable() -> keras.Model:
    """`fast` with depthwise-separable convs after the first: a tenth of `strong`'s inference time (~0.05M params)."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            *conv_bn(32),
            layers.MaxPooling2D(),
            *separable_bn(64),
            *separable_bn(64),
            layers.MaxPooling2D(),
            *separable_bn(128, padding="valid"),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ],
        name="separable",
    )


def residual_block(x, filters: int, stride: int = 1):
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM)(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM)(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM)(shortcut)
    return layers.ReLU()(layers.add([y, shortcut]))


def resnet() -> keras.Model:
    """A small ResNet (the seed's "future scope"): three stages of residual blocks, global pooling."""
    inputs = keras.Input(INPUT_SHAPE)
    x = keras.Sequential(conv_bn(32))(inputs)
    x = residual_block(x, 32)
    x = residual_block(x, 64, stride=2)
    x = residual_block(x, 128, stride=2)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="resnet")


ARCHITECTURES: dict[str, Callable[[], keras.Model]] = {
    "baseline": baseline,
    "strong": strong,
    "fast": fast,
    "compact": compact,
    "separable": separable,
    "resnet": resnet,
}


def build(name: str) -> keras.Model:
    """Build an uncompiled model by name."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]()
