"""A synthetic benchmark of whole numbers in photos, scans and drawings, made from MNIST test digits.

Six real numbers can't measure how well digits are found and split; a thousand generated ones can.
Each picture strings 2-10 MNIST *test* digits into a line (spacing from wide to touching, mixed
sizes, slant, stroke width from hairline to marker, small writing in a large frame) and renders it
over a procedurally made ground (paper texture, lighting gradients, hard shadows, ruled or squared
lines, coloured ink, light on dark, slight rotation, sensor noise, JPEG).  Every picture is made
from its own seed, so picture i is the same whatever the count; the real dev pictures check that
the generator stays honest (look at `python -m digitlib evaluate-synthetic --examples DIR`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from digitlib.evaluation.evaluate import edit_distance
from digitlib.preprocess import ImageError
from digitlib.reading.classifier import Classifier
from digitlib.reading.reader import Reading, read_number
from digitlib.reading.temperature import CONFIDENT, expected_calibration_error, temper

MARGIN = 6  # px of ground at least around the line: a digit cut by the picture's edge has no true label
MAX_FRAME = 900  # picture side cap: a phone photo is reduced to 1024 by the reader anyway, and this keeps 1,000 quick

# name -> chance that a picture has it; conditions in one group exclude each other
SPACING = {"wide spacing": 0.25, "normal spacing": 0.45, "touching": 0.3}
STROKE = {"hairline pen": 0.2, "normal stroke": 0.55, "marker": 0.25}
CONDITIONS = {
    "mixed sizes": 0.3,
    "slant": 0.4,
    "small in a large frame": 0.2,
    "paper texture": 0.5,
    "lighting gradient": 0.35,
    "hard shadow": 0.2,
    "ruled lines": 0.15,
    "squared paper": 0.1,
    "coloured ink": 0.25,
    "light on dark": 0.15,
    "rotated": 0.3,
    "sensor noise": 0.3,
    "jpeg": 0.4,
}


@dataclass
class Sample:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    label: str  # the digits, left to right
    conditions: list[str]


def pick_conditions(rng: np.random.Generator) -> list[str]:
    picked = [rng.choice(list(group), p=list(group.values())) for group in (SPACING, STROKE)]
    picked += [name for name, chance in CONDITIONS.items() if rng.random() < chance]
    if "light on dark" in picked:  # a blackboard or canvas export: no paper, no ruling
        picked = [c for c in picked if c not in ("paper texture", "ruled lines", "squared paper")]
    if "squared paper" in picked and "ruled lines" in picked:
        picked.remove("ruled lines")
    return [str(c) for c in picked]


def digit_strokes(digit: np.ndarray, height: int, stroke: str, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit cropped to its ink, scaled to ``height`` px, with the pen's stroke width (float ink)."""
    ys, xs = np.nonzero(digit > 30)
    crop = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255
    width = max(2, round(crop.shape[1] * height / crop.shape[0]))
    big = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
    stroke_px = height * 0.12  # MNIST's pen at this size
    if stroke == "hairline pen":  # only the core of MNIST's soft stroke: about half its width
        big = (big > rng.uniform(0.55, 0.7)).astype(np.float32)
    elif stroke == "marker":
        radius = max(1, round(stroke_px * rng.uniform(0.15, 0.35)))
        big = cv2.dilate(
            (big > 0.4).astype(np.float32), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
        )
    else:
        big = np.clip((big - 0.25) * 2.5, 0, 1)
    return cv2.GaussianBlur(big, (3, 3), 0.6) if height >= 24 else big


