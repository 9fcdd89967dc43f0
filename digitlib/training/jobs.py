"""Training and fine-tuning as server jobs: each in a spawned child process, one at a time, stoppable.

TensorFlow costs a process ~660 MB to import and a run ~1.3 GB at its peak, and a server that imported it would keep
that memory for good, so the app never imports it: a run is ``python -m digitlib.training.jobs SPEC`` in a fresh process
(spawned, not forked from the threaded server) that reports its progress as JSON lines on its stdout.  The server's
:class:`Runner` reads them on a thread into a :class:`Run` that every session can follow, that its owner can stop,
and that a reloaded page finds again by its token.  One run at a time: every visitor shares the same cores.  Several
servers on one database share the rule through a lease in it (``digitlib.store.shared.TrainingLease``), held while
the run lasts and renewed as it goes, so a server that dies mid-run frees it within ``LEASE_SECONDS``.

A Stop sends SIGTERM, which unwinds the child (train.py removes its staging folder on the way out), then SIGKILL after
a grace period; whatever way the child ends, its staging folders are removed, so no partial model is ever left.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from digitlib.reading.classifier import CARD_FILE

REPO_ROOT = Path(__file__).resolve().parents[2]
JOB_KINDS = ("train", "finetune")
CHILD_NICENESS = 10  # below the server, so pages keep answering while the child uses every core
STOP_GRACE_SECONDS = 1.5  # SIGTERM, then SIGKILL: a Stop ends the run within 2 s even mid-operation
ENDED_RUNS_KEPT = 8  # ended runs kept so that their owners find the outcome after a reload
FILE_CLOCK_SLACK = 1.0  # s: files are stamped by the kernel's coarse clock, which may lag time.time() by a tick; a
# card written just after a run started is this run's, one from an earlier run is minutes older
# A run's lease on the database lasts this long unless renewed (every third of it): long enough for a busy database
# to answer a renewal, short enough that a run whose server died frees the other servers within a minute.
LEASE_SECONDS = 60.0
EXIT_STOPPED, EXIT_FAILED = 3, 2

# Where a run's time goes, by the message that starts each stretch (the time until the next message counts for it).
STAGES = {
    "started": "start Python, read the settings",
    "importing": "import TensorFlow",
    "imported": "load MNIST, build and compile the network",
    "batch": "train",
    "epoch": "train",
    "save": "export (Keras file + LiteRT)",
    "evaluate": "score the test set, draw figures, save",
}


SPEC_VARIABLE = "DIGITLIB_JOB_SPEC"  # the child's settings, as JSON


def peak_rss_mb() -> float:
    """This process's peak resident memory (ru_maxrss is in kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------------- the child


class StopRequested(BaseException):
    """Raised by SIGTERM in the child: a BaseException, so that no ``except Exception`` on the way swallows it."""


def progress_message(p) -> dict:
    """A train.Progress as JSON: the history (the curves) only at epoch ends, where it changes."""
    message = {
        "phase": p.phase,
        "epoch": p.epoch,
        "epochs": p.epochs,
        "batch": p.batch,
        "batches": p.batches,
        "logs": {key: float(value) for key, value in p.logs.items()},
        "message": p.message,
    }
    if p.phase in ("epoch", "done"):
        message["history"] = p.history
    return message


def run_job(spec: dict, emit: Callable[[dict], None]) -> dict:
    """Check the settings, then train or fine-tune as ``spec`` says, reporting to ``emit``; returns the card."""
    from digitlib import data
    from digitlib.training.config import from_preset
    from digitlib.training.finetune import FinetuneConfig, finetune
    from digitlib.training.train import train

    if spec["kind"] == "train":
        config = from_preset(spec["preset"], **spec["settings"])
        job = train
    else:
        config = FinetuneConfig(**spec["settings"])
        job = finetune
    config.validate()
    loader = ThreadPoolExecutor(1)
    mnist = loader.submit(data.load_mnist, config.data_dir)  # read (zlib frees the GIL) while TensorFlow is imported
    loader.shutdown(wait=False)
    emit({"phase": "importing"})
    import keras  # noqa: F401 - here, to time TensorFlow's import on its own

    emit({"phase": "imported"})
    return job(config, Path(spec["out"]), lambda p: emit(progress_message(p)), mnist=mnist.result())


