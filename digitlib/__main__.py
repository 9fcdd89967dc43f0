"""Command line for digitlib: train, evaluate and fine-tune models, read digits, measure speed and accuracy.

Every failure the user can fix (missing data, bad image, bad settings) prints one clear line
and exits non-zero; no tracebacks.  Commands that train check everything they can (settings, data,
models) before TensorFlow's multi-second import, so a mistake is reported at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from digitlib import data
from digitlib.cli_support import DATA_DIR, MODEL, SEED, STORE, progress_bar, require_keras_model, whole_number
from digitlib.data import DataError
from digitlib.evaluation.cli import add_evaluation_commands
from digitlib.evaluation.folds_cli import add_folds_command
from digitlib.reading.batch import read_many
from digitlib.reading.classifier import DEFAULT_MODEL, ModelError
from digitlib.store import StoreError
from digitlib.zoo.registry import ARCHITECTURES, PRESETS


def cmd_train(args) -> int:
    from digitlib.training.config import from_preset
    from digitlib.training.realworld_data import resolve_realworld_dir
    from digitlib.training.train import train  # imports no TensorFlow: train() does

    cfg = from_preset(
        args.preset,
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        train_size=args.train_size,
        val_fraction=args.val_split,
        augment=args.augment,
        seed=args.seed,
        data_dir=args.data_dir,
        init_from=args.init_from,
        conventions=args.conventions,
        realworld_dir=str(resolve_realworld_dir(args.realworld or None)) if args.realworld is not None else None,
        realworld_repeat=args.realworld_repeat,
    )
    cfg.validate()
    if cfg.init_from:
        require_keras_model(cfg.init_from, "--init-from")
    mnist = data.load_mnist(cfg.data_dir)
    card = train(cfg, Path(args.out) if args.out else None, progress_bar(), mnist)
    print(
        f"{card['name']}: test accuracy {card['test_accuracy']:.4f} after {card['epochs']} epochs "
        f"({card['training_seconds']:.0f} s)"
    )
    return 0


def cmd_export(args) -> int:
    from digitlib.training.reexport import reexport

    require_keras_model(args.model, "`export`")
    mnist = data.load_mnist(args.data_dir)  # a missing MNIST is reported before TensorFlow's import
    card = reexport(args.model, progress_bar(), args.data_dir, args.calibration_count, mnist)
    before = card["exports"][-1]["before"]
    temperature = f", temperature {card['calibration']['temperature']:.3f}" if "calibration" in card else ""
    print(
        f"{card['name']}: exported with {card['litert']}; test accuracy {before['test_accuracy']:.4f} -> "
        f"{card['test_accuracy']:.4f}{temperature}"
    )
    return 0


def cmd_predict(args) -> int:
    from tqdm import tqdm

    failures = 0
    records = read_many(args.paths, args.model, args.jobs)
    for record in tqdm(
        records,
        total=len(args.paths),
        unit="picture",
        file=sys.stderr,
        mininterval=0.5,
        disable=args.quiet or len(args.paths) < 2,
    ):
        failures += "error" in record
        path = record["path"]
        if args.json:
            tqdm.write(json.dumps(record), file=sys.stdout)
        elif "error" in record:
            tqdm.write(f"{path}: error: {record['error']}", file=sys.stdout)
        else:
            unsure = (
                ", low: top 3 "
                + " | ".join(" ".join(f"{d}:{p:.0%}" for d, p in digit["top3"]) for digit in record["digits"])
                if record["low_confidence"]
                else ""
            )
            found = record["prediction"] or f"no digit found ({record['reason']})"
            tqdm.write(f"{path}: {found} (confidence {record['confidence']:.1%}{unsure})", file=sys.stdout)
        sys.stdout.flush()
    return 1 if failures == len(args.paths) else 0


def cmd_bench(args) -> int:
    from digitlib.evaluation.bench_report import run_cli

    return run_cli(args)


def store_summary(store) -> str:
    counts = store.counts()
    return (
        f"{store.location}: {sum(counts.values())} corrections ("
        + ", ".join(f"{d}: {n}" for d, n in counts.items())
        + ")"
    )


def cmd_finetune(args) -> int:
    from digitlib.training.finetune import FinetuneConfig, finetune

    settings = {
        "store_path": args.store,
        "base_model": args.base,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "store_share": args.store_share,
        "mnist_images": args.mnist_images,
        "holdout_fraction": args.holdout,
        "augment": args.augment,
        "seed": args.seed,
        "data_dir": args.data_dir,
    }
    cfg = FinetuneConfig(**{key: value for key, value in settings.items() if value is not None})
    cfg.validate()
    require_keras_model(cfg.base_model, "--base")
    mnist = data.load_mnist(cfg.data_dir)  # before the base model's LiteRT log line; finetune() checks the store
    card = finetune(cfg, Path(args.out) if args.out else None, progress_bar(), mnist)
    before, after = card["finetune"]["before"], card["finetune"]["after"]
    print(
        f"{card['base_model']} -> {card['name']}: MNIST test accuracy {before['mnist_test_accuracy']:.4f} -> "
        f"{after['mnist_test_accuracy']:.4f}"
    )
    if card["finetune"]["held_out_corrections"]:
        print(
            f"held-out corrections ({card['finetune']['held_out_corrections']}): accuracy "
            f"{before['held_out_accuracy']:.2%} -> {after['held_out_accuracy']:.2%}"
        )
    return 0


def cmd_corrections(args) -> int:
    from digitlib.store.corrections import CorrectionStore

    store = CorrectionStore(args.store, create=False)
    print(store_summary(store))
    if args.npz:
        print(f"wrote {store.export_npz(args.npz)}")
    if args.idx:
        print("wrote " + " and ".join(str(path) for path in store.export_idx(args.idx)))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m digitlib", description=__doc__.splitlines()[0])
    sub = root.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", parents=[DATA_DIR, SEED], help="train a model on MNIST and save it with its model card")
    t.add_argument(
        "--preset",
        default="compact",
        help="recipe whose settings the options below "
        "override: " + "; ".join(f"{p.name}: {p.summary}" for p in PRESETS.values()).replace("%", "%%"),
    )
    t.add_argument("--arch", help="; ".join(f"{a.name}: {a.summary}" for a in ARCHITECTURES.values()))
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule")
    t.add_argument("--train-size", type=int, help="use only this many training images")
    t.add_argument("--val-split", type=float, help="fraction held out for validation curves")
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, help="augment the training images")
    t.add_argument(
        "--conventions",
        type=float,
        metavar="STRENGTH",
        help="add edited copies of digits in handwriting "
        "conventions MNIST lacks (1 = the shares in conventions.py, 0 = none; compact and strong use 1)",
    )
    t.add_argument(
        "--init-from",
        metavar="MODEL",
        help="continue training this model (name or directory) instead of a fresh network",
    )
    t.add_argument(
        "--realworld",
        nargs="?",
        const="",
        metavar="DIR",
        help="also learn from the single-digit "
        "pictures of this realworld-train-style folder (manifest.tsv; alone: $DIGITLIB_REALWORLD_DIR)",
    )
    t.add_argument("--realworld-repeat", type=int, metavar="N", help="each real picture N times per epoch (default 10)")
    t.add_argument("--out", help="output model directory (default: models/ARCH)")
    t.set_defaults(run=cmd_train)

    x = sub.add_parser(
        "export",
        parents=[DATA_DIR],
        help="write a model's LiteRT file again from its Keras model (8-bit weights, as `train` exports), "
        "then measure and calibrate it again; its card keeps its story",
    )
    x.add_argument("model", metavar="MODEL", help="model name in models/ or a model directory")
    x.add_argument(
        "--calibration-count",
        type=int,
        default=1500,
        help="synthetic numbers to calibrate a calibrated model on again (default 1500, as `calibrate`)",
    )
    x.set_defaults(run=cmd_export)

    add_evaluation_commands(sub)

    p = sub.add_parser(
        "predict", parents=[MODEL], help="read the digits in image files, on every core, in the order given"
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--jobs",
        type=whole_number(1, of=" of processes"),
        default=os.cpu_count() or 1,
        help="pictures read at once, each in a process of its own (default: the number of cores)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=cmd_predict)

    b = sub.add_parser(
        "bench", parents=[DATA_DIR], help="measure prediction, start-up and training speed; print Markdown tables"
    )
    b.add_argument("--models", nargs="+", metavar="MODEL", help="model names or directories (default: all shipped)")
    b.add_argument("--quick", action="store_true", help="tiny sizes: proves the benchmark runs, measures nothing")
    b.add_argument("--skip-training", action="store_true", help="leave out training throughput and time-to-accuracy")
    b.add_argument("--json", action="store_true", help="every figure as one JSON object")
    b.set_defaults(run=cmd_bench)

    f = sub.add_parser(
        "finetune",
        parents=[DATA_DIR, STORE, SEED],
        help="fine-tune a model on MNIST plus stored corrections (your handwriting)",
    )
    f.add_argument("--base", default=DEFAULT_MODEL, help=f"model to start from (default: {DEFAULT_MODEL})")
    f.add_argument("--epochs", type=int, help="default 3")
    f.add_argument("--batch-size", type=int, help="default 64")
    f.add_argument("--lr", type=float, help="peak learning rate (default 3e-4)")
    f.add_argument("--store-share", type=float, help="share of each epoch made of repeated corrections (default 0.2)")
    f.add_argument("--mnist-images", type=int, help="MNIST training images mixed in (default 12000)")
    f.add_argument("--holdout", type=float, help="fraction of corrections held out to measure (default 0.25)")
    f.add_argument("--augment", action=argparse.BooleanOptionalAction, help="default: as the base model was trained")
    f.add_argument("--out", help="output model directory (default: models/BASE-finetuned)")
    f.set_defaults(run=cmd_finetune)

    c = sub.add_parser(
        "corrections", parents=[STORE], help="count stored corrections per digit; export them as MNIST files"
    )
    c.add_argument("--npz", metavar="FILE", help="write them as a Keras-layout mnist.npz (all in x_train)")
    c.add_argument("--idx", metavar="DIR", help="write them as an MNIST IDX .gz pair into DIR")
    c.set_defaults(run=cmd_corrections)

    add_folds_command(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (DataError, ModelError, StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was changed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
