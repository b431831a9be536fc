"""Checkpoints that never execute code on load: ``NAME.safetensors`` + ``NAME.json``.

The JSON holds everything needed to rebuild the model and to preprocess new input exactly as in
training: model name and constructor arguments, class names, beat parameters (fs, n_samples,
window, RR factor), the training configuration, seed, split and metrics.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch.nn as nn

from .errors import EcgbeatError, first_line
from .io.atomic import atomic_path, write_json_atomic

FORMAT = "ecgbeat-checkpoint/1"


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_suffix(".safetensors"), path.with_suffix(".json")


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: dict) -> Path:
    """Write weights (safetensors) and metadata (JSON), each atomically. Returns the JSON path.

    ``path`` may end in ``.json``, ``.safetensors`` or nothing; both files share its stem.
    """
    from safetensors.torch import save_file

    weights, info = _paths(path)
    if not hasattr(model, "init_args") or not hasattr(model, "model_name"):
        raise ValueError("save_checkpoint needs a model made by ecgbeat.models.create_model")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    doc = {"format": FORMAT, "model": model.model_name, "model_args": model.init_args,
           "weights": weights.name, **meta}
    write_json_atomic(info, doc)
    return info


def read_checkpoint_meta(path: str | os.PathLike) -> dict:
    """The JSON metadata of a checkpoint, validated."""
    _, info = _paths(path)
    if not info.is_file():
        raise EcgbeatError(f"{info}: checkpoint metadata not found")
    try:
        meta = json.loads(info.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EcgbeatError(f"{info}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise EcgbeatError(f"{info}: not an ecgbeat checkpoint (format must be {FORMAT!r})")
    for key in ("model", "model_args", "classes", "preprocessing"):
        if key not in meta:
            raise EcgbeatError(f"{info}: checkpoint metadata lacks {key!r}")
    return meta


def load_checkpoint(path: str | os.PathLike) -> tuple[nn.Module, dict]:
    """Rebuild the model from the JSON and load the safetensors weights (no pickle, no code)."""
    from safetensors.torch import load_file

    from .models import create_model

    weights, info = _paths(path)
    meta = read_checkpoint_meta(info)
    if not weights.is_file():
        raise EcgbeatError(f"{weights}: checkpoint weights not found")
    try:
        model = create_model(meta["model"], **meta["model_args"])
    except (ValueError, TypeError) as exc:
        raise EcgbeatError(f"{info}: cannot rebuild model: {exc}") from None
    try:
        state = load_file(str(weights))
        model.load_state_dict(state)
    except Exception as exc:
        raise EcgbeatError(f"{weights}: weights do not fit model {meta['model']!r} "
                           f"({first_line(exc, 120)})") from None
    model.eval()
    return model, meta
