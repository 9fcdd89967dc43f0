"""Load benchmark: N visitors at once on one running app server, or on several behind nginx (``--servers``, the
deploy/ recipe: one PostgreSQL, sticky sessions), with and without a training run in progress.

Each visitor is a websocket client speaking Streamlit's own protocol (``tests/support/streamlit_client.py``): its own
session, sending what a browser tab sends, so the measurement is the server's and not N browsers' (20 Chromium
pages alone fill 2 cores).  Three in four visitors draw: a "1" or a "7" as the canvas sends it (its PNG and
fabric.js paths, placed a little differently each time, all made before the clock starts), wait for the app to show
the reading, fetch its pictures as a browser does (one kept-alive connection per visitor), press Clear, and after
``--pause`` (a person drawing the next digit) draw again.  The fourth uploads a picture of the number 2026,
waits for its reading, looks at it for 2.5 s, removes it, and uploads it again under a new name.

Printed per N, without and with a training run: readings made, errors (no reading within ``--timeout``, a wrong
one, an exception shown, a dropped connection), the app's "at most N new pictures a minute" notices (its
per-session limit doing its job, not an error), p50/p99 latency from the message leaving the client to the
reading arriving, the server's peak RSS (it and its child processes; in brackets with the training job, which
would be the server's child when the Train tab starts it), the CPU time the servers, nginx with PostgreSQL, and this
client used (the client's stays small, so it measures the server and not itself), and the load average.

The training run is the app's own kind of job: a ``digitlib.training.jobs.Runner`` child (spawned, niced, the same
process the Train tab starts), training the ``fast`` preset long enough to outlast the measurement.

    python benchmarks/load_bench.py                          # N = 5, 10, 20, 60 s each, without and with training
    python benchmarks/load_bench.py --sessions 5 --seconds 20 --training without --out ''   # a quick look
    python benchmarks/load_bench.py --servers 2 --sessions 100 140 180 --out ''   # two servers behind nginx

With ``--servers N`` the servers run as ``deploy/run-local.sh`` starts them, on the database of --database (default
$DIGITLIB_TEST_DATABASE_URL, else a throw-away PostgreSQL); the server columns add up all N servers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from a checkout, where digitlib and tests.support are not installed

from digitlib.training.jobs import Run, Runner  # noqa: E402
from tests.support.browser_driver import DIGIT_STROKES, start_app, stop_app  # noqa: E402 - the browser tests' strokes
from tests.support.digit_pictures import number_picture  # noqa: E402
from tests.support.streamlit_client import AppSession, FetchFailed, drawn_digit  # noqa: E402

DRAWN = ["1", "7"]  # single strokes the shipped models read surely; alternating them makes every reading new
UPLOADED = "2026"
READING = "Number read"
SLOW_DOWN = "new pictures a minute"  # the app's per-session upload limit speaking (digitlib/app/access.py)
LOOK_SECONDS = 2.5  # an uploader looks at the reading before removing the picture


@dataclass
class Tally:
    """What the sessions of one measurement saw."""

    draw_seconds: list[float] = field(default_factory=list)
    upload_seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    slow_downs: int = 0


def start_training(tmp: Path) -> tuple[Runner, Run]:
    """A training job as the Train tab starts one, long enough to outlast a measurement."""
    runner = Runner()
    return runner, runner.start("train", {"epochs": 30, "train_size": 54_000}, tmp / "background-run", preset="fast")


HELPERS = ("nginx", "postgres")  # the proxy's and the database's processes, whoever started them


def helper_cpu() -> dict[int, float]:
    """The CPU seconds each nginx and PostgreSQL process has used, by process id."""
    used = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] in HELPERS and process.info["cpu_times"]:
            used[process.pid] = process.info["cpu_times"].user + process.info["cpu_times"].system
    return used


class ServerUse:
    """The largest resident memory of the servers (with their children) and of the servers plus the training job (the
    Train tab's job would be a server's child), sampled once a second; the servers' CPU time, and the proxy's
    and the database's."""

    def __init__(self, server_pids: list[int], job_pid: int | None):
        self.servers = [psutil.Process(pid) for pid in server_pids]
        self.job = psutil.Process(job_pid) if job_pid else None
        self.peak_server = self.peak_with_job = 0
        self.helpers_at_start = helper_cpu()
        self.running, self.cpu_at_start = True, self.cpu_seconds()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def cpu_seconds(self) -> float:
        return sum(times.user + times.system for times in (server.cpu_times() for server in self.servers))

    @staticmethod
    def rss(root: psutil.Process | None) -> int:
        try:
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) if root else 0
        except psutil.Error:  # a process ended between listing and reading it
            return 0

    def sample(self) -> None:
        while self.running:
            server = sum(self.rss(process) for process in self.servers)
            self.peak_server = max(self.peak_server, server)
            self.peak_with_job = max(self.peak_with_job, server + self.rss(self.job))
            time.sleep(1.0)  # each sample reads every process's /proc entry: four a second cost a tenth of the client

    def stop(self) -> tuple[float, float]:
        """The CPU seconds the servers, and nginx and PostgreSQL (processes started since counted whole), used since
        the start; the peaks are final."""
        self.running = False
        self.thread.join()
        helpers = sum(used - self.helpers_at_start.get(pid, 0.0) for pid, used in helper_cpu().items())
        return self.cpu_seconds() - self.cpu_at_start, helpers


