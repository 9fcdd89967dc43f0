"""Real pictures among MNIST's: repeated so they count, and varied so repeats are not copies to memorise."""

from __future__ import annotations

import numpy as np

from digitlib.training.realworld_data import RealworldSet

# Milder than the batch augmentation MNIST gets (augment.AugmentConfig): these are already the pipeline's output
# (stroke width, size and centre of mass normalised), so only the hand's own variation is added: a little slant,
# size, shift and wobble.  Binarising and noise would imitate camera artefacts the pipeline has already removed.
LIGHT = dict(
    rotation_degrees=8.0,
    scale_range=(0.9, 1.1),
    shear=0.1,
    shift_pixels=1.5,
    elastic_pixels=0.8,
    thickness_probability=0.3,
    binarize_probability=0.0,
    blur_probability=0.1,
    noise_probability=0.0,
)


def oversampled(realworld: RealworldSet, repeat: int, vary: bool) -> tuple[np.ndarray, np.ndarray]:
    """The pictures ``repeat`` times as uint8 (N*repeat, 28, 28) with labels; with ``vary`` every copy after the
    first is lightly augmented (for runs that do not augment their batches, which would otherwise show the
    very same images ``repeat`` times an epoch)."""
    images = np.concatenate([realworld.images] * repeat)
    labels = np.concatenate([realworld.labels] * repeat)
    if vary and repeat > 1:
        import tensorflow as tf

        from digitlib.training.augment import AugmentConfig, augment_batch

        copies = tf.constant(images[len(realworld) :, ..., None], tf.float32) / 255.0
        varied = augment_batch(copies, AugmentConfig(**LIGHT)).numpy()[..., 0]
        images[len(realworld) :] = np.round(varied * 255).astype(np.uint8)
    return images, labels
