"""The Corrections tab: this visitor's corrected digits (browse, delete, download, bring back, fine-tune on them)
and, in owner mode, the shared pool that visitors chose to contribute to."""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import streamlit as st

from digitlib.app.access import is_owner
from digitlib.app.display import enlarged, percent
from digitlib.app.errors import for_visitor
from digitlib.app.models import shipped_models_dir, trained_models_dir
from digitlib.app.stores import MAX_SESSION_CORRECTIONS, my_corrections, shared_store
from digitlib.app.training import job_panel, job_runner, show_new_model, start_job
from digitlib.reading.classifier import DEFAULT_MODEL
from digitlib.store.corrections import CorrectionStore, StoreError
from digitlib.store.files import npz_bytes, read_npz

SAMPLES_PER_PAGE = 30
EMPTY_COLLECTION = {
    "mine": "No corrections yet. When the Draw or Upload tab misreads a number, type the right one under the reading "
            "and save it: it shows up here, and the model can be fine-tuned on it.",
    "pool": "No visitor has given digits to the shared pool yet.",
}
MAX_RESTORE_MEGABYTES = 8  # a full session (MAX_SESSION_CORRECTIONS digits) compresses to well under this


@st.fragment
def corrections_page() -> None:
    store = my_corrections()
    if store is None:
        return
    restore_form(store)  # first, so what it adds is counted below in the same run
    st.write(f"**{len(store)}** corrected digits of yours. Correct a wrong reading on the Draw or Upload "
             "tab; fine-tune the model on them below.")
    st.caption("Only you see them: they belong to this browser tab and are deleted from the server a day after "
               "they were saved. Download them to keep them; upload that download later to carry on.")
    if show_collection(store, "mine"):
        finetune_section(store)
    if is_owner() and (pool := shared_store()) is not None:
        st.divider()
        st.markdown(f"#### Shared pool (owner): {len(pool)} digits visitors chose to give")
        st.caption("Fine-tune on it from the command line: `python -m digitlib finetune --store DATABASE_URL`.")
        show_collection(pool, "pool")


def show_collection(store: CorrectionStore, key: str) -> bool:
    """Counts per digit, pages of samples to delete, and downloads; False when there is nothing."""
    counts = store.counts()
    if not any(counts.values()):
        st.info(EMPTY_COLLECTION[key])
        return False
    st.bar_chart({"digit": [str(d) for d in counts], "samples": list(counts.values())},
                 x="digit", y="samples", x_label="digit", y_label="corrected samples", height=200, sort=False)
    browse_samples(store, key)
    npz, idx = st.columns(2)
    npz.download_button("Download as .npz", lambda: npz_bytes(*store.arrays()), file_name=f"corrections-{key}.npz",
                        mime="application/octet-stream", key=f"npz-{key}")
    idx.download_button("Download as MNIST IDX (zip)", lambda: idx_zip(store),
                        file_name=f"corrections-{key}-idx.zip", mime="application/zip", key=f"idx-{key}")
    return True


def restore_form(store: CorrectionStore) -> None:
    """Carry on from an earlier session: its .npz download is checked, then added whole, or nothing changes."""
    with st.expander("Carry on from a download"), st.form("restore", clear_on_submit=True, border=False):
        upload = st.file_uploader("A corrections .npz downloaded from this app", type=["npz"],
                                  max_upload_size=MAX_RESTORE_MEGABYTES)
        if st.form_submit_button("Add its digits") and upload is not None:
            try:
                x, y = read_npz(upload.getvalue(), MAX_SESSION_CORRECTIONS)
                store.add_arrays(x, y, at_most=MAX_SESSION_CORRECTIONS)
            except (ValueError, StoreError) as exc:
                st.error(f"{upload.name}: nothing added: {for_visitor(exc)}")
            else:
                st.success(f"Added {len(y)} digits from {upload.name}.")


def finetune_section(store: CorrectionStore) -> None:
    """Fine-tune the active model on MNIST plus the corrections, in the server's job runner, then compare before
    and after."""
    st.markdown("#### Fine-tune on this handwriting")
    base = Path(st.session_state.get("active_model", shipped_models_dir() / DEFAULT_MODEL))
    epochs = st.number_input("Epochs", 1, 20, 3, key="finetune_epochs")
    st.caption("A quarter of the corrections is held out to measure the change; MNIST is mixed in so it isn't forgotten.")
    if st.button(f"Fine-tune {base.name}", type="primary", disabled=job_runner().active() is not None):
        out = trained_models_dir() / f"{base.name}-finetuned-{datetime.now():%Y%m%d-%H%M%S}"
        start_job("finetune", {"store_path": store.address, "store_owner": store.owner, "base_model": str(base),
                               "epochs": int(epochs)}, out)
    if (run := job_panel("finetune")) is not None:
        for column, (figure, name) in zip(st.columns(2), (("mnist_test_accuracy", "MNIST test accuracy"),
                                                           ("held_out_accuracy", "held-out corrections"))):
            before, after = run.card["finetune"]["before"][figure], run.card["finetune"]["after"][figure]
            column.metric(name, "n/a" if after is None else percent(after),
                          delta=None if None in (before, after) else f"{after - before:+.1%}")
        show_new_model(run.out, run.card)


def browse_samples(store: CorrectionStore, key: str) -> None:
    """Pages of stored samples, newest first, each with a delete button."""
    shown_digit, page_number = st.columns(2)
    digit = shown_digit.selectbox("Show", [None, *range(10)], format_func=lambda d: "all digits" if d is None else str(d),
                                  key=f"show-{key}")
    page = page_number.number_input("Page", 1, None, 1, key=f"page-{key}")
    samples = store.samples(SAMPLES_PER_PAGE, (page - 1) * SAMPLES_PER_PAGE, digit)
    for row in range(0, len(samples), 10):
        for column, sample in zip(st.columns(10), samples[row : row + 10]):
            column.image(enlarged(sample.image), caption=f"{sample.label} · #{sample.id}")
            if column.button("Delete", key=f"delete-{key}-{sample.id}"):
                store.delete(sample.id)
                st.rerun(scope="fragment")


def idx_zip(store: CorrectionStore) -> bytes:
    """The store's MNIST IDX pair, zipped for one download (written to a temporary folder first)."""
    with tempfile.TemporaryDirectory() as tmp:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in store.export_idx(tmp):
                archive.write(path, path.name)
        return buffer.getvalue()
