"""The Corrections tab: the digits people corrected, their export, and fine-tuning on them."""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import streamlit as st

from digitlib.app.common import correction_store, enlarged, percent, shipped_models_dir, trained_models_dir
from digitlib.app.training import job_panel, job_runner, show_new_model, start_job
from digitlib.classifier import DEFAULT_MODEL
from digitlib.store import CorrectionStore

SAMPLES_PER_PAGE = 30


@st.fragment
def corrections_page() -> None:
    store = correction_store()
    if store is None:
        return
    counts = store.counts()
    if not any(counts.values()):
        st.info("No corrections yet. When the Draw or Upload tab misreads a number, type the right one under the "
                "reading and save it: it shows up here, and the model can be fine-tuned on it.")
        return
    st.write(f"**{sum(counts.values()):,}** corrected digits in `{store.path}`. Correct a wrong reading on the "
             "Draw or Upload tab; fine-tune the model on them below.")
    st.bar_chart({"digit": [str(d) for d in counts], "samples": list(counts.values())},
                 x="digit", y="samples", x_label="digit", y_label="corrected samples", height=200, sort=False)
    browse_samples(store)
    npz, idx = st.columns(2)
    npz.download_button("Download as .npz", lambda: exported(store.export_npz, "corrections.npz"),
                        file_name="corrections.npz", mime="application/octet-stream")
    idx.download_button("Download as MNIST IDX (zip)", lambda: exported(store.export_idx, "idx"),
                        file_name="corrections-idx.zip", mime="application/zip")
    finetune_section(store)


def finetune_section(store: CorrectionStore) -> None:
    """Fine-tune the active model on MNIST plus the corrections, in the server's job runner, then compare before
    and after."""
    st.markdown("#### Fine-tune on this handwriting")
    base = Path(st.session_state.get("active_model", shipped_models_dir() / DEFAULT_MODEL))
    epochs = st.number_input("Epochs", 1, 20, 3, key="finetune_epochs")
    st.caption("A quarter of the corrections is held out to measure the change; MNIST is mixed in so it isn't forgotten.")
    if st.button(f"Fine-tune {base.name}", type="primary", disabled=job_runner().active() is not None):
        out = trained_models_dir() / f"{base.name}-finetuned-{datetime.now():%Y%m%d-%H%M%S}"
        start_job("finetune", {"store_path": str(store.path), "base_model": str(base), "epochs": int(epochs)}, out)
    if (run := job_panel("finetune")) is not None:
        for column, (figure, name) in zip(st.columns(2), (("mnist_test_accuracy", "MNIST test accuracy"),
                                                           ("held_out_accuracy", "held-out corrections"))):
            before, after = run.card["finetune"]["before"][figure], run.card["finetune"]["after"][figure]
            column.metric(name, "n/a" if after is None else percent(after),
                          delta=None if None in (before, after) else f"{after - before:+.1%}")
        show_new_model(run.out, run.card)


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
