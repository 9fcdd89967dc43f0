"""Training-time augmentation that makes MNIST look like what users draw and photograph.

Even after careful preprocessing, real digits differ from MNIST in slant, proportions, stroke
thickness (a 30 px canvas brush versus a ballpoint), hard thresholded edges, blur and sensor
noise.  `augment_batch` applies a random mix of these to a batch, inside the tf.data pipeline so
the model itself stays plain (and exports to LiteRT unchanged).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import tensorflow as tf


@dataclass(frozen=True)
class AugmentConfig:
    rotation_degrees: float = 12.0
    scale_range: tuple[float, float] = (0.85, 1.15)
    shear: float = 0.2
    shift_pixels: float = 2.5
    elastic_pixels: float = 1.2
    thickness_probability: float = 0.5
    binarize_probability: float = 0.15
    blur_probability: float = 0.25
    noise_probability: float = 0.2
    noise_std: float = 0.06

    def as_dict(self) -> dict:
        return asdict(self)


def uniform(batch: int, low: float, high: float) -> tf.Tensor:
    return tf.random.uniform([batch], low, high)


def chance(batch: int, probability: float) -> tf.Tensor:
    """A per-image coin flip shaped to broadcast over (B, H, W, 1)."""
    return tf.reshape(tf.random.uniform([batch]) < probability, [batch, 1, 1, 1])


def random_affine(images: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Rotation, anisotropic scale, shear and shift in one resampling (no double blur)."""
    batch = tf.shape(images)[0]
    angle = uniform(batch, -1, 1) * math.radians(cfg.rotation_degrees)
    sx = uniform(batch, *cfg.scale_range)
    sy = sx * uniform(batch, 0.9, 1.1)
    shear = uniform(batch, -cfg.shear, cfg.shear)
    tx, ty = uniform(batch, -1, 1) * cfg.shift_pixels, uniform(batch, -1, 1) * cfg.shift_pixels
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Output->input map: M = R(angle) @ Shear @ diag(1/sx, 1/sy), about the image centre.
    m00, m01 = cos / sx, (cos * shear - sin) / sy
    m10, m11 = sin / sx, (sin * shear + cos) / sy
    c = 13.5
    transforms = tf.stack(
        [
            m00,
            m01,
            c - m00 * c - m01 * c + tx,
            m10,
            m11,
            c - m10 * c - m11 * c + ty,
            tf.zeros_like(sx),
            tf.zeros_like(sx),
        ],
        axis=1,
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def bilinear_sample(images: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Sample (B, H, W, 1) images at float coordinates (B, H, W); outside is black."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    flat = tf.reshape(images, [batch, -1])
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = x - x0, y - y0

    def pixel(yy: tf.Tensor, xx: tf.Tensor) -> tf.Tensor:
        inside = (xx >= 0) & (xx < tf.cast(width, xx.dtype)) & (yy >= 0) & (yy < tf.cast(height, yy.dtype))
        index = tf.cast(
            tf.clip_by_value(yy, 0, 1e9) * tf.cast(width, yy.dtype) + tf.clip_by_value(xx, 0, 1e9), tf.int32
        )
        index = tf.minimum(index, height * width - 1)
        values = tf.gather(flat, tf.reshape(index, [batch, -1]), batch_dims=1)
        return tf.reshape(values, tf.shape(x)) * tf.cast(inside, images.dtype)

    top = pixel(y0, x0) * (1 - wx) + pixel(y0, x0 + 1) * wx
    bottom = pixel(y0 + 1, x0) * (1 - wx) + pixel(y0 + 1, x0 + 1) * wx
    return tf.expand_dims(top * (1 - wy) + bottom * wy, -1)


def elastic(images: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Smooth random displacement (Simard et al.): the wobble of a real hand."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    coarse = tf.random.normal([batch, 4, 4, 2]) * cfg.elastic_pixels
    field = tf.image.resize(coarse, [height, width], method="bicubic")
    grid_y, grid_x = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    return bilinear_sample(images, grid_x + field[..., 0], grid_y + field[..., 1])


def change_thickness(images: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Thicker (dilate) or thinner (partial erode) strokes: canvas brushes versus fine pens."""
    batch = tf.shape(images)[0]
    dilated = tf.nn.max_pool2d(images, 3, 1, "SAME")
    thicker = tf.maximum(images, dilated * tf.reshape(uniform(batch, 0.5, 1.0), [batch, 1, 1, 1]))
    eroded = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
    thinner = 0.5 * (images + eroded)
    pick_thick = chance(batch, 0.6)
    changed = tf.where(pick_thick, thicker, thinner)
    return tf.where(chance(batch, cfg.thickness_probability), changed, images)


GAUSSIAN_3X3 = tf.constant([[1, 2, 1], [2, 4, 2], [1, 2, 1]], tf.float32)[:, :, None, None] / 16.0


def blur_binarize_noise(images: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Photo and threshold artefacts: hard edges, soft focus, sensor noise."""
    batch = tf.shape(images)[0]
    binary = tf.cast(images > uniform(batch, 0.3, 0.6)[:, None, None, None], images.dtype)
    images = tf.where(chance(batch, cfg.binarize_probability), binary, images)
    blurred = tf.nn.conv2d(images, GAUSSIAN_3X3, 1, "SAME")
    images = tf.where(chance(batch, cfg.blur_probability), blurred, images)
    noise = tf.random.normal(tf.shape(images)) * uniform(batch, 0, cfg.noise_std)[:, None, None, None]
    images = tf.where(chance(batch, cfg.noise_probability), images + noise, images)
    return tf.clip_by_value(images, 0.0, 1.0)


def augment_batch(images: tf.Tensor, cfg: AugmentConfig = AugmentConfig()) -> tf.Tensor:
    """Augment a (B, 28, 28, 1) float batch in [0, 1]; returns the same shape and range."""
    images = random_affine(images, cfg)
    images = elastic(images, cfg)
    images = change_thickness(images, cfg)
    return blur_binarize_noise(images, cfg)
