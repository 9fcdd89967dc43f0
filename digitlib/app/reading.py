"""Showing a reading: the number, how sure, boxes, every digit in detail, and a way to correct it."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from digitlib import DigitReading, Reading
from digitlib.app.common import (ENLARGE, MAX_SESSION_CORRECTIONS, MAX_SHARED_PER_SESSION, as_picture, enlarged,
                                 my_corrections)
from digitlib.classifier import Classifier
from digitlib.explain import overlay, saliency
from digitlib.store import SHARED, CorrectionStore, StoreError

DIGITS_PER_ROW = 4


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


PROBABILITY_CHART = {  # a plain Vega-Lite spec: st.bar_chart builds it through Altair, ~20x slower (38 vs 2 ms
    # a chart on the busy 2-core machine), which every reading of every visitor pays once per digit
    "mark": {"type": "bar", "tooltip": True},
    "encoding": {"y": {"field": "digit", "type": "nominal", "sort": None},
                 "x": {"field": "probability", "type": "quantitative", "scale": {"domain": [0, 1]}}},
    "height": 280,
}


def probability_chart(probabilities: np.ndarray) -> None:
    values = [{"digit": str(d), "probability": round(float(p), 4)} for d, p in enumerate(probabilities)]
    st.vega_lite_chart(PROBABILITY_CHART | {"data": {"values": values}}, width="stretch")


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
    """Wrong reading? The right digits are kept for this visitor, one per digit found, to fine-tune on later; giving
    them (and, separately, the picture) to the shared pool is an explicit choice."""
    with st.form(f"correct-{key}", clear_on_submit=True, border=False):
        answer, save = st.columns([3, 1], vertical_alignment="bottom")
        label = answer.text_input("Wrong? Type the right number", placeholder=reading.text, key=f"label-{key}")
        share = st.checkbox("Also give these digits to the shared pool that improves the app for everyone "
                            "(only the 28x28 digits are kept, with their labels)", key=f"share-{key}")
        share_picture = st.checkbox("…and the original picture with them (only if the box above is ticked)",
                                    key=f"share-picture-{key}")
        if save.form_submit_button("Save correction") and (store := my_corrections()) is not None:
            save_correction(store, [digit.image for digit in reading.digits], label, share,
                            original if share and share_picture else None)


def save_correction(store: CorrectionStore, images: list[np.ndarray], label: str, share: bool,
                    picture: bytes | None) -> None:
    """Keep the digits for this visitor and, if they chose to, give them (and ``picture``) to the shared pool."""
    given = st.session_state.get("shared_digits", 0)
    try:
        if share and given + len(images) > MAX_SHARED_PER_SESSION:
            raise ValueError(f"one visitor gives at most {MAX_SHARED_PER_SESSION} digits to the shared pool")
        store.add(images, label, at_most=MAX_SESSION_CORRECTIONS)
        if share:
            store.for_owner(SHARED).add(images, label, original=picture)
            st.session_state.shared_digits = given + len(images)
    except (ValueError, StoreError) as exc:
        st.error(f"Not saved: {exc}")
    else:
        where = " and given to the shared pool" if share else " (only you see it)"
        st.success(f"Saved {label}{where}: thank you. The Corrections tab can fine-tune the model on it.")
