"""Model directories replaced atomically: a new model is written into a temporary sibling and swapped into place
only when complete, under a lock, so an interrupted or concurrent run never leaves a broken model where the old one
stood, and what a killed run left behind is cleaned up (or put back) by the next."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def output_lock(out: Path):
    """Serialise the final swap of runs that target the same output directory."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def atomic_replace_dir(staging: Path, out: Path) -> None:
    """Move a complete staging directory to ``out``, keeping the old one until the swap is done."""
    with output_lock(out):
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / out.name)
        try:
            os.rename(staging, out)
        except BaseException:
            if old is not None:  # put the previous model back where it stood
                os.rename(old / out.name, out)
                old.rmdir()
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def remove_stale_staging(parent: Path) -> None:
    """Clean up after runs that were killed: drop their staging directories (their process is gone) and
    put back a previous model left in ``.NAME.old-*`` by a kill between the two renames of a swap."""
    for stale in parent.glob(".*.tmp-*"):
        pid = stale.name.rsplit("-", 2)[-2] if stale.name.count("-") >= 2 else ""
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    for old in parent.glob(".*.old-*"):
        name = old.name[1:].split(".old-")[0]
        with output_lock(parent / name):
            if (old / name).is_dir() and not (parent / name).exists():
                os.rename(old / name, parent / name)
            shutil.rmtree(old, ignore_errors=True)
