"""The Inside tab: what each layer of the CNN sees, how a change to the digit fools a naive demo, and every model
side by side; for a digit drawn on the Draw tab, one of the Upload tab's pictures, or a digit typed in a font."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from digitlib import ImageError, ModelError, read_number
from digitlib.app.display import as_picture, enlarged, plain_chart
from digitlib.app.models import classifier_for, model_directories, model_label
from digitlib.app.reading import ordinal, probability_bars
from digitlib.app.upload import visitor_pictures
from digitlib.inside.explain import Stage, channel_grid, first_layer_filters, network_path
from digitlib.inside.playground import CHANGES, changed_picture, read_both_ways, sweep
from digitlib.preprocess import to_mnist
from digitlib.reading.classifier import MODEL_FILE, Classifier

SOURCES = ("Your drawing", "A picture", "A typed digit")
VIEWS = ("Layers", "Playground", "Compare models")
TILE_PIXELS = 84  # every feature map is shown about this many pixels wide, whatever its size: readable on a laptop
CHANNELS_SHOWN = 16  # the most active channels of a layer; a checkbox shows them all
TIMING_RUNS = 20  # single-image inferences per model; the median is shown
PICTURE_PIXELS = 160  # the playground's three pictures side by side


@st.fragment
def inside_page(clf: Classifier) -> None:
    st.write("Follow one digit through the network, change it until the reading breaks, or let every model read it.")
    image = chosen_digit(clf)
    if image is None:
        return
    view = st.segmented_control("Look at", VIEWS, default=VIEWS[0], key="inside_view") or VIEWS[0]
    {"Layers": layers_view, "Playground": playground_view, "Compare models": compare_view}[view](clf, image)


def chosen_digit(clf: Classifier) -> np.ndarray | None:
    """The 28x28 digit to look at, from the Draw tab, the Upload tab, or a font; None (with a hint) when there is
    none."""
    drawn = st.session_state.get("drawn_digits")
    source = st.radio("Digit", SOURCES, index=0 if drawn is not None else 2, horizontal=True, key="inside_source")
    if source == "Your drawing":
        if drawn is None:
            st.info("Draw a digit on the Draw tab first, or pick another source.")
            return None
        return one_of(*drawn, what="Your drawing")
    if source == "A picture":
        return uploaded_digit(clf)
    digit = st.select_slider("Typed digit", range(10), 3, key="typed_digit")
    st.caption("Typed in a font, not handwritten: MNIST has no serifs, so a font's 1 may pass for a 7.")
    return typed_digit(digit)


def one_of(text: str, digits: list[np.ndarray], what: str) -> np.ndarray:
    """The digit of a number that the visitor picks (the only one, for a single digit)."""
    if len(digits) == 1:
        return digits[0]
    position = st.segmented_control(
        f"{what} reads {text}: which digit?",
        range(len(digits)),
        default=0,
        format_func=lambda i: f"{ordinal(i + 1)}: {text[i]}",
        key=f"position-{what}",
    )
    return digits[position or 0]


def uploaded_digit(clf: Classifier) -> np.ndarray | None:
    """A digit of one of the Upload tab's pictures."""
    pictures = visitor_pictures()
    if not pictures:
        st.info("Upload a picture on the Upload tab first: its digits can be looked at here.")
        return None
    picture = st.selectbox(
        "Picture (from the Upload tab)", pictures, format_func=lambda p: p.name, key="inside_picture"
    )
    try:
        reading = read_number(picture.data, clf)
    except ImageError as exc:
        st.error(f"{picture.name}: {exc}")
        return None
    if reading.is_empty:
        st.warning(f"{picture.name}: no digit found in this image: {reading.reason}.")
        return None
    return one_of(reading.text, [digit.image for digit in reading.digits], what=picture.name)


@st.cache_data(show_spinner=False)
def typed_digit(digit: int) -> np.ndarray:
    """A digit in Pillow's built-in font, through the same pipeline as a drawing."""
    picture = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(picture).text((100, 100), str(digit), fill=255, font=ImageFont.load_default(size=160), anchor="mm")
    return to_mnist(np.asarray(picture))


def model_key(clf: Classifier) -> str:
    """Names a model file's version, so cached results follow a retrained model."""
    return f"{clf.directory}@{(clf.directory / MODEL_FILE).stat().st_mtime}"


def digest(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image, np.float32).tobytes()).hexdigest()[:12]


# ---------------------------------------------------------------- layers


@st.cache_data(show_spinner=False, max_entries=64)
def cached_path(_clf: Classifier, key: str, image: np.ndarray) -> tuple[list[Stage], np.ndarray]:
    """Every layer's output and the first layer's filters: computed once per digit and model."""
    return network_path(_clf, image), first_layer_filters(_clf)


