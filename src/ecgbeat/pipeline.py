"""The steps a user runs, as functions: prepare, train, evaluate, plot, demo.

The CLI only parses arguments and calls these. Every result folder gets a ``run.json`` with the
seed, the split and the parameters that made it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from .datasets import build_beats, concat, split_beats
from .dsp.beats import BeatParams
from .errors import EcgbeatError
from .io.atomic import write_json_atomic
from .io.kaggle import load_kaggle_csv, save_kaggle_csv
from .io.mitdb import resolve_mitdb
from .labels import MITDB_RECORDS
from .models import create_model
from .training import TrainConfig, check_seed, resolve_device, set_seed, train
from .types import Split

DEFAULT_MODEL = "lstm"


def cache_dir() -> Path:
    """Where built beats are cached: ``$ECGBEAT_CACHE`` or ``~/.cache/ecgbeat/beats``."""
    base = os.environ.get("ECGBEAT_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ecgbeat" / "beats"


@dataclass(frozen=True)
class DataSpec:
    """Where beats come from: MIT-BIH records (built and split here) or Kaggle CSV files."""

    mitdb: str | None = None
    records: tuple[str, ...] = MITDB_RECORDS
    split: str = "intra"
    seed: int = 0
    train_csv: str | None = None
    test_csv: str | None = None
    val_fraction: float | None = None  # None: the split's default (datasets.VAL_FRACTION)
    val_by: str | None = None  # "beat" or "record"; None: the split's default (datasets.split_beats)
    val_records: tuple[str, ...] | None = None  # held-out training records; None: a fold drawn by the seed
    scaling: str = "fixed"  # BeatParams.scaling of beats built from MIT-BIH

    def __post_init__(self):
        check_seed(self.seed)  # before minutes of building beats: every split and generator takes [0, 2**32)


def _csv_validation_split(train_all, path, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) row indices of a training CSV: a stratified ``val_fraction`` of its beats.

    Classes with a single beat cannot be in both parts: they join the largest class for the
    stratification (as in :func:`ecgbeat.datasets.split_beats`), so that beat lands in one part at
    random. Too few beats for a beat of every class in each part is an :class:`EcgbeatError`."""
    import math

    from sklearn.model_selection import train_test_split

    from .datasets import _fraction, _strata

    val_fraction = _fraction("val_fraction", val_fraction)
    n = len(train_all)
    if n and (train_all.y < 0).any():
        raise EcgbeatError(f"{path}: training beats need labels; this file has none (no label column)")
    strata = _strata(train_all.y) if n else None
    k = 1 if strata is None else len(np.unique(strata))
    n_val = math.ceil(val_fraction * n)
    if n_val < k or n - n_val < k:
        need = f"stratified validation needs {k} (one per class)" if k > 1 else "it needs 1"
        raise EcgbeatError(f"{path}: too few beats to hold out validation: {n} beat(s), of which a validation "
                           f"share of {val_fraction:g} holds {n_val} and training keeps {n - n_val}; {need} "
                           "in each; give a larger training file")
    try:
        fit, val = train_test_split(np.arange(n), test_size=val_fraction, random_state=seed, stratify=strata)
    except ValueError as exc:  # not expected after the checks above; still one line
        raise EcgbeatError(f"{path}: cannot split off validation beats ({exc})") from None
    return np.sort(fit), np.sort(val)


