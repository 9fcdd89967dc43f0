"""TensorFlow's start-up notices are held back from stderr; everything else written meanwhile gets through."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from digitlib.training.tensorflow_startup import stderr_without_notices

# What `import tensorflow` 2.21 writes on an Intel Xeon (copied from a real run), then what must survive.
NOTICES = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795990611.840736    3419 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders. "
    "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
    "W0000 00:00:1795990612.000001    3419 cpu_feature_guard.cc:227] a warning about the CPU\n"
)
REAL_ERRORS = (
    "E0000 00:00:1795990612.500000    3419 op_kernel.cc:1830] OP_REQUIRES failed: something really broke\n"
    "F0000 00:00:1795990612.600000    3419 logging.cc:1] Check failed: a fatal error\n"
    "ImportError: a Python error mentioning I0000 00:00:1.0 1 x.cc:1] in the middle of its line\n"
)


def test_notices_written_by_native_code_are_dropped_and_errors_kept(capfd):
    with stderr_without_notices():
        os.write(2, (NOTICES + REAL_ERRORS).encode())  # file descriptor 2, as TensorFlow's C++ writes it
    assert capfd.readouterr().err == REAL_ERRORS


def test_python_writes_are_kept_in_order(capfd):
    with stderr_without_notices():
        print("a Python warning", file=sys.stderr)
        os.write(2, NOTICES.encode())
        print("and after it", file=sys.stderr)
    assert capfd.readouterr().err == "a Python warning\nand after it\n"


def test_stderr_is_restored_even_when_the_import_fails(capfd):
    try:
        with stderr_without_notices():
            os.write(2, (NOTICES + "E0000 00:00:1.0 1 loader.cc:1] cannot load the library\n").encode())
            raise ImportError("no TensorFlow here")
    except ImportError:
        pass
    os.write(2, b"written afterwards\n")
    assert capfd.readouterr().err == "E0000 00:00:1.0 1 loader.cc:1] cannot load the library\nwritten afterwards\n"


@pytest.mark.slow
def test_training_modules_import_tensorflow_silently(repo):
    """A real import in a fresh process, Keras first as the training code does it: nothing on stderr.

    (TF_CPP_MIN_LOG_LEVEL=0 asks for every notice, so the user's own setting is left out.)"""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", "import digitlib.training.train, keras; keras.ops.ones(1)"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
