"""The measuring commands of `python -m digitlib`: evaluate, evaluate-real, -synthetic, calibrate, robustness."""

from __future__ import annotations

import json
from pathlib import Path

from digitlib import data
from digitlib.cli_support import DATA_DIR, JSON, MODEL, fraction_between, whole_number
from digitlib.reading.classifier import DEFAULT_MODEL, load_classifier


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
    plots.save_test_figures(out, clf.name, result, x_test, y_test, probabilities)
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


def cmd_evaluate_real(args) -> int:
    from digitlib.evaluation.realworld import evaluate_real, failure_gallery, find_cases
    from digitlib.reading.temperature import CONFIDENT

    find_cases(Path(args.directory))  # first: a wrong folder is then reported before LiteRT's log line
    clf = load_classifier(args.model)
    evaluation = evaluate_real(Path(args.directory), clf, args.on_a_page, args.lighting_gradient)
    gallery = failure_gallery(evaluation, Path(args.gallery or f"realworld-failures-{clf.name}.png"))
    exact, total = evaluation.multi_exact
    if args.json:
        print(json.dumps({"model": clf.name, "gallery": str(gallery)} | evaluation.as_dict()))
        return 0
    on_a_page = f", each small on a page {args.on_a_page} times its size" if args.on_a_page else ""
    if args.lighting_gradient < 1.0:
        on_a_page += f", lit from the left to {args.lighting_gradient:.0%} at the right"
    print(
        f"model {clf.name}: single-digit accuracy {evaluation.single_accuracy:.2%} "
        f"({len(evaluation.of_kind('single'))} pictures{on_a_page})"
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


def add_evaluation_commands(sub) -> None:
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

    r = sub.add_parser(
        "evaluate-real",
        parents=[MODEL, JSON],
        help="accuracy on a folder of real pictures (single/<digit>/*, multi/<number>__*)",
    )
    r.add_argument("directory", metavar="DIR")
    r.add_argument("--gallery", help="failure gallery PNG (default: realworld-failures-MODEL.png)")
    r.add_argument(
        "--on-a-page",
        type=whole_number(2, 10),  # beyond 10 the reader's working size leaves the writing a few pixels tall
        default=0,
        metavar="N",
        help="read each picture made small (200 px at most) in the middle of a plain page N times its size",
    )
    r.add_argument(
        "--lighting-gradient",
        type=fraction_between(0.0, 1.0),
        default=1.0,
        metavar="DARKEST",
        help="read each picture darkening smoothly from its left side to DARKEST of its brightness at its right",
    )
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
