"""The inference API: every input kind, batches, thread safety, no TensorFlow, and clear errors for bad models."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from digitlib import DEFAULT_MODEL, ModelError, available_models, load_classifier, read_number
from tests.support.model_files import MODEL_DAMAGE

# Each input kind turns a 28x28 uint8 digit (white ink on black) into what a caller might pass to predict().
INPUT_KINDS = {
    "PIL grey": lambda d, tmp: Image.fromarray(d),
    "PIL RGB": lambda d, tmp: Image.fromarray(d).convert("RGB"),
    "HxW uint8": lambda d, tmp: d,
    "HxW float64": lambda d, tmp: d / 255.0,
    "HxW float32": lambda d, tmp: (d / 255.0).astype(np.float32),
    "HxWx3 uint8": lambda d, tmp: np.stack([d] * 3, axis=-1),
    "HxWx3 float": lambda d, tmp: np.stack([d] * 3, axis=-1) / 255.0,
    "HxWx4 uint8 opaque": lambda d, tmp: np.dstack([d, d, d, np.full_like(d, 255)]),
    "HxWx4 uint8 canvas strokes": lambda d, tmp: np.dstack([np.zeros_like(d)] * 3 + [d]),
    "HxWx4 float": lambda d, tmp: np.dstack([d, d, d, np.full_like(d, 255)]) / 255.0,
    "dark ink on white paper": lambda d, tmp: Image.fromarray(255 - d),
    "path str": lambda d, tmp: str(save_png(d, tmp / "digit.png")),
    "Path": lambda d, tmp: save_png(d, tmp / "digit.png"),
    "PNG bytes": lambda d, tmp: save_png(d, io.BytesIO()).getvalue(),
}


def save_png(digit: np.ndarray, target):
    Image.fromarray(digit).save(target, format="PNG")
    return target


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_predict_reads_every_input_kind(kind, tiny_classifier, sure_digits, tmp_path):
    for digit_image, label in sure_digits:
        reference = read_number(Image.fromarray(digit_image), tiny_classifier)
        result = read_number(INPUT_KINDS[kind](digit_image, tmp_path), tiny_classifier)
        assert result.digit == label
        assert isinstance(result.digit, int) and isinstance(result.confidence, float)
        assert result.probabilities.shape == (10,) and result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
        assert result.confidence == pytest.approx(result.probabilities.max()) and 0 <= result.confidence <= 1
        assert result.image.shape == (28, 28) and 0 <= result.image.min() and result.image.max() <= 1
        np.testing.assert_allclose(result.image, reference.image, atol=0.02, err_msg=f"{kind}, digit {label}")


def test_top3_lists_the_likeliest_digits_first(tiny_classifier, sure_digits):
    digit_image, label = sure_digits[0]
    result = read_number(digit_image, tiny_classifier)
    top3 = result.top3
    assert top3[0] == (label, pytest.approx(result.confidence))
    assert [p for _, p in top3] == sorted((p for _, p in top3), reverse=True) and len({d for d, _ in top3}) == 3


@pytest.mark.parametrize("bad_input", [b"not an image", "no/such/file.png"], ids=["junk bytes", "missing path"])
def test_unreadable_input_is_an_image_error(tiny_classifier, bad_input):
    from digitlib import ImageError

    with pytest.raises(ImageError):
        read_number(bad_input, tiny_classifier)


@pytest.mark.parametrize("count", [1, 7, 300])
def test_predict_batch_gives_one_distribution_per_image(tiny_classifier, mnist, count):
    _, (x_test, _) = mnist
    probabilities = tiny_classifier.predict_batch(x_test[:count])
    assert probabilities.shape == (count, 10)
    assert probabilities.min() >= 0
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_batches_agree_with_single_predictions(tiny_classifier, mnist):
    """Chunking and padding inside predict_batch must not change any row (300 spans two chunks)."""
    _, (x_test, _) = mnist
    batch = tiny_classifier.predict_batch(x_test[:300])
    for i in (0, 1, 255, 256, 299):
        np.testing.assert_allclose(batch[i], tiny_classifier.predict_batch(x_test[i : i + 1])[0], atol=1e-5)


@pytest.mark.parametrize(
    "convert",
    [
        lambda x: x / 255.0,
        lambda x: (x / 255.0).astype(np.float32),
        lambda x: x.astype(np.int64),
        lambda x: x[..., None],
    ],
    ids=["float64 in [0,1]", "float32 in [0,1]", "int64 pixels", "(N, 28, 28, 1)"],
)
def test_predict_batch_accepts_equivalent_encodings(tiny_classifier, mnist, convert):
    _, (x_test, _) = mnist
    images = x_test[:20]
    np.testing.assert_allclose(
        tiny_classifier.predict_batch(convert(images)), tiny_classifier.predict_batch(images), atol=1e-5
    )


def test_predict_batch_reads_sure_digits(tiny_classifier, sure_digits):
    images = np.stack([image for image, _ in sure_digits])
    assert tiny_classifier.predict_batch(images).argmax(axis=1).tolist() == [label for _, label in sure_digits]


def test_predict_batch_of_nothing_is_empty(tiny_classifier):
    assert tiny_classifier.predict_batch(np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)


@pytest.mark.parametrize("shape", [(28, 28), (5, 32, 32), (5, 28, 28, 3)])
def test_predict_batch_rejects_other_shapes(tiny_classifier, shape):
    with pytest.raises(ValueError, match="28, 28"):
        tiny_classifier.predict_batch(np.zeros(shape, np.uint8))


def test_concurrent_predictions_match_serial_ones(tiny_classifier, mnist):
    """The app serves many sessions from one cached classifier, so calls from several threads must not mix."""
    _, (x_test, _) = mnist
    images = list(x_test[:40])
    serial = [read_number(image, tiny_classifier).probabilities for image in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda image: read_number(image, tiny_classifier).probabilities, images))
    np.testing.assert_allclose(np.array(parallel), np.array(serial), atol=1e-6)


def test_prediction_never_imports_tensorflow(tiny_run, sure_digits, tmp_path, repo):
    """`read_number(..., load_classifier())` on the default model stays on LiteRT: TensorFlow/Keras never load."""
    models = tmp_path / "models"
    shutil.copytree(tiny_run.directory, models / DEFAULT_MODEL)
    digit_image, label = sure_digits[3]
    image_path = save_png(digit_image, tmp_path / "digit.png")
    script = (
        "import sys\n"
        "from digitlib import load_classifier, read_number\n"
        "result = read_number(sys.argv[1], load_classifier())\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
        "print(result.digit, heavy)\n"
    )
    env = {"DIGITLIB_MODELS_DIR": str(models), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(image_path)], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{label} []"


# --- missing or damaged models: each case damages a copy of a good model and names the file the error must give.


@pytest.mark.parametrize("file_name, damage", MODEL_DAMAGE.values(), ids=MODEL_DAMAGE.keys())
def test_damaged_model_is_a_model_error_naming_the_file(tiny_run, tmp_path, file_name, damage):
    model = tmp_path / "damaged"
    shutil.copytree(tiny_run.directory, model)
    damage(model / file_name)
    with pytest.raises(ModelError, match=str(model / file_name)):
        load_classifier(model)


def test_unknown_model_name_is_a_model_error():
    with pytest.raises(ModelError, match=r"no-such-model/model\.tflite"):
        load_classifier("no-such-model")


def test_available_models_lists_only_complete_visible_models(tiny_run, tmp_path):
    shutil.copytree(tiny_run.directory, tmp_path / "good")
    shutil.copytree(tiny_run.directory, tmp_path / ".good.tmp-123-abc")  # a staging directory
    (tmp_path / "empty").mkdir()
    assert available_models(tmp_path) == ["good"]
