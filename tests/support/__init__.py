"""Helpers shared by the tests, the benchmarks and the screenshots script: pictures of digits, databases to test
against, driving the app in Chromium or over Streamlit's protocol.  Fixtures live in tests/conftest.py."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
