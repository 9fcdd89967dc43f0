"""Showing a reading: first at a glance (the number, how sure, the ten bars), then every digit in detail.

The glance comes first in the script, so it reaches the browser before the saliency below it is computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow
import streamlit as st
from PIL import Image, ImageDraw

from digitlib import DigitReading, Reading
from digitlib.app.display import ENLARGE, as_picture, enlarged, percent
from digitlib.app.errors import for_visitor
from digitlib.app.stores import MAX_SESSION_CORRECTIONS, MAX_SHARED_PER_SESSION, my_corrections, take_pool_share
from digitlib.inside.explain import overlay, saliency
from digitlib.reading.classifier import Classifier
from digitlib.reading.reader import LOW_CONFIDENCE
from digitlib.store.corrections import SHARED, CorrectionStore, StoreError

POSITION_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]  # Okabe-Ito


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


def ordinal(position: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st."""
    suffix = "th" if 10 <= position % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
    return f"{position}{suffix}"


def probability_chart(reading: Reading) -> None:
    """Ten horizontal bars per digit read (one colour per position when there are several)."""
    names = [f"{ordinal(i)}: {d.digit}" for i, d in enumerate(reading.digits, start=1)]
    probability_bars([(name, d.probabilities) for name, d in zip(names, reading.digits)],
                     alt="The probability of each digit 0-9 for each digit read (each bar is labelled with its "
                         "digit and probability for screen readers; the number and confidence are written above).")


def probability_bars(series: list[tuple[str, Sequence[float]]], alt: str) -> None:
    """Ten horizontal bars per named set of probabilities.

    The spec is written out (st.bar_chart's Altair validation costs more than the reading) and depends only on
    how many sets there are; the probabilities travel as an Arrow table beside it.  With the same spec and alt
    text, the browser swaps the data in the chart it already has instead of building a new one (a Vega-Lite
    compile and render, 10-20 ms of a phone page's main thread).  Vega-Lite labels each bar for screen readers.
    """
    table = pyarrow.table({"digit": [str(digit) for _, probabilities in series for digit in range(len(probabilities))],
                           "probability": [round(float(p), 4) for _, probabilities in series for p in probabilities],
                           "read": [name for name, probabilities in series for _ in probabilities]})
    encoding = {
        "y": {"field": "digit", "type": "nominal", "sort": None, "title": "digit", "scale": {"paddingInner": 0.15},
              "axis": {"labelAngle": 0, "labelFontSize": 13, "labelOverlap": False, "titleAngle": 0,
                       "titleAlign": "right", "titleBaseline": "bottom", "titleY": -4}},
        "x": {"field": "probability", "type": "quantitative", "title": "probability",
              "scale": {"domain": [0, 1]}, "axis": {"format": ".0%", "tickCount": 5}},
        "tooltip": [{"field": "read"}, {"field": "digit"}, {"field": "probability", "format": ".1%"}],
    }
    if len(series) > 1:
        encoding |= {"yOffset": {"field": "read", "sort": None, "scale": {"paddingInner": 0}},
                     "color": {"field": "read", "type": "nominal", "sort": None, "title": None,
                               "scale": {"range": POSITION_COLOURS}, "legend": {"orient": "top"}}}
    st.vega_lite_chart(table, {"mark": {"type": "bar", "tooltip": True}, "encoding": encoding},
                       height=260, width="stretch", alt=alt)


def show_number(reading: Reading) -> None:
    """The number read and how sure, with the top 3 when unsure: few elements, so the browser shows them fast."""
    with st.container(horizontal=True):  # side by side on a phone too; one block, so the number comes soon
        st.metric("Number read", reading.text)
        st.metric("Confidence", percent(reading.confidence), help="of the least certain digit")
    if reading.low_confidence:
        single = len(reading.digits) == 1
        st.warning("Not sure. " + "; ".join(
            f"Top 3{'' if single else f' for the {ordinal(i)} digit'}: "
            + ", ".join(f"**{digit}** {percent(p)}" for digit, p in d.top3)
            for i, d in enumerate(reading.digits, start=1) if d.confidence < LOW_CONFIDENCE))


@st.cache_data(show_spinner=False, max_entries=512)
def cached_saliency(_clf: Classifier, model_id: int, image: np.ndarray) -> np.ndarray:
    """Occlusion saliency costs ~20 ms a digit: once per loaded model (``id``) and image, not on every rerun."""
    return saliency(_clf, image)


