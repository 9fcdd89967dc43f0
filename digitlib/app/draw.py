"""The Draw tab: sketch a digit or a number on the canvas and see it read the moment the pen lifts.

Instant by construction: a stroke reruns only a fragment holding the canvas and what is read from it (the brush,
Clear, styles and script are outside it, sent once); the number read goes out first and the bars, the canvas, the
correction form and the details a moment later, so the browser paints the number before it renders the rest;
saliency is cached per digit; and the first visit warms the reading path in the background so the first stroke
doesn't pay for imports and LiteRT's first call.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from digitlib import read_number
from digitlib.app.display import ENLARGE
from digitlib.app.reading import correction_form, probability_chart, seen_and_saliency, show_details, show_number
from digitlib.inside.explain import overlay, saliency
from digitlib.reading.classifier import Classifier

if TYPE_CHECKING:
    from streamlit_drawable_canvas import CanvasResult

CANVAS_WIDTH, CANVAS_HEIGHT = 640, 240  # a row of digits fits; the network reads each digit at 28x28 anyway
COLUMNS = [CANVAS_WIDTH + 32, 420]  # the canvas and its controls | the reading: side by side at 1280x800
EMPTY_CANVAS_HINT = (
    "Draw a digit, or a whole number in a row, in the box: the reading appears here as you lift the pen."
)
DEFAULT_BRUSH = 18  # pixels on the 640x240 canvas: about MNIST's stroke once a digit is shrunk to 20x20
BRUSH_RANGE = (6, 40)  # the brush slider's ends: a hairline to a marker
TIMING_LOG = "DIGITLIB_TIMING_LOG"  # a file path: each stroke's server time is appended as a JSON line (benchmarks)


def canvas_fit_css() -> str:
    """Scale the canvas down to the width its column has, in steps of 16 px (a phone is ~360 px wide); the brush
    and Clear controls above it as wide as its column (they are outside the fragment, so outside the columns).

    CSS zoom keeps the canvas' own 640x240 pixels, so the picture read keeps its aspect and size; the canvas
    library maps touches through its on-screen size.  Container queries measure the column, not the window.
    """
    share = COLUMNS[0] / sum(COLUMNS)  # of the width the two columns share, beside a 2 rem gap; all of it on a phone
    rules = [
        ".st-key-drawing-area { container-type: inline-size; container-name: drawing; }",
        f".st-key-drawing-controls {{ max-width: calc((100% - 2rem) * {share:.4f}); }}",
        "@media (max-width: 640px) { .st-key-drawing-controls { max-width: none; } }",
    ]
    for width in range(CANVAS_WIDTH, 224, -16):
        zoom = (width - 16) / CANVAS_WIDTH
        rules.append(
            f"@container drawing (max-width: {width}px) "
            f"{{ .st-key-drawing-area [class*='st-key-canvas-'] {{ zoom: {zoom:.3f}; }} }}"
        )
    return "<style>" + "\n".join(rules) + "</style>"


# The canvas sends a drawing 200 ms after the pen lifts (a debounce for strokes in quick succession); its
# toolbar's "Update the app with this drawing" button sends at once.  Pressing it as the pen lifts makes the
# reading follow the stroke instead of the debounce.  Installed once per page; strokes only, not the toolbar.
# The press comes when the lift's mouseup/touchend reaches the window, after the canvas (listening on its
# document) has added the stroke: a timer would wait for the next frame, ~15 ms later.  The same script hides the
# toolbar's editing tools inside each new canvas.
SEND_ON_LIFT_JS = """<script>
if (!window.digitlibSendOnLift) {
  const HIDDEN_TOOLS = ["Edit", "Bring forward", "Send backward", "Delete selected"];
  window.digitlibSendOnLift = true;
  let send = null;
  window.addEventListener("pointerup", event => {
    const host = event.composedPath().find(node => node.classList?.contains("st-key-drawing-area"));
    const canvas = event.composedPath().find(node => node.classList?.contains("upper-canvas"));
    const update = 'button[aria-label="Update the app with this drawing"]';
    send = host && canvas && canvas.getRootNode().querySelector(update);
  }, {capture: true});
  const press = () => { if (send) { const button = send; send = null; button.click(); } };
  window.addEventListener("mouseup", press);
  window.addEventListener("touchend", press);
  // The toolbar's editing tools (the pencil turns strokes into selections) mean nothing for a digit: hidden.
  setInterval(() => {
    for (const host of document.querySelectorAll(".st-key-drawing-area [class*='st-key-canvas-'] *")) {
      if (host.shadowRoot && !host.shadowRoot.getElementById("digitlib-toolbar")) {
        const style = document.createElement("style");
        style.id = "digitlib-toolbar";
        style.textContent = HIDDEN_TOOLS.map(name => `button[aria-label="${name}"]`).join(",")
          + "{display:none !important}";
        host.shadowRoot.appendChild(style);
      }
    }
  }, 300);
}
</script>"""


def warm_up_drawing(clf: Classifier) -> None:
    """One drawn stroke read and explained end to end: imports, OpenCV, LiteRT and Matplotlib's first calls (no
    Streamlit call: this runs outside any session)."""
    paper = np.full((CANVAS_HEIGHT, CANVAS_WIDTH, 4), 255, np.uint8)
    paper[40:200, 310:328, :3] = 0
    for digit in read_number(paper, clf).digits:
        overlay(digit.image, saliency(clf, digit.image), scale=ENLARGE)


@st.cache_resource(show_spinner=False)
def warmed_up(_clf: Classifier, model_id: int) -> threading.Thread:
    """Once per loaded model, in the background: the page doesn't wait for it, the first stroke barely does."""
    thread = threading.Thread(target=warm_up_drawing, args=(_clf,), name="warm-up", daemon=True)
    thread.start()
    return thread


