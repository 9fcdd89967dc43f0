"""Digit Classifier: draw, upload or photograph digits; train and inspect the CNN that reads them.

UI only: every reading, explanation, training run and model card comes from digitlib.  TensorFlow
is imported only when a training run starts, so the page is usable within seconds of launch.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw
from platformdirs import user_data_path

from digitlib import (DataError, DigitReading, ImageError, ModelError, Reading, available_models, load_classifier,
                      read_number)
from digitlib.classifier import DEFAULT_MODEL, MODEL_FILE, MODELS_DIR, Classifier
from digitlib.explain import overlay, saliency
from digitlib.store import CorrectionStore, StoreError, default_path

# Models trained in the app go to the user's data directory (beside the corrections store), not into
# the repository, unless the user ticks "save into models/".
TRAINED_MODELS_DIR = Path(os.environ.get("DIGITLIB_TRAINED_MODELS_DIR", user_data_path("digitlib") / "models"))
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]
CANVAS_WIDTH, CANVAS_HEIGHT = 640, 240
ENLARGE = 6  # the 28x28 input shown as 168x168, pixel for pixel
DIGITS_PER_ROW = 4
SAMPLES_PER_PAGE = 30
CARD_FIELDS = ["test_accuracy", "test_images", "parameters", "epochs", "training_images", "training_seconds",
               "architecture", "created", "per_class_accuracy", "history"]

# Training recipes offered (digitlib.train.PRESETS): what each is, and its seconds per training image
# per epoch, measured with digitlib.train.fit on 3,000 images on this project's 2-core machine while
# it was busy (a cautious estimate; "fast": 1 / its 559 plain images/s in benchmarks/results.md;
# "compact": its shipped run, 15 augmented epochs of 54,000 images in 2,134 s on one core).
# A run adds RUN_OVERHEAD_SECONDS for TensorFlow, MNIST, export
# and scoring the 10,000 test images: a 500-image, 1-epoch run in the app took about a minute.
RECIPES = {
    "compact": ("the default model: small BN CNN with augmentation, ~0.13M parameters", 0.0026),
    "fast": ("small BN CNN, ~0.16M parameters: the quickest to 99.5%", 0.0018),
    "baseline": ("the seed project's CNN, ~0.23M parameters", 0.0017),
    "strong": ("VGG-style CNN with augmentation, ~0.55M parameters: 3x slower to read", 0.0107),
}
RUN_OVERHEAD_SECONDS = 60

EMPTY_CANVAS_HINT = "Draw a digit, or a whole number in a row, in the box above: the reading appears as you draw."


# ---------------------------------------------------------------- models


def model_directories() -> list[Path]:
    """Shipped models first, then the ones trained in the app."""
    trained = sorted(TRAINED_MODELS_DIR.glob(f"*/{MODEL_FILE}")) if TRAINED_MODELS_DIR.is_dir() else []
    return [MODELS_DIR / name for name in available_models(MODELS_DIR)] + [path.parent for path in trained]


def model_label(directory: Path) -> str:
    return f"{directory.name} ({'shipped' if directory.parent == MODELS_DIR else 'trained here'})"


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
    if not directories:
        st.sidebar.error(f"No trained model in {MODELS_DIR}. Train one on the Train tab.")
        return None
    if st.session_state.get("active_model") not in map(str, directories):
        default = MODELS_DIR / DEFAULT_MODEL
        st.session_state.active_model = str(default if default in directories else directories[0])
        if default not in directories:
            st.sidebar.warning(f"The default model '{DEFAULT_MODEL}' is not in {MODELS_DIR.name}/ yet; "
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


# ---------------------------------------------------------------- showing a reading


def as_picture(array: np.ndarray) -> np.ndarray:
    """Any intermediate image (bool, float in [0, 1], uint8) as uint8 for st.image."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    return (np.clip(array.astype(np.float32), 0, 1) * 255).astype(np.uint8)