def child_main(spec_json: str) -> int:
    """The child process: run the job, one JSON message per line on the original stdout."""
    os.nice(CHILD_NICENESS)
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints (TensorFlow, LiteRT) go to stderr, never into the messages

    def emit(message: dict) -> None:  # raises BrokenPipeError once the server is gone: the run then ends
        channel.write(json.dumps(message | {"at": time.time(), "peak_mb": round(peak_rss_mb())}) + "\n")

    def stop(signum, frame):
        raise StopRequested

    signal.signal(signal.SIGTERM, stop)
    from digitlib.data import DataError
    from digitlib.reading.classifier import ModelError
    from digitlib.store.corrections import StoreError

    try:
        emit({"phase": "started", "pid": os.getpid()})
        card = run_job(json.loads(spec_json), emit)
        emit({"phase": "finished", "card": card})
        return 0
    except StopRequested:
        emit({"phase": "stopped"})
        return EXIT_STOPPED
    except (DataError, ModelError, StoreError, ValueError) as exc:
        emit({"phase": "failed", "message": str(exc)})
        return EXIT_FAILED
    except BrokenPipeError:  # the server went away: nobody is waiting for this model
        return EXIT_FAILED


# ---------------------------------------------------------------------------------------------------- the server


@dataclass
class Run:
    """One job as the server sees it; the follower thread writes it, pages read it."""

    token: str  # the owner's key: only whoever holds it may stop the run
    kind: str
    out: Path
    started: float = field(default_factory=time.time)
    state: str = "running"  # then "finished", "stopped" or "failed"
    progress: dict = field(default_factory=dict)  # the latest message
    history: dict = field(default_factory=dict)  # per-epoch metrics, for the curves
    batch_losses: list[float] = field(default_factory=list)  # every batch's running loss, for a live curve
    events: list[tuple[str, int, int]] = field(default_factory=list)  # (phase, epoch, batch) of every message, in order
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (STAGES), for "where the time went"
    peak_mb: float = 0.0  # the child's peak resident memory
    card: dict | None = None
    message: str = ""
    ended: float | None = None
    stop_requested: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    last_at: float = 0.0  # when the latest message was sent, and the stage it began (the stage accounting)
    last_stage: str = STAGES["started"]

    @property
    def active(self) -> bool:
        return self.state == "running"

    @property
    def seconds(self) -> float:
        return (self.ended or time.time()) - self.started

    def fraction(self) -> float:
        """How far the training is, from 0 to 1 (1 while exporting and scoring)."""
        p = self.progress
        if p.get("phase") in ("batch", "epoch") and p.get("epochs") and p.get("batches"):
            return min(1.0, ((p["epoch"] - 1) + p["batch"] / p["batches"]) / p["epochs"])
        trained = bool(self.batch_losses)  # fine-tuning scores the base model before it trains
        return 1.0 if trained and p.get("phase") in ("save", "evaluate", "done") else 0.0

    def status(self) -> str:
        """One line on where the run is, with nothing about who started it."""
        p, elapsed = self.progress, f"{self.seconds:.0f} s"
        if not self.active:
            return f"{self.state} after {elapsed}"
        if p.get("phase") == "batch":
            return (
                f"epoch {p['epoch']}/{p['epochs']}, batch {p['batch']}/{p['batches']} · "
                f"loss {p['logs'].get('loss', 0):.3f} · {elapsed}"
            )
        if p.get("phase") == "epoch":
            return f"epoch {p['epoch']}/{p['epochs']} done · {elapsed}"
        doing = p.get("message") or STAGES.get(p.get("phase"), p.get("phase") or "starting")  # the child's own words
        return f"{doing}… · {elapsed}"

    def receive(self, message: dict) -> None:
        phase = message.get("phase", "")
        at = message.get("at", time.time())
        self.stages[self.last_stage] = self.stages.get(self.last_stage, 0.0) + at - (self.last_at or self.started)
        self.last_at, self.last_stage = at, STAGES.get(phase, phase)
        self.events.append((phase, message.get("epoch", 0), message.get("batch", 0)))
        self.peak_mb = max(self.peak_mb, message.get("peak_mb", 0.0))
        if "history" in message:
            self.history = message["history"]
        if phase == "batch" and "loss" in message.get("logs", {}):
            self.batch_losses.append(message["logs"]["loss"])
        if phase == "finished":
            self.card = message["card"]
        elif phase == "failed":
            self.message = message["message"]
        if phase not in ("finished", "stopped", "failed"):
            self.progress = message

    def end(self, returncode: int, stderr_tail: str) -> None:
        """Settle the outcome once the child has exited, whatever way it did."""
        saved = self.out / CARD_FILE
        if self.card is None and saved.is_file() and saved.stat().st_mtime >= self.started - FILE_CLOCK_SLACK:
            self.card = json.loads(saved.read_text())  # stopped or killed once this run's model was swapped in
        if self.card is not None:
            self.state = "finished"
            self.message = f"saved {self.out.name} in {self.seconds:.0f} s"
        elif self.stop_requested:
            self.state, self.message = "stopped", f"Stopped after {self.seconds:.0f} s: nothing was saved."
        elif self.message:  # the child said why
            self.state = "failed"
        elif returncode < 0:
            self.state = "failed"
            self.message = (
                f"The {self.kind} process was killed ({signal.Signals(-returncode).name}) after "
                f"{self.seconds:.0f} s, at {self.peak_mb:.0f} MB: perhaps the machine ran out of memory. "
                "Nothing was saved; the models you had are untouched."
            )
        else:
            self.state = "failed"
            self.message = (
                f"The {self.kind} process stopped with exit code {returncode}: "
                f"{stderr_tail or 'no output'}."
                " Nothing was saved."
            )
        self.ended = time.time()
        self.done.set()

    def elapsed_by_stage(self) -> dict[str, float]:
        """Seconds per stage, the last one up to the end of the run."""
        stages = dict(self.stages)
        if self.last_at:
            stages[self.last_stage] = stages.get(self.last_stage, 0.0) + (self.ended or time.time()) - self.last_at
        return {stage: round(seconds, 2) for stage, seconds in stages.items() if stage not in ("finished", "done")}