def load_split(spec: DataSpec, progress: bool = False) -> Split:
    """Train / validation / test beats for ``spec`` (the test set is never used for selection).

    From CSV files, validation is a stratified share of the training file's beats
    (:func:`_csv_validation_split`: a class with a single beat joins the largest class)."""
    if spec.train_csv or spec.test_csv:
        if not (spec.train_csv and spec.test_csv):
            raise EcgbeatError("give both --train-csv and --test-csv")
        if spec.val_records:
            raise EcgbeatError("--val-records needs beats built from MIT-BIH records, not Kaggle CSV rows")
        train_all = load_kaggle_csv(spec.train_csv)
        test = load_kaggle_csv(spec.test_csv)
        if (test.y < 0).any():  # a run's test metrics need labels; `predict` is for unlabelled beats
            raise EcgbeatError(f"{spec.test_csv}: has no label column; the test beats of a training run must be "
                               "labelled (`ecgbeat predict` classifies unlabelled ones)")
        val_fraction = spec.val_fraction or 0.1
        fit, val = _csv_validation_split(train_all, spec.train_csv, val_fraction, spec.seed)
        return Split(train=train_all.subset(fit), val=train_all.subset(val),
                     test=test, name="kaggle-csv", seed=spec.seed,
                     info={"train_csv": str(spec.train_csv), "test_csv": str(spec.test_csv),
                           "val_fraction": val_fraction, "beat_params": BeatParams().to_dict()})
    params = BeatParams(scaling=spec.scaling)
    beats = build_beats(spec.records, mitdb=spec.mitdb, params=params, cache_dir=cache_dir(), progress=progress)
    split = split_beats(beats, spec.split, seed=spec.seed, val_fraction=spec.val_fraction, val_by=spec.val_by,
                        val_records=spec.val_records)
    split.info["records"] = list(spec.records)
    split.info["beat_params"] = params.to_dict()
    return split


def prepare(spec: DataSpec, out_dir: str | os.PathLike, write_csv: bool = True, progress: bool = True) -> dict:
    """Build beats from MIT-BIH, split them, write Kaggle-format ``mitbih_train.csv`` /
    ``mitbih_test.csv`` (train = training + validation part) and ``split.json``.

    Returns the written ``paths``, the split ``info`` and the :class:`Split` itself."""
    split = load_split(spec, progress=progress)
    out = Path(out_dir)
    train_all = concat([split.train, split.val])
    paths = {}
    if write_csv:
        paths["train_csv"] = str(save_kaggle_csv(train_all, out / "mitbih_train.csv"))
        paths["test_csv"] = str(save_kaggle_csv(split.test, out / "mitbih_test.csv"))
    info = {"split": split.name, "seed": split.seed, **split.info,
            "counts": {"train": train_all.class_counts(), "test": split.test.class_counts()},
            "mitdb": str(resolve_mitdb(spec.mitdb))}
    paths["split_json"] = str(write_json_atomic(out / "split.json", info))
    return {"paths": paths, "info": info, "split": split}


