"""How the ``fast`` training preset was chosen: wall time to 99.5% MNIST test accuracy per candidate.

Each candidate overrides some settings of ``digitlib.zoo.registry.PRESETS["fast"]`` and trains in a fresh
process (``digitlib.evaluation.bench``'s time-to-accuracy worker: test set scored after every epoch, stop at
the target).  Run on a quiet machine only -- every candidate takes minutes of both cores:

    python benchmarks/fast_recipe.py [--data-dir DIR] [--out benchmarks/fast_recipe.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitlib.evaluation import bench  # noqa: E402

CANDIDATES: list[dict] = [
    {},  # the preset as shipped
    {"label_smoothing": 0.0, "ema": False},  # without the two tricks that buy the last 0.05%
    {"epochs": 4},  # one more epoch: safer accuracy, ~90 s more
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST folder (default: $DIGITLIB_DATA_DIR)")
    parser.add_argument("--out", type=Path, help="also save every run as JSON here")
    args = parser.parse_args()
    runs = []
    for overrides in CANDIDATES:
        load = os.getloadavg()[0]
        result = bench.worker(
            "time-to-accuracy", preset="fast", overrides=overrides, data_dir=args.data_dir, target=bench.TARGET_ACCURACY
        )
        runs.append({"overrides": overrides, "load_before": load, **result})
        if "error" in result:
            print(f"{overrides}: {result['error']}", flush=True)
            continue
        hit = result["first_at_target"]
        last = result["epochs"][-1]
        print(
            f"{overrides} load {load:.2f}: "
            + (
                f"{bench.TARGET_ACCURACY:.1%} at epoch {hit['epoch']} after {hit['process_seconds']:.0f} s"
                if hit
                else f"not reached; {last['test_accuracy']:.4f} after {last['process_seconds']:.0f} s"
            )
            + "  per epoch: "
            + " ".join(f"{e['test_accuracy']:.4f}" for e in result["epochs"]),
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
