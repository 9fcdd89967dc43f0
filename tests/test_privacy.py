"""Strangers on one public server, through Streamlit's AppTest: each visitor's corrections are theirs alone, the
shared pool is given on purpose, owner controls need the owner's password, no page shows a server path, and one
session can't take more than its share (pictures per batch and per minute, digits kept)."""

from __future__ import annotations

import tempfile
from collections import deque
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from digitlib import DEFAULT_MODEL, available_models
from digitlib.app import access, errors
from digitlib.store.corrections import SHARED, CorrectionStore, StoreError
from digitlib.store.files import npz_bytes
from tests.support.apptest import open_tab, texts
from tests.support.digit_pictures import number_image, png_bytes

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.skipif(not available_models(), reason="no shipped model in models/ yet")


@pytest.fixture
def places(repo, tmp_path, monkeypatch) -> Path:
    """Every writable place of the app in one temporary folder; no owner password in the environment."""
    monkeypatch.setenv("DIGITLIB_TRAINED_MODELS_DIR", str(tmp_path / "trained"))
    monkeypatch.setenv("DIGITLIB_STORE", str(tmp_path / "corrections.sqlite3"))
    monkeypatch.delenv(access.OWNER_PASSWORD_VAR, raising=False)
    monkeypatch.chdir(repo)
    monkeypatch.setattr(
        access,
        "WRONG_OWNER_PASSWORDS",
        access.WrongPasswords(access.MAX_WRONG_OWNER_PASSWORDS, access.WRONG_OWNER_PASSWORD_WINDOW),
    )
    return tmp_path


def other_than_default(models: list[str]) -> str:
    """A shipped model the owner may make every visitor's default: one that is not already."""
    return next(name for name in reversed(models) if name != DEFAULT_MODEL)


def visitor(repo, password: str | None = None) -> AppTest:
    """A new browser session; ``password`` is the owner password the deployment's secrets hold, if any."""
    at = AppTest.from_file(str(repo / "streamlit_app.py"), default_timeout=60)
    if password:
        at.secrets["owner_password"] = password
    return at.run()


def save_correction(
    at: AppTest, mnist, number: str, right: str, share: bool = False, share_picture: bool = False
) -> AppTest:
    at = open_tab(at, "Upload")
    at.file_uploader[0].set_value((f"{number}.png", png_bytes(number_image(mnist, number)), "image/png")).run()
    at.text_input(key="label-upload-0").set_value(right)
    at.checkbox(key="share-upload-0").set_value(share)
    at.checkbox(key="share-picture-upload-0").set_value(share_picture)
    next(button for button in at.button if button.label == "Save").click()
    at.run()
    assert not at.exception, at.exception
    assert any(message.startswith(f"Saved {right}") for message in texts(at.success)), texts(at.error)
    return at


def labels(at: AppTest, kind: str) -> list[str]:
    return [element.proto.label for element in at.get(kind)]


def test_a_visitors_corrections_are_theirs_alone(places, repo, mnist):
    alice = save_correction(visitor(repo), mnist, "7", "1")
    bob = open_tab(visitor(repo), "Corrections")
    alice = open_tab(alice, "Corrections")

    assert any(text.startswith("**1** corrected digit of yours") for text in texts(alice.markdown))
    assert "Delete" in [button.label for button in alice.button]
    assert "Download as .npz" in labels(alice, "download_button")
    assert any(text.startswith("**0** corrected digits of yours") for text in texts(bob.markdown))
    assert "Delete" not in [button.label for button in bob.button]
    assert labels(bob, "download_button") == []
    store = CorrectionStore(places / "corrections.sqlite3")
    assert len(store) == 0 and len(store.for_owner(bob.session_state["visitor_id"])) == 0  # nothing shared unasked
    assert store.for_owner(alice.session_state["visitor_id"]).samples()[0].original is None  # no picture kept


