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
from digitlib.app.stores import (
    MAX_SESSION_CORRECTIONS,
    MAX_SHARED_PER_SESSION,
    MAX_SHARED_POOL,
    my_corrections,
    take_pool_share,
)
from digitlib.inside.explain import overlay, saliency
from digitlib.reading.classifier import Classifier
from digitlib.reading.reader import LOW_CONFIDENCE
from digitlib.store.corrections import SHARED, CorrectionStore, StoreError

BOX_COLOUR = (213, 94, 0)  # Okabe-Ito vermilion: seen on white paper and on dark ink
MIN_BOXED_WIDTH = 480  # pixels: smaller pictures are enlarged before boxes and labels are drawn on them


def with_boxes(reading: Reading) -> Image.Image:
    """The upright picture on white with a box around every digit read and the digit written just above its box.

    A small picture (a 28x28 pixel-art number) is first enlarged pixel for pixel, and a white band on top makes room
    for the labels, so neither the boxes nor the labels hide the digits.
    """
    picture = Image.fromarray(as_picture(reading.steps["upright"])).convert("RGBA")
    picture = Image.alpha_composite(Image.new("RGBA", picture.size, "white"), picture).convert("RGB")
    if picture.width < MIN_BOXED_WIDTH:
        factor = -(-MIN_BOXED_WIDTH // picture.width)
        picture = picture.resize((picture.width * factor, picture.height * factor), Image.NEAREST)
    scale = picture.width / reading.size[0]  # boxes are in the original's pixels, the picture may be smaller
    line = max(1, round(max(picture.size) / 400))
    font_size = max(14, round(max(picture.size) / 30))
    band = font_size + 2 * line
    framed = Image.new("RGB", (picture.width, picture.height + band), "white")
    framed.paste(picture, (0, band))
    pen = ImageDraw.Draw(framed)
    for digit in reading.digits:
        x0, y0, x1, y1 = (round(v * scale) for v in digit.box)
        pen.rectangle((x0 - line, y0 + band - line, x1 + line, y1 + band + line), outline=BOX_COLOUR, width=line)
        pen.text(
            ((x0 + x1) / 2, y0 + band - 2 * line), str(digit.digit), fill=BOX_COLOUR, font_size=font_size, anchor="md"
        )
    return framed


def ordinal(position: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st."""
    suffix = "th" if 10 <= position % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
    return f"{position}{suffix}"


def probability_chart(reading: Reading) -> None:
    """A single digit: its ten bars.  A number: one row per digit with its three likeliest readings, the first with
    a bar, so every digit of even an 8-digit number is read at a glance on a phone too."""
    if len(reading.digits) == 1:
        probability_bars(
            [("read", reading.digits[0].probabilities)],
            alt="The probability of each digit 0-9 (each bar is labelled with its digit and probability "
            "for screen readers; the number and confidence are written above).",
        )
        return
    rows = "".join(
        f"<tr><th scope='row'>{ordinal(i)}</th>"
        + "".join(
            f"<td{' class=first' if rank == 0 else ''}><b>{digit}</b>"
            + (f"<span class='bar'><span style='width:{100 * p:.0f}%'></span></span>" if rank == 0 else "")
            + f"<small>{percent(p)}</small></td>"
            for rank, (digit, p) in enumerate(d.top3)
        )
        + "</tr>"
        for i, d in enumerate(reading.digits, start=1)
    )
    st.html(
        f"<style>{TOP3_CSS}</style><table class='top3'><thead><tr><th>digit</th><th>read as</th>"
        f"<th>or</th><th>or</th></tr></thead><tbody>{rows}</tbody></table>"
    )


TOP3_CSS = """
table.top3 { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.95rem; }
table.top3 th, table.top3 td { padding: 0.1rem 0.6rem 0.1rem 0; text-align: left; white-space: nowrap; border: 0; }
table.top3 thead th { font-weight: normal; font-size: 0.75rem; color: rgba(49, 51, 63, 0.6); }
table.top3 tbody th { font-weight: normal; color: rgba(49, 51, 63, 0.6); font-size: 0.8rem; }
table.top3 td { color: rgba(49, 51, 63, 0.65); }
table.top3 td.first { color: inherit; }
table.top3 td.first b { font-size: 1.15rem; }
table.top3 small { margin-left: 0.3rem; }
table.top3 .bar { display: inline-block; width: 3.5rem; height: 0.5rem; margin-left: 0.4rem;
                  background: rgba(49, 51, 63, 0.1); border-radius: 0.25rem; overflow: hidden; }
table.top3 .bar span { display: block; height: 100%; background: #0072B2; }
"""


def probability_bars(series: list[tuple[str, Sequence[float]]], alt: str) -> None:
    """Ten horizontal bars for each named set of probabilities (one set in every use here).

    The spec is written out (st.bar_chart's Altair validation costs more than the reading) and depends only on
    how many sets there are; the probabilities travel as an Arrow table beside it.  With the same spec and alt
    text, the browser swaps the data in the chart it already has instead of building a new one (a Vega-Lite
    compile and render, 10-20 ms of a phone page's main thread).  Vega-Lite labels each bar for screen readers.
    """
    table = pyarrow.table(
        {
            "digit": [str(digit) for _, probabilities in series for digit in range(len(probabilities))],
            "probability": [round(float(p), 4) for _, probabilities in series for p in probabilities],
            "read": [name for name, probabilities in series for _ in probabilities],
        }
    )
    encoding = {
        "y": {
            "field": "digit",
            "type": "nominal",
            "sort": None,
            "title": "digit",
            "scale": {"paddingInner": 0.15},
            "axis": {
                "labelAngle": 0,
                "labelFontSize": 13,
                "labelOverlap": False,
                "titleAngle": 0,
                "titleAlign": "right",
                "titleBaseline": "bottom",
                "titleY": -4,
            },
        },
        "x": {
            "field": "probability",
            "type": "quantitative",
            "title": "probability",
            "scale": {"domain": [0, 1]},
            "axis": {"format": ".0%", "tickCount": 5},
        },
        "tooltip": [{"field": "read"}, {"field": "digit"}, {"field": "probability", "format": ".1%"}],
    }
    st.vega_lite_chart(
        table, {"mark": {"type": "bar", "tooltip": True}, "encoding": encoding}, height=260, width="stretch", alt=alt
    )


def show_number(reading: Reading) -> None:
    """The number read and how sure, with the top 3 when a single digit is unsure (a number's cards show every
    digit's top 3): few elements, so the browser shows them fast."""
    with st.container(horizontal=True):  # side by side on a phone too; one block, so the number comes soon
        st.metric("Number read", reading.text)
        st.metric("Confidence", percent(reading.confidence), help="of the least certain digit")
    if reading.low_confidence:
        unsure = [ordinal(i) for i, d in enumerate(reading.digits, start=1) if d.confidence < LOW_CONFIDENCE]
        if len(reading.digits) == 1:
            st.warning("Not sure. Top 3: " + ", ".join(f"**{d}** {percent(p)}" for d, p in reading.digits[0].top3))
        else:
            st.warning(
                f"Not sure of the {', '.join(unsure)} digit{'s' if len(unsure) > 1 else ''}: see the top 3 "
                "of each below."
            )


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
    st.markdown(
        "##### What the model saw, and what drove it\n:gray[:small[Left: the 28x28 picture the network "
        "reads. Right: the same with the pixels whose blanking lowers the answer the most lit up (dark: no "
        "influence, yellow: the most).]]"
    )
    count = len(reading.digits)
    with st.container(horizontal=True, gap="medium"):  # side by side, as many as fit, then the next row
        for position, (digit, picture) in enumerate(zip(reading.digits, pictures), start=1):
            st.image(
                picture,
                caption=digit_caption(position, count, digit),
                alt=f"The {ordinal(position)} digit as the model saw it, read as {digit.digit}, and its saliency map",
            )


def show_reading(reading: Reading, original: bytes, clf: Classifier, key: str) -> None:
    """An uploaded picture: the original with a box per digit beside the glance, then the details."""
    picture, glance = st.columns([3, 2])
    picture.image(
        with_boxes(reading),
        caption=f"digits found: {reading.text}",
        alt=f"The picture with a box around each of the {len(reading.digits)} digits found",
    )
    with glance:
        show_number(reading)
        probability_chart(reading)
        correction_form(reading, original, key)
    show_details(reading, clf)


def correction_form(reading: Reading, original: bytes, key: str) -> None:
    """Wrong reading? The right digits are kept for this visitor, one per digit found, to fine-tune on later; giving
    them (and, separately, the picture) to the shared pool is an explicit choice.  What was typed stays in the field
    when it can't be saved, so it can be mended."""
    with st.form(f"correct-{key}", border=False):
        answer, save = st.columns([3, 2], vertical_alignment="bottom", wrap=False)
        answer.text_input(
            "Wrong? The right number:",
            placeholder=f"{len(reading.digits)} digit{'s' if len(reading.digits) > 1 else ''}",
            key=f"label-{key}",
        )
        st.checkbox(
            "Also give these digits to the shared pool that improves the app for everyone "
            "(only the 28x28 digits are kept, with their labels)",
            key=f"share-{key}",
        )
        st.checkbox("…and the original picture with them (only if the box above is ticked)", key=f"share-picture-{key}")
        save.form_submit_button(
            "Save",
            help="Keep the digits with the right labels (only you see them), to fine-tune on later",
            on_click=save_typed_correction,
            args=([digit.image for digit in reading.digits], original, key),
        )
    if (outcome := st.session_state.pop(f"saved-{key}", None)) is not None:
        kind, message = outcome
        getattr(st, kind)(message)


def save_typed_correction(images: list[np.ndarray], original: bytes, key: str) -> None:
    """The Save button's callback: check what was typed, save it, and empty the field only once saved."""
    label, share = st.session_state[f"label-{key}"].strip(), st.session_state[f"share-{key}"]
    if problem := label_problem(label, len(images)):
        st.session_state[f"saved-{key}"] = ("error", f"Not saved: {problem}")
        return
    if (store := my_corrections()) is None:
        return
    picture = original if share and st.session_state[f"share-picture-{key}"] else None
    outcome = save_correction(store, images, label, share, picture)
    st.session_state[f"saved-{key}"] = outcome
    if outcome[0] != "error":
        st.session_state[f"label-{key}"] = ""


def label_problem(label: str, count: int) -> str | None:
    """What is wrong with a typed correction, in words for the visitor; None when it fits the digits found."""
    found = f"{count} digit{'s were' if count > 1 else ' was'} found"
    if not label:
        return f"type the right number first ({found})."
    if not (label.isascii() and label.isdigit()):
        return f"type digits 0-9 only, one for each digit found ({found})."
    if len(label) != count:
        return f"{found}, so type {count} digit{'s' if count > 1 else ''} (you typed {len(label)})."
    return None


def save_correction(
    store: CorrectionStore, images: list[np.ndarray], label: str, share: bool, picture: bytes | None
) -> tuple[str, str]:
    """Keep the digits for this visitor and, if they chose to, give them (and ``picture``) to the shared pool;
    returns the outcome as (kind of message, message)."""
    try:
        store.add(images, label, at_most=MAX_SESSION_CORRECTIONS)
    except (ValueError, StoreError) as exc:
        return "error", f"Not saved: {for_visitor(exc)}"
    saved = f"Saved {label} (only you see it): thank you. The Corrections tab can fine-tune the model on it."
    if not share:
        return "success", saved
    try:
        if not take_pool_share(len(images)):
            raise ValueError(f"one visitor gives at most {MAX_SHARED_PER_SESSION} digits to the shared pool")
        store.for_owner(SHARED).add(images, label, original=picture, at_most=MAX_SHARED_POOL)
    except ValueError as exc:
        return "warning", f"{saved} Not given to the shared pool: {for_visitor(exc)}."
    except StoreError as exc:
        return "warning", f"{saved} Not given to the shared pool: {for_visitor(exc)}"
    return "success", saved.replace(" (only you see it)", " and given to the shared pool")
