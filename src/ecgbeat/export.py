"""ONNX export of a trained model (needs the ``onnx`` extra: ``pip install ecgbeat[onnx]``)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from .io.atomic import atomic_path


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int = 17) -> Path:
    """Write ``model`` as ONNX with a dynamic batch axis: input ``x`` (batch, C, n_samples)
    [+ ``features`` (batch, n_features)], output ``logits`` (batch, n_classes). Atomic."""
    model = model.eval()
    x = torch.zeros(2, model.in_channels, model.n_samples)
    args, names, axes = (x,), ["x"], {"x": {0: "batch"}, "logits": {0: "batch"}}
    if getattr(model, "n_features", 0):
        args += (torch.zeros(2, model.n_features),)
        names.append("features")
        axes["features"] = {0: "batch"}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # the tracer's notes on Python control flow over fixed shapes, and ONNX's note that an LSTM
        # traced with one batch size may not run at others: the dynamic batch axis is tested to run
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*batch.*LSTM|.*LSTM.*batch", category=UserWarning)
        torch.onnx.export(model, args, str(tmp), input_names=names, output_names=["logits"],
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    return Path(path)
