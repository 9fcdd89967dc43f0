"""Where models live (shipped, the owner's, this visitor's), which one is every visitor's default, and the
cached classifiers shared by every session."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from digitlib import ModelError, available_models, load_classifier
from digitlib.app.access import is_owner
from digitlib.app.visitors import trained_models_root, visitor_id
from digitlib.reading import classifier as classifier_module
from digitlib.reading.classifier import DEFAULT_MODEL, MODEL_FILE, Classifier


def shipped_models_dir() -> Path:
    """The repository's models/ (read at call time, so tests can point it elsewhere)."""
    return classifier_module.MODELS_DIR


def trained_models_dir() -> Path:
    """Where this visitor's training runs save: the owner's go beside every visitor's view, a visitor's into a
    folder of their own, since a fine-tuned model carries something of their handwriting."""
    root = trained_models_root()
    return root if is_owner() else root / "sessions" / visitor_id()


def model_directories() -> list[Path]:
    """Shipped models first, then the owner's trained ones, then this visitor's."""
    shipped, root, own = shipped_models_dir(), trained_models_root(), trained_models_dir()
    trained = [
        path.parent
        for folder in dict.fromkeys([root, own])
        if folder.is_dir()
        for path in sorted(folder.glob(f"*/{MODEL_FILE}"))
    ]
    return [shipped / name for name in available_models(shipped)] + trained


def model_label(directory: Path) -> str:
    """A model's name as menus show it: short enough for a phone's sidebar (model_origin says where it is from)."""
    return directory.name


def model_origin(directory: Path) -> str:
    if directory.parent == shipped_models_dir():
        return "shipped with the app"
    return "trained here by the app's owner" if directory.parent == trained_models_root() else "trained by you"


def default_model_file() -> Path:
    """Where one server keeps the owner's choice of every visitor's default model (`app.stores.default_choice`)."""
    return trained_models_root() / "default-model.txt"


def model_key(directory: Path) -> str:
    """A shipped or owner's model as every server names it ("models/compact", "owner/fast-…"): the folders differ."""
    return f"models/{directory.name}" if directory.parent == shipped_models_dir() else f"owner/{directory.name}"


def model_from_key(key: str) -> Path:
    place, _, name = key.partition("/")
    return shipped_models_dir() / name if place == "models" else trained_models_root() / name


def app_default_model(directories: list[Path], chosen: str | None) -> Path:
    """The owner's chosen default (a `model_key`) if it still exists, else the shipped default, else the first."""
    for candidate in (model_from_key(chosen) if chosen else None, shipped_models_dir() / DEFAULT_MODEL):
        if candidate in directories:
            return candidate
    return directories[0]


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def cached_classifier(directory: str, modified: float) -> Classifier:
    """One classifier per model file version, shared by every session."""
    return load_classifier(directory)


def classifier_for(directory: Path) -> Classifier:
    """The cached classifier of a model directory; raises ModelError with the reason."""
    try:
        modified = (directory / MODEL_FILE).stat().st_mtime
    except OSError:
        raise ModelError(f"{directory / MODEL_FILE}: model file not found. Pick another model or train one.") from None
    return cached_classifier(str(directory), modified)
