"""Batch reading speed: pictures per second with 1 and 2 worker processes (``digitlib.reading.batch.read_many``, what
``python -m digitlib predict --jobs N`` runs) on the dev sets' pictures, every picture read once per round.

The time is the whole batch from the call to the last record, pool start-up included (the list is read
``--repeat`` times over in one batch, so that a start-up of about a second weighs as it would on a few thousand
pictures); the best of ``--rounds`` rounds is kept (other processes on a shared machine only ever slow a round down).
The model is loaded before timing, as a long-running caller would have it.  Also printed: the CPU seconds this process
and its workers used (sampled five times a second) and so how many cores the batch actually got: on a machine that
other jobs keep busy, the kernel shares the cores between sessions, and a batch's workers share their session's part.

    python benchmarks/batch_bench.py                          # ../shared/realworld-dev and -dev2, jobs 1 and 2
    python benchmarks/batch_bench.py --jobs 1 2 --rounds 3 --model strong
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from digitlib import load_classifier  # noqa: E402
from digitlib.reading.batch import read_many  # noqa: E402

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
DEV_SETS = [REPO.parent / "shared" / "realworld-dev", REPO.parent / "shared" / "realworld-dev2"]


def pictures(folders: list[Path]) -> list[Path]:
    return sorted(path for folder in folders for path in folder.rglob("*") if path.suffix.lower() in PICTURE_SUFFIXES)


class TreeCpu:
    """CPU seconds used by this process and every process under it (workers included), sampled while it runs:
    a worker's time is lost once it has exited, so the latest sample of each is kept."""

    def __init__(self):
        self.me, self.seen, self.running = psutil.Process(), {}, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            for process in [self.me, *self.me.children(recursive=True)]:
                try:
                    times = process.cpu_times()
                    self.seen[process.pid] = times.user + times.system
                except psutil.Error:
                    continue
            time.sleep(0.2)

    def stop(self, before: dict[int, float]) -> float:
        self.running = False
        self.thread.join()
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in self.seen.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, default=DEV_SETS)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=4, help="times the pictures are read over in one batch")
    parser.add_argument("--model", default=None, help="a shipped model's name or a model directory (default: compact)")
    args = parser.parse_args()
    found = pictures(args.folders)
    if not found:
        sys.exit(f"no pictures under {', '.join(map(str, args.folders))}")
    paths = found * args.repeat
    load_classifier(args.model)
    print(
        f"{len(found)} pictures from {', '.join(map(str, args.folders))}, each read {args.repeat} times a batch; "
        f"{os.cpu_count()} cores; load average "
        f"{os.getloadavg()[0]:.1f} at the start",
        flush=True,
    )
    print(
        "| workers | best seconds | pictures/s | speed-up | errors | CPU s (ms per picture) | cores the batch got |\n"
        "|---:|---:|---:|---:|---:|---:|---:|",
        flush=True,
    )
    first = None
    for jobs in args.jobs:
        rounds, errors = [], 0
        for _ in range(args.rounds):
            before = TreeCpu()
            before.stop({})
            cpu = TreeCpu()
            began = time.perf_counter()
            errors = sum("error" in record for record in read_many(paths, args.model, jobs))
            seconds = time.perf_counter() - began
            rounds.append((seconds, cpu.stop(before.seen)))
        seconds, cpu_seconds = min(rounds)
        rate = len(paths) / seconds
        first = first or rate
        print(
            f"| {jobs} | {seconds:.2f} | {rate:.1f} | {rate / first:.2f}x | {errors} | "
            f"{cpu_seconds:.1f} ({1000 * cpu_seconds / len(paths):.1f}) | {cpu_seconds / seconds:.2f} |",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()
