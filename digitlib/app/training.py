"""The Train tab: train a CNN on MNIST with live progress and curves, then make it the active model."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import streamlit as st

from digitlib import DataError, ModelError
from digitlib.app.common import is_owner, show_curves, shipped_models_dir, trained_models_dir
from digitlib.store import StoreError

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
    into_repo = is_owner() and st.checkbox("Save into the app's models/ folder, for every visitor (owner)", key="into_repo")
    minutes = (RUN_OVERHEAD_SECONDS + RECIPES[recipe][1] * epochs * train_size) / 60
    st.caption(f"Estimated time: about {minutes:.1f} min on a 2-core CPU. Stay on this tab while it trains.")

    if st.button("Start training", type="primary"):
        from digitlib.train import from_preset, train  # TensorFlow is imported when the run starts, never before

        config = from_preset(recipe, epochs=int(epochs), batch_size=int(batch_size), train_size=int(train_size))
        out = (shipped_models_dir() if into_repo else trained_models_dir()) / f"{recipe}-{datetime.now():%Y%m%d-%H%M%S}"
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
    st.success(f"Saved **{directory.name}**: test accuracy "
               f"{card['test_accuracy']:.2%} on {card['test_images']:,} MNIST test images.")
    show_curves(card["history"])
    if st.session_state.get("active_model") == str(directory):
        st.info(f"{directory.name} is the active model.")
    elif st.button(f"Make {directory.name} the active model", key=f"activate-{directory.name}"):
        st.session_state.active_model = str(directory)
        st.rerun(scope="app")
