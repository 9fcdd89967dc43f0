"""Command line: ``python -m digitlib train | evaluate | predict``.

Every failure the user can fix (missing data, bad image, bad settings) prints one clear line
and exits non-zero; no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from digitlib import data
from digitlib.classifier import DEFAULT_MODEL, ModelError, load_classifier
from digitlib.data import DataError
from digitlib.preprocess import ImageError


def progress_bar():
    """Render training progress as one tqdm bar per epoch."""
    from tqdm import tqdm

    bar = None

    def hook(p) -> None:
        nonlocal bar
        if p.phase == "batch":
            if bar is None:
                bar = tqdm(total=p.batches, desc=f"epoch {p.epoch}/{p.epochs}", unit="batch", leave=True)
            bar.update(p.batch - bar.n)
            bar.set_postfix(loss=f"{p.logs.get('loss', 0):.4f}", acc=f"{p.logs.get('accuracy', 0):.4f}")
        elif p.phase == "epoch" and bar is not None:
            bar.set_postfix({k: f"{v:.4f}" for k, v in p.logs.items()})
            bar.close()
            bar = None
        elif p.message:
            print(p.message, file=sys.stderr)

    return hook


def cmd_train(args) -> int:
    from digitlib.train import TrainConfig, train

    cfg = TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                      train_size=args.train_size, val_fraction=args.val_split, augment=not args.no_augment,
                      seed=args.seed, data_dir=args.data_dir)
    cfg.validate()
    card = train(cfg, Path(args.out) if args.out else None, progress_bar())
    print(f"{card['name']}: test accuracy {card['test_accuracy']:.4f} after {card['epochs']} epochs "
          f"({card['training_seconds']:.0f} s)")
    return 0


def cmd_evaluate(args) -> int:
    from digitlib import plots
    from digitlib.evaluate import evaluate_probabilities

    clf = load_classifier(args.model)
    _, (x_test, y_test) = data.load_mnist(args.data_dir)
    probabilities = clf.predict_batch(x_test)
    result = evaluate_probabilities(probabilities, y_test)
    out = Path(args.out or clf.directory)
    out.mkdir(parents=True, exist_ok=True)
    plots.save(plots.confusion_matrix(result.confusion_matrix, f"{clf.name}: test-set confusion"), out / "confusion.png")
    worst = result.misclassified[:40]
    captions = [f"{y_test[i]}→{probabilities[i].argmax()}" for i in worst]
    plots.save(plots.gallery([x_test[i] for i in worst], captions, title="Misclassified test digits"),
               out / "misclassified.png")
    if args.json:
        print(json.dumps({"model": clf.name} | result.as_dict()))
    else:
        print(f"model {clf.name}: test accuracy {result.accuracy:.4f} on {result.count} images")
        print("per-class: " + "  ".join(f"{d}:{a:.4f}" for d, a in enumerate(result.per_class_accuracy)))
        print(f"confusion matrix and misclassified gallery written to {out}/")
    return 0


def cmd_predict(args) -> int:
    clf = load_classifier(args.model)
    failures = 0
    for path in args.paths:
        try:
            r = clf.predict(path)
            record = {"path": path, "prediction": str(r.digit), "confidence": round(r.confidence, 6),
                      "probabilities": [round(float(p), 6) for p in r.probabilities]}
        except (ImageError, OSError, ValueError) as exc:
            failures += 1
            record = {"path": path, "error": str(exc)}
        if args.json:
            print(json.dumps(record), flush=True)
        elif "error" in record:
            print(f"{path}: error: {record['error']}", flush=True)
        else:
            print(f"{path}: {record['prediction']} (confidence {record['confidence']:.1%})", flush=True)
    return 1 if failures == len(args.paths) else 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m digitlib", description=__doc__.splitlines()[0])
    sub = root.add_subparsers(dest="command", required=True)
    data_help = f"folder with the MNIST IDX .gz files or mnist.npz (default: ${data.ENV_VAR}, then the Keras cache)"

    t = sub.add_parser("train", help="train a model on MNIST and save it with its model card")
    t.add_argument("--arch", default="strong", help="baseline, strong, fast or resnet (default: strong)")
    t.add_argument("--epochs", type=int, default=15)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule")
    t.add_argument("--train-size", type=int, default=None, help="use only this many training images")
    t.add_argument("--val-split", type=float, default=0.1, help="fraction held out for validation curves")
    t.add_argument("--no-augment", action="store_true", help="train on plain MNIST")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-dir", help=data_help)
    t.add_argument("--out", help="output model directory (default: models/ARCH)")
    t.set_defaults(run=cmd_train)

    e = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion matrix on the MNIST test set")
    e.add_argument("--model", default=DEFAULT_MODEL, help="model name in models/ or a model directory")
    e.add_argument("--data-dir", help=data_help)
    e.add_argument("--out", help="where to write the PNGs (default: the model's directory)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("predict", help="read the digits in image files")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=cmd_predict)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (DataError, ModelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was changed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
