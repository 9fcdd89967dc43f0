"""The speed benchmark runs end to end at tiny sizes and reports every figure.

Timing belongs in the benchmark, not here: nothing below asserts how fast anything is, only that
each figure is measured, is a positive number, and reaches the report.
"""

from __future__ import annotations

import json
import math

import pytest

from digitlib.evaluation import bench, bench_report
from digitlib.reading.classifier import DEFAULT_MODEL, available_models
from digitlib.training.config import TrainConfig, from_preset
from digitlib.zoo.registry import PRESETS

LATENCY = {"p50_ms", "p99_ms"}


@pytest.fixture(scope="module")
def quick(cli, mnist) -> dict:
    """One ``bench --quick --json`` run on one shipped model (the structure is the same for every model)."""
    models = available_models()
    if not models:
        pytest.skip("no shipped model in models/ to benchmark")
    model = DEFAULT_MODEL if DEFAULT_MODEL in models else models[0]
    proc = cli("bench", "--quick", "--json", "--models", model)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
class TestQuickRun:
    """Every figure of one quick run (trains tiny models in child processes: a minute or more)."""

    def test_machine_and_load_are_recorded(self, quick):
        machine = quick["machine"]
        assert machine["cpu"] and positive(machine["cores"]) and positive(machine["ram_gib"])
        assert {"python", "numpy", "ai-edge-litert", "tensorflow", "keras"} <= {"python", *machine["versions"]}
        assert len(quick["load_average"]["start"]) == len(quick["load_average"]["end"]) == 3

    def test_single_image_latency_is_split_into_stages(self, quick):
        (model,) = quick["models"]
        assert set(model["single_image"]) == set(bench.INPUTS)
        for label, stages in model["single_image"].items():
            assert set(stages) == {"decode", "preprocess", "inference", "end_to_end"}, label
            for stage, figures in stages.items():
                if stage == "decode" and "array" in label:
                    assert figures is None  # an array has nothing to decode
                    continue
                assert set(figures) == LATENCY and all(positive(v) for v in figures.values()), (label, stage)
                assert figures["p99_ms"] >= figures["p50_ms"]

    def test_batch_throughput_is_compared_with_bare_litert(self, quick):
        batch = quick["models"][0]["batch"]
        assert batch["images"] == bench.QUICK.batch_images
        assert all(positive(batch[k]) for k in ("ours_images_per_s", "bare_litert_images_per_s", "ratio"))
        assert batch["ratio"] == pytest.approx(batch["ours_images_per_s"] / batch["bare_litert_images_per_s"])

    def test_keras_reference_is_measured_in_a_child_process(self, quick):
        keras = quick["models"][0]["keras"]
        assert "error" not in keras, keras
        assert set(keras["predict_single"]) == set(keras["call_single"]) == LATENCY
        rates = ("import_seconds", "predict_batch_images_per_s", "call_batch_images_per_s")
        assert all(positive(keras[k]) for k in rates)

    def test_fresh_process_predicts_without_tensorflow(self, quick):
        first = quick["models"][0]["first_prediction"]
        assert "error" not in first, first
        assert positive(first["median_seconds"]) and positive(first["peak_rss_mb"])
        assert first["tensorflow_imported"] is False

    def test_training_throughput_and_time_to_accuracy(self, quick):
        for arch in bench.QUICK.archs:
            figures = quick["training"][arch]
            assert positive(figures["augmented_images_per_s"]) and positive(figures["plain_images_per_s"]), arch
        tta = quick["time_to_accuracy"]
        assert "error" not in tta, tta
        assert tta["preset"] == "fast" and tta["target"] == bench.TARGET_ACCURACY
        assert len(tta["epochs"]) == dict(bench.QUICK.tta_overrides)["epochs"]
        epoch = tta["epochs"][0]
        assert 0 <= epoch["test_accuracy"] <= 1 and 0 < epoch["training_seconds"] < epoch["process_seconds"]
        assert tta["reached"] == (tta["first_at_target"] is not None)

    def test_report_shows_every_section(self, quick):
        text = bench_report.report(quick)
        for heading in (
            "Machine:",
            "Load average",
            f"### Model `{quick['models'][0]['name']}`",
            "### Training",
            "Time to 99.5%",
            "### Goals",
            "first prediction",
            "bare LiteRT",
            "`model.predict(x)`",
        ):
            assert heading in text, heading
        assert all(label in text for label in bench.INPUTS)


def test_bench_names_a_missing_model_without_a_traceback(cli, tmp_path):
    proc = cli("bench", "--quick", "--skip-training", "--models", str(tmp_path / "nothing-here"))
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_presets_are_overridden_only_by_given_settings():
    cfg = from_preset("fast", epochs=2, batch_size=None)
    assert cfg.arch == "fast" and cfg.epochs == 2 and cfg.batch_size == TrainConfig().batch_size
    assert from_preset("compact", epochs=None, conventions=None) == from_preset("compact")  # None: not given
    for name in PRESETS:
        from_preset(name).validate()
    with pytest.raises(ValueError, match="preset must be one of"):
        from_preset("turbo")


def test_train_cli_rejects_an_unknown_preset(cli):
    proc = cli("train", "--preset", "turbo")
    assert proc.returncode == 2 and "preset must be one of" in proc.stderr and "Traceback" not in proc.stderr