def train_model(split: Split, out_dir: str | os.PathLike, model_name: str = DEFAULT_MODEL,
                model_args: dict | None = None, config: TrainConfig | None = None,
                resume: bool = False, progress: bool = True,
                features: str | None = None, template: bool = False,
                extra_meta: dict | None = None) -> tuple[Path, dict]:
    """Train a registered model on ``split`` and write ``model.safetensors`` + ``model.json`` and
    ``history.json`` into ``out_dir``. Returns the checkpoint path and its metadata.

    ``features`` names a feature set of :data:`ecgbeat.features.FEATURE_SETS` given to the model
    beside the beat: "rr" (five RR-interval features, what strong inter-patient methods use) or
    "rr+context" (those and the beat against its patient's recent past); both need beats built
    from recordings, not CSVs. ``template`` gives the model each beat's template (the median of its
    patient's previous beats, :mod:`ecgbeat.dsp.context`) as a second input channel.
    ``extra_meta``: more keys for ``model.json`` (e.g. what a refit came from)."""
    from .features import FEATURE_SETS, needs_context
    from .predict import class_mix

    config = config or TrainConfig(seed=split.seed)
    resolve_device(config.device)  # a missing GPU is an error before any work
    model_args = check_model_args(model_name, model_args)
    present = np.unique(split.train.y)
    if len(present) < 2:  # nothing to tell apart: a run would "learn" to say one class
        only = split.train.classes[int(present[0])] if len(present) else "none"
        where = split.info.get("train_csv") or f"the training beats of the {split.name} split"
        raise EcgbeatError(f"{where}: all training beats are of one class ({only}); a classifier needs two or more")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if features:
        if features not in FEATURE_SETS:
            raise EcgbeatError(f"unknown feature set {features!r}; choose from {', '.join(FEATURE_SETS)}")
        model_args["n_features"] = len(FEATURE_SETS[features])
    if template:
        model_args["in_channels"] = 2
    needs_template = needs_context(int(model_args.get("n_features", 0)), int(model_args.get("in_channels", 1)))
    if (features and np.isnan(split.train.rr_s).all()) or (needs_template and split.train.template is None):
        asked = " and ".join(a for a in (features and f"--features {features}", template and "--template") if a)
        raise EcgbeatError(f"{asked} needs beats built from MIT-BIH records (CSV beats have no neighbours)")
    set_seed(config.seed)  # initialisation is part of what --seed fixes
    model = create_model(model_name, n_classes=len(split.train.classes),
                         n_samples=split.train.n_samples, **model_args)
    _check_model_runs(model, model_name, model_args)
    result = train(model, split.train, split.val, config, out_dir=out, resume=resume, progress=progress,
                   data=_data_identity(split))
    meta = {
        "classes": list(split.train.classes),
        "preprocessing": {**BeatParams.from_dict({**split.info.get("beat_params", {}), "fs": split.train.fs,
                                                  "n_samples": split.train.n_samples}).to_dict(),
                          "features": features if getattr(model, "n_features", 0) else None,
                          "channels": ["beat", "template"][:getattr(model, "in_channels", 1)],
                          "lead": "MLII"},
        "train_config": config.__dict__, "lr": result.history[-1].get("peak_lr"),
        "seed": config.seed, "split": split.name,
        "split_info": split.info, "best_epoch": result.best_epoch,
        "val_macro_f1": result.best_val_macro_f1, "train_seconds": round(result.train_seconds, 2),
        "metrics": {"validation": {k: result.history[result.best_epoch - 1][k]
                                   for k in ("val_loss", "val_acc", "val_macro_f1")}}
        if result.best_val_macro_f1 is not None else {},  # a refit has no validation
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "train_prior": [float(v) for v in class_mix(result.model, split.train)],  # for predict.adapt_priors
        # for ecgbeat.smoothing: only whole records count (the intra split's beats are a random part of each,
        # and so are an inter split's training beats validated by beat; its refit trains on all of them)
        "train_transitions": train_transitions(split.train)
        if split.name == "inter" and (split.info.get("val_by") != "beat" or split.info.get("refit")) else None,
        "environment": environment(),
        **(extra_meta or {}),
    }
    write_json_atomic(out / "history.json", result.history)
    path = save_checkpoint(out / "model", result.model, meta)
    return path, meta


#: Model arguments the training data decides (the number of classes and of samples per beat).
DATA_MODEL_ARGS = ("n_classes", "n_samples")


def check_model_args(model_name: str, model_args: dict | None) -> dict:
    """A copy of the user's ``--model-args`` for ``model_name``, or an :class:`EcgbeatError` naming
    the argument: one the data decides (n_classes, n_samples), or an input size no input has
    (``in_channels`` 1 or 2 = ``--template``; ``n_features`` 0 or the size of a feature set, which
    ``--features`` sets). The model's own arguments are checked when it is built
    (:func:`ecgbeat.models.create_model`)."""
    from .features import FEATURE_SETS

    if model_args is None:
        return {}
    if not isinstance(model_args, dict):
        raise EcgbeatError(f"--model-args for model {model_name!r} must be a JSON object, got {model_args!r}")
    args = dict(model_args)
    for name in DATA_MODEL_ARGS:
        if name in args:
            raise EcgbeatError(f"--model-args: {name} of model {model_name!r} is set by the training data, "
                               f"not a model argument; leave out {name!r}")
    sizes = sorted({0, *(len(v) for v in FEATURE_SETS.values())})
    for name, allowed, how in (("in_channels", (1, 2), "use --template for 2"),
                               ("n_features", sizes, "use --features to choose them")):
        if name in args and (isinstance(args[name], bool) or args[name] not in allowed):
            raise EcgbeatError(f"--model-args: {name}={args[name]!r} for model {model_name!r} must be one of "
                               f"{', '.join(map(str, allowed))} ({how})")
    return args


