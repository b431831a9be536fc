"""The training loop: Adam + cross-entropy, best epoch by validation macro-F1, resume.

Read it top to bottom: ``train`` builds loaders, then for each epoch trains, validates, keeps the
best weights and writes a resumable state (``last.pt``, loaded with ``weights_only=True``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import EcgbeatError, check_seed, first_line, is_finite_real, is_whole
from .features import inputs_for
from .io.atomic import atomic_path
from .metrics import classification_metrics
from .types import BeatSet

#: Beats per forward pass at inference. On the 2-core development CPU, PyTorch classifies 1.7-2.4x
#: more beats per second in batches of ~1,000 than of 8,192 (``benchmarks/results/inference.md``).
INFERENCE_BATCH = 1024


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (flat, JSON-able).

    class_weight : {"none", "sqrt", "balanced"}
        Loss class weights: none, 1/sqrt(frequency), or 1/frequency (normalised).
    loss : {"cross_entropy", "focal"}
        Cross-entropy, or the focal loss of Lin et al. 2017 (``focal_gamma``; 0 = cross-entropy),
        which lowers the weight of beats the model already gets right.
    sampler : {"shuffle", "sqrt", "balanced"}
        Order of the training beats per epoch: a shuffle, or drawn with replacement with
        probability 1/sqrt(class frequency) or 1/frequency (balanced classes per batch).
    schedule : {"onecycle", "cosine", "constant"}
        Learning-rate schedule over all epochs.
    lr : float or None
        Peak learning rate; ``None`` takes the model's ``default_lr`` (1e-3 when it has none).
    augment : bool
        Random amplitude scaling, baseline wander, Gaussian noise and small time shifts.
    patience : int
        Stop after this many epochs without a better validation macro-F1 (0 = never).
    stop_epoch : int
        Stop after this epoch of a run planned for ``epochs`` (the learning-rate schedule still spans
        all of them) and keep its weights, with or without a validation set: how a validated run is
        refitted on all of its training data (:func:`ecgbeat.pipeline.refit_model`). 0 = train every
        epoch and keep the best validation epoch.
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float | None = None
    weight_decay: float = 0.0
    class_weight: str = "none"
    loss: str = "cross_entropy"
    focal_gamma: float = 2.0
    sampler: str = "shuffle"
    schedule: str = "onecycle"
    augment: bool = False
    patience: int = 0
    seed: int = 0
    device: str = "auto"
    max_threads: int = 0
    grad_clip: float = 1.0
    stop_epoch: int = 0

    def __post_init__(self):
        choices = {"class_weight": ("none", "sqrt", "balanced"), "loss": ("cross_entropy", "focal"),
                   "sampler": ("shuffle", "sqrt", "balanced"), "schedule": ("onecycle", "cosine", "constant")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise EcgbeatError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for name, low in (("epochs", 1), ("batch_size", 1), ("patience", 0), ("max_threads", 0), ("stop_epoch", 0)):
            value = getattr(self, name)
            if not is_whole(value) or value < low:
                raise EcgbeatError(f"{name} must be a whole number >= {low}, got {value!r}")
        # non-finite values pass "<= 0" tests and reach torch as a traceback (lr=nan) or a NaN loss
        for name, strict in (("lr", True), ("weight_decay", False), ("focal_gamma", False), ("grad_clip", True)):
            value = getattr(self, name)
            if name == "lr" and value is None:
                continue
            if not (is_finite_real(value) and (value > 0 if strict else value >= 0)):
                raise EcgbeatError(f"{name} must be a finite number {'>' if strict else '>='} 0, got {value!r}")
        if not isinstance(self.augment, bool):
            raise EcgbeatError(f"augment must be true or false, got {self.augment!r}")
        check_seed(self.seed)
        check_device_name(self.device)
        if not 0 <= self.stop_epoch <= self.epochs:
            raise EcgbeatError(f"stop_epoch must be between 0 and epochs ({self.epochs}), got {self.stop_epoch}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise EcgbeatError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**values)


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict]
    best_epoch: int
    best_val_macro_f1: float | None
    train_seconds: float
    config: TrainConfig
    extra: dict = field(default_factory=dict)


#: Device types training and inference can run on (``torch.device`` knows more, e.g. "meta").
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")


def check_device_name(device) -> torch.device | None:
    """The ``torch.device`` that ``device`` names (None for "auto"), or an :class:`EcgbeatError`
    when it names none. Whether the device is present is :func:`resolve_device`'s check."""
    if device == "auto":
        return None
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in DEVICE_TYPES:
        raise EcgbeatError(f"--device {device!r} is not a device; use auto, cpu, cuda, cuda:N, mps or xpu")
    return parsed


