"""Model directories as the tests damage and compare them."""

from __future__ import annotations

from pathlib import Path

# Each case damages one file of a copy of a good model; the error must name that file.
MODEL_DAMAGE = {
    "no model file": ("model.tflite", lambda path: path.unlink()),
    "empty model file": ("model.tflite", lambda path: path.write_bytes(b"")),
    "junk model file": ("model.tflite", lambda path: path.write_bytes(b"<html>not found</html>" * 50)),
    "truncated model file": (
        "model.tflite",
        lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    ),
    "model file is a folder": ("model.tflite", lambda path: (path.unlink(), path.mkdir())),
    "broken model card": ("card.json", lambda path: path.write_text('{"test_accuracy": 0.9')),
}


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` and its bytes: equal snapshots mean nothing was changed."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