class Busy(RuntimeError):
    """Another run is in progress, on this server (``run`` says how far it is) or on another one (``run`` is None)."""

    def __init__(self, run: Run | None, elsewhere: str = ""):
        where = f"({run.status()})" if run is not None else f"on another server ({elsewhere})"
        super().__init__(
            f"a {run.kind if run else 'training'} run is already in progress {where}; start yours when it ends"
        )
        self.run = run


class Lease(Protocol):
    """A lock the servers of one deployment share (``digitlib.store.shared.TrainingLease``): ``claim`` returns None
    when the caller now holds it for ``seconds``, else what the holder said it is doing."""

    def claim(self, holder: str, seconds: float, note: str) -> object | None: ...

    def release(self, holder: str) -> None: ...


def last_line(stream) -> str:
    stream.seek(0)
    lines = [line for line in stream.read().decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


class Runner:
    """The server's one run at a time (the deployment's, with a ``lease`` on the shared database): start, follow,
    stop, and find a run again by its token."""

    def __init__(self, lease: Lease | None = None) -> None:
        self.lease = lease
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._active: Run | None = None
        atexit.register(self.shutdown)

    def active(self) -> Run | None:
        run = self._active
        return run if run is not None and run.active else None

    def find(self, token: str | None) -> Run | None:
        return self._runs.get(token) if token else None

    def last_finished(self, kind: str) -> Run | None:
        """The latest run of ``kind`` that saved a model (its timings calibrate the next run's estimate)."""
        finished = [run for run in self._runs.values() if run.kind == kind and run.state == "finished"]
        return finished[-1] if finished else None

    def start(
        self,
        kind: str,
        settings: dict,
        out: Path,
        preset: str | None = None,
        on_saved: Callable[[Run], None] | None = None,
    ) -> Run:
        """Spawn the child for a job; raises Busy while another run is in progress.  ``on_saved`` is called on the
        follower thread once the run has saved its model (e.g. to publish it to the other servers)."""
        if kind not in JOB_KINDS:
            raise ValueError(f"job kind must be one of {', '.join(JOB_KINDS)}, not {kind!r}")
        with self._lock:
            if (current := self.active()) is not None:
                raise Busy(current)
            run = Run(secrets.token_urlsafe(16), kind, Path(out))
            if self.lease is not None and (holder := self.lease.claim(run.token, LEASE_SECONDS, kind)) is not None:
                raise Busy(None, getattr(holder, "note", "") or "a run")
            spec = {"kind": kind, "preset": preset, "settings": settings, "out": str(out)}
            stderr = tempfile.TemporaryFile()
            path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
            # The spec goes in the environment, not the command line, which any local user can read (`ps`): it may
            # hold the corrections database's URL with its password.
            env = os.environ | {"PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2", SPEC_VARIABLE: json.dumps(spec)}
            try:
                run.process = subprocess.Popen(
                    [sys.executable, "-m", "digitlib.training.jobs"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    cwd=REPO_ROOT,
                    env=env,
                    start_new_session=True,
                    text=True,
                )
            except BaseException:
                if self.lease is not None:
                    self.lease.release(run.token)
                raise
            self._active = self._runs[run.token] = run
            self._forget_old_runs()
        threading.Thread(target=self._follow, args=(run, stderr, on_saved), name=f"job-{run.kind}", daemon=True).start()
        if self.lease is not None:
            threading.Thread(target=self._keep_lease, args=(run,), name="job-lease", daemon=True).start()
        return run

    def _follow(self, run: Run, stderr, on_saved: Callable[[Run], None] | None) -> None:
        for line in run.process.stdout:
            try:
                run.receive(json.loads(line))
            except (json.JSONDecodeError, TypeError, KeyError):
                continue
        returncode = run.process.wait()
        for staging in run.out.parent.glob(f".{run.out.name}.tmp-{run.process.pid}-*"):
            shutil.rmtree(staging, ignore_errors=True)  # a killed child could not remove its own
        try:
            with stderr:
                run.end(returncode, last_line(stderr))
            if run.card is not None and on_saved is not None:
                on_saved(run)
        finally:
            if self.lease is not None:  # only now: the other servers wait until the model is published
                self.lease.release(run.token)

    def _keep_lease(self, run: Run) -> None:
        """Renew the run's lease while it lasts, saying how far it is (what other servers show their visitors)."""
        while not run.done.wait(LEASE_SECONDS / 3):
            try:
                self.lease.claim(run.token, LEASE_SECONDS, f"{run.kind}: {run.status()}")
            except Exception:  # noqa: BLE001 - a database hiccup: the next renewal may pass; the run goes on regardless
                continue

    def _forget_old_runs(self) -> None:
        ended = [token for token, run in self._runs.items() if not run.active]
        for token in ended[: max(0, len(ended) - ENDED_RUNS_KEPT)]:
            del self._runs[token]

    def stop(self, token: str, timeout: float = STOP_GRACE_SECONDS) -> bool:
        """Stop the run ``token`` owns: SIGTERM, SIGKILL after ``timeout``; False if there is no such active run."""
        run = self.find(token)
        if run is None or not run.active:
            return False
        run.stop_requested = True
        signal_group(run.process, signal.SIGTERM)
        try:
            run.process.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(run.process, signal.SIGKILL)
            run.process.wait()
        run.done.wait(timeout)
        return True

    def shutdown(self) -> None:
        """Stop the active run when the server exits, so that no child outlives it."""
        if (run := self.active()) is not None:
            self.stop(run.token)


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """Signal the child's whole process group (it leads its own session), if it is still there."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    exit_code = child_main(os.environ.pop(SPEC_VARIABLE))
    sys.stderr.flush()
    os._exit(exit_code)  # skips TensorFlow's teardown, which can take seconds: the model is saved or removed by now