def resolve_device(device: str = "auto") -> torch.device:
    """``device`` as a ``torch.device`` ("auto": the GPU when there is one), checked to be present."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    parsed = check_device_name(device)
    if parsed.type == "cpu":
        return parsed
    build = f"torch {torch.__version__}"
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            why = f"{build}, a CPU-only build" if torch.version.cuda is None else f"{build}, no GPU found"
            raise EcgbeatError(f"--device {device}: no CUDA device available ({why}); use --device cpu or auto")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise EcgbeatError(f"--device {device}: there is no CUDA device {parsed.index} "
                               f"({count} found: cuda:0 to cuda:{count - 1})")
        return parsed
    backend = getattr(torch.backends, parsed.type, None) if parsed.type == "mps" else getattr(torch, parsed.type, None)
    if backend is None or not backend.is_available():
        raise EcgbeatError(f"--device {device}: no {parsed.type.upper()} device available ({build}); "
                           "use --device cpu or auto")
    return parsed


def set_seed(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    return torch.Generator().manual_seed(seed)


def class_weights(y: np.ndarray, n_classes: int, mode: str) -> torch.Tensor | None:
    if mode == "none":
        return None
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    counts[counts == 0] = 1.0
    w = 1.0 / (np.sqrt(counts) if mode == "sqrt" else counts)
    return torch.tensor(w * n_classes / w.sum(), dtype=torch.float32)


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_true)^gamma, optionally
    class-weighted (weighted mean, as ``nn.CrossEntropyLoss``). gamma = 0 is cross-entropy."""

    def __init__(self, weight: torch.Tensor | None = None, gamma: float = 2.0):
        super().__init__()
        self.register_buffer("weight", weight)
        self.gamma = float(gamma)

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(logits, dim=1).gather(1, y[:, None])[:, 0]
        loss = -((1.0 - logp.exp()) ** self.gamma) * logp
        if self.weight is None:
            return loss.mean()
        w = self.weight[y]
        return (w * loss).sum() / w.sum()