def problems(run, expected: str, what: str) -> list[str]:
    """What is wrong with a run that should have shown ``expected`` as the reading."""
    shown = run.metrics.get(READING)
    if run.exceptions:
        return [f"{what}: exception shown: {run.exceptions[0]}"]
    if shown is None:
        return [f"{what}: no reading shown ({'; '.join(run.alerts)[:80] or 'nothing said'})"]
    return [] if shown == expected else [f"{what}: read as {shown}"]


def drawings_for(visitors: int, seconds: float, pause: float) -> list[list[tuple[str, bytes, dict]]]:
    """Each visitor's drawings, made before the clock starts (the client's CPU then measures the protocol, not the
    rendering): no two alike, and more than a visitor can send, as each waits `pause` after its reading."""
    rng = np.random.default_rng(visitors)
    drawings = []
    for _ in range(visitors):
        own = np.random.default_rng(rng.integers(2**32))
        digits = [DRAWN[turn % len(DRAWN)] for turn in range(int(seconds / pause) + 2)]
        drawings.append([(digit, *drawn_digit(DIGIT_STROKES[digit], own)) for digit in digits])
    return drawings


async def drawer(session: AppSession, deadline: float, args, tally: Tally, drawings: list) -> AppSession:
    for digit, picture, paths in drawings:
        if time.monotonic() >= deadline:
            break
        try:
            canvas = session.newest("canvas-")
            began = time.monotonic()
            run = await asyncio.wait_for(session.draw(canvas, picture, paths), args.timeout)
            if wrong := problems(run, digit, f"draw {digit}"):
                tally.errors += wrong
            else:
                tally.draw_seconds.append(run.first_metric_at[READING] - began)
            await session.fetch_media(run)
            await asyncio.wait_for(session.press("Clear"), args.timeout)
            session.forget(canvas)
        except Exception as exc:  # noqa: BLE001 - a timeout, a dropped connection, a widget missing: counted, named
            tally.errors.append(f"draw {digit}: {named(exc)}")
            session = await reopened(session, args.timeout)
        await asyncio.sleep(args.pause)
    return session


async def uploader(session: AppSession, deadline: float, args, tally: Tally, picture: bytes) -> AppSession:
    await session.choose("page", "Upload")
    turn = 0
    while time.monotonic() < deadline:
        turn += 1
        try:
            began = time.monotonic()
            run, urls = await asyncio.wait_for(session.upload("uploads-0", f"year-{turn}.png", picture), args.timeout)
            if any(SLOW_DOWN in alert for alert in run.alerts):
                tally.slow_downs += 1
            elif wrong := problems(run, UPLOADED, "upload"):
                tally.errors += wrong
            else:
                tally.upload_seconds.append(run.first_metric_at[READING] - began)
            await session.fetch_media(run)
            await asyncio.sleep(LOOK_SECONDS)
            await asyncio.wait_for(session.remove_uploads("uploads-0", urls), args.timeout)
        except Exception as exc:  # noqa: BLE001 - a timeout, a dropped connection, a widget missing: counted, named
            tally.errors.append(f"upload: {named(exc)}")
            session = await reopened(session, args.timeout)
            await session.choose("page", "Upload")
    return session