def test_giving_to_the_shared_pool_keeps_the_picture_only_when_asked(places, repo, mnist):
    at = save_correction(visitor(repo), mnist, "7", "1", share=True)
    at = save_correction(at, mnist, "4", "9", share=True, share_picture=True)
    save_correction(at, mnist, "3", "8", share_picture=True)  # the picture box alone shares nothing
    pool = CorrectionStore(places / "corrections.sqlite3", owner=SHARED)
    assert [(s.label, s.original is not None) for s in pool.samples()] == [(9, True), (1, False)]
    assert pool.samples()[0].original.startswith(b"\x89PNG")


def test_without_a_password_there_is_no_owner_mode(places, repo, mnist):
    save_correction(visitor(repo), mnist, "7", "1", share=True)
    at = visitor(repo)
    at.session_state["owner"] = True  # even a session flag can't turn it on without a configured password
    at.run()
    assert "Owner" not in [expander.label for expander in at.sidebar.expander]
    assert not at.sidebar.text_input
    assert "Save into" not in " ".join(checkbox.label for checkbox in open_tab(at, "Train").checkbox)
    at = open_tab(at, "Corrections")
    assert not any("Shared pool" in text for text in texts(at.markdown))
    assert "Make it every visitor's default" not in [button.label for button in at.sidebar.button]


def sign_in(at: AppTest, password: str) -> AppTest:
    at.sidebar.text_input[0].input(password)
    next(button for button in at.sidebar.button if button.label == "Sign in").click()
    return at.run()


@pytest.mark.parametrize("configured_by", ["secrets", "environment"])
def test_the_owner_password_unlocks_the_shared_pool_models_and_the_default(
    places, repo, mnist, monkeypatch, configured_by
):
    save_correction(visitor(repo), mnist, "7", "1", share=True)
    if configured_by == "environment":
        monkeypatch.setenv(access.OWNER_PASSWORD_VAR, PASSWORD)
    at = visitor(repo, PASSWORD if configured_by == "secrets" else None)
    assert "Owner" in [expander.label for expander in at.sidebar.expander]

    at = sign_in(at, "not the password")
    assert "Wrong password." in texts(at.sidebar.error)
    assert "Owner mode" not in texts(at.sidebar.success)
    at = sign_in(at, PASSWORD)
    assert "Owner mode" in texts(at.sidebar.success)

    assert "Save into the app's models/ folder, for every visitor (owner)" in [
        c.label for c in open_tab(at, "Train").checkbox
    ]
    at = open_tab(at, "Corrections")
    assert any(text.startswith("#### Shared pool (owner): 1 digits") for text in texts(at.markdown))
    assert "Download as .npz" in labels(at, "download_button")
    next(button for button in at.button if button.label == "Delete" and button.key.startswith("delete-pool-")).click()
    at.run()
    assert len(CorrectionStore(places / "corrections.sqlite3")) == 0

    models = available_models()
    if len(models) > 1:
        picker = at.sidebar.selectbox[0]
        other = other_than_default(models)
        at = picker.select(next(option for option in picker.options if option.startswith(other))).run()
        next(button for button in at.sidebar.button if button.label == "Make it every visitor's default").click()
        at.run()
        assert visitor(repo).session_state["active_model"].endswith(other)  # a new visitor gets it


def test_too_many_owner_password_guesses_are_refused(places, repo):
    at = visitor(repo, PASSWORD)
    for _ in range(access.MAX_OWNER_TRIES_PER_MINUTE):
        at = sign_in(at, "guess")
    at = sign_in(at, PASSWORD)  # even the right one, until the minute is over
    assert "Too many tries: wait a minute." in texts(at.sidebar.error)
    assert "Owner mode" not in texts(at.sidebar.success)


