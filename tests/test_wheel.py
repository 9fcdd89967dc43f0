"""`pip install .` as a library user gets it: a wheel with the shipped models inside, installed into a fresh
virtualenv with only the reading dependencies, reads pictures from any folder; and the pins agree with pyproject.

The wheel's dependencies come from the package index (pip's cache makes a second run quick), or only from the
folder of wheels in $DIGITLIB_WHEELHOUSE when it is set (a machine without the index).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from digitlib import available_models
from tests.support.digit_pictures import brush_drawing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WHEELHOUSE_VAR = "DIGITLIB_WHEELHOUSE"
HEAVY = ["tensorflow", "keras", "streamlit", "sqlalchemy", "matplotlib", "psycopg"]


def run(*command, cwd: Path, env: dict | None = None) -> str:
    env = os.environ | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"} | (env or {})
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=800,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(repo, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel built from this repository and its light dependencies: its python."""
    if not available_models():
        pytest.skip("no shipped model in models/ yet")
    tmp = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", tmp / "dist", repo, cwd=tmp)
    wheel = next((tmp / "dist").glob("digit_classifier-*.whl"))
    run(sys.executable, "-m", "venv", tmp / "venv", cwd=tmp)
    python = tmp / "venv" / "bin" / "python"
    source = ["--no-index", "--find-links", os.environ[WHEELHOUSE_VAR]] if os.environ.get(WHEELHOUSE_VAR) else []
    run(python, "-m", "pip", "install", "--quiet", *source, wheel, cwd=tmp)
    return python


def test_the_installed_wheel_reads_pictures_with_its_own_models_and_no_heavy_dependency(installed, tmp_path):
    brush_drawing(7).save(tmp_path / "seven.png")
    brush_drawing(4).save(tmp_path / "four.png")
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    script = (
        "import importlib.util, json, digitlib\n"
        "from digitlib import available_models, load_classifier, read_number\n"
        "from digitlib.reading.classifier import MODELS_DIR\n"
        f"heavy = [name for name in {HEAVY!r} if importlib.util.find_spec(name)]\n"
        "reading = read_number('seven.png')\n"
        "print(json.dumps({'text': reading.text, 'models': available_models(), 'models_dir': str(MODELS_DIR),\n"
        "                  'package': digitlib.__file__, 'heavy': heavy,\n"
        "                  'same': load_classifier('compact') is load_classifier('compact')}))\n"
    )
    found = json.loads(run(installed, "-c", script, cwd=tmp_path))
    assert found["text"] == "7"
    assert found["models"] == available_models()
    site = Path(found["package"]).parent
    assert Path(found["models_dir"]) == site / "models"  # the wheel's own copy, not this repository's
    assert not Path(found["models_dir"]).is_relative_to(Path(__file__).resolve().parent.parent)
    assert found["heavy"] == []
    assert found["same"]
    assert not list(Path(found["models_dir"]).glob("*/*.keras"))  # training files stay out of the wheel

    lines = run(
        installed, "-m", "digitlib", "predict", "--json", "seven.png", "broken.png", "four.png", cwd=tmp_path
    ).splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["path"] for record in records] == ["seven.png", "broken.png", "four.png"]
    assert [record.get("prediction") for record in records] == ["7", None, "4"]
    assert "error" in records[1]


def test_a_models_directory_setting_overrides_the_wheels_models(installed, tmp_path):
    (tmp_path / "empty").mkdir()
    script = "from digitlib import available_models; print(available_models())"
    assert run(installed, "-c", script, cwd=tmp_path).strip() == str(available_models())
    assert (
        run(installed, "-c", script, cwd=tmp_path, env={"DIGITLIB_MODELS_DIR": str(tmp_path / "empty")}).strip() == "[]"
    )


def test_every_dependency_and_extra_is_pinned_in_the_requirements_within_its_range(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    pins = {}
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (repo / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                requirement = Requirement(line)
                pins[canonical(requirement.name)] = next(iter(requirement.specifier)).version
    wanted = project["dependencies"] + [item for extra in project["optional-dependencies"].values() for item in extra]
    for line in wanted:
        requirement = Requirement(line)
        assert canonical(requirement.name) in pins, f"{requirement.name} is not pinned in requirements*.txt"
        assert requirement.specifier.contains(pins[canonical(requirement.name)]), (requirement, pins[requirement.name])


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
