"""Batch reading speed: pictures per second with 1 and 2 worker processes (``digitlib.reading.batch.read_many``, what
``python -m digitlib predict --jobs N`` runs) on the dev sets' pictures, every picture read once per round.

The time is the whole batch from the call to the last record, pool start-up included (the list is read
``--repeat`` times over in one batch, so that a start-up of about a second weighs as it would on a few thousand
pictures); the best of ``--rounds`` rounds is kept (other processes on a shared machine only ever slow a round down).
The model is loaded before timing, as a long-running caller would have it.

    python benchmarks/batch_bench.py                          # /work/shared/realworld-dev and -dev2, jobs 1 and 2
    python benchmarks/batch_bench.py --jobs 1 2 --rounds 3 --model strong
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from digitlib import load_classifier  # noqa: E402
from digitlib.reading.batch import read_many  # noqa: E402

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
DEV_SETS = [REPO.parent / "shared" / "realworld-dev", REPO.parent / "shared" / "realworld-dev2"]


def pictures(folders: list[Path]) -> list[Path]:
    return sorted(path for folder in folders for path in folder.rglob("*") if path.suffix.lower() in PICTURE_SUFFIXES)


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
    print(f"{len(found)} pictures from {', '.join(map(str, args.folders))}, each read {args.repeat} times a batch; "
          f"{os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.1f} at the start", flush=True)
    print("| workers | best seconds | pictures/s | speed-up | errors |\n|---:|---:|---:|---:|---:|", flush=True)
    first = None
    for jobs in args.jobs:
        times, errors = [], 0
        for _ in range(args.rounds):
            began = time.perf_counter()
            errors = sum("error" in record for record in read_many(paths, args.model, jobs))
            times.append(time.perf_counter() - began)
        rate = len(paths) / min(times)
        first = first or rate
        print(f"| {jobs} | {min(times):.2f} | {rate:.1f} | {rate / first:.2f}x | {errors} |", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()
