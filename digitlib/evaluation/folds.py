"""Leave-repositories-out folds: how well a model trained on real pictures reads pictures of hands it never saw.

The repositories of a realworld-train-style folder (each one person's or one project's pictures) are dealt into
folds; for each fold a model is trained on MNIST and the pictures of the other folds only, then reads the fold's
pictures through the normal reader (`read_number`), scored as `evaluate-real` scores them.  Pooling the folds
gives one held-out figure for every picture.  `baseline` scores a model that never saw any of them on all.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from digitlib.evaluation.calibrate import calibrate_model
from digitlib.evaluation.realworld import Case, RealEvaluation, read_case
from digitlib.reading.classifier import Classifier, load_classifier
from digitlib.training.realworld_data import (
    ManifestRow,
    load_realworld,
    read_manifest,
    resolve_realworld_dir,
)

# The shipped models' last step: clean epochs at a low learning rate let batch norm settle on undistorted digits
# (README, "How the models were made").
POLISH = {"augment": False, "learning_rate": 1e-4}


def split_repos(counts: dict[str, int], folds: int) -> list[list[str]]:
    """Repositories dealt into ``folds`` disjoint folds of about equal picture counts; the same every time.

    Largest first, each to the fold with the fewest pictures so far (ties: the lower fold); equal counts are
    ordered by a hash of the name, so the deal does not follow the alphabet (owners' names cluster there)."""
    if not 2 <= folds <= len(counts):
        raise ValueError(f"folds must be from 2 to the number of repositories ({len(counts)}), not {folds}")
    order = sorted(counts, key=lambda repo: (-counts[repo], hashlib.md5(repo.encode()).hexdigest()))
    dealt, sizes = [[] for _ in range(folds)], [0] * folds
    for repo in order:
        smallest = sizes.index(min(sizes))
        dealt[smallest].append(repo)
        sizes[smallest] += counts[repo]
    return [sorted(fold) for fold in dealt]


def cases(directory: Path, rows: list[ManifestRow], repos=None) -> list[Case]:
    """The manifest's pictures (of ``repos`` only, when given) as evaluate-real cases."""
    return [Case(directory / row.file, row.label, row.kind) for row in rows if repos is None or row.repo in repos]


def score(evaluation: RealEvaluation) -> dict:
    """evaluate-real's figures; each failure names its file and what was read."""
    return evaluation.as_dict() | {
        "failures": [
            {
                "file": o.case.path.name,
                "label": o.case.label,
                "read": o.text,
                "confidence": round(o.reading.confidence, 4) if o.reading else 0.0,
            }
            for o in evaluation.failures
        ]
    }


def read_all(classifier: Classifier, chosen: list[Case]) -> RealEvaluation:
    return RealEvaluation([read_case(case, classifier) for case in chosen])


def repo_folds(rows: list[ManifestRow], folds: int) -> list[list[str]]:
    """The manifest's repositories in folds (`split_repos`, weighted by their pictures)."""
    return split_repos(dict(Counter(row.repo for row in rows)), folds)


def baseline(model: str, directory: str | None = None, folds: int = 5, per_fold: bool = False) -> dict:
    """A model that never saw the folder's pictures, scored on each fold's and on all of them; or, ``per_fold``,
    the models an earlier run of `run_folds` left in model/fold-K, each scored on its own fold's pictures."""
    directory = resolve_realworld_dir(directory)
    rows = read_manifest(directory)
    results, pooled = [], []
    for index, repos in enumerate(repo_folds(rows, folds)):
        classifier = load_classifier(Path(model) / f"fold-{index}" if per_fold else model)
        evaluation = read_all(classifier, cases(directory, rows, set(repos)))
        pooled += evaluation.outcomes
        results.append({"fold": index, "repositories": repos} | score(evaluation))
    return {"model": model, "folds": results, "pooled": score(RealEvaluation(pooled))}


def run_folds(
    cfg,
    folds: int,
    out_root: Path,
    hook: Callable = lambda p: None,
    calibration_count: int = 1500,
    polish_epochs: int = 0,
    report: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict:
    """Train one model per fold (``cfg`` minus the fold's repositories) into out_root/fold-K, then polish it
    ``polish_epochs`` clean epochs (`POLISH`, as the shipped models were made); score each fold and all pooled.
    Each fold model is calibrated as a shipped one would be, so its confident errors mean what the app's would."""
    from digitlib import data
    from digitlib.training.train import train

    directory = resolve_realworld_dir(cfg.realworld_dir)
    rows = read_manifest(directory)
    realworld = load_realworld(directory)
    mnist = data.load_mnist(cfg.data_dir)
    results, pooled = [], []
    for index, repos in enumerate(repo_folds(rows, folds)):
        out = out_root / f"fold-{index}"
        card = train(replace(cfg), out, hook, mnist, realworld.without(repos))
        if polish_epochs:
            polish = replace(cfg, init_from=str(out), epochs=polish_epochs, **POLISH)
            card = train(polish, out, hook, mnist, realworld.without(repos))
        classifier = load_classifier(out)
        calibrate_model(classifier, calibration_count, cfg.data_dir)
        evaluation = read_all(classifier, cases(directory, rows, set(repos)))
        pooled += evaluation.outcomes
        results.append(
            {
                "fold": index,
                "repositories": repos,
                "mnist_test_accuracy": card["test_accuracy"],
                "temperature": round(classifier.temperature, 4),
                "training_seconds": card["training_seconds"],
            }
            | score(evaluation)
        )
        report(
            f"fold {index}: {len(repos)} repositories, single digits {evaluation.single_accuracy:.2%} of "
            f"{len(evaluation.of_kind('single'))}, confident errors {len(evaluation.confident_errors)}, "
            f"MNIST test {card['test_accuracy']:.2%}"
        )
    summary = {
        "folds": results,
        "pooled": score(RealEvaluation(pooled)),
        "manifest_md5": realworld.manifest_md5,
    }
    (out_root / "folds.json").write_text(json.dumps(summary, indent=2))
    return summary


def format_report(result: dict) -> str:
    """Markdown: one row per fold and one for all folds pooled, with per-class accuracy; the pooled failures."""
    rows = [(f"fold {f['fold']}", f) for f in result["folds"]] + [("pooled", result["pooled"])]
    classes = sorted(rows[-1][1]["per_class_accuracy"])
    lines = [
        "| part | single digits | accuracy | confident errors (>= 90%) | numbers exact | " + " | ".join(classes) + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(classes),
    ]
    for name, r in rows:
        per_class = " | ".join(f"{r['per_class_accuracy'].get(c, float('nan')):.1%}" for c in classes)
        lines.append(
            f"| {name} | {r['single_count']} | {r['single_accuracy']:.2%} | {r['confident_errors']} | "
            f"{r['multi_exact']}/{r['multi_count']} | {per_class} |"
        )
    failures = rows[-1][1]["failures"]
    lines += [
        "",
        "failures: "
        + (
            "; ".join(f"{f['file']} {f['label']}→{f['read'] or 'nothing'} ({f['confidence']:.0%})" for f in failures)
            or "none"
        ),
    ]
    return "\n".join(lines)
