"""The Draw tab: sketch a digit or a number on the canvas and see it read as you draw."""

from __future__ import annotations

import streamlit as st

from digitlib import read_number
from digitlib.app.reading import show_reading
from digitlib.classifier import Classifier

CANVAS_WIDTH, CANVAS_HEIGHT = 640, 240
EMPTY_CANVAS_HINT = "Draw a digit, or a whole number in a row, in the box above: the reading appears as you draw."


@st.fragment
def draw_page(clf: Classifier) -> None:
    from streamlit_drawable_canvas import st_canvas  # Components v2: importable only inside a running app

    st.session_state.setdefault("canvas_version", 0)
    brush, clear = st.columns([4, 1], vertical_alignment="bottom")
    stroke_width = brush.slider("Brush width", 6, 40, 18, key="stroke_width")
    if clear.button("Clear", width="stretch"):
        st.session_state.canvas_version += 1
    canvas = st_canvas(
        stroke_width=stroke_width, stroke_color="#000000", background_color="#FFFFFF",
        width=CANVAS_WIDTH, height=CANVAS_HEIGHT, return_image_data=True,
        key=f"canvas-{st.session_state.canvas_version}",
    )
    reading = None if canvas.image_data is None else read_number(canvas.image_data, clf)
    if reading is None or reading.is_empty:
        st.info(EMPTY_CANVAS_HINT)
    else:
        st.session_state["last_digit"] = reading.digits[0].image  # for the Inside tab
        show_reading(reading, canvas.image_bytes, clf, key="canvas")
