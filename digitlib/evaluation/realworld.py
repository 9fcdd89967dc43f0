"""How well do we read real people's digits?  Two measures.

1. `evaluate_real(DIR)`: a folder of real pictures laid out as ``single/<label>/*`` (one digit
   each) and ``multi/<number>__*`` (a whole number, the file name starts with it): single-digit
   accuracy, per-class accuracy, exact matches of whole numbers, and the failures; optionally with each
   picture made small on a plain page several times its size (writing small in a large photo or scan).
2. `robustness_table`: the MNIST test set pushed through the ways real pictures differ from it
   (shifted, scaled up, thick and thin strokes, inverted, noisy, blurred, photographed, cut), read
   once with naive resize-and-invert and once with our pipeline, per model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from digitlib.evaluation import plots
from digitlib.evaluation.evaluate import edit_distance
from digitlib.preprocess import ImageError, disk, load_grey, to_mnist
from digitlib.preprocess.decode import load_picture
from digitlib.reading.classifier import Classifier
from digitlib.reading.reader import Reading, read_number
from digitlib.reading.temperature import CONFIDENT
from digitlib.training.conventions import extent

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SMALL_SIDE = 200  # px: a picture's longer side once made small to be placed on a page (`on_a_page`)


@dataclass
class Case:
    path: Path
    label: str  # the digits the picture holds
    kind: str  # "single" or "multi"


@dataclass
class Outcome:
    case: Case
    text: str  # digits read ("" when none)
    reading: Reading | None  # None when the picture could not be read
    error: str = ""

    @property
    def correct(self) -> bool:
        return self.text == self.case.label

    @property
    def confident(self) -> bool:
        """Every digit read (the weakest included) at CONFIDENT or more."""
        return bool(self.reading and self.reading.digits and self.reading.confidence >= CONFIDENT)


@dataclass
class RealEvaluation:
    outcomes: list[Outcome]

    def of_kind(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.kind == kind]

    @property
    def single_accuracy(self) -> float:
        singles = self.of_kind("single")
        return sum(o.correct for o in singles) / len(singles) if singles else 0.0

    @property
    def per_class_accuracy(self) -> dict[str, float]:
        labels = sorted({o.case.label for o in self.of_kind("single")})
        return {
            label: float(np.mean([o.correct for o in self.of_kind("single") if o.case.label == label]))
            for label in labels
        }

    @property
    def multi_exact(self) -> tuple[int, int]:
        multis = self.of_kind("multi")
        return sum(o.correct for o in multis), len(multis)

    @property
    def multi_exact_rate(self) -> float:
        exact, total = self.multi_exact
        return exact / total if total else 0.0

    @property
    def digit_error_rate(self) -> float:
        """Digits misread, dropped or added (edit distance) per digit written, over every picture."""
        written = sum(len(o.case.label) for o in self.outcomes)
        return sum(edit_distance(o.case.label, o.text) for o in self.outcomes) / written if written else 0.0

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct]

    @property
    def confident_errors(self) -> list[Outcome]:
        return [o for o in self.failures if o.confident]

    def as_dict(self) -> dict:
        exact, total = self.multi_exact
        return {
            "single_count": len(self.of_kind("single")),
            "single_accuracy": round(self.single_accuracy, 6),
            "per_class_accuracy": {k: round(v, 6) for k, v in self.per_class_accuracy.items()},
            "multi_exact": exact,
            "multi_count": total,
            "multi_exact_rate": round(self.multi_exact_rate, 6),
            "digit_error_rate": round(self.digit_error_rate, 6),
            "confident_errors": len(self.confident_errors),
            "failures": [
                {
                    "path": str(o.case.path),
                    "label": o.case.label,
                    "read": o.text,
                    "error": o.error,
                    "confidence": round(o.reading.confidence, 6) if o.reading else 0.0,
                }
                for o in self.failures
            ],
        }


def find_cases(directory: Path) -> list[Case]:
    """Every labelled picture in a folder laid out like realworld-dev; a clear error when there are none."""
    directory = Path(directory)
    singles = [
        Case(p, p.parent.name, "single")
        for p in sorted(directory.glob("single/*/*"))
        if p.suffix.lower() in IMAGE_SUFFIXES and p.parent.name.isdigit() and len(p.parent.name) == 1
    ]
    multis = [
        Case(p, p.name.split("__")[0], "multi")
        for p in sorted(directory.glob("multi/*"))
        if p.suffix.lower() in IMAGE_SUFFIXES and p.name.split("__")[0].isdigit()
    ]
    if not singles and not multis:
        raise ValueError(f"{directory}: no pictures found in single/<digit>/* or multi/<number>__*")
    return singles + multis


def on_a_page(path: Path, factor: int) -> np.ndarray:
    """The picture made small (its longer side SMALL_SIDE at most) in the middle of a plain page `factor` times its
    size, of its border's colour: the same writing, small in a large photo or scan."""
    picture, _ = load_picture(path)
    height, width = picture.shape[:2]
    scale = min(1.0, SMALL_SIDE / max(height, width))
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
        height, width = picture.shape[:2]
    edge = np.concatenate([picture[0], picture[-1], picture[:, 0], picture[:, -1]])
    page = np.empty((height * factor, width * factor, *picture.shape[2:]), picture.dtype)
    page[:] = np.median(edge, axis=0).astype(picture.dtype)
    top, left = (factor - 1) * height // 2, (factor - 1) * width // 2
    page[top : top + height, left : left + width] = picture
    return page


