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
from .io.atomic import atomic_path, json_text, make_folder, write_text_atomic

FORMAT = "ecgbeat-checkpoint/1"


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``NAME.safetensors`` and ``NAME.json``: only a ``.json`` or ``.safetensors`` ending is taken
    off, so a dot in the name stays (``run_lr0.01`` is not ``run_lr0``)."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


#: Keys of ``model.json`` that describe the saved model itself: written from the model, never from ``meta``.
OWN_KEYS = ("format", "model", "model_args", "weights")


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: dict) -> Path:
    """Write weights (safetensors) and metadata (JSON), each atomically. Returns the JSON path.

    ``path`` may end in ``.json``, ``.safetensors`` or nothing; both files share its stem. An
    existing folder, or a path ending in ``/``, is a run folder: ``model.safetensors`` and
    ``model.json`` inside it (what :func:`load_checkpoint` reads for a folder).

    ``meta`` needs ``classes`` and ``preprocessing`` (checked as :func:`load_checkpoint` checks
    them, so what is saved loads). Its ``format``, ``model``, ``model_args`` and ``weights``, if any
    (e.g. ``meta`` of another, loaded checkpoint), are replaced by the saved model's own. The JSON
    is made and checked before anything is written: metadata that is not JSON (a set, an object)
    is an :class:`EcgbeatError` naming the key, and nothing is written or replaced.
    """
    from safetensors.torch import save_file

    weights, info = checkpoint_paths(path, check=False)
    if not hasattr(model, "init_args") or not hasattr(model, "model_name"):
        raise EcgbeatError("save_checkpoint needs a model made by ecgbeat.models.create_model")
    if not isinstance(meta, dict):
        raise EcgbeatError(f"{info}: checkpoint metadata must be a dict, got {type(meta).__name__}")
    doc = {"format": FORMAT, "model": model.model_name, "model_args": model.init_args, "weights": weights.name,
           **{k: v for k, v in meta.items() if k not in OWN_KEYS}}
    for key, value in doc.items():  # name the key that is not JSON, before anything is written
        try:
            json_text({key: value})
        except (TypeError, ValueError) as exc:
            raise EcgbeatError(f"{info}: checkpoint metadata {key!r} is not JSON-serialisable "
                               f"({first_line(exc, 100)}); nothing written") from None
    text = json_text(doc, indent=2) + "\n"  # exactly what write_json_atomic writes
    check_meta(json.loads(text), info, model)  # what load_checkpoint will read: refused now, not then
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    make_folder(info.parent, f"write checkpoint {info.name}")
    try:
        with atomic_path(weights) as tmp:
            save_file(state, str(tmp))
        write_text_atomic(info, text)  # last: the weights it names are complete by now
    except OSError as exc:
        why = exc.strerror or first_line(exc)
        raise EcgbeatError(f"{exc.filename or info}: cannot write checkpoint ({why})") from None
    return info


def checkpoint_paths(path: str | os.PathLike, check: bool = True) -> tuple[Path, Path]:
    """Weights and JSON paths of a checkpoint given as its ``.json``, ``.safetensors`` or run folder
    (its ``model.*``; a folder is an existing one or a path ending in ``/``). With ``check``, an
    existing file of another kind (``model.onnx``, ``last.pt``) is refused by name."""
    text = os.fspath(path)
    path = Path(path)
    if path.is_dir() or str(text).endswith(("/", os.sep)):  # Path() drops a trailing "/": look at the text
        path = path / "model.json"
    elif check and path.is_file() and path.suffix not in (".json", ".safetensors"):
        raise EcgbeatError(f"{path}: not an ecgbeat checkpoint; give its model.json (or the run folder)")
    return _paths(path)