def stage_caption(stage: Stage, previous: Stage | None, last_dense: bool) -> str:
    """One plain sentence on what a stage does."""
    size = "x".join(map(str, stage.activation.shape[:2]))
    if stage.kind == "conv":
        came_in = "the 28x28 input" if previous is None else f"the {previous.activation.shape[-1]} maps before"
        return (
            f"{stage.activation.shape[-1]} learned filters slide over {came_in}; each {size} map lights up "
            "where its pattern (an edge, a curve, a stroke's end) appears. Strongest maps first."
        )
    if stage.kind == "pool":
        return (
            f"Keeps the strongest response in every 2x2 block: the maps shrink to {size}, so a feature still "
            "counts when the digit moves by a pixel."
        )
    if stage.kind == "dense" and last_dense:
        return "Ten scores, one per digit, each a weighted sum of everything before: the highest score wins."
    if stage.kind == "dense":
        return (
            f"{stage.activation.size} units, each weighing all the numbers of the last maps: they combine the "
            "parts into whole-digit evidence."
        )
    return "Softmax turns the ten scores into probabilities that add up to 1: the reading and how sure it is."


def layers_view(clf: Classifier, image: np.ndarray) -> None:
    stages, filters = cached_path(clf, model_key(clf), image)
    every_channel = st.checkbox(
        "Show every channel",
        key="every_channel",
        help=f"Otherwise the {CHANNELS_SHOWN} most active maps of each layer.",
    )
    st.markdown("**input** · 28x28, 1 channel")
    st.caption("The digit as MNIST has it: white ink on black, fitted into 20x20 and centred by its mass.")
    st.image(enlarged(image))
    last_dense = max(i for i, stage in enumerate(stages) if stage.kind == "dense")
    previous = None
    for index, stage in enumerate(stages):
        shape = " x ".join(map(str, stage.activation.shape))
        st.markdown(f"**{stage.name}** · {stage.kind} · {shape}")
        st.caption(stage_caption(stage, previous, index == last_dense))
        if stage.kind in ("conv", "pool"):
            scale = max(1, round(TILE_PIXELS / stage.activation.shape[0]))
            grid, order = channel_grid(stage.activation, limit=None if every_channel else CHANNELS_SHOWN, scale=scale)
            st.image(grid, caption="channels " + ", ".join(map(str, order[:12])) + ("…" if len(order) > 12 else ""))
            if previous is None:
                show_filters(filters, order)
            previous = stage
        elif stage.kind == "dense":
            axis = "digit" if index == last_dense else "unit"
            plain_chart(
                {
                    axis: [str(unit) for unit in range(stage.activation.size)],
                    "activation": [round(float(value), 4) for value in stage.activation],
                },
                axis,
                {"activation": "#0072B2"},
                "bar",
                axis,
                "activation",
                200,
                alt=f"The activation of each of the {stage.activation.size} {axis}s of {stage.name}.",
            )
        else:
            probability_bars([("output", stage.activation)], alt="The ten outputs: the probability of each digit 0-9.")


