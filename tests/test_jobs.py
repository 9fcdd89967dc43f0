"""The job runner: a run in a spawned child reports in order, stops, survives its child being killed, runs alone.

Each test starts real training children (TensorFlow's import alone takes a few seconds), on a few hundred MNIST
images, so these are slow tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from digitlib.training.jobs import Busy, Runner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TINY = {"epochs": 1, "batch_size": 32, "train_size": 500}  # 16 batches of the baseline CNN
LONG = {"epochs": 5, "batch_size": 32, "train_size": 5000}  # 700 batches: long enough to stop in the middle


@pytest.fixture
def models(tmp_path) -> Path:
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


@pytest.fixture
def runner(mnist):
    runner = Runner()
    yield runner
    runner.shutdown()


def wait_for(run, phase: str, timeout: float = 300) -> None:
    """Until the run has reported ``phase`` (or ended, which fails the test)."""
    deadline = time.monotonic() + timeout
    while phase not in [event[0] for event in run.events]:
        assert run.active, f"the run ended ({run.state}: {run.message}) before reporting {phase}"
        assert time.monotonic() < deadline, f"no {phase} within {timeout} s"
        time.sleep(0.05)


def leftovers(out: Path) -> list[Path]:
    """The model folder or any staging folder of it."""
    return [
        path
        for path in out.parent.iterdir()
        if path.name == out.name or (path.name.startswith(f".{out.name}.") and not path.name.endswith(".lock"))
    ]


def processes_in_group(pgid: int) -> list[int]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def test_a_run_reports_every_stage_in_order_and_saves_a_model_with_its_peak_memory(runner, models):
    out = models / "tiny"
    run = runner.start("train", TINY, out, preset="baseline")
    assert run.done.wait(300), "the run did not end"
    assert run.state == "finished", run.message
    phases = [event[0] for event in run.events]
    batches = [event for event in run.events if event[0] == "batch"]
    assert phases[:3] == ["started", "importing", "imported"]
    assert phases.index("imported") < phases.index("batch") < phases.index("epoch") < phases.index("save")
    assert phases.index("save") < phases.index("evaluate") < phases.index("done") < phases.index("finished")
    assert phases[-1] == "finished"
    assert [batch for _, _, batch in batches] == sorted(batch for _, _, batch in batches)  # batches count up
    assert batches[-1][2] == 16
    assert len(run.batch_losses) == len(batches)
    assert set(run.history) >= {"loss", "accuracy"} and len(run.history["loss"]) == 1
    card = json.loads((out / "card.json").read_text())
    assert card == run.card
    assert run.peak_mb > 300  # TensorFlow alone is several hundred megabytes: the child's own memory is reported
    assert card["peak_memory_mb"] <= run.peak_mb
    assert set(run.elapsed_by_stage()) >= {"import TensorFlow", "train", "export (Keras file + LiteRT)"}
    assert not processes_in_group(run.process.pid)


def test_stop_ends_the_run_leaving_no_model_and_no_process(runner, models, capsys):
    out = models / "stopped"
    run = runner.start("train", LONG, out, preset="baseline")
    wait_for(run, "batch")
    assert str(out) not in " ".join(psutil.Process(run.process.pid).cmdline())  # settings stay off the command line
    started = time.perf_counter()
    assert runner.stop(run.token)
    seconds = time.perf_counter() - started
    assert run.state == "stopped" and "nothing was saved" in run.message
    assert run.process.poll() is not None
    assert not processes_in_group(run.process.pid)
    assert leftovers(out) == []
    assert runner.active() is None
    assert not runner.stop(run.token)  # stopping again is a no-op
    with capsys.disabled():
        print(f"\nstop → child gone: {seconds:.2f} s (load average {os.getloadavg()[0]:.1f})")


def test_only_the_token_holder_can_stop_a_run(runner, models):
    run = runner.start("train", LONG, models / "kept", preset="baseline")
    assert not runner.stop("someone-else's-guess")
    assert run.active
    runner.stop(run.token)


def test_a_child_killed_mid_export_ends_with_a_clear_message_and_no_partial_model(runner, models):
    out = models / "killed"
    run = runner.start("train", TINY, out, preset="baseline")
    wait_for(run, "save")  # the staging folder exists from here until the final swap
    os.kill(run.process.pid, signal.SIGKILL)
    assert run.done.wait(30)
    assert run.state == "failed"
    assert "killed (SIGKILL)" in run.message and "Nothing was saved" in run.message
    assert leftovers(out) == []
    assert not processes_in_group(run.process.pid)
    # the runner is free again: the next run starts and finishes
    again = runner.start("train", TINY, out, preset="baseline")
    assert again.done.wait(300) and again.state == "finished", again.message


def test_two_start_requests_at_once_start_one_run(runner, models):
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def request(name: str) -> None:
        barrier.wait()
        try:
            outcomes.append(runner.start("train", LONG, models / name, preset="baseline"))
        except Busy as busy:
            outcomes.append(busy)

    threads = [threading.Thread(target=request, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = [outcome for outcome in outcomes if not isinstance(outcome, Busy)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, Busy)]
    assert len(runs) == 1 and len(refusals) == 1
    assert refusals[0].run is runs[0]
    assert "already in progress" in str(refusals[0])
    runner.stop(runs[0].token)


def test_bad_settings_fail_with_the_reason_before_tensorflow_is_loaded(runner, models):
    run = runner.start("train", {"epochs": 0}, models / "bad", preset="baseline")
    assert run.done.wait(120)
    assert run.state == "failed"
    assert "epochs must be a whole number" in run.message
    assert "importing" not in [event[0] for event in run.events]


SERVER_SIDE = """
import json, sys, time, psutil
from digitlib.training.jobs import Runner
before = psutil.Process().memory_info().rss
runner = Runner()
run = runner.start("train", {"epochs": 1, "batch_size": 32, "train_size": 500}, sys.argv[1], preset="baseline")
peak = before
while not run.done.wait(0.05):
    peak = max(peak, psutil.Process().memory_info().rss)
print(json.dumps({"state": run.state, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
                  "grew_mb": (peak - before) / 2**20, "child_peak_mb": run.peak_mb}))
"""


def test_the_process_that_starts_a_run_never_imports_tensorflow(models, mnist, repo, capsys):
    result = subprocess.run(
        [sys.executable, "-c", SERVER_SIDE, str(models / "m")], cwd=repo, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["state"] == "finished"
    assert not report["tensorflow"] and not report["keras"]
    assert report["grew_mb"] < report["child_peak_mb"] / 4  # the run's memory is the child's, not this process's
    with capsys.disabled():
        print(
            f"\nstarting process grew {report['grew_mb']:.1f} MB during a run; "
            f"child peak {report['child_peak_mb']:.0f} MB"
        )


def test_a_child_that_crashes_ends_with_its_last_words(runner, models):
    run = runner.start("finetune", {"no_such_setting": 1}, models / "crashed")  # a TypeError nobody catches
    assert run.done.wait(120)
    assert run.state == "failed"
    assert "exit code 1" in run.message and "no_such_setting" in run.message and "Nothing was saved" in run.message
    assert leftovers(models / "crashed") == []