def _check_model_runs(model, model_name: str, model_args: dict) -> None:
    """Run ``model`` once on two blank beats (evaluation mode: no random numbers drawn), so that
    model arguments it accepted but cannot run with fail now, as one line naming them."""
    import torch

    from .errors import first_line

    x = torch.zeros(2, getattr(model, "in_channels", 1), model.n_samples)
    feats = torch.zeros(2, model.n_features) if getattr(model, "n_features", 0) else None
    try:
        model.eval()
        with torch.no_grad():
            out = model(x, feats)
        ok = tuple(out.shape) == (2, model.n_classes)
    except Exception as exc:  # e.g. a dropout of NaN, which PyTorch only checks when it runs
        given = ", ".join(f"{k}={v!r}" for k, v in model_args.items()) or "its default arguments"
        raise EcgbeatError(f"model {model_name!r} with {given} does not run on beats of {model.n_samples} "
                           f"samples: {first_line(exc, 100)}") from None
    finally:
        model.train()
    if not ok:
        raise EcgbeatError(f"model {model_name!r} gives {tuple(out.shape)} outputs for 2 beats, "
                           f"not (2, {model.n_classes})")


def _data_identity(split: Split) -> dict:
    """Where a split's training beats came from, for :func:`ecgbeat.training.run_identity` (a resume
    on other data is refused): the split, its seed and its info (CSV paths resolved; the test
    file, which training never reads, left out)."""
    info = {k: v for k, v in split.info.items() if k not in ("test_csv", "n_test")}
    if info.get("train_csv"):
        info["train_csv"] = str(Path(info["train_csv"]).resolve())
    first = [k for k in ("records", "train_csv") if k in info]  # what the user gave before what follows from it
    return {"split": split.name, "seed": split.seed, **{k: info[k] for k in first},
            **{k: v for k, v in info.items() if k not in first}}


def train_transitions(beats) -> list | None:
    """The class-to-class transitions of labelled training beats (:func:`ecgbeat.smoothing.transition_matrix`),
    JSON-ready; None for beats whose record and position are unknown (Kaggle CSV rows)."""
    from .smoothing import transition_matrix

    record = np.asarray(beats.record).astype(str)
    if not len(beats) or (record == "").any() or (np.asarray(beats.sample) < 0).any():
        return None
    return transition_matrix(beats.y, record, beats.sample, len(beats.classes)).tolist()


def refit_model(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, mitdb: str | None = None,
                progress: bool = True, device: str | None = None) -> tuple[Path, dict]:
    """Train a validated run again on all of its training data: its training *and* validation beats.

    The usual last step after model selection (scikit-learn's ``refit``): the run's validation
    records chose its epoch, and now they train too. Everything else is the run's own, read from its
    ``model.json``: the records, split and seed (so the same test set), the model and its
    hyper-parameters, the inputs, and every training setting. Training stops after the run's best
    validation epoch, within the learning-rate schedule of the run's planned epochs
    (``TrainConfig.stop_epoch``), and keeps those weights. The new ``model.json`` records what it
    was refitted from (``refit_of``); it has no validation score of its own. ``device`` replaces the
    run's device (e.g. "cpu" for a run trained on a GPU); the weights do not depend on it by design,
    though another device computes them in another order.
    """
    from .checkpoint import read_checkpoint_meta

    meta = read_checkpoint_meta(checkpoint)
    info = meta.get("split_info") or {}
    where = f"{checkpoint}: cannot refit"
    if meta.get("split") not in ("intra", "inter") or "records" not in info:
        raise EcgbeatError(f"{where}: it was not trained on MIT-BIH records split by ecgbeat "
                           f"(split {meta.get('split')!r}); refitting rebuilds that split")
    if meta.get("refit_of"):
        raise EcgbeatError(f"{where}: it is a refit already (of {meta['refit_of'].get('checkpoint')}); "
                           "refit that run instead")
    if not meta.get("best_epoch") or not meta.get("train_config"):
        raise EcgbeatError(f"{where}: its model.json has no best epoch or training settings (an ensemble?)")
    params = BeatParams.from_dict(info.get("beat_params", {}))
    spec = DataSpec(mitdb=mitdb, records=tuple(info["records"]), split=meta["split"], seed=int(meta["seed"]),
                    val_fraction=info.get("val_fraction"), val_by=info.get("val_by"), scaling=params.scaling,
                    val_records=tuple(info["val_records"]) if info.get("val_records_given") else None)
    config = TrainConfig.from_dict({**meta["train_config"], "stop_epoch": int(meta["best_epoch"]),
                                    **({"device": device} if device else {})})
    resolve_device(config.device)  # a missing GPU is an error before minutes of data loading
    split = load_split(spec, progress=progress)
    if split.info.get("val_records") != info.get("val_records") or len(split.val) != info.get("n_val"):
        raise EcgbeatError(f"{where}: its split does not rebuild the same validation beats "
                           f"({info.get('val_records')}, {info.get('n_val')} beats)")
    full = concat([split.train, split.val])
    refit = Split(train=full, val=full.subset(np.zeros(0, dtype=np.int64)), test=split.test, name=split.name,
                  seed=split.seed, info={**split.info, "n_train": len(full), "n_val": 0, "val_records": [],
                                         "refit": True})
    model_args = {k: v for k, v in meta["model_args"].items() if k not in ("n_classes", "n_samples", "n_features")}
    refit_of = {"checkpoint": str(Path(checkpoint).resolve()), "best_epoch": int(meta["best_epoch"]),
                "val_records": info.get("val_records"), "val_by": info.get("val_by"),
                "val_macro_f1": meta.get("val_macro_f1")}
    return train_model(refit, out_dir, model_name=meta["model"], model_args=model_args, config=config,
                       progress=progress, features=meta["preprocessing"].get("features"),
                       extra_meta={"refit_of": refit_of})


