"""Training (imports TensorFlow): fitting, augmentation, fine-tuning, atomic saving, and background jobs."""