def lit_from_one_side(picture: np.ndarray, darkest: float) -> np.ndarray:
    """The picture darkening smoothly from its left side (as it was) to its right (`darkest` of its brightness): a
    lamp or window at one side of a photo or scan.  Transparency is kept."""
    light = np.linspace(1.0, darkest, picture.shape[1], dtype=np.float32)
    lit = picture.astype(np.float32)
    if lit.ndim == 2:
        lit *= light
    else:
        lit[..., :3] *= light[:, None]
    return lit.astype(picture.dtype)


def as_read(case: Case, page: int = 0, darkest: float = 1.0) -> Path | np.ndarray:
    """The case's picture as given, or placed small on a plain page `page` times its size (`on_a_page`), or lit from
    one side to `darkest` (`lit_from_one_side`), or both."""
    if not page and darkest == 1.0:
        return case.path
    picture = on_a_page(case.path, page) if page else load_picture(case.path)[0]
    return lit_from_one_side(picture, darkest) if darkest < 1.0 else picture


def read_case(case: Case, classifier: Classifier, page: int = 0, darkest: float = 1.0) -> Outcome:
    """The case read as `as_read` gives it."""
    try:
        reading = read_number(as_read(case, page, darkest), classifier)
    except ImageError as exc:
        return Outcome(case, "", None, str(exc))
    return Outcome(case, reading.text, reading)


def evaluate_real(directory: Path, classifier: Classifier, page: int = 0, darkest: float = 1.0) -> RealEvaluation:
    return RealEvaluation([read_case(case, classifier, page, darkest) for case in find_cases(directory)])


def what_the_model_saw(outcome: Outcome) -> np.ndarray:
    """The 28x28 digits side by side (a black square when none were found)."""
    images = [d.image for d in outcome.reading.digits] if outcome.reading else []
    return np.hstack(images) if images else np.zeros((28, 28), np.float32)


def failure_gallery(evaluation: RealEvaluation, path: Path) -> Path:
    """PNG of each failure: the picture as given, what the model saw, and what it read."""
    images, captions = [], []
    for outcome in evaluation.failures:
        shown = outcome.reading.steps["upright"] if outcome.reading else np.zeros((28, 28), np.float32)
        images += [shown, what_the_model_saw(outcome)]
        read = outcome.text or ("error" if outcome.error else "nothing")
        confidence = f" {outcome.reading.confidence:.0%}" if outcome.reading and outcome.reading.digits else ""
        captions += [outcome.case.path.name[:18], f"{outcome.case.label}→{read}{confidence}"]
    if not images:
        images, captions = [np.zeros((28, 28), np.float32)], ["no failures"]
    return plots.save(
        plots.gallery(images, captions, columns=8, title="Real-world failures: picture, model input, label→read"), path
    )


# ---------------------------------------------------------------- synthetic robustness


EDGE_CUT = 0.15  # of the ink box: within what a person still reads (a fifth turns some 7s into 1s, to people too)
SIDES = ("top", "bottom", "left", "right")


def on_lit_paper(ink: np.ndarray, rng: np.random.Generator, contrast: float, blur: float, noise: float) -> np.ndarray:
    """Dark pen (`ink`, bright, as strong as `contrast` at its strongest) on grey paper lit from one side, blurred,
    with sensor noise: an RGB photo."""
    ramp = np.linspace(0.45, 0.9, ink.shape[1])[None, :] * np.ones((ink.shape[0], 1))
    photo = ndimage.gaussian_filter(ramp * (1.0 - contrast * ink), blur) + rng.normal(0, noise, ink.shape)
    return np.repeat(np.clip(photo, 0, 1)[..., None], 3, axis=2).astype(np.float32)


