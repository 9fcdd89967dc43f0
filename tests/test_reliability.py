"""Bad inputs, damaged models and interrupted training: nothing crashes, nothing is lost.

The bad-input corpus is generated here (no committed binaries).  Every kind goes through
``load_classifier().predict``, ``read_number``, the predict CLI and the app's uploader, and must
give the right reading, "no digit", or one clear ImageError message: never a traceback.  Time is
bounded by the pytest-timeout markers, memory by the peak RSS of the CLI reading the whole corpus.
docs/reliability.md holds the table; ``python -m tests.test_reliability`` prints it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlib import DEFAULT_MODEL, ImageError, available_models, load_classifier, read_number
from digitlib.preprocess import MAX_BYTES
from digitlib.reading.classifier import MODELS_DIR
from tests.support.digit_pictures import brush_drawing
from tests.support.model_files import MODEL_DAMAGE, snapshot

REPO = Path(__file__).resolve().parent.parent
MODELS = available_models()
MEMORY_LIMIT_MB = 400  # peak RSS of a CLI process reading the whole corpus, bombs included
pytestmark = pytest.mark.timeout(300)
needs_a_model = pytest.mark.skipif(not MODELS, reason="no shipped model in models/ yet")


# ---------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Read:
    """The digits read, as a string."""

    text: str


@dataclass(frozen=True)
class NoDigit:
    """Nothing that looks like a digit: the UI shows a hint, not a guess."""


@dataclass(frozen=True)
class Refused:
    """An ImageError; as an expected outcome, `message` is a phrase the one-line message must contain."""

    message: str


Outcome = Read | NoDigit | Refused


def agrees(actual: Outcome, expected: Outcome) -> bool:
    if isinstance(expected, Refused):
        return (
            isinstance(actual, Refused)
            and "\n" not in actual.message
            and expected.message.lower() in actual.message.lower()
        )
    return actual == expected


def outcome(read_text: Callable[[], str]) -> Outcome:
    try:
        text = read_text()
    except ImageError as exc:
        return Refused(str(exc))
    return Read(text) if text else NoDigit()


# ---------------------------------------------------------------- the corpus


def encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def drawn(digit: int = 7, mode: str = "RGB") -> Image.Image:
    """A digit drawn with a round brush, black on white, 280x280."""
    return brush_drawing(digit).convert("RGB").convert(mode)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@cache
def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of all-black rows: ~100 kB on disk, width x height pixels once decoded."""
    rows = bytes(1 + (width + 7) // 8) * 1000
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(rows) for _ in range(height // 1000)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


@cache
def huge_jpeg() -> bytes:
    return encoded(drawn(mode="L").resize((10_000, 10_000), Image.Resampling.BILINEAR), "JPEG", quality=75)


def sixteen_bit_png() -> bytes:
    pixels = np.asarray(drawn(mode="L"), np.uint16) * 257
    return encoded(Image.fromarray(pixels), "PNG")


def palette_png_with_transparency() -> bytes:
    """Black strokes over transparent *black*: read right only if the transparency is honoured."""
    strokes = (np.asarray(brush_drawing(7, transparent=True))[..., 3] > 127).astype(np.uint8)
    image = Image.frombytes("P", (strokes.shape[1], strokes.shape[0]), strokes.tobytes())
    image.putpalette([0, 0, 0, 0, 0, 0])
    return encoded(image, "PNG", transparency=0)


def several_frames(image_format: str) -> bytes:
    """A 7 then a 1: the first frame or page is the one read."""
    return encoded(drawn(mode="L"), image_format, save_all=True, append_images=[drawn(1, mode="L")])


ORIENTATION = 0x0112


def exif_rotated() -> bytes:
    """A photo stored sideways with the EXIF tag (6: rotate 90 degrees clockwise) that turns it upright."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    return encoded(drawn().transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=exif.tobytes())


def noise() -> bytes:
    return encoded(Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), np.uint8)), "PNG")


def plain(colour, size=(280, 280), mode="RGB") -> Callable[[], bytes]:
    return lambda: encoded(Image.new(mode, size, colour), "PNG")


MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="280" height="280">'
    b'<path d="M70 50 H210 L120 250" stroke="black" stroke-width="30" fill="none"/></svg>\n'
)


@dataclass(frozen=True)
class Kind:
    filename: str
    make: Callable[[], bytes]
    expected: Outcome


SEVEN = Read("7")
KINDS: dict[str, Kind] = {
    "0-byte file": Kind("empty.png", lambda: b"", Refused("empty")),
    "text renamed .png": Kind(
        "notes.png", lambda: b"shopping list: eggs, milk\n" * 20, Refused("not a readable image")
    ),
    "PDF renamed .png": Kind("scan.png", lambda: MINIMAL_PDF, Refused("PDF is not supported")),
    "SVG": Kind("seven.svg", lambda: SVG, Refused("SVG is not supported: export it as PNG")),
    "truncated PNG": Kind("cut.png", lambda: encoded(drawn(), "PNG")[:1500], Refused("not a readable image")),
    "truncated JPEG": Kind("cut.jpg", lambda: encoded(drawn(), "JPEG")[:1500], Refused("not a readable image")),
    "file larger than MAX_BYTES": Kind(
        "padded.png", lambda: encoded(drawn(), "PNG").ljust(MAX_BYTES + 1, b"\0"), Refused("too large")
    ),
    "30000x30000 PNG (decompression bomb)": Kind("bomb.png", lambda: png_bomb(30_000, 30_000), Refused("too large")),
    "12000x12000 PNG": Kind("big.png", lambda: png_bomb(12_000, 12_000), Refused("too large")),
    "10000x10000 JPEG": Kind("huge.jpg", huge_jpeg, SEVEN),
    "1x1 image": Kind("dot.png", plain("black", (1, 1)), NoDigit()),
    "3x200 image": Kind("sliver.png", plain("white", (3, 200)), NoDigit()),
    "16-bit greyscale PNG": Kind("deep.png", sixteen_bit_png, SEVEN),
    "CMYK JPEG": Kind("print.jpg", lambda: encoded(drawn(mode="CMYK"), "JPEG"), SEVEN),
    "palette PNG with transparency": Kind("palette.png", palette_png_with_transparency, SEVEN),
    "fully transparent PNG": Kind("clear.png", plain((0, 0, 0, 0), mode="RGBA"), NoDigit()),
    "animated GIF (first frame)": Kind("anim.gif", lambda: several_frames("GIF"), SEVEN),
    "multi-page TIFF (first page)": Kind("pages.tif", lambda: several_frames("TIFF"), SEVEN),
    "WebP": Kind("seven.webp", lambda: encoded(drawn(), "WEBP", quality=90), SEVEN),
    "BMP": Kind("seven.bmp", lambda: encoded(drawn(), "BMP"), SEVEN),
    "EXIF-rotated photo": Kind("sideways.jpg", exif_rotated, SEVEN),
    "all white": Kind("white.png", plain("white"), NoDigit()),
    "all black": Kind("black.png", plain("black"), NoDigit()),
    "pure noise": Kind("noise.png", noise, NoDigit()),
}

# Arrays and objects only the Python API can be given.
NOT_IMAGES: dict[str, tuple[object, str]] = {
    "NaN pixels": (np.full((28, 28), np.nan), "NaN"),
    "infinite pixels": (np.where(np.eye(28) > 0, np.inf, 0.0), "infinite"),
    "1-D array": (np.zeros(784), "not an image"),
    "batch of images (4-D)": (np.zeros((2, 28, 28, 1)), "not an image"),
    "5 channels": (np.zeros((28, 28, 5), np.uint8), "not an image"),
    "no pixels (0x28)": (np.zeros((0, 28)), "no pixels"),
    "complex numbers": (np.zeros((28, 28), np.complex64), "dtype"),
    "strings": (np.full((28, 28), "ink"), "dtype"),
    "Python objects": (np.full((28, 28), None, dtype=object), "dtype"),
    "30000x30000 array (a broadcast view)": (np.broadcast_to(np.uint8(0), (30_000, 30_000)), "too large"),
    "None": (None, "not an image"),
    "a number": (42, "not an image"),
    "missing file": ("no/such/picture.png", "not found"),
}


@pytest.fixture(scope="module", params=MODELS or [pytest.param(None, marks=needs_a_model)])
def classifier(request):
    return load_classifier(request.param)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    """Every kind written to a file, as a user would upload it."""
    directory = tmp_path_factory.mktemp("corpus")
    for kind in KINDS.values():
        (directory / kind.filename).write_bytes(kind.make())
    return directory


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", KINDS)
def test_predict_gives_a_reading_or_one_clear_message(classifier, kind):
    actual = outcome(lambda: read_number(KINDS[kind].make(), classifier).text)
    assert agrees(actual, KINDS[kind].expected), actual


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", KINDS)
def test_read_number_gives_a_reading_or_one_clear_message(classifier, corpus_dir, kind):
    path = corpus_dir / KINDS[kind].filename
    actual = outcome(lambda: read_number(path, classifier).text)
    assert agrees(actual, KINDS[kind].expected), actual


@pytest.mark.parametrize("kind", NOT_IMAGES)
def test_what_is_not_an_image_is_refused_with_a_reason(classifier, kind):
    source, reason = NOT_IMAGES[kind]
    for actual in (
        outcome(lambda: read_number(source, classifier).text),
        outcome(lambda: read_number(source, classifier).text),
    ):
        assert agrees(actual, Refused(reason)), actual


def test_the_exif_tag_is_what_turns_the_photo_upright(classifier):
    """Without its Orientation tag the stored picture is a sideways 7, which must not read as a sure 7."""
    sideways = read_number(np.asarray(Image.open(io.BytesIO(exif_rotated()))), classifier)
    assert sideways.text != "7" or sideways.low_confidence
    upright = read_number(exif_rotated(), classifier)
    assert upright.text == "7" and not upright.low_confidence


# ---------------------------------------------------------------- the predict CLI


@dataclass
class CliRun:
    records: dict[str, dict]  # file name -> its JSON line
    peak_rss_mb: float
    stderr: str


# The child writes its own high-water mark (VmHWM) to the file named first: wait4's ru_maxrss would
# also count the pages of this TensorFlow-laden pytest process that the child had before its exec.
PEAK_REPORTING_CLI = """import atexit, runpy, sys
peak_file = sys.argv.pop(1)
atexit.register(lambda: open(peak_file, "w").write(
    dict(line.split(":", 1) for line in open("/proc/self/status"))["VmHWM"].split()[0]))
sys.argv = ["digitlib", *sys.argv[1:]]
runpy.run_module("digitlib", run_name="__main__", alter_sys=True)
"""


def run_measured(cli_args: list, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run `python -m digitlib CLI_ARGS` to completion; also its peak resident memory in MB."""
    with tempfile.NamedTemporaryFile("r") as peak:
        done = subprocess.run(
            [sys.executable, "-c", PEAK_REPORTING_CLI, peak.name, *map(str, cli_args)],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        kilobytes = peak.read().strip()
    return done, int(kilobytes) / 1024 if kilobytes else float("inf")


@pytest.fixture(scope="module")
def cli_run(classifier, corpus_dir) -> CliRun:
    """`python -m digitlib predict --json` over the whole corpus in one process, as a user would run it."""
    paths = [corpus_dir / kind.filename for kind in KINDS.values()]
    done, peak = run_measured(["predict", "--json", "--model", classifier.directory, *paths])
    assert done.returncode == 0, done.stderr
    records = {Path(record["path"]).name: record for record in map(json.loads, done.stdout.splitlines())}
    return CliRun(records, peak, done.stderr)


def cli_outcome(record: dict) -> Outcome:
    if "error" in record:
        return Refused(record["error"])
    return Read(record["prediction"]) if record["prediction"] else NoDigit()


@pytest.mark.parametrize("kind", KINDS)
def test_predict_cli_gives_each_file_its_outcome(cli_run, kind):
    actual = cli_outcome(cli_run.records[KINDS[kind].filename])
    assert agrees(actual, KINDS[kind].expected), actual


def test_predict_cli_reads_the_whole_corpus_in_bounded_memory_without_a_traceback(cli_run):
    assert len(cli_run.records) == len(KINDS)
    assert "Traceback" not in cli_run.stderr
    assert cli_run.peak_rss_mb < MEMORY_LIMIT_MB, f"peak RSS {cli_run.peak_rss_mb:.0f} MB"


# ---------------------------------------------------------------- the app's uploader


def app_test(patch: pytest.MonkeyPatch, tmp: Path):
    """The app (AppTest) run from the repository, with its writable places in tmp."""
    from streamlit.testing.v1 import AppTest

    patch.chdir(REPO)
    patch.setenv("DIGITLIB_TRAINED_MODELS_DIR", str(tmp / "trained"))
    patch.setenv("DIGITLIB_STORE", str(tmp / "corrections.sqlite3"))
    return AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=240)


def upload(at, files: list[tuple[str, bytes]]):
    at.session_state["page"] = "Upload"
    at.run()
    return at.file_uploader[0].set_value([(name, data, "application/octet-stream") for name, data in files]).run()


def uploaded_name(kind: Kind, allowed: list[str]) -> str:
    """The uploader refuses other extensions itself (as a browser does), so such a file goes in renamed .png."""
    return kind.filename if Path(kind.filename).suffix in allowed else kind.filename + ".png"


@pytest.fixture(scope="module")
def app_with_corpus(corpus_dir, tmp_path_factory):
    """What the Upload tab showed for every corpus file, uploaded in batches of the most one batch may hold (the
    shipped default model, or the first one); and whether any run raised."""
    from digitlib.app.access import MAX_PICTURES_PER_BATCH

    if not MODELS:
        pytest.skip("no shipped model in models/ yet")
    with pytest.MonkeyPatch.context() as patch:
        at = app_test(patch, tmp_path_factory.mktemp("app")).run()
        at.session_state["page"] = "Upload"
        allowed = list(at.run().file_uploader[0].proto.type)
        files = [(uploaded_name(kind, allowed), (corpus_dir / kind.filename).read_bytes()) for kind in KINDS.values()]
        outcomes, exceptions = {}, []
        for start in range(0, len(files), MAX_PICTURES_PER_BATCH):
            batch = files[start : start + MAX_PICTURES_PER_BATCH]
            at = upload(at, batch)
            exceptions += list(at.exception)
            outcomes |= app_outcomes(at, [name for name, _ in batch])
        return outcomes, exceptions, allowed


def app_outcomes(at, names: list[str]) -> dict[str, Outcome]:
    """What the Upload tab shows per file: its error, its "no digit" warning, or its "Number read" (in file order)."""
    shown: dict[str, Outcome] = {}
    for element, seen in ((at.error, Refused), (at.warning, lambda message: NoDigit())):
        for message in (str(e.value) for e in element):
            name, _, rest = message.partition(": ")
            if name in names:
                shown[name] = seen(rest)
    readings = iter(metric.value for metric in at.metric if metric.label == "Number read")
    return shown | {name: Read(next(readings, "(nothing shown)")) for name in names if name not in shown}


def test_app_uploader_survives_the_whole_corpus(app_with_corpus):
    _, exceptions, _ = app_with_corpus
    assert not exceptions, exceptions


@pytest.mark.parametrize("kind", KINDS)
def test_app_uploader_gives_each_file_its_outcome(app_with_corpus, kind):
    outcomes, _, allowed = app_with_corpus
    actual = outcomes[uploaded_name(KINDS[kind], allowed)]
    assert agrees(actual, KINDS[kind].expected), actual


# ---------------------------------------------------------------- damaged model files


@pytest.fixture(params=MODEL_DAMAGE.values(), ids=MODEL_DAMAGE.keys())
def damaged_models(request, tmp_path) -> tuple[Path, Path]:
    """A models folder whose default model is damaged, beside a good spare; returns (folder, damaged file)."""
    if not MODELS:
        pytest.skip("no shipped model in models/ yet")
    file_name, damage = request.param
    models = tmp_path / "models"
    for name in (DEFAULT_MODEL, "spare"):
        shutil.copytree(MODELS_DIR / MODELS[0], models / name, ignore=shutil.ignore_patterns("*.keras", "*.png"))
    damage(models / DEFAULT_MODEL / file_name)
    return models, models / DEFAULT_MODEL / file_name


def test_cli_names_the_damaged_model_file_and_what_to_do(damaged_models, tmp_path):
    models, damaged = damaged_models
    picture = tmp_path / "seven.png"
    picture.write_bytes(encoded(drawn(), "PNG"))
    done, _ = run_measured(["predict", picture], env={"DIGITLIB_MODELS_DIR": str(models)})
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert last.startswith("error: ") and str(damaged) in last and "python -m digitlib train" in last, last


def test_app_starts_says_what_is_wrong_and_the_spare_model_still_reads(damaged_models, tmp_path):
    import digitlib.reading.classifier

    models, damaged = damaged_models
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIGITLIB_MODELS_DIR", str(models))
        patch.setattr(digitlib.reading.classifier, "MODELS_DIR", models)  # already imported: the variable was read then
        at = app_test(patch, tmp_path).run()
        assert not at.exception, at.exception
        sidebar = " ".join(str(message.value) for message in [*at.sidebar.error, *at.sidebar.warning])
        # the file is named without the server's folders above models/ (visitors never see server paths)
        shown = str(damaged.relative_to(models.parent))
        assert (shown in sidebar and str(models.parent) not in sidebar) or f"'{DEFAULT_MODEL}' is not in" in sidebar, (
            sidebar
        )
        picker = at.sidebar.selectbox[0]
        picker.select(next(option for option in picker.options if option.startswith("spare"))).run()
        at = upload(at, [("seven.png", encoded(drawn(), "PNG"))])
        assert not at.exception, at.exception
        assert [metric.value for metric in at.metric if metric.label == "Number read"] == ["7"]


# ---------------------------------------------------------------- training: nonsense settings, kills, races


NONSENSE_SETTINGS = {
    "batch size 0": (["--batch-size", "0"], "batch size"),
    "negative training-set size": (["--train-size", "-100"], "training-set size"),
    "negative learning rate": (["--lr", "-0.1"], "learning rate"),
    "validation split of 70%": (["--val-split", "0.7"], "validation fraction"),
    "unknown preset": (["--preset", "huge"], "preset"),
    "epochs not a number": (["--epochs", "ten"], "invalid int value"),
}


@pytest.mark.parametrize("settings, named", NONSENSE_SETTINGS.values(), ids=NONSENSE_SETTINGS.keys())
def test_nonsense_training_settings_are_refused_before_anything_is_written(settings, named, tmp_path):
    out = tmp_path / "never-written"
    done, _ = run_measured(["train", *settings, "--out", out])
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert named in done.stderr.strip().splitlines()[-1]
    assert not out.exists()


TINY_TRAINING = ["--preset", "baseline", "--train-size", "300", "--batch-size", "32", "--no-augment"]


def start_training(out: Path, log: Path, *settings: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "digitlib", "train", *TINY_TRAINING, *settings, "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        stdin=subprocess.DEVNULL,
    )


def when_fitting(out: Path, log: Path) -> bool:
    return "epoch 2/" in log.read_text()


def when_saving(out: Path, log: Path) -> bool:
    return any(out.parent.glob(f".{out.name}.tmp-*"))


KILL_POINTS = {"while fitting": (when_fitting, "200"), "while saving": (when_saving, "1")}


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    while not condition():
        assert process.poll() is None, f"training ended before {what}"
        time.sleep(0.02)


def leftovers(out: Path) -> list[str]:
    """Entries beside the model directory other than it and the swap lock."""
    return sorted(p.name for p in out.parent.iterdir() if p.name not in (out.name, f".{out.name}.lock"))


@pytest.mark.slow
@pytest.mark.parametrize("trigger, epochs", KILL_POINTS.values(), ids=KILL_POINTS.keys())
def test_a_killed_run_leaves_the_model_intact_and_the_next_run_cleans_up(trigger, epochs, tmp_path):
    if not MODELS:
        pytest.skip("no shipped model in models/ yet")
    out = tmp_path / "models" / "active"
    shutil.copytree(MODELS_DIR / MODELS[0], out)
    before = snapshot(out)
    log = tmp_path / "killed.log"
    run = start_training(out, log, "--epochs", epochs, "--seed", "1")
    wait_for(lambda: trigger(out, log), run, trigger.__name__.replace("_", " "))
    os.kill(run.pid, signal.SIGKILL)
    run.wait()

    assert snapshot(out) == before
    assert all(".tmp-" in name for name in leftovers(out)), leftovers(out)  # a killed run can't clean up...
    again = start_training(out, tmp_path / "next.log", "--epochs", "1", "--seed", "2")
    assert again.wait() == 0, (tmp_path / "next.log").read_text()
    assert leftovers(out) == []  # ...the next run does
    card = json.loads((out / "card.json").read_text())
    assert card["config"]["seed"] == 2
    load_classifier(out)


@pytest.mark.slow
def test_two_runs_into_one_folder_at_once_leave_one_complete_model(tmp_path, mnist):
    out = tmp_path / "models" / "shared"
    runs = [start_training(out, tmp_path / f"run-{seed}.log", "--epochs", "1", "--seed", str(seed)) for seed in (1, 2)]
    assert [run.wait() for run in runs] == [0, 0], [(tmp_path / f"run-{s}.log").read_text() for s in (1, 2)]
    assert leftovers(out) == []
    card = json.loads((out / "card.json").read_text())
    assert card["config"]["seed"] in (1, 2)
    _, (x_test, y_test) = mnist
    accuracy = float((load_classifier(out).predict_batch(x_test).argmax(axis=1) == y_test).mean())
    assert accuracy == pytest.approx(card["test_accuracy"], abs=1e-6)  # the model and its card belong together


# ---------------------------------------------------------------- the table in docs/reliability.md


def corpus_table(model: str | None = None) -> str:
    """The corpus as a Markdown table, with what `predict` gives for each kind now."""
    classifier = load_classifier(model)

    def reading(source) -> str:
        return describe(outcome(lambda: read_number(source, classifier).text))

    rows = [f"| {name} | `{kind.filename}` | {reading(kind.make())} |" for name, kind in KINDS.items()]
    rows += [f"| API: {name} | — | {reading(source)} |" for name, (source, _) in NOT_IMAGES.items()]
    return "\n".join(["| input kind | file | outcome |", "|---|---|---|", *rows])


def describe(result: Outcome) -> str:
    if isinstance(result, Read):
        return f"reads **{result.text}**"
    return "no digit" if isinstance(result, NoDigit) else f"refused: “{result.message}”"


if __name__ == "__main__":
    print(corpus_table(sys.argv[1] if len(sys.argv) > 1 else None))