def test_guessing_through_many_sessions_closes_owner_sign_in_for_everyone_for_a_while(places, repo, monkeypatch):
    wrong = access.WrongPasswords(limit=7, window_seconds=access.WRONG_OWNER_PASSWORD_WINDOW)
    monkeypatch.setattr(access, "WRONG_OWNER_PASSWORDS", wrong)
    for guesses in (access.MAX_OWNER_TRIES_PER_MINUTE, 2):  # a new session when one is told to wait
        at = visitor(repo, PASSWORD)
        for _ in range(guesses):
            at = sign_in(at, "guess")
            assert "Wrong password." in texts(at.sidebar.error)
    closed = "Too many wrong passwords on this server lately: owner sign-in is closed for up to 10 minutes."
    at = sign_in(visitor(repo, PASSWORD), PASSWORD)  # a fresh session, the right password: still closed
    assert closed in texts(at.sidebar.error)
    assert "Owner mode" not in texts(at.sidebar.success)

    wrong.times = deque(t - access.WRONG_OWNER_PASSWORD_WINDOW for t in wrong.times)  # the window has passed
    at = sign_in(at, PASSWORD)
    assert "Owner mode" in texts(at.sidebar.success)


def test_a_download_uploaded_in_a_later_session_carries_on(places, repo, mnist):
    first = save_correction(visitor(repo), mnist, "7", "1")
    store = CorrectionStore(places / "corrections.sqlite3")
    download = npz_bytes(*store.for_owner(first.session_state["visitor_id"]).arrays())  # what the button serves

    later = open_tab(visitor(repo), "Corrections")
    later.get("file_uploader")[0].set_value(("notes.npz", b"not a download", "application/octet-stream"))
    next(button for button in later.button if button.label == "Add its digits").click()
    later.run()
    assert any(message.startswith("notes.npz: nothing added") for message in texts(later.error))
    mine = store.for_owner(later.session_state["visitor_id"])
    assert len(mine) == 0

    later.get("file_uploader")[0].set_value(("corrections-mine.npz", download, "application/octet-stream"))
    next(button for button in later.button if button.label == "Add its digits").click()
    later.run()
    assert "Added 1 digit from corrections-mine.npz." in texts(later.success)
    assert mine.counts()[1] == 1 and any(text.startswith("**1** corrected") for text in texts(later.markdown))

    later.get("file_uploader")[0].set_value(("corrections-mine.npz", download, "application/octet-stream"))
    next(button for button in later.button if button.label == "Add its digits").click()
    later.run()  # the same download again adds nothing
    assert "corrections-mine.npz: its digits were added already, so nothing was added again." in texts(later.info)
    assert mine.counts()[1] == 1


def all_text(at: AppTest) -> str:
    """Everything the page sends the browser: every element's fields, labels, help, captions and messages."""
    return "\n".join(str(node.proto) for node in [*at.main, *at.sidebar] for node in walk(node))


def walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def server_paths(repo: Path) -> list[str]:
    return [str(repo), str(Path(tempfile.gettempdir())) + "/", str(Path.home()) + "/"]


@pytest.mark.parametrize("password", [None, PASSWORD], ids=["visitor", "owner"])
def test_no_tab_shows_a_server_path(places, repo, mnist, password):
    (places / "trained" / "broken").mkdir(parents=True)
    (places / "trained" / "broken" / "model.tflite").write_bytes(b"not a model")  # its error names a file
    at = save_correction(visitor(repo, password), mnist, "7", "1", share=True)
    if password:
        at = sign_in(at, password)
    tabs = [tab.label for tab in at.tabs]  # every tab the app has, whatever they are
    assert {"Draw", "Upload", "Train", "Model", "Corrections"} <= set(tabs)
    pages = []
    for tab in tabs:
        at = open_tab(at, tab)
        assert not at.exception, at.exception
        pages.append(all_text(at))
    picker = at.sidebar.selectbox[0]
    pages.append(
        all_text(picker.select(next(option for option in picker.options if option.startswith("broken"))).run())
    )
    found = [
        (tab, place)
        for tab, text in zip([*tabs, "broken model"], pages)
        for place in server_paths(repo)
        if place in text
    ]
    assert found == []
    assert "broken/model.tflite" in pages[-1]  # the message is still there, named without the server's folders


def test_an_unusable_database_is_reported_without_its_path(places, repo, mnist):
    (places / "corrections.sqlite3").write_text("someone's notes")
    at = open_tab(visitor(repo), "Corrections")
    assert any("corrections database is unavailable" in message for message in texts(at.error))
    assert not [place for place in server_paths(repo) if place in all_text(at)]


