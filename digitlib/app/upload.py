"""The Upload tab: photos, scans or the camera, each read as a number with its preprocessing steps.

The pictures are kept in the session apart from the upload widgets, whose files go while another tab is open:
back on this tab, the pictures are still there (each with a Remove button, as the emptied widget no longer lists
them), and the Inside tab can look at them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import streamlit as st

from digitlib import ImageError, read_number
from digitlib.app.access import admitted_uploads, uploader_key
from digitlib.app.display import as_picture
from digitlib.app.reading import show_reading
from digitlib.reading.classifier import Classifier

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]


@dataclass(frozen=True)
class Picture:
    """An uploaded file or a photo, as kept in the session."""

    id: str
    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def visitor_pictures() -> list[Picture]:
    """The pictures on the Upload tab: those carried over from an earlier visit to it, then those in its widgets."""
    return [
        *st.session_state.get("carried_pictures", {}).values(),
        *st.session_state.get("widget_pictures", {}).values(),
    ]


def forget_pictures() -> None:
    """After the widgets were emptied for holding too much: the carried pictures go too."""
    st.session_state.carried_pictures, st.session_state.widget_pictures = {}, {}


@st.fragment
def upload_page(clf: Classifier) -> None:
    carried = st.session_state.setdefault("carried_pictures", {})
    if uploader_key() not in st.session_state:  # the widget is new (or came back empty): keep what it held
        carried.update(st.session_state.pop("widget_pictures", {}))
    files = st.file_uploader(
        "Photos or scans of digits and numbers (PNG, JPEG, WebP, GIF, BMP, TIFF)",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=uploader_key(),
    )
    photo = st.camera_input("Take a photo of a digit or number") if st.toggle("Use the camera", key="camera") else None
    st.session_state.widget_pictures = {
        file.file_id: Picture(file.file_id, file.name, file.getvalue())
        for file in [*files, *([photo] if photo else [])]
    }
    sources = admitted_uploads(visitor_pictures(), on_too_much=forget_pictures)
    if not sources:
        st.info("Upload one or more images, or switch the camera on: each is read as a number.")
    for index, source in enumerate(sources):
        with st.container(border=True, key=f"upload-{index}"):
            name, remove = st.columns([5, 1], vertical_alignment="center")
            name.container(key=f"picture-name-{index}").markdown(f"**{markdown_text(source.name)}**")
            if source.id in carried and remove.button("Remove", key=f"remove-{source.id}", width="stretch"):
                del carried[source.id]
                st.rerun(scope="fragment")
            show_upload(source.data, source.name, clf, key=f"upload-{index}")


def markdown_text(text: str) -> str:
    """A file name shown as it is, not as Markdown (underscores, stars, brackets)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", text)


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
