"""The Train tab, and the job panel it shares with fine-tuning: start a run, follow it, stop it, use its model.

Runs belong to the server (digitlib.training.jobs.Runner, one per server process, in a child process that holds
TensorFlow); the server keeps the token of the run a visitor started with their key (digitlib.app.visitors), so a
reload or another tab of the same browser finds the run again, and nobody else can stop it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import streamlit as st

from digitlib.app.access import is_owner
from digitlib.app.display import SERIES, show_curves
from digitlib.app.errors import for_visitor, without_server_paths
from digitlib.app.models import shipped_models_dir, trained_models_dir
from digitlib.app.stores import publish_owner_model, training_lease
from digitlib.app.visitors import KEEP_VISITOR_DATA, remember, visitor_record
from digitlib.store import StoreError
from digitlib.training.config import from_preset
from digitlib.training.jobs import Busy, Run, Runner
from digitlib.zoo.registry import APP_PRESETS, PRESETS

DEFAULT_RECIPE = from_preset(APP_PRESETS[0])  # the app's first recipe is its default run
DEFAULTS = {"epochs": DEFAULT_RECIPE.epochs, "batch_size": DEFAULT_RECIPE.batch_size, "train_size": 60_000}
# Seconds a run spends besides training, from the click: the same run's other stages (start 1.3 s, import TensorFlow
# 3.6 s, MNIST + build + compile 2.1 s, export 1.0 s, score, figures and save 1.7 s, the page's polling the rest:
# 22.1 - 10.8 = 11.3 s).  Used until a run on this server has measured the machine as it is now (at load average
# 15 the same run took 47 s: a busy machine doubles it).
RUN_OVERHEAD_SECONDS = 11.3
# How often a page following a run asks for its progress.  Each poll is a rerun of the fragment, and a Stop click
# waits behind the polls queued before it: from the click to the training process gone took 0.4-5.3 s polling every
# 0.5 s and 0.2-3.4 s polling every 1 s (three stops each, two pages following the run, load average 13-19).
POLL_SECONDS = 1.0
IDLE_POLL_SECONDS = 3.0  # how soon an idle Train or Corrections tab learns that someone started or ended a run
CHART_POINTS = 200  # at most, in the live loss curve: every poll sends it again; a long run has thousands of batches


@st.cache_resource
def job_runner() -> Runner:
    """The server's one runner: one run at a time for every visitor (of every server on a shared database)."""
    return Runner(training_lease())


def my_run() -> Run | None:
    """The run this visitor started, found by the token the server keeps for them (so also after a reload, or in
    another tab of the same browser)."""
    return job_runner().find(visitor_record().get("run"))


def tab_of_my_run() -> str | None:
    """The tab showing the visitor's run while it is in progress: a reloaded page opens there."""
    run = my_run()
    return None if run is None or not run.active else {"train": "Train", "finetune": "Corrections"}[run.kind]


def start_job(kind: str, settings: dict, out: Path, preset: str | None = None) -> None:
    """Start a run owned by this session, or say why not (another run is in progress)."""
    try:
        run = job_runner().start(kind, settings, out, preset, on_saved=publish_owner_model if is_owner() else None)
    except Busy as busy:
        st.warning(f"Not started: {busy}.")
        return
    except StoreError as exc:  # the database that keeps the one-run rule across servers did not answer
        st.error(f"Not started: {for_visitor(exc)}")
        return
    remember(run=run.token)
    st.rerun(scope="app")  # redraw the page with the run in progress (and the Start buttons disabled)


def job_panel(kind: str) -> Run | None:
    """The server's run as this visitor may see it; returns this visitor's finished run of ``kind``, if any."""
    mine, active = my_run(), job_runner().active()
    if active is not None:
        follow_run(active.token if active is mine else None)
        return None
    if st.session_state.pop("saw_others_run", False):
        st.success("The other run has ended: you can start yours now.")
    if mine is None or mine.kind != kind:  # a run of the other kind is told about on its own tab
        return None
    if mine.state == "stopped":
        st.info(mine.message)
    elif mine.state == "failed":
        st.error(f"The run failed. {mine.message if is_owner() else without_server_paths(mine.message)}")
    else:
        where = " · ".join(f"{stage} {seconds:.1f} s" for stage, seconds in mine.elapsed_by_stage().items())
        st.caption(
            f"{mine.seconds:.0f} s from the click to the model; the training process peaked at "
            f"{mine.peak_mb:,.0f} MB. Where the time went: {where}."
        )
        return mine
    return None


@st.fragment(run_every=POLL_SECONDS)
def follow_run(token: str | None) -> None:
    """A run in progress: its owner (``token``) sees progress, curves and Stop; anyone else how far it is."""
    runner = job_runner()
    run = runner.find(token) if token else runner.active()
    if run is None or not run.active:
        st.rerun(scope="app")  # it has ended: show the outcome and enable starting again
    if token is None:
        st.session_state.saw_others_run = True  # so the page says when it has ended
        st.info(
            f"A {run.kind} run is in progress on this server ({run.status()}). "
            "You can start one when it ends; this page follows it."
        )
        st.progress(run.fraction())
        return
    bar, stop = st.columns([5, 1], vertical_alignment="bottom")
    bar.progress(run.fraction(), text=f"{run.kind}: {run.status()} · training process {run.peak_mb:,.0f} MB")
    if stop.button("Stop training", key="stop-run", width="stretch"):
        runner.stop(token)
        st.rerun(scope="app")
    losses = list(run.batch_losses)  # a copy: the runner's thread appends to the list meanwhile
    if len(losses) > 1:
        live_loss_chart(losses)
    if run.history:
        show_curves(run.history)