def test_pictures_per_batch_and_per_minute_are_limited(places, repo, mnist):
    picture = png_bytes(number_image(mnist, "7"))
    at = open_tab(visitor(repo), "Upload")
    at.file_uploader[0].set_value([(f"{n}.png", picture, "image/png") for n in range(12)]).run()
    assert f"Reading the first {access.MAX_PICTURES_PER_BATCH} of 12 pictures" in " ".join(texts(at.warning))
    assert len([m for m in at.metric if m.label == "Number read"]) == access.MAX_PICTURES_PER_BATCH
    batches = access.MAX_PICTURES_PER_MINUTE // access.MAX_PICTURES_PER_BATCH
    for batch in range(1, batches + 1):  # the first batch counted 10; this runs up to the minute's limit and past it
        at.file_uploader[0].set_value([(f"{batch}-{n}.png", picture, "image/png") for n in range(10)]).run()
    assert any(f"At most {access.MAX_PICTURES_PER_MINUTE} new pictures a minute" in m for m in texts(at.warning))
    assert not [m for m in at.metric if m.label == "Number read"]


def test_a_visitor_keeps_at_most_so_many_digits(places, repo, mnist, monkeypatch):
    import digitlib.app.reading

    monkeypatch.setattr(digitlib.app.reading, "MAX_SESSION_CORRECTIONS", 1)
    at = save_correction(visitor(repo), mnist, "7", "1")
    at = open_tab(at, "Upload")
    at.text_input(key="label-upload-0").set_value("2")
    next(button for button in at.button if button.label == "Save").click()
    at.run()
    assert any("at most 1 digits are kept per visitor" in message for message in texts(at.error))
    assert len(CorrectionStore(places / "corrections.sqlite3", owner=at.session_state["visitor_id"])) == 1


def test_error_texts_reach_a_visitor_without_server_folders_or_database_details(monkeypatch):
    """A failed run names the data folder it looked in; a database error its address: a visitor sees neither."""
    monkeypatch.setattr(errors, "is_owner", lambda: False)
    data_error = ValueError("/srv/data/mnist/train-images-idx3-ubyte.gz: not an IDX file; see https://example.org/a/b")
    assert errors.for_visitor(data_error) == "train-images-idx3-ubyte.gz: not an IDX file; see https://example.org/a/b"
    database_error = StoreError("postgresql://digitlib:s3cret@db.internal:5432/x: corrections database failed")
    assert "db.internal" not in errors.for_visitor(database_error)
    monkeypatch.setattr(errors, "is_owner", lambda: True)
    assert errors.for_visitor(database_error) == str(database_error)


def test_the_owners_default_model_holds_on_every_server_of_one_database(places, repo, store_location, monkeypatch):
    """On a database the servers share, the owner's "every visitor's default" is kept there, by a name every server
    resolves in its own folders: a new visitor on another server (its own trained-models folder) gets it too."""
    models = available_models()
    if len(models) < 2:
        pytest.skip("needs two shipped models")
    monkeypatch.setenv("DIGITLIB_STORE", store_location)
    monkeypatch.setenv("DIGITLIB_TRAINED_MODELS_DIR", str(places / "server-a"))
    at = sign_in(visitor(repo, PASSWORD), PASSWORD)
    picker = at.sidebar.selectbox[0]
    other = other_than_default(models)
    at = picker.select(next(option for option in picker.options if option.startswith(other))).run()
    next(button for button in at.sidebar.button if button.label == "Make it every visitor's default").click()
    at.run()
    shared = "://" in store_location  # one SQLite file is one server's: its choice stays in that server's folder
    assert (places / "server-a" / "default-model.txt").exists() is not shared
    monkeypatch.setenv("DIGITLIB_TRAINED_MODELS_DIR", str(places / ("server-b" if shared else "server-a")))
    assert Path(visitor(repo).session_state["active_model"]).name == other
