"""The Corrections tab: this visitor's corrected digits (browse, delete, download, bring back, fine-tune on them)
and, in owner mode, the shared pool that visitors chose to contribute to."""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import streamlit as st

from digitlib.app.access import is_owner
from digitlib.app.display import enlarged, percent, plain_chart
from digitlib.app.errors import for_visitor
from digitlib.app.models import shipped_models_dir, trained_models_dir
from digitlib.app.stores import MAX_SESSION_CORRECTIONS, my_corrections, shared_store
from digitlib.app.training import job_panel, job_runner, show_new_model, start_job, watch_for_others_runs
from digitlib.app.visitors import KEEP_VISITOR_DATA, remember, visitor_record
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
MAX_RESTORES_REMEMBERED = 50  # downloads already added, remembered so that adding one twice doesn't double its digits
# Fewer corrections than this can't show whether fine-tuning helped: a quarter of each digit's corrections is held
# out to measure it, and a digit needs 3 corrections before one of them is held out; with 30, some digit has 3.
MIN_FINETUNE_CORRECTIONS = 30
DELTA_SHOWN = 0.0005  # a change that rounds to 0.0% is shown as "no change", not as an arrow


@st.fragment
def corrections_page() -> None:
    store = my_corrections()
    if store is None:
        return
    restore_form(store)  # first, so what it adds is counted below in the same run
    count = len(store)
    st.write(
        f"**{count}** corrected digit{'' if count == 1 else 's'} of yours. Correct a wrong reading on the Draw "
        "or Upload tab; fine-tune the model on them below."
    )
    st.caption(
        f"Only you see them, in this browser (a reload or a new tab finds them; another browser or device "
        f"doesn't). They are deleted from the server {KEEP_VISITOR_DATA.days} days after they were saved: "
        "download them to keep them, and upload that download here to carry on, on any device."
    )
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
    plain_chart(
        {"digit": [str(d) for d in counts], "samples": list(counts.values())},
        "digit",
        {"samples": "#0072B2"},
        "bar",
        "digit",
        "corrected samples",
        200,
        alt="Corrected samples per digit: " + ", ".join(f"{d}: {n}" for d, n in counts.items()),
    )
    browse_samples(store, key)
    npz, idx = st.columns(2)
    npz.download_button(
        "Download as .npz",
        lambda: npz_bytes(*store.arrays()),
        file_name=f"corrections-{key}.npz",
        mime="application/octet-stream",
        key=f"npz-{key}",
    )
    idx.download_button(
        "Download as MNIST IDX (zip)",
        lambda: idx_zip(store),
        file_name=f"corrections-{key}-idx.zip",
        mime="application/zip",
        key=f"idx-{key}",
    )
    return True


def restore_form(store: CorrectionStore) -> None:
    """Carry on from an earlier session: its .npz download is checked, then added whole, or nothing changes."""
    with st.expander("Carry on from a download"), st.form("restore", clear_on_submit=True, border=False):
        upload = st.file_uploader(
            "A corrections .npz downloaded from this app", type=["npz"], max_upload_size=MAX_RESTORE_MEGABYTES
        )
        if st.form_submit_button("Add its digits") and upload is not None:
            fingerprint = hashlib.sha256(upload.getvalue()).hexdigest()
            restored = visitor_record().get("restored", [])
            if fingerprint in restored:
                st.info(f"{upload.name}: its digits were added already, so nothing was added again.")
                return
            try:
                x, y = read_npz(upload.getvalue(), MAX_SESSION_CORRECTIONS)
                store.add_arrays(x, y, at_most=MAX_SESSION_CORRECTIONS)
            except (ValueError, StoreError) as exc:
                st.error(f"{upload.name}: nothing added: {for_visitor(exc)}")
            else:
                remember(restored=[*restored, fingerprint][-MAX_RESTORES_REMEMBERED:])
                st.success(f"Added {len(y)} digit{'' if len(y) == 1 else 's'} from {upload.name}.")


def finetune_section(store: CorrectionStore) -> None:
    """Fine-tune the active model on MNIST plus the corrections, in the server's job runner, then compare before
    and after."""
    st.markdown("#### Fine-tune on this handwriting")
    base = Path(st.session_state.get("active_model", shipped_models_dir() / DEFAULT_MODEL))
    if len(store) < MIN_FINETUNE_CORRECTIONS:
        st.info(
            f"Fine-tuning needs at least {MIN_FINETUNE_CORRECTIONS} corrected digits (you have {len(store)}): "
            "a quarter of them is held out to measure whether it helped, and fewer can't show that."
        )
        job_panel("finetune")
        return
    epochs = st.number_input("Epochs", 1, 20, 3, key="finetune_epochs")
    st.caption(
        "A quarter of the corrections is held out to measure the change; MNIST is mixed in so it isn't forgotten."
    )
    busy = job_runner().active() is not None
    watch_for_others_runs(busy)
    if st.button(f"Fine-tune {base.name}", type="primary", disabled=busy):
        out = trained_models_dir() / f"{base.name}-finetuned-{datetime.now():%Y%m%d-%H%M%S}"
        start_job(
            "finetune",
            {"store_path": store.address, "store_owner": store.owner, "base_model": str(base), "epochs": int(epochs)},
            out,
        )
    if (run := job_panel("finetune")) is not None:
        for column, (figure, name) in zip(
            st.columns(2),
            (("mnist_test_accuracy", "MNIST test accuracy"), ("held_out_accuracy", "held-out corrections")),
        ):
            before, after = run.card["finetune"]["before"][figure], run.card["finetune"]["after"][figure]
            change = None if None in (before, after) else after - before
            column.metric(
                name,
                "n/a" if after is None else percent(after),
                delta=None if change is None else f"{change:+.1%}" if abs(change) >= DELTA_SHOWN else "no change",
                delta_color="normal" if change and abs(change) >= DELTA_SHOWN else "off",
            )
        show_new_model(run.out, run.card)


def browse_samples(store: CorrectionStore, key: str) -> None:
    """Pages of stored samples, newest first, each with a delete button."""
    shown_digit, page_number = st.columns(2)
    digit = shown_digit.selectbox(
        "Show", [None, *range(10)], format_func=lambda d: "all digits" if d is None else str(d), key=f"show-{key}"
    )
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
