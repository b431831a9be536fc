"""Checkpoints that never execute code on load: ``NAME.safetensors`` + ``NAME.json``.

The JSON holds everything needed to rebuild the model and to preprocess new input exactly as in
training: model name and constructor arguments, class names, beat parameters (fs, n_samples,
window, RR factor), the training configuration, seed, split and metrics.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
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


def checkpoint_paths(path: str | os.PathLike, check: bool = True) -> tuple[Path, Path]:
    """Weights and JSON paths of a checkpoint given as its ``.json``, ``.safetensors`` or run folder
    (its ``model.*``). With ``check``, an existing file of another kind (``model.onnx``,
    ``last.pt``) is refused by name."""
    path = Path(path)
    if path.is_dir() or str(path).endswith(("/", os.sep)):
        path = path / "model.json"
    elif check and path.is_file() and path.suffix not in (".json", ".safetensors"):
        raise EcgbeatError(f"{path}: not an ecgbeat checkpoint; give its model.json (or the run folder)")
    return _paths(path)


def read_checkpoint_meta(path: str | os.PathLike) -> dict:
    """The JSON metadata of a checkpoint (its ``model.json``, ``.safetensors`` or run folder), validated."""
    _, info = checkpoint_paths(path)
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

    from .models import build_model

    weights, info = checkpoint_paths(path)
    meta = read_checkpoint_meta(info)
    if not weights.is_file():
        raise EcgbeatError(f"{weights}: checkpoint weights not found")
    try:
        model = build_model(meta["model"], meta["model_args"])
    except (ValueError, TypeError) as exc:
        raise EcgbeatError(f"{info}: cannot rebuild model: {exc}") from None
    n_model, n_beats = meta["model_args"].get("n_samples"), meta["preprocessing"].get("n_samples")
    if n_model is not None and n_beats is not None and n_model != n_beats:
        raise EcgbeatError(f"{info}: model_args.n_samples ({n_model}) differs from preprocessing.n_samples "
                           f"({n_beats}); the checkpoint was edited or is corrupt")
    n_out = getattr(model, "n_classes", None)
    if not isinstance(meta["classes"], list) or (n_out is not None and len(meta["classes"]) != n_out):
        raise EcgbeatError(f"{info}: lists {len(meta['classes']) if isinstance(meta['classes'], list) else 'no'} "
                           f"class names for a model with {n_out} outputs")
    try:
        state = load_file(str(weights))
        model.load_state_dict(state)
    except Exception as exc:
        raise EcgbeatError(f"{weights}: weights do not fit model {meta['model']!r} "
                           f"({first_line(exc, 120)})") from None
    model.eval()
    return model, meta


def _test_set(meta: dict) -> tuple:
    """What decides a checkpoint's test set: the split, its records or test file, and for the
    intra-patient split (a random partition of all beats) the seed and the test fraction."""
    info = meta.get("split_info") or {}
    intra = meta.get("split") == "intra"
    return (meta.get("split"), tuple(info.get("records") or ()), tuple(info.get("test_records") or ()),
            info.get("test_csv"), meta.get("seed") if intra else None, info.get("test_fraction") if intra else None)


def save_ensemble(paths: list[str | os.PathLike], out: str | os.PathLike) -> tuple[Path, dict]:
    """Combine trained checkpoints into one :class:`~ecgbeat.models.Ensemble` checkpoint at
    ``out`` (averaging their class probabilities). Returns its JSON path and metadata.

    The members must take the same beats (classes and ``preprocessing`` equal) and share one test
    set, so the ensemble can be evaluated honestly: models of the inter-patient split with any
    seeds, or models of one intra-patient seed (a different seed draws other test beats, which
    another member trained on)."""
    from .models import Ensemble

    if len(paths) < 2:
        raise EcgbeatError(f"an ensemble needs at least 2 checkpoints, got {len(paths)}")
    out = checkpoint_paths(out, check=False)[1]  # a run folder: its model.json
    members = [checkpoint_paths(p, check=False)[1].resolve() for p in paths]
    twice = next((p for i, p in enumerate(paths) if members[i] in members[:i]), None)
    if twice is not None:
        raise EcgbeatError(f"{twice}: given twice; an ensemble's members are different checkpoints")
    if out.resolve() in members:
        raise EcgbeatError(f"{out}: is one of the members; write the ensemble elsewhere")
    loaded = [load_checkpoint(p) for p in paths]
    first_path, (_, first) = paths[0], loaded[0]
    for path, (_, meta) in zip(paths, loaded):
        if meta["model"] == "ensemble":
            raise EcgbeatError(f"{path}: is an ensemble already; combine its members instead")
    for path, (_, meta) in zip(paths[1:], loaded[1:]):
        for key, what in (("classes", "classes"), ("preprocessing", "beat preprocessing")):
            if meta[key] != first[key]:
                raise EcgbeatError(f"{path}: {what} differ from {first_path}'s ({meta[key]} vs {first[key]})")
        if _test_set(meta) != _test_set(first):
            raise EcgbeatError(
                f"{path}: trained on another split than {first_path} ({meta.get('split')} seed "
                f"{meta.get('seed')} vs {first.get('split')} seed {first.get('seed')}); members must "
                "share one test set: inter-patient models of any seed, or intra-patient models of one seed")
    try:
        ensemble = Ensemble([model for model, _ in loaded])
    except ValueError as exc:
        raise EcgbeatError(f"cannot combine {', '.join(map(str, paths))}: {exc}") from None
    seeds = [meta.get("seed") for _, meta in loaded]
    meta = {
        "classes": first["classes"], "preprocessing": first["preprocessing"],
        "split": first.get("split"), "seed": seeds[0] if len(set(seeds)) == 1 else None,
        "split_info": {k: v for k, v in (first.get("split_info") or {}).items()
                       if all((m.get("split_info") or {}).get(k) == v for _, m in loaded)},
        "members": [{"checkpoint": str(p), "model": m["model"], "seed": m.get("seed"),
                     "best_epoch": m.get("best_epoch"), "val_macro_f1": m.get("val_macro_f1"),
                     "train_seconds": m.get("train_seconds"), "metrics": m.get("metrics")}
                    for p, (_, m) in zip(paths, loaded)],
        "n_parameters": int(sum(p.numel() for p in ensemble.parameters())),
    }
    priors = [m.get("train_prior") for _, m in loaded]
    if all(priors):  # the members' mean probability over their training beats, averaged like them
        meta["train_prior"] = [sum(col) / len(col) for col in zip(*priors)]
    transitions = [m.get("train_transitions") for _, m in loaded]
    if all(transitions):  # the members' class-to-class transitions (ecgbeat.smoothing), averaged
        meta["train_transitions"] = np.mean(np.asarray(transitions, dtype=np.float64), axis=0).tolist()
    return save_checkpoint(out, ensemble, meta), meta
