"""What every tab shares: where models live, the cached classifier and store, the model picker, small pictures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from platformdirs import user_data_path

from digitlib import ModelError, available_models, load_classifier
from digitlib import classifier as classifier_module
from digitlib.classifier import DEFAULT_MODEL, MODEL_FILE, Classifier
from digitlib.store import CorrectionStore, StoreError, default_path

ENLARGE = 6  # the 28x28 input shown as 168x168, pixel for pixel


def shipped_models_dir() -> Path:
    """The repository's models/ (read at call time, so tests can point it elsewhere)."""
    return classifier_module.MODELS_DIR


def trained_models_dir() -> Path:
    """Models trained in the app go to the user's data directory (beside the corrections store), not into the
    repository, unless the user asks to save into models/."""
    return Path(os.environ.get("DIGITLIB_TRAINED_MODELS_DIR", user_data_path("digitlib") / "models"))


def model_directories() -> list[Path]:
    """Shipped models first, then the ones trained in the app."""
    shipped, trained = shipped_models_dir(), trained_models_dir()
    trained_models = sorted(trained.glob(f"*/{MODEL_FILE}")) if trained.is_dir() else []
    return [shipped / name for name in available_models(shipped)] + [path.parent for path in trained_models]


def model_label(directory: Path) -> str:
    return f"{directory.name} ({'shipped' if directory.parent == shipped_models_dir() else 'trained here'})"


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


def model_picker() -> Classifier | None:
    """Sidebar: choose the active model (default: the shipped default) and load it, or say why not."""
    directories = model_directories()
    shipped = shipped_models_dir()
    if not directories:
        st.sidebar.error(f"No trained model in {shipped}. Train one on the Train tab.")
        return None
    if st.session_state.get("active_model") not in map(str, directories):
        default = shipped / DEFAULT_MODEL
        st.session_state.active_model = str(default if default in directories else directories[0])
        if default not in directories:
            st.sidebar.warning(f"The default model '{DEFAULT_MODEL}' is not in {shipped.name}/ yet; "
                               f"using '{directories[0].name}'.")
    if st.session_state.get("model_choice") != Path(st.session_state.active_model):
        st.session_state.model_choice = Path(st.session_state.active_model)  # e.g. "make active" on the Train tab
    choice = st.sidebar.selectbox("Active model", directories, format_func=model_label, key="model_choice",
                                  on_change=lambda: st.session_state.update(active_model=str(st.session_state.model_choice)))
    try:
        clf = classifier_for(choice)
    except ModelError as exc:
        st.sidebar.error(str(exc))
        return None
    if "test_accuracy" in clf.card:
        st.sidebar.caption(f"MNIST test accuracy {clf.card['test_accuracy']:.2%}")
    return clf


@st.cache_resource
def cached_store(path: Path) -> CorrectionStore:
    return CorrectionStore(path)


def correction_store() -> CorrectionStore | None:
    """The shared corrections database, or None with the reason shown (e.g. a foreign file at its path)."""
    try:
        return cached_store(default_path())
    except StoreError as exc:
        st.error(f"Corrections can't be kept: {exc}")
        return None


def as_picture(array: np.ndarray) -> np.ndarray:
    """Any intermediate image (bool, float in [0, 1], uint8) as uint8 for st.image."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    return (np.clip(array.astype(np.float32), 0, 1) * 255).astype(np.uint8)


def enlarged(image28: np.ndarray) -> Image.Image:
    """The 28x28 input scaled up pixel for pixel, so its pixels stay visible."""
    return Image.fromarray(as_picture(image28)).resize((28 * ENLARGE, 28 * ENLARGE), Image.NEAREST)


def percent(share: float) -> str:
    """A probability or accuracy as people read it: 98.1%, never "100.0%" for 0.9996 nor "0.0%" for 0.0004."""
    if 0.999 <= share < 1:
        return "> 99.9%"
    if 0 < share < 0.001:
        return "< 0.1%"
    return f"{share:.1%}"


def duration(seconds: float | None) -> str:
    """Seconds as people say them: "45 s", "38 min", "1 h 13 min"."""
    if seconds is None:
        return "n/a"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


SERIES = {"training": ("#0072B2", [1, 0]), "validation": ("#E69F00", [6, 3])}  # colour-blind-safe, and dashed


def show_curves(history: dict[str, list[float]], runs: list[tuple[str, int]] = ()) -> None:
    """Loss and accuracy per epoch, training (solid blue) and validation (dashed orange), with a legend and
    axis titles; ``runs`` (name, epochs) marks where each run of a model trained in several runs began."""
    epochs = len(history.get("loss", []))
    boundaries, first_epoch = [], 1
    for name, run_epochs in runs:
        boundaries.append({"epoch": first_epoch - 0.5, "run": name})
        first_epoch += run_epochs
    for column, (metric, axis_format) in zip(st.columns(2), (("loss", ".3f"), ("accuracy", ".1%"))):
        values = [{"epoch": epoch, metric: value, "series": name}
                  for prefix, name in (("", "training"), ("val_", "validation"))
                  if len(history.get(prefix + metric, [])) == epochs
                  for epoch, value in enumerate(history[prefix + metric], start=1)]
        lines = {
            "data": {"values": values},  # inside a layer, so Streamlit sends it as it is, not through Arrow
            "mark": {"type": "line", "point": epochs < 30},
            "encoding": {
                "x": {"field": "epoch", "type": "quantitative", "title": "epoch", "axis": {"tickMinStep": 1}},
                "y": {"field": metric, "type": "quantitative", "title": metric, "scale": {"zero": False},
                      "axis": {"format": axis_format}},
                "color": {"field": "series", "type": "nominal", "title": None,
                          "legend": {"orient": "top", "symbolType": "stroke", "symbolStrokeWidth": 3},
                          "scale": {"domain": list(SERIES), "range": [c for c, _ in SERIES.values()]}},
                "strokeDash": {"field": "series", "type": "nominal", "legend": None,
                               "scale": {"domain": list(SERIES), "range": [d for _, d in SERIES.values()]}},
                "tooltip": [{"field": "series"}, {"field": "epoch"}, {"field": metric, "format": axis_format}],
            },
        }
        layers = [lines]
        if len(boundaries) > 1:  # a rule and the run's name where each run began
            layers.append({"data": {"values": boundaries}, "mark": {"type": "rule", "color": "grey", "strokeDash": [2, 2]},
                           "encoding": {"x": {"field": "epoch", "type": "quantitative"}}})
            layers.append({"data": {"values": boundaries},
                           "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 3, "y": 2, "color": "grey"},
                           "encoding": {"x": {"field": "epoch", "type": "quantitative"}, "text": {"field": "run"}}})
        last = {name: history[prefix + metric][-1] for prefix, name in (("", "training"), ("val_", "validation"))
                if history.get(prefix + metric)}
        column.vega_lite_chart({"layer": layers}, height=240, width="stretch",
                               alt=f"{metric} per epoch over {epochs} epochs; last epoch: " + ", ".join(
                                   f"{name} {value:{axis_format}}" for name, value in last.items()))
