"""What a run tells its visitor at its edges: a Stop that lands after the model was saved, and a status line that
names what the child is doing before training starts."""

from __future__ import annotations

import json
import os
import time

from digitlib.training.jobs import Run


def test_a_stop_after_the_model_was_swapped_in_reports_the_saved_model(tmp_path):
    run = Run("token", "train", tmp_path / "quick-1")
    run.out.mkdir()
    (run.out / "card.json").write_text(json.dumps({"test_accuracy": 0.99}))  # swapped in; "done" not sent yet
    run.stop_requested = True
    run.end(-15, "")
    assert run.state == "finished" and run.card == {"test_accuracy": 0.99}
    assert "nothing was saved" not in run.message


def test_an_older_model_in_the_same_folder_is_not_taken_for_this_runs(tmp_path):
    run = Run("token", "train", tmp_path / "quick-1")
    run.out.mkdir()
    (run.out / "card.json").write_text("{}")
    long_ago = time.time() - 3600
    os.utime(run.out / "card.json", (long_ago, long_ago))
    run.stop_requested = True
    run.end(-15, "")
    assert run.state == "stopped" and run.message.endswith("nothing was saved.")


def test_the_status_says_what_the_child_does_before_training():
    run = Run("token", "finetune", None)
    run.receive({"phase": "evaluate", "message": "measuring the base model before fine-tuning", "at": time.time()})
    assert run.status().startswith("measuring the base model before fine-tuning…")
