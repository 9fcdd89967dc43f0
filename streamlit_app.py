"""Digit Classifier: draw, upload or photograph digits; train and inspect the CNN that reads them.

UI only: every reading, explanation, training run and model card comes from digitlib; each tab lives in its own
module under ``digitlib/app/``.  This process never imports TensorFlow: training and fine-tuning run in a child
process (``digitlib.training.jobs``), so the page is usable within seconds of launch and stays light.
"""

from __future__ import annotations

import streamlit as st

from digitlib.app.corrections import corrections_page
from digitlib.app.draw import draw_page
from digitlib.app.inside import inside_page
from digitlib.app.model_card import model_page
from digitlib.app.sidebar import model_picker
from digitlib.app.training import tab_of_my_run, train_page
from digitlib.app.upload import upload_page
from digitlib.app.visitors import keep_key_in_browser

PAGES = {
    "Draw": draw_page,
    "Upload": upload_page,
    "Inside": inside_page,
    "Train": train_page,
    "Model": model_page,
    "Corrections": corrections_page,
}
PAGES_NEEDING_A_MODEL = {draw_page, upload_page, inside_page, model_page}
# A long file name stays on one line (cut with an ellipsis, whole in its tooltip-free text to screen readers); a wide
# table scrolls inside its own box on a phone, with a scrollbar that shows there is more.
PAGE_CSS = """<style>
[class*="st-key-picture-name-"] p { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; margin: 0; }
[data-testid="stMarkdownContainer"] table { display: block; overflow-x: auto; }
</style>"""


def main() -> None:
    st.set_page_config(page_title="Digit Classifier", page_icon="✍️", layout="wide")
    st.title("✍️ Digit Classifier")
    st.caption("A CNN trained on MNIST reads your handwritten digits and numbers, and shows why.")
    keep_key_in_browser()
    st.html(PAGE_CSS)
    clf = model_picker()
    if "page" not in st.session_state and (following := tab_of_my_run()):
        st.session_state.page = following  # a reload during a run opens the tab that follows it
    tabs = st.tabs(list(PAGES), key="page", on_change="rerun")
    for tab, page in zip(tabs, PAGES.values()):
        if tab.open:
            with tab:
                if page not in PAGES_NEEDING_A_MODEL:
                    page()
                elif clf is None:
                    st.info("Pick a model in the sidebar, or train one on the Train tab.")
                else:
                    page(clf)


main()