def compose_line(digits: list[np.ndarray], conditions: list[str], rng: np.random.Generator) -> np.ndarray:
    """The digits side by side on a transparent line (float ink in [0, 1]), with the picked spacing, sizes, slant."""
    height = int(rng.integers(18, 40)) if "small in a large frame" in conditions else int(rng.integers(28, 140))
    stroke = next(c for c in conditions if c in STROKE)
    sizes = [
        height * (rng.uniform(0.7, 1.2) if "mixed sizes" in conditions else rng.uniform(0.93, 1.07)) for _ in digits
    ]
    glyphs = [digit_strokes(d, max(10, round(s)), stroke, rng) for d, s in zip(digits, sizes)]
    gap = {"wide spacing": (0.35, 0.9), "normal spacing": (0.08, 0.3), "touching": (-0.06, 0.02)}
    low, high = gap[next(c for c in conditions if c in SPACING)]
    line_height = max(g.shape[0] for g in glyphs) + height // 4
    xs, x = [], 0
    for glyph in glyphs:
        xs.append(x)
        x += glyph.shape[1] + round(height * rng.uniform(low, high))
    line = np.zeros((line_height + 4, max(x, xs[-1] + glyphs[-1].shape[1]) + 4), np.float32)
    for glyph, x0 in zip(glyphs, xs):
        y0 = line_height - glyph.shape[0] - int(rng.integers(0, max(1, height // 8)))  # on a wavy baseline
        region = line[y0 + 2 : y0 + 2 + glyph.shape[0], x0 + 2 : x0 + 2 + glyph.shape[1]]
        np.maximum(region, glyph, out=region)
    if "slant" in conditions:
        shear = rng.uniform(-0.35, 0.35)
        extra = int(abs(shear) * line.shape[0]) + 2
        matrix = np.float32([[1, -shear, extra if shear > 0 else 0], [0, 1, 0]])
        line = cv2.warpAffine(line, matrix, (line.shape[1] + extra, line.shape[0]))
    return line


def paper_ground(shape: tuple[int, int], conditions: list[str], rng: np.random.Generator) -> np.ndarray:
    """The ground as RGB float: paper tint and texture, or a dark board; lighting applied later."""
    h, w = shape
    if "light on dark" in conditions:
        tone = rng.uniform(0.0, 0.25)
        return np.full((h, w, 3), tone, np.float32) * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    ground = np.full((h, w, 3), rng.uniform(0.78, 1.0), np.float32) * rng.uniform(0.92, 1.0, 3).astype(np.float32)
    if "paper texture" in conditions:
        coarse = cv2.resize(
            rng.normal(0, 1, (max(2, h // 40), max(2, w // 40))).astype(np.float32),
            (w, h),
            interpolation=cv2.INTER_CUBIC,
        )
        grain = rng.normal(0, 1, (h, w)).astype(np.float32)
        ground *= (1 + 0.04 * coarse + 0.02 * cv2.GaussianBlur(grain, (3, 3), 0.8))[..., None]
    return ground


def draw_ruling(ground: np.ndarray, conditions: list[str], pitch: int, rng: np.random.Generator) -> None:
    """Ruled or squared paper: thin lines in a light colour, drawn onto the ground in place."""
    colour = tuple(float(c) for c in ground[0, 0] * rng.uniform(0.55, 0.85, 3))
    thickness = int(rng.integers(1, 3))
    offset = int(rng.integers(0, pitch))
    for y in range(offset, ground.shape[0], pitch):
        cv2.line(ground, (0, y), (ground.shape[1] - 1, y), colour, thickness)
    if "squared paper" in conditions:
        for x in range(offset, ground.shape[1], pitch):
            cv2.line(ground, (x, 0), (x, ground.shape[0] - 1), colour, thickness)


def lighting(shape: tuple[int, int], conditions: list[str], rng: np.random.Generator) -> np.ndarray:
    """Multiplicative light over the whole picture: a gradient or vignette, and a hard-edged shadow."""
    h, w = shape
    light = np.ones((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if "lighting gradient" in conditions:
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * xx / w + np.sin(angle) * yy / h
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
        light *= 1 - rng.uniform(0.25, 0.55) * ramp
        if rng.random() < 0.5:
            radius = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
            light *= 1 - rng.uniform(0.3, 0.7) * radius
    if "hard shadow" in conditions:
        angle = rng.uniform(0, 2 * np.pi)
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        side = (np.cos(angle) * (xx - cx) + np.sin(angle) * (yy - cy)) > 0
        shadow = cv2.GaussianBlur(side.astype(np.float32), (0, 0), rng.uniform(0.5, 3))
        light *= 1 - rng.uniform(0.35, 0.6) * shadow
    return light


def ink_colour(conditions: list[str], rng: np.random.Generator) -> np.ndarray:
    if "light on dark" in conditions:
        return np.float32(rng.uniform(0.8, 1.0, 3))
    if "coloured ink" in conditions:
        hue = [(0.1, 0.2, 0.75), (0.8, 0.1, 0.1), (0.1, 0.5, 0.2), (0.5, 0.1, 0.6)][int(rng.integers(0, 4))]
        return np.float32(hue) * rng.uniform(0.7, 1.1)
    return np.float32([rng.uniform(0.0, 0.25)] * 3)


def render(line: np.ndarray, conditions: list[str], rng: np.random.Generator) -> np.ndarray:
    """Place the line in a frame over its ground and photograph it: (H, W, 3) uint8 RGB."""
    lh, lw = line.shape
    if "small in a large frame" in conditions:
        w = int(min(MAX_FRAME, lw * rng.uniform(2.5, 5)))
        h = int(min(MAX_FRAME, max(lh * rng.uniform(4, 8), w * rng.uniform(0.5, 0.8))))
    else:
        w, h = int(lw * rng.uniform(1.1, 1.6)) + 8, int(lh * rng.uniform(1.3, 2.5)) + 8
    angle = rng.uniform(-7, 7) if "rotated" in conditions else 0.0
    h += int(abs(np.sin(np.radians(angle))) * w)  # room for the line's ends once rotated
    scale = min(1.0, MAX_FRAME / max(w, h))
    if scale < 1:
        line = cv2.resize(line, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        w, h = max(int(w * scale), line.shape[1] + 2), max(int(h * scale), line.shape[0] + 2)
    w, h = w + 2 * MARGIN, h + 2 * MARGIN
    ink = np.zeros((h, w), np.float32)
    x0 = int(rng.integers(MARGIN, w - MARGIN - line.shape[1] + 1))
    y0 = int(rng.integers(MARGIN, h - MARGIN - line.shape[0] + 1))
    ink[y0 : y0 + line.shape[0], x0 : x0 + line.shape[1]] = line
    ground = paper_ground((h, w), conditions, rng)
    if "ruled lines" in conditions or "squared paper" in conditions:
        draw_ruling(ground, conditions, max(8, int(line.shape[0] * rng.uniform(0.7, 1.2))), rng)
    opacity = rng.uniform(0.75, 1.0) * ink[..., None]
    picture = ground * (1 - opacity) + ink_colour(conditions, rng) * opacity
    picture *= lighting((h, w), conditions, rng)[..., None]
    if "rotated" in conditions:
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        picture = cv2.warpAffine(picture, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if "sensor noise" in conditions:
        picture = cv2.GaussianBlur(picture, (0, 0), rng.uniform(0.5, 1.2))
        picture += rng.normal(0, rng.uniform(0.01, 0.04), picture.shape).astype(np.float32)
    image = np.clip(picture * 255, 0, 255).astype(np.uint8)
    if "jpeg" in conditions:
        ok, encoded = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 70))])
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(image)


def make_sample(
    x_test: np.ndarray, y_test: np.ndarray, seed: int, index: int, conditions: list[str] | None = None
) -> Sample:
    """Picture ``index`` of the benchmark with this seed (independent of how many are made).

    ``conditions`` forces a set (one spacing and one stroke among them) instead of drawing one."""
    rng = np.random.default_rng([seed, index])
    picked = pick_conditions(rng)
    conditions = picked if conditions is None else list(conditions)
    chosen = rng.integers(0, len(x_test), int(rng.integers(2, 11)))
    line = compose_line([x_test[i] for i in chosen], conditions, rng)
    return Sample(render(line, conditions, rng), "".join(str(int(y_test[i])) for i in chosen), conditions)


@dataclass
class Tally:
    """Exact reads and digit errors over a group of pictures."""

    pictures: int = 0
    exact: int = 0
    digit_errors: int = 0
    digits: int = 0
    confident_errors: int = 0  # read wrong, every digit at CONFIDENT or more

    def add(self, label: str, read: str, confidence: float = 0.0) -> None:
        self.pictures += 1
        self.exact += read == label
        self.confident_errors += read != label and confidence >= CONFIDENT
        self.digit_errors += edit_distance(label, read)
        self.digits += len(label)

    @property
    def exact_rate(self) -> float:
        return self.exact / self.pictures if self.pictures else 0.0

    @property
    def digit_error_rate(self) -> float:
        return self.digit_errors / self.digits if self.digits else 0.0

    def as_dict(self) -> dict:
        return {
            "pictures": self.pictures,
            "exact": self.exact,
            "exact_rate": round(self.exact_rate, 4),
            "digit_error_rate": round(self.digit_error_rate, 4),
            "confident_errors": self.confident_errors,
        }


@dataclass
class SyntheticEvaluation:
    overall: Tally = field(default_factory=Tally)
    by_condition: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_length: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # (index, label, read)
    temperature: float = 1.0  # the classifier's calibration
    digit_probabilities: list[np.ndarray] = field(default_factory=list)  # of the digits in matched_digits
    digit_labels: list[int] = field(default_factory=list)

    def digit_ece(self, calibrated: bool = True) -> float:
        """Expected calibration error of the digits read where as many were found as written."""
        probabilities = np.array(self.digit_probabilities, np.float32).reshape(-1, 10)
        return expected_calibration_error(
            probabilities if calibrated else temper(probabilities, 1 / self.temperature), np.array(self.digit_labels)
        )

    def as_dict(self) -> dict:
        return {
            "overall": self.overall.as_dict(),
            "temperature": self.temperature,
            "digits_matched": len(self.digit_labels),
            "digit_ece": round(self.digit_ece(), 6),
            "digit_ece_uncalibrated": round(self.digit_ece(False), 6),
            "by_condition": {k: v.as_dict() for k, v in sorted(self.by_condition.items())},
            "by_length": {str(k): v.as_dict() for k, v in sorted(self.by_length.items())},
            "failures": [{"index": i, "label": label, "read": read} for i, label, read in self.failures],
        }


def matched_digits(label: str, reading: Reading) -> list[tuple[np.ndarray, int]]:
    """(probabilities, written digit) of each digit read, when the reading found as many digits as were
    written (then the i-th read is the i-th written); none otherwise."""
    if len(reading.digits) != len(label):
        return []
    return [(d.probabilities, int(c)) for d, c in zip(reading.digits, label)]


def evaluate_synthetic(
    classifier: Classifier,
    x_test: np.ndarray,
    y_test: np.ndarray,
    count: int = 1000,
    seed: int = 0,
    on_sample: Callable[[int, Sample, str], None] | None = None,
) -> SyntheticEvaluation:
    """Read ``count`` generated numbers; ``on_sample(index, sample, text)`` sees each (to save examples)."""
    evaluation = SyntheticEvaluation(temperature=classifier.temperature)
    for index in range(count):
        sample = make_sample(x_test, y_test, seed, index)
        try:
            reading = read_number(sample.image, classifier)
            text, confidence = reading.text, reading.confidence
        except ImageError:
            reading, text, confidence = None, "", 0.0
        for probabilities, digit in matched_digits(sample.label, reading) if reading else []:
            evaluation.digit_probabilities.append(probabilities)
            evaluation.digit_labels.append(digit)
        for tally in (
            evaluation.overall,
            evaluation.by_length[len(sample.label)],
            *(evaluation.by_condition[c] for c in sample.conditions),
        ):
            tally.add(sample.label, text, confidence)
        if text != sample.label:
            evaluation.failures.append((index, sample.label, text))
        if on_sample:
            on_sample(index, sample, text)
    return evaluation


def format_report(evaluation: SyntheticEvaluation) -> str:
    """Markdown table: exact-read rate, digit error rate and confident errors, overall, per condition and length."""
    lines = [
        f"| pictures with | count | read exactly | digit error rate | wrong at ≥ {CONFIDENT:.0%} |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = [
        ("all", evaluation.overall),
        *sorted(evaluation.by_condition.items()),
        *((f"{n} digits", t) for n, t in sorted(evaluation.by_length.items())),
    ]
    lines += [
        f"| {name} | {t.pictures} | {t.exact_rate:.1%} | {t.digit_error_rate:.1%} | {t.confident_errors} |"
        for name, t in rows
    ]
    return "\n".join(lines)
