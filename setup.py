"""The packages, and what pyproject.toml can't say next to a package search: the repository's top-level models/
ships inside the wheel as digitlib/models/, so an installed library finds its models
(digitlib.reading.classifier.shipped_models_dir).  Only what reading needs goes: each model's model.tflite and
card.json (~3.6 MB for the three); the .keras files (training) and the figures (the app's Model tab) stay behind."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["digitlib*"]), "digitlib.models"],
    package_dir={"digitlib.models": "models"},
    package_data={"digitlib.models": ["*/model.tflite", "*/card.json"]},
)