def named(exc: Exception) -> str:
    """An error's kind, with the status, method and path when a request was refused (a proxy's 502 is not the app's
    404)."""
    return f"FetchFailed {exc}" if isinstance(exc, FetchFailed) else type(exc).__name__


async def reopened(session: AppSession, timeout: float) -> AppSession:
    """After a lost answer the tab's state is unknown: reload it, as a person would (a new session)."""
    await session.close()
    fresh = AppSession(session.url)
    await asyncio.wait_for(fresh.open(), 4 * timeout)
    return fresh


async def measure(url: str, seconds: float, args, picture: bytes, drawings: list) -> Tally:
    """One visitor per list of `drawings_for`, for `seconds`."""
    tally = Tally()
    clients = [AppSession(url) for _ in drawings]
    await asyncio.gather(*(client.open() for client in clients))
    deadline = time.monotonic() + seconds
    clients = await asyncio.gather(
        *(
            uploader(client, deadline, args, tally, picture)
            if index % 4 == 3
            else drawer(client, deadline, args, tally, own)
            for index, (client, own) in enumerate(zip(clients, drawings, strict=True))
        )
    )
    await asyncio.gather(*(client.close() for client in clients))
    return tally


def percentile(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.2f}" if values else "n/a"


def cpu_share(seconds: float, readings: int) -> str:
    """CPU seconds, with the milliseconds per reading in brackets."""
    return f"{seconds:.0f} ({1000 * seconds / max(readings, 1):.0f})"


def row(
    sessions: int,
    training: str,
    alive: bool,
    tally: Tally,
    use: ServerUse,
    server_cpu: float,
    helpers_cpu: float,
    client_cpu: float,
    load_before: float,
    seconds: float,
) -> str:
    readings = len(tally.draw_seconds) + len(tally.upload_seconds)
    memory = f"{use.peak_server / 2**20:.0f}" + (f" ({use.peak_with_job / 2**20:,.0f})" if use.job else "")
    return (
        f"| {sessions} | {training} training{'' if alive else ' (run had ended!)'} | {readings / seconds:.1f} | "
        f"{len(tally.draw_seconds)} | {len(tally.upload_seconds)} | {len(tally.errors)} | {tally.slow_downs} | "
        f"{percentile(tally.draw_seconds + tally.upload_seconds, 99)} | "
        f"{percentile(tally.draw_seconds, 50)} | {percentile(tally.draw_seconds, 99)} | "
        f"{percentile(tally.upload_seconds, 50)} | {percentile(tally.upload_seconds, 99)} | "
        f"{memory} | {cpu_share(server_cpu, readings)} | {cpu_share(helpers_cpu, readings)} | "
        f"{cpu_share(client_cpu, readings)} | "
        f"{load_before:.1f} → {os.getloadavg()[0]:.1f} |"
    )


