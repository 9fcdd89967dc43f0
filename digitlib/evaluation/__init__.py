"""Measuring models: accuracy, calibration, synthetic numbers, real-world pictures, speed."""
