"""Keep TensorFlow's start-up notices off stderr, on every CPU, while its real errors still get through.

Why this is needed: on CPUs where TensorFlow turns oneDNN's custom operations on by default (this Intel
Xeon with AVX-512 VNNI, not the AMD EPYC machines the CI ran on), every ``import tensorflow`` 2.21 writes,
twice, through absl before absl's logging is initialised::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1795990611.840736    3419 port.cc:153] oneDNN custom operations are on. ...

into the CLI's terminal, the tests' stderr checks and the app's log.  No setting silences them:
``TF_CPP_MIN_LOG_LEVEL`` (even 3), ``GLOG_minloglevel`` and ``ABSL_MIN_LOG_LEVEL`` were tried here, and
``TF_ENABLE_ONEDNN_OPTS=0`` would hide the notice only by changing the arithmetic.  So the import runs with
file descriptor 2 pointed at a temporary file; afterwards the absl pre-init warning and absl-format
INFO/WARNING lines are dropped and everything else (ERROR and FATAL lines, Python warnings, other
threads' output) is written to the real stderr.  ``TF_CPP_MIN_LOG_LEVEL=2`` (unless the user chose a
level) quiets TensorFlow's own INFO/WARNING logging after the import.  A user who sets
``TF_CPP_MIN_LOG_LEVEL=0`` sees everything, unfiltered: the way to debug an import that kills the process
(its last words would otherwise die with the temporary file).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# absl's pre-init warning, and its INFO/WARNING line prefix: severity, date, time, thread id, file:line]
STARTUP_NOTICE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] "
)


@contextmanager
def stderr_without_notices() -> Iterator[None]:
    """Hold back what is written to file descriptor 2 (C++ included), then pass on all but start-up notices."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a detached daemon): nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not STARTUP_NOTICE.match(line)))
            sys.stderr.flush()


class QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual but executes its package under ``stderr_without_notices``.

    An import hook rather than a function to call: TensorFlow is first imported from many places
    (``import keras``, the augmentation module, Keras' dataset download), and each must stay quiet.
    """

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            loader, execute = spec.loader, spec.loader.exec_module

            def exec_quietly(module) -> None:
                # Done once: TensorFlow is imported once per process (a mere find_spec to see whether it is
                # installed must not use the hook up)
                if self in sys.meta_path:
                    sys.meta_path.remove(self)
                del loader.exec_module  # back to the class's method
                with stderr_without_notices():
                    execute(module)

            loader.exec_module = exec_quietly
        return spec


def quiet_tensorflow_startup() -> None:
    """Make this process's first ``import tensorflow`` (direct or via Keras) silent about its start-up.

    Cheap and idempotent: call it before anything that may import TensorFlow; it imports nothing itself.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0" or "tensorflow" in sys.modules:
        return
    if not any(isinstance(finder, QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlowImport())