def check_meta(meta: dict, info: Path, model: nn.Module | None = None) -> None:
    """The metadata of checkpoint ``info`` (its ``model.json``) describes a model that can be rebuilt
    and fed, else an :class:`EcgbeatError` naming the file and the key: ``model`` a name,
    ``model_args`` an object, ``classes`` distinct names, ``preprocessing`` valid
    :class:`~ecgbeat.dsp.beats.BeatParams` whose ``n_samples`` is the model's. With ``model``: as
    many classes as it has outputs."""
    from .dsp.beats import BeatParams

    for key in ("model", "model_args", "classes", "preprocessing"):
        if key not in meta:
            raise EcgbeatError(f"{info}: checkpoint metadata lacks {key!r}")
    if not isinstance(meta["model"], str) or not meta["model"]:
        raise EcgbeatError(f"{info}: 'model' must be a model name, got {meta['model']!r}")
    if not isinstance(meta["model_args"], dict):
        raise EcgbeatError(f"{info}: 'model_args' must be an object of model arguments, "
                           f"got {type(meta['model_args']).__name__}")
    classes = meta["classes"]
    if not isinstance(classes, list) or not classes:
        raise EcgbeatError(f"{info}: 'classes' must be a list of class names, got {classes!r:.80}")
    bad = next((c for c in classes if not isinstance(c, str) or not c.strip()), None)
    if bad is not None:
        raise EcgbeatError(f"{info}: 'classes' must be class names (non-empty strings), got {bad!r} in {classes!r:.80}")
    twice = next((c for i, c in enumerate(classes) if c in classes[:i]), None)
    if twice is not None:
        raise EcgbeatError(f"{info}: 'classes' names {twice!r} twice ({', '.join(classes)})")
    params = BeatParams.from_dict(meta["preprocessing"], where=f"{info}: preprocessing")
    n_model, n_beats = meta["model_args"].get("n_samples"), meta["preprocessing"].get("n_samples")
    if n_model is not None and n_beats is not None and n_model != params.n_samples:
        raise EcgbeatError(f"{info}: model_args.n_samples ({n_model}) differs from preprocessing.n_samples "
                           f"({n_beats}); the checkpoint was edited or is corrupt")
    if model is not None:
        _check_outputs(meta, info, model)


def _check_outputs(meta: dict, info: Path, model: nn.Module) -> None:
    """As many class names in ``meta`` as ``model`` has outputs, and inputs ecgbeat can feed it: the
    beat alone or with its template (``in_channels`` 1 or 2), and no features or one feature set of
    :mod:`ecgbeat.features` (``n_features``)."""
    from .features import feature_set_for

    n_out = getattr(model, "n_classes", None)
    if n_out is not None and len(meta["classes"]) != n_out:
        raise EcgbeatError(f"{info}: lists {len(meta['classes'])} class names for a model with {n_out} outputs")
    channels, n_features = getattr(model, "in_channels", 1), getattr(model, "n_features", 0)
    if channels not in (1, 2):
        raise EcgbeatError(f"{info}: model takes {channels} input channels; ecgbeat feeds 1 (beat) "
                           "or 2 (beat, template)")
    if n_features:
        try:
            feature_set_for(n_features)
        except ValueError as exc:
            raise EcgbeatError(f"{info}: model takes {n_features} features, but {exc}") from None


def read_checkpoint_meta(path: str | os.PathLike) -> dict:
    """The JSON metadata of a checkpoint (its ``model.json``, ``.safetensors`` or run folder), validated
    (:func:`check_meta`)."""
    _, info = checkpoint_paths(path)
    if not info.is_file():
        raise EcgbeatError(f"{info}: checkpoint metadata not found")
    try:
        meta = json.loads(info.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EcgbeatError(f"{info}: not valid JSON ({exc})") from None
    except RecursionError:
        raise EcgbeatError(f"{info}: not valid JSON (nested too deeply to read)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise EcgbeatError(f"{info}: not an ecgbeat checkpoint (format must be {FORMAT!r})")
    check_meta(meta, info)
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
    _check_outputs(meta, info, model)  # the rest of meta was checked as it was read
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