def paper_photo(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """4x size, slightly blurred (`on_lit_paper`)."""
    return on_lit_paper(ndimage.zoom(digit, 4, order=1), rng, contrast=0.8, blur=1.5, noise=0.03)


def unfocused_photo(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """3x size, a pen pressed unevenly (its ink from half to full strength, changing smoothly along the digit),
    photographed out of focus (`on_lit_paper`): half the strongest stroke's level leaves specks of the strokes."""
    big = ndimage.zoom(digit, 3, order=1)
    pressure = ndimage.gaussian_filter(rng.random(big.shape), 8)
    pressure = 0.5 + 0.5 * (pressure - pressure.min()) / max(float(np.ptp(pressure)), 1e-6)
    return on_lit_paper(big * pressure, rng, contrast=0.6, blur=2.5, noise=0.02)


def grainy_photo(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """3x size, a light pen photographed in dim light (`on_lit_paper`): the strokes stand out by 4.5 (where the
    paper is darkest) to 9 deviations of the sensor's noise, plain to the eye but, pixel by pixel, near the grain."""
    return on_lit_paper(ndimage.zoom(digit, 3, order=1), rng, contrast=0.3, blur=1.0, noise=0.03)


def cut_off(picture: np.ndarray, side: str, share: float) -> np.ndarray:
    """The picture (values in [0, 1], ink bright) with ``share`` of its ink box cut off at ``side``, as a crop too
    tight or a photo taken too close cuts a digit; the other sides keep their margins."""
    ink = picture >= 0.2  # MNIST's faint anti-aliased fringe is not part of the digit's box
    if not ink.any():
        return picture
    (top, bottom), (left, right) = extent(ink), extent(ink.T)
    height, width = bottom + 1 - top, right + 1 - left
    cuts = {
        "top": np.s_[top + round(height * share) :, :],
        "bottom": np.s_[: bottom + 1 - round(height * share), :],
        "left": np.s_[:, left + round(width * share) :],
        "right": np.s_[:, : right + 1 - round(width * share)],
    }
    return picture[cuts[side]]


def corner_shift(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    canvas = np.zeros((84, 84), np.float32)
    canvas[:28, :28] = digit
    return canvas


CONDITIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "clean": lambda x, rng: x,
    "shifted to a corner of 84x84": corner_shift,
    "scaled up 10x": lambda x, rng: ndimage.zoom(x, 10, order=1),
    "thick brush (10x, strokes ~2x MNIST's)": lambda x, rng: ndimage.grey_dilation(
        ndimage.zoom(x, 10, order=1), footprint=disk(11)
    ),
    "hairline pen (10x, strokes ~1/4 MNIST's)": lambda x, rng: ndimage.grey_erosion(
        ndimage.zoom(x, 10, order=1), footprint=disk(8)
    ),
    "inverted (black on white)": lambda x, rng: 1.0 - x,
    "noisy (sigma 0.15)": lambda x, rng: np.clip(x + rng.normal(0, 0.15, x.shape), 0, 1).astype(np.float32),
    "blurred (sigma 1)": lambda x, rng: ndimage.gaussian_filter(x, 1.0),
    "photo on lit paper": paper_photo,
    "photo out of focus, pen pressed unevenly (3x, blur sigma 2.5)": unfocused_photo,
    "grainy photo of a light pen (3x, noise sigma 0.03)": grainy_photo,
} | {
    f"4x, cut by the picture's {side} edge ({EDGE_CUT:.0%} of the ink)": (
        lambda x, rng, side=side: cut_off(ndimage.zoom(x, 4, order=1), side, EDGE_CUT)
    )
    for side in SIDES
}


def naive_preprocess(image: np.ndarray) -> np.ndarray:
    """What most demos do: grey, resize to 28x28, invert when the picture is mostly light."""
    grey = load_grey(image)
    small = np.asarray(Image.fromarray(grey, "F").resize((28, 28), Image.Resampling.BILINEAR))
    return 1.0 - small if small.mean() > 0.5 else small


@dataclass
class RobustnessRow:
    condition: str
    accuracy: dict[str, dict[str, float]]  # model -> {"naive": acc, "pipeline": acc}


def robustness_table(
    classifiers: Sequence[Classifier], x: np.ndarray, y: np.ndarray, seed: int = 0
) -> list[RobustnessRow]:
    """Accuracy of each model on each condition of MNIST test digits, naive versus our preprocessing."""
    rng = np.random.default_rng(seed)
    digits = x.astype(np.float32) / 255.0
    rows = []
    for name, transform in CONDITIONS.items():
        pictures = [transform(d, rng) for d in digits]
        prepared = {
            "naive": np.array([naive_preprocess(p) for p in pictures]),
            "pipeline": np.array([to_mnist(p) for p in pictures]),
        }
        accuracy = {
            clf.name: {
                way: float((clf.predict_prepared(images).argmax(1) == y).mean()) for way, images in prepared.items()
            }
            for clf in classifiers
        }
        rows.append(RobustnessRow(name, accuracy))
    return rows


def format_table(rows: list[RobustnessRow]) -> str:
    """Markdown table: one row per condition, naive and pipeline accuracy per model."""
    models = list(rows[0].accuracy)
    header = "| condition | " + " | ".join(f"{m} naive | {m} pipeline" for m in models) + " |"
    rule = "|---|" + "---:|" * (2 * len(models))
    lines = [
        f"| {r.condition} | "
        + " | ".join(f"{r.accuracy[m]['naive']:.2%} | {r.accuracy[m]['pipeline']:.2%}" for m in models)
        + " |"
        for r in rows
    ]
    return "\n".join([header, rule, *lines])