def augment_batch(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Amplitude scaling, baseline wander, Gaussian noise and a time shift of up to 3 samples."""
    b, _, t = x.shape
    mask = (x != 0).float()  # keep the zero padding zero, as in real beats
    scale = 1.0 + 0.1 * torch.randn(b, 1, 1, generator=gen)
    phase = 2 * np.pi * torch.rand(b, 1, 1, generator=gen)
    freq = 0.1 + 0.4 * torch.rand(b, 1, 1, generator=gen)  # cycles per beat
    wander = 0.03 * torch.sin(2 * np.pi * freq * torch.linspace(0, 1, t).view(1, 1, t) + phase)
    noise = 0.01 * torch.randn(x.shape, generator=gen)
    x = (x * scale + (wander + noise) * mask).clamp(0.0, 1.0) * mask
    shift = int(torch.randint(-3, 4, (1,), generator=gen))
    return torch.roll(x, shift, dims=2) if shift else x


def _loader(X, feats, y, batch_size, gen, sampler: str = "shuffle"):
    tensors = [torch.from_numpy(X), torch.from_numpy(y)]
    if feats is not None:
        tensors.append(torch.from_numpy(feats))
    data = torch.utils.data.TensorDataset(*tensors)
    if sampler != "shuffle":  # classes drawn with probability ~ 1/frequency (or its square root)
        per_class = class_weights(y, int(y.max()) + 1, sampler).numpy()
        draw = torch.utils.data.WeightedRandomSampler(torch.from_numpy(per_class[y].astype(np.float64)),
                                                      num_samples=len(y), replacement=True, generator=gen)
        return torch.utils.data.DataLoader(data, batch_size=batch_size, sampler=draw)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, generator=gen)


def check_batch_size(batch_size) -> int:
    """``batch_size`` when it is a whole number >= 1, else a one-line :class:`EcgbeatError`
    (a negative size gives no batches at all, 0 a bare ``range()`` error)."""
    if not is_whole(batch_size) or batch_size < 1:
        raise EcgbeatError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    return int(batch_size)


def nonfinite_inputs(X: np.ndarray, feats: np.ndarray | None = None) -> tuple[str, np.ndarray] | None:
    """The first kind of model input (:func:`ecgbeat.features.model_inputs`) that is not finite in
    some beats, and those beats' indices: ``("samples", idx)``, ``("template samples", idx)`` or
    ``("RR/context features", idx)``; None when every input is finite."""
    parts = [("samples", X[:, 0]), ("template samples", X[:, 1] if X.shape[1] > 1 else None),
             ("RR/context features", feats)]
    for what, values in parts:
        if values is not None:
            bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
            if len(bad):
                return what, bad
    return None


def check_training_beats(model: nn.Module, beats: BeatSet, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The inputs ``model`` takes for ``beats`` (:func:`inputs_for`), checked to be trainable:
    beats of the model's length, labels in 0..n_classes-1 (no unlabelled beats) and every input
    finite. Else a one-line :class:`EcgbeatError` naming the set (``name``), the count of offending
    beats and the first one's index."""
    n_samples = getattr(model, "n_samples", None)
    if n_samples is not None and beats.n_samples != n_samples:
        raise EcgbeatError(f"{name}: the model takes beats of {n_samples} samples, these have {beats.n_samples} "
                           f"(create the model with n_samples={beats.n_samples})")
    y = np.asarray(beats.y)
    if y.dtype.kind not in "iu":
        raise EcgbeatError(f"{name}: labels must be class indices (whole numbers), got {y.dtype} values")
    n_classes = model.n_classes
    bad = np.flatnonzero(y < 0)
    if len(bad):
        raise EcgbeatError(f"{name}: {len(bad)} beat(s) unlabelled (label {y[bad[0]]}), the first at index {bad[0]}; "
                           "training needs labelled beats: leave the others out")
    bad = np.flatnonzero(y >= n_classes)
    if len(bad):
        raise EcgbeatError(f"{name}: {len(bad)} label(s) outside 0..{n_classes - 1} (the model's {n_classes} "
                           f"classes), the first at index {bad[0]}: {y[bad[0]]}")
    return finite_inputs(model, beats, f"{name}: ", "leave such beats out (or repair them) before training")


def finite_inputs(model: nn.Module, beats: BeatSet, where: str, advice: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The inputs ``model`` takes for ``beats`` (:func:`inputs_for`), or a one-line
    :class:`EcgbeatError` (``where`` first, ``advice`` last) when some beat's are not finite."""
    X, feats = inputs_for(model, beats)
    found = nonfinite_inputs(X, feats)
    if found is not None:
        what, bad = found
        raise EcgbeatError(f"{where}{len(bad)} of {len(beats)} beat(s) with non-finite (NaN or inf) {what}, "
                           f"the first at index {bad[0]}; {advice}")
    return X, feats


def _int64_labels(beats: BeatSet) -> BeatSet:
    return beats if beats.y.dtype == np.int64 else dataclasses.replace(beats, y=beats.y.astype(np.int64))


@torch.no_grad()
def predict_logits(model: nn.Module, X: np.ndarray, feats: np.ndarray | None = None,
                   batch_size: int = INFERENCE_BATCH, device: torch.device | str = "cpu") -> np.ndarray:
    """Logits (n, n_classes) for model inputs X (n, C, T) in evaluation mode."""
    check_batch_size(batch_size)
    model.eval()
    out = []
    for start in range(0, len(X), batch_size):
        xb = torch.from_numpy(X[start:start + batch_size]).to(device)
        fb = None if feats is None else torch.from_numpy(feats[start:start + batch_size]).to(device)
        out.append(model(xb, fb).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.n_classes), dtype=np.float32)


#: OneCycleLR settings: the share of the steps warming up, and peak / start and start / end lr (its defaults).
ONECYCLE_PCT_START, ONECYCLE_DIV, ONECYCLE_FINAL_DIV = 0.2, 25.0, 1e4


def _make_scheduler(opt, lr: float, config: TrainConfig, steps_per_epoch: int):
    """The learning-rate schedule over all ``epochs * steps_per_epoch`` optimiser steps.

    "onecycle" is PyTorch's OneCycleLR (a warm-up over the first 20 % of the steps, then a cosine
    down to lr / 2.5e5). With 5 steps or fewer the warm-up is shorter than a step: OneCycleLR then
    divides by zero (exactly 5) or starts half-way down its cosine (1 step: lr / 2.5e5, no training
    at all). Such runs skip the warm-up instead: the cosine from the peak lr, over the steps."""
    total = config.epochs * steps_per_epoch
    if config.schedule == "onecycle":
        if float(ONECYCLE_PCT_START * total) - 1 > 0:  # OneCycleLR's last warm-up step is after step 0
            return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total,
                                                       pct_start=ONECYCLE_PCT_START)
        final = 1.0 / (ONECYCLE_DIV * ONECYCLE_FINAL_DIV)
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)))
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)


