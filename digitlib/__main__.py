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
from digitlib.cli_support import DATA_DIR, JSON, MODEL, SEED, STORE, progress_bar, require_keras_model
from digitlib.data import DataError
from digitlib.evaluation.folds_cli import add_folds_command
from digitlib.reading.batch import read_many
from digitlib.reading.classifier import DEFAULT_MODEL, ModelError, load_classifier
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


def cmd_evaluate(args) -> int:
    from digitlib.evaluation import plots
    from digitlib.evaluation.evaluate import evaluate_probabilities
    from digitlib.reading.temperature import expected_calibration_error, temper
    from digitlib.training.conventions import style_accuracy

    _, (x_test, y_test) = data.load_mnist(args.data_dir)  # first: a data error then comes before LiteRT's log line
    clf = load_classifier(args.model)
    probabilities = clf.predict_batch(x_test)
    result = evaluate_probabilities(probabilities, y_test)
    calibration = {
        "temperature": clf.temperature,
        "ece_uncalibrated": expected_calibration_error(temper(probabilities, 1 / clf.temperature), y_test),
        "ece": expected_calibration_error(probabilities, y_test),
    }
    out = Path(args.out or clf.directory)
    out.mkdir(parents=True, exist_ok=True)
    plots.save(
        plots.confusion_matrix(result.confusion_matrix, f"{clf.name}: test-set confusion"), out / "confusion.png"
    )
    worst = result.misclassified[:40]
    captions = [f"{y_test[i]}→{probabilities[i].argmax()}" for i in worst]
    plots.save(
        plots.gallery([x_test[i] for i in worst], captions, title="Misclassified test digits"),
        out / "misclassified.png",
    )
    styles = style_accuracy(clf, x_test, y_test) if args.styles else {}
    if args.json:
        by_style = {"styles": {k: {"accuracy": a, "count": n} for k, (a, n) in styles.items()}} if styles else {}
        print(json.dumps({"model": clf.name} | result.as_dict() | calibration | by_style))
    else:
        print(f"model {clf.name}: test accuracy {result.accuracy:.4f} on {result.count} images")
        print("per-class: " + "  ".join(f"{d}:{a:.4f}" for d, a in enumerate(result.per_class_accuracy)))
        print(
            f"expected calibration error {calibration['ece']:.2%} at temperature {clf.temperature:.3f} "
            f"({calibration['ece_uncalibrated']:.2%} uncalibrated)"
        )
        for style, (accuracy, count) in styles.items():
            print(f"  {style}: {accuracy:.2%} of {count} edited test digits")
        print(f"confusion matrix and misclassified gallery written to {out}/")
    return 0


