"""digitlib against general OCR engines on the real-world dev sets: single digits right, numbers exact.

Every tool reads every picture of each set (``manifest.tsv``: file, label, kind) and is scored the way
``python -m digitlib evaluate-real DIR`` scores digitlib: a picture counts right only when the digits read
equal its label; an empty answer counts wrong and is also counted as "returned nothing".  Needs the
separate venv of benchmarks/requirements-ocr.txt (see docs/ocr.md); a tool that cannot run is listed with
the reason:

    python benchmarks/ocr_compare.py ../shared/realworld-dev ../shared/realworld-dev2 [--json PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIGITS = "0123456789"
# Letters general OCR returns for handwritten digits; mapped for every tool alike (--digits-only turns it off).
LOOKALIKES = str.maketrans("OoQDIli|!ZzSsGbBgq", "000011111225566899")
# OCR engines lose thin strokes at MNIST size (Tesseract wants characters 20+ px tall): tiny pictures are
# enlarged to this short side before any OCR tool sees them.
MIN_OCR_SIDE = 100
# Tesseract misses text that touches the picture's edge: a margin of the edges' median colour, this share of the size.
MARGIN = 0.1


@dataclass
class Case:
    path: Path
    label: str
    kind: str  # "single" or "multi"


Reader = Callable[[Case, np.ndarray], str]  # a case and its OCR picture -> the tool's raw answer


@dataclass
class Tool:
    name: str
    load: Callable[[], Reader]  # raises when the tool cannot run here


def read_manifest(directory: Path) -> list[Case]:
    with open(directory / "manifest.tsv", newline="") as f:
        return [Case(directory / row["file"], row["label"], row["kind"]) for row in csv.DictReader(f, delimiter="\t")]


def ocr_picture(path: Path) -> np.ndarray:
    """RGB as the OCR tools get it: upright, alpha over white, tiny ones enlarged, dark on light, an edge margin."""
    image = ImageOps.exif_transpose(Image.open(path))
    rgba = image.convert("RGBA")
    picture = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    if min(picture.size) < MIN_OCR_SIDE:
        scale = MIN_OCR_SIDE / min(picture.size)
        picture = picture.resize(
            (round(picture.width * scale), round(picture.height * scale)), Image.Resampling.BICUBIC
        )
    pixels = np.asarray(picture)
    edges = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    pad = round(MARGIN * max(pixels.shape[:2]))
    background = np.median(edges, axis=0)
    if background.mean() < 128:  # Tesseract 4+ wants dark text on a light ground; every tool gets the same picture
        pixels, background = 255 - pixels, 255 - background
    framed = np.empty((pixels.shape[0] + 2 * pad, pixels.shape[1] + 2 * pad, 3), np.uint8)
    framed[:] = background
    framed[pad : pad + pixels.shape[0], pad : pad + pixels.shape[1]] = pixels
    return framed


def normalise(text: str, lookalikes: bool = True) -> str:
    """The digits of an answer, left to right (full-width digits folded; look-alike letters mapped first)."""
    text = unicodedata.normalize("NFKC", text)
    if lookalikes:
        text = text.translate(LOOKALIKES)
    return "".join(c for c in text if c in DIGITS)


def left_to_right(boxes: list, texts: list[str]) -> str:
    """Join the texts of detected boxes in order of their left edge (every label is one line)."""
    lefts = [min(x for x, _ in box) for box in boxes]
    return "".join(text for _, text in sorted(zip(lefts, texts, strict=True), key=lambda pair: pair[0]))


def load_digitlib() -> Reader:
    from digitlib import load_classifier, read_number

    classifier = load_classifier()
    return lambda case, picture: read_number(case.path, classifier).text


def load_rapidocr(detect: bool) -> Reader:
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "error"})

    def read(case: Case, picture: np.ndarray) -> str:
        # The flags are passed on every call: RapidOCR keeps the last call's flags as its new defaults.
        result = engine(picture, use_det=detect, use_cls=detect, use_rec=True)
        if not result.txts:
            return ""
        return left_to_right(result.boxes.tolist(), list(result.txts)) if detect else "".join(result.txts)

    return read


def load_tesseract() -> Reader:
    import pytesseract

    pytesseract.get_tesseract_version()  # raises when the tesseract binary is missing

    def read(case: Case, picture: np.ndarray) -> str:
        page_mode = 10 if case.kind == "single" else 7  # one character / one line of text
        return pytesseract.image_to_string(picture, config=f"--psm {page_mode} -c tessedit_char_whitelist={DIGITS}")

    return read


def load_easyocr() -> Reader:
    import easyocr
    import easyocr_en_models  # the weights, shipped as a wheel: nothing is downloaded

    reader = easyocr.Reader(
        ["en"], gpu=False, model_storage_directory=easyocr_en_models.model_dir(), download_enabled=False, verbose=False
    )

    def read(case: Case, picture: np.ndarray) -> str:
        found = reader.readtext(picture, allowlist=DIGITS)
        return left_to_right([box for box, _, _ in found], [text for _, text, _ in found])

    return read


TOOLS = [
    Tool("digitlib", load_digitlib),
    Tool("rapidocr-rec", lambda: load_rapidocr(detect=False)),
    Tool("rapidocr-det+rec", lambda: load_rapidocr(detect=True)),
    Tool("tesseract", load_tesseract),
    Tool("easyocr", load_easyocr),
]


def run_tool(read: Reader, cases: list[Case], pictures: list[np.ndarray], lookalikes: bool) -> dict:
    """Every picture through one tool: the scores, the time per picture, and each raw and normalised answer."""
    answers, seconds = [], 0.0
    for case, picture in zip(cases, pictures, strict=True):
        start = time.perf_counter()
        try:
            raw, error = read(case, picture), ""
        except Exception as exc:  # one unreadable picture must not end the comparison; it counts as nothing read
            raw, error = "", f"{type(exc).__name__}: {exc}"
        seconds += time.perf_counter() - start
        answers.append(
            {
                "file": str(case.path),
                "label": case.label,
                "kind": case.kind,
                "raw": raw.strip(),
                "read": normalise(raw, lookalikes),
                "error": error,
            }
        )
    singles = [a for a in answers if a["kind"] == "single"]
    numbers = [a for a in answers if a["kind"] == "multi"]
    return {
        "single_right": sum(a["read"] == a["label"] for a in singles),
        "single_total": len(singles),
        "multi_exact": sum(a["read"] == a["label"] for a in numbers),
        "multi_total": len(numbers),
        "nothing": sum(not a["read"] for a in answers),
        "seconds_per_picture": round(seconds / len(answers), 4),
        "answers": answers,
    }


def ratio(right: int, total: int) -> str:
    return f"{right}/{total} ({right / total:.1%})" if total else "—"


def format_table(results: dict) -> str:
    lines = [
        "| set | tool | single digits right | numbers exact | returned nothing | s/picture |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for set_name, by_tool in results.items():
        for tool, r in by_tool.items():
            lines.append(
                f"| {set_name} | {tool} | {ratio(r['single_right'], r['single_total'])} | "
                f"{ratio(r['multi_exact'], r['multi_total'])} | "
                f"{r['nothing']}/{r['single_total'] + r['multi_total']} | {r['seconds_per_picture']:.3f} |"
            )
    return "\n".join(lines)


def machine_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", type=Path, metavar="DIR", help="a set with manifest.tsv")
    parser.add_argument("--tools", nargs="+", choices=[t.name for t in TOOLS], default=[t.name for t in TOOLS])
    parser.add_argument("--digits-only", action="store_true", help="keep digits only, map no look-alike letters")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every score and answer here")
    args = parser.parse_args()

    missing = [str(d) for d in args.directories if not (d / "manifest.tsv").is_file()]
    if missing:
        parser.error(f"no manifest.tsv in: {', '.join(missing)}")
    readers, unavailable = {}, {}
    for tool in (t for t in TOOLS if t.name in args.tools):
        try:
            readers[tool.name] = tool.load()
        except Exception as exc:  # ImportError, a missing binary, a model that cannot load offline
            unavailable[tool.name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            print(f"{tool.name}: not available ({unavailable[tool.name]})", file=sys.stderr)

    results = {}
    for directory in args.directories:
        cases = read_manifest(directory)
        pictures = [ocr_picture(case.path) for case in cases]
        results[directory.name] = {}
        for name, read in readers.items():
            result = run_tool(read, cases, pictures, lookalikes=not args.digits_only)
            results[directory.name][name] = result
            print(f"{directory.name} {name}: {result['seconds_per_picture']:.3f} s/picture", file=sys.stderr)

    print(format_table(results))
    for name, reason in unavailable.items():
        print(f"\n{name}: not available — {reason}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine_name(),
                    "digits_only": args.digits_only,
                    "unavailable": unavailable,
                    "results": results,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
