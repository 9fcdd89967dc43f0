"""A visitor without an account: the browser's key finds their corrections and models again after a reload, and a
key the server never issued finds nothing (tests/test_browser_visitors.py does the same in Chromium)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from digitlib import available_models
from digitlib.app import visitors
from digitlib.app.visitors import KEEP_VISITOR_DATA, VisitorKeys
from digitlib.store.corrections import CorrectionStore
from tests.support.apptest import open_tab, texts
from tests.support.digit_pictures import number_image, png_bytes

pytestmark = pytest.mark.skipif(not available_models(), reason="no shipped model in models/ yet")


def test_only_issued_keys_are_known_and_only_their_hashes_are_kept(tmp_path):
    keys = VisitorKeys(tmp_path)
    key = keys.issue()
    assert keys.known(key)
    assert not keys.known(key[:-1] + ("A" if key[-1] != "A" else "B"))  # one character off
    assert not keys.known("../" + key) and not keys.known("") and not keys.known(None)
    stored = [path.name + path.read_text() for path in tmp_path.iterdir()]
    assert stored == [f"{keys.id_of(key)}.json{{}}"] and not any(key in text for text in stored)


def test_a_key_is_forgotten_after_the_visitor_stays_away(tmp_path):
    keys = VisitorKeys(tmp_path)
    key = keys.issue()
    long_ago = time.time() - KEEP_VISITOR_DATA.total_seconds() - 60
    os.utime(keys.path(keys.id_of(key)), (long_ago, long_ago))
    assert not keys.known(key)
    keys.forget(KEEP_VISITOR_DATA)
    assert list(tmp_path.iterdir()) == []


def test_a_record_takes_only_known_fields(tmp_path):
    keys = VisitorKeys(tmp_path)
    visitor = keys.id_of(keys.issue())
    keys.remember(visitor, run="token", shared_digits=3)
    assert keys.record(visitor) == {"run": "token", "shared_digits": 3}
    with pytest.raises(ValueError, match="not a visitor record field"):
        keys.remember(visitor, admin=True)


def browser_with(monkeypatch, repo, key: str | None) -> AppTest:
    """A new page load whose browser sends ``key`` as its cookie (None: a browser that never came here)."""
    monkeypatch.setattr(visitors, "cookie_key", lambda: key)
    return AppTest.from_file(str(repo / "streamlit_app.py"), default_timeout=60).run()


def correct_seven_as_one(at: AppTest, mnist) -> AppTest:
    at = open_tab(at, "Upload")
    at.file_uploader[0].set_value(("seven.png", png_bytes(number_image(mnist, "7")), "image/png")).run()
    at.text_input(key="label-upload-0").set_value("1")
    next(button for button in at.button if button.label == "Save").click()
    return at.run()


def corrections_count(at: AppTest) -> str:
    at = open_tab(at, "Corrections")
    return next(text for text in texts(at.markdown) if "corrected digit" in text).split("**")[1]


def test_a_reload_keeps_corrections_and_models_and_a_forged_key_gets_nothing(app, repo, mnist, monkeypatch, tmp_path):
    first = browser_with(monkeypatch, repo, None)
    key, visitor = first.session_state["visitor_key"], first.session_state["visitor_id"]
    correct_seven_as_one(first, mnist)
    mine = tmp_path / "trained" / "sessions" / visitor / "my-model"  # as a training run of this visitor leaves it
    shutil.copytree(Path(repo / "models" / available_models()[0]), mine)

    reloaded = browser_with(monkeypatch, repo, key)
    assert reloaded.session_state["visitor_id"] == visitor
    assert corrections_count(reloaded) == "1"
    assert "my-model" in reloaded.sidebar.selectbox[0].options

    for stranger_key in (None, key[:-2] + "xy", "made-up"):
        stranger = browser_with(monkeypatch, repo, stranger_key)
        assert stranger.session_state["visitor_id"] != visitor
        assert stranger.session_state["visitor_key"] != key  # a fresh key, and with it an empty identity
        assert corrections_count(stranger) == "0"
        assert "my-model" not in stranger.sidebar.selectbox[0].options
    store = CorrectionStore(tmp_path / "corrections.sqlite3", owner=visitor)
    assert len(store) == 1


def test_the_share_given_to_the_pool_is_counted_per_visitor_across_reloads(app, repo, mnist, monkeypatch):
    from digitlib.app import stores

    monkeypatch.setattr(stores, "MAX_SHARED_PER_SESSION", 1)
    monkeypatch.setattr("digitlib.app.reading.MAX_SHARED_PER_SESSION", 1)
    first = browser_with(monkeypatch, repo, None)
    key = first.session_state["visitor_key"]
    at = open_tab(first, "Upload")
    at.file_uploader[0].set_value(("seven.png", png_bytes(number_image(mnist, "7")), "image/png")).run()
    at.text_input(key="label-upload-0").set_value("1")
    at.checkbox(key="share-upload-0").check()
    next(button for button in at.button if button.label == "Save").click()
    at.run()
    assert any("given to the shared pool" in message for message in texts(at.success))

    again = open_tab(browser_with(monkeypatch, repo, key), "Upload")
    again.file_uploader[0].set_value(("seven.png", png_bytes(number_image(mnist, "7")), "image/png")).run()
    again.text_input(key="label-upload-0").set_value("1")
    again.checkbox(key="share-upload-0").check()
    next(button for button in again.button if button.label == "Save").click()
    again.run()
    warning = next(message for message in texts(again.warning) if "Not given to the shared pool" in message)
    assert warning.startswith("Saved 1 (only you see it)")  # kept for the visitor even though the pool said no