def live_loss_chart(losses: list[float]) -> None:
    """The running loss so far, at most CHART_POINTS points; written out with fixed scales, so a poll that swaps the
    data never leaves Vega with an empty or conflicting chart to draw."""
    step = -(-len(losses) // CHART_POINTS)
    points = [
        {"batch": batch, "loss": round(loss, 4)}
        for batch, loss in zip(range(step, len(losses) + 1, step), losses[step - 1 :: step])
    ]
    st.caption("training loss, batch by batch")
    st.vega_lite_chart(
        {
            "layer": [
                {  # the data inside a layer: Streamlit sends it as it is, Vega gets it whole
                    "data": {"values": points},
                    "mark": {"type": "line", "color": SERIES["training"][0]},
                    "encoding": {
                        "x": {
                            "field": "batch",
                            "type": "quantitative",
                            "title": "batch",
                            "axis": {"format": "d"},
                            "scale": {"domain": [0, points[-1]["batch"]]},
                        },
                        "y": {
                            "field": "loss",
                            "type": "quantitative",
                            "title": "loss",
                            "scale": {"domain": [0, max(point["loss"] for point in points)]},
                        },
                    },
                }
            ]
        },
        height=180,
        width="stretch",
        alt=f"training loss over {len(losses)} batches, last {losses[-1]:.3f}",
    )


@st.fragment(run_every=IDLE_POLL_SECONDS)
def watch_for_others_runs(busy: bool) -> None:
    """A page that isn't following a run still learns when one starts or ends, and redraws its Start button."""
    if (job_runner().active() is not None) != busy:
        st.rerun(scope="app")


def estimate_seconds(recipe: str, epochs: int, train_size: int) -> tuple[float, str]:
    """Seconds from the click to the model, and what the figure rests on.

    The last finished run on this server sets the pace when there is one (the machine's load changes the time far
    more than anything else: the same run took 2x longer from one hour to the next here); otherwise the figures
    measured beforehand.  Other recipes are scaled by the presets' relative costs (`seconds_per_image`).
    """
    images = epochs * min(train_size, 60_000)
    last = job_runner().last_finished("train")
    cost = {name: PRESETS[name].seconds_per_image for name in APP_PRESETS}
    if last is None or last.card.get("architecture") not in cost:
        return RUN_OVERHEAD_SECONDS + cost[recipe] * images, "as measured on a busy 2-core machine"
    training = last.elapsed_by_stage().get("train", 0.0)
    pace = training / (last.card["training_images"] * last.card["epochs"]) / cost[last.card["architecture"]]
    return last.seconds - training + pace * cost[recipe] * images, "from the last run on this server"


@st.fragment
def train_page() -> None:
    st.write(
        f"Train a CNN on MNIST right here, in a process of its own. The default recipe, {APP_PRESETS[0]}, is "
        f"{PRESETS[APP_PRESETS[0]].summary}; the shipped models were trained for much longer, with augmentation."
    )
    recipe = st.selectbox("Recipe", APP_PRESETS, key="recipe")
    st.caption(PRESETS[recipe].summary)
    epochs_column, batch_column, size_column = st.columns(3)
    epochs = epochs_column.number_input("Epochs", 1, 30, DEFAULTS["epochs"], key="epochs")
    batch_size = batch_column.select_slider(
        "Batch size", [32, 64, 128, 256, 512], DEFAULTS["batch_size"], key="batch_size"
    )
    train_size = size_column.number_input(
        "Training images", 500, 60_000, DEFAULTS["train_size"], step=500, key="train_size"
    )
    into_repo = is_owner() and st.checkbox(
        "Save into the app's models/ folder, for every visitor (owner)", key="into_repo"
    )
    seconds, basis = estimate_seconds(recipe, int(epochs), int(train_size))
    st.caption(
        f"Estimated time: about {seconds:.0f} s ({basis}). You may leave this tab or reload the page: the "
        f"run goes on, and this browser finds it again. Models you train are yours, listed in this browser "
        f"for {KEEP_VISITOR_DATA.days} days."
    )
    busy = job_runner().active() is not None
    watch_for_others_runs(busy)
    if st.button("Start training", type="primary", disabled=busy):
        out = (shipped_models_dir() if into_repo else trained_models_dir()) / f"{recipe}-{datetime.now():%Y%m%d-%H%M%S}"
        start_job(
            "train",
            {"epochs": int(epochs), "batch_size": int(batch_size), "train_size": int(train_size)},
            out,
            preset=recipe,
        )
    if (run := job_panel("train")) is not None:
        show_new_model(run.out, run.card)


def show_new_model(directory: Path, card: dict) -> None:
    """A model just trained or fine-tuned: how good, its curves, and a button to start using it."""
    st.success(
        f"Saved **{directory.name}**: test accuracy "
        f"{card['test_accuracy']:.2%} on {card['test_images']:,} MNIST test images."
    )
    show_curves(card["history"])
    if st.session_state.get("active_model") == str(directory):
        st.info(f"{directory.name} is the active model.")
    elif st.button(f"Make {directory.name} the active model", key=f"activate-{directory.name}"):
        st.session_state.active_model = str(directory)
        st.rerun(scope="app")
