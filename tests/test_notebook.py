"""The tutorial notebook: committed without outputs, and it runs top to bottom (on a small subset) in a real kernel."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support import REPO

NOTEBOOK = REPO / "notebooks" / "tutorial.ipynb"


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_notebook_is_valid_and_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert code_cells(notebook)
    for cell in code_cells(notebook):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


@pytest.mark.slow
def test_the_notebook_trains_evaluates_reads_a_photo_and_shows_feature_maps(mnist, monkeypatch):
    monkeypatch.setenv("TUTORIAL_TRAIN_IMAGES", "500")  # a few hundred images and one epoch: the suite's budget
    monkeypatch.setenv("TUTORIAL_EPOCHS", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend turns each figure into a PNG output
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # started in notebooks/, as a learner's Jupyter would: the notebook must find digitlib one folder up
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    printed = "".join(
        output.get("text", "")
        for cell in code_cells(notebook)
        for output in cell.outputs
        if output.output_type == "stream"
    )
    figures = [
        output
        for cell in code_cells(notebook)
        for output in cell.outputs
        if output.output_type == "display_data" and "image/png" in output.data
    ]
    assert "epoch 1/1: loss" in printed
    assert "test accuracy" in printed and "on 10,000 digits" in printed
    assert "the shipped default model reads '2026'" in printed
    layers = [
        output
        for cell in code_cells(notebook)
        if "feature_maps(model" in cell.source
        for output in cell.outputs
        if output in figures
    ]
    assert len(layers) == 5  # compact: three convolutions, two poolings, one figure each
    assert len(figures) == 5 + 6  # and the MNIST samples, confusion matrix, photo, its steps, its digits, filters
