"""The Upload tab: photos, scans or the camera, each read as a number with its preprocessing steps."""

from __future__ import annotations

import streamlit as st

from digitlib import ImageError, read_number
from digitlib.app.access import admitted_uploads, uploader_key
from digitlib.app.display import as_picture
from digitlib.app.reading import show_reading
from digitlib.reading.classifier import Classifier

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]


@st.fragment
def upload_page(clf: Classifier) -> None:
    files = st.file_uploader("Photos or scans of digits and numbers (PNG, JPEG, WebP, GIF, BMP, TIFF)",
                             type=UPLOAD_TYPES, accept_multiple_files=True, key=uploader_key())
    photo = st.camera_input("Take a photo of a digit or number") if st.toggle("Use the camera") else None
    sources = admitted_uploads([*files, *([photo] if photo else [])])
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
        st.warning(f"{name}: no digit found in this image: {reading.reason}.")
    else:
        show_reading(reading, data, clf, key)
    with st.expander("Preprocessing steps"):
        for column, (step, picture) in zip(st.columns(len(reading.steps)), reading.steps.items()):
            column.image(as_picture(picture), caption=step, width="stretch")
