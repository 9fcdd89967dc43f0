"""The sidebar: the owner's sign-in and the active-model picker."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from digitlib import ModelError
from digitlib.app.access import is_owner, owner_sign_in
from digitlib.app.errors import for_visitor, without_server_paths
from digitlib.app.models import (
    app_default_model,
    classifier_for,
    model_directories,
    model_key,
    model_label,
    model_origin,
    shipped_models_dir,
)
from digitlib.app.stores import (
    database_location,
    default_choice,
    mirror_owner_models,
    save_default_choice,
    wrong_owner_passwords,
)
from digitlib.reading.classifier import DEFAULT_MODEL, Classifier
from digitlib.store import StoreError


def model_picker() -> Classifier | None:
    """Sidebar: the owner's sign-in, then choose the active model (default: the app's default) and load it, or say
    why not."""
    owner_sign_in(wrong_owner_passwords())
    mirror_owner_models(database_location())
    directories = model_directories()
    if not directories:
        st.sidebar.error("No trained model in models/. Train one on the Train tab.")
        return None
    if st.session_state.get("active_model") not in map(str, directories):  # a session's first run: ask the store
        default = app_default_model(directories, default_choice())
        st.session_state.active_model = str(default)
        if default.name != DEFAULT_MODEL and default.parent == shipped_models_dir():
            st.sidebar.warning(f"The default model '{DEFAULT_MODEL}' is not in models/ yet; using '{default.name}'.")
    active = Path(st.session_state.active_model)
    # The widget starts on the active model and is keyed by it: a page's first rerun, which may report the widget
    # before the browser has caught up, can only repeat the active model, never pick one by itself; a model made
    # active elsewhere (the Train tab) mounts a fresh widget showing it.
    choice = st.sidebar.selectbox(
        "Active model",
        directories,
        index=directories.index(active),
        format_func=model_label,
        key=f"model-choice-{digest(str(active))}",
    )
    st.sidebar.caption(model_origin(choice))
    if choice != active:  # the visitor picked: the page is drawn again around a widget keyed by the new model
        st.session_state.active_model = str(choice)
        st.rerun()
    try:
        clf = classifier_for(choice)
    except ModelError as exc:
        st.sidebar.error(without_server_paths(str(exc)))
        return None
    if "test_accuracy" in clf.card:
        st.sidebar.caption(f"MNIST test accuracy {clf.card['test_accuracy']:.2%}")
    if is_owner() and choice != app_default_model(directories, default_choice()):
        if st.sidebar.button(
            "Make it every visitor's default",
            help="Saved for every server of the app; sessions already open keep their choice.",
        ):
            try:
                save_default_choice(model_key(choice))
            except StoreError as exc:
                st.sidebar.error(f"Not saved: {for_visitor(exc)}")
    return clf


def digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]
