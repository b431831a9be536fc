"""ONNX export of a trained model (needs the ``onnx`` extra: ``pip install ecgbeat[onnx]``)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .errors import EcgbeatError, first_line
from .io.atomic import atomic_path


def onnx_opsets() -> tuple[int, int]:
    """The ONNX opset versions the installed torch's (TorchScript) exporter accepts, lowest and highest."""
    try:
        from torch.onnx import _constants as c

        low = int(c.ONNX_MIN_OPSET)
        high = int(getattr(c, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", c.ONNX_MAX_OPSET))
    except (ImportError, AttributeError, TypeError, ValueError):  # private constants moved: torch 2.x's range
        low, high = 7, 20
    return low, high


def export_onnx(model, path: str | os.PathLike, opset: int = 17) -> Path:
    """Write ``model`` as ONNX with a dynamic batch axis: input ``x`` (batch, C, n_samples)
    [+ ``features`` (batch, n_features)], output ``logits`` (batch, n_classes). Atomic.

    Parameters
    ----------
    model : nn.Module, (nn.Module, dict) or str / os.PathLike
        A model, a ``(model, meta)`` pair from :func:`ecgbeat.checkpoint.load_checkpoint`, or a
        checkpoint path (loaded here).
    path : str or os.PathLike
        The ``.onnx`` file to write (not a folder; not one of the checkpoint's own files).
    opset : int, default 17
        ONNX opset version, within :func:`onnx_opsets` (7..20 for torch 2.x); some models need a
        higher one (the LSTMs 11, the transformer 14).

    Raises
    ------
    EcgbeatError
        Not a model, an opset outside the exporter's range or too low for the model's operators
        (torch's reason in one line; the graph dump torch prints then is hidden), a folder as
        ``path``, an unwritable ``path``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise EcgbeatError(f"export path must be a file path, got {type(path).__name__}")
    target = Path(path)
    low, high = onnx_opsets()
    if isinstance(opset, (bool, np.bool_)) or not isinstance(opset, (int, np.integer)) or not low <= opset <= high:
        raise EcgbeatError(f"ONNX opset must be a whole number from {low} to {high} (this torch {torch.__version__}), "
                           f"got {opset!r}")
    if target.is_dir():
        raise EcgbeatError(f"{target}: is a folder; give the .onnx file to write")
    if isinstance(model, (str, os.PathLike)):
        from .checkpoint import checkpoint_paths, load_checkpoint

        if target.resolve() in {p.resolve() for p in checkpoint_paths(model, check=False)}:
            raise EcgbeatError(f"{target}: is a file of the checkpoint being exported; write the ONNX file elsewhere")
        model, _ = load_checkpoint(model)
    elif isinstance(model, tuple) and len(model) == 2 and isinstance(model[1], dict):
        model = model[0]  # a (model, meta) pair from load_checkpoint
    if not isinstance(model, nn.Module) or not hasattr(model, "n_samples") or not hasattr(model, "in_channels"):
        raise EcgbeatError(f"export_onnx() takes an ecgbeat model, a (model, meta) pair or a checkpoint path, "
                           f"got {type(model).__name__}")
    modes = {m: m.training for m in model.modules()}  # exported in eval mode (no dropout); each
    model.eval()  # module's own mode is given back (a frozen batch norm stays in eval)
    try:
        _export(model, target, int(opset))
    finally:
        for m, training in modes.items():
            m.training = training
    return target


def _export(model: nn.Module, target: Path, opset: int) -> None:
    x = torch.zeros(2, model.in_channels, model.n_samples)
    args, names, axes = (x,), ["x"], {"x": {0: "batch"}, "logits": {0: "batch"}}
    if getattr(model, "n_features", 0):
        args += (torch.zeros(2, model.n_features),)
        names.append("features")
        axes["features"] = {0: "batch"}
    try:
        with atomic_path(target) as tmp, warnings.catch_warnings(), _native_output_hidden():
            # the tracer's notes on Python control flow over fixed shapes, and ONNX's note that an LSTM
            # traced with one batch size may not run at others: the dynamic batch axis is tested to run
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=".*batch.*LSTM|.*LSTM.*batch", category=UserWarning)
            try:
                torch.onnx.export(model, args, str(tmp), input_names=names, output_names=["logits"],
                                  dynamic_axes=axes, opset_version=opset, dynamo=False)
            except OSError:
                raise
            except Exception as exc:  # an operator the opset lacks, ...: torch's own first line
                name = getattr(model, "model_name", type(model).__name__)
                reason = first_line(exc, 300).split("[Caused by")[0].strip()  # not torch's graph node
                raise EcgbeatError(f"{target}: cannot export model {name!r} to ONNX opset {opset} ({reason})") from None
    except OSError as exc:
        raise EcgbeatError(f"{exc.filename or target}: cannot write the ONNX file ({exc.strerror or exc})") from None


_HIDING = threading.Lock()  # one redirection at a time: two would restore each other's sink


def _flush_all() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):  # C stdio buffers too, so nothing crosses the redirection
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def _native_output_hidden():
    """Hide what native code prints on file descriptors 1 and 2 (torch's ONNX exporter prints the
    whole TorchScript graph when an operator fails to export, whatever its ``verbose``); restored after.
    Process-wide while it lasts (other threads' output to those descriptors is hidden too)."""
    with _HIDING:
        _flush_all()
        saved = []
        try:
            for fd in (1, 2):
                saved.append((fd, os.dup(fd)))
        except OSError:  # no such descriptors (embedded interpreter): nothing to hide
            for _, copy in saved:
                os.close(copy)
            yield
            return
        with tempfile.TemporaryFile() as sink:
            try:
                for fd, _ in saved:
                    os.dup2(sink.fileno(), fd)
                yield
            finally:
                _flush_all()
                for fd, copy in saved:
                    os.dup2(copy, fd)
                    os.close(copy)