#: Training options that may differ in a resumed run: where and how fast it runs, and when it stops early.
RESUME_MAY_CHANGE = ("device", "max_threads", "patience")


def run_identity(model: nn.Module, train_set: BeatSet, val_set: BeatSet | None, config: TrainConfig,
                 data: dict | None = None) -> dict:
    """What makes a training run this run, JSON-ready and in the order a resume compares it: the
    model and its arguments, the classes and beats it learns from (``data``: how they were made,
    e.g. the records and split, from :func:`ecgbeat.pipeline.train_model`) and the training options."""
    options = {k: v for k, v in dataclasses.asdict(config).items() if k not in RESUME_MAY_CHANGE + ("epochs",)}
    key = {"model": getattr(model, "model_name", type(model).__name__),
           **{f"model argument {k}": v for k, v in (getattr(model, "init_args", None) or {}).items()},
           "classes": list(train_set.classes),
           **{f"data {k}": v for k, v in (data or {}).items()},
           "training beats per class": np.bincount(train_set.y, minlength=len(train_set.classes)).tolist(),
           "validation beats": 0 if val_set is None else len(val_set),
           **{f"training option {k}": v for k, v in options.items()}}
    flat = {}
    for name, value in key.items():  # one entry per setting, so a refusal names the one that differs
        if isinstance(value, dict):
            flat.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            flat[name] = value
    return json.loads(json.dumps(flat, default=str))  # tuples -> lists, as read back