def seen_and_saliency(digit: DigitReading, clf: Classifier) -> np.ndarray:
    """The 28x28 the model saw beside the same image with the pixels that drove the reading lit up."""
    seen = np.repeat(np.asarray(enlarged(digit.image))[..., None], 3, axis=2)
    lit = overlay(digit.image, cached_saliency(clf, id(clf), digit.image), scale=ENLARGE)
    return np.hstack([seen, np.full((seen.shape[0], ENLARGE, 3), 255, np.uint8), lit])


def digit_caption(position: int, count: int, digit: DigitReading) -> str:
    others = ", ".join(f"{d} {percent(p)}" for d, p in digit.top3[1:])
    where = f"{ordinal(position)} of {count}: " if count > 1 else ""
    return f"{where}**{digit.digit}**, {percent(digit.confidence)} sure (then {others})"


def show_details(reading: Reading, clf: Classifier, pictures: list[np.ndarray] | None = None) -> None:
    """Every digit: the 28x28 the model saw, and what drove its reading (the saliency); ``pictures`` are these,
    made beforehand by seen_and_saliency.

    Few elements on purpose: the Draw tab sends these on every stroke, and each costs the browser a re-render.
    """
    pictures = pictures or [seen_and_saliency(digit, clf) for digit in reading.digits]
    st.markdown("##### What the model saw, and what drove it\n:gray[:small[Left: the 28x28 picture the network "
                "reads. Right: the same with the pixels whose blanking lowers the answer the most lit up (dark: no "
                "influence, yellow: the most).]]")
    count = len(reading.digits)
    with st.container(horizontal=True, gap="medium"):  # side by side, as many as fit, then the next row
        for position, (digit, picture) in enumerate(zip(reading.digits, pictures), start=1):
            st.image(picture, caption=digit_caption(position, count, digit),
                     alt=f"The {ordinal(position)} digit as the model saw it, read as {digit.digit}, "
                         "and its saliency map")


def show_reading(reading: Reading, original: bytes, clf: Classifier, key: str) -> None:
    """An uploaded picture: the original with a box per digit beside the glance, then the details."""
    picture, glance = st.columns([3, 2])
    picture.image(with_boxes(reading), caption=f"digits found: {reading.text}",
                  alt=f"The picture with a box around each of the {len(reading.digits)} digits found")
    with glance:
        show_number(reading)
        probability_chart(reading)
        correction_form(reading, original, key)
    show_details(reading, clf)


def correction_form(reading: Reading, original: bytes, key: str) -> None:
    """Wrong reading? The right digits are kept for this visitor, one per digit found, to fine-tune on later; giving
    them (and, separately, the picture) to the shared pool is an explicit choice."""
    with st.form(f"correct-{key}", clear_on_submit=True, border=False):
        answer, save = st.columns([3, 2], vertical_alignment="bottom", wrap=False)
        label = answer.text_input("Wrong? The right number:", placeholder=reading.text, key=f"label-{key}")
        share = st.checkbox("Also give these digits to the shared pool that improves the app for everyone "
                            "(only the 28x28 digits are kept, with their labels)", key=f"share-{key}")
        share_picture = st.checkbox("…and the original picture with them (only if the box above is ticked)",
                                    key=f"share-picture-{key}")
        if save.form_submit_button("Save", help="Keep the digits with the right labels (only you see them), to fine-tune on later") and (store := my_corrections()) is not None:
            save_correction(store, [digit.image for digit in reading.digits], label, share,
                            original if share and share_picture else None)


def save_correction(store: CorrectionStore, images: list[np.ndarray], label: str, share: bool,
                    picture: bytes | None) -> None:
    """Keep the digits for this visitor and, if they chose to, give them (and ``picture``) to the shared pool."""
    try:
        if share and not take_pool_share(len(images)):
            raise ValueError(f"one visitor gives at most {MAX_SHARED_PER_SESSION} digits to the shared pool")
        store.add(images, label, at_most=MAX_SESSION_CORRECTIONS)
        if share:
            store.for_owner(SHARED).add(images, label, original=picture)
    except (ValueError, StoreError) as exc:
        st.error(f"Not saved: {for_visitor(exc)}")
    else:
        where = " and given to the shared pool" if share else " (only you see it)"
        st.success(f"Saved {label}{where}: thank you. The Corrections tab can fine-tune the model on it.")
