"""Driving the app in-process with Streamlit's AppTest: opening a tab, reading what elements say."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def open_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["page"] = tab
    return at.run()


def texts(elements) -> list[str]:
    return [str(element.value) for element in elements]