def enlarged(image28: np.ndarray) -> Image.Image:
    """The 28x28 input scaled up pixel for pixel, so its pixels stay visible."""
    return Image.fromarray(as_picture(image28)).resize((28 * ENLARGE, 28 * ENLARGE), Image.NEAREST)


def with_boxes(reading: Reading) -> Image.Image:
    """The upright picture on white with a labelled box around every digit read."""
    picture = Image.fromarray(as_picture(reading.steps["upright"])).convert("RGBA")
    picture = Image.alpha_composite(Image.new("RGBA", picture.size, "white"), picture).convert("RGB")
    scale = picture.width / reading.size[0]  # boxes are in the original's pixels, the picture may be smaller
    pen = ImageDraw.Draw(picture)
    line = max(2, round(max(picture.size) / 250))
    for digit in reading.digits:
        x0, y0, x1, y1 = (round(v * scale) for v in digit.box)
        pen.rectangle((x0, y0, x1, y1), outline=(228, 87, 46), width=line)
        pen.text((x0 + line, y1 + line), f"{digit.digit} {digit.confidence:.0%}", fill=(228, 87, 46),
                 font_size=max(12, line * 6))
    return picture


def probability_chart(probabilities: np.ndarray) -> None:
    st.bar_chart({"digit": [str(d) for d in range(10)], "probability": [float(p) for p in probabilities]},
                 x="digit", y="probability", horizontal=True, height=280, sort=False)


@st.cache_data(show_spinner=False, max_entries=512)
def cached_saliency(_clf: Classifier, model_id: int, image: np.ndarray) -> np.ndarray:
    """Occlusion saliency costs ~0.1 s a digit: once per loaded model (``id``) and image, not on every rerun."""
    return saliency(_clf, image)


def seen_and_saliency(digit: DigitReading, clf: Classifier) -> np.ndarray:
    """The 28x28 the model saw beside the same image with the pixels that drove the reading lit up."""
    seen = np.repeat(np.asarray(enlarged(digit.image))[..., None], 3, axis=2)
    lit = overlay(digit.image, cached_saliency(clf, id(clf), digit.image), scale=ENLARGE)
    return np.hstack([seen, np.full((seen.shape[0], ENLARGE, 3), 255, np.uint8), lit])


def show_digit(digit: DigitReading, clf: Classifier) -> None:
    """One digit: what the model saw and what drove it, confidence, top-3 and the ten probabilities."""
    st.image(seen_and_saliency(digit, clf), caption="what the model saw · what drove it")
    st.markdown(f"**{digit.digit}** · {digit.confidence:.1%} sure")
    st.caption("top 3: " + ", ".join(f"{d} ({p:.1%})" for d, p in digit.top3))
    probability_chart(digit.probabilities)


def show_reading(reading: Reading, original: bytes, clf: Classifier, key: str) -> None:
    """The number read, how sure, the boxes on the original, every digit in detail, and a way to correct it."""
    number, sure = st.columns(2)
    number.metric("Number read", reading.text)
    sure.metric("Confidence", f"{reading.confidence:.1%}", help="of the least certain digit")
    if reading.low_confidence:
        st.warning("Not sure about this one: see the top-3 of each digit below.")
    st.image(with_boxes(reading), caption="digits found")
    for row in range(0, len(reading.digits), DIGITS_PER_ROW):
        for column, digit in zip(st.columns(DIGITS_PER_ROW), reading.digits[row : row + DIGITS_PER_ROW]):
            with column:
                show_digit(digit, clf)
    correction_form(reading, original, key)


def correction_form(reading: Reading, original: bytes, key: str) -> None:
    """Wrong reading? The right digits are stored, one per digit found, for fine-tuning later."""
    with st.form(f"correct-{key}", clear_on_submit=True, border=False):
        answer, save = st.columns([3, 1], vertical_alignment="bottom")
        label = answer.text_input("Wrong? Type the right number", placeholder=reading.text, key=f"label-{key}")
        if save.form_submit_button("Save correction") and (store := correction_store()) is not None:
            try:
                store.add([digit.image for digit in reading.digits], label, original)
            except (ValueError, StoreError) as exc:
                st.error(f"Not saved: {exc}")
            else:
                st.success(f"Saved {label}: thank you. The Corrections tab can fine-tune the model on it.")