def worker_count(value: str) -> int:
    """--jobs: a whole number of processes, at least one."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes, at least 1, not {value!r}")
    return int(value)


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


def cmd_evaluate_real(args) -> int:
    from digitlib.evaluation.realworld import evaluate_real, failure_gallery, find_cases
    from digitlib.reading.temperature import CONFIDENT

    find_cases(Path(args.directory))  # first: a wrong folder is then reported before LiteRT's log line
    clf = load_classifier(args.model)
    evaluation = evaluate_real(Path(args.directory), clf)
    gallery = failure_gallery(evaluation, Path(args.gallery or f"realworld-failures-{clf.name}.png"))
    exact, total = evaluation.multi_exact
    if args.json:
        print(json.dumps({"model": clf.name, "gallery": str(gallery)} | evaluation.as_dict()))
        return 0
    print(
        f"model {clf.name}: single-digit accuracy {evaluation.single_accuracy:.2%} "
        f"({len(evaluation.of_kind('single'))} pictures)"
    )
    print("per-class: " + "  ".join(f"{d}:{a:.0%}" for d, a in evaluation.per_class_accuracy.items()))
    print(f"multi-digit numbers read exactly: {exact}/{total} ({evaluation.multi_exact_rate:.1%})")
    print(f"digit error rate {evaluation.digit_error_rate:.2%} (edit distance per digit written, all pictures)")
    print(
        f"confident errors (read wrong at {CONFIDENT:.0%} or more): {len(evaluation.confident_errors)} "
        f"of {len(evaluation.failures)} errors"
    )
    for o in evaluation.failures:
        sure = f" at {o.reading.confidence:.0%}" if o.reading and o.reading.digits else ""
        print(f"  failed: {o.case.path.name}: {o.case.label} read as {o.text or o.error or 'nothing'!r}{sure}")
    print(f"failure gallery written to {gallery}")
    return 0


def cmd_evaluate_synthetic(args) -> int:
    from PIL import Image

    from digitlib.evaluation.synthetic import evaluate_synthetic, format_report
    from digitlib.reading.temperature import CONFIDENT

    _, (x_test, y_test) = data.load_mnist(args.data_dir)
    clf = load_classifier(args.model)
    examples = Path(args.examples) if args.examples else None
    if examples:
        examples.mkdir(parents=True, exist_ok=True)

    def save_example(index, sample, text) -> None:
        if examples and index < args.example_count:
            Image.fromarray(sample.image).save(examples / f"{index:04d}_{sample.label}_read-{text or 'nothing'}.png")

    evaluation = evaluate_synthetic(clf, x_test, y_test, args.count, args.seed, save_example)
    if args.json:
        print(json.dumps({"model": clf.name, "count": args.count, "seed": args.seed} | evaluation.as_dict()))
        return 0
    overall = evaluation.overall
    print(
        f"model {clf.name}: {overall.exact}/{overall.pictures} synthetic numbers read exactly "
        f"({overall.exact_rate:.1%}), digit error rate {overall.digit_error_rate:.1%}, "
        f"{overall.confident_errors} read wrong at {CONFIDENT:.0%} confidence or more (seed {args.seed})"
    )
    print(
        f"expected calibration error of the {len(evaluation.digit_labels)} digits in numbers found whole: "
        f"{evaluation.digit_ece():.2%} at temperature {evaluation.temperature:.3f} "
        f"({evaluation.digit_ece(False):.2%} uncalibrated)"
    )
    print(format_report(evaluation))
    return 0


def cmd_calibrate(args) -> int:
    from digitlib.evaluation.calibrate import calibrate_model

    clf = load_classifier(args.model)
    c = calibrate_model(clf, args.count, args.data_dir)
    print(f"model {clf.name}: temperature {c.temperature:.3f} fitted on {c.images} digits ({c.fitted_on})")
    print(
        f"expected calibration error {c.ece_before:.2%} -> {c.ece_after:.2%}, "
        f"negative log-likelihood {c.nll_before:.4f} -> {c.nll_after:.4f}; stored in {clf.directory}/card.json"
    )
    print(
        "an 'unsure' warning below each confidence would flag, of these digits: "
        + "; ".join(
            f"< {t}: {row['errors_flagged']:.0%} of errors, {row['correct_flagged']:.1%} of right readings"
            for t, row in c.unsure.items()
        )
    )
    return 0


def cmd_robustness(args) -> int:
    from digitlib.evaluation.realworld import format_table, robustness_table

    if args.count < 1:
        raise ValueError(f"--count must be at least 1, not {args.count}")
    _, (x_test, y_test) = data.load_mnist(args.data_dir)  # first: a data error then comes before LiteRT's log line
    classifiers = [load_classifier(name) for name in args.models]
    rows = robustness_table(classifiers, x_test[: args.count], y_test[: args.count])
    if args.json:
        print(json.dumps({r.condition: r.accuracy for r in rows}))
    else:
        print(
            f"accuracy on the first {min(args.count, len(x_test))} MNIST test digits, naive resize-and-invert "
            "versus digitlib's preprocessing"
        )
        print(format_table(rows))
    return 0


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

    e = sub.add_parser(
        "evaluate",
        parents=[DATA_DIR, MODEL, JSON],
        help="accuracy, per-class accuracy and confusion matrix on the MNIST test set",
    )
    e.add_argument("--out", help="where to write the PNGs (default: the model's directory)")
    e.add_argument(
        "--styles",
        action="store_true",
        help="also per writing style: test digits edited into closed 4s, "
        "flagged 1s, crossed 7s, ... (digitlib/training/conventions.py)",
    )
    e.set_defaults(run=cmd_evaluate)

    p = sub.add_parser(
        "predict", parents=[MODEL], help="read the digits in image files, on every core, in the order given"
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--jobs",
        type=worker_count,
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

    r = sub.add_parser(
        "evaluate-real",
        parents=[MODEL, JSON],
        help="accuracy on a folder of real pictures (single/<digit>/*, multi/<number>__*)",
    )
    r.add_argument("directory", metavar="DIR")
    r.add_argument("--gallery", help="failure gallery PNG (default: realworld-failures-MODEL.png)")
    r.set_defaults(run=cmd_evaluate_real)

    y = sub.add_parser(
        "evaluate-synthetic",
        parents=[DATA_DIR, MODEL, JSON],
        help="read generated numbers (MNIST test digits over photo-like grounds)",
    )
    y.add_argument("--count", type=int, default=1000, help="how many pictures (default 1000)")
    y.add_argument("--seed", type=int, default=0, help="picture i is the same for the same seed (default 0)")
    y.add_argument("--examples", metavar="DIR", help="save the first pictures here, named label_read-TEXT.png")
    y.add_argument("--example-count", type=int, default=40, help="how many pictures --examples saves (default 40)")
    y.set_defaults(run=cmd_evaluate_synthetic)

    k = sub.add_parser(
        "calibrate",
        parents=[DATA_DIR, MODEL],
        help="fit the model's confidence temperature on synthetic numbers of its held-out digits; store it in the card",
    )
    k.add_argument("--count", type=int, default=1500, help="synthetic numbers to read (default 1500)")
    k.set_defaults(run=cmd_calibrate)

    s = sub.add_parser(
        "robustness",
        parents=[DATA_DIR, JSON],
        help="accuracy on MNIST test digits shifted, scaled, inverted, noisy, ...",
    )
    s.add_argument("--models", nargs="+", default=["baseline", DEFAULT_MODEL], metavar="MODEL")
    s.add_argument("--count", type=int, default=1000, help="how many test digits (default 1000)")
    s.set_defaults(run=cmd_robustness)

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