def train(model: nn.Module, train_set: BeatSet, val_set: BeatSet | None, config: TrainConfig = TrainConfig(),
          out_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
          data: dict | None = None) -> TrainResult:
    """Train ``model`` and return it with the weights of its best validation epoch, or of epoch
    ``config.stop_epoch`` when that is set (then ``val_set`` may be None: no validation).

    With ``out_dir``, ``last.pt`` (model, optimiser, scheduler, random state, history) is written
    atomically after every epoch; ``resume=True`` continues from it, and refuses a state that
    another run configuration wrote (:func:`run_identity`; ``data`` describes where the beats
    came from, e.g. records and split, so that a resume on other data is refused too).
    """
    from tqdm.auto import tqdm

    validate = val_set is not None and len(val_set) > 0
    if len(train_set) == 0 or not (validate or config.stop_epoch):
        raise EcgbeatError("training and validation sets must not be empty (without validation, give stop_epoch)")
    device = resolve_device(config.device)
    if len(train_set.classes) != model.n_classes:
        raise EcgbeatError(f"the model has {model.n_classes} outputs but the training beats have "
                           f"{len(train_set.classes)} classes ({', '.join(train_set.classes)})")
    if validate and tuple(val_set.classes) != tuple(train_set.classes):
        raise EcgbeatError(f"validation beats have classes {', '.join(val_set.classes)}, the training beats "
                           f"{', '.join(train_set.classes)}")
    X_tr, f_tr = check_training_beats(model, train_set, "training beats")
    present = np.unique(train_set.y)
    if len(present) < 2:  # nothing to tell apart: a run would "learn" to say one class
        raise EcgbeatError(f"training beats: all {len(train_set)} are of one class "
                           f"({train_set.classes[int(present[0])]}); a classifier needs two or more")
    X_va, f_va = check_training_beats(model, val_set, "validation beats") if validate else (None, None)
    # labels of another integer type (int32: torch's loss takes int64 or uint8 only) as int64
    train_set, val_set = _int64_labels(train_set), _int64_labels(val_set) if validate else val_set
    if config.max_threads:
        torch.set_num_threads(config.max_threads)
    gen = set_seed(config.seed)
    model.to(device)
    loader = _loader(X_tr, f_tr, train_set.y, config.batch_size, gen, config.sampler)
    weight = class_weights(train_set.y, model.n_classes, config.class_weight)
    weight = None if weight is None else weight.to(device)
    criterion = (FocalLoss(weight, config.focal_gamma) if config.loss == "focal"
                 else nn.CrossEntropyLoss(weight=weight))
    lr = config.lr if config.lr is not None else getattr(model, "default_lr", 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=config.weight_decay)
    sched = _make_scheduler(opt, lr, config, len(loader))
    history: list[dict] = []
    best = {"epoch": 0, "f1": -1.0, "state": None}
    start_epoch, elapsed = 1, 0.0
    state_path = Path(out_dir) / "last.pt" if out_dir is not None else None
    run = run_identity(model, train_set, val_set, config, data)
    if resume:
        if state_path is None or not state_path.is_file():
            raise EcgbeatError(f"--resume: no saved training state at {state_path}")
        start_epoch, elapsed = _load_state(state_path, model, opt, sched, gen, history, best, config.epochs, run)
        if config.patience and not config.stop_epoch and history and history[-1]["epoch"] - best["epoch"] >= \
                config.patience:  # it stopped early there, and the same patience stops it at once
            start_epoch = config.epochs + 1
    for epoch in range(start_epoch, (config.stop_epoch or config.epochs) + 1):
        t0 = time.perf_counter()
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", leave=False, disable=not progress)
        for batch in bar:
            xb, yb = batch[0].to(device), batch[1].to(device)
            fb = batch[2].to(device) if len(batch) > 2 else None
            if config.augment:
                xb = augment_batch(xb.cpu(), gen).to(device)
            logits = model(xb, fb)
            loss = criterion(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            # recurrent nets: clipping keeps a rare large gradient from undoing an epoch
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            sched.step()
            total_loss += float(loss.detach()) * len(yb)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
            bar.set_postfix(loss=f"{total_loss / seen:.4f}")
        val = {"val_loss": None, "val_acc": None, "val_macro_f1": None}
        if validate:
            val_logits = predict_logits(model, X_va, f_va, device=device)
            scores = classification_metrics(val_set.y, val_logits.argmax(1), train_set.classes)
            val = {"val_loss": float(F.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(val_set.y))),
                   "val_acc": scores["accuracy"], "val_macro_f1": scores["macro_f1"]}
        elapsed += time.perf_counter() - t0
        row = {"epoch": epoch, "train_loss": total_loss / seen, "train_acc": correct / seen, **val,
               "lr": opt.param_groups[0]["lr"], "peak_lr": lr, "seconds": elapsed}
        history.append(row)
        if epoch == config.stop_epoch or (not config.stop_epoch and val["val_macro_f1"] > best["f1"]):
            best.update(epoch=epoch, f1=val["val_macro_f1"],
                        state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        if progress:
            scores = (f"val_loss {val['val_loss']:.4f}  val_acc {val['val_acc']:.4f}  "
                      f"val_macro_f1 {val['val_macro_f1']:.4f}" if validate else "no validation")
            tqdm.write(f"epoch {epoch:3d}  loss {row['train_loss']:.4f}  {scores}"
                       f"{'  *' if best['epoch'] == epoch else ''}  ({elapsed:.0f} s)")
        if state_path is not None:
            _save_state(state_path, model, opt, sched, gen, epoch, elapsed, history, best, config.epochs, run)
        if config.patience and not config.stop_epoch and epoch - best["epoch"] >= config.patience:
            break
    model.load_state_dict(best["state"])
    model.to("cpu")
    return TrainResult(model=model, history=history, best_epoch=best["epoch"],
                       best_val_macro_f1=best["f1"], train_seconds=elapsed, config=config)


def _save_state(path, model, opt, sched, gen, epoch, elapsed, history, best, planned: int,
                run: dict | None = None) -> None:
    state = {"planned_epochs": planned, "model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(),
             "generator": gen.get_state(), "torch_rng": torch.get_rng_state(), "epoch": epoch,
             "elapsed": elapsed, "history": history, "best_epoch": best["epoch"], "best_f1": best["f1"],
             "best_state": best["state"], "run": json.dumps(run)}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _short(value, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _load_state(path, model, opt, sched, gen, history, best, planned: int,
                run: dict | None = None) -> tuple[int, float]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # never executes code
        saved_run = json.loads(state["run"]) if isinstance(state, dict) and state.get("run") else None
    except Exception as exc:
        raise EcgbeatError(f"{path}: not a complete training state written by ecgbeat (truncated or another "
                           f"file; {first_line(exc, 100)}); delete it to start the run afresh") from None
    if not isinstance(state, dict) or "model" not in state:
        raise EcgbeatError(f"{path}: not an ecgbeat training state")
    other = f"{path}: --resume: this training state was written by another model/config"
    if saved_run is not None and run is not None:  # states before ecgbeat stored it: the weights' shapes must fit
        for name in list(saved_run) + [k for k in run if k not in saved_run]:
            if saved_run.get(name) != run.get(name):
                raise EcgbeatError(f"{other}: {name} was {_short(saved_run.get(name))}, now {_short(run.get(name))}; "
                                   "repeat that run's options, or train into a new --out folder")
    if state.get("planned_epochs") != planned:
        # the learning-rate schedule spans the planned epochs: a different count is another run
        raise EcgbeatError(f"{path}: --resume continues a run planned for {state.get('planned_epochs')} "
                           f"epochs; use --epochs {state.get('planned_epochs')}")
    try:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:  # e.g. "size mismatch for head.weight ..."
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]  # 1st: "Error(s) in loading ..."
        detail = (lines[1] if len(lines) > 1 else lines[0] if lines else type(exc).__name__)[:100]
        raise EcgbeatError(f"{other}: its weights do not fit this {getattr(model, 'model_name', type(model).__name__)} "
                           f"model ({detail}); train into a new --out folder") from None
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    history.extend(state["history"])
    best.update(epoch=state["best_epoch"], f1=state["best_f1"], state=state["best_state"])
    return int(state["epoch"]) + 1, float(state["elapsed"])