def log_timing(**figures) -> None:
    """Server time of one stroke (wall clock, and the script thread's CPU time, which a busy machine does not
    inflate) for benchmarks/browser_bench.py; nothing is written unless it asks."""
    if path := os.environ.get(TIMING_LOG):
        with open(path, "a") as log:
            log.write(
                json.dumps(
                    {"time": time.time()} | {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}
                )
                + "\n"
            )


def clear_canvas() -> None:
    """A new key mounts a fresh, empty canvas (a callback, so it happens before the tab reruns)."""
    st.session_state.canvas_version += 1
    for kept in ("kept_drawing", "canvas_start", "drawn_digits"):
        st.session_state.pop(kept, None)


def keep_brush() -> None:
    st.session_state.brush = st.session_state.stroke_width


def brush_slider(controls) -> None:
    """The brush width, kept apart from the widget (whose state goes when another tab is open) so it survives."""
    if "stroke_width" not in st.session_state:
        st.session_state.stroke_width = st.session_state.get("brush", DEFAULT_BRUSH)
    controls.slider("Brush width", *BRUSH_RANGE, key="stroke_width", on_change=keep_brush)


@st.fragment
def draw_page(clf: Classifier) -> None:
    """The brush and Clear controls, the canvas' styles and script, then the canvas and its reading.

    The controls are outside the canvas' fragment: a stroke reruns only that fragment, and the browser re-renders
    only what it sends.  Changing the brush or clearing reruns this tab's fragment, not the whole page: the title,
    the sidebar and the tabs would cost a cleared canvas more than the tab itself.
    """
    warmed_up(clf, id(clf))
    st.session_state.setdefault("canvas_version", 0)
    controls = st.container(key="drawing-controls")  # as wide as the canvas' column (canvas_fit_css)
    brush, clear = controls.columns([3, 1], vertical_alignment="bottom", wrap=False)  # one row on a phone too
    brush_slider(brush)
    clear.button("Clear", width="stretch", on_click=clear_canvas)
    st.html(canvas_fit_css())
    st.html(SEND_ON_LIFT_JS, unsafe_allow_javascript=True)
    drawing_and_reading(clf)


def drawing_sent(key: str) -> CanvasResult:
    """What the canvas under ``key`` last sent (a CanvasResult, no picture before the first stroke), read from
    the session before the canvas is drawn again, so the reading can reach the browser before the canvas does.

    The drawing is also kept apart from the canvas' own state, which goes while another tab is open: back on this
    tab, the canvas is mounted again with those strokes, and they are read again.
    """
    from streamlit_drawable_canvas import CanvasResult

    drawing = (st.session_state.get(key) or {}).get("drawing") or {}
    if drawing.get("data"):
        st.session_state.kept_drawing = drawing
    elif key not in st.session_state and "kept_drawing" in st.session_state:
        st.session_state.canvas_start = st.session_state.kept_drawing["raw"]  # this canvas starts with these strokes
        drawing = st.session_state.kept_drawing
    return CanvasResult(drawing.get("raw"), drawing.get("data"), return_image_data=True)


@st.fragment
def drawing_and_reading(clf: Classifier) -> None:
    """Canvas on the left, the reading on the right (stacked on a phone), the details below.

    The script sends the reading first, then the canvas, the correction form and the details: the browser shows
    the number before it renders the rest.
    """
    from streamlit_drawable_canvas import st_canvas  # Components v2: importable only inside a running app

    started, started_cpu = time.perf_counter(), time.thread_time()
    key = f"canvas-{st.session_state.canvas_version}"
    sent = drawing_sent(key)
    picture = sent.image_data
    got = time.perf_counter()
    reading = None if picture is None else read_number(picture, clf)
    read = time.perf_counter()
    drawing, glance = st.columns(COLUMNS, gap="medium")
    with glance:
        if reading is None or reading.is_empty:
            st.session_state.pop("drawn_digits", None)
            st.info(EMPTY_CANVAS_HINT)
        else:
            st.session_state.drawn_digits = (reading.text, [digit.image for digit in reading.digits])  # for Inside
            show_number(reading)
    shown, shown_cpu = time.perf_counter(), time.thread_time()
    # The number is on its way; the saliency computed now (~20 ms a digit) keeps the rest apart from it, so the
    # browser paints the number before it renders the bars, the canvas, the form and the details.
    pictures = [] if reading is None else [seen_and_saliency(digit, clf) for digit in reading.digits]
    if pictures:
        with glance:
            probability_chart(reading)
    with drawing.container(key="drawing-area"):
        st_canvas(
            stroke_width=st.session_state.get("stroke_width", DEFAULT_BRUSH),
            stroke_color="#000000",
            background_color="#FFFFFF",
            width=CANVAS_WIDTH,
            height=CANVAS_HEIGHT,
            return_image_data=True,
            initial_drawing=st.session_state.get("canvas_start"),
            key=key,
        )
    if pictures:
        with glance:
            correction_form(reading, sent.image_bytes, key="canvas")
        show_details(reading, clf, pictures)
        log_timing(
            text=reading.text,
            digits=len(reading.digits),
            canvas_ms=1000 * (got - started),
            reading_ms=1000 * (read - got),
            glance_ms=1000 * (shown - read),
            after_reading_ms=1000 * (time.perf_counter() - shown),
            total_ms=1000 * (time.perf_counter() - started),
            cpu_until_shown_ms=1000 * (shown_cpu - started_cpu),
            cpu_total_ms=1000 * (time.thread_time() - started_cpu),
        )
