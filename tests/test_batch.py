"""Reading many pictures in worker processes: the same readings as one by one, in the order given, past bad files."""

from __future__ import annotations

import json

import pytest

from digitlib import ModelError, available_models
from digitlib.reading.batch import read_many
from tests.support.digit_pictures import brush_drawing

pytestmark = pytest.mark.skipif(not available_models(), reason="no shipped model in models/ yet")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> list[str]:
    """Drawn digits with a damaged file, an empty one and a missing one among them."""
    folder = tmp_path_factory.mktemp("batch")
    paths = []
    for index, digit in enumerate([1, 4, 5, 7, 1, 4, 5, 7]):
        path = folder / f"{index:02d}-{digit}.png"
        brush_drawing(digit, width=26 + index).save(path)
        paths.append(str(path))
    (folder / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "empty.jpg").write_bytes(b"")
    return (
        paths[:3]
        + [str(folder / "damaged.png")]
        + paths[3:6]
        + [str(folder / "empty.jpg"), str(folder / "missing.png")]
        + paths[6:]
    )


def test_two_workers_give_the_readings_one_gives_in_input_order_with_bad_files_named(pictures):
    alone = list(read_many(pictures, jobs=1))
    together = list(read_many(pictures, jobs=2))
    assert [record["path"] for record in together] == pictures
    assert together == alone
    failed = [record["path"].rsplit("/", 1)[-1] for record in together if "error" in record]
    assert failed == ["damaged.png", "empty.jpg", "missing.png"]
    read = [record["prediction"] for record in together if "error" not in record]
    assert read == list("14571457")


def test_a_missing_model_is_reported_before_any_worker_starts(pictures, tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        next(read_many(pictures, model=tmp_path / "no-model", jobs=2))


def test_predict_streams_json_lines_in_order_on_two_jobs_with_progress_on_stderr(cli, pictures):
    done = cli("predict", "--json", "--jobs", "2", *pictures)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [record["path"] for record in records] == pictures
    assert sum("error" in record for record in records) == 3
    assert f"{len(pictures)}/{len(pictures)}" in done.stderr  # the progress bar reached the end


def test_predict_refuses_a_job_count_below_one(cli, pictures):
    done = cli("predict", "--jobs", "0", pictures[0])
    assert done.returncode == 2 and "--jobs" in done.stderr
