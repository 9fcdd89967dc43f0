"""The speed benchmark's report: ``python -m digitlib bench`` runs `digitlib.evaluation.bench` and prints its figures as
Markdown tables that can go into the README as they are (or as JSON), with each goal met or not."""

from __future__ import annotations

import json
import sys

from digitlib.evaluation.bench import GOALS, TARGET_ACCURACY, run
from digitlib.evaluation.bench_inputs import CANVAS_ARRAY, CANVAS_PNG


def p50_p99(figures: dict[str, float] | None) -> str:
    return "—" if figures is None else f"{figures['p50_ms']:.3f} / {figures['p99_ms']:.3f}"


def verdict(value: float | None, goal: float, at_most: bool = True) -> str:
    if value is None:
        return "not measured"
    return "met" if (value <= goal if at_most else value >= goal) else "NOT met"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def model_section(model: dict) -> list[str]:
    accuracy = f"{model['test_accuracy']:.2%}" if model.get("test_accuracy") is not None else "unknown"
    lines = [
        "",
        f"### Model `{model['name']}` ({model.get('parameters') or '?'} parameters, MNIST test accuracy {accuracy})",
        "",
    ]
    lines += table(
        ["single image, ms p50 / p99", "decode", "preprocess", "inference (LiteRT)", "end to end (predict)"],
        [
            [label, *(p50_p99(stages[k]) for k in ("decode", "preprocess", "inference", "end_to_end"))]
            for label, stages in model["single_image"].items()
        ],
    )
    b, k, f = model["batch"], model["keras"], model["first_prediction"]
    lines += [
        "",
        f"Batch of {b['images']:,} MNIST-format images: predict_batch {b['ours_images_per_s']:,.0f} "
        f"images/s, bare LiteRT interpreter {b['bare_litert_images_per_s']:,.0f} images/s, "
        f"ratio {b['ratio']:.2f}.",
        "",
    ]
    if "error" in k:
        lines.append(f"Keras reference: {k['error']}")
    else:
        lines += table(
            ["Keras reference (child process)", "single image, ms p50 / p99", "batch, images/s"],
            [
                ["`model.predict(x)`", p50_p99(k["predict_single"]), f"{k['predict_batch_images_per_s']:,.0f}"],
                ["`model(x)`", p50_p99(k["call_single"]), f"{k['call_batch_images_per_s']:,.0f}"],
            ],
        )
        lines.append(
            f"\nImporting Keras/TensorFlow took {k['import_seconds']:.1f} s, loading model.keras "
            f"{k['load_seconds']:.1f} s."
        )
    if "error" in f:
        lines += ["", f"Fresh process: {f['error']}"]
    else:
        lines += [
            "",
            f"Fresh process -> first prediction: {f['median_seconds']:.2f} s median of {f['runs']} "
            f"(max {f['max_seconds']:.2f} s), peak RSS {f['peak_rss_mb']:.0f} MB, TensorFlow imported: "
            f"{'YES' if f['tensorflow_imported'] else 'no'}.",
        ]
    return lines


def training_section(training: dict, tta: dict) -> list[str]:
    lines = ["", "### Training", ""]
    if "error" in training:
        lines.append(f"Training throughput: {training['error']}")
    else:
        lines += table(
            ["architecture", "parameters", "batch", "images/s augmented", "images/s plain"],
            [
                [
                    arch,
                    f"{t['parameters']:,}",
                    str(t["batch_size"]),
                    f"{t['augmented_images_per_s']:,.0f}",
                    f"{t['plain_images_per_s']:,.0f}",
                ]
                for arch, t in training.items()
            ],
        )
    if "error" in tta:
        return [*lines, "", f"Time to accuracy: {tta['error']}"]
    cfg = tta["config"]
    recipe = ", ".join(
        f"{k}={cfg.get(k)}"
        for k in (
            "arch",
            "epochs",
            "batch_size",
            "learning_rate",
            "augment",
            "label_smoothing",
            "ema",
            "train_size",
            "val_fraction",
        )
    )
    lines += ["", f"Time to {tta['target']:.1%} MNIST test accuracy, preset `{tta['preset']}` ({recipe}):", ""]
    lines += table(
        ["epoch", "test accuracy", "training wall s", "since process start s"],
        [
            [
                str(e["epoch"]),
                f"{e['test_accuracy']:.4f}",
                f"{e['training_seconds']:.1f}",
                f"{e['process_seconds']:.1f}",
            ]
            for e in tta["epochs"]
        ],
    )
    return lines


