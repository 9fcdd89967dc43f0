"""The Model tab: the active model's card, accuracy per digit, curves, confusion matrix and speed."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from digitlib.app.common import cached_classifier, model_label, show_curves
from digitlib.classifier import MODEL_FILE, Classifier

CARD_FIELDS = ["test_accuracy", "test_images", "parameters", "epochs", "training_images", "training_seconds",
               "architecture", "created", "per_class_accuracy", "history"]


def model_page(clf: Classifier) -> None:
    card = clf.card
    st.subheader(model_label(clf.directory))
    missing = [name for name in CARD_FIELDS if name not in card]
    if missing:
        st.warning(f"{clf.directory.name}/card.json: the model card is missing or lacks {', '.join(missing)}, so "
                   "its training can't be shown. `python -m digitlib train` writes a complete card.")
        return
    accuracy, parameters, epochs, seconds = st.columns(4)
    accuracy.metric("Test accuracy", f"{card['test_accuracy']:.2%}", help=f"on {card['test_images']:,} MNIST test images")
    parameters.metric("Parameters", f"{card['parameters']:,}")
    epochs.metric("Epochs", card["epochs"], help=f"on {card['training_images']:,} training images")
    seconds.metric("Training time", f"{card['training_seconds']:.0f} s")
    single_ms, per_second = inference_speed(str(clf.directory), (clf.directory / MODEL_FILE).stat().st_mtime)
    st.caption(f"Inference here: {single_ms:.2f} ms for one image, {per_second:,.0f} images/s in batches. "
               f"Architecture {card['architecture']}, created {card['created']}.")

    st.markdown("#### Test error per digit")
    st.bar_chart({"digit": [str(d) for d in range(10)],
                  "error (%)": [round(100 * (1 - accuracy), 2) for accuracy in card["per_class_accuracy"]]},
                 x="digit", y="error (%)", height=220, sort=False)
    st.markdown("#### Training curves")
    show_curves(card["history"])
    for figure, title in (("confusion.png", "Confusion matrix"), ("misclassified.png", "Misclassified test digits")):
        st.markdown(f"#### {title}")
        path = clf.directory / figure
        if path.is_file():
            st.image(str(path))
        else:
            st.caption(f"{path.name} is missing: `python -m digitlib evaluate --model {clf.directory.name}` draws it.")
    downloads(clf)


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


DOWNLOADS = (("model.keras", "Keras model (.keras)", "for training further"),
             ("model.tflite", "LiteRT model (.tflite)", "what the app runs"),
             ("card.json", "Model card (.json)", "how it was trained and how well it does"))


def downloads(clf: Classifier) -> None:
    """The model's files, named after the model; read only when clicked, and no server path shown."""
    st.markdown("#### Downloads")
    for column, (file, label, purpose) in zip(st.columns(len(DOWNLOADS)), DOWNLOADS):
        path = clf.directory / file
        if path.is_file():
            column.download_button(label, path.read_bytes, file_name=f"{clf.name}-{file}", help=purpose,
                                   mime="application/json" if file.endswith(".json") else "application/octet-stream",
                                   key=f"download-{file}")
        else:
            column.caption(f"{label}: not in this model's folder.")
