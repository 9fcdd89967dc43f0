"""Small pictures, numbers and charts as people read them."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

ENLARGE = 6  # the 28x28 input shown as 168x168, pixel for pixel


def as_picture(array: np.ndarray) -> np.ndarray:
    """Any intermediate image (bool, float in [0, 1], uint8) as uint8 for st.image."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    return (np.clip(array.astype(np.float32), 0, 1) * 255).astype(np.uint8)


def enlarged(image28: np.ndarray) -> Image.Image:
    """The 28x28 input scaled up pixel for pixel, so its pixels stay visible."""
    return Image.fromarray(as_picture(image28)).resize((28 * ENLARGE, 28 * ENLARGE), Image.NEAREST)


def percent(share: float) -> str:
    """A probability or accuracy as people read it: 98.1%, never "100.0%" for 0.9996 nor "0.0%" for 0.0004."""
    if 0.999 <= share < 1:
        return "> 99.9%"
    if 0 < share < 0.001:
        return "< 0.1%"
    return f"{share:.1%}"


def duration(seconds: float | None) -> str:
    """Seconds as people say them: "45 s", "38 min", "1 h 13 min"."""
    if seconds is None:
        return "n/a"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


SERIES = {"training": ("#0072B2", [1, 0]), "validation": ("#E69F00", [6, 3])}  # colour-blind-safe, and dashed


def show_curves(history: dict[str, list[float]], runs: list[tuple[str, int]] = ()) -> None:
    """Loss and accuracy per epoch, training (solid blue) and validation (dashed orange), with a legend and
    axis titles; ``runs`` (name, epochs) marks where each run of a model trained in several runs began."""
    epochs = len(history.get("loss", []))
    if epochs < 2:  # one point is no curve: say what the one epoch's figures mean instead
        one_epoch_summary(history)
        return
    kept = [
        name
        for prefix, name in (("", "training"), ("val_", "validation"))
        if len(history.get(prefix + "loss", [])) == epochs
    ]  # a run that held nothing out has no validation
    boundaries, first_epoch = [], 1
    for name, run_epochs in runs:
        boundaries.append({"epoch": first_epoch - 0.5, "run": name})
        first_epoch += run_epochs
    for column, (metric, axis_format) in zip(st.columns(2), (("loss", ".3f"), ("accuracy", ".1%"))):
        values = [
            {"epoch": epoch, metric: value, "series": name}
            for prefix, name in (("", "training"), ("val_", "validation"))
            if len(history.get(prefix + metric, [])) == epochs
            for epoch, value in enumerate(history[prefix + metric], start=1)
        ]
        lines = {
            "data": {"values": values},  # inside a layer, so Streamlit sends it as it is, not through Arrow
            "mark": {"type": "line", "point": epochs < 30},
            "encoding": {
                "x": {
                    "field": "epoch",
                    "type": "quantitative",
                    "title": "epoch",
                    "axis": {"tickMinStep": 1, "format": "d"},
                },
                "y": {
                    "field": metric,
                    "type": "quantitative",
                    "title": metric,
                    "scale": {"zero": False},
                    "axis": {"format": axis_format},
                },
                "color": {
                    "field": "series",
                    "type": "nominal",
                    "title": None,
                    "legend": {"orient": "top", "symbolType": "stroke", "symbolStrokeWidth": 3},
                    "scale": {"domain": kept, "range": [SERIES[name][0] for name in kept]},
                },
                "strokeDash": {
                    "field": "series",
                    "type": "nominal",  # merged into the colour's legend
                    "scale": {"domain": kept, "range": [SERIES[name][1] for name in kept]},
                },
                "tooltip": [{"field": "series"}, {"field": "epoch"}, {"field": metric, "format": axis_format}],
            },
        }
        layers = [lines]
        if len(boundaries) > 1:  # a rule and the run's name where each run began
            layers.append(
                {
                    "data": {"values": boundaries},
                    "mark": {"type": "rule", "color": "grey", "strokeDash": [2, 2]},
                    "encoding": {"x": {"field": "epoch", "type": "quantitative"}},
                }
            )
            layers.append(
                {
                    "data": {"values": boundaries},
                    "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 3, "y": 2, "color": "grey"},
                    "encoding": {"x": {"field": "epoch", "type": "quantitative"}, "text": {"field": "run"}},
                }
            )
        last = {
            name: history[prefix + metric][-1]
            for prefix, name in (("", "training"), ("val_", "validation"))
            if history.get(prefix + metric)
        }
        column.vega_lite_chart(
            {"layer": layers},
            height=240,
            width="stretch",
            alt=f"{metric} per epoch over {epochs} epochs; last epoch: "
            + ", ".join(f"{name} {value:{axis_format}}" for name, value in last.items()),
        )


def one_epoch_summary(history: dict[str, list[float]]) -> None:
    """A one-epoch run's figures in words: its training accuracy is an average over the epoch, while the weights
    were still learning, so it sits below the test accuracy of the finished model."""
    if not history.get("accuracy"):
        return
    held_out = history.get("val_accuracy")
    validation = f" and {percent(held_out[-1])} on the images held out" if held_out else ""
    st.caption(
        f"One epoch, so no curves: the training accuracy was {percent(history['accuracy'][-1])} on average "
        f"over the epoch{validation}. That average counts the first batches too, read before the network had "
        "learned much, so it is lower than the test accuracy of the finished model."
    )


def plain_chart(
    columns: dict[str, list],
    x: str,
    series: dict[str, str],
    mark: str,
    x_title: str,
    y_title: str,
    height: int,
    alt: str,
) -> None:
    """A bar or line chart of ``columns``: ``x`` across, one mark per entry of ``series`` (column: colour).

    Written out rather than st.bar_chart/st.line_chart, whose interactive scales and Arrow data make Vega warn in
    the browser console; the data sits inside a layer, so Streamlit sends it as it is and Vega gets it whole.
    """
    points = [
        {x: position, "series": name, "value": value}
        for name in series
        for position, value in zip(columns[x], columns[name])
    ]
    encoding = {
        "x": {
            "field": x,
            "type": "nominal" if mark == "bar" else "quantitative",
            "title": x_title,
            "sort": None,
            "axis": {"labelAngle": 0},
        },
        "y": {"field": "value", "type": "quantitative", "title": y_title, "stack": None},
        "tooltip": [{"field": x}, {"field": "series"}, {"field": "value", "format": ".3g"}],
    }
    if len(series) > 1:
        encoding["color"] = {
            "field": "series",
            "type": "nominal",
            "title": None,
            "legend": {"orient": "top"},
            "scale": {"domain": list(series), "range": list(series.values())},
        }
    else:
        encoding["color"] = {"value": next(iter(series.values()))}
    st.vega_lite_chart(
        {"layer": [{"data": {"values": points}, "mark": {"type": mark, "tooltip": True}, "encoding": encoding}]},
        height=height,
        width="stretch",
        alt=alt,
    )