def goals_section(result: dict) -> list[str]:
    rows = []
    for model in result["models"]:
        first = model["first_prediction"]
        for kind, source in (("RGBA array (st_canvas's format)", CANVAS_ARRAY), ("PNG file", CANVAS_PNG)):
            canvas = model["single_image"][source]["end_to_end"]["p50_ms"]
            rows.append(
                [
                    f"{model['name']}: canvas {kind} end to end p50",
                    f"{canvas:.3f} ms",
                    "≤ 1 ms",
                    verdict(canvas, GOALS["canvas_end_to_end_p50_ms"]),
                ]
            )
        rows += [
            [
                f"{model['name']}: batch throughput vs bare LiteRT",
                f"{model['batch']['ratio']:.2f}",
                "≥ 0.8",
                verdict(model["batch"]["ratio"], GOALS["batch_ratio_vs_bare_litert"], at_most=False),
            ],
            [
                f"{model['name']}: fresh process -> first prediction",
                f"{first.get('median_seconds', 0):.2f} s",
                "≤ 1.0 s",
                verdict(first.get("median_seconds"), GOALS["first_prediction_seconds"]),
            ],
            [
                f"{model['name']}: peak RSS of that process",
                f"{first.get('peak_rss_mb', 0):.0f} MB",
                "≤ 300 MB",
                verdict(first.get("peak_rss_mb"), GOALS["first_prediction_peak_rss_mb"]),
            ],
        ]
    tta = result.get("time_to_accuracy")
    if tta is not None:
        seconds = (tta.get("first_at_target") or {}).get("process_seconds")  # from `python` start: all included
        rows.append(
            [
                f"time to {TARGET_ACCURACY:.1%} test accuracy (preset fast)",
                f"{seconds:.0f} s" if seconds is not None else "not reached",
                "≤ 300 s",
                verdict(seconds, GOALS["time_to_accuracy_seconds"]) if seconds is not None else "NOT met",
            ]
        )
    return ["", "### Goals", "", *table(["figure", "measured", "goal", ""], rows)]


def report(result: dict) -> str:
    """The run as Markdown: machine, one section per model, training, goals."""
    m = result["machine"]
    start, end = result["load_average"]["start"], result["load_average"]["end"]
    lines = [
        f"## digitlib benchmark{' (--quick: tiny sizes, the figures mean nothing)' if result['quick'] else ''}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}; Python {m['python']}, "
        + ", ".join(f"{name} {v}" for name, v in m["versions"].items() if v)
        + ".",
        f"Load average (1/5/15 min) at start {start[0]:.2f}/{start[1]:.2f}/{start[2]:.2f}, "
        f"at end {end[0]:.2f}/{end[1]:.2f}/{end[2]:.2f}"
        + (" -- the machine was busy: figures are unreliable." if start[0] > 0.5 else "."),
    ]
    for model in result["models"]:
        lines += model_section(model)
    if "training" in result:
        lines += training_section(result["training"], result["time_to_accuracy"])
    return "\n".join(lines + goals_section(result))


def run_cli(args) -> int:
    """``python -m digitlib bench``: progress on stderr, the report (or JSON) on stdout."""
    result = run(
        args.models,
        args.quick,
        args.data_dir,
        not args.skip_training,
        log=lambda message: print(f"bench: {message}", file=sys.stderr, flush=True),
    )
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0