# ---------------------------------------------------------------- Draw and Upload


@st.fragment
def draw_page(clf: Classifier) -> None:
    from streamlit_drawable_canvas import st_canvas  # Components v2: importable only inside a running app

    st.session_state.setdefault("canvas_version", 0)
    brush, clear = st.columns([4, 1], vertical_alignment="bottom")
    stroke_width = brush.slider("Brush width", 6, 40, 18, key="stroke_width")
    if clear.button("Clear", width="stretch"):
        st.session_state.canvas_version += 1
    canvas = st_canvas(
        stroke_width=stroke_width, stroke_color="#000000", background_color="#FFFFFF",
        width=CANVAS_WIDTH, height=CANVAS_HEIGHT, return_image_data=True,
        key=f"canvas-{st.session_state.canvas_version}",
    )
    reading = None if canvas.image_data is None else read_number(canvas.image_data, clf)
    if reading is None or reading.is_empty:
        st.info(EMPTY_CANVAS_HINT)
    else:
        show_reading(reading, canvas.image_bytes, clf, key="canvas")


@st.fragment
def upload_page(clf: Classifier) -> None:
    files = st.file_uploader("Photos or scans of digits and numbers (PNG, JPEG, WebP, GIF, BMP, TIFF)",
                             type=UPLOAD_TYPES, accept_multiple_files=True)
    photo = st.camera_input("Take a photo of a digit or number") if st.toggle("Use the camera") else None
    sources = [*files, *([photo] if photo else [])]
    if not sources:
        st.info("Upload one or more images, or switch the camera on: each is read as a number.")
    for index, source in enumerate(sources):
        with st.container(border=True, key=f"upload-{index}"):
            st.subheader(source.name)
            show_upload(source.getvalue(), source.name, clf, key=f"upload-{index}")


def show_upload(data: bytes, name: str, clf: Classifier, key: str) -> None:
    """Read one uploaded image; a bad file gets its own message and doesn't stop the others."""
    try:
        reading = read_number(data, clf)
    except ImageError as exc:
        st.error(f"{name}: {exc}")
        return
    if reading.is_empty:
        st.warning(f"{name}: no digit found in this image.")
    else:
        show_reading(reading, data, clf, key)
    with st.expander("Preprocessing steps"):
        for column, (step, picture) in zip(st.columns(len(reading.steps)), reading.steps.items()):
            column.image(as_picture(picture), caption=step, width="stretch")


# ---------------------------------------------------------------- Train


def show_curves(history: dict[str, list[float]]) -> None:
    """Loss and accuracy per epoch, training and validation, as native line charts."""
    epochs = list(range(1, len(history.get("loss", [])) + 1))
    for column, metric in zip(st.columns(2), ("loss", "accuracy")):
        series = {"epoch": epochs} | {
            name: history[prefix + metric]
            for prefix, name in (("", "training"), ("val_", "validation"))
            if len(history.get(prefix + metric, [])) == len(epochs)
        }
        column.caption(metric)
        column.line_chart(series, x="epoch", height=220)


def live_progress():
    """A progress bar and curves that follow a run: the hook train() reports to."""
    bar = st.progress(0.0, text="Loading TensorFlow and MNIST…")
    curves = st.empty()
    started = time.perf_counter()

    def on_progress(p) -> None:
        if p.phase == "batch":
            bar.progress((p.epoch - 1 + p.batch / p.batches) / p.epochs,
                         text=f"epoch {p.epoch}/{p.epochs}, batch {p.batch}/{p.batches} · "
                              f"loss {p.logs.get('loss', 0):.3f} · {time.perf_counter() - started:.0f} s")
        elif p.phase == "epoch":
            with curves.container():
                show_curves(p.history)
        else:
            bar.progress(1.0, text=p.message)

    return on_progress


