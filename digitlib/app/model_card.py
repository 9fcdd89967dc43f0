"""The Model tab: the active model's whole story from its card — every training run behind it (the card nests the
run it started from under ``initialised_from``), accuracy per digit, curves, confusion matrix and speed."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st
from PIL import Image

from digitlib.app.display import duration, show_curves
from digitlib.app.models import cached_classifier, model_label
from digitlib.reading.classifier import MODEL_FILE, Classifier, weights_format

MNIST_TRAINING_IMAGES = 60_000
CARD_FIELDS = [
    "test_accuracy",
    "test_images",
    "parameters",
    "epochs",
    "training_images",
    "training_seconds",
    "architecture",
    "created",
    "per_class_accuracy",
    "history",
]


def training_runs(card: dict) -> list[dict]:
    """The runs that made the model, first to last: each fine-tune or polish names the run it started from."""
    runs = []
    while card:
        runs.append(card)
        card = card.get("initialised_from")
    return runs[::-1]


def training_images(run: dict) -> str:
    """Older runs nested in a card record their config only: no size there means all of MNIST's training split,
    less the share held out for validation.  Pictures of real handwriting added to a run are counted apart."""
    config = run.get("config") or {}
    size = (
        run.get("training_images")
        or config.get("train_size")
        or round(MNIST_TRAINING_IMAGES * (1 - (config.get("val_fraction") or 0)))
    )
    real = run.get("realworld") or {}
    return f"{size:,}" + (f" + {real['images']:,} real" if real.get("images") else "")


def real_handwriting(runs: list[dict]) -> str:
    """What the runs with real handwriting learnt from, in a sentence (empty when none did)."""
    real = next((run["realworld"] for run in reversed(runs) if run.get("realworld")), None)
    if not real:
        return ""
    return (
        f'"real": {real["pictures"]:,} photos and drawings of handwritten digits from {real["repositories"]} public '
        f"repositories (realworld-train), each shown {real['repeat']} times an epoch, as the reader's own pipeline "
        "turns them into 28x28 inputs."
    )


def run_row(number: int, run: dict, last: bool, model_name: str) -> str:
    config = run.get("config") or {}
    images = training_images(run)
    augmented = "yes" if run.get("augmentation") else "no"
    rate = config.get("learning_rate")
    accuracy = f"{run['test_accuracy']:.2%}" if run.get("test_accuracy") is not None else "n/a"
    name = "this model" if last else f"`{run.get('name', '?')}`"
    if not last and run.get("name") == model_name:
        name += " (an earlier version of it)"
    return (
        f"| {number}. {name} | {run.get('epochs', '?')} | {images} | {augmented} | "
        f"{'n/a' if rate is None else f'{rate:g}'} | {duration(run.get('training_seconds'))} | {accuracy} |"
    )


def export_note(card: dict) -> str:
    """How the file the reader runs holds the network, and each later export of the same weights."""
    note = f"The file the reader runs holds {weights_format(card)}."
    for export in card.get("exports", []):
        before = export["before"]
        note += (
            f" Exported again on {export['exported'][:10]} from {before['litert']} "
            f"(MNIST test accuracy then {before['test_accuracy']:.2%})."
        )
    return note


def show_story(card: dict) -> None:
    """Every run, how long each took, and the curves across them where the card keeps them."""
    runs = training_runs(card)
    st.markdown("#### How it was trained")
    if len(runs) > 1:
        epochs = sum(run.get("epochs", 0) for run in runs)
        seconds = sum(run.get("training_seconds", 0) for run in runs)
        st.write(
            f"In {len(runs)} runs, each starting from the weights the one before left: "
            f"{epochs} epochs in {duration(seconds)}."
        )
    st.markdown(
        "\n".join(
            [
                "| run | epochs | training images | augmented | learning rate | time | MNIST test accuracy after |",
                "|---|---:|---:|---|---:|---:|---:|",
                *(run_row(i, run, run is card, card.get("name")) for i, run in enumerate(runs, start=1)),
            ]
        )
    )
    if note := real_handwriting(runs):
        st.caption(note)
    recorded = len(runs)  # the curves run across the last runs that kept their epoch-by-epoch history
    while recorded and runs[recorded - 1].get("history", {}).get("loss"):
        recorded -= 1
    with_history = runs[recorded:]
    if recorded:
        missing = ", ".join(f"`{run.get('name', '?')}`" for run in runs[:recorded])
        st.caption(f"The curves start at run {recorded + 1}: the card keeps only the totals of {missing}.")
    history = {
        metric: [value for run in with_history for value in run["history"].get(metric, [])]
        for metric in card["history"]
    }
    boundaries = [
        (run.get("name", f"run {i}"), len(run["history"]["loss"]))
        for i, run in enumerate(with_history, start=recorded + 1)
    ]
    show_curves(history, boundaries if len(boundaries) > 1 else ())


def model_page(clf: Classifier) -> None:
    card = clf.card
    st.subheader(model_label(clf.directory))
    missing = [name for name in CARD_FIELDS if name not in card]
    if missing:
        st.warning(
            f"{clf.directory.name}/card.json: the model card is missing or lacks {', '.join(missing)}, so "
            "its training can't be shown. `python -m digitlib train` writes a complete card."
        )
        return
    runs = training_runs(card)
    accuracy, parameters, epochs, seconds = st.columns(4)
    accuracy.metric(
        "Test accuracy", f"{card['test_accuracy']:.2%}", help=f"on {card['test_images']:,} MNIST test images"
    )
    parameters.metric("Parameters", f"{card['parameters']:,}")
    epochs.metric(
        "Epochs",
        sum(run.get("epochs", 0) for run in runs),
        help=" + ".join(str(run.get("epochs", "?")) for run in runs) + f" over {len(runs)} run(s), "
        f"on {card['training_images']:,} training images",
    )
    seconds.metric(
        "Training time",
        duration(sum(run.get("training_seconds", 0) for run in runs)),
        help=" + ".join(duration(run.get("training_seconds")) for run in runs) + " on a 2-core CPU",
    )
    single_ms, per_second = inference_speed(str(clf.directory), (clf.directory / MODEL_FILE).stat().st_mtime)
    st.caption(
        f"Inference here: {single_ms:.2f} ms for one image, {per_second:,.0f} images/s in batches. "
        f"Architecture `{card['architecture']}`, created {card['created'][:10]}. {export_note(card)}"
    )
    show_story(card)

    st.markdown("#### Test error per digit")
    errors = [round(100 * (1 - accuracy), 2) for accuracy in card["per_class_accuracy"]]
    st.vega_lite_chart(
        {
            "layer": [
                {  # the data inside a layer: Streamlit sends it as it is, Vega gets it whole
                    "data": {"values": [{"digit": str(d), "error": e} for d, e in enumerate(errors)]},
                    "mark": {"type": "bar", "tooltip": True},
                    "encoding": {
                        "x": {"field": "digit", "type": "nominal", "title": "digit", "axis": {"labelAngle": 0}},
                        "y": {"field": "error", "type": "quantitative", "title": "test error (%)", "stack": None},
                    },
                }
            ]
        },
        height=220,
        width="stretch",
        alt="Test error per digit: " + ", ".join(f"{d}: {e:.2f}%" for d, e in enumerate(errors)),
    )
    st.markdown("#### Confusion matrix")
    confusion_chart(card.get("confusion_matrix"))
    st.markdown("#### Misclassified test digits")
    path = clf.directory / "misclassified.png"
    if path.is_file():
        st.caption("Each is labelled true digit → what the model read.")
        for half in halves(str(path), path.stat().st_mtime):
            st.image(half, alt=f"Misclassified MNIST test digits of {clf.directory.name}")
    else:
        st.caption(f"{path.name} is missing: `python -m digitlib evaluate --model {clf.directory.name}` draws it.")
    downloads(clf)


def confusion_chart(matrix: list[list[int]] | None) -> None:
    """True digit down, digit read across, every count written in a colour that stands out from its cell."""
    if not matrix:
        st.caption("This model's card has no confusion matrix.")
        return
    cells = [
        {"true": str(t), "read": str(r), "count": count} for t, row in enumerate(matrix) for r, count in enumerate(row)
    ]
    dark_from = max(count for row in matrix for count in row) / 2  # the colour scale's darker half gets white text
    axis = {"labelAngle": 0, "labelFontSize": 13}
    position = {
        "x": {"field": "read", "type": "ordinal", "title": "digit read", "axis": axis | {"orient": "top"}},
        "y": {
            "field": "true",
            "type": "ordinal",
            "title": "true digit",
            "axis": axis | {"titleAngle": 0, "titleAlign": "right", "titleBaseline": "bottom", "titleY": -6},
        },
    }
    st.vega_lite_chart(
        {
            "layer": [  # the data inside each layer: Streamlit sends it as it is, and Vega never sees an empty table
                {
                    "data": {"values": cells},
                    "mark": "rect",
                    "encoding": position
                    | {
                        "color": {
                            "field": "count",
                            "type": "quantitative",
                            "scale": {"type": "symlog", "scheme": "blues"},
                            "legend": None,
                        }
                    },
                },
                {
                    "data": {"values": cells},
                    "mark": {"type": "text", "fontSize": 12},
                    "encoding": position
                    | {
                        "text": {"field": "count", "type": "quantitative"},
                        "color": {
                            "condition": {"test": f"datum.count > {dark_from}", "value": "white"},
                            "value": "black",
                        },
                    },
                },
            ],
        },
        height=360,
        width="stretch",
        alt="Confusion matrix on the MNIST test set: "
        + "; ".join(f"true {t}: {row[t]} read right" for t, row in enumerate(matrix)),
    )


@st.cache_data(show_spinner=False)
def halves(path: str, modified: float) -> list[np.ndarray]:
    """The misclassified figure cut into its left and right halves between two columns of pictures, each shown as
    wide as the page, so the labels are twice as large as the whole figure would show them."""
    picture = np.asarray(Image.open(path).convert("RGB"))
    grey = picture.mean(axis=2)
    top = int(np.argmax((grey < 60).mean(axis=1) > 0.3))  # the first row of pictures (black squares)...
    top = max(0, top - round(picture.shape[0] * 0.05))  # ...and its labels above; the title goes (the page has one)
    white = np.flatnonzero((grey[top:] > 240).all(axis=0))
    middle = int(white[np.argmin(abs(white - picture.shape[1] / 2))]) if white.size else picture.shape[1] // 2
    return [picture[top:, :middle], picture[top:, middle:]]


@st.cache_data(show_spinner="Timing the model…")
def inference_speed(directory: str, modified: float) -> tuple[float, float]:
    """Median milliseconds for one image, and images per second over a batch of 1,000."""
    clf = cached_classifier(directory, modified)
    images = np.random.default_rng(0).random((1000, 28, 28), dtype=np.float32)
    single = []
    for image in images[:50]:
        started = time.perf_counter()
        clf.predict_prepared(image[None])
        single.append(time.perf_counter() - started)
    started = time.perf_counter()
    clf.predict_prepared(images)
    return 1000 * float(np.median(single)), len(images) / (time.perf_counter() - started)


DOWNLOADS = (
    ("model.keras", "Keras model (.keras)", "for training further"),
    ("model.tflite", "LiteRT model (.tflite)", "what the app runs"),
    ("card.json", "Model card (.json)", "how it was trained and how well it does"),
)


def downloads(clf: Classifier) -> None:
    """The model's files, named after the model; read only when clicked, and no server path shown."""
    st.markdown("#### Downloads")
    for column, (file, label, purpose) in zip(st.columns(len(DOWNLOADS)), DOWNLOADS):
        path = clf.directory / file
        if path.is_file():
            column.download_button(
                label,
                path.read_bytes,
                file_name=f"{clf.name}-{file}",
                help=purpose,
                mime="application/json" if file.endswith(".json") else "application/octet-stream",
                key=f"download-{file}",
            )
        else:
            column.caption(f"{label}: not in this model's folder.")