async def main_async(args) -> list[str]:
    from digitlib.data import load_mnist

    picture = number_picture(load_mnist(), UPLOADED)
    me, rows = psutil.Process(), []
    with tempfile.TemporaryDirectory(prefix="digitlib-load-") as tmp:
        tmp = Path(tmp)
        if args.servers:
            url, server_pids = start_behind_proxy(tmp, args)
        else:
            server, url = start_app(
                REPO,
                {
                    "DIGITLIB_TRAINED_MODELS_DIR": str(tmp / "trained"),
                    "DIGITLIB_STORE": str(tmp / "corrections.sqlite3"),
                },
                tmp / "streamlit.log",
            )
            server_pids = [server.pid]
        try:
            await measure(
                url, 5, args, picture, drawings_for(1, 5, args.pause)
            )  # warm-up: model loaded, first readings
            for training in args.training:
                runner, trainer = start_training(tmp) if training == "with" else (None, None)
                if trainer:
                    await asyncio.sleep(args.training_warmup)  # TensorFlow imported, MNIST loaded, epochs running
                try:
                    for sessions in args.sessions:
                        drawings = drawings_for(sessions, args.seconds, args.pause)
                        load_before, client_cpu = os.getloadavg()[0], sum(me.cpu_times()[:2])
                        use = ServerUse(server_pids, trainer.process.pid if trainer else None)
                        tally = await measure(url, args.seconds, args, picture, drawings)
                        server_cpu, helpers_cpu = use.stop()
                        rows.append(
                            row(
                                sessions,
                                training,
                                trainer is None or trainer.active,
                                tally,
                                use,
                                server_cpu,
                                helpers_cpu,
                                sum(me.cpu_times()[:2]) - client_cpu,
                                load_before,
                                args.seconds,
                            )
                        )
                        print(rows[-1], flush=True)
                        for error in sorted(set(tally.errors)):
                            print(f"    {tally.errors.count(error)} x {error}", flush=True)
                finally:
                    if trainer:
                        runner.stop(trainer.token)
        finally:
            if args.servers:
                subprocess.run(["bash", REPO / "deploy" / "run-local.sh", "--stop", tmp / "deploy"], check=True)
            else:
                stop_app(server)
    return rows


def start_behind_proxy(tmp: Path, args) -> tuple[str, list[int]]:
    """``args.servers`` app servers behind nginx, as deploy/run-local.sh starts them: the proxy's URL, the servers'
    process ids."""
    database = args.database or os.environ.get("DIGITLIB_TEST_DATABASE_URL", "")
    env = os.environ | {"PYTHON": sys.executable} | ({"DIGITLIB_STORE": database} if database else {})
    started = subprocess.run(
        ["bash", REPO / "deploy" / "run-local.sh", "--start", tmp / "deploy", str(args.servers), str(args.port)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode:
        subprocess.run(["bash", REPO / "deploy" / "run-local.sh", "--stop", tmp / "deploy"], check=False)
        sys.exit(f"deploy/run-local.sh failed:\n{started.stderr}")
    return started.stdout.strip(), [int(pid) for pid in (tmp / "deploy" / "servers.pid").read_text().split()]


HEADER = [
    "| sessions | training | readings/s | drawings read | uploads read | errors | slow-down notices | p99 s | "
    "draw p50 s | draw p99 s | upload p50 s | upload p99 s | server peak RSS MB (with the training job) | "
    "server CPU s (ms per reading) | nginx + PostgreSQL CPU s (ms per reading) | client CPU s (ms per reading) | "
    "load average (1 min) before → after |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--training", nargs="+", choices=["without", "with"], default=["without", "with"])
    parser.add_argument(
        "--training-warmup", type=float, default=25, help="seconds between starting training and measuring"
    )
    parser.add_argument("--timeout", type=float, default=20, help="seconds a reading may take before it is an error")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds a visitor takes to draw the next digit")
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks" / "load_results.md"), help="markdown table ('' for none)"
    )
    parser.add_argument("--servers", type=int, default=0, help="app servers behind nginx (0: one server, no proxy)")
    parser.add_argument("--port", type=int, default=18500, help="the proxy's port with --servers (servers: the next)")
    parser.add_argument("--database", help="the servers' database URL with --servers")
    args = parser.parse_args()
    print("\n".join(HEADER), flush=True)
    rows = asyncio.run(main_async(args))
    if args.out:
        command = "python benchmarks/load_bench.py " + " ".join(sys.argv[1:])
        Path(args.out).write_text(
            f"# Load benchmark\n\n`{command.strip()}` on {os.cpu_count()} cores, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; each row {args.seconds:.0f} s; a drawing every "
            f"{args.pause:g} s after the last one was read and cleared. Latency: the stroke (or the upload) leaving "
            "the client to the reading arriving.\n\n" + "\n".join(HEADER + rows) + "\n"
        )


if __name__ == "__main__":
    main()