@st.fragment
def train_page() -> None:
    st.write("Train a CNN on MNIST right here. The small defaults finish in a minute or two and fit "
             "Streamlit Community Cloud's memory; the shipped models were trained on all 60,000 images.")
    recipe = st.selectbox("Architecture", list(RECIPES), format_func=lambda r: f"{r}: {RECIPES[r][0]}", key="recipe")
    epochs_column, batch_column, size_column = st.columns(3)
    epochs = epochs_column.number_input("Epochs", 1, 30, 2, key="epochs")
    batch_size = batch_column.select_slider("Batch size", [32, 64, 128, 256, 512], 128, key="batch_size")
    train_size = size_column.number_input("Training images", 500, 54_000, 5_000, step=500, key="train_size")
    into_repo = st.checkbox(f"Save into {MODELS_DIR} (otherwise {TRAINED_MODELS_DIR})", key="into_repo")
    minutes = (RUN_OVERHEAD_SECONDS + RECIPES[recipe][1] * epochs * train_size) / 60
    st.caption(f"Estimated time: about {minutes:.1f} min on a 2-core CPU. Stay on this tab while it trains.")

    if st.button("Start training", type="primary"):
        from digitlib.train import from_preset, train  # TensorFlow is imported when the run starts, never before

        config = from_preset(recipe, epochs=int(epochs), batch_size=int(batch_size), train_size=int(train_size))
        out = (MODELS_DIR if into_repo else TRAINED_MODELS_DIR) / f"{recipe}-{datetime.now():%Y%m%d-%H%M%S}"
        st.session_state.trained = run_job(lambda hook: train(config, out, hook), out)
    if st.session_state.get("trained"):
        show_new_model(*st.session_state.trained)


def run_job(job, out: Path) -> tuple[Path, dict] | None:
    """Run a training job with live progress; returns (model directory, card), or None with the reason shown."""
    try:
        return out, job(live_progress())
    except DataError as exc:
        st.error(f"MNIST can't be loaded, so there is nothing to train on. {exc}")
    except (ValueError, ModelError, StoreError) as exc:
        st.error(f"Can't train: {exc}")
    return None


def show_new_model(directory: Path, card: dict) -> None:
    """A model just trained or fine-tuned: how good, its curves, and a button to start using it."""
    st.success(f"Saved **{directory.name}** in {directory.parent}: test accuracy "
               f"{card['test_accuracy']:.2%} on {card['test_images']:,} MNIST test images.")
    show_curves(card["history"])
    if st.session_state.get("active_model") == str(directory):
        st.info(f"{directory.name} is the active model.")
    elif st.button(f"Make {directory.name} the active model", key=f"activate-{directory.name}"):
        st.session_state.active_model = str(directory)
        st.rerun(scope="app")


# ---------------------------------------------------------------- Model


