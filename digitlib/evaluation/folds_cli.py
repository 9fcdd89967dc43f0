"""`python -m digitlib realworld-folds`: leave-repositories-out folds of real-world training, or a baseline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from digitlib.cli_support import DATA_DIR, JSON, SEED, progress_bar, require_keras_model
from digitlib.training.realworld_data import ENV_VAR


def cmd_realworld_folds(args) -> int:
    from digitlib.evaluation.folds import baseline, format_report, run_folds
    from digitlib.training.config import from_preset
    from digitlib.training.realworld_data import resolve_realworld_dir

    directory = str(resolve_realworld_dir(args.realworld))  # first: a wrong folder is reported at once
    if args.baseline or args.fold_models:
        result = baseline(args.baseline or args.fold_models, directory, args.folds, per_fold=bool(args.fold_models))
    else:
        cfg = from_preset(
            args.preset,
            epochs=args.epochs,
            learning_rate=args.lr,
            augment=args.augment,
            seed=args.seed,
            data_dir=args.data_dir,
            init_from=args.init_from,
            realworld_dir=directory,
            realworld_repeat=args.repeat,
        )
        cfg.validate()
        if cfg.init_from:
            require_keras_model(cfg.init_from, "--init-from")
        out_root = Path(args.out_root)
        out_root.mkdir(parents=True, exist_ok=True)
        result = run_folds(cfg, args.folds, out_root, progress_bar(), args.calibration_count, args.polish_epochs)
    print(json.dumps(result) if args.json else format_report(result))
    return 0


def add_folds_command(sub) -> None:
    w = sub.add_parser(
        "realworld-folds",
        parents=[DATA_DIR, JSON, SEED],
        help="train with real pictures leaving whole repositories out, read the "
        "left-out pictures; or score a model (--baseline) or an earlier run's models (--fold-models) on every fold",
    )
    w.add_argument(
        "--realworld",
        metavar="DIR",
        help=f"realworld-train-style folder (default: ${ENV_VAR})",
    )
    scored = w.add_mutually_exclusive_group()
    scored.add_argument(
        "--baseline",
        metavar="MODEL",
        help="no training: read each fold's pictures with this model",
    )
    scored.add_argument(
        "--fold-models",
        metavar="ROOT",
        help="no training: read each fold's pictures with ROOT/fold-K, the models an earlier run left",
    )
    w.add_argument("--folds", type=int, default=5)
    w.add_argument("--preset", default="compact")
    w.add_argument("--init-from", metavar="MODEL", help="continue training this model in each fold")
    w.add_argument("--epochs", type=int)
    w.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule")
    w.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="augment the training batches",
    )
    w.add_argument("--repeat", type=int, help="each real picture this many times per epoch")
    w.add_argument(
        "--polish-epochs",
        type=int,
        default=0,
        help="then this many clean epochs at learning rate 1e-4 (the shipped models' last step; default 0)",
    )
    w.add_argument(
        "--calibration-count",
        type=int,
        default=1500,
        help="synthetic numbers to calibrate each fold model on (default 1500, as `calibrate`)",
    )
    w.add_argument(
        "--out-root",
        default="/tmp/realworld-folds",
        help="where the fold models go (fold-K) and folds.json (default /tmp/realworld-folds)",
    )
    w.set_defaults(run=cmd_realworld_folds)
