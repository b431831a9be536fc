"""The walkthrough notebook runs top to bottom through the public API (on a few records)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"


def test_walkthrough_notebook_executes(mitdb, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("ECGBEAT_MITDB", str(mitdb))
    monkeypatch.setenv("ECGBEAT_NB_RECORDS", "100,208,232")
    monkeypatch.setenv("ECGBEAT_NB_EPOCHS", "2")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "accuracy" in text and "macro-F1" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # beats per class, curves, confusion matrix, predictions, record strip
    assert os.environ["ECGBEAT_NB_EPOCHS"] == "2"
