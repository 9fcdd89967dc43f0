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
    """A plain two-conv CNN with no batch norm or augmentation: the reference the other models are measured against."""
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
    """VGG-style pairs of conv+BN, dropout, a BN dense head (~0.55M params)."""
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


def small_bn_cnn(name: str, convs_at_14x14: int) -> keras.Model:
    """One conv at full size, `convs_at_14x14` convs at 14x14, a valid conv at 7x7, batch norm throughout.

    A second 28x28 conv, as in `strong`, would double the cost of both training and inference.
    """
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            *conv_bn(32),
            layers.MaxPooling2D(),
            *[layer for _ in range(convs_at_14x14) for layer in conv_bn(64)],
            layers.MaxPooling2D(),
            *conv_bn(128, padding="valid"),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ],
        name=name,
    )


def fast() -> keras.Model:
    """The quickest to 99.5% on 2 CPU cores (`bench`, preset "fast"): a conv pair at 14x14 (~0.16M params)."""
    return small_bn_cnn("fast", convs_at_14x14=2)


def compact() -> keras.Model:
    """The default model: one conv at 14x14, a third of `strong`'s inference time, so that a drawing is read in
    under a millisecond; trained with `strong`'s recipe it reads real digits about as well (~0.13M params)."""
    return small_bn_cnn("compact", convs_at_14x14=1)


def quick() -> keras.Model:
    """The app's default run, the quickest to 98.5% on 2 CPU cores (99.1% after one epoch, 14 s at load 8): a
    strided 5x5 conv reads the 28x28 digit straight at 14x14, so no layer works at full size (~0.04M params, a
    ninth of `compact`'s multiply-adds)."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(32, 5, strides=2, padding="same", use_bias=False),
            layers.BatchNormalization(momentum=BN_MOMENTUM),
            layers.ReLU(),
            layers.MaxPooling2D(),
            *conv_bn(64, padding="valid"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ],
        name="quick",
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
    """A small ResNet: three stages of residual blocks, global pooling."""
    inputs = keras.Input(INPUT_SHAPE)
    x = keras.Sequential(conv_bn(32))(inputs)
    x = residual_block(x, 32)
    x = residual_block(x, 64, stride=2)
    x = residual_block(x, 128, stride=2)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="resnet")


# In the registry's order (a test keeps the two lists equal).
ARCHITECTURES: dict[str, Callable[[], keras.Model]] = {
    "compact": compact,
    "strong": strong,
    "baseline": baseline,
    "fast": fast,
    "quick": quick,
    "resnet": resnet,
}


def build(name: str) -> keras.Model:
    """Build an uncompiled model by name."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]()
