"""Real handwriting for training: each single-digit picture of a realworld-train-style folder as the network sees it.

The folder holds ``manifest.tsv`` (tab-separated, with at least the columns file, label, kind and repo) and the
pictures it names.  Every ``single`` picture goes through the reader's own pipeline (`preprocess.segment`), so the
network learns from exactly the 28x28 images it is given when it reads such a picture:

- one piece found: that piece, with the picture's label;
- no piece, or several: skipped and counted.  The reader would answer nothing, or several digits, for such a
  picture whatever the network says, and which piece holds the labelled digit is a guess a wrong label would
  be taught on;
- ``multi`` pictures (whole numbers) are left out: their label does not say which digit is which piece.

The images are made once per manifest and pipeline version and kept under ~/.cache/digitlib (never in the project).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitlib.data import DataError
from digitlib.preprocess import ImageError, segment

ENV_VAR = "DIGITLIB_REALWORLD_DIR"
MANIFEST = "manifest.tsv"
REQUIRED_COLUMNS = ("file", "label", "kind", "repo")
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "digitlib" / "realworld"
PIPELINE_SOURCES = Path(__file__).resolve().parent.parent / "preprocess"


@dataclass(frozen=True)
class ManifestRow:
    file: str
    label: str
    kind: str  # "single" or "multi"
    repo: str  # the repository the picture came from: pictures of one hand share it


@dataclass
class RealworldSet:
    """Network inputs of the usable single-digit pictures, with their labels and source repositories."""

    images: np.ndarray  # (N, 28, 28) uint8, MNIST format
    labels: np.ndarray  # (N,) uint8
    groups: np.ndarray  # (N,) str: each picture's repository
    files: list[str]  # paths relative to the folder, as in the manifest
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> pictures left out
    manifest_md5: str = ""

    def __len__(self) -> int:
        return len(self.labels)

    def without(self, repos) -> RealworldSet:
        """The pictures from every repository but ``repos`` (a fold's training part)."""
        keep = ~np.isin(self.groups, list(repos))
        return RealworldSet(
            self.images[keep],
            self.labels[keep],
            self.groups[keep],
            [f for f, k in zip(self.files, keep, strict=True) if k],
            dict(self.skipped),
            self.manifest_md5,
        )

    def summary(self) -> dict:
        """What a model card records: counts and the manifest's checksum, never the pictures."""
        return {
            "pictures": len(self),
            "repositories": len(set(self.groups.tolist())),
            "per_class": {str(d): int(n) for d, n in sorted(Counter(self.labels.tolist()).items())},
            "skipped": self.skipped,
            "manifest_md5": self.manifest_md5,
        }


def resolve_realworld_dir(directory: str | os.PathLike | None = None) -> Path:
    """The folder asked for (argument, then $DIGITLIB_REALWORLD_DIR); a clear error when none or no manifest."""
    chosen = directory or os.environ.get(ENV_VAR)
    if not chosen:
        raise DataError(
            f"no real-world training folder given: pass --realworld DIR or set {ENV_VAR}=DIR "
            f"(a folder with {MANIFEST} and the pictures it lists)."
        )
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"{path}: real-world training folder does not exist.")
    if not (path / MANIFEST).is_file():
        raise DataError(f"{path}: holds no {MANIFEST} (tab-separated: {', '.join(REQUIRED_COLUMNS)}, ...).")
    return path


def read_manifest(directory: Path) -> list[ManifestRow]:
    """The manifest's rows, checked: required columns, a digit label, a known kind, an existing file."""
    path = directory / MANIFEST
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {', '.join(missing)}; the header needs {', '.join(REQUIRED_COLUMNS)}."
            )
        rows = [ManifestRow(*(str(row[c] or "").strip() for c in REQUIRED_COLUMNS)) for row in reader]
    for line, row in enumerate(rows, start=2):
        if row.kind not in ("single", "multi"):
            raise DataError(f"{path}, line {line}: kind must be single or multi, not {row.kind!r}.")
        if not row.label.isdigit() or (row.kind == "single" and len(row.label) != 1):
            raise DataError(
                f"{path}, line {line}: label {row.label!r} is not a {row.kind} "
                f"{'digit' if row.kind == 'single' else 'number'}."
            )
        if not row.repo:
            raise DataError(f"{path}, line {line}: no repo given (folds group pictures by it).")
        if not (directory / row.file).is_file():
            raise DataError(f"{path}, line {line}: {row.file} not found in {directory}.")
    if not rows:
        raise DataError(f"{path}: lists no pictures.")
    return rows


def network_input(path: Path) -> tuple[np.ndarray | None, str]:
    """The one 28x28 uint8 image the reader classifies for a single-digit picture, or None and why not."""
    try:
        pieces = segment(path).segments
    except ImageError:
        return None, "unreadable"
    if len(pieces) != 1:
        return None, "no digit found" if not pieces else "several pieces found"
    return np.round(pieces[0].image * 255).astype(np.uint8), ""


def cache_key(manifest: Path) -> str:
    """Changes with the manifest and with any line of the pipeline's code."""
    digest = hashlib.md5(manifest.read_bytes())
    for source in sorted(PIPELINE_SOURCES.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def prepare(directory: Path, rows: list[ManifestRow]) -> RealworldSet:
    images, labels, groups, files, skipped = [], [], [], [], Counter()
    for row in rows:
        if row.kind != "single":
            skipped["whole numbers"] += 1
            continue
        image, reason = network_input(directory / row.file)
        if image is None:
            skipped[reason] += 1
            continue
        images.append(image)
        labels.append(int(row.label))
        groups.append(row.repo)
        files.append(row.file)
    return RealworldSet(
        np.array(images, np.uint8).reshape(-1, 28, 28),
        np.array(labels, np.uint8),
        np.array(groups, dtype=str),
        files,
        dict(sorted(skipped.items())),
    )


def load_realworld(directory: str | os.PathLike | None = None, cache_dir: Path | None = CACHE_DIR) -> RealworldSet:
    """Every usable single-digit picture of the folder as the network sees it (cached; ``cache_dir=None``: not)."""
    directory = resolve_realworld_dir(directory)
    rows = read_manifest(directory)
    manifest_md5 = hashlib.md5((directory / MANIFEST).read_bytes()).hexdigest()
    cached = cache_dir / f"{cache_key(directory / MANIFEST)}.npz" if cache_dir else None
    if cached and cached.is_file():
        with np.load(cached, allow_pickle=False) as f:
            return RealworldSet(
                f["images"],
                f["labels"],
                f["groups"],
                f["files"].tolist(),
                dict(zip(f["skip_reasons"].tolist(), f["skip_counts"].tolist(), strict=True)),
                manifest_md5,
            )
    prepared = prepare(directory, rows)
    prepared.manifest_md5 = manifest_md5
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.npz")
        np.savez_compressed(
            partial,
            images=prepared.images,
            labels=prepared.labels,
            groups=prepared.groups,
            files=np.array(prepared.files, dtype=str),
            skip_reasons=np.array(list(prepared.skipped), dtype=str),
            skip_counts=np.array(list(prepared.skipped.values()), dtype=np.int64),
        )
        partial.replace(cached)
    return prepared