def show_filters(filters: np.ndarray, order: list[int]) -> None:
    """The first layer's 3x3 filters in the order of the maps above, so a filter sits where its map does."""
    grid, _ = channel_grid(filters[:, :, 0, :], order=order, scale=TILE_PIXELS // filters.shape[0], signed=True, gap=8)
    st.image(grid, caption="the filters that made these maps, in the same order")
    st.caption(
        "Each filter is 3x3 weights (red: the pixel counts for, blue: against, white: ignored). A map is bright "
        "where the picture under the filter looks like it: mostly edges at one angle, and stroke sides."
    )


# ---------------------------------------------------------------- playground


@st.cache_data(show_spinner="Turning the change up…", max_entries=64)
def cached_sweep(_clf: Classifier, key: str, image: np.ndarray, settings: tuple, change: str, digit: int) -> dict:
    return sweep(_clf, image, dict(settings), change, digit)


def reset_sliders() -> None:
    for name, change in CHANGES.items():
        st.session_state[f"play_{name}"] = change.neutral


def playground_view(clf: Classifier, image: np.ndarray) -> None:
    st.caption(
        "Most digit demos resize the picture to 28x28 and invert it. MNIST digits are centred, 20x20 and of "
        "one stroke width; change yours and compare that naive demo with digitlib's pipeline."
    )
    read = int(clf.predict_prepared(image[None])[0].argmax())
    truth_column, plot_column, reset_column = st.columns([2, 3, 1], vertical_alignment="bottom")
    truth = truth_column.selectbox("The digit it really is", range(10), index=read, key=f"truth-{digest(image)}")
    chosen = plot_column.selectbox(
        "Plot the confidence against", list(CHANGES), format_func=lambda c: CHANGES[c].label, key="sweep_change"
    )
    reset_column.button("Reset sliders", width="stretch", on_click=reset_sliders)
    settings = {}
    for column, (name, change) in zip(st.columns(3) * 2, CHANGES.items()):
        st.session_state.setdefault(f"play_{name}", change.neutral)  # the state alone sets the value: no clash
        settings[name] = column.slider(
            change.label, change.low, change.high, step=change.step, format="%g", key=f"play_{name}"
        )
    picture = changed_picture(image, settings)
    reads = read_both_ways(clf, picture)
    changed, naive, pipeline = st.columns(3)
    changed.image(
        as_picture(picture), width=PICTURE_PIXELS, caption=f"the changed digit ({picture.shape[1]}x{picture.shape[0]})"
    )
    for column, way, seen, probabilities in (
        (naive, "naive resize-and-invert", reads.naive_image, reads.naive_probabilities),
        (pipeline, "digitlib's pipeline", reads.pipeline_image, reads.pipeline_probabilities),
    ):
        column.image(
            enlarged(seen).resize((PICTURE_PIXELS, PICTURE_PIXELS), Image.NEAREST),
            width=PICTURE_PIXELS,
            caption=f"handed to the network by {way}",
        )
        column.metric(
            way,
            f"reads {int(probabilities.argmax())}",
            delta_color="off",
            delta_arrow="off",
            delta=f"{probabilities[truth]:.0%} sure it is {truth}",
        )
    others = tuple(sorted((name, value) for name, value in settings.items() if name != chosen))
    table = cached_sweep(clf, model_key(clf), image, others, chosen, truth)
    plain_chart(
        table,
        "strength",
        {"naive": "#e4572e", "pipeline": "#1f77b4"},
        "line",
        CHANGES[chosen].label,
        f"confidence it is {truth}",
        260,
        alt=f"The confidence that it is {truth} as "
        f"{CHANGES[chosen].label.lower()} runs over its range, read naively and by the pipeline.",
    )
    st.caption("The other sliders stay where they are while this one runs over its range.")


# ---------------------------------------------------------------- compare models


def timed_probabilities(clf: Classifier, image: np.ndarray) -> tuple[np.ndarray, float]:
    """The ten probabilities and the median milliseconds of one inference, here and now."""
    times = []
    for _ in range(TIMING_RUNS):
        started = time.perf_counter()
        probabilities = clf.predict_prepared(image[None])[0]
        times.append(time.perf_counter() - started)
    return probabilities, 1000 * float(np.median(times))


def compare_view(clf: Classifier, image: np.ndarray) -> None:
    st.caption(
        f"Every model shipped or trained here reads the same digit (inference only, median of {TIMING_RUNS} "
        "runs, on this server now)."
    )
    rows, charts = [], []
    for directory in model_directories():
        try:
            model = classifier_for(directory)
        except ModelError as exc:
            st.error(f"{model_label(directory)}: {exc}")
            continue
        probabilities, milliseconds = timed_probabilities(model, image)
        digit = int(probabilities.argmax())
        rows.append(
            {
                "model": model_label(directory),
                "digit": digit,
                "confidence": float(probabilities[digit]),
                "inference (ms)": milliseconds,
                "parameters": model.card.get("parameters"),
            }
        )
        charts.append((model_label(directory), probabilities))
    picture, table = st.columns([1, 5])
    picture.image(enlarged(image), caption="the digit read")
    table.dataframe(
        rows,
        hide_index=True,
        column_config={  # narrow columns: the table fits a phone's width
            "model": st.column_config.TextColumn(width="small"),
            "digit": st.column_config.NumberColumn(width=40),
            "confidence": st.column_config.NumberColumn(
                "sure", format="percent", width=60, help="how sure the model is of the digit it read"
            ),
            "inference (ms)": st.column_config.NumberColumn(
                "ms", format="%.2f", width=50, help="milliseconds to read one digit"
            ),
            "parameters": st.column_config.NumberColumn(
                "weights", format="localized", width=80, help="the model's parameters"
            ),
        },
    )
    per_row = 3
    for row in range(0, len(charts), per_row):
        for column, (label, probabilities) in zip(st.columns(per_row), charts[row : row + per_row]):
            with column:
                st.caption(label)
                probability_bars([(label, probabilities)], alt=f"{label}: the probability of each digit 0-9.")