def model_page(clf: Classifier) -> None:
    card = clf.card
    st.subheader(model_label(clf.directory))
    missing = [name for name in CARD_FIELDS if name not in card]
    if missing:
        st.warning(f"{clf.directory / 'card.json'}: the model card is missing or lacks {', '.join(missing)}, so "
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
            st.caption(f"{path.name} is missing: `python -m digitlib evaluate --model {clf.directory}` draws it.")


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


# ---------------------------------------------------------------- Corrections


@st.fragment
def corrections_page() -> None:
    store = correction_store()
    if store is None:
        return
    counts = store.counts()
    st.write(f"**{sum(counts.values())}** corrected digits in `{store.path}`. Correct a wrong reading on the "
             "Draw or Upload tab; fine-tune the model on them below.")
    st.bar_chart({"digit": [str(d) for d in counts], "samples": list(counts.values())},
                 x="digit", y="samples", height=200, sort=False)
    if not any(counts.values()):
        return
    browse_samples(store)
    npz, idx = st.columns(2)
    npz.download_button("Download as .npz", lambda: exported(store.export_npz, "corrections.npz"),
                        file_name="corrections.npz", mime="application/octet-stream")
    idx.download_button("Download as MNIST IDX (zip)", lambda: exported(store.export_idx, "idx"),
                        file_name="corrections-idx.zip", mime="application/zip")
    finetune_section(store)


def finetune_section(store: CorrectionStore) -> None:
    """Fine-tune the active model on MNIST plus the corrections, then compare before and after."""
    st.markdown("#### Fine-tune on this handwriting")
    base = Path(st.session_state.get("active_model", MODELS_DIR / DEFAULT_MODEL))
    epochs = st.number_input("Epochs", 1, 20, 3, key="finetune_epochs")
    st.caption("A quarter of the corrections is held out to measure the change; MNIST is mixed in so it isn't forgotten.")
    if st.button(f"Fine-tune {base.name}", type="primary"):
        from digitlib.finetune import FinetuneConfig, finetune  # TensorFlow is imported when the run starts

        config = FinetuneConfig(store_path=str(store.path), base_model=str(base), epochs=int(epochs))
        out = TRAINED_MODELS_DIR / f"{base.name}-finetuned-{datetime.now():%Y%m%d-%H%M%S}"
        st.session_state.finetuned = run_job(lambda hook: finetune(config, out, hook), out)
    if st.session_state.get("finetuned"):
        directory, card = st.session_state.finetuned
        for column, (figure, name) in zip(st.columns(2), (("mnist_test_accuracy", "MNIST test accuracy"),
                                                           ("held_out_accuracy", "held-out corrections"))):
            before, after = card["finetune"]["before"][figure], card["finetune"]["after"][figure]
            column.metric(name, "n/a" if after is None else f"{after:.1%}",
                          delta=None if None in (before, after) else f"{after - before:+.1%}")
        show_new_model(directory, card)


def browse_samples(store: CorrectionStore) -> None:
    """Pages of stored samples, newest first, each with a delete button."""
    shown_digit, page_number = st.columns(2)
    digit = shown_digit.selectbox("Show", [None, *range(10)], format_func=lambda d: "all digits" if d is None else str(d))
    page = page_number.number_input("Page", 1, None, 1)
    samples = store.samples(SAMPLES_PER_PAGE, (page - 1) * SAMPLES_PER_PAGE, digit)
    for row in range(0, len(samples), 10):
        for column, sample in zip(st.columns(10), samples[row : row + 10]):
            column.image(enlarged(sample.image), caption=f"{sample.label} · #{sample.id}")
            if column.button("Delete", key=f"delete-{sample.id}"):
                store.delete(sample.id)
                st.rerun(scope="fragment")


def exported(export, name: str) -> bytes:
    """Run a store export into a temporary place and return the bytes to download (a zip for IDX)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = export(Path(tmp) / name)
        if isinstance(result, Path):
            return result.read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in result:
                archive.write(path, path.name)
        return buffer.getvalue()


# ---------------------------------------------------------------- layout


PAGES = {"Draw": draw_page, "Upload": upload_page, "Train": train_page, "Model": model_page,
         "Corrections": corrections_page}
PAGES_NEEDING_A_MODEL = {draw_page, upload_page, model_page}


def main() -> None:
    st.set_page_config(page_title="Digit Classifier", page_icon="✍️", layout="wide")
    st.title("✍️ Digit Classifier")
    st.caption("A CNN trained on MNIST reads your handwritten digits and numbers, and shows why.")
    clf = model_picker()
    tabs = st.tabs(list(PAGES), key="page", on_change="rerun")
    for tab, page in zip(tabs, PAGES.values()):
        if tab.open:
            with tab:
                if page not in PAGES_NEEDING_A_MODEL:
                    page()
                elif clf is None:
                    st.info("Pick a model in the sidebar, or train one on the Train tab.")
                else:
                    page(clf)


main()