def evaluate(checkpoint: str | os.PathLike, split: Split, out_dir: str | os.PathLike,
             adapt: str | None = None, af_gate: bool = False, causal: bool = False,
             self_train: str | None = None, smooth: float | str | None = None) -> dict:
    """Evaluate on the split's test set; writes metrics.json, report.md, predictions.csv.
    ``adapt``: per-patient class-mix adaptation (``causal``: from earlier beats only), ``af_gate``: no
    S call in an AF-like rhythm, ``smooth``: beat-to-beat smoothing, ``self_train``: per-patient
    self-training (:func:`ecgbeat.predict.evaluate_beats`)."""
    from .predict import evaluate_checkpoint

    check_in_time_order(split.name, af_gate, smooth)
    return evaluate_checkpoint(checkpoint, split.test, out_dir, adapt, af_gate, causal, self_train, smooth)


def check_in_time_order(split_name: str | None, af_gate: bool = False, smooth=None) -> None:
    """``--af-gate`` and ``--smooth`` need whole recordings in time order (the AF detector reads
    successive RR intervals, smoothing neighbouring beats): only the inter-patient split's test set."""
    for option, given in (("--smooth", smooth is not None), ("--af-gate", af_gate)):
        if given and split_name != "inter":
            raise EcgbeatError(f"{option} needs whole recordings in time order: the inter-patient split (the "
                               f"{split_name} split's test beats are a random part of each record)")


def record_test_metrics(checkpoint: str | os.PathLike, metrics: dict) -> None:
    """Add the headline test metrics to the checkpoint's JSON (atomically; weights untouched)."""
    import json

    path = checkpoint_paths(checkpoint, check=False)[1]  # its .json, a dot in the name kept
    doc = json.loads(path.read_text())
    doc.setdefault("metrics", {})["test"] = {k: metrics[k] for k in ("accuracy", "macro_f1", "n")}
    write_json_atomic(path, doc)


def environment() -> dict:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "git_commit": git_commit()}


def git_commit(where: str | os.PathLike | None = None) -> str | None:
    """Short commit of the repository at ``where`` (default: the one this package is in), or None."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=where or Path(__file__).parent)
        return out.stdout.strip() or None
    except Exception:
        return None


def make_plots(run_dir: str | os.PathLike, split: Split, mitdb: str | None = None,
               strip_record: str = "208") -> list[str]:
    """Write the PNG figures of a run folder (needs model.json and metrics.json; the training curves
    need history.json, which an ensemble's folder lacks)."""
    import json

    from . import viz
    from .io.mitdb import read_record
    from .labels import SYMBOL_TO_CLASS

    run = Path(run_dir)
    fig_dir = run / "figures"
    if not (run / "metrics.json").is_file():
        raise EcgbeatError(f"{run / 'metrics.json'}: not found; write it first with "
                           f"`ecgbeat evaluate {run} --out {run}`")
    model, meta = load_checkpoint(run / "model.json")
    classes = tuple(meta["classes"])
    from .predict import predict_proba

    test = split.test
    rng = np.random.default_rng(split.seed)
    show = test.subset(np.sort(rng.choice(len(test), size=min(4000, len(test)), replace=False)))
    proba = predict_proba(model, show)
    metrics = json.loads((run / "metrics.json").read_text())
    figures = {
        "beats_per_class.png": viz.plot_beats_per_class(split.train.X, split.train.y, classes, fs=test.fs),
        "beats_true_labels.png": viz.plot_beats_with_labels(show.X, show.y, classes, fs=test.fs),
        "beats_predicted.png": viz.plot_predictions(show.X, show.y, proba.argmax(1), classes, fs=test.fs, proba=proba),
        "confusion_matrix.png": viz.plot_confusion_matrix(np.array(metrics["confusion_matrix"]), classes,
                                                          title=f"{meta['model']} on the {split.name} test set"),
    }
    if (run / "history.json").is_file():  # an ensemble was not trained as one: no curves
        figures["training_curves.png"] = viz.plot_training_curves(json.loads((run / "history.json").read_text()))
    folder = resolve_mitdb(mitdb)
    if (folder / f"{strip_record}.hea").is_file():
        rec = read_record(folder, strip_record)
        beat = np.array([s in SYMBOL_TO_CLASS for s in rec.ann_symbol])
        labels = [SYMBOL_TO_CLASS[s] for s in rec.ann_symbol[beat]]
        figures["record_strip.png"] = viz.plot_record_strip(
            rec.signal_mV, rec.fs, rec.ann_sample[beat], labels, start_s=0.0, duration_s=10.0,
            title=f"MIT-BIH record {strip_record}, lead {rec.lead}: reference beat classes")
    written = []
    for name, fig in figures.items():
        viz.save_figure(fig, fig_dir / name)
        written.append(str(fig_dir / name))
    return written


def run_demo(mitdb: str | None = None, runs_dir: str | os.PathLike = "runs", split: str = "intra",
             seed: int = 0, model_name: str = DEFAULT_MODEL, config: TrainConfig | None = None,
             records: tuple[str, ...] = MITDB_RECORDS, progress: bool = True,
             scaling: str = "fixed") -> dict:
    """prepare -> train -> evaluate -> plot into a fresh ``runs/<timestamp>/`` folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run = Path(runs_dir) / stamp
    k = 1
    while run.exists():
        run, k = Path(runs_dir) / f"{stamp}-{k}", k + 1
    run.mkdir(parents=True)
    t0 = time.perf_counter()
    spec = DataSpec(mitdb=mitdb, records=tuple(records), split=split, seed=seed, scaling=scaling)
    prepared = prepare(spec, run / "data", progress=progress)
    data_s = time.perf_counter() - t0
    data = prepared["split"]
    config = config or TrainConfig(seed=seed)
    ckpt, meta = train_model(data, run, model_name=model_name, config=config, progress=progress)
    metrics = evaluate(ckpt, data, run)
    record_test_metrics(ckpt, metrics)
    figures = make_plots(run, data, mitdb=mitdb)
    summary = {"run_dir": str(run), "checkpoint": str(ckpt), "metrics": str(run / "metrics.json"),
               "report": str(run / "report.md"), "figures": figures, **prepared["paths"],
               "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
               "majority_baseline_accuracy": metrics["majority_baseline_accuracy"],
               "model": model_name, "split": split, "seed": seed,
               "train_seconds": meta["train_seconds"], "data_seconds": round(data_s, 1),
               "total_seconds": round(time.perf_counter() - t0, 1), "environment": meta["environment"]}
    write_json_atomic(run / "run.json", summary)
    return summary
